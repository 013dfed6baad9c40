"""#19 item 2: an instructor scenario from tests/data with a fault in the middle of a restore,
played through the pilot at 80x24 against the real core and the lab: the SQL restore of LcsCDR
stops at 60 percent (SQL Server 3203 then 3013, once), the restore screen says so in a sentence
the operator can read, r retries, the retry succeeds, and the journal records both attempts."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.drill import LabDrill
from screens.app import WizardApp
from screens.restore import RestoreScreen
from screens.widgets.checklist import RESOLVED
from tests.conftest import DATA
from tests.ui.conftest import wait_for
from tests.ui.screen_text import screen_text
from tests.ui.test_drill_core import SLOW, _to_restore
from wizard.journal import Kind, read_journal
from wizard.opening import Opening, loaded_source

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

FAULTY = "sql-restore-lcscdr-mon"


async def _run(app: WizardApp, pilot, screen: RestoreScreen, step) -> str:  # type: ignore[no-untyped-def]
    """r on the step, then what a person answers (work found done: skip it; work by hand: done;
    the typed confirmation and the second operator), until the step is no longer running."""
    sid = step.step_id
    await pilot.press("r")

    def settled() -> bool:
        rec = app.session.state.steps.get(sid) if app.session is not None else None
        return screen.running is None and screen.idle and rec is not None and rec.status != "running"

    dialogs = ("ChoiceDialog", "ConfirmDialog", "ConfirmTyped", "SecondOperator")
    while True:
        await wait_for(pilot, lambda: app.screen.__class__.__name__ in dialogs or settled(), SLOW)
        shown = app.screen.__class__.__name__
        if shown == "ChoiceDialog":  # the pre-check found the work done
            await pilot.press("s")
        elif shown == "ConfirmDialog":
            await pilot.press("y")
        elif shown == "ConfirmTyped":
            await pilot.press(*step.confirmation, "enter")
        elif shown == "SecondOperator":
            await pilot.press(*"drill-partner", "enter", *step.confirmation, "enter")
        else:
            break
        await wait_for(pilot, lambda s=shown: app.screen.__class__.__name__ != s, SLOW)
    assert app.session is not None
    return app.session.state.steps[sid].status


async def _steps_with_a_retry(app: WizardApp, pilot, screen: RestoreScreen,  # type: ignore[no-untyped-def]
                               faulty: str) -> tuple[str, str]:
    """Every step by keys; the faulty step's first failure is read off the screen, then r runs it
    again. Returns (the screen as the operator read the failure, the retry's outcome)."""
    checklist = screen.checklist
    assert checklist is not None and faulty in [s.step_id for s in checklist.steps]
    seen, retried = "", ""
    for step in list(checklist.steps):
        await wait_for(pilot, lambda: screen.idle and checklist.current is not None, SLOW)
        assert app.session is not None
        done = app.session.state.steps.get(step.step_id)
        if done is not None and done.status in RESOLVED:
            continue
        status = await _run(app, pilot, screen, step)
        if step.step_id == faulty and not seen:
            assert status == "failed", screen_text(app)
            await wait_for(pilot, lambda: "r retries" in " ".join(screen_text(app).split()), SLOW)
            seen = " ".join(screen_text(app).split())
            await wait_for(pilot, lambda: screen.idle, SLOW)
            status = retried = await _run(app, pilot, screen, step)  # r runs it again
        assert status in RESOLVED, screen_text(app)
    return seen, retried


async def test_a_restore_failing_at_60_percent_is_retried_by_r(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LYNC_RESTORE_SCENARIOS", str(DATA / "scenarios" / "instructor"))
    journal_dir = tmp_path / "incidents"
    with LabDrill("monitoring-db-lost-read-fails", time_factor=600) as drill:
        assert drill.loaded is not None and drill.scenario.source is not None
        app = WizardApp(Opening(loaded_source(drill.loaded, drill.backend), "lab: instructor", journal_dir,
                                "alice", "INC-FAULT", "drill"))
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _to_restore(app, pilot, {})
            seen_failure, retried = await _steps_with_a_retry(app, pilot, screen, FAULTY)
            assert retried == "done"
        assert drill.problems() == [], "the lab agrees the databases are back"
    # the failure, as the operator read it: SQL Server's own words, and what to do next
    # (at 80x24 the output pane shows the sentence's last lines; the whole of it is journaled below)
    assert f"{FAULTY}: FAILED" in seen_failure and "LcsCDR.bak" in seen_failure, seen_failure
    assert "no longer available" in seen_failure and "r retries" in seen_failure, seen_failure
    entries = read_journal(journal_dir / "INC-FAULT").entries
    mine = [e for e in entries if e.payload.get("step") == FAULTY]
    started = [e for e in mine if e.kind == Kind.ACTION_STARTED]
    finished = [e.payload for e in mine if e.kind == Kind.ACTION_FINISHED]
    assert len(started) == 2, [e.kind for e in mine]
    assert [f["status"] for f in finished] == ["failed", "done"]
    reason = finished[0]["reason"]
    assert "lost its read of the backup file" in reason and "LcsCDR.bak" in reason, finished[0]
    assert "no longer available" in finished[0]["reason"]
    assert started[0].seq < mine[1].seq < started[1].seq  # failed, then the retry


async def test_a_connection_lost_during_the_cms_failover_is_checked_before_it_runs_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """"Drop the connection to fe11 during the failover": the step fails with a sentence saying
    the command may have run; r runs its pre-check first, which finds the CMS already failed over
    (the cmdlet went on on the server), so the operator skips it as done instead of failing over
    twice; the drill then restores service."""
    monkeypatch.setenv("LYNC_RESTORE_SCENARIOS", str(DATA / "scenarios" / "instructor"))
    journal_dir = tmp_path / "incidents"
    with LabDrill("cms-lost-paired-link-drops", time_factor=600) as drill:
        assert drill.loaded is not None
        app = WizardApp(Opening(loaded_source(drill.loaded, drill.backend), "lab: instructor", journal_dir,
                                "alice", "INC-DROP", "drill"))
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _to_restore(app, pilot, {})
            seen, retried = await _steps_with_a_retry(app, pilot, screen, "cms-failover")
            assert retried == "already_done"  # r: its pre-check found the CMS failed over
            await pilot.press("n")  # verification forces a full replication push first (§7.2)
            await wait_for(pilot, lambda: "check(s) UNKNOWN" in screen_text(app)
                           or "All checks healthy" in screen_text(app), SLOW)
        assert drill.problems() == [], drill.problems()[:2]
    assert "cms-failover: FAILED" in seen, seen
    entries = read_journal(journal_dir / "INC-DROP").entries
    mine = [e.payload for e in entries if e.payload.get("step") == "cms-failover" and e.kind == Kind.ACTION_FINISHED]
    assert [m["status"] for m in mine] == ["failed", "already_done"], mine
    assert "closed the connection" in mine[0]["reason"] and "may have run on the server" in mine[0]["reason"]
    started = [e for e in entries if e.kind == Kind.ACTION_STARTED and e.payload.get("step") == "cms-failover"]
    assert len(started) == 2  # the failed attempt, and the retry that found the work done
