"""Following an incident another wizard drives: its journal as it grows, read-only (#18 item 3).

A second wizard opened on an incident (another SSH session, a colleague) cannot run steps: the
driver holds the incident's lock (wizard/driver.py). This screen shows who drives and every entry
as it is written, once a second. When the driver hands over, or its wizard is gone, ``t`` takes
control: after a hand-over at once, after a driver that died only once the operator confirms
(the journal records both).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Label, Static

from screens.base import STAGES_CSS
from screens.widgets.keybar import KeyBar
from screens.widgets.pointed import PointedTable, clipped
from wizard.driver import DriverInfo
from wizard.incident import IncidentFollower
from wizard.journal import Kind
from wizard.report import describe_entry

if TYPE_CHECKING:
    from screens.app import WizardApp

POLL_S = 1.0


class FollowScreen(Screen[None]):
    CSS_PATH = STAGES_CSS

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "take", "Take control", id="take-control"),
    ]

    def __init__(self, folder: Path, operator: str | None) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.operator = operator
        self.follower = IncidentFollower(self.folder)
        self._free = False  # nobody drives now: t takes control
        self._holder: DriverInfo | None = None
        self._handed_over_by: str | None = None

    @property
    def wizard(self) -> WizardApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Label(f"Following {self.folder.name} (read-only)", classes="screen-title")
        yield Static("", id="follow-driver", markup=False)
        table: DataTable[str] = PointedTable(id="follow-table", cursor_type="row", zebra_stripes=False)
        table.add_columns("#", "time", "who", "what")
        yield table
        yield KeyBar()

    def on_mount(self) -> None:
        self.poll()
        self.set_interval(POLL_S, self.poll)

    def poll(self) -> None:
        """New entries into the table (the newest in view) and who drives now."""
        table = self.query_one("#follow-table", DataTable)
        room = max(20, self.app.size.width - 2 - 6 - 10 - 12 - 2)
        fresh = self.follower.new_entries()
        for e in fresh:
            if e.kind == Kind.OUTPUT:
                continue
            if e.kind == Kind.HANDED_OVER:
                self._handed_over_by = str(e.payload.get("by") or e.operator)
            elif e.kind in (Kind.TOOK_OVER, Kind.RESUMED):
                self._handed_over_by = None
            table.add_row(str(e.seq), e.time[11:19], e.operator[:10], clipped(describe_entry(e), room))
        if fresh:
            table.move_cursor(row=table.row_count - 1)
        held, holder = self.follower.driver()
        free = not held
        if free != self._free or holder != self._holder:
            self._free, self._holder = free, holder
            self.refresh_bindings()
        self.query_one("#follow-driver", Static).update(self._driver_text(held, holder))

    def _driver_text(self, held: bool, holder: DriverInfo | None) -> str:
        if held:
            who = holder.describe() if holder else "another wizard"
            return f"Driven by {who}. This wizard only follows: nothing here runs or writes."
        if holder is not None:
            return (f"The wizard of {holder.describe()} is gone without letting go. t takes the incident "
                    "over (you confirm; the journal records it).")
        if self._handed_over_by:
            return f"{self._handed_over_by} handed the incident over: t takes control."
        return "Nobody drives this incident now: t takes control."

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "take":
            return self._free
        return super().check_action(action, parameters)

    def action_take(self) -> None:
        if not self._free:
            return
        self.wizard.resume(str(self.folder), self.operator)  # asks first when the driver died
