"""Backup set: the sets as a table (time, age against the RPO, complete for this path, integrity)
with a detail pane; the recommended set is preselected with its reason; another one asks why.

The table fills as soon as the locations are listed; the candidates' integrity (hashes, RESTORE
VERIFYONLY) then arrives set by set, newest first, and Esc stops the checks that remain (the sets
not checked stay "unchecked"; the session journals what was checked). A set is picked once the
recommendation is settled or the checks were stopped."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Label, Static
from textual.worker import Worker, WorkerState

from screens.base import StageScreen
from screens.modals import ReasonDialog
from screens.widgets.pointed import PointedTable
from wizard.incident import BackupChoice, BackupSetView, SetIntegrity, SetsListed, SetsSettled
from wizard.report import fmt_duration


def set_row(s: BackupSetView, rpo_s: int, now: dt.datetime, recommended: str | None) -> tuple[str, ...]:
    age = s.age_s(now)
    over = "OVER" if age > rpo_s else "ok"
    mark = "*" if s.name == recommended else " "
    return (f"{mark}{s.name}", s.taken_at[:16].replace("T", " "), f"{fmt_duration(age)} {over}",
            "yes" if s.complete else "NO", s.integrity)


class BackupScreen(StageScreen):
    GUIDE = """Backup set: which backup to restore from.

Each set shows when it was taken, its age against the RPO (OVER = more data lost than the plan
allows), whether it holds every component the chosen path needs, and its integrity checks.
The recommended set (*) is preselected with the reason. Enter picks the highlighted set; picking
another than the recommended one asks why, and the reason is journaled. a accepts the
recommendation.

