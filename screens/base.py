"""What every stage screen shares: the banner and status bar on top, the key bar, F1 help, and
forwarding of worker failures to the app's single error handler."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

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
    ]

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
