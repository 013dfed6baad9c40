"""The drill's lab keeper (lab/keeper.py) without a lab: how a lab folder is judged alive or dead
(pid, boot, the port answering the token: never the clock), the control endpoint, and when the
keeper stops by itself (its incident closed, its incident's folder gone, unused too long)."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from lab.attach import LabRoot, stop_labs
from lab.keeper import (
    AUTH_HEADER,
    CLAIM_FILE,
    KEEPER_FILE,
    PASSWORDS_FILE,
    SPAWN_FILE,
    ControlClient,
    ControlError,
    Keeper,
    KeeperConfig,
    KeeperInfo,
    liveness,
    read_info,
    write_private,
)
from lab.runtime import scenario_plan_data
from lab.scenarios import scenario
from wizard.core_backend import check_isolation
from wizard.driver import boot_id
from wizard.plan import load_plan


class StubLab:
    """What a keeper serves, without servers: manual steps recorded, a fixed clock, problems."""

    def __init__(self, folder: Path) -> None:
        self.live_plan = folder / "lab-plan.yaml"
        self.manual: list[tuple[str, str]] = []
        self.requests = 0
        self.stopped = False
        self.saves = 0

    def perform_manual(self, step_id: str, prompt: str) -> str | None:
        self.manual.append((step_id, prompt))
        return f"rebuilt for {step_id}"

    def now(self) -> dt.datetime:
        return dt.datetime(2026, 11, 24, 9, 30)

    def problems(self) -> list[str]:
        return [] if self.manual else ["the Back End has no online user database"]

    def work(self) -> tuple[float, float]:
        return 1.5, 900.0

    def traffic(self) -> object:
        return self.requests

    def save(self) -> None:
        self.saves += 1

    def stop(self) -> None:
        self.stopped = True


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    f = tmp_path / "labs" / "be-lost-unpaired" / "lab-test"
    f.mkdir(parents=True)
    return f


@pytest.fixture
def keeper(folder: Path) -> Iterator[Keeper]:
    k = Keeper(folder, StubLab(folder), KeeperConfig("be-lost-unpaired", None, 600.0, folder.parent / "plan.yaml",
                                                      idle_s=60.0), monotonic=Clock())
    k.serve()
    yield k
    if not k.stopped.is_set():
        k.stop("test over")
    k._shutdown()


def post(port: int, op: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("POST", f"/{op}", body, headers)
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"{}")
    finally:
        conn.close()


# ------------------------------------------------------------------------------ liveness


def test_a_serving_keeper_is_live_and_its_files_are_private(keeper: Keeper, folder: Path) -> None:
    seen = liveness(folder)
    assert seen.state == "live", seen
    info = read_info(folder)
    assert info is not None and info.pid == os.getpid() and info.port == keeper.port and info.boot_id == boot_id()
    assert stat.S_IMODE((folder / KEEPER_FILE).stat().st_mode) == 0o600
    assert not (folder / SPAWN_FILE).exists()  # spawn.json gives way to keeper.json


def _write(folder: Path, info: KeeperInfo) -> None:
    write_private(folder / KEEPER_FILE, info.to_json())


def test_a_keeper_of_another_boot_is_dead_whatever_its_pid(keeper: Keeper, folder: Path) -> None:
    _write(folder, replace(keeper.info(), boot_id="another-boot"))
    seen = liveness(folder)
    assert seen.state == "dead" and "restarted" in seen.reason


def test_a_keeper_whose_process_ended_is_dead(folder: Path, keeper: Keeper) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    _write(folder, replace(keeper.info(), pid=int(gone.stdout)))
    seen = liveness(folder)
    assert seen.state == "dead" and "has ended" in seen.reason


def test_a_port_that_does_not_answer_or_refuses_the_token_is_dead(keeper: Keeper, folder: Path) -> None:
    info = keeper.info()
    _write(folder, replace(info, token="not-the-token"))
    seen = liveness(folder)
    assert seen.state == "dead" and "refused the keeper's token" in seen.reason
    keeper._server.shutdown()
    keeper._server.server_close()
    _write(folder, info)
    seen = liveness(folder)
    assert seen.state == "dead" and "does not answer" in seen.reason


def test_a_port_answering_for_another_pid_is_dead(keeper: Keeper, folder: Path) -> None:
    _write(folder, replace(keeper.info(), pid=1))  # init lives; it is not this keeper
    seen = liveness(folder)
    assert seen.state == "dead" and "another process" in seen.reason


def test_a_folder_without_keeper_json_is_starting_only_while_its_keeper_process_runs(folder: Path) -> None:
    assert liveness(folder).state == "dead"
    write_private(folder / SPAWN_FILE, json.dumps({"pid": os.getpid(), "boot_id": boot_id()}))
    assert liveness(folder).state == "dead"  # this pid is alive but is not a keeper of this folder
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "lab.keeper", str(folder)])
    try:
        write_private(folder / SPAWN_FILE, json.dumps({"pid": proc.pid, "boot_id": boot_id()}))
        assert liveness(folder).state == "starting"
        write_private(folder / SPAWN_FILE, json.dumps({"pid": proc.pid, "boot_id": "another-boot"}))
        assert liveness(folder).state == "dead"
    finally:
        proc.kill()
        proc.wait()


def test_dead_folders_are_cleaned_by_a_scan_and_by_stop(tmp_path: Path, keeper: Keeper, folder: Path) -> None:
    root = LabRoot(tmp_path / "journals", "be-lost-unpaired")
    dead = root.path / "lab-dead"
    dead.mkdir(parents=True)
    _write(dead, replace(keeper.info(), boot_id="another-boot"))
    with root.locked():
        assert root.scan() == []
    assert not dead.exists()
    dead.mkdir()
    found = stop_labs(tmp_path / "journals", "be-lost-unpaired")
    assert [(s.folder, s.was) for s in found] == [(dead, "cleaned")]
    assert not (tmp_path / "journals" / ".labs").exists()


# ------------------------------------------------------------------------------ the control endpoint


def test_control_operations_with_the_token(keeper: Keeper, folder: Path) -> None:
    client = ControlClient(keeper.info())
    assert client.ping()["pid"] == os.getpid()
    assert client.now() == dt.datetime(2026, 11, 24, 9, 30)
    assert client.problems() == ["the Back End has no online user database"]
    note = client.manual("prepare-sql21.fabrikam.lab", "Use a clean machine")
    assert note == "rebuilt for prepare-sql21.fabrikam.lab"
    assert keeper.lab.manual == [("prepare-sql21.fabrikam.lab", "Use a clean machine")]  # type: ignore[attr-defined]
    assert client.problems() == []


def test_one_incident_per_lab(keeper: Keeper, folder: Path, tmp_path: Path) -> None:
    client = ControlClient(keeper.info())
    client.claim("INC-A", tmp_path / "INC-A")
    client.claim("INC-A", tmp_path / "INC-A")  # the same incident again (its resume)
    info = read_info(folder)
    assert info is not None and info.incident == "INC-A" and info.incident_folder == tmp_path / "INC-A"
    with pytest.raises(ControlError) as refused:
        client.claim("INC-B", tmp_path / "INC-B")
    assert refused.value.status == 409 and "INC-A" in str(refused.value)
    with pytest.raises(ControlError):
        client.claim("INC-A", tmp_path / "elsewhere" / "INC-A")  # same id, another journal: another incident


def test_requests_without_the_token_or_not_json_are_refused(keeper: Keeper) -> None:
    port, token = keeper.port, keeper.token
    assert post(port, "ping", b"{}", {})[0] == 403
    assert post(port, "stop", b"{}", {AUTH_HEADER: token[:-1]})[0] == 403
    assert not keeper.stopped.is_set()
    assert post(port, "ping", b"not json", {AUTH_HEADER: token, "Content-Length": "8"})[0] == 400
    assert post(port, "nothing", b"{}", {AUTH_HEADER: token})[0] == 404
    assert post(port, "claim", b"{}", {AUTH_HEADER: token})[0] == 400


def test_stop_ends_the_keeper_and_removes_its_folder(keeper: Keeper, folder: Path) -> None:
    done: list[str] = []
    runner = threading.Thread(target=lambda: done.append(keeper.run()))
    runner.start()
    ControlClient(keeper.info()).stop()
    runner.join(10)
    assert done == ["asked to stop"]
    assert keeper.lab.stopped and not folder.exists()  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------ stopping by itself


def test_the_keeper_stops_when_its_incident_is_sealed_or_gone(keeper: Keeper, tmp_path: Path) -> None:
    incident = tmp_path / "INC-A"
    incident.mkdir()
    ControlClient(keeper.info()).claim("INC-A", incident)
    keeper.watch()
    assert not keeper.stopped.is_set()
    (incident / "journal.seal").write_text("x")
    keeper.watch()
    assert keeper.stopped.is_set() and keeper.why == "incident INC-A was closed"


def test_the_keeper_stops_when_its_incident_folder_is_removed(keeper: Keeper, tmp_path: Path) -> None:
    ControlClient(keeper.info()).claim("INC-A", tmp_path / "INC-A")
    keeper.watch()
    assert keeper.stopped.is_set() and "is gone" in keeper.why


def test_idle_means_no_control_request_and_no_traffic(keeper: Keeper) -> None:
    clock: Clock = keeper._monotonic  # type: ignore[assignment]
    lab: StubLab = keeper.lab  # type: ignore[assignment]
    keeper.watch()
    clock.t += 50
    lab.requests += 1  # WinRM or TDS traffic
    keeper.watch()
    clock.t += 50
    keeper.watch()
    assert not keeper.stopped.is_set()  # 50 s since the traffic, idle_s is 60
    ControlClient(keeper.info()).now()  # a control request
    clock.t += 59
    keeper.watch()
    assert not keeper.stopped.is_set()
    clock.t += 2
    keeper.watch()
    assert keeper.stopped.is_set() and keeper.why.startswith("unused for")


# ------------------------------------------------------------------------------ the drill plan


def test_the_drill_plan_is_the_same_for_every_lab_and_names_no_endpoint(tmp_path: Path) -> None:
    """An incident's plan hash must not change with the lab's loopback ports (resume finds it by hash)."""
    s = scenario("cms-lost-paired")
    assert scenario_plan_data(s) == scenario_plan_data(s)
    root = LabRoot(tmp_path, "cms-lost-paired")
    with root.locked():
        plan = root.prepare()
        first = plan.read_text(encoding="utf-8")
        assert root.prepare() == plan and plan.read_text(encoding="utf-8") == first
    loaded = load_plan(plan)
    assert not loaded.plan.connections.hosts  # every host refused, never looked up: isolation holds
    check_isolation(loaded.plan)
    assert stat.S_IMODE(root.path.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / ".labs").stat().st_mode) == 0o700
    for name in (plan.name, PASSWORDS_FILE):
        assert stat.S_IMODE((root.path / name).stat().st_mode) == 0o600


def test_the_state_is_saved_and_kept_when_the_machine_goes_down_under_an_open_incident(
        folder: Path, tmp_path: Path) -> None:
    """#16: a claimed lab saves its state after every change; stopped by a signal (the jump host
    shutting down) while its incident is open, its folder stays, with the claim, to be revived;
    asked to stop, or its incident closed, it is removed."""
    incident = tmp_path / "INC-A"
    incident.mkdir()
    for why, kept in (("signal SIGTERM", True), ("asked to stop", False)):
        lab = StubLab(folder)
        k = Keeper(folder, lab, KeeperConfig("be-lost-unpaired", None, 600.0, folder.parent / "plan.yaml",
                                             idle_s=60.0), monotonic=Clock())
        k.serve()
        k.watch()
        assert lab.saves == 0  # no incident: nothing worth keeping
        ControlClient(k.info()).claim("INC-A", incident)
        assert lab.saves == 1 and json.loads((folder / CLAIM_FILE).read_text())["incident"] == "INC-A"
        lab.requests += 1
        k.watch()
        assert lab.saves == 2  # after the traffic that may have changed it
        k.watch()
        assert lab.saves == 2  # nothing happened: not saved again
        k.stop(why)
        k._shutdown()
        assert lab.stopped and folder.exists() is kept, why
        assert not (folder / KEEPER_FILE).exists()  # nobody attaches to it until it is revived
        folder.mkdir(parents=True, exist_ok=True)
