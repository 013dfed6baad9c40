"""The journal, readable: every entry (or one stage's record) in a table, opened from the palette."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Label, Static

from screens.base import STAGES_CSS
from screens.widgets.keybar import KeyBar
from screens.widgets.pointed import PointedTable
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


def entry_detail(e: Entry) -> str:
    """One entry in full: time, who, what, then each payload field on its own line (secrets were
    redacted before the entry was written)."""
    lines = [f"#{e.seq} {e.time} {e.operator}{' (drill)' if e.drill else ''}: {describe_entry(e)}"]
    for key, value in e.payload.items():
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        lines.append(f"  {key}: {text}")
    return "\n".join(lines)


class JournalViewer(Screen[None]):
    CSS_PATH = STAGES_CSS

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "close", "Back", id="close-journal")]

    def __init__(self, title: str, entries: Sequence[Entry]) -> None:
        super().__init__()
        self._title, self._entries = title, list(entries)

    def compose(self) -> ComposeResult:
        yield Label(self._title, classes="screen-title")
        table: DataTable[str] = PointedTable(id="journal-table", cursor_type="row", zebra_stripes=False)
        table.add_columns("#", "time", "who", "what")
        for e in self._entries:
            table.add_row(str(e.seq), e.time[11:19], e.operator[:10], describe_entry(e)[:200], key=str(e.seq))
        yield table
        yield Static("", id="journal-detail", markup=False)
        yield KeyBar()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted entry whole (the table cuts it at 80 columns): what, and its payload."""
        entry = next((e for e in self._entries if str(e.seq) == event.row_key.value), None)
        self.query_one("#journal-detail", Static).update("" if entry is None else entry_detail(entry))

    def action_close(self) -> None:
        self.dismiss(None)
