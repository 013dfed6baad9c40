"""F1: what this screen is for, what happens next, and its keys (from the screen's bindings)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Label, Static

from screens.base import STAGES_CSS
from screens.modals import Dialog


def reflow(text: str) -> str:
    """Paragraphs (blank-line separated) joined into single lines, so the dialog wraps them to its
    own width instead of breaking each source line again (ragged lines at 80 columns)."""
    paragraphs = [" ".join(line.strip() for line in block.splitlines()) for block in text.strip().split("\n\n")]
    return "\n\n".join(p for p in paragraphs if p)


def keys_of(screen: Screen[object]) -> list[str]:
    """The screen's keys that do something now (a key its ``check_action`` turns off is left out,
    as the key bar leaves it out)."""
    lines = []
    for binding in screen.BINDINGS:
        if isinstance(binding, Binding) and binding.show and binding.description and \
                screen.check_action(binding.action, ()) is not False:
            lines.append(f"  {binding.key:<10} {binding.description}")
    return lines


class HelpScreen(Dialog[None]):
    CSS_PATH = STAGES_CSS

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "close", "Close help", id="close-help")]

    def __init__(self, title: str, guide: str, keys: list[str]) -> None:
        super().__init__(classes="dialog-screen")
        self._title, self._guide, self._keys = title, guide, keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Label(f"Help: {self._title}", classes="dialog-title")
            yield Static(reflow(self._guide), markup=False)
            yield Static("Keys:\n" + "\n".join(self._keys) + "\n  ctrl+p     command palette (records, journal)"
                         "\n  ctrl+q     quit (asks; journaled)", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
