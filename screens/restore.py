"""Restore stages: the composed steps as a checklist, the current step's why, its exact commands
(copyable), streamed output, progress with time left; Run, Skip, Done by hand, Retry, Abort;
typed confirmation for destructive steps and a second operator where the step needs one."""

from __future__ import annotations

import textwrap
import threading
from collections import deque
from dataclasses import dataclass
from typing import ClassVar, Literal

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Label, Log, OptionList, ProgressBar, Static
from textual.worker import get_current_worker

from screens.base import StageScreen
from screens.modals import ChoiceDialog, ConfirmTyped, PreflightDialog, ReasonDialog, SecondOperator
from screens.widgets.checklist import RESOLVED, Checklist
from screens.widgets.command_panel import CommandPanel
from wizard.incident import (
    OutputLine,
    PreCheckView,
    PreflightView,
    Progress,
    StepDone,
    StepEvent,
    StepFailed,
    StepSkipped,
    StepStarted,
    StepView,
)
from wizard.report import fmt_duration

BATCH_S = 0.05  # streamed events reach the widgets at most 20 times a second, however fast they come


def fold(lines: list[str], width: int) -> list[str]:
    """Lines wider than the log folded at spaces (continuations indented two), so an operator
    without a mouse reads the whole instruction or error instead of a line cut at the edge."""
    if width < 20:  # not laid out yet, or absurdly narrow: leave the lines alone
        return lines
    out: list[str] = []
    for line in lines:
        if len(line) <= width:
            out.append(line)
        else:
            out.extend(textwrap.wrap(line, width, subsequent_indent="  ", replace_whitespace=False,
                                     break_on_hyphens=False) or [line[:width]])
    return out


