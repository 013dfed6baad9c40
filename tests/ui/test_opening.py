"""The start screen before the plan is read (wizard.opening): the form takes keys at once, Ctrl+S
waits for the plan, and a broken plan ends the app with the plan's FILE:LINE:COL errors (exit 2)
without creating an incident. The plan source here is the real one of ``lync-restore run``
(:class:`wizard.app_entry.PlanReader`) where the test does not need to hold it back."""

from __future__ import annotations

import threading
from pathlib import Path

from screens.app import WizardApp
from screens.assessment import AssessmentScreen
from screens.start import StartScreen
from tests.ui.conftest import wait_for
from tests.ui.screen_text import screen_text
from tests.ui.scripted_backend import ScriptedBackend
from wizard.app_entry import PlanReader
from wizard.errors import ExitCode, PlanError
from wizard.incident import Backend
from wizard.incident_state import replay
from wizard.journal import read_journal
from wizard.opening import Opening
from wizard.plan import LoadedPlan, load_plan
from wizard.remote.prompt import PromptBridge

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "plans" / "lab.yaml"
BROKEN = ROOT / "tests" / "data" / "broken_plans" / "bad-enum.yaml"


async def test_broken_plan_ends_the_app_with_its_lines_and_exit_2(tmp_path: Path) -> None:
    bridge = PromptBridge()
    reader = PlanReader(BROKEN, bridge)
    app = WizardApp(Opening(reader, str(BROKEN), tmp_path / "incidents", "alice", "INC-BROKEN", "live"),
                    prompt_bridge=bridge)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: not app.is_running)
    assert app.return_code == ExitCode.INVALID_INPUT
    assert isinstance(app.failure, PlanError)
    assert any(line.startswith(f"{BROKEN}:21:") and "expected one of standard, enterprise" in line
               for line in app.failure.errors), app.failure.errors
    assert reader.backend is None  # the plan failed before a backend was built
    assert not (tmp_path / "incidents").exists()  # no incident was opened


class HeldSource:
    """A plan source that waits until the test lets it go (a slow disk, a big plan)."""

    def __init__(self, loaded: LoadedPlan, backend: Backend) -> None:
        self.loaded, self.backend = loaded, backend
        self.release = threading.Event()

    def __call__(self) -> tuple[LoadedPlan, Backend | None]:
        assert self.release.wait(20), "the test never released the plan"
        return self.loaded, self.backend


async def test_form_takes_keys_before_the_plan_is_read_and_ctrl_s_waits(tmp_path: Path) -> None:
    journal_dir = tmp_path / "incidents"
    source = HeldSource(load_plan(LAB), ScriptedBackend("be-lost"))
    app = WizardApp(Opening(source, "plans/lab.yaml", journal_dir, "", "INC-EARLY", "drill"))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, StartScreen) and app.focused is not None)
            assert app.focused.id == "operator"
            text = screen_text(app)
            assert "Reading the plan plans/lab.yaml..." in text and "looking..." in text, text
            await pilot.press(*"carol", "ctrl+s")  # typed and asked for before the plan is read
            await pilot.pause(0.2)
            assert isinstance(app.screen, StartScreen) and app.ready is None
            assert not journal_dir.exists()
            source.release.set()
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ChoiceDialog")  # the first question
            assert app.ready is not None and app.ready.organisation == "Fabrikam Lab"
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, AssessmentScreen)
                           and app.screen.recommendation is not None)
    finally:
        source.release.set()
    st = replay(read_journal(journal_dir / "INC-EARLY").entries)
    assert st.operator == "carol" and st.incident == "INC-EARLY" and st.drill


async def test_start_screen_fills_in_from_the_real_run_path(tmp_path: Path) -> None:
    bridge = PromptBridge()
    reader = PlanReader(LAB, bridge)
    app = WizardApp(Opening(reader, "plans/lab.yaml", tmp_path, "alice", "INC-RUN", "drill"),
                    prompt_bridge=bridge)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            # the summary's new height is laid out on the next refresh after the count shows: wait for both
            await wait_for(pilot, lambda: "Unfinished incidents of this plan: 0" in screen_text(app)
                           and "CMS:" in screen_text(app))
            text = screen_text(app)
            assert text.splitlines()[0].startswith("lync-restore: Fabrikam Lab")
            assert "CMS:     on pool1.fabrikam.lab" in text and "Reading the plan" not in text
            assert type(reader.backend).__name__ == "CoreBackend" and app.backend is reader.backend
    finally:
        reader.close()


async def test_mode_switch_by_keys_then_live_asks_for_the_organisation(make_app, journal_dir: Path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(ScriptedBackend("be-lost"), incident="INC-LIVE")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "Unfinished incidents of this plan: 0" in screen_text(app))
        await pilot.press("tab", "tab")  # operator -> incident id -> mode
        assert app.focused is not None and app.focused.id == "mode"
        assert "[x] Drill  [ ] LIVE" in screen_text(app)
        await pilot.press("space")
        assert "[ ] Drill  [x] LIVE" in screen_text(app)
        await pilot.press("d")
        assert "[x] Drill  [ ] LIVE" in screen_text(app)
        await pilot.press("l", "ctrl+s")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ConfirmTyped"
                       and "LIVE incident" in screen_text(app))
        await pilot.press(*"Fabrikam Lab", "enter")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ChoiceDialog")  # the first question
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, AssessmentScreen)
                       and app.screen.recommendation is not None)
        assert screen_text(app).splitlines()[0].startswith(" LIVE: commands run against Fabrikam Lab")
    st = replay(read_journal(journal_dir / "INC-LIVE").entries)
    assert st.drill is False


async def test_drill_source_starts_the_lab_after_the_first_frame_and_stops_it(tmp_path: Path) -> None:
    """`lync-restore drill`: the lab starts in a keeper process after the first frame; leaving
    without an incident stops it (nothing is kept for a resume: there is nothing to resume)."""
    from lab.entry import LabSource
    from lab.keeper import pid_alive

    source = LabSource("be-lost-unpaired", 600, journal_dir=tmp_path)
    app = WizardApp(Opening(source, "lab: be-lost-unpaired", tmp_path, "alice", "INC-LAB", "drill",
                            preparing="Starting the lab (scenario be-lost-unpaired) and reading its plan..."))
    spare = None
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, StartScreen))
            await wait_for(pilot, lambda: "Unfinished incidents of this plan: 0" in screen_text(app))
            assert source.drill is not None and source.drill.backend is app.backend
            assert "lync-restore: Fabrikam Lab" in screen_text(app)
            spare = source.drill.spare
            assert spare is not None and pid_alive(spare.pid) and spare.live_plan.exists()  # listening, elsewhere
    finally:
        kept = source.close()
    assert kept is None  # no incident: no lab is kept
    assert spare is not None and not pid_alive(spare.pid) and not spare.folder.exists()  # stopped


async def test_an_unexpected_failure_opening_the_plan_is_one_sentence(tmp_path: Path) -> None:
    def source() -> tuple[LoadedPlan, Backend | None]:
        raise OSError(98, "Address already in use")  # e.g. the lab could not listen

    app = WizardApp(Opening(source, "lab: fe-lost", tmp_path, "alice", "INC-X", "drill"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: not app.is_running)
    assert app.return_code == ExitCode.FAILED and app.failure is not None
    assert str(app.failure) == "lab: fe-lost could not be opened: OSError: [Errno 98] Address already in use"
