"""The real program in an 80x24 tmux pane (TERM=linux), played by ``tmux send-keys`` and read by
``capture-pane``: the terminal dies in the middle of a restore step, the program starts again,
the incident is resumed from the start screen and finished.

The lab outlives the UI, as real servers outlive an SSH session: ``lync-restore lab serve`` runs
as its own process; the wizard is ``lync-restore run <plan> --drill`` against it, with the lab's
passwords in the environment variables the plan names. The tmux server is private to the test
(its own socket), so ``kill-server`` kills only it. Every screen seen is kept: none may show a
traceback.
"""

from __future__ import annotations

import json
import os
import selectors
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.tmux import (
    FOCUS_S,
    SLOW,
    Pane,
    answer_questions,
    confirm_person_checks,
    entries,
    finished,
    run_steps,
    wait_gone,
)
from wizard.incident_state import replay
from wizard.journal import Kind, read_journal

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

SCENARIO = "pool-lost-paired"
TIME_FACTOR = 60  # the pool failover (300 s of lab time) lasts 5 s: long enough to die in the middle
INCIDENT = "INC-TMUX"
PROGRAM = str(Path(sys.executable).with_name("lync-restore"))


class Lab:
    """``lync-restore lab serve --json`` as a subprocess: its one JSON line, then SIGTERM."""

    def __init__(self, state_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [PROGRAM, "lab", "serve", "--scenario", SCENARIO, "--json", "--time-factor", str(TIME_FACTOR),
             "--state-dir", str(state_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.state_dir = state_dir
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        ready = sel.select(timeout=SLOW)
        sel.close()
        if not ready:
            self.stop()
            raise AssertionError("lab serve printed nothing in time")
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise AssertionError(f"lab serve ended: {err[-2000:]}")
        self.info: dict[str, Any] = json.loads(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def plan_and_env(self) -> tuple[Path, dict[str, str]]:
        """The served plan as it is, and the passwords in the environment variables it names."""
        served = Path(self.info["plan"])
        data = yaml.safe_load(served.read_text(encoding="utf-8"))
        env = {e["env"]: self.info["passwords"]["sql" if e.get("kind") == "sql" else "winrm"]
               for e in data["credentials"]["entries"] if e.get("source") == "env"}
        assert env, "the served plan names no environment variables for its passwords"
        return served, env


# ------------------------------------------------------------------------------ the pane


# ------------------------------------------------------------------------------ the test


def test_terminal_dies_mid_restore_then_resume_and_finish(tmp_path: Path) -> None:
    lab = Lab(tmp_path / "lab")
    pane: Pane | None = None
    try:
        plan, passwords = lab.plan_and_env()
        journals = tmp_path / "incidents"
        folder = journals / INCIDENT
        conf = tmp_path / "tmux.conf"
        conf.write_text("set -g status off\nset -g remain-on-exit on\n", encoding="utf-8")
        env = {**os.environ, **passwords}
        command = [PROGRAM, "--journal-dir", str(journals), "run", str(plan), "--drill", "--operator", "alice",
                   "--incident", INCIDENT]
        pane = Pane(tmp_path / "tmux.sock", conf, env)

        # ---- first run: start, answer, accept path and set, run steps, die in the pool failover
        pane.start(command)
        pane.wait_for("Unfinished incidents of this plan: 0")
        pane.keys("C-s")
        answer_questions(pane)
        assert "[pool-failover]" in pane.screen()
        pane.keys("a")
        pane.wait(lambda s: "Backup set for" in s and "Recommended:" in s, "the recommended backup set")
        pane.keys("a")
        pane.wait(lambda s: "Restore: pool-failover" in s and "[ ]" in s, "the restore checklist")
        dying = run_steps(pane, folder, stop_in="pool-failover")
        assert dying is not None
        first_pid = pane.pid
        pane.kill_server()
        wait_gone(first_pid, 20)
        st = replay(entries(folder))
        assert st.in_doubt == [dying], st.steps
        lost = [e for e in entries(folder) if e.kind == Kind.INTERRUPTED]
        assert len(lost) == 1 and lost[0].payload["step"] == dying, lost
        assert "terminal lost (SIGHUP)" in lost[0].payload["reason"]
        assert lab.proc.poll() is None, "the lab outlives the terminal"

        # ---- second run: the start screen offers the incident with its step in doubt; resume
        pane.start(command)
        text = pane.wait(lambda s: "Unfinished incidents of this plan: 1" in s and INCIDENT in s and "IN DOUBT" in s,
                         "the unfinished incident with its step in doubt")
        pane.keys("C-r")  # highlights the first unfinished incident
        time.sleep(FOCUS_S)
        pane.keys("C-r")
        text = pane.wait(lambda s: "Restore: pool-failover" in s and "pre-check of" in s, "the in-doubt pre-check")
        notes = [e.payload["text"] for e in entries(folder) if e.kind == Kind.NOTE]
        assert any(n.startswith(f"pre-check of {dying} (in doubt)") for n in notes), notes
        if "unknown: check by hand" in text:
            # no pre-check can tell: the operator checks by hand and says so (the §7 checks below
            # are the proof that the failover did happen on the lab after the terminal died)
            before = finished(folder)
            pane.keys("d")
            pane.wait_for("Done by hand", 5)
            pane.type("pool2 users are homed on pool1 (checked by hand after the terminal died)")
            pane.keys("Enter")
            pane.wait(lambda s: finished(folder) > before and "┏" not in s, "the step marked done by hand")
        assert run_steps(pane, folder, stop_in=None) is None
        pane.keys("n")
        assert "All checks healthy" in confirm_person_checks(pane)
        pane.keys("n")
        pane.wait_for(f"Summary: {INCIDENT}")
        assert "1 interruption(s) and 1 resume(s)" in pane.screen()
        second_pid = pane.pid
        pane.keys("c")
        pane.wait_for("Close the incident as service restored?", 5)
        pane.keys("y")
        wait_gone(second_pid, SLOW)
        assert "INC-TMUX/report.md" in pane.screen()  # the report path, printed as the program left
        pane.screen()  # remain-on-exit: what the program left behind
    finally:
        if pane is not None:
            pane.kill_server()
        lab.stop()

    assert not [s for s in pane.seen if "Traceback" in s], "a traceback reached the screen"
    verify = subprocess.run([PROGRAM, "journal", "verify", str(folder)], capture_output=True, text=True, timeout=30)
    assert verify.returncode == 0 and "sealed, intact" in verify.stdout, verify
    st = replay(read_journal(folder).entries)
    assert st.closed and st.resumes == 1 and st.interruptions == 1
    closed = [e for e in read_journal(folder).entries if e.kind == Kind.CLOSED]
    assert closed[-1].payload["outcome"] == "restored"
    assert st.steps[dying].status in ("done", "skipped", "done_by_hand", "already_done"), st.steps[dying]
    assert all(rec.status in ("done", "skipped", "done_by_hand", "already_done") for rec in st.steps.values()), st.steps
    report = subprocess.run([PROGRAM, "report", str(folder)], capture_output=True, text=True, timeout=30)
    assert report.returncode == 0, report.stderr
    assert "1 interruption(s) and 1 resume(s)" in report.stdout
    assert f"interrupted during {dying}: terminal lost (SIGHUP)" in report.stdout, report.stdout
    assert f"resumed; in doubt: {dying}" in report.stdout, report.stdout


def test_broken_plan_in_a_real_terminal_says_where_and_exits_2(tmp_path: Path) -> None:
    """The start screen shows before the plan is read; a broken plan then ends the program with the
    plan's FILE:LINE:COL lines on the restored terminal, exit 2, no traceback, no incident. (A shell
    in the pane records the exit status: tmux does not always reap its pane's process at once.)"""
    broken = Path(__file__).resolve().parents[1] / "data" / "broken_plans" / "bad-enum.yaml"
    conf = tmp_path / "tmux.conf"
    conf.write_text("set -g status off\nset -g remain-on-exit on\n", encoding="utf-8")
    journals = tmp_path / "incidents"
    status = tmp_path / "status"
    program = shlex.join([PROGRAM, "--journal-dir", str(journals), "run", str(broken), "--operator", "alice"])
    pane = Pane(tmp_path / "tmux.sock", conf, dict(os.environ))
    try:
        pane.start(["sh", "-c", f"{program}; echo $? > {shlex.quote(str(status))}"])
        pane.wait(lambda s: "error in the plan" in s, "the plan's error", SLOW)
        deadline = time.monotonic() + SLOW
        while not status.exists() or not status.read_text().strip():
            assert time.monotonic() < deadline, f"the program did not end:\n{pane.screen()}"
            time.sleep(0.05)
        text = pane.tmux("capture-pane", "-p", "-J", "-S", "-100")  # with the scrollback, wrapped lines joined
    finally:
        pane.kill_server()
    assert status.read_text().strip() == "2"
    assert f"{broken}:21:" in text and "expected one of standard, enterprise" in text, text
    assert "lync-restore: 1 error in the plan" in text, text
    assert not [s for s in pane.seen if "Traceback" in s] and "Traceback" not in text
    assert not journals.exists()


def test_no_arguments_opens_a_drill_at_once_and_ctrl_c_twice_leaves(tmp_path: Path) -> None:
    """`lync-restore` alone: the start screen shows while the lab starts in the background, then
    the lab's plan fills it in; Ctrl+C twice leaves cleanly (exit 0, nothing journaled: no
    incident was started)."""
    conf = tmp_path / "tmux.conf"
    conf.write_text("set -g status off\nset -g remain-on-exit on\n", encoding="utf-8")
    status = tmp_path / "status"
    home = tmp_path / "home"  # the default journal folder lives under the user's state directory
    env = {**os.environ, "HOME": str(home), "XDG_STATE_HOME": str(home / "state")}
    pane = Pane(tmp_path / "tmux.sock", conf, env)
    try:
        pane.start(["sh", "-c", f"{shlex.quote(PROGRAM)}; echo $? > {shlex.quote(str(status))}"])
        pane.wait(lambda s: "Operator" in s, "the start screen", SLOW)
        text = pane.wait_for("Unfinished incidents of this plan: 0")
        assert "lync-restore: Fabrikam Lab" in text and "[x] Drill" in text, text
        pane.keys("C-c")
        pane.wait_for("Quit the wizard?", 5)
        assert "No incident was started" in pane.screen()
        pane.keys("C-c")
        deadline = time.monotonic() + SLOW
        while not status.exists() or not status.read_text().strip():
            assert time.monotonic() < deadline, f"the program did not end:\n{pane.screen()}"
            time.sleep(0.05)
    finally:
        pane.kill_server()
    assert status.read_text().strip() == "0"
    assert not [s for s in pane.seen if "Traceback" in s]
    assert not list(home.rglob("journal.jsonl")), "no incident was started, so nothing is journaled"
