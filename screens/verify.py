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
from wizard.incident import CheckView


class VerifyScreen(StageScreen):
    GUIDE = """Verify: is service back? (domain reference §7)

Each check shows its target, what healthy looks like, and the result. A failed check names the
restore step that fixes it. v runs the checks again; n goes on to the summary (failures stay in
the record)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *StageScreen.BINDINGS,
        Binding("v", "verify", "Check again", id="verify-again"),
        Binding("n", "next", "Summary", id="to-summary"),
    ]

    @dataclass
    class Checked(Message):
        check: CheckView

    @dataclass
    class Finished(Message):
        failed: int

    def compose(self) -> ComposeResult:
        yield from self.chrome()
        yield Label("Verify: health checks (§7)", classes="screen-title")
        table: DataTable[str] = DataTable(id="checks", cursor_type="row")
        table.add_columns("check", "target", "result", "healthy means", "fix")
        yield table
        yield Static("Running checks...", id="verify-detail", markup=False)
        yield from self.footer()

    def on_mount(self) -> None:
        self.action_verify()

    def action_verify(self) -> None:
        self.query_one("#checks", DataTable).clear()
        self.run_checks()

    @work(thread=True, exclusive=True, exit_on_error=False, group="verify", description="running §7 checks")
    def run_checks(self) -> None:
        worker = get_current_worker()
        failed = 0
        for check in self.session.verify():
            if worker.is_cancelled:
                return
            failed += check.status == "fail"
            self.post_message(self.Checked(check))
        self.post_message(self.Finished(failed))

    def on_verify_screen_checked(self, message: Checked) -> None:
        c = message.check
        fix = f"-> {c.fixed_by}" if c.status == "fail" and c.fixed_by else ""
        self.query_one("#checks", DataTable).add_row(c.title, c.target[:18], c.status.upper(), c.healthy[:24], fix)

    def on_verify_screen_finished(self, message: Finished) -> None:
        text = ("All checks healthy. n: summary." if not message.failed else
                f"{message.failed} check(s) failed: see the fix column; v checks again, n goes on.")
        self.query_one("#verify-detail", Static).update(text)

    def action_next(self) -> None:
        self.wizard.advance("summary")
