"""One driver per incident (#18 item 3), played with the command a person runs, in two 80x24 tmux
panes (TERM=linux): alice drives a drill, bob opens the same incident from his own session.

- bob's wizard cannot drive: it follows the journal read-only and shows alice's answer as she
  gives it;
- alice hands over (palette: Hand over, confirmed); both screens say so, bob takes control with
  ``t`` and the journal records the hand-over and who took it;
- bob's wizard is SIGKILLed (a power cut): alice, following now, sees that it is gone (from the
  kernel's lock and /proc, not from time) and takes the incident over after confirming.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.tmux import SLOW, Pane, entries
from wizard.journal import Kind

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

SCENARIO = "edge-lost"
PROGRAM = str(Path(sys.executable).with_name("lync-restore"))


def _pane(tmp_path: Path, name: str, journals: Path, operator: str) -> Pane:
    folder = tmp_path / name
    folder.mkdir()
    pane = Pane.private(folder, dict(os.environ))
    pane.start([PROGRAM, "drill", "--scenario", SCENARIO, "--journal-dir", str(journals), "--operator", operator,
                "--time-factor", "600"])
    return pane


def test_two_wizards_one_driver_hand_over_and_take_over(tmp_path: Path) -> None:
    journals = tmp_path / "incidents"
    alice = _pane(tmp_path, "alice", journals, "alice")
    bob: Pane | None = None
    try:
        alice.wait_for("Unfinished incidents of this plan: 0")
        alice.keys("C-s")
        alice.wait(lambda s: "configuration or topology" in s and "unknown (u)" in s, "the question")
        folder = next(p for p in journals.iterdir() if p.name.startswith("INC-"))

        bob = _pane(tmp_path, "bob", journals, "bob")
        bob.wait(lambda s: "Unfinished incidents of this plan: 1" in s and "DRIVEN by alice now" in " ".join(s.split()),
                 "the start screen says alice drives it")
        bob.keys("C-r")  # resume the selected incident: alice drives it
        bob.wait(lambda s: f"Following {folder.name} (read-only)" in s and "Driven by alice on" in s,
                 "bob follows, told who drives")
        assert "Take control" not in bob.screen(), "nobody takes control from a live driver"

        alice.keys("u")  # alice answers; bob's view shows it without a key
        bob.wait(lambda s: "observation:bad_change: unknown" in s, "alice's answer on bob's screen")

        alice.keys("C-p")
        alice.wait_for("Hand over")
        alice.type("Hand over")
        alice.keys("Enter")
        alice.wait(lambda s: "Hand the incident over?" in s and "y = yes" in s, "the hand-over asked")
        alice.keys("y")
        alice.wait(lambda s: f"Following {folder.name} (read-only)" in s, "alice follows")
        bob.wait(lambda s: "alice handed the incident over: t takes control" in s and "t Take control" in s,
                 "bob sees the hand-over")
        bob.keys("t")
        bob.wait(lambda s: "Assessment" in s and "Following" not in s, "bob drives", SLOW)
        alice.wait(lambda s: "Driven by bob on" in s, "alice sees bob drive")

        journal = entries(folder)
        handed = next(e for e in journal if e.kind == Kind.HANDED_OVER)
        took = next(e for e in journal if e.kind == Kind.TOOK_OVER)
        assert handed.operator == "alice" and took.operator == "bob" and took.payload["why"] == "handed over"
        assert handed.seq < took.seq

        os.kill(bob.pid, signal.SIGKILL)  # bob's wizard is gone without letting go
        alice.wait(lambda s: "bob on" in s and "is gone without letting go" in " ".join(s.split())
                   and "t Take control" in s, "alice sees bob's wizard gone")
        alice.keys("t")
        alice.wait(lambda s: "Take over the incident?" in s and "y = yes" in s, "asked before taking over")
        alice.keys("y")
        alice.wait(lambda s: "Assessment" in s and "Following" not in s, "alice drives again", SLOW)
        journal = entries(folder)
        last_take = [e for e in journal if e.kind == Kind.TOOK_OVER][-1]
        assert last_take.operator == "alice" and last_take.payload["from"] == "bob"
        assert last_take.payload["why"] == "the driving wizard was gone"
        assert last_take.payload["confirmed_by"] == "alice"
        assert not any(e.kind == Kind.ACTION_STARTED for e in journal)
    finally:
        alice.kill_server()
        if bob is not None:
            bob.kill_server()
        subprocess.run([PROGRAM, "drill", "--stop", "--journal-dir", str(journals)], capture_output=True, timeout=60)
