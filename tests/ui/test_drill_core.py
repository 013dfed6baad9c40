"""Pilot tests against the real core: a lab scenario on loopback, CoreBackend, the real pywinrm
and pyodbc clients, walked end to end BY KEYS ALONE at 80x24, then the journal's decisions checked.

Each test starts the lab (LabDrill), opens the wizard on the lab's plan copy in drill mode, and
plays the incident the way a trainee would: start, answer the questions (Enter keeps "unknown";
the briefing's answers use the arrows), accept the recommended path and set, run every step
(typing the step id and a second operator where a step asks), verify, close from the summary.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.drill import LabDrill
from screens.app import WizardApp
from screens.assessment import AssessmentScreen
from screens.backup import BackupScreen
from screens.restore import RestoreScreen
from screens.summary import SummaryScreen
from screens.verify import VerifyScreen
from screens.widgets.checklist import RESOLVED
from tests.ui.conftest import wait_for
from tests.ui.screen_text import screen_text
from wizard.incident_state import replay
from wizard.journal import Kind, read_journal
from wizard.opening import Opening, loaded_source

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

SLOW = 30.0  # probes, restores and §7 checks against the lab: bounded, generous on 2 cores


async def _to_restore(app: WizardApp, pilot, answers: dict[str, str]) -> RestoreScreen:  # type: ignore[no-untyped-def]
    """Start, answer the questions asked (words of the question -> the answer's key; Enter keeps
    "unknown"), accept path and set: the restore screen with its steps composed."""
    await pilot.press("ctrl+s")
    asked: list[str] = []
    while not (isinstance(app.screen, AssessmentScreen) and app.screen.recommendation is not None):
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ChoiceDialog" or (
            isinstance(app.screen, AssessmentScreen) and app.screen.recommendation is not None), SLOW)
        if app.screen.__class__.__name__ == "ChoiceDialog":
            question = " ".join(screen_text(app).replace("┃", " ").split())
            asked.append(question)
            await pilot.press(next((k for words, k in answers.items() if words in question), "enter"))

            def answered(before: str = question) -> bool:
                return (app.screen.__class__.__name__ != "ChoiceDialog"
                        or " ".join(screen_text(app).replace("┃", " ").split()) != before)

            await wait_for(pilot, answered, SLOW)
    assert len(asked) <= 3, asked  # only the questions whose answer can change the recommendation (#16)
    assert "Recommended:" in screen_text(app)
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(app.screen, (BackupScreen, RestoreScreen)), SLOW)
    if isinstance(app.screen, BackupScreen):
        await wait_for(pilot, lambda: isinstance(app.screen, BackupScreen) and app.screen.choice is not None, SLOW)
        await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(app.screen, RestoreScreen) and app.screen.checklist is not None, SLOW)
    screen = app.screen
    assert isinstance(screen, RestoreScreen) and screen.checklist is not None
    return screen


async def _play(app: WizardApp, pilot, answers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """To the restore screen, then run every step, verify, close."""
    screen = await _to_restore(app, pilot, answers)
    checklist = screen.checklist
    assert checklist is not None
    for step in list(checklist.steps):
        await wait_for(pilot, lambda: screen.idle and checklist.current is not None, SLOW)
        done = app.session.state.steps.get(step.step_id) if app.session is not None else None
        if done is not None and done.status in RESOLVED:  # one confirmation covered it with the step before
            continue
        current = checklist.current
        assert current is not None and current.step_id == step.step_id, (current, step)
        await pilot.press("r")
        if step.manual:  # work by hand is reported done, never assumed (#16 item 4)
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ConfirmDialog")
            await pilot.press("y")
        if step.destructive:
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ConfirmTyped")
            await pilot.press(*step.confirmation, "enter")
            if step.second_operator:
                await wait_for(pilot, lambda: app.screen.__class__.__name__ == "SecondOperator")
                await pilot.press(*"drill-partner", "enter", *step.confirmation, "enter")
        sid = step.step_id
        await wait_for(pilot, lambda sid=sid: screen.running is None and app.session is not None  # type: ignore[misc]
                       and app.session.state.steps.get(sid) is not None
                       and app.session.state.steps[sid].status != "running", SLOW)
        assert app.session.state.steps[step.step_id].status in RESOLVED, screen_text(app)
    await pilot.press("n")
    # the measured checks pass; the Control Panel row is a person's to confirm (#16 item 4)
    await wait_for(pilot, lambda: isinstance(app.screen, VerifyScreen) and "1 check(s) UNKNOWN" in screen_text(app),
                   SLOW)
    verify = app.screen
    assert isinstance(verify, VerifyScreen)
    row = next(i for i, c in enumerate(verify.checks) if c.status == "unknown")
    await pilot.press(*(["down"] * row), "y")
    await wait_for(pilot, lambda: "Did you see it yourself" in screen_text(app))
    await pilot.press("y")
    await wait_for(pilot, lambda: isinstance(app.screen, VerifyScreen) and "All checks healthy" in screen_text(app),
                   SLOW)
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, SummaryScreen))
    await pilot.press("c")
    await wait_for(pilot, lambda: "Close the incident as service restored?" in screen_text(app))
    await pilot.press("y")  # closing seals the journal: it asks first (#16 item 5)
    await wait_for(pilot, lambda: not app.is_running)
    assert app.farewell is not None and "Report:" in app.farewell and app.return_value == 0


def _decisions(folder: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    out: dict[str, dict] = {}  # type: ignore[type-arg]
    for e in replay(read_journal(folder).entries).decisions:
        out.setdefault(e.payload["question"], e.payload)
    return out


@pytest.mark.parametrize(("name", "answers", "path", "plan", "backup_set"), [
    ("pool-lost-paired", {}, "pool-failover", [("pool-failover", "pool2.fabrikam.lab")], "hq-vault/2026-11-24_0200"),
    ("be-lost-unpaired", {}, "be-restore", [("be-restore", "pool3.fabrikam.lab")], "hq-vault/2026-11-24_0200"),
    # the briefing: the trouble began right after a change (that question -> "yes")
    ("bad-config-change", {"configuration or topology change": "y"}, "config-rollback", [("config-rollback", None)],
     "hq-vault/2026-11-24_0200"),
])
async def test_drill_by_keys_to_the_summary(name: str, answers: dict[str, str], path: str,
                                           plan: list[tuple[str, str | None]], backup_set: str,
                                           tmp_path: Path) -> None:
    journal_dir = tmp_path / "incidents"
    with LabDrill(name, time_factor=600) as drill:
        assert drill.loaded is not None
        app = WizardApp(Opening(loaded_source(drill.loaded, drill.backend), f"lab: {name}", journal_dir,
                                "alice", "INC-CORE", "drill"))
        async with app.run_test(size=(80, 24)) as pilot:
            await _play(app, pilot, answers)
        assert drill.problems() == [], "the lab agrees service is restored"
    folder = journal_dir / "INC-CORE"
    journal = read_journal(folder)
    assert journal.intact
    st = replay(journal.entries)
    assert st.closed and st.recovery_path == path and st.backup_set == backup_set
    d = _decisions(folder)
    assert d["recovery_path"]["choice"] == d["recovery_path"]["recommended"] == path
    assert [(p["path"], p["pool"] or p["server"]) for p in d["recovery_path"]["plan_of_action"]] == plan
    assert d["backup_set"]["choice"] == backup_set
    assert st.steps and all(rec.status in ("done", "skipped", "already_done") for rec in st.steps.values())
    done = [sid for sid, rec in st.steps.items() if rec.status == "done"]
    assert len(done) >= 2, st.steps
    if name == "bad-config-change":
        assert d["observation:bad_change"]["choice"] == "yes"
    kinds = [e.kind for e in journal.entries]
    assert kinds.count(Kind.ACTION_STARTED) == kinds.count(Kind.ACTION_FINISHED)


async def test_preflight_view_names_what_a_server_lacks_and_runs_again_by_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """#18 item 2, the restore screen's own view: p runs pre-flight and shows what it found; a
    server lacking one cmdlet parameter is named with the cmdlet and the parameter; p in the
    view runs it again (journaled each time); nothing has started."""
    import lab.drill
    from lab.scenarios import Scenario

    real = lab.drill.scenario

    def lacking(name: str) -> Scenario:
        return real(name).with_faults(missing_parameter=("fe21.fabrikam.lab", "Import-CsUserData", "FileName"))

    monkeypatch.setattr(lab.drill, "scenario", lacking)
    journal_dir = tmp_path / "incidents"
    with LabDrill("be-lost-unpaired", time_factor=600) as drill:
        assert drill.loaded is not None
        app = WizardApp(Opening(loaded_source(drill.loaded, drill.backend), "lab: be-lost-unpaired", journal_dir,
                                "alice", "INC-PRE", "drill"))
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _to_restore(app, pilot, {})
            await wait_for(pilot, lambda: screen.idle, SLOW)
            keybar = screen_text(app).splitlines()[-1]
            # the restore screen's 80 columns keep every key's word; its hint key is not shown, F1 tells it
            assert "d Manual" in keybar and "p Check" in keybar and "? Hint" not in keybar, keybar
            await pilot.press("question_mark")  # a hint about the highlighted step: asked first, costs points
            await wait_for(pilot, lambda: "Take a hint?" in screen_text(app), SLOW)
            await pilot.press("y")
            await wait_for(pilot, lambda: "Read §plan" in " ".join(screen_text(app).split()), SLOW)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, RestoreScreen), SLOW)
            await pilot.press("p")
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "PreflightDialog", SLOW)
            text = " ".join(screen_text(app).split())
            assert "Pre-flight: 1 problem(s)" in text, text
            assert "fe21.fabrikam.lab: Import-CsUserData has no parameter -FileName" in text, text
            await pilot.press("p")  # again, from the view
            await wait_for(pilot, lambda: len([e for e in read_journal(journal_dir / "INC-PRE").entries
                                               if e.kind == Kind.PREFLIGHT]) == 2, SLOW)
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "PreflightDialog", SLOW)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, RestoreScreen), SLOW)
            assert "fix them, then p runs it again" in screen_text(app)
    entries = read_journal(journal_dir / "INC-PRE").entries
    runs = [e.payload for e in entries if e.kind == Kind.PREFLIGHT]
    assert [r["status"] for r in runs] == ["failed", "failed"]
    assert all(any("-FileName" in f for f in r["findings"]) for r in runs)
    assert Kind.ACTION_STARTED not in [e.kind for e in entries]
    hints = [e.payload for e in entries if e.kind == Kind.HINT]
    assert [(h["stage"], h["step"]) for h in hints] == [("restore", "custom-tell-service-desk")]
