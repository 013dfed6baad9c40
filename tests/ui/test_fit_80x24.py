"""Every screen and dialog at 80x24 with long real texts, nothing cut at an edge (#16 item 7).

The real backend against the lab (two sites, two vaults, the longest evidence and step texts the
library writes), played through a whole drill: the start screen (and the two-site example plan's,
read as ``run`` reads it), the assessment with its question open and with the recommendation, the
backup sets, the restore checklist with every step highlighted in turn (its Why and commands),
every dialog a step asks (manual work, a typed confirmation of one step and of a group), the
verification, the summary and its closing question, help on each stage, the quit question and the
journal viewer. ``tests/ui/fit.py`` says what "cut" means; every problem is collected and shown at
once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from lab.drill import LabDrill
from screens.app import WizardApp
from screens.assessment import AssessmentScreen
from screens.backup import BackupScreen
from screens.restore import RestoreScreen
from screens.summary import SummaryScreen
from screens.verify import VerifyScreen
from screens.widgets.checklist import RESOLVED
from tests.ui.conftest import wait_for
from tests.ui.fit import cut_texts
from tests.ui.screen_text import screen_text
from wizard.opening import Opening, loaded_source

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SLOW = 30.0
ROOT = Path(__file__).resolve().parents[2]


class Seen:
    def __init__(self, app: WizardApp) -> None:
        self.app, self.problems = app, []  # type: ignore[var-annotated]
        self.places: list[str] = []

    def check(self, where: str) -> None:
        self.places.append(where)
        for p in cut_texts(self.app):  # type: ignore[arg-type]
            self.problems.append(f"{where}: {p}")

    async def help_of(self, pilot: Pilot[Any], where: str) -> None:
        await pilot.press("f1")
        await wait_for(pilot, lambda: self.app.screen.__class__.__name__ == "HelpScreen")
        self.check(f"help on {where}")
        await pilot.press("escape")
        await wait_for(pilot, lambda: self.app.screen.__class__.__name__ != "HelpScreen")


def _dialog(app: WizardApp) -> str:
    return app.screen.__class__.__name__


@pytest.mark.parametrize("scenario", ["hq-room-lost", "cms-se-lost-unpaired"])
async def test_every_screen_and_dialog_fits_80x24(scenario: str, tmp_path: Path) -> None:
    with LabDrill(scenario, time_factor=600) as drill:
        assert drill.loaded is not None
        app = WizardApp(Opening(loaded_source(drill.loaded, drill.backend), f"lab: {scenario}",
                                tmp_path / "incidents", "alice", "INC-FIT", "drill"))
        seen = Seen(app)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.ready is not None and "Unfinished" in screen_text(app), SLOW)
            await pilot.pause(0.1)
            seen.check("start")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: _dialog(app) == "ChoiceDialog", SLOW)
            seen.check("assessment question")
            await seen.help_of(pilot, "an assessment question")
            while _dialog(app) == "ChoiceDialog":
                await pilot.press("u")
                await pilot.pause(0.2)
            await wait_for(pilot, lambda: isinstance(app.screen, AssessmentScreen)
                           and app.screen.recommendation is not None, SLOW)
            seen.check("assessment")
            await seen.help_of(pilot, "assessment")
            await pilot.press("ctrl+q")
            await wait_for(pilot, lambda: _dialog(app) == "QuitDialog")
            seen.check("quit question")
            await pilot.press("escape")
            await pilot.press("a")
            await wait_for(pilot, lambda: isinstance(app.screen, BackupScreen) and app.screen.choice is not None,
                           SLOW)
            seen.check("backup sets")
            await pilot.press("a")
            await wait_for(pilot, lambda: isinstance(app.screen, RestoreScreen)
                           and app.screen.checklist is not None, SLOW)
            screen = app.screen
            assert isinstance(screen, RestoreScreen) and screen.checklist is not None
            checklist = screen.checklist
            for i, step in enumerate(checklist.steps):  # every step's Why and commands
                checklist.highlighted = i
                await pilot.pause(0.05)
                seen.check(f"restore, step {step.step_id} highlighted")
            checklist.highlighted = checklist.first_open()
            await pilot.pause(0.05)
            await pilot.press("g")
            dialogs: set[str] = set()
            while not checklist.all_resolved:
                await wait_for(pilot, lambda: _dialog(app) in ("ConfirmDialog", "ConfirmTyped", "SecondOperator",
                                                                "ChoiceDialog") or checklist.all_resolved
                               or (screen.idle and not screen.running_on), SLOW * 2)
                kind = _dialog(app)
                if kind == "RestoreScreen":
                    if checklist.all_resolved:
                        break
                    current = checklist.current
                    assert current is not None
                    failed = app.session.state.steps.get(current.step_id) if app.session else None
                    assert failed is None or failed.status in RESOLVED, screen_text(app)
                    await pilot.press("g")
                    continue
                current = checklist.current
                seen.check(f"{kind} of step {current.step_id if current else '?'}")
                dialogs.add(kind)
                if kind == "ConfirmDialog":
                    await pilot.press("y")
                elif kind == "ConfirmTyped":
                    typed = next(s for s in checklist.steps if s.step_id == (checklist.current.step_id
                                 if checklist.current else "")).confirmation
                    await pilot.press(*typed, "enter")
                elif kind == "SecondOperator":
                    step = checklist.current
                    assert step is not None
                    await pilot.press(*"drill-partner", "enter", *step.confirmation, "enter")
                else:
                    await pilot.press("enter")
                await pilot.pause(0.3)
            seen.check("restore, all resolved")
            await seen.help_of(pilot, "restore")
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, VerifyScreen)
                           and "check(s) UNKNOWN" in screen_text(app), SLOW)  # all checks ran
            await pilot.pause(0.2)
            seen.check("verify")
            await pilot.press("y")
            await wait_for(pilot, lambda: _dialog(app) == "ConfirmDialog")
            seen.check("verify: did you see it")
            await pilot.press("y")
            await wait_for(pilot, lambda: isinstance(app.screen, VerifyScreen)
                           and "All checks healthy" in screen_text(app), SLOW)
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, SummaryScreen))
            await pilot.pause(0.2)
            seen.check("summary")
            await pilot.press("ctrl+p", *"journal viewer")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await wait_for(pilot, lambda: _dialog(app) == "JournalViewer")
            seen.check("journal viewer")
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, SummaryScreen))
            await pilot.press("c")
            await wait_for(pilot, lambda: "Close the incident" in screen_text(app))
            seen.check("close question")
            await pilot.press("y")
            await wait_for(pilot, lambda: not app.is_running, SLOW)
        assert {"ConfirmDialog", "ConfirmTyped"} <= dialogs
    assert not seen.problems, "cut at 80x24:\n" + "\n".join(seen.problems)


async def test_the_two_site_example_plan_start_screen_fits_80x24(tmp_path: Path) -> None:
    """``run plans/example-two-site.yaml``: its start screen (the CMS line was dropped)."""
    from wizard.app_entry import PlanReader, build_app
    from wizard.remote.prompt import PromptBridge

    bridge = PromptBridge()
    app = build_app(Opening(PlanReader(ROOT / "plans" / "example-two-site.yaml", bridge), "example-two-site.yaml",
                            tmp_path, "alice", "INC-FIT", "live"), bridge)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready is not None and "Unfinished" in screen_text(app), SLOW)
        await pilot.pause(0.1)
        problems = cut_texts(app)
    assert not problems, "\n".join(problems)
