"""The drill's lab keeper: a lab that outlives the terminal, as real servers outlive an SSH session.

``lync-restore drill`` does not run the lab in its own process: it starts this module as a
detached process (``python -m lab.keeper``, its own session, no terminal: a dropped SSH link or
a killed tmux never reaches it) and talks to it through a small control endpoint. The wizard
reaches the lab's servers over their own WinRM and TDS listeners, as before.

Files (all under the journal folder, ``<journal dir>/.labs/<scenario>/``, 0700; files 0600)::

    plan.yaml             the drill plan an incident is journaled with: the same text for every
                          lab of the scenario (no endpoints; see lab.runtime.scenario_plan_data)
    passwords.json        the lab accounts' passwords, shared by the scenario's labs (lab-only
                          throwaway accounts; never in a journal, a report or on the screen)
    lab-<id>/keeper.json  one running lab: pid, boot id, control port, token, its plan copy with
                          the loopback endpoints (lab-plan.yaml), the incident it belongs to
    lab-<id>/spawn.json   written by whoever started it, until keeper.json exists (pid, boot id)
    lab-<id>/lab/         the lab's disk (shares, backup sets, the plan copy)
    lab-<id>/keeper.log   what the keeper said (start-up errors)

Liveness is decided, never guessed from time (:func:`liveness`): the pid must be alive on this
boot (``/proc/sys/kernel/random/boot_id``) and the control port must answer with the token.

The control endpoint (HTTP on 127.0.0.1, ``POST /<op>`` with a JSON body; every request carries
the token in ``X-Lab-Keeper-Token``, anything else gets 403): ``ping``, ``claim`` (the incident
this lab belongs to: one incident per lab), ``manual`` (the trainee's hands for a manual step),
``now`` (the lab clock), ``problems`` (the scenario's scoring) and ``stop``.

The keeper stops itself when its incident is closed (its journal is sealed), on ``stop``
(``lync-restore drill --stop``, or the wizard leaving a lab no incident used) and after
``idle_s`` without a control request or WinRM/TDS traffic (default 8 h); it then removes its
folder. This module imports only the standard library at module level: the wizard's side
(:mod:`lab.attach`) uses its file and control helpers.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import hmac
import http.client
import json
import os
import secrets
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, Protocol

from wizard.driver import boot_id  # this boot of the machine: a pid means nothing across a reboot

KEEPER_FILE = "keeper.json"
SPAWN_FILE = "spawn.json"
LOG_FILE = "keeper.log"
PLAN_FILE = "plan.yaml"
PASSWORDS_FILE = "passwords.json"
#: the incident a lab belongs to, kept beside it after its keeper has gone (a restart of the jump
#: host): the lab is revived from its saved state for that incident (lab/attach.py)
CLAIM_FILE = "claim.json"
#: the lab's saved state, in its ``lab`` folder (lab.runtime.LabRuntime.save)
STATE_FILE = "lab-state.pickle"
AUTH_HEADER = "X-Lab-Keeper-Token"
IDLE_S = 8 * 3600.0  # a lab nobody used for this long stops (no control request, no WinRM/TDS traffic)
TICK_S = 1.0  # how often the keeper looks at its incident's journal and at the traffic
PING_TIMEOUT_S = 3.0
MANUAL_TIMEOUT_S = 600.0  # a manual step's work on the lab (a rebuild) within the lab's clock


# ------------------------------------------------------------------------------ files


def pid_alive(pid: int) -> bool:
    """The process exists and has not ended (a zombie has ended)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True  # no /proc: the signal said it exists
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def is_keeper_process(pid: int, folder: Path) -> bool:
    """``pid`` is a keeper of ``folder`` (its command line says so), not a process that reused the id."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"lab.keeper" in args and os.fsencode(str(folder)) in args


def private_dir(path: Path) -> Path:
    """``path`` and its missing parents, 0700 (whatever the umask)."""
    for d in reversed([d for d in (path, *path.parents) if not d.exists()]):
        d.mkdir(mode=0o700, exist_ok=True)
        d.chmod(0o700)
    path.chmod(0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` whole or not at all (a reader in another process never sees half), 0600."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        partial.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def forget_unused_passwords(root: Path) -> None:
    """Remove the scenario's passwords once none of its labs is left (they name accounts of
    running labs only). Skipped while a wizard holds the scenario's lock: it may be starting one."""
    try:
        fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return
    try:
        if not any(p.is_dir() and p.name.startswith("lab-") for p in root.iterdir()):
            with contextlib.suppress(OSError):
                (root / PASSWORDS_FILE).unlink()
    finally:
        os.close(fd)


