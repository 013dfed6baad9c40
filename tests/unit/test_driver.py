"""One driver per incident (#18 item 3): the lock, the follower, a hand-over and a take-over.

Other processes are real processes (a Python child that opens the incident and waits, then is
SIGKILLed): the kernel's flock is what tells a live driver from a dead one, so nothing here is
guessed from time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ui.scripted_backend import ScriptedBackend
from wizard.driver import LOCK_FILE, DriverBusy, DriverLock, TakeOverNeeded, lock_state, process_start, read_holder
from wizard.errors import JournalError
from wizard.incident import IncidentFollower, IncidentSession
from wizard.journal import Kind, read_journal

PLAN = Path(__file__).resolve().parents[2] / "plans" / "lab.yaml"
REPO = Path(__file__).resolve().parents[2]


def _start(tmp_path: Path) -> IncidentSession:
    return IncidentSession.start(PLAN, operator="alice", incident="INC-1", mode="drill", journal_dir=tmp_path,
                                 backend=ScriptedBackend())


def _driver_in_another_process(folder: Path) -> subprocess.Popen[str]:
    """Another wizard: resumes the incident as bob, says so, and keeps driving until killed."""
    code = ("import sys, time; from pathlib import Path\n"
            "from tests.ui.scripted_backend import ScriptedBackend\n"
            "from wizard.incident import IncidentSession\n"
            f"s = IncidentSession.resume(Path({str(folder)!r}), operator='bob', backend=ScriptedBackend())\n"
            "s.note('bob drives'); print('driving', flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "driving"
    return proc


def test_a_second_wizard_cannot_drive_and_is_told_who_does(tmp_path: Path) -> None:
    session = _start(tmp_path)
    folder = session.journal.path.parent
    with pytest.raises(DriverBusy) as busy:
        IncidentSession.resume(folder, operator="bob", backend=ScriptedBackend())
    assert busy.value.holder is not None and busy.value.holder.operator == "alice"
    assert busy.value.holder.pid == os.getpid() and busy.value.holder.started == process_start(os.getpid())
    assert "alice on" in str(busy.value) and "read-only" in str(busy.value)
    held, who = lock_state(folder)
    assert held and who is not None and who.operator == "alice"
    before = len(read_journal(folder).entries)
    session.detach()  # alice quits: a clean release
    assert read_holder(folder) is None and lock_state(folder) == (False, None)
    again = IncidentSession.resume(folder, operator="bob", backend=ScriptedBackend())
    entries = read_journal(folder).entries
    assert len(entries) == before + 1 and entries[-1].kind == Kind.RESUMED  # no take-over to journal
    again.detach()


def test_the_follower_sees_the_journal_grow_and_the_hand_over(tmp_path: Path) -> None:
    session = _start(tmp_path)
    folder = session.journal.path.parent
    follower = IncidentFollower(folder)
    first = follower.new_entries()
    assert [e.kind for e in first][:1] == [Kind.OPENED]
    assert follower.new_entries() == []
    session.note("the first thing alice did")
    assert [e.payload.get("text") for e in follower.new_entries()] == ["the first thing alice did"]
    assert follower.driver()[0] is True
    session.hand_over("going off shift")
    handed = follower.new_entries()
    assert handed[-1].kind == Kind.HANDED_OVER and handed[-1].payload == {"by": "alice", "note": "going off shift"}
    assert follower.driver() == (False, None)
    with pytest.raises(JournalError):  # the old driver writes nothing more: its journal is closed
        session.note("too late")
    bob = IncidentSession.resume(folder, operator="bob", backend=ScriptedBackend())
    took = [e for e in read_journal(folder).entries if e.kind == Kind.TOOK_OVER]
    assert len(took) == 1 and took[0].payload["from"] == "alice" and took[0].payload["why"] == "handed over"
    assert took[0].operator == "bob"
    bob.detach()


def test_a_driver_killed_holding_the_incident_is_taken_over_only_when_confirmed(tmp_path: Path) -> None:
    session = _start(tmp_path)
    folder = session.journal.path.parent
    session.detach()
    proc = _driver_in_another_process(folder)
    try:
        with pytest.raises(DriverBusy) as busy:  # bob's wizard lives: nobody else drives
            IncidentSession.resume(folder, operator="carol", backend=ScriptedBackend())
        assert busy.value.holder is not None and busy.value.holder.pid == proc.pid
        assert busy.value.holder.liveness() == "alive"
    finally:
        proc.send_signal(signal.SIGKILL)  # a power cut: no clean release
        proc.wait(timeout=10)
    holder = read_holder(folder)
    assert holder is not None and holder.pid == proc.pid and holder.liveness() == "gone"
    assert lock_state(folder)[0] is False  # the kernel let go with the process
    with pytest.raises(TakeOverNeeded) as asked:
        IncidentSession.resume(folder, operator="carol", backend=ScriptedBackend())
    assert "bob on" in str(asked.value) and "is gone" in str(asked.value)
    assert read_holder(folder) == holder, "declining leaves the evidence for the next attempt"
    carol = IncidentSession.resume(folder, operator="carol", backend=ScriptedBackend(), take_over=True)
    entries = read_journal(folder).entries
    took = next(e for e in entries if e.kind == Kind.TOOK_OVER)
    assert took.payload["from"] == "bob" and took.payload["why"] == "the driving wizard was gone"
    assert took.payload["confirmed_by"] == "carol" and any("no such process" in x for x in took.payload["evidence"])
    assert entries.index(took) < [e.kind for e in entries].index(Kind.RESUMED, entries.index(took))
    assert read_journal(folder).intact
    carol.detach()


def test_the_lock_names_this_process_and_survives_no_torn_write(tmp_path: Path) -> None:
    lock = DriverLock.acquire(tmp_path, "alice")
    try:
        info = read_holder(tmp_path)
        assert info == lock.info and info.liveness() == "alive"
        lock.name("alice.smith")
        assert read_holder(tmp_path) is not None and read_holder(tmp_path).operator == "alice.smith"  # type: ignore[union-attr]
    finally:
        lock.release()
    (tmp_path / LOCK_FILE).write_text('{"host": "x", "pid"', encoding="utf-8")  # torn by a crash mid-write
    assert read_holder(tmp_path) is None
    again = DriverLock.acquire(tmp_path, "bob")
    assert again.previous is None
    again.release()
