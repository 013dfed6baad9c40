"""The Textual app: holds the incident session, moves between stage screens, and is the one
place where worker failures become an error dialog plus a journal entry.

Screens ask the app to do journaled things (begin, resume, choose, advance, export, close); the
app runs each in a thread worker and switches screens when the journal has recorded it.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import Reactive
from textual.screen import Screen
from textual.worker import Worker

from screens.base import StageScreen
from screens.start import StartScreen
from wizard.errors import ExitCode, WizardError
from wizard.opening import Opening, Ready, prepare
from wizard.remote.prompt import CredentialError, PromptBridge

if TYPE_CHECKING:  # the core's heavier modules load after the first frame (see wizard.opening)
    from wizard.incident import Backend, BackupChoice, IncidentSession, Mode, PathChoice
    from wizard.incident_state import Stage
    from wizard.plan import LoadedPlan

# Stage screens, dialogs and help are imported when first needed: the start screen's first frame
# pays only for itself (bench_ui; tests/unit/test_import_hygiene.py).
STAGE_SCREENS: dict[str, str] = {
    "assessment": "screens.assessment:AssessmentScreen", "backup_set": "screens.backup:BackupScreen",
    "restore": "screens.restore:RestoreScreen", "verify": "screens.verify:VerifyScreen",
    "summary": "screens.summary:SummaryScreen",
}


def screen_for(stage: str) -> StageScreen:
    module, name = STAGE_SCREENS.get(stage, STAGE_SCREENS["summary"]).split(":")
    factory: Callable[[], StageScreen] = getattr(importlib.import_module(module), name)
    return factory()

HANGUPS = (signal.SIGHUP, signal.SIGTERM)
STAGE_TITLES = {"assessment": "Assessment", "backup_set": "Backup set", "restore": "Restore",
                "verify": "Verify", "summary": "Summary"}


class WizardApp(App[int]):
    CSS_PATH = str(Path(__file__).with_name("app.tcss"))  # absolute: subclasses may live elsewhere
    TITLE = "lync-restore"
    # The 16 ANSI colours (TERM=linux safe). A class default, not set in __init__: setting it there
    # queues a second parse of every stylesheet and a full restyle before the first frame.
    theme: Reactive[str] = Reactive("ansi-dark")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "request_quit", "Quit", id="quit", priority=True),
        # the reflex at 3 a.m.: the same journaled question (a second Ctrl+C answers yes), never a
        # silent no-op (Textual's own ctrl+c only hints at an action named "quit")
        Binding("ctrl+c", "request_quit", "Quit", id="quit-ctrl-c", show=False, priority=True),
        Binding("f1", "help", "Help", id="app-help", show=False),
    ]

    @dataclass
    class Prepared(Message):
        ready: Ready

    @dataclass
    class Opened(Message):
        session: IncidentSession

    @dataclass
    class StageEntered(Message):
        stage: str

    @dataclass
    class Follow(Message):
        """Another wizard drives the incident: follow it read-only."""

        folder: str
        operator: str | None

    @dataclass
    class TakeOver(Message):
        """The incident's driver died holding it: ask before taking it over."""

        folder: str
        operator: str | None
        question: str

    @dataclass
    class Notice(Message):
        text: str

    @dataclass
    class Leave(Message):
        code: int

    def __init__(self, opening: Opening, *, prompt_bridge: PromptBridge | None = None) -> None:
        super().__init__()
        if prompt_bridge is not None:  # passwords whose plan source is "prompt" are asked here
            prompt_bridge.answerer = self.ask_password
        self.opening = opening
        self.ready: Ready | None = None  # set once the plan is read (after the first frame)
        self.failure: WizardError | None = None  # why the app left without an incident (a broken plan)
        self.farewell: str | None = None  # one line printed after the app left (report path, how to resume)
        self.session: IncidentSession | None = None
        self._hangups_watched = False

    @property
    def plan_label(self) -> str:
        return self.opening.plan_label

    @property
    def journal_dir(self) -> Path:
        return self.opening.journal_dir

    @property
    def loaded(self) -> LoadedPlan:
        return self._prepared().loaded

    @property
    def backend(self) -> Backend:
        return self._prepared().backend

    def _prepared(self) -> Ready:
        if self.ready is None:
            raise WizardError("The plan is still being read.")
        return self.ready

    def ask_password(self, cred_id: str, username: str, purpose: str) -> str:
        """Called from a thread worker (credentials are read where remote work starts): shows the
        masked dialog on the UI thread and waits for it."""
        answered = threading.Event()
        result: list[str | None] = [None]

        def done(value: str | None) -> None:
            result[0] = value
            answered.set()

        from screens.modals import PasswordDialog

        self.call_from_thread(self.push_screen, PasswordDialog(username, purpose), done)
        answered.wait()
        if not result[0]:
            raise CredentialError(f"no password was given for {username} (credential '{cred_id}')")
        return result[0]

    def get_default_screen(self) -> Screen[None]:
        """The start screen is the app's first screen, not one pushed over an empty default: a
        pushed screen's first frame leaves its inputs out until the next refresh (#16 item 14)."""
        return StartScreen()

    def on_mount(self) -> None:
        self._watch_hangups()
        self.call_after_refresh(self.prepare_plan)  # the start form first, then the plan

    @work(thread=True, exclusive=True, exit_on_error=False, group="prepare", description="reading the plan")
    def prepare_plan(self) -> None:
        try:
            ready = prepare(self.opening)
        except WizardError as exc:  # a broken plan: leave, and the command line prints why (exit 2)
            self._leave_unopened(exc)
            return
        except Exception as exc:  # nothing can start without the plan: one sentence, no traceback
            self.log.error(repr(exc))
            self._leave_unopened(WizardError(f"{self.opening.plan_label} could not be opened: "
                                             f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.Prepared(ready))

    def _leave_unopened(self, exc: WizardError) -> None:
        """From the worker: nothing can start without the plan; the command line says why."""
        self.failure = exc
        self.call_from_thread(self.exit, int(exc.exit_code), int(exc.exit_code))

    async def on_wizard_app_prepared(self, message: Prepared) -> None:
        self.ready = message.ready
        if isinstance(self.screen, StartScreen):
            await self.screen.show_ready(message.ready)

    # ------------------------------------------------------------------ the terminal goes away
    def _watch_hangups(self) -> None:
        """SIGHUP (the SSH link dropped, the tmux server was killed) and SIGTERM would otherwise end
        the process without a word in the journal: journal them instead (main thread only)."""
        try:
            loop = asyncio.get_running_loop()
            for sig in HANGUPS:
                loop.add_signal_handler(sig, self.terminal_lost, sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            return
        self._hangups_watched = True

    def on_unmount(self) -> None:
        if self._hangups_watched:
            loop = asyncio.get_running_loop()
            for sig in HANGUPS:
                loop.remove_signal_handler(sig)

    def terminal_lost(self, sig: int = signal.SIGHUP) -> None:
        """Journal the interruption (a running step stays IN DOUBT: its command may still be running
        on the server), close the journal so nothing more is written, and leave.

        After SIGHUP there is no terminal to restore, and Textual's shutdown waits forever on its
        writer thread (which died on the first write to the lost terminal): the process ends at
        once, the journal being fsynced and closed. SIGTERM leaves through the normal exit."""
        session = self.session
        if session is not None and session.journal is not None and not session.state.closed:
            running = self._running_step()
            what = "terminal lost (SIGHUP)" if sig == signal.SIGHUP else f"stopped by {signal.Signals(sig).name}"
            try:
                session.interrupt(running, f"{what} at {session.state.stage}"
                                  + (f" while {running} ran" if running else ""))
            except WizardError as exc:  # nobody can see a dialog any more: the log says it
                self.log.error(f"could not journal the interruption: {exc}")
            session.detach()
        if sig == signal.SIGHUP:
            os._exit(int(ExitCode.INTERRUPTED))
        self.exit(int(ExitCode.INTERRUPTED))

    # ------------------------------------------------------------------ journaled moves (thread workers)
    @work(thread=True, exclusive=True, exit_on_error=False, group="session", description="starting the incident")
    def begin(self, operator: str, incident: str, mode: Mode, confirm: str | None) -> None:
        from wizard.incident import IncidentSession

        session = IncidentSession.start(self.loaded.path, operator=operator, incident=incident, mode=mode,
                                        journal_dir=self.journal_dir, confirm_organisation=confirm,
                                        backend=self.backend, loaded=self.loaded,
                                        generated_id=incident == self.opening.incident)
        session.change_stage("assessment")
        self.post_message(self.Opened(session))

    @work(thread=True, exclusive=True, exit_on_error=False, group="session", description="resuming the incident")
    def resume(self, folder: str, operator: str | None, plan_change_accepted: bool = False,
               take_over: bool = False) -> None:
        from wizard.driver import DriverBusy, TakeOverNeeded
        from wizard.incident import IncidentSession

        try:
            session = IncidentSession.resume(Path(folder), operator=operator, backend=self.backend,
                                             loaded=self.loaded, plan_change_accepted=plan_change_accepted,
                                             take_over=take_over)
        except DriverBusy:  # another wizard drives it: follow, read-only (#18 item 3)
            self.post_message(self.Follow(folder, operator))
            return
        except TakeOverNeeded as asked:
            self.post_message(self.TakeOver(folder, operator, asked.message))
            return
        if session.state.stage == "start":
            session.change_stage("assessment")
        self.post_message(self.Opened(session))

    @work(thread=True, exclusive=True, exit_on_error=False, group="session", description="choosing a path")
    def choose_path(self, rec: PathChoice, path_id: str, reason: str) -> None:
        session = self._session()
        session.choose_path(rec, path_id, reason)
        target: Stage = "backup_set" if session.needs_backup_set() else "restore"
        session.change_stage(target)
        self.post_message(self.StageEntered(target))

    @work(thread=True, exclusive=True, exit_on_error=False, group="session", description="choosing a set")
    def choose_backup_set(self, choice: BackupChoice, name: str, reason: str) -> None:
        session = self._session()
        session.choose_backup_set(choice, name, reason)
        session.change_stage("restore")
        self.post_message(self.StageEntered("restore"))

    @work(thread=True, exclusive=True, exit_on_error=False, group="session", description="changing stage")
    def advance(self, target: Stage) -> None:
        self._session().change_stage(target)
        self.post_message(self.StageEntered(target))

    @work(thread=True, exclusive=True, exit_on_error=False, group="session", description="exporting the report")
    def export_report(self, fmt: str) -> None:
        session = self._session()
        from wizard.journal import read_journal
        from wizard.report import build_report, render

        report = build_report(read_journal(session.journal.path), rto_s=session.rto_s, rpo_s=session.rpo_s)
        out = session.journal.path.with_name(f"report.{fmt}")
        out.write_text(render(report, fmt), encoding="utf-8")
        session.note(f"report exported to {out.name}")
        self.post_message(self.Notice(f"Report written: {out}"))

    @work(thread=True, exclusive=True, exit_on_error=False, group="session", description="closing the incident")
    def close_incident(self, outcome: str) -> None:
        session = self._session()
        session.close(outcome)
        from wizard.journal import read_journal, write_private
        from wizard.report import build_report, render

        report = build_report(read_journal(session.journal.path), rto_s=session.rto_s, rpo_s=session.rpo_s)
        out = session.journal.path.with_name("report.md")
        write_private(out, render(report, "md").encode("utf-8"))
        self.farewell = (f"Incident {session.state.incident} closed ({outcome}); journal sealed. "
                         f"Report: {out}")
        if session.score is not None:  # a drill: its score, journaled, and score.md beside the report
            from wizard.report import score_lines

            self.farewell += "\n" + "\n".join(score_lines(session.score)) + f"\nScore: {out.with_name('score.md')}"
        self.post_message(self.Leave(int(ExitCode.OK) if outcome == "restored" else 1))

    @work(thread=True, exit_on_error=False, group="journal", description="journaling the quit")
    def quit_journaled(self, running: str | None) -> None:
        session = self.session
        code = int(ExitCode.OK)
        if session is not None and not session.state.closed:
            stage = session.state.stage
            session.interrupt(running, f"operator quit at {stage}" + (f" while {running} ran" if running else ""))
            session.detach()
            code = int(ExitCode.INTERRUPTED)  # README: interrupted, the journal valid and resumable
            self.farewell = (f"Incident {session.state.incident} left open at {stage}"
                             + (f" ({running} in doubt)" if running else "")
                             + f"; resume it with the same command. Journal: {session.journal.path}")
        self.post_message(self.Leave(code))

    def _session(self) -> IncidentSession:
        if self.session is None:
            raise WizardError("No incident is open yet.")
        return self.session

    # ------------------------------------------------------------------ message handlers (main thread)
    def on_wizard_app_opened(self, message: Opened) -> None:
        self.session = message.session
        stage = message.session.state.stage
        self._show(screen_for(stage))

    def on_wizard_app_follow(self, message: Follow) -> None:
        from screens.follow import FollowScreen

        if self.session is not None and self.session.journal.path.parent == Path(message.folder):
            self.session = None  # handed over: nothing more is journaled from here, this wizard follows
        if not isinstance(self.screen, FollowScreen):
            self._show(FollowScreen(Path(message.folder), message.operator))

    def on_wizard_app_take_over(self, message: TakeOver) -> None:
        from screens.modals import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                self.resume(message.folder, message.operator, take_over=True)

        self.push_screen(ConfirmDialog("Take over the incident?", message.question), answered)

    def on_wizard_app_stage_entered(self, message: StageEntered) -> None:
        self._show(screen_for(message.stage))

    def _show(self, screen: Screen[None]) -> None:
        """Replace the stage screen; the first one goes over the start screen, the app's default
        screen, which Textual cannot switch away from."""
        if len(self.screen_stack) == 1:
            self.push_screen(screen)
        else:
            self.switch_screen(screen)

    def on_wizard_app_notice(self, message: Notice) -> None:
        self.notify(message.text)

    def on_wizard_app_leave(self, message: Leave) -> None:
        self.exit(message.code)

    # ------------------------------------------------------------------ the one failure handler
    def worker_failed(self, worker: Worker[object]) -> None:
        err = worker.error
        if isinstance(err, WizardError):
            title, text = err.title, str(err)
        else:
            title = "Unexpected failure"
            text = f"{type(err).__name__} while {worker.description}; the journal is intact."
            self.log.error(repr(err))
        if self.session is not None and self.session.journal is not None:
            self.journal_error(title, text)
        from screens.modals import ErrorDialog

        self.push_screen(ErrorDialog(title, text))

    @work(thread=True, exit_on_error=False, group="journal", description="journaling an error")
    def journal_error(self, title: str, text: str) -> None:
        session = self.session
        if session is not None:
            try:
                session.record_error(WizardError(text) if title == "Error" else _titled(title, text))
            except WizardError as exc:  # the journal itself failed: say so on screen, never silently
                self.post_message(self.Notice(f"Could not journal the error: {exc}"))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        from textual.worker import WorkerState

        if event.state == WorkerState.ERROR and event.worker.group != "journal":
            self.worker_failed(event.worker)

    # ------------------------------------------------------------------ keys, help, palette
    def _running_step(self) -> str | None:
        for screen in self.screen_stack:
            running = getattr(screen, "running", None)
            if isinstance(running, str):
                return running
        return None

    async def action_quit(self) -> None:
        """The command palette's Quit asks and journals like Ctrl+Q (Textual's would just exit)."""
        self.action_request_quit()

    def action_request_quit(self) -> None:
        from screens.modals import QuitDialog

        if isinstance(self.screen, QuitDialog):  # asked twice: that is the answer
            self.screen.dismiss(True)
            return
        running = self._running_step()
        incident_open = self.session is not None and not self.session.state.closed

        def answered(yes: bool | None) -> None:
            if yes:
                self.quit_journaled(running)

        self.push_screen(QuitDialog(running, incident_open), answered)

    def ask_hand_over(self) -> None:
        """Hand the incident to another wizard (#18 item 3): not while a step runs; asked first."""
        from screens.modals import ConfirmDialog

        running = self._running_step()
        if running is not None:
            self.notify(f"{running} is running: hand over when it has finished.")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.hand_over()

        self.push_screen(ConfirmDialog(
            "Hand the incident over?",
            "Another wizard on this incident (t on its follow view) can then drive it; this one only "
            "follows from now on. The journal records the hand-over."), answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="session", description="handing over")
    def hand_over(self) -> None:
        session = self._session()
        operator = session.journal.operator
        session.hand_over()
        self.post_message(self.Follow(str(session.journal.path.parent), operator))

    def action_help(self) -> None:
        screen = self.screen
        from screens.help import HelpScreen, keys_of

        if isinstance(screen, HelpScreen):
            return
        # a dialog has no guide of its own: the stage beneath it explains what it asks about
        stage = next((s for s in reversed(self.screen_stack) if getattr(s, "GUIDE", "")), screen)
        guide = getattr(stage, "GUIDE", "") or "No help for this view."
        self.push_screen(HelpScreen(type(stage).__name__.replace("Screen", ""), guide, keys_of(screen)))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        session = self.session
        if session is None:
            return
        yield SystemCommand("Journal viewer", "every entry of this incident's journal",
                            _opener(self, f"Journal {session.state.incident}", None))
        if not session.state.closed:
            yield SystemCommand("Hand over", "let another wizard on this incident drive; this one follows",
                                self.ask_hand_over)
        from wizard.incident_state import STAGES

        current = STAGES.index(session.state.stage)
        for stage in STAGES[1:current]:
            if stage in STAGE_TITLES:
                title = STAGE_TITLES[stage]
                yield SystemCommand(f"Record: {title}", f"what was decided and done during {title}",
                                    _opener(self, f"Record: {title}", stage))


def _opener(app: WizardApp, title: str, stage: str | None) -> Callable[[], None]:
    """Opens the journal viewer on the whole journal (stage None) or on one stage's record."""

    def open_record() -> None:
        from screens.journal_viewer import JournalViewer, stage_record

        if app.session is not None:
            entries = app.session.entries
            app.push_screen(JournalViewer(title, entries if stage is None else stage_record(entries, stage)))

    return open_record


def _titled(title: str, text: str) -> WizardError:
    err = WizardError(text)
    err.title = title
    return err
