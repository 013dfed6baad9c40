"""A drill's lab in its keeper process, through the real clients: a wizard (a child process here)
starts an incident on a kept lab and plays a manual step through the control endpoint (the §6.1
rebuild of sql21), is killed with SIGKILL, and a second wizard attaches to the same lab: the same
keeper, the rebuilt server still listening, the same scoring; it resumes the incident, runs the
next step on that lab, closes the incident, and the keeper is gone. A new incident started while
another holds a lab gets its own lab; an incident whose lab has gone resumes on a fresh one, and
its journal says so."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.attach import KeptDrill, stop_labs
from lab.keeper import STATE_FILE, pid_alive
from wizard.driver import TakeOverNeeded
from wizard.incident import IncidentSession, StepDone, StepSkipped, unfinished_incidents
from wizard.journal import Kind, read_journal

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SCENARIO = "be-lost-unpaired"
PREPARE = "prepare-sql21.fabrikam.lab"  # manual: the lab's hands rebuild sql21 (a new listener)
DATABASES = "be-databases-pool3.fabrikam.lab"
REPO = Path(__file__).resolve().parents[2]

#: The first wizard: starts the incident on the kept lab, plays up to the rebuild, says so, waits.
CLIENT = textwrap.dedent("""
    import json, sys, threading, time
    from pathlib import Path
    from lab.attach import KeptDrill
    from wizard.incident import IncidentSession, StepDone

    journals = Path(sys.argv[1])
    drill = KeptDrill("be-lost-unpaired", journal_dir=journals, time_factor=600).start()
    s = IncidentSession.start(drill.loaded.path, operator="alice", incident="INC-KEPT", mode="drill",
                              journal_dir=journals, backend=drill.backend, loaded=drill.loaded)
    s.change_stage("assessment")
    rec = s.recommend(list(s.probe(threading.Event())), {})
    s.choose_path(rec, rec.recommended.path_id)
    s.change_stage("backup_set")
    choice = s.backup_sets()
    s.choose_backup_set(choice, choice.recommended, now=drill.now())
    s.change_stage("restore")
    steps = {v.step_id: v for v in s.compose()}
    events = list(s.run_step(steps["prepare-sql21.fabrikam.lab"], threading.Event()))
    assert any(isinstance(e, StepDone) for e in events), events
    print(json.dumps({"keeper": drill.keeper.pid, "folder": str(drill.keeper.folder),
                      "problems": drill.problems()}), flush=True)
    time.sleep(600)
""")


def _first_wizard(journals: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """The first wizard (CLIENT) in its own session, and what it said once sql21 was rebuilt."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", CLIENT, str(journals)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line:
        os.killpg(child.pid, signal.SIGKILL)
        raise AssertionError(child.stderr.read() if child.stderr else "the client said nothing")
    return child, json.loads(line)


def _databases_then_close(s: IncidentSession, steps: dict[str, Any], keeper: int, lab: Path) -> None:
    """The step after the rebuild runs on the lab (sql21 reached, logged in); closing the incident
    stops the keeper, which saw the sealed journal."""
    events = list(s.run_step(steps[DATABASES], threading.Event()))
    assert any(isinstance(e, (StepDone, StepSkipped)) for e in events), events
    s.close("drill stopped here")
    _wait_gone(keeper, lab)


def _end(child: subprocess.Popen[str], journals: Path) -> None:
    if child.poll() is None:
        os.killpg(child.pid, signal.SIGKILL)
    stop_labs(journals)


def _hosts(live_plan: Path) -> set[str]:
    data = yaml.safe_load(live_plan.read_text(encoding="utf-8"))
    return set(data["connections"]["hosts"])


