"""The wizard's side of a drill whose lab runs in a keeper (:mod:`lab.keeper`): find, start,
attach to and stop the scenario's labs; :class:`KeptDrill`, the drill ``lync-restore drill`` opens.

One lab belongs to one incident. The wizard opens the scenario's drill plan (the same text for
every lab of the scenario, so an incident's plan hash does not change with loopback ports: its
unfinished incidents are offered on the start screen whichever lab they ran on) and chooses the
lab when an incident starts or resumes (:meth:`KeptDrill.bind`, from the backend's ``attach``):

* resuming an incident whose lab still runs: that lab, as it was left;
* a new incident: a lab no incident used yet (one is started while the start screen shows
  when no lab holds an unfinished incident), else a fresh one in its own folder; a lab that
  holds another incident is never shared;
* resuming an incident whose lab has gone (the machine restarted, ``drill --stop``, unused for
  8 h): a fresh lab, and the journal says so (the work done before is not on it).

When the wizard leaves (:meth:`KeptDrill.leave`): the lab of a closed incident stops (its
keeper also sees the sealed journal), a lab no incident used stops, and the lab of an
unfinished incident keeps running for its resume.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.defaults import DEFAULT_TIME_FACTOR
from lab.drill import DrillBackend, DrillWiring
from lab.keeper import (
    CLAIM_FILE,
    IDLE_S,
    KEEPER_FILE,
    LOG_FILE,
    PASSWORDS_FILE,
    PLAN_FILE,
    SPAWN_FILE,
    STATE_FILE,
    ControlClient,
    ControlError,
    KeeperInfo,
    forget_unused_passwords,
    is_keeper_process,
    liveness,
    pid_alive,
    private_dir,
    read_info,
    read_json,
    write_private,
)
from wizard.core_backend import BackendOptions, check_isolation
from wizard.driver import boot_id
from wizard.errors import WizardError
from wizard.incident import IncidentSession
from wizard.journal import Kind, read_journal
from wizard.plan import load_plan

LABS_DIR = ".labs"
AUTHS = ("kerberos", "ntlm", "credssp", "basic")  # ``drill --auth``: the scenario's labs then live in <scenario>-<auth>
START_TIMEOUT_S = 90.0  # a lab starting on a busy two-core machine
STOP_TIMEOUT_S = 15.0


class LabStartError(WizardError):
    title = "The lab did not start"


def lab_root(journal_dir: Path, scenario: str, auth: str | None = None) -> Path:
    """Where the labs of ``scenario`` (played with ``auth``) live for this journal folder."""
    return Path(journal_dir) / LABS_DIR / (f"{scenario}-{auth}" if auth else scenario)


def _incident_closed(folder: Path | None) -> bool:
    return folder is None or (folder / "journal.seal").exists() or not folder.exists()


@dataclass(frozen=True)
class Stopped:
    """One lab :func:`stop_labs` found."""

    folder: Path
    scenario: str
    incident: str | None
    was: str  # "stopped", "cleaned" (it had already ended: its folder was removed)


class LabRoot:
    """The labs of one scenario for one journal folder: ``<journal dir>/.labs/<scenario>/``."""

    def __init__(self, journal_dir: Path, scenario: str, *, auth: str | None = None,
                 time_factor: float = DEFAULT_TIME_FACTOR, idle_s: float | None = None) -> None:
        self.scenario = scenario
        self.auth = auth
        self.time_factor = time_factor
        self.idle_s = idle_s if idle_s is not None else float(os.environ.get("LYNC_LAB_IDLE_S") or IDLE_S)
        self.path = lab_root(journal_dir, scenario, auth)

    # ------------------------------------------------------------------ files
    def prepare(self) -> Path:
        """The folders (0700), the scenario's drill plan and the labs' passwords; the plan's path."""
        import yaml

        from lab.runtime import scenario_plan_data
        from lab.scenarios import scenario

        private_dir(self.path.parent)
        private_dir(self.path)
        data = scenario_plan_data(scenario(self.scenario), self.auth)
        text = (f"# The drill plan of the lab scenario {self.scenario}: the endpoints of the lab an incident\n"
                "# runs on are in that lab's plan copy (.labs/<scenario>/lab-*/lab/lab-plan.yaml).\n"
                + yaml.safe_dump(data, sort_keys=False))
        plan = self.path / PLAN_FILE
        with contextlib.suppress(OSError):
            if plan.read_text(encoding="utf-8") == text:
                text = ""
        if text:
            write_private(plan, text)
        self._ensure_passwords()
        return plan

    def _ensure_passwords(self) -> None:
        """The labs' passwords, made once for the scenario's labs (lab-only throwaway accounts)."""
        if read_json(self.path / PASSWORDS_FILE) is None:
            write_private(self.path / PASSWORDS_FILE, json.dumps(
                {"winrm": secrets.token_urlsafe(12), "sql": secrets.token_urlsafe(12)}) + "\n")

    def passwords(self) -> dict[str, str]:
        data = read_json(self.path / PASSWORDS_FILE) or {}
        return {"winrm": str(data.get("winrm") or ""), "sql": str(data.get("sql") or "")}

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One wizard at a time chooses, starts or cleans this scenario's labs."""
        private_dir(self.path)
        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ the labs
    def folders(self) -> list[Path]:
        if not self.path.is_dir():
            return []
        return sorted(p for p in self.path.iterdir() if p.is_dir() and p.name.startswith("lab-"))

    def scan(self) -> list[KeeperInfo]:
        """The labs that answer; the folders of labs that have ended are removed (a hung keeper
        of ours is ended first), except a lab whose keeper went with the machine (a restart, a
        kill) under an incident still open: it is kept in :attr:`revivable`, to be started again
        from its saved state when that incident resumes. Call with :meth:`locked` held."""
        live: list[KeeperInfo] = []
        self.revivable: dict[tuple[str, str], Path] = {}
        for folder in self.folders():
            seen = liveness(folder)
            if seen.state == "live" and seen.info is not None:
                live.append(seen.info)
            elif seen.state == "dead":
                claim = read_json(folder / CLAIM_FILE) or {}
                incident, where = str(claim.get("incident") or ""), str(claim.get("folder") or "")
                if (incident and (folder / "lab" / STATE_FILE).is_file() and Path(where).is_dir()
                        and not _incident_closed(Path(where))):
                    if seen.info is not None and seen.info.boot_id == boot_id() and pid_alive(seen.info.pid) \
                            and is_keeper_process(seen.info.pid, folder):
                        with contextlib.suppress(OSError):
                            os.kill(seen.info.pid, signal.SIGKILL)  # hung: ended, its state kept
                    self.revivable[(incident, str(Path(where).resolve()))] = folder
                else:
                    clean(folder, seen.info)
        return live

    def spawn(self, revive: Path | None = None) -> KeeperInfo:
        """Start a keeper in a new folder (or in ``revive``, a lab kept from before a restart: it
        continues from its saved state) and wait until it answers. Call with :meth:`locked` held."""
        self._ensure_passwords()
        folder = private_dir(revive or self.path / f"lab-{secrets.token_hex(4)}")
        for stale in (KEEPER_FILE, SPAWN_FILE):
            with contextlib.suppress(OSError):
                (folder / stale).unlink()
        log_fd = os.open(folder / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        args = [sys.executable, "-m", "lab.keeper", "--folder", str(folder), "--scenario", self.scenario,
                "--time-factor", repr(self.time_factor), "--idle-s", repr(self.idle_s)]
        if revive is not None:
            args.append("--revive")
        if self.auth:
            args += ["--auth", self.auth]
        here = str(Path(__file__).resolve().parents[1])  # where the lab package is importable from
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)}
        try:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd, cwd=folder,
                                    env=env, start_new_session=True, close_fds=True)
        finally:
            os.close(log_fd)
        write_private(folder / SPAWN_FILE, json.dumps({"pid": proc.pid, "boot_id": boot_id()}) + "\n")
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            seen = liveness(folder)
            if seen.state == "live" and seen.info is not None:
                return seen.info
            code = proc.poll()
            if code is not None or time.monotonic() > deadline:
                if code is None:
                    proc.kill()
                    proc.wait(timeout=5)
                said = _tail(folder / LOG_FILE)
                shutil.rmtree(folder, ignore_errors=True)
                why = f"it ended (exit {code})" if code is not None else f"it did not answer in {START_TIMEOUT_S:.0f} s"
                raise LabStartError(f"The lab of scenario {self.scenario} did not start: {why}."
                                    + (f" It said: {said}" if said else ""))
            time.sleep(0.05)


