"""The journal, readable: every entry (or one stage's record) in a table, opened from the palette."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Label

from screens.base import STAGES_CSS
from screens.widgets.keybar import KeyBar
from wizard.journal import Entry, Kind
from wizard.report import describe_entry


def stage_record(entries: Sequence[Entry], stage: str) -> list[Entry]:
    """Entries written while ``stage`` was the current stage (its record)."""
    current = "start"
    out = []
    for e in entries:
        if e.kind == Kind.STAGE:
            current = str(e.payload.get("to"))
            continue
        if current == stage and e.kind != Kind.OUTPUT:
            out.append(e)
    return out


class JournalViewer(Screen[None]):
    CSS_PATH = STAGES_CSS

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "close", "Back", id="close-journal")]

    def __init__(self, title: str, entries: Sequence[Entry]) -> None:
        super().__init__()
        self._title, self._entries = title, list(entries)

    def compose(self) -> ComposeResult:
        yield Label(self._title, classes="screen-title")
        table: DataTable[str] = DataTable(id="journal-table", cursor_type="row", zebra_stripes=False)
        table.add_columns("#", "time", "who", "what")
        for e in self._entries:
            table.add_row(str(e.seq), e.time[11:19], e.operator[:10], describe_entry(e)[:200])
        yield table
        yield KeyBar()

    def action_close(self) -> None:
        self.dismiss(None)