def _wait_gone(pid: int, folder: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while pid_alive(pid) or folder.exists():
        assert time.monotonic() < deadline, f"the keeper {pid} still runs {timeout}s on"
        time.sleep(0.05)


def test_killed_wizard_then_attach_again_finds_the_lab_as_it_was(tmp_path: Path) -> None:
    journals = tmp_path / "incidents"
    child, first = _first_wizard(journals)
    try:
        os.killpg(child.pid, signal.SIGKILL)  # as a lost terminal: no goodbye to the lab
        child.wait(10)
        folder = journals / "INC-KEPT"
        assert pid_alive(first["keeper"]), "the lab outlives its wizard"

        started = time.monotonic()
        drill = KeptDrill(SCENARIO, journal_dir=journals, time_factor=600).start()
        attach_s = time.monotonic() - started
        try:
            assert drill.spare is None  # a lab holds an unfinished incident: nothing new is started
            assert drill.loaded is not None
            assert [u.incident for u in unfinished_incidents(journals, drill.loaded)] == ["INC-KEPT"]
            with pytest.raises(TakeOverNeeded):  # the killed wizard held the incident (#18 item 3)
                IncidentSession.resume(folder, operator="alice", backend=drill.backend, loaded=drill.loaded)
            s = IncidentSession.resume(folder, operator="alice", backend=drill.backend, loaded=drill.loaded,
                                       take_over=True)
            assert any(e.kind == Kind.TOOK_OVER for e in s.entries)
            assert drill.keeper is not None and drill.keeper.pid == first["keeper"], "the same lab"
            assert str(drill.keeper.folder) == first["folder"] and not drill.fresh_for_resume
            assert "sql21.fabrikam.lab" in _hosts(drill.keeper.live_plan), "the rebuilt server still listens"
            assert drill.problems() == first["problems"]
            assert not any(e.kind == Kind.WARNING for e in s.entries), "the plan did not change"
            steps = {v.step_id: v for v in s.compose()}
            assert s.state.steps[PREPARE].status == "done"
            _databases_then_close(s, steps, first["keeper"], Path(first["folder"]))
            assert drill.leave() is None
        finally:
            drill.stop()
    finally:
        _end(child, journals)
    print(f"attach to a kept lab: {attach_s:.2f} s")


def test_a_new_incident_gets_its_own_lab_and_a_lab_that_went_is_replaced(tmp_path: Path) -> None:
    journals = tmp_path / "incidents"
    try:
        a = KeptDrill(SCENARIO, journal_dir=journals, time_factor=600).start()
        assert a.loaded is not None and a.spare is not None
        sa = IncidentSession.start(a.loaded.path, operator="alice", incident="INC-A", mode="drill",
                                   journal_dir=journals, backend=a.backend, loaded=a.loaded)
        assert a.keeper is not None and a.spare is None
        lab_a = a.keeper
        sa.detach()  # left unfinished

        b = KeptDrill(SCENARIO, journal_dir=journals, time_factor=600).start()
        assert b.spare is None and b.loaded is not None
        sb = IncidentSession.start(b.loaded.path, operator="bob", incident="INC-B", mode="drill",
                                   journal_dir=journals, backend=b.backend, loaded=b.loaded)
        assert b.keeper is not None and b.keeper.folder != lab_a.folder, "never the lab of another incident"
        assert b.keeper.incident == "INC-B" and pid_alive(lab_a.pid)
        assert sorted(u.incident for u in unfinished_incidents(journals, b.loaded)) == ["INC-A", "INC-B"]
        sb.close("done")
        assert b.leave() is None

        os.kill(lab_a.pid, signal.SIGKILL)  # the lab went, and its saved state with it
        (lab_a.folder / "lab" / STATE_FILE).unlink()
        c = KeptDrill(SCENARIO, journal_dir=journals, time_factor=600).start()
        assert not lab_a.folder.exists(), "the dead lab's folder (nothing saved to go on from) is cleaned"
        assert c.loaded is not None
        sc = IncidentSession.resume(journals / "INC-A", operator="alice", backend=c.backend, loaded=c.loaded)
        assert c.keeper is not None and c.keeper.incident == "INC-A" and c.fresh_for_resume
        notes = [e.payload["text"] for e in read_journal(journals / "INC-A").entries if e.kind == Kind.NOTE]
        assert any("a fresh lab" in n for n in notes), notes
        sc.detach()
        lab_c = c.keeper
        assert c.leave() == "INC-A" and pid_alive(lab_c.pid), "kept for the resume of an unfinished incident"
    finally:
        stopped = stop_labs(journals)
    assert [s.incident for s in stopped if s.was == "stopped"] == ["INC-A"]
    assert not (journals / ".labs").exists()


def test_the_lab_survives_a_restart_of_the_jump_host(tmp_path: Path) -> None:
    """#16: real servers outlive a restart of the jump host, so the lab does: the wizard and the
    keeper both die without a word (SIGKILL, as a power cut), the same command resumes the
    incident, and the lab is started again from the state it saved: the rebuilt sql21 listens,
    the lab's clock goes on from where it was, the next step runs on it."""
    journals = tmp_path / "incidents"
    child, first = _first_wizard(journals)
    try:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(10)
        saved = Path(first["folder"]) / "lab" / STATE_FILE
        deadline = time.monotonic() + 10
        while not saved.exists():  # the keeper saves after the rebuild's traffic
            assert time.monotonic() < deadline, "the kept lab saved no state"
            time.sleep(0.05)
        os.kill(first["keeper"], signal.SIGKILL)  # the machine goes down: no keeper, no goodbye
        _wait_pid(first["keeper"])

        drill = KeptDrill(SCENARIO, journal_dir=journals, time_factor=600).start()
        try:
            assert drill.loaded is not None and drill.spare is None  # the kept lab waits for its incident
            s = IncidentSession.resume(journals / "INC-KEPT", operator="alice", backend=drill.backend,
                                       loaded=drill.loaded, take_over=True)  # the wizard died holding it
            assert drill.keeper is not None and drill.keeper.pid != first["keeper"]
            assert str(drill.keeper.folder) == first["folder"] and not drill.fresh_for_resume
            assert "sql21.fabrikam.lab" in _hosts(drill.keeper.live_plan), "the rebuilt server is still there"
            assert drill.problems() == first["problems"]
            notes = [e.payload["text"] for e in s.entries if e.kind == Kind.NOTE]
            assert any("started again from the state it had saved" in n for n in notes), notes
            steps = {v.step_id: v for v in s.compose()}
            _databases_then_close(s, steps, drill.keeper.pid, drill.keeper.folder)
        finally:
            drill.stop()
    finally:
        _end(child, journals)


def _wait_pid(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        assert time.monotonic() < deadline, f"process {pid} still runs"
        time.sleep(0.05)
