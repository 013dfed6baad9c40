"""Verify: the §7 checks as a matrix with what healthy means; a failure names the step that fixes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable, Label, Static
from textual.worker import get_current_worker

from screens.base import StageScreen
from screens.widgets.pointed import PointedTable
from wizard.incident import CheckView


class VerifyScreen(StageScreen):
    GUIDE = """Verify: is service back? (domain reference §7)

Each check shows its result and target; below the table, the highlighted check's healthy
look, what was measured and, for a failure, the restore step that fixes it. A check only a
person can make (the Control Panel, a client sign-in) stays UNKNOWN until you have seen it
yourself: the cursor goes to it when the checks end; y (then y again) says you saw it, journaled
in your name.
v runs the checks again; n goes on to the summary once they have ended (failures and unknowns
stay in the record)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *StageScreen.BINDINGS,
        Binding("v", "verify", "Check again", id="verify-again"),
        Binding("y", "confirm_check", "I saw it", id="confirm-check"),
        Binding("n", "next", "Summary", id="to-summary"),
    ]

    @dataclass
    class Checked(Message):
        check: CheckView

    @dataclass
    class Finished(Message):
        failed: int
        unknown: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.checks: list[CheckView] = []

    def compose(self) -> ComposeResult:
        yield from self.chrome()
        yield Label("Verify: health checks (§7)", classes="screen-title")
        table: DataTable[str] = PointedTable(id="checks", cursor_type="row")
        table.add_columns("result", "check")  # the rest of a check (its target too) is shown below, wrapped
        yield table
        yield Static("Running checks...", id="verify-detail", markup=False)
        yield Static("", id="check-detail", markup=False)
        yield from self.footer()

    def on_mount(self) -> None:
        self.action_verify()

    def action_verify(self) -> None:
        self.query_one("#checks", DataTable).clear()
        self.checks = []
        self.run_checks()

    @work(thread=True, exclusive=True, exit_on_error=False, group="verify", description="running §7 checks")
    def run_checks(self) -> None:
        worker = get_current_worker()
        failed = unknown = 0
        for check in self.session.verify():
            if worker.is_cancelled:
                return
            failed += check.status == "fail"
            unknown += check.status == "unknown"
            self.post_message(self.Checked(check))
        self.post_message(self.Finished(failed, unknown))

    def on_verify_screen_checked(self, message: Checked) -> None:
        c = message.check
        self.checks.append(c)
        self.query_one("#checks", DataTable).add_row(c.status.upper(), c.title)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.checks):
            c = self.checks[event.cursor_row]
            fix = (f" Fixed by step {c.fixed_by}." if c.status == "fail" and c.fixed_by else
                   " y: you saw it yourself." if c.status == "unknown" else "")
            said = f" {c.detail}." if c.detail and not c.detail.endswith(".") else f" {c.detail}" if c.detail else ""
            self.query_one("#check-detail", Static).update(f"{c.title} ({c.target}): {c.status.upper()}. "
                                                            f"Healthy means: {c.healthy}.{said}{fix}")

    def on_verify_screen_finished(self, message: Finished) -> None:
        table = self.query_one("#checks", DataTable)
        first = next((i for i, c in enumerate(self.checks) if c.status == "fail"),
                     next((i for i, c in enumerate(self.checks) if c.status == "unknown"), None))
        if first is not None:  # the cursor goes where attention is needed: y is one key away
            table.move_cursor(row=first)
        if message.failed:
            text = f"{message.failed} check(s) failed: see the fix column; v checks again, n goes on."
        elif message.unknown:
            text = (f"{message.unknown} check(s) UNKNOWN: only a person can see them; y once you have "
                    "(the cursor is on one), or n goes on with them unknown.")
        else:
            text = "All checks healthy. n: summary."
        self.query_one("#verify-detail", Static).update(text)

    def action_confirm_check(self) -> None:
        """The operator says they saw an UNKNOWN check hold (§7.2's Control Panel, a sign-in)."""
        table = self.query_one("#checks", DataTable)
        if not self.checks or not 0 <= table.cursor_row < len(self.checks):
            return
        check = self.checks[table.cursor_row]
        if check.status != "unknown":
            self.notify("Only an UNKNOWN check is confirmed by hand; the others were measured.")
            return
        from screens.modals import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                self.confirm(check)

        self.app.push_screen(ConfirmDialog(f"Did you see it yourself: {check.title}?",
                                           f"Healthy means: {check.healthy}. {check.detail}".strip()), answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="verify", description="journaling a check")
    def confirm(self, check: CheckView) -> None:
        self.session.confirm_check(check)
        self.app.call_from_thread(self.action_verify)

    def action_next(self) -> None:
        """On to the summary once the checks have ended: leaving mid-run, the summary would be read
        (and the incident closed) before the results it summarises, and the rest would be
        journaled during the summary."""
        if any(w.node is self and w.group == "verify" and w.is_running for w in self.workers):
            self.notify(f"The §7 checks are still running ({len(self.checks)} done): n goes on once "
                        "they have ended.", severity="warning")
            return
        self.wizard.advance("summary")
