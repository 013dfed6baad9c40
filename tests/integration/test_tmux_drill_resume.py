"""The command a trainee runs, ``lync-restore drill --scenario be-lost-unpaired``, in an 80x24 tmux
pane (TERM=linux), played by keys: the incident is started, the §6.1 rebuild of sql21 is played
by the lab's hands, the tmux server is killed while the databases are recreated (as a dropped SSH
link kills the terminal), and the same command started again offers the incident ("Unfinished
incidents of this plan: 1"); Ctrl+R resumes it on the same lab, as it was left (the rebuilt server
still there, the in-doubt step's pre-check run against it), the remaining steps are finished by
keys to the summary, and closing the incident stops the lab's keeper."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.keeper import KEEPER_FILE, pid_alive
from tests.helpers.tmux import (
    FOCUS_S,
    SLOW,
    Pane,
    answer_dialog,
    answer_questions,
    confirm_person_checks,
    entries,
    finished,
    process_gone,
    run_steps,
    wait_gone,
)
from wizard.incident_state import replay
from wizard.journal import Kind, read_journal

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SCENARIO = "be-lost-unpaired"
TIME_FACTOR = 60  # Install-CsDatabase (15 min of lab time) lasts seconds: long enough to die in the middle
PROGRAM = str(Path(sys.executable).with_name("lync-restore"))


def keepers(journals: Path) -> list[dict[str, object]]:
    labs = journals / ".labs" / SCENARIO
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(labs.glob(f"lab-*/{KEEPER_FILE}"))]


def the_incident(journals: Path) -> Path:
    found = [p.parent for p in journals.glob("*/journal.jsonl")]
    assert len(found) == 1, found
    return found[0]


def test_ssh_drop_mid_step_then_the_same_drill_command_resumes_on_the_same_lab(tmp_path: Path) -> None:
    journals = tmp_path / "incidents"
    command = [PROGRAM, "drill", "--scenario", SCENARIO, "--journal-dir", str(journals),
               "--time-factor", str(TIME_FACTOR), "--operator", "alice"]
    pane = Pane.private(tmp_path, dict(os.environ))
    try:
        # ---- first run: start by keys, answer, accept path and set, the rebuild, die in the databases step
        pane.start(command)
        pane.wait_for("Unfinished incidents of this plan: 0")
        assert len(keepers(journals)) == 1, "a lab waits in its keeper while the start screen shows"
        pane.keys("C-s")
        answer_questions(pane)
        assert "[be-restore]" in pane.screen()
        pane.keys("a")
        pane.wait(lambda s: "Backup set for" in s and "Recommended:" in s, "the recommended backup set")
        pane.keys("a")
        pane.wait(lambda s: "Restore: be-restore" in s and "[ ]" in s, "the restore checklist")
        folder = the_incident(journals)
        dying = run_steps(pane, folder, stop_in="be-databases")
        assert dying is not None
        st = replay(entries(folder))
        assert st.steps["prepare-sql21.fabrikam.lab"].status == "done"  # the lab's hands rebuilt sql21
        lab = keepers(journals)
        assert len(lab) == 1 and lab[0]["incident"] == folder.name
        keeper_pid = int(str(lab[0]["pid"]))
        first_pid = pane.pid
        pane.kill_server()  # the SSH link drops
        wait_gone(first_pid, 20)
        st = replay(entries(folder))
        assert st.in_doubt == [dying], st.steps
        assert pid_alive(keeper_pid), "the lab outlives the terminal"

        # ---- second run: the same command offers the incident with its step in doubt; Ctrl+R resumes
        started = time.monotonic()
        pane.start(command)
        pane.wait(lambda s: "Unfinished incidents of this plan: 1" in s and folder.name in s and "IN DOUBT" in s,
                  "the unfinished incident with its step in doubt")
        shown_s = time.monotonic() - started
        assert [int(str(k["pid"])) for k in keepers(journals)] == [keeper_pid], "no second lab: the same one"
        pane.keys("C-r")  # highlights the first unfinished incident
        time.sleep(FOCUS_S)
        pane.keys("C-r")
        text = pane.wait(lambda s: "Restore: be-restore" in s and "pre-check of" in s, "the in-doubt pre-check")
        notes = [e.payload["text"] for e in entries(folder) if e.kind == Kind.NOTE]
        # the pre-check reached the lab as it was left (the rebuilt sql21 answers): the work is done, or
        # not yet (the lab carries on with the command after the terminal died, as a server would)
        assert any(n.startswith(f"pre-check of {dying} (in doubt): the work is ") for n in notes), (notes, text)
        assert not any("fresh lab" in n for n in notes)
        if "┏" in text:
            answer_dialog(pane)
        assert run_steps(pane, folder, stop_in=None) is None
        pane.keys("n")
        pane.wait(lambda s: "Verify" in s and ("All checks healthy" in s or "check(s)" in s), "the §7 checks")
        confirm_person_checks(pane)
        assert "FAIL" not in pane.screen()
        pane.keys("n")
        pane.wait_for(f"Summary: {folder.name}")
        assert "1 interruption(s) and 1 resume(s)" in pane.screen()
        assert "Service restored" in pane.screen()
        second_pid = pane.pid
        pane.keys("c")
        deadline = time.monotonic() + SLOW
        while not process_gone(second_pid):
            answer_dialog(pane)  # "Close the incident as service restored?" y
            assert time.monotonic() < deadline, pane.screen()
            time.sleep(0.1)
        pane.screen()  # remain-on-exit: what the program left behind
    finally:
        pane.kill_server()
        subprocess.run([PROGRAM, "drill", "--stop", "--journal-dir", str(journals)], capture_output=True, timeout=60)

    # ---- the keeper stopped with the incident; nothing of the lab is left
    deadline = time.monotonic() + 20
    while pid_alive(keeper_pid) or list((journals / ".labs" / SCENARIO).glob("lab-*")):
        assert time.monotonic() < deadline, "the lab still runs after the incident was closed"
        time.sleep(0.1)
    assert not [s for s in pane.seen if "Traceback" in s], "a traceback reached the screen"
    verify = subprocess.run([PROGRAM, "journal", "verify", str(folder)], capture_output=True, text=True, timeout=30)
    assert verify.returncode == 0 and "sealed, intact" in verify.stdout, verify
    st = replay(read_journal(folder).entries)
    assert st.closed and st.resumes == 1 and st.interruptions == 1
    assert all(rec.status in ("done", "skipped", "done_by_hand", "already_done") for rec in st.steps.values()), st.steps
    assert finished(folder) >= len(st.steps)
    print(f"second start to the unfinished incident on screen: {shown_s:.2f} s")