class RestoreScreen(StageScreen):
    GUIDE = """Restore: the steps of the chosen path, in the documented order.

The list shows each step: [ ] to do, [>] running, [x] done, [!] failed, [-] skipped (not
needed now, or skipped by you), [=] already done (its pre-check found the work done), [h] done by
hand, [?] in doubt (started before a crash; check it before running it again). > marks the
highlighted step.
Below: why the highlighted step exists, the exact commands (c copies them to your clipboard over
SSH), progress and the streamed output.

g runs on from the highlighted step: each step's pre-checks first (a step not needed now, or
found already done, is closed with the evidence), safe steps one after another, stopping to ask
where a person is needed (work by hand, a typed confirmation) and stopping at a failure or Esc.
r runs (or retries) just the highlighted step. A destructive step asks you to type its target's
name (se01 for se01.fabrikam.lab; the full name works too); consecutive destructive steps on the
same target are confirmed together, in one dialog listing all their commands. Some need a second
operator. s skips with a reason; d marks it done by hand with a note; x aborts
the running step. n goes on to verification once every step is done, skipped or done by hand.

Pre-flight runs by itself before the first step: every server is asked (Get-Command there) for
each cmdlet and parameter the procedure will send it, whether it reaches the other servers'
shares its steps name (the second hop), and each SQL instance whether it reads the backup files
it will restore (RESTORE HEADERONLY). Anything missing stops the run before a change, naming
the server, the cmdlet and the parameter or the file. p (Check) runs it now and shows what it
found; after fixing a cause, p (or the next r / g) runs it again. Every run is journaled.

In a drill, ? asks for a hint about the highlighted step: the section to read and why the step
exists. It costs 5 points of the score and is journaled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # the stage's own hint key, not shown: the 80-column key bar is full here (F1 tells it)
        *[b for b in StageScreen.BINDINGS if not (isinstance(b, Binding) and b.id == "hint")],
        Binding("g", "run_on", "Go on", id="run-on"),
        Binding("r", "run", "Run", id="run-step"),
        Binding("s", "skip", "Skip", id="skip-step"),
        Binding("d", "by_hand", "Manual", id="done-by-hand"),
        Binding("x", "abort", "Stop", id="abort-step"),
        Binding("c", "copy", "Copy", id="copy-commands"),
        Binding("n", "next", "Verify", id="to-verify"),
        # pre-flight; one short word keeps the 80-column key bar whole
        Binding("p", "preflight", "Check", id="preflight"),
        Binding("question_mark", "hint", "Hint", id="hint", show=False),
    ]

    def hint_step(self) -> str | None:
        step = self._checklist.current if self._checklist else None
        return step.step_id if step is not None else None

    @dataclass
    class Composed(Message):
        steps: list[StepView]

    @dataclass
    class Ended(Message):
        step_id: str

    @dataclass
    class Preflighted(Message):
        view: PreflightView

    @dataclass
    class PreChecked(Message):
        step: StepView
        view: PreCheckView

    def __init__(self) -> None:
        super().__init__()
        self.running: str | None = None
        self._cancel = threading.Event()
        self._checklist: Checklist | None = None
        self._pending: deque[StepEvent] = deque()  # filled by the step worker, drained by a UI timer
        #: g: run on through the steps, stopping to ask at each step that needs a person (manual
        #: work, a typed confirmation) and stopping at a failure, an Esc or the last step
        self._through = False
        #: steps of a group one typed confirmation covered (journaled): they run without asking again
        self._granted: set[str] = set()
        self._checking: str | None = None  # the step whose pre-checks are running (no key starts another)
        #: steps in doubt after a restart whose re-run pre-check found the work done: s closes
        #: them as already done with that evidence, as the output line says
        self._found_done: dict[str, PreCheckView] = {}

    @property
    def checklist(self) -> Checklist | None:
        """The steps with their status, once the steps are composed (None before)."""
        return self._checklist

    def compose(self) -> ComposeResult:
        yield from self.chrome()
        yield Label(f"Restore: {self.session.state.recovery_path}", classes="screen-title")
        yield Static("Composing the steps...", id="checklist-slot", markup=False)
        yield Static("", id="why", markup=False)
        yield CommandPanel()
        yield ProgressBar(total=100, show_eta=False, id="progress")
        yield Label("", id="progress-text")
        yield Log(id="output", max_lines=5000)
        yield from self.footer()

    def on_mount(self) -> None:
        self.set_interval(BATCH_S, self.drain)
        self.compose_steps()

    @work(thread=True, exclusive=True, exit_on_error=False, group="compose", description="composing steps")
    def compose_steps(self) -> None:
        self.post_message(self.Composed(list(self.session.compose())))

    async def on_restore_screen_composed(self, message: Composed) -> None:
        st = self.session.state
        status = {sid: ("in_doubt" if rec.status == "running" else rec.status) for sid, rec in st.steps.items()}
        checklist = self._checklist = Checklist(message.steps, status)
        await self.mount(checklist, before=self.query_one("#checklist-slot"))
        await self.query_one("#checklist-slot").remove()
        checklist.highlighted = checklist.first_open()
        checklist.focus()
        doubt = [s for s, v in status.items() if v == "in_doubt"]
        if doubt:
            self._write(self.query_one("#output", Log), [
                f"IN DOUBT after a restart: {', '.join(doubt)}. Re-running their pre-checks before anything else..."])
            self.precheck_in_doubt([s for s in message.steps if s.step_id in doubt])

    @work(thread=True, exit_on_error=False, group="restore-precheck", description="re-running pre-checks")
    def precheck_in_doubt(self, steps: list[StepView]) -> None:
        """DESIGN decision 3: a step in doubt gets its pre-check re-run (and journaled) first."""
        for step in steps:
            view = self.session.precheck(step)
            if view.already_done:
                self.app.call_from_thread(self._found_done.__setitem__, step.step_id, view)
            said = {True: "already done: s skips it with this as the reason",
                    False: "not done: r runs it again", None: "unknown: check by hand"}[view.already_done]
            self._pending.append(OutputLine(step.step_id, f"pre-check of {step.step_id}: {said} ({view.detail})"))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        step = self._checklist.current if self._checklist else None
        self.query_one(CommandPanel).show(step)
        if step is not None:
            extra = " DESTRUCTIVE." if step.destructive else ""
            extra += " Needs a second operator." if step.second_operator else ""
            est = f" Estimate {fmt_duration(step.estimate_s)}." if step.estimate_s else ""
            self.query_one("#why", Static).update(f"Why (§{step.section}): {step.why}{extra}{est}")

    # ------------------------------------------------------------------ actions
    @property
    def running_on(self) -> bool:
        """g was pressed and the run goes on (until a failure, an Esc or the last step)."""
        return self._through

    @property
    def idle(self) -> bool:
        """No step running or being pre-checked: a key may start one."""
        return self.running is None and self._checking is None

    def _current(self) -> StepView | None:
        if self._checklist is None or not self.idle:
            if self.running is not None:
                self.notify(f"Step {self.running} is running; x aborts it.", severity="warning")
            elif self._checking is not None:
                self.notify(f"Checking whether {self._checking} is needed or already done...")
            return None
        return self._checklist.current

    def action_run_on(self) -> None:
        """Run the highlighted step, then the next ones, asking only where a person is needed."""
        step = self._current()
        if step is None:
            return
        self._through = True
        self.action_run()

    def _stop_through(self, why: str = "") -> None:
        if self._through and why:
            self.query_one("#progress-text", Label).update(why)
        self._through = False
        self._granted.clear()

    def action_run(self) -> None:
        step = self._current()
        if step is None:
            return
        rec = self.session.state.steps.get(step.step_id)
        if rec is not None and rec.status in RESOLVED:  # r retries, never re-runs
            resolved = self._checklist is not None and self._checklist.all_resolved
            more = " All steps are resolved: n goes on to verification." if resolved else ""
            state = rec.status.replace("_", " ") + ("" if rec.status == "already_done" else " already")
            said = f"{step.step_id} is {state}; r runs or retries an open step.{more}"
            self.query_one("#progress-text", Label).update(said)
            self.notify(said)
            return
        self.check_step(step)

    def action_preflight(self) -> None:
        """Run pre-flight now and show what it found (#18 item 2)."""
        if self._checklist is None or not self.idle:
            self._current()  # says what is busy
            return
        self._checking = "pre-flight"
        self.query_one("#progress-text", Label).update("Pre-flight: asking every server the procedure uses...")
        self.run_preflight()

    @work(thread=True, exclusive=True, exit_on_error=False, group="restore-step", description="pre-flight")
    def run_preflight(self) -> None:
        try:
            view = self.session.preflight()
        finally:
            self.app.call_from_thread(setattr, self, "_checking", None)
        if view is not None:
            self.post_message(self.Preflighted(view))

    def on_restore_screen_preflighted(self, message: Preflighted) -> None:
        view = message.view
        said = ("Pre-flight: nothing missing; r / g run the steps." if view.ok else
                f"Pre-flight: {len(view.findings)} problem(s); fix them, then p runs it again.")
        self.query_one("#progress-text", Label).update(said)
        for line in view.findings:
            self._pending.append(OutputLine("pre-flight", f"pre-flight: {line}"))

        def closed(again: bool | None) -> None:
            if again:
                self.action_preflight()

        self.app.push_screen(PreflightDialog(view.ok, view.findings, view.checked, view.unchecked), closed)

    def check_step(self, step: StepView) -> None:
        self._checking = step.step_id
        self.query_one("#progress-text", Label).update(f"{step.step_id}: pre-checks...")
        self.pre_check(step)

    @work(thread=True, exclusive=True, exit_on_error=False, group="restore-step", description="pre-checking a step")
    def pre_check(self, step: StepView) -> None:
        """The step's pre-checks first: nobody types a confirmation, nor calls a colleague, for work
        that turns out to be done already or not needed now (#16 item 3)."""
        try:
            view = self.session.check_before(step)
        except BaseException:
            self.app.call_from_thread(setattr, self, "_checking", None)
            raise
        self.post_message(self.PreChecked(step, view))

    def on_restore_screen_pre_checked(self, message: PreChecked) -> None:
        step, view = message.step, message.view
        if view.not_needed:  # nobody is asked about a step that is not needed now
            self.close_not_needed(step, view)
            return
        if view.already_done and (self._through or step.step_id in self._granted):
            self.answer_found_done(step, view, "skip", by_wizard=True)  # asked to run on: the evidence decides
            return
        self._checking = None  # from here a person answers (or the step starts)
        if not view.already_done:
            self.confirm_then_run(step)
            return

        def answered(choice: str | None) -> None:
            if choice is None:
                self._stop_through()
                return
            self.answer_found_done(step, view, "skip" if choice.startswith("skip") else "run")

        self.app.push_screen(ChoiceDialog(f"{step.title}: already done ({view.detail}).",
                                          ("skip it: the work is done", "run it anyway")), answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="restore-step", description="journaling")
    def close_not_needed(self, step: StepView, view: PreCheckView) -> None:
        self.session.not_needed(step, view)
        self._pending.append(OutputLine(step.step_id, f"{step.step_id}: not needed now: {view.not_needed}"))
        self.post_message(self.Ended(step.step_id))

    @work(thread=True, exclusive=True, exit_on_error=False, group="restore-step", description="journaling")
    def answer_found_done(self, step: StepView, view: PreCheckView, choice: Literal["skip", "run"],
                          by_wizard: bool = False) -> None:
        self.session.found_done(step, view, choice, by_wizard=by_wizard)
        if choice == "skip":
            self._pending.append(OutputLine(step.step_id, f"{step.step_id}: already done ({view.detail})"))
            self.post_message(self.Ended(step.step_id))
        else:
            self.app.call_from_thread(self.confirm_then_run, step)

    def group_of(self, step: StepView) -> list[StepView]:
        """``step`` and the destructive steps right after it on the same target, still to do: one
        typed confirmation, listing all their commands, covers them (#16 item 11)."""
        assert self._checklist is not None
        steps = self._checklist.steps
        at = next(i for i, s in enumerate(steps) if s.step_id == step.step_id)
        group = [step]
        for s in steps[at + 1:]:
            if (not s.destructive or s.manual or s.confirmation.lower() != step.confirmation.lower()
                    or s.second_operator != step.second_operator
                    or self._checklist.status.get(s.step_id, "todo") != "todo"):
                break
            group.append(s)
        return group

    def confirm_then_run(self, step: StepView, manual_reported: bool = False) -> None:
        if step.manual and not manual_reported:
            self.ask_manual(step)
            return
        if not step.destructive or step.step_id in self._granted:  # a group's later step: confirmed with it
            self._granted.discard(step.step_id)
            self.start_step(step, None, None)
            return
        group = self.group_of(step)

        def start(typed: str, second: str | None) -> None:
            self._granted = {s.step_id for s in group[1:]}
            self.start_step(step, typed, second, group)

        def typed(value: str | None) -> None:
            if value is None:
                self._stop_through("Not confirmed: nothing ran.")
                return
            if step.second_operator:
                self.app.push_screen(SecondOperator(step.confirmation, self.session.journal.operator, step.accepts),
                                     lambda pair: start(pair[1], pair[0]) if pair else self._stop_through(
                                         "No second operator: nothing ran."))
            else:
                start(value, None)

        rec = self.session.state.steps.get(step.step_id)
        doubt = ("IN DOUBT: it may have run already before the interruption; running it again repeats it. "
                 if rec is not None and rec.status == "running" else "")
        if len(group) == 1:
            what, commands = f"{step.title} on {step.host}", step.commands
        else:
            what = f"The {len(group)} steps above, on {step.host}"
            commands = tuple(line for s in group for line in (f"# {s.title}", *s.commands))
        self.app.push_screen(ConfirmTyped("Destructive step" + ("s" if len(group) > 1 else "")
                                          + (" IN DOUBT" if doubt else ""),
                                          f"{doubt}{what}. Type {step.confirmation} to run "
                                          + ("them all:" if len(group) > 1 else "it:"), step.confirmation,
                                          commands, step.accepts), typed)

    def ask_manual(self, step: StepView) -> None:
        """Work by hand is reported done by the operator, never assumed from a key (#16 item 4)."""
        from screens.modals import ConfirmDialog

        drill = " In this drill the lab does it for you." if self.session.drill else ""
        detail = " ".join(line for line in step.commands if not line.startswith("[by hand")) + drill

        def answered(yes: bool | None) -> None:
            if yes:
                self.manual_reported(step)
            else:
                self._stop_through("Not reported done: nothing ran.")

        self.app.push_screen(ConfirmDialog(f"Is the {step.manual} work done? {step.title}", detail), answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="restore-step", description="journaling")
    def manual_reported(self, step: StepView) -> None:
        self.session.report_manual(step)
        self.app.call_from_thread(self.confirm_then_run, step, True)

    def start_step(self, step: StepView, typed: str | None, second: str | None,
                   group: list[StepView] | None = None) -> None:
        assert self._checklist is not None
        self.running = step.step_id
        self._cancel = threading.Event()
        self._checklist.set_status(step.step_id, "running")
        self._write(self.query_one("#output", Log), [f"--- {step.step_id} on {step.host}"])
        self.query_one("#progress", ProgressBar).update(progress=0)
        self.run_step(step, typed, second, self._cancel, group or [])

    @work(thread=True, exclusive=True, exit_on_error=False, group="restore-step", description="running a step")
    def run_step(self, step: StepView, typed: str | None, second: str | None, cancel: threading.Event,
                 group: list[StepView]) -> None:
        worker = get_current_worker()
        try:
            if typed is not None:
                self.session.confirm_destructive(step, typed, second, group)
            for event in self.session.run_step(step, cancel):
                self._pending.append(event)  # deque.append is thread-safe; no widget is touched here
                if worker.is_cancelled:
                    cancel.set()
        finally:
            self.post_message(self.Ended(step.step_id))

    def drain(self) -> None:
        """Apply the events the worker queued since the last tick (main thread)."""
        if not self._pending or self._checklist is None:
            return
        events: list[StepEvent] = []
        while self._pending:
            events.append(self._pending.popleft())
        log = self.query_one("#output", Log)
        lines = [e.text for e in events if isinstance(e, OutputLine)]
        if lines:
            self._write(log, lines)
        last_progress = next((e for e in reversed(events) if isinstance(e, Progress)), None)
        for e in events:
            if isinstance(e, Progress) and e is not last_progress:
                continue
            if isinstance(e, Progress):
                self.query_one("#progress", ProgressBar).update(progress=e.percent)
                left = f", {fmt_duration(e.eta_s)} left" if e.eta_s is not None else ""
                self.query_one("#progress-text", Label).update(f"{e.step_id}: {e.percent:.0f}%{left}")
            elif isinstance(e, StepStarted):
                self._checklist.set_status(e.step_id, "running")
                self.query_one("#progress", ProgressBar).update(progress=0)  # this step's, not the last one's
                self.query_one("#progress-text", Label).update(f"{e.step_id}: running")
            elif isinstance(e, StepDone):
                self._checklist.set_status(e.step_id, "done")
                self.query_one("#progress", ProgressBar).update(progress=100)
                self.query_one("#progress-text", Label).update(f"{e.step_id}: done")
            elif isinstance(e, StepFailed):
                self._checklist.set_status(e.step_id, "failed")
                self.query_one("#progress-text", Label).update(f"{e.step_id}: FAILED")
                written = self._write(log, [f"FAILED: {e.message} (r retries, s skips, d done by hand)"])
                # why it failed is shown, wherever the log was (#19), from its first line: the
                # sentence says what failed and where first, and a long one folded past the
                # pane's height (80x24) showed only its tail; the rest scrolls
                log.scroll_to(y=min(log.line_count - written, log.max_scroll_y), animate=False, immediate=True)
            elif isinstance(e, StepSkipped):
                self._checklist.set_status(e.step_id, "skipped")
                self.query_one("#progress-text", Label).update(f"{e.step_id}: skipped ({e.reason})")

    @staticmethod
    def _write(log: Log, lines: list[str]) -> int:
        """Write ``lines`` folded to the pane's width; how many lines that made."""
        folded = fold(lines, log.scrollable_content_region.width - 1)
        log.write_lines(folded)
        return len(folded)

    def on_restore_screen_ended(self, message: Ended) -> None:
        assert self._checklist is not None
        self.drain()
        self.running = self._checking = None
        self._found_done.pop(message.step_id, None)
        rec = self.session.state.steps.get(message.step_id)
        status = rec.status if rec is not None else "todo"
        self._checklist.set_status(message.step_id, "in_doubt" if status == "running" else status)
        if status in ("skipped", "done_by_hand", "already_done"):  # no stale "running ... 0%" line is left behind
            self.query_one("#progress-text", Label).update(f"{message.step_id}: {status.replace('_', ' ')}")
        if status in RESOLVED:
            self._checklist.highlighted = self._checklist.first_open()
        else:
            self._stop_through(f"{message.step_id}: {status.replace('_', ' ')}; run on stopped.")
        if self._checklist.all_resolved:
            self._stop_through()
            self.query_one("#progress-text", Label).update("All steps resolved: n goes on to verification.")
            return
        nxt = self._checklist.current
        if nxt is not None and (self._through or nxt.step_id in self._granted):
            self.check_step(nxt)

    def action_abort(self) -> None:
        if self.running is not None:
            self._cancel.set()
            self._write(self.query_one("#output", Log), [f"--- abort requested for {self.running}"])

    def _resolve(self, kind: str) -> None:
        step = self._current()
        if step is None:
            return
        title, prompt = (("Skip step", f"Why skip {step.step_id}?") if kind == "skip" else
                         ("Done by hand", f"What was done by hand for {step.step_id}?"))

        def given(reason: str | None) -> None:
            if reason:
                self.resolve_step(step, kind, reason)

        self.app.push_screen(ReasonDialog(title, prompt), given)

    def action_skip(self) -> None:
        step = self._current()
        view = self._found_done.get(step.step_id) if step is not None else None
        if step is not None and view is not None:  # the person's s, the pre-check's evidence as the reason
            self.answer_found_done(step, view, "skip")
            return
        self._resolve("skip")

    def action_by_hand(self) -> None:
        self._resolve("by_hand")

    @work(thread=True, exclusive=True, exit_on_error=False, group="restore-step", description="journaling")
    def resolve_step(self, step: StepView, kind: str, reason: str) -> None:
        if kind == "skip":
            self.session.skip_step(step, reason)
        else:
            self.session.done_by_hand(step, reason)
        self.post_message(self.Ended(step.step_id))

    def action_copy(self) -> None:
        text = self.query_one(CommandPanel).text
        if text:
            self.app.copy_to_clipboard(text)
            self.notify("Commands copied (OSC 52).")

    def action_next(self) -> None:
        if self.running is not None or self._checklist is None:
            return
        if not self._checklist.all_resolved:
            self.notify("Some steps are still open: run, skip or mark them done by hand.", severity="warning")
            return
        self.wizard.advance("verify")

    def on_unmount(self) -> None:
        self._cancel.set()
