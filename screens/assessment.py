"""Assessment: the health matrix fills in as probes return, the operator says what they see,
then the recommended path with its evidence and alternatives; accept, or override with a reason."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Label, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from screens.base import StageScreen
from screens.modals import ChoiceDialog, ReasonDialog
from screens.widgets.pointed import PointedOptionList, PointedTable
from wizard.incident import OperatorQuestion, PathChoice, ProbeView

MARK = {"ok": "ok", "warn": "WARN", "fail": "FAIL", "unknown": "?"}
#: the matrix's column headers: short, so every probe's column fits 80 columns (#16 item 7)
HEADER = {"tcp-winrm": "winrm", "tcp-sql": "sqltcp", "cms-scp": "scp", "cms-replication": "repl", "lync": "lync"}


def short_host(host: str, others: set[str]) -> str:
    """A host's first label when no other row shares it (se01 for se01.fabrikam.lab)."""
    first = host.split(".", 1)[0]
    return first if "." in host and not any(o != host and o.split(".", 1)[0] == first for o in others) else host


class AssessmentScreen(StageScreen):
    GUIDE = """Assessment: what actually failed?

Every host is probed in parallel; the matrix fills in as answers arrive (FAIL = no answer or a
bad state). Then you are asked what you see, and the wizard recommends a recovery path with the
evidence that led to it (PgUp/PgDn scroll a long one). Press a to accept it, or pick another
path with the arrows and Enter: you will be asked why, and both the choice and the reason are
journaled. Only the questions whose answer can change the recommendation for what the probes
found are asked; a letter answers (y, n, u).

Matrix columns: lync (Lync services), dns, winrm (the WinRM port), sqltcp (the SQL port), sql (a
SQL login), scp (the CMS service connection point in AD), repl (CMS replication), fs (file
store), pair (the pool's pairing). Hosts are shown by their first name when it is unique."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *StageScreen.BINDINGS,
        Binding("a", "accept", "Accept recommended", id="accept-path"),
        Binding("p", "probe", "Probe again", id="probe-again"),
        Binding("pageup", "scroll_text(-1)", "Text up", show=False),
        Binding("pagedown", "scroll_text(1)", "Text down", show=False),
    ]

    @dataclass
    class Probed(Message):
        result: ProbeView

    @dataclass
    class ProbesDone(Message):
        count: int

    @dataclass
    class Recommended(Message):
        recommendation: PathChoice

    def __init__(self) -> None:
        super().__init__()
        self._results: list[ProbeView] = []
        self._rows: set[str] = set()
        self._cols: set[str] = set()
        self._answers: dict[str, str] = {}
        self._rec: PathChoice | None = None
        self._cancel = threading.Event()

    @property
    def recommendation(self) -> PathChoice | None:
        """The recommended path and its alternatives, once shown (None while probing and asking)."""
        return self._rec

    def compose(self) -> ComposeResult:
        yield from self.chrome()
        yield Label("Assessment: health matrix", classes="screen-title")
        table: DataTable[str] = PointedTable(id="health", cursor_type="row")
        table.add_column("host", key="host")
        yield table
        with VerticalScroll(id="rec-box", can_focus=False):  # PgUp/PgDn scroll a long recommendation
            yield Static("Probing hosts...", id="rec-text", markup=False)
        yield PointedOptionList(id="paths")
        yield from self.footer()

    def on_mount(self) -> None:
        self.action_probe()

    def action_scroll_text(self, direction: int) -> None:
        box = self.query_one("#rec-box", VerticalScroll)
        box.scroll_relative(y=direction * max(1, box.size.height - 1), animate=False)

    def action_probe(self) -> None:
        self._results.clear()
        self.run_probes()

    @work(thread=True, exclusive=True, exit_on_error=False, group="assess", description="probing hosts")
    def run_probes(self) -> None:
        worker = get_current_worker()
        n = 0
        for result in self.session.probe(self._cancel):
            if worker.is_cancelled:
                self._cancel.set()
                return
            n += 1
            self.post_message(self.Probed(result))
        self.post_message(self.ProbesDone(n))

    def on_assessment_screen_probed(self, message: Probed) -> None:
        r = message.result
        self._results.append(r)
        table = self.query_one("#health", DataTable)
        if r.check not in self._cols:
            self._cols.add(r.check)
            table.add_column(HEADER.get(r.check, r.check), key=r.check)
            for host in self._rows:
                table.update_cell(host, r.check, "")
        if r.host not in self._rows:
            self._rows.add(r.host)
            table.add_row(short_host(r.host, self._rows), *["" for _ in self._cols], key=r.host)
            for host in self._rows:  # a host's first name, when no other row shares it
                name = short_host(host, self._rows)
                if table.get_cell(host, "host") != name:
                    table.update_cell(host, "host", name, update_width=True)
        table.update_cell(r.host, r.check, MARK[r.status], update_width=True)  # "FAIL", not "FAI" (#16 item 7)

    def on_assessment_screen_probes_done(self, message: ProbesDone) -> None:
        self.query_one("#rec-text", Static).update(f"{message.count} probe results. Asking what you see...")
        self.ask_questions()

    @work(exclusive=True, exit_on_error=False, group="assess-ask", description="operator questions")
    async def ask_questions(self) -> None:
        questions: list[OperatorQuestion] = list(await self._questions())
        for q in questions:
            answer = await self.app.push_screen_wait(ChoiceDialog(q.text, q.choices))
            await self._journal_answer(q, answer)  # an unanswered question is journaled too (#16 item 12)
            if answer is not None:
                self._answers[q.id] = answer
        self.recommend()

    async def _questions(self) -> list[OperatorQuestion]:
        worker = self.fetch_questions()
        await worker.wait()
        return list(worker.result or [])

    @work(thread=True, exit_on_error=False, group="assess-q", description="loading questions")
    def fetch_questions(self) -> list[OperatorQuestion]:
        return list(self.session.questions())

    async def _journal_answer(self, q: OperatorQuestion, answer: str | None) -> None:
        worker = self.journal_answer(q, answer)
        await worker.wait()

    @work(thread=True, exit_on_error=False, group="journal", description="journaling an answer")
    def journal_answer(self, q: OperatorQuestion, answer: str | None) -> None:
        self.session.answer(q, answer)

    @work(thread=True, exclusive=True, exit_on_error=False, group="assess-rec", description="classifying")
    def recommend(self) -> None:
        rec = self.session.recommend(list(self._results), dict(self._answers))
        self.post_message(self.Recommended(rec))

    def on_assessment_screen_recommended(self, message: Recommended) -> None:
        rec = self._rec = message.recommendation
        r = rec.recommended
        evidence = "".join(f"\n- {e}" for e in r.evidence)
        self.query_one("#rec-text", Static).update(
            f"Recommended: {r.title} [{r.path_id}]\nWhy: {r.reason}\nCost: {r.rto_note}; {r.rpo_note}\n"
            f"Evidence:{evidence}")
        paths = self.query_one("#paths", OptionList)
        paths.clear_options()
        paths.add_option(Option(f"* {r.title} [recommended: its cost is above]", id=r.path_id))
        for alt in rec.alternatives:
            paths.add_option(Option(f"  {alt.title} ({alt.rto_note}; {alt.rpo_note})", id=alt.path_id))
        paths.highlighted = 0
        paths.focus()

    def action_accept(self) -> None:
        if self._rec is not None:
            self.wizard.choose_path(self._rec, self._rec.recommended.path_id, "")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        rec = self._rec
        if rec is None or event.option.id is None:
            return
        choice = event.option.id
        if choice == rec.recommended.path_id:
            self.action_accept()
            return

        def given(reason: str | None) -> None:
            if reason:
                self.wizard.choose_path(rec, choice, reason)

        self.app.push_screen(
            ReasonDialog("Override the recommendation", f"Why {choice} instead of {rec.recommended.path_id}?"),
            given)

    def on_unmount(self) -> None:
        self._cancel.set()