def _tail(log: Path) -> str:
    try:
        lines = [ln for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def clean(folder: Path, info: KeeperInfo | None) -> None:
    """Remove the folder of a lab that has ended; a keeper of ours that still runs but does not
    answer (hung) is ended first."""
    if info is not None and info.boot_id == boot_id() and pid_alive(info.pid) and is_keeper_process(info.pid, folder):
        with contextlib.suppress(OSError):
            os.kill(info.pid, signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)


def stop_keeper(info: KeeperInfo, timeout: float = STOP_TIMEOUT_S) -> None:
    """Ask a keeper to stop and wait until it has gone (its folder removed)."""
    with contextlib.suppress(OSError, ControlError):
        ControlClient(info).stop()
    deadline = time.monotonic() + timeout
    while (pid_alive(info.pid) or info.folder.exists()) and time.monotonic() < deadline:
        time.sleep(0.05)
    if info.folder.exists():
        clean(info.folder, info)


def stop_labs(journal_dir: Path, scenario: str | None = None) -> list[Stopped]:
    """``lync-restore drill --stop [--scenario S]``: stop every lab (of ``scenario``) kept for
    this journal folder; a scenario folder left without labs is removed."""
    labs = Path(journal_dir) / LABS_DIR
    if not labs.is_dir():
        return []
    found: list[Stopped] = []
    for root_dir in sorted(p for p in labs.iterdir() if p.is_dir()):
        name, _, auth = root_dir.name.rpartition("-")
        if auth not in AUTHS:
            name, auth = root_dir.name, ""
        if scenario is not None and name != scenario:
            continue
        root = LabRoot(journal_dir, name, auth=auth or None)
        with root.locked():
            for folder in root.folders():
                seen = liveness(folder)
                info = seen.info
                if seen.state == "live" and info is not None:
                    stop_keeper(info)
                    found.append(Stopped(folder, info.scenario, info.incident, "stopped"))
                elif seen.state == "dead":
                    clean(folder, info)
                    found.append(Stopped(folder, info.scenario if info else name,
                                         info.incident if info else None, "cleaned"))
            if not root.folders():
                for leftover in (PLAN_FILE, PASSWORDS_FILE):
                    with contextlib.suppress(OSError):
                        (root_dir / leftover).unlink()
        if not root.folders():
            shutil.rmtree(root_dir, ignore_errors=True)
    with contextlib.suppress(OSError):
        labs.rmdir()  # only when empty
    return found


# ------------------------------------------------------------------------------ the drill


class _Passwords(Mapping[str, str]):
    """The scenario's lab passwords, read when a credential is first needed (after the
    incident's lab was chosen: a lab started then may have made them)."""

    def __init__(self, root: LabRoot) -> None:
        self._root = root

    def __getitem__(self, kind: str) -> str:
        return self._root.passwords()[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(("winrm", "sql"))

    def __len__(self) -> int:
        return 2


class _AttachingBackend(DrillBackend):
    """The core, told which incident it serves before it serves it: the drill then chooses the
    incident's lab (:meth:`KeptDrill.bind`)."""

    def __init__(self, options: BackendOptions, drill: KeptDrill) -> None:
        super().__init__(options, drill)
        self._drill = drill

    def attach(self, ctx: Any) -> None:
        if isinstance(ctx, IncidentSession):
            self._drill.bind(ctx)
        super().attach(ctx)


class KeptDrill(DrillWiring):
    """The drill of ``lync-restore drill``: the scenario's drill plan and the core, wired to a lab
    in a keeper process chosen per incident (see the module docstring)."""

    def __init__(self, name: str, *, journal_dir: Path, time_factor: float = DEFAULT_TIME_FACTOR,
                 auth: str | None = None, idle_s: float | None = None) -> None:
        super().__init__(name, time_factor=time_factor, answers=None)
        self.root = LabRoot(journal_dir, self.scenario.name, auth=auth, time_factor=time_factor, idle_s=idle_s)
        self.keeper: KeeperInfo | None = None  # the lab of the incident being played
        self.spare: KeeperInfo | None = None  # a lab no incident used, started while the start screen shows
        self.fresh_for_resume = False  # the incident resumed on a fresh lab (its own had gone)

    def start(self) -> KeptDrill:
        """The drill plan and the backend; a lab no incident used, unless a lab holds an
        unfinished incident (its trainee is likely to resume it)."""
        with self.root.locked():
            plan_path = self.root.prepare()
            loaded = self.loaded = load_plan(plan_path)
            check_isolation(loaded.plan)
            self._plan = loaded.plan
            self._backend = _AttachingBackend(self._options(loaded.plan, _Passwords(self.root), self._lab_now), self)
            live = self.root.scan()
            held = [k for k in live if k.incident is not None and not _incident_closed(k.incident_folder)]
            free = [k for k in live if k.incident is None]
            if not held and not self.root.revivable:  # a kept lab waits for its incident's resume
                usable = [k for k in free if k.time_factor == self.time_factor]
                for k in free:
                    if k not in usable[:1]:
                        stop_keeper(k)  # a spare at another speed, or a second spare
                self.spare = usable[0] if usable else self.root.spawn()
        return self

    # ------------------------------------------------------------------ choosing the incident's lab
    def bind(self, session: IncidentSession) -> None:
        """Play ``session`` on its own lab: the live lab it belongs to, else one no incident used
        (claimed for it: the spare first), else a fresh one. A resumed incident whose lab has
        gone gets a fresh lab, and its journal says so."""
        incident, folder = session.journal.incident, session.journal.path.parent.resolve()
        with self.root.locked():
            live = self.root.scan()
            own = next((k for k in live if k.incident == incident and k.incident_folder == folder), None)
            kept = self.root.revivable.get((incident, str(folder)))
            revived = own is None and kept is not None
            if revived:  # the jump host restarted (or the keeper was killed): its servers did not
                own = self.root.spawn(revive=kept)
                ControlClient(own).claim(incident, folder)
            fresh = own is None
            if own is None:
                spare = self.spare.folder if self.spare is not None else None
                for k in sorted((k for k in live if k.incident is None), key=lambda k: k.folder != spare):
                    with contextlib.suppress(ControlError, OSError):
                        ControlClient(k).claim(incident, folder)
                        own = k
                        break
            if own is None:
                own = self.root.spawn()
                ControlClient(own).claim(incident, folder)
            if self.spare is not None and self.spare.folder == own.folder:
                self.spare = None
        self.keeper = read_info(own.folder) or own  # as it says now: claimed
        self._reload_plan()
        if revived:
            session.note("the lab this drill ran on had stopped (the machine restarted, or its keeper was "
                         "killed); it was started again from the state it had saved: the servers are as "
                         "they were")
        if fresh and session.state.resumes > 0:
            self.fresh_for_resume = True
            session.note(f"the lab this drill ran on had stopped; a fresh lab of scenario {self.scenario.name} "
                         "was started for the resume: the work done before is not on it")

    def _client(self) -> ControlClient:
        if self.keeper is None:
            raise WizardError("No incident is open on the lab yet.")
        return ControlClient(self.keeper)

    def _perform_manual(self, step_id: str, prompt: str) -> str | None:
        try:
            return self._client().manual(step_id, prompt)
        except (ControlError, OSError) as exc:
            raise WizardError(f"The lab's hands could not do the manual step {step_id}: {exc}") from None

    def _live_plan(self) -> Path:
        if self.keeper is None:
            raise WizardError("No incident is open on the lab yet.")
        return self.keeper.live_plan

    def _lab_now(self) -> dt.datetime:
        try:
            return self._client().now()
        except (ControlError, OSError) as exc:
            raise WizardError(f"The lab's clock could not be read: {exc}") from None

    def now(self) -> dt.datetime:
        now = self._lab_now()
        return now if now.tzinfo else now.replace(tzinfo=dt.UTC)

    def problems(self) -> list[str]:
        try:
            return self._client().problems()
        except (ControlError, OSError) as exc:
            raise WizardError(f"The lab's scoring could not be read: {exc}") from None

    def work(self) -> tuple[float, float]:
        try:
            return self._client().work()
        except (ControlError, OSError) as exc:
            raise WizardError(f"The lab's clock could not be read: {exc}") from None

    # ------------------------------------------------------------------ leaving
    def leave(self) -> str | None:
        """The wizard has left: stop the lab of a closed incident and a lab no incident used;
        keep the lab of an unfinished incident. Returns what to tell the trainee (or None)."""
        if self._backend is not None:
            self._backend.close()
        if self.spare is not None:
            stop_keeper(self.spare)
            self.spare = None
        keeper, self.keeper = self.keeper, None
        if keeper is None:
            forget_unused_passwords(self.root.path)
            return None
        if _incident_closed(keeper.incident_folder) or self._closed(keeper):
            stop_keeper(keeper)
            forget_unused_passwords(self.root.path)
            return None
        return keeper.incident or ""

    @staticmethod
    def _closed(keeper: KeeperInfo) -> bool:
        folder = keeper.incident_folder
        if folder is None:
            return True
        try:
            return any(e.kind == Kind.CLOSED for e in read_journal(folder).entries)
        except WizardError:
            return False

    def stop(self) -> None:
        """Stop the incident's lab (tests; the trainee's way is ``drill --stop``)."""
        if self._backend is not None:
            self._backend.close()
        for k in (self.keeper, self.spare):
            if k is not None:
                stop_keeper(k)
        self.keeper = self.spare = None