def read_passwords(root: Path) -> tuple[str, str]:
    """The WinRM and SQL passwords of the scenario's labs (``root/passwords.json``)."""
    data = read_json(root / PASSWORDS_FILE)
    if data is None or not isinstance(data.get("winrm"), str) or not isinstance(data.get("sql"), str):
        raise KeeperError(f"{root / PASSWORDS_FILE} is missing or unreadable")
    return data["winrm"], data["sql"]


class KeeperError(Exception):
    """A keeper could not be started, reached or understood."""


@dataclass(frozen=True)
class KeeperInfo:
    """What ``keeper.json`` says about one running lab."""

    folder: Path
    pid: int
    boot_id: str
    port: int
    token: str
    scenario: str
    auth: str | None
    time_factor: float
    plan: Path  # the drill plan incidents are journaled with (the scenario's, no endpoints)
    live_plan: Path  # the lab's plan copy: the loopback endpoints as they are now
    incident: str | None  # the incident this lab belongs to (None: not used yet)
    incident_folder: Path | None
    started_at: str
    idle_s: float

    def to_json(self) -> str:
        return json.dumps({
            "pid": self.pid, "boot_id": self.boot_id, "port": self.port, "token": self.token,
            "scenario": self.scenario, "auth": self.auth, "time_factor": self.time_factor,
            "plan": str(self.plan), "live_plan": str(self.live_plan), "incident": self.incident,
            "incident_folder": str(self.incident_folder) if self.incident_folder else None,
            "started_at": self.started_at, "idle_s": self.idle_s}, indent=1) + "\n"


def read_info(folder: Path) -> KeeperInfo | None:
    """``folder/keeper.json``, or None when it is missing or not a keeper's."""
    data = read_json(folder / KEEPER_FILE)
    if data is None:
        return None
    try:
        incident_folder = data.get("incident_folder")
        return KeeperInfo(folder, int(data["pid"]), str(data["boot_id"]), int(data["port"]), str(data["token"]),
                          str(data["scenario"]), data.get("auth") or None, float(data["time_factor"]),
                          Path(data["plan"]), Path(data["live_plan"]), data.get("incident") or None,
                          Path(incident_folder) if incident_folder else None, str(data["started_at"]),
                          float(data["idle_s"]))
    except (KeyError, TypeError, ValueError):
        return None


# ------------------------------------------------------------------------------ the control client


class ControlError(KeeperError):
    """The keeper answered, with an error (``status``: the HTTP status)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ControlClient:
    """The wizard's side of the control endpoint of one keeper."""

    def __init__(self, info: KeeperInfo) -> None:
        self.info = info

    def call(self, op: str, payload: Mapping[str, Any] | None = None, *,
             timeout: float = PING_TIMEOUT_S) -> dict[str, Any]:
        """One request; :class:`ControlError` when the keeper refused, OSError when nobody answered."""
        body = json.dumps(dict(payload or {})).encode("utf-8")
        conn = http.client.HTTPConnection("127.0.0.1", self.info.port, timeout=timeout)
        try:
            conn.request("POST", f"/{op}", body, {"Content-Type": "application/json",
                                                 AUTH_HEADER: self.info.token})
            response = conn.getresponse()
            raw = response.read()
        except http.client.HTTPException as exc:
            raise OSError(f"the keeper's answer was not HTTP: {exc}") from None
        finally:
            conn.close()
        try:
            data = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if response.status != 200:
            raise ControlError(response.status, str(data.get("error") or f"HTTP {response.status}"))
        return data

    def ping(self) -> dict[str, Any]:
        return self.call("ping")

    def claim(self, incident: str, folder: Path) -> None:
        self.call("claim", {"incident": incident, "folder": str(folder)})

    def manual(self, step_id: str, prompt: str) -> str | None:
        note = self.call("manual", {"step_id": step_id, "prompt": prompt}, timeout=MANUAL_TIMEOUT_S).get("note")
        return None if note is None else str(note)

    def now(self) -> dt.datetime:
        return dt.datetime.fromisoformat(str(self.call("now")["now"]))

    def work(self) -> tuple[float, float]:
        """(real seconds the lab's operations waited, what they would have taken for real)."""
        answer = self.call("now")
        return float(answer.get("busy_real_s") or 0.0), float(answer.get("work_s") or 0.0)

    def problems(self) -> list[str]:
        return [str(p) for p in self.call("problems").get("problems", [])]

    def stop(self) -> None:
        self.call("stop")


