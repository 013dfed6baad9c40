"""The journal, readable: every entry (or one stage's record) in a table, opened from the palette."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Label, Static

from screens.base import STAGES_CSS
from screens.widgets.keybar import KeyBar
from screens.widgets.pointed import PointedTable, clipped
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
        seq = max((len(str(e.seq)) for e in self._entries), default=1)
        who = max((len(e.operator[:10]) for e in self._entries), default=3)
        room = max(20, self.app.size.width - 2 - (seq + 2) - 10 - (max(who, 3) + 2) - 2)
        for e in self._entries:  # the whole entry is shown below the table (Tab, then the arrows, scroll it)
            table.add_row(str(e.seq), e.time[11:19], e.operator[:10], clipped(describe_entry(e), room),
                          key=str(e.seq))
        yield table
        with VerticalScroll(id="journal-detail-box"):
            yield Static("", id="journal-detail", markup=False)
        yield KeyBar()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted entry whole (the table cuts it at 80 columns): what, and its payload."""
        entry = next((e for e in self._entries if str(e.seq) == event.row_key.value), None)
        self.query_one("#journal-detail", Static).update("" if entry is None else entry_detail(entry))

    def action_close(self) -> None:
        self.dismiss(None)
