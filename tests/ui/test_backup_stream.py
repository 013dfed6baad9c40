"""#20 item 2, the backup-set screen against the real core: the lab's sets listed through WinRM
appear at once, each candidate's integrity (far-side hashes, RESTORE VERIFYONLY by the lab's SQL
Server) shows as it finishes, and Esc stops the checks that remain: those sets stay "unchecked",
nothing is recommended, the journal says which sets were checked, and a set can still be picked
(with a reason).

The newest sets of the drill are damaged (``corrupt_newest_set``), so the first check fails and a
second set would be checked; that second check is held at a gate until the test has pressed Esc,
so the cancel lands between two sets whatever the machine's speed."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from lab.drill import LabDrill
from screens.app import WizardApp
from screens.assessment import AssessmentScreen
from screens.backup import BackupScreen
from tests.ui.conftest import wait_for
from tests.ui.screen_text import screen_text
from wizard.incident_state import replay
from wizard.journal import Kind, read_journal
from wizard.opening import Opening, loaded_source

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SLOW = 30.0


def _words(app: WizardApp) -> str:
    return " ".join(screen_text(app).replace("┃", " ").split())


async def test_integrity_streams_and_esc_stops_the_remaining_checks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lab.drill
    from lab.scenarios import Scenario
    from wizard.catalog import recommend

    real_scenario = lab.drill.scenario

    def damaged(name: str) -> Scenario:
        return real_scenario(name).with_faults(corrupt_newest_set=True)

    monkeypatch.setattr(lab.drill, "scenario", damaged)
    real_check = recommend.check_parts
    second_started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def gated(contents: Any, parts: Any, verifier: Any, **kw: Any) -> Any:
        calls.append(contents.entry.key)
        if len(calls) == 2:  # hold the second set's checks until Esc was pressed
            second_started.set()
            assert release.wait(SLOW)
        return real_check(contents, parts, verifier, **kw)

    monkeypatch.setattr(recommend, "check_parts", gated)
    journal_dir = tmp_path / "incidents"
    with LabDrill("monitoring-db-lost", time_factor=600) as drill:
        assert drill.loaded is not None
        app = WizardApp(Opening(loaded_source(drill.loaded, drill.backend), "lab: monitoring-db-lost", journal_dir,
                                "alice", "INC-SETS", "drill"))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("ctrl+s")
            while not (isinstance(app.screen, AssessmentScreen) and app.screen.recommendation is not None):
                await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ChoiceDialog" or (
                    isinstance(app.screen, AssessmentScreen) and app.screen.recommendation is not None), SLOW)
                if app.screen.__class__.__name__ == "ChoiceDialog":
                    before = _words(app)
                    await pilot.press("enter")  # "unknown"
                    await wait_for(pilot, lambda b=before: app.screen.__class__.__name__ != "ChoiceDialog"
                                   or _words(app) != b, SLOW)
            await pilot.press("a")
            await wait_for(pilot, lambda: isinstance(app.screen, BackupScreen), SLOW)
            screen = app.screen
            assert isinstance(screen, BackupScreen)
            # the first set's result is on screen while the second is still being checked
            await wait_for(pilot, lambda: second_started.is_set() and " bad" in _words(app), SLOW)
            text = _words(app)
            assert screen.checking and screen.choice is None
            assert "Checking integrity, newest complete set first: 1 checked so far" in text, text
            assert "unchecked" in text and "esc Stop checks" in text, text
            assert "Accept recommended" not in text  # nothing is recommended yet
            await pilot.press("escape")
            await wait_for(pilot, lambda: "Stopping the integrity checks (1 sets checked)" in _words(app), SLOW)
            release.set()
            await wait_for(pilot, lambda: screen.choice is not None, SLOW)
            choice = screen.choice
            assert choice is not None and choice.recommended is None
            assert [s.integrity for s in choice.sets].count("bad") == 1, choice.sets
            assert all(s.integrity == "unchecked" for s in choice.sets if s.name != calls[0])
            text = _words(app)
            assert "No set is recommended: Integrity checks cancelled: 1 of the 6 sets checked" in text, text
            assert "esc Stop checks" not in text and "Accept recommended" not in text, text
            assert calls == [calls[0], calls[1]]  # no third set was opened
            await pilot.press("a")  # nothing recommended: nothing to accept
            await pilot.pause(0.2)
            assert isinstance(app.screen, BackupScreen)
            unchecked = next(s.name for s in choice.sets if s.integrity == "unchecked" and s.complete)
            await pilot.press("ctrl+home", *["down"] * [s.name for s in choice.sets].index(unchecked))
            await wait_for(pilot, lambda: f"{unchecked}: " in _words(app), SLOW)  # the detail of that set
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ReasonDialog", SLOW)
            await pilot.press(*"checks stopped: restoring now", "enter")
            await wait_for(pilot, lambda: app.session is not None and app.session.state.backup_set == unchecked, SLOW)
    entries = read_journal(journal_dir / "INC-SETS").entries
    notes = [e.payload["text"] for e in entries if e.kind == Kind.NOTE
             and "integrity checks cancelled" in e.payload["text"]]
    assert len(notes) == 1, notes
    assert f"checked {calls[0]} bad" in notes[0] and "5 sets left unchecked" in notes[0], notes[0]
    decision = next(e.payload for e in replay(entries).decisions if e.payload["question"] == "backup_set")
    assert decision["choice"] == unchecked and decision["recommended"] is None
    assert "integrity=unchecked" in decision["evidence"] and decision["reason"] == "checks stopped: restoring now"
