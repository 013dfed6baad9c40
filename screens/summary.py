"""Summary: time to restore against the RTO, data-loss window against the RPO, skipped and
overridden decisions, the timeline; export the report as Markdown and HTML; close the incident."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Label, Static

from screens.base import StageScreen
from screens.widgets.pointed import PointedTable, clipped
from wizard.journal import read_journal
from wizard.report import (
    Report,
    build_report,
    data_loss_sentence,
    fmt_duration,
    interruption_sentence,
    restore_sentence,
)


class SummaryScreen(StageScreen):
    GUIDE = """Summary: what happened, against the objectives.

m and h write the incident report (Markdown, HTML) beside the journal. c closes the incident as
restored, x closes it as abandoned; once closed it can no longer be resumed. The same report is
available later with 'lync-restore report JOURNAL'."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *StageScreen.BINDINGS,
        Binding("m", "export('md')", "Save .md", id="export-md"),
        Binding("h", "export('html')", "Save .html", id="export-html"),
        Binding("c", "close_incident('restored')", "Close (restored)", id="close-restored"),
        Binding("x", "close_incident('abandoned')", "Abandon", id="close-abandoned"),
    ]

    def _report(self) -> Report:
        s = self.session
        return build_report(read_journal(s.journal.path), rto_s=s.rto_s, rpo_s=s.rpo_s)

    def compose(self) -> ComposeResult:
        r = self._report()
        yield from self.chrome()
        yield Label(f"Summary: {r.incident}", classes="screen-title")
        flagged = "; ".join(f"{d.question} {d.choice}" + (" (override)" if d.overridden else "")
                            for d in r.skipped_or_overridden) or "none"
        yield Static(f"{restore_sentence(r)}\n{data_loss_sentence(r)}\n{interruption_sentence(r)}\n"
                     f"Skipped/overridden: {flagged}", id="summary-text", markup=False)
        table: DataTable[str] = PointedTable(id="timeline", cursor_type="row")
        table.add_columns("+time", "who", "what")
        when = max((len("+" + fmt_duration(t.offset_s)) for t in r.timeline), default=5)
        who = max((len(t.operator[:8]) for t in r.timeline), default=3)
        room = max(20, self.app.size.width - 2 - (max(when, 5) + 2) - (max(who, 3) + 2) - 2)
        self._timeline = list(r.timeline)
        for t in r.timeline:  # the highlighted row's whole text is shown below the table
            table.add_row("+" + fmt_duration(t.offset_s), t.operator[:8], clipped(t.what, room))
        yield table
        yield Static("", id="timeline-detail", markup=False)
        yield Static("", id="export-status", markup=False)
        yield from self.footer()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self._timeline):
            t = self._timeline[event.cursor_row]
            self.query_one("#timeline-detail", Static).update(f"+{fmt_duration(t.offset_s)} {t.operator}: {t.what}")

    def action_export(self, fmt: str) -> None:
        self.wizard.export_report(fmt)

    def action_close_incident(self, outcome: str) -> None:
        """Closing seals the journal for good: ask first, then the app writes the report and says where."""
        from screens.modals import ConfirmDialog

        what = "service restored" if outcome == "restored" else "abandoned (service NOT restored)"
        detail = (f"The incident is closed as {what} and its journal sealed: nothing can be added or "
                  "resumed afterwards. The report is written to the incident folder and its path shown.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.wizard.close_incident(outcome)

        self.app.push_screen(ConfirmDialog(f"Close the incident as {what}?", detail), answered)