# ------------------------------------------------------------------------------ liveness


@dataclass(frozen=True)
class Liveness:
    """What a lab folder holds: a keeper that answers (``live``), one still starting, or none."""

    state: Literal["live", "starting", "dead"]
    reason: str
    info: KeeperInfo | None = None


def liveness(folder: Path) -> Liveness:
    """Decide, never guess from time: ``live`` when keeper.json's pid runs on this boot and its
    control port answers our token with that pid; ``starting`` while the process that
    spawn.json names runs and has not written keeper.json yet; else ``dead`` with the reason."""
    info = read_info(folder)
    if info is None:
        spawn = read_json(folder / SPAWN_FILE) or {}
        pid = int(spawn.get("pid") or 0)
        if spawn.get("boot_id") == boot_id() and pid_alive(pid) and is_keeper_process(pid, folder):
            return Liveness("starting", f"process {pid} is starting the lab")
        return Liveness("dead", "no keeper.json and no keeper starting")
    if info.boot_id != boot_id():
        return Liveness("dead", "the keeper ran before the machine restarted", info)
    if not pid_alive(info.pid):
        return Liveness("dead", f"the keeper (process {info.pid}) has ended", info)
    try:
        answer = ControlClient(info).ping()
    except ControlError as exc:
        return Liveness("dead", f"port {info.port} refused the keeper's token ({exc.status})", info)
    except OSError as exc:
        return Liveness("dead", f"the keeper does not answer on port {info.port} ({exc})", info)
    if answer.get("pid") != info.pid:
        return Liveness("dead", f"port {info.port} is another process's", info)
    return Liveness("live", "answers", info)


# ------------------------------------------------------------------------------ the keeper


class KeptLab(Protocol):
    """What the keeper serves of a lab (a :class:`~lab.runtime.LabRuntime` and its scenario)."""

    live_plan: Path

    def perform_manual(self, step_id: str, prompt: str) -> str | None: ...

    def now(self) -> dt.datetime: ...

    def work(self) -> tuple[float, float]: ...  # (busy real seconds, simulated work seconds)

    def problems(self) -> list[str]: ...

    def traffic(self) -> object: ...  # changes whenever a WinRM or TDS request arrived

    def save(self) -> None: ...  # the state, kept for a restart of the jump host

    def stop(self) -> None: ...


@dataclass(frozen=True)
class KeeperConfig:
    scenario: str
    auth: str | None
    time_factor: float
    plan: Path
    idle_s: float = IDLE_S


