"""What every stage screen shares: the banner and status bar on top, the key bar, F1 help, and
forwarding of worker failures to the app's single error handler."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from screens.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from screens.app import WizardApp
    from wizard.incident import IncidentSession


#: The stylesheet of every screen but the start screen (app.tcss covers that one and what all share):
#: parsed when the first screen naming it opens, not before the start screen's first frame.
STAGES_CSS = str(Path(__file__).with_name("stages.tcss"))


class StageScreen(Screen[None]):
    """A stage of the incident. Subclasses set GUIDE (F1 text) and compose their body."""

    GUIDE: ClassVar[str] = ""
    CSS_PATH: ClassVar[str | None] = STAGES_CSS  # None in a subclass: no stylesheet of its own (StartScreen)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "app.help", "Help", id="help"),
        Binding("question_mark", "hint", "Hint", id="hint"),  # drills only: it costs points (#19 item 3)
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "hint":
            session = self.wizard.session
            return session is not None and session.can_hint and not session.state.closed
        return super().check_action(action, parameters)

    def hint_step(self) -> str | None:
        """The step a hint is about (the restore screen's highlighted step), else None."""
        return None

    def action_hint(self) -> None:
        """Ask first (a hint costs points), then show it; journaled by the session."""
        from screens.modals import ConfirmDialog

        step = self.hint_step()

        def answered(yes: bool | None) -> None:
            if yes:
                self.take_hint(step)

        what = f"step {step}" if step else "this stage"
        self.app.push_screen(ConfirmDialog("Take a hint?", f"A hint about {what} points to the section to read. "
                                           "It costs 5 points of the drill's score and is journaled."), answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="hint", description="asking for a hint")
    def take_hint(self, step: str | None) -> None:
        text = self.session.hint(step)
        self.app.call_from_thread(self._show_hint, text)

    def _show_hint(self, text: str) -> None:
        from screens.modals import ErrorDialog

        self.app.push_screen(ErrorDialog("Hint", text, danger=False))

    @property
    def wizard(self) -> WizardApp:
        return cast("WizardApp", self.app)

    @property
    def session(self) -> IncidentSession:
        session = self.wizard.session
        assert session is not None, "a stage screen needs an open incident"
        return session

    def chrome(self) -> ComposeResult:
        from screens.widgets.status import LiveBanner, StatusBar  # not needed for the start screen's frame

        session = self.wizard.session
        if session is not None and not session.drill:
            yield LiveBanner(session.organisation)
        yield StatusBar(session)

    def footer(self) -> ComposeResult:
        yield KeyBar()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.wizard.worker_failed(event.worker)