Integrity is checked for the newest complete sets first, each shown as it finishes, until one is
intact. Esc stops the remaining checks: the sets not checked stay "unchecked" and the journal
records what was checked."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *StageScreen.BINDINGS,
        Binding("a", "accept", "Accept recommended", id="accept-set"),
        Binding("r", "read_again", "Read again", id="read-again"),
        Binding("escape", "stop_checks", "Stop checks", id="stop-checks"),
    ]

    @dataclass
    class Listed(Message):
        choice: BackupChoice

    @dataclass
    class Checked(Message):
        view: BackupSetView

    @dataclass
    class Settled(Message):
        choice: BackupChoice
        cancelled: bool

    def __init__(self) -> None:
        super().__init__()
        self._choice: BackupChoice | None = None
        self._listed: BackupChoice | None = None  # the sets, while their integrity is checked
        self._checked = 0
        self._unreadable = False  # the last listing failed: r reads again
        self._cancel = threading.Event()

    @property
    def choice(self) -> BackupChoice | None:
        """The backup sets and the recommended one, once settled (None while the location is read
        and the candidates are checked)."""
        return self._choice

    @property
    def checking(self) -> bool:
        """The sets are listed and integrity checks are still running."""
        return self._listed is not None and self._choice is None

    def compose(self) -> ComposeResult:
        yield from self.chrome()
        yield Label(f"Backup set for {self.session.state.recovery_path}", classes="screen-title")
        table: DataTable[str] = PointedTable(id="sets", cursor_type="row")
        table.add_columns("set", "taken (UTC)", "age vs RPO", "complete", "integrity")
        yield table
        yield Static("Reading the backup location...", id="set-detail", markup=False)
        yield from self.footer()

    def on_mount(self) -> None:
        self.list_sets()

    @work(thread=True, exclusive=True, exit_on_error=False, group="catalog", description="listing backup sets")
    def list_sets(self) -> None:
        for event in self.session.backup_set_events(self._cancel):
            if isinstance(event, SetsListed):
                self.post_message(self.Listed(event.choice))
            elif isinstance(event, SetIntegrity):
                self.post_message(self.Checked(event.view))
            elif isinstance(event, SetsSettled):
                self.post_message(self.Settled(event.choice, event.cancelled))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # StageScreen's own handler (Textual calls each class's in the MRO) shows and journals it
        if event.worker.group == "catalog" and event.state == WorkerState.ERROR:
            self._unreadable, self._listed = True, None  # nothing is being checked any more
            self.refresh_bindings()
            self.query_one("#set-detail", Static).update(
                "No backup location could be read (the message says why). Fix the cause, then r reads "
                "them again; nothing has been changed.")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "read_again":
            return self._unreadable
        if action == "stop_checks":
            return self.checking and not self._cancel.is_set()
        if action == "accept":
            return self._choice is not None and self._choice.recommended is not None
        return super().check_action(action, parameters)

    def action_read_again(self) -> None:
        if self._unreadable:
            self._unreadable = False
            self._cancel = threading.Event()
            self.refresh_bindings()
            self.query_one("#set-detail", Static).update("Reading the backup location...")
            self.list_sets()

    def action_stop_checks(self) -> None:
        """Esc: no more integrity checks; the set in hand stays unchecked, the journal says which were."""
        if self.checking and not self._cancel.is_set():
            self._cancel.set()
            self.refresh_bindings()
            self.query_one("#set-detail", Static).update(
                f"Stopping the integrity checks ({self._checked} sets checked)...")

    def _fill(self, choice: BackupChoice) -> None:
        table = self.query_one("#sets", DataTable)
        row = table.cursor_row
        table.clear()
        now = choice.judged_at()  # the clock the recommendation used (the lab's, in a drill)
        for s in choice.sets:
            table.add_row(*set_row(s, self.session.rpo_s, now, choice.recommended), key=s.name)
        names = [s.name for s in choice.sets]
        if choice.recommended in names:
            table.move_cursor(row=names.index(choice.recommended))
        elif 0 <= row < len(names):
            table.move_cursor(row=row)
        table.focus()

    def on_backup_screen_listed(self, message: Listed) -> None:
        self._listed, self._checked = message.choice, 0
        self._fill(message.choice)
        self.refresh_bindings()
        self._progress()

    def _progress(self) -> None:
        self.query_one("#set-detail", Static).update(
            f"Checking integrity, newest complete set first: {self._checked} checked so far. "
            "Esc stops the checks (the rest stay unchecked).")

    def on_backup_screen_checked(self, message: Checked) -> None:
        listed = self._listed
        if listed is None or self._choice is not None:
            return
        view = message.view
        self._checked += 1
        self._listed = BackupChoice(tuple(view if s.name == view.name else s for s in listed.sets),
                                    listed.recommended, listed.reason, listed.as_of)
        table = self.query_one("#sets", DataTable)
        names = [s.name for s in listed.sets]
        if view.name in names:
            table.update_cell_at(Coordinate(names.index(view.name), 4), view.integrity)
        if not self._cancel.is_set():
            self._progress()

    def on_backup_screen_settled(self, message: Settled) -> None:
        self._choice, self._listed = message.choice, None
        self._fill(message.choice)
        self.refresh_bindings()
        self._detail(self.query_one("#sets", DataTable).cursor_row)

    def _detail(self, row: int) -> None:
        if self._choice is None or not (0 <= row < len(self._choice.sets)):
            return
        s = self._choice.sets[row]
        missing = ", ".join(s.missing) if s.missing else "none"
        rec = (f"Recommended: {self._choice.recommended}: {self._choice.reason}"
               if self._choice.recommended else "No set is recommended: " + self._choice.reason)
        self.query_one("#set-detail", Static).update(f"{s.name}: {s.detail}\nMissing for this path: {missing}\n"
                                                     f"{rec}")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail(event.cursor_row)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        choice = self._choice
        if choice is None:
            return
        name = choice.sets[event.cursor_row].name
        if name == choice.recommended:
            self.wizard.choose_backup_set(choice, name, "")
            return

        def given(reason: str | None) -> None:
            if reason:
                self.wizard.choose_backup_set(choice, name, reason)

        self.app.push_screen(
            ReasonDialog("Another backup set", f"Why {name} instead of {choice.recommended}?"), given)

    def on_unmount(self) -> None:
        self._cancel.set()  # a screen left behind checks nothing more

    def action_accept(self) -> None:
        if self._choice is not None and self._choice.recommended:
            self.wizard.choose_backup_set(self._choice, self._choice.recommended, "")