class Keeper:
    """One lab served to wizards in other processes: the control endpoint, the watch on its
    incident's journal and on its traffic. :meth:`run` blocks until it stops; :meth:`stop` from
    any thread (or a signal) ends it. The folder is removed when it has stopped."""

    def __init__(self, folder: Path, lab: KeptLab, config: KeeperConfig, *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.folder = folder
        self.lab = lab
        self.config = config
        self.token = secrets.token_urlsafe(32)
        self.stopped = threading.Event()
        self.why = ""
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._incident: str | None = None
        self._incident_folder: Path | None = None
        self._last_active = monotonic()
        self._traffic: object = None
        self._server = _ControlServer(("127.0.0.1", 0), self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="keeper-control", daemon=True)
        self._started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def info(self) -> KeeperInfo:
        with self._lock:
            incident, incident_folder = self._incident, self._incident_folder
        return KeeperInfo(self.folder, os.getpid(), boot_id(), self.port, self.token, self.config.scenario,
                          self.config.auth, self.config.time_factor, self.config.plan, self.lab.live_plan,
                          incident, incident_folder, self._started_at, self.config.idle_s)

    def _publish(self) -> None:
        write_private(self.folder / KEEPER_FILE, self.info().to_json())

    def serve(self) -> Keeper:
        """Listen and write keeper.json (from then on, wizards may attach)."""
        self._thread.start()
        self._publish()
        with contextlib.suppress(OSError):
            (self.folder / SPAWN_FILE).unlink()
        return self

    def run(self) -> str:
        """Watch until stopped; then stop the lab and remove the folder. Returns why it stopped."""
        try:
            while not self.stopped.wait(TICK_S):
                self.watch()
        finally:
            self._shutdown()
        return self.why

    def watch(self) -> None:
        """One look: the incident closed (its journal sealed, or its folder gone)? idle too long?"""
        with self._lock:
            incident, folder = self._incident, self._incident_folder
        if incident is not None and folder is not None:
            if (folder / "journal.seal").exists():
                self.stop(f"incident {incident} was closed")
                return
            if not folder.exists():
                self.stop(f"the folder of incident {incident} is gone")
                return
        try:
            traffic = self.lab.traffic()
        except RuntimeError:  # a listener was added while counting: that is traffic too
            traffic = object()
        if traffic != self._traffic:
            self._traffic = traffic
            self.touch()
            self._save()  # what changed survives the jump host's restart (its servers would)
        idle = self._monotonic() - self._last_active
        if idle >= self.config.idle_s:
            self.stop(f"unused for {idle / 3600:.1f} h")

    def _save(self) -> None:
        with self._lock:
            claimed = self._incident is not None
        if claimed:
            try:
                self.lab.save()
            except (OSError, RuntimeError) as exc:  # the next change tries again
                print(f"keeper {os.getpid()}: could not save the lab's state: {exc}", flush=True)

    def touch(self) -> None:
        self._last_active = self._monotonic()

    def stop(self, why: str) -> None:
        if not self.stopped.is_set():
            self.why = why
            self.stopped.set()

    def _shutdown(self) -> None:
        with contextlib.suppress(OSError):
            (self.folder / KEEPER_FILE).unlink()  # first: nobody attaches to a lab that is going away
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            incident, folder = self._incident, self._incident_folder
        # the machine is going down (a signal) under an open incident: its servers stay as they are
        keep = (self.why.startswith("signal") and incident is not None and folder is not None
                and folder.exists() and not (folder / "journal.seal").exists())
        try:
            if keep:
                self._save()
            self.lab.stop()
        finally:
            if not keep:
                shutil.rmtree(self.folder, ignore_errors=True)
                forget_unused_passwords(self.folder.parent)

    # ------------------------------------------------------------------ the control operations
    def handle(self, op: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        self.touch()
        if op == "ping":
            with self._lock:
                return 200, {"pid": os.getpid(), "scenario": self.config.scenario, "incident": self._incident}
        if op == "claim":
            return self._claim(str(body.get("incident") or ""), str(body.get("folder") or ""))
        if op == "manual":
            note = self.lab.perform_manual(str(body.get("step_id") or ""), str(body.get("prompt") or ""))
            self.touch()
            self._save()
            return 200, {"note": note}
        if op == "now":
            busy, work = self.lab.work()
            return 200, {"now": self.lab.now().isoformat(), "busy_real_s": busy, "work_s": work}
        if op == "problems":
            return 200, {"problems": list(self.lab.problems())}
        if op == "stop":
            self.stop("asked to stop")
            return 200, {"stopping": True}
        return 404, {"error": f"no operation {op!r}"}

    def _claim(self, incident: str, folder: str) -> tuple[int, dict[str, Any]]:
        if not incident or not folder:
            return 400, {"error": "claim needs an incident and its folder"}
        with self._lock:
            if self._incident is not None and (self._incident, str(self._incident_folder)) != (incident, folder):
                return 409, {"error": f"this lab belongs to incident {self._incident}", "incident": self._incident}
            self._incident, self._incident_folder = incident, Path(folder)
        self._publish()
        write_private(self.folder / CLAIM_FILE, json.dumps({"incident": incident, "folder": folder}) + "\n")
        self._save()
        return 200, {"incident": incident}


class _ControlServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], keeper: Keeper) -> None:
        self.keeper = keeper
        super().__init__(address, _ControlHandler)


class _ControlHandler(BaseHTTPRequestHandler):
    server: _ControlServer

    def log_message(self, format: str, *args: object) -> None:
        pass  # nothing of a request reaches the log (a manual step's text is the trainee's)

    def _send(self, status: int, payload: Mapping[str, Any]) -> None:
        body = json.dumps(dict(payload)).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._send(405, {"error": "POST only"})

    def do_POST(self) -> None:
        keeper = self.server.keeper
        given = self.headers.get(AUTH_HEADER) or ""
        if not hmac.compare_digest(given.encode("utf-8"), keeper.token.encode("utf-8")):
            self._send(403, {"error": "wrong or missing token"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length).decode("utf-8")) if length else {}
        except (ValueError, UnicodeDecodeError):
            self._send(400, {"error": "the body is not JSON"})
            return
        if not isinstance(body, dict):
            self._send(400, {"error": "the body is not a JSON object"})
            return
        try:
            status, answer = keeper.handle(self.path.strip("/"), body)
        except Exception as exc:  # the lab's own failure: said to the wizard, the keeper carries on
            status, answer = 500, {"error": f"{type(exc).__name__}: {exc}"}
        self._send(status, answer)


# ------------------------------------------------------------------------------ the process


class _RuntimeLab:
    """A started :class:`~lab.runtime.LabRuntime` as the keeper serves it."""

    def __init__(self, scenario_name: str, state_dir: Path, time_factor: float, auth: str | None,
                 passwords: tuple[str, str], revive: bool = False) -> None:
        from lab.runtime import LabRuntime
        from lab.scenarios import scenario

        self.scenario = scenario(scenario_name)
        self.runtime = LabRuntime(self.scenario, state_dir=state_dir, time_factor=time_factor,
                                  client_auth=auth, passwords=passwords, revive=revive).start()
        self.live_plan = self.runtime.plan_path

    def save(self) -> None:
        self.runtime.save()

    def perform_manual(self, step_id: str, prompt: str) -> str | None:
        return self.runtime.perform_manual(step_id, prompt)

    def now(self) -> dt.datetime:
        return self.runtime.clock.now()

    def work(self) -> tuple[float, float]:
        return self.runtime.clock.busy_real_s(), self.runtime.clock.work_s()

    def problems(self) -> list[str]:
        return self.scenario.service_restored(self.runtime.dep)

    def traffic(self) -> object:
        return (tuple(len(s.transcript) for s in list(self.runtime.wsman.values()))
                + tuple(len(t.transcript) for t in list(self.runtime.tds.values())))

    def stop(self) -> None:
        self.runtime.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m lab.keeper --folder F --scenario S ...``: started by :mod:`lab.attach`."""
    p = argparse.ArgumentParser(prog="python -m lab.keeper")
    p.add_argument("--folder", required=True, type=Path)
    p.add_argument("--scenario", required=True)
    p.add_argument("--time-factor", type=float, required=True)
    p.add_argument("--auth", default=None)
    p.add_argument("--idle-s", type=float, default=IDLE_S)
    p.add_argument("--revive", action="store_true", help="continue the lab from its saved state")
    args = p.parse_args(argv)
    folder: Path = args.folder.resolve()
    root = folder.parent
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # no terminal: nothing to hang up
    lab = _RuntimeLab(args.scenario, folder / "lab", args.time_factor, args.auth, read_passwords(root),
                      revive=args.revive)
    keeper = Keeper(folder, lab, KeeperConfig(args.scenario, args.auth, args.time_factor, root / PLAN_FILE,
                                              args.idle_s))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: keeper.stop(f"signal {signal.Signals(signum).name}"))
    keeper.serve()
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ} keeper {os.getpid()}: lab {args.scenario} on "
          f"127.0.0.1, control port {keeper.port}", flush=True)
    why = keeper.run()
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ} keeper {os.getpid()}: stopped ({why})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
