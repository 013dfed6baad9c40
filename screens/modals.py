"""Dialogs that return typed results: typed confirmation, a reason, a second operator, quit,
an error, and a multiple-choice question. Enter confirms, Escape cancels; no mouse needed."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.events import Key
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from screens.base import STAGES_CSS

T = TypeVar("T")

_ESC: list[BindingType] = [Binding("escape", "cancel", "Cancel", id="cancel")]


class Dialog(ModalScreen[T]):
    """A dialog over a stage: the status bar (and the live banner) stay on top of it and keep
    ticking; Textual does not redraw the screen beneath a dialog, so its clock froze while one
    was open (#16 item 10)."""

    async def on_mount(self) -> None:
        session = getattr(self.app, "session", None)
        if session is None:
            return
        from screens.widgets.status import LiveBanner, StatusBar

        top: list[Static] = [StatusBar(session)]
        if not session.drill:
            top.insert(0, LiveBanner(session.organisation))
        await self.mount(Vertical(*top, classes="dialog-top"), before=0)


class _Commands(VerticalScroll, can_focus=False):
    """The commands a confirmation lists: scrolled by PgUp/PgDn while the typing box keeps focus."""


class ConfirmTyped(Dialog[str | None]):
    """Type ``expected`` exactly to confirm; returns what was typed, or None on Escape."""

    CSS_PATH = STAGES_CSS

    BINDINGS: ClassVar[list[BindingType]] = [
        *_ESC,  # the commands scroll while the typing box keeps the focus
        Binding("pageup", "commands(-1)", "Commands up", show=False),
        Binding("pagedown", "commands(1)", "Commands down", show=False),
    ]

    def __init__(self, title: str, prompt: str, expected: str, commands: tuple[str, ...] = (),
                 accepts: Callable[[str], bool] | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self._title, self._prompt, self._expected = title, prompt, expected
        self._commands = commands
        self._accepts = accepts or (lambda typed: typed.strip() == expected)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog danger"):
            yield Label(self._title, classes="dialog-title")
            if self._commands:  # the exact commands, all of them, at the moment of decision
                shown = [c if c.startswith("# ") else f"PS> {c}" for c in self._commands]
                yield _Commands(Static("\n".join(shown), markup=False), classes="dialog-commands")
            yield Static(self._prompt, markup=False)
            # a placeholder must not look typed on a monochrome screen (#16 item 8): it says "type:"
            yield Input(placeholder=f"type: {self._expected}", id="typed")
            yield Label("", id="typed-error", classes="error-text")
            more = "; PgUp/PgDn scroll the commands" if len(self._commands) > 8 else ""
            yield Static(f"Enter confirms; Esc cancels (nothing runs){more}", classes="dialog-hint", markup=False)

    def action_commands(self, direction: int) -> None:
        for box in self.query(".dialog-commands").results(_Commands):
            box.scroll_relative(y=direction * max(1, box.size.height - 1), animate=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self._accepts(event.value):
            self.dismiss(event.value.strip())
        else:
            self.query_one("#typed-error", Label).update(f"Type exactly: {self._expected}")

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReasonDialog(Dialog[str | None]):
    """Ask why (override, skip, done by hand); an empty reason is refused."""

    CSS_PATH = STAGES_CSS

    BINDINGS: ClassVar[list[BindingType]] = _ESC

    def __init__(self, title: str, prompt: str) -> None:
        super().__init__(classes="dialog-screen")
        self._title, self._prompt = title, prompt

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            yield Static(self._prompt, markup=False)
            yield Input(placeholder="reason (journaled)", id="reason")
            yield Label("", id="reason-error", classes="error-text")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())
        else:
            self.query_one("#reason-error", Label).update("A reason is required; Escape cancels.")

    def action_cancel(self) -> None:
        self.dismiss(None)


class SecondOperator(Dialog[tuple[str, str] | None]):
    """A second operator types their name and the step's confirmation text; returns (name, typed)."""

    CSS_PATH = STAGES_CSS

    BINDINGS: ClassVar[list[BindingType]] = _ESC

    def __init__(self, step_id: str, first_operator: str, accepts: Callable[[str], bool] | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self._step_id, self._first = step_id, first_operator
        self._accepts = accepts or (lambda typed: typed.strip() == step_id)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog danger"):
            yield Label("Second operator required", classes="dialog-title")
            yield Static(f"Someone other than {self._first} confirms {self._step_id}.", markup=False)
            yield Input(placeholder="second operator's name", id="second-name")
            yield Input(placeholder=f"type: {self._step_id}", id="second-typed")
            yield Label("", id="second-error", classes="error-text")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        name = self.query_one("#second-name", Input).value.strip()
        typed = self.query_one("#second-typed", Input).value.strip()
        if event.input.id == "second-name" and name:
            self.query_one("#second-typed", Input).focus()
            return
        if not name or name == self._first:
            self.query_one("#second-error", Label).update(f"A name other than {self._first} is needed.")
        elif not self._accepts(typed):
            self.query_one("#second-error", Label).update(f"Type exactly: {self._step_id}")
        else:
            self.dismiss((name, typed))

    def action_cancel(self) -> None:
        self.dismiss(None)


class QuitDialog(Dialog[bool]):
    """Quit? The incident stays open and can be resumed; a running step is left in doubt."""

    CSS_PATH = STAGES_CSS

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Quit", id="quit-yes"),
        Binding("n,escape", "answer(False)", "Stay", id="quit-no"),
    ]

    def __init__(self, running: str | None, incident_open: bool = True) -> None:
        super().__init__(classes="dialog-screen")
        self._running_step_id = running
        self._incident_open = incident_open

    def compose(self) -> ComposeResult:
        if self._running_step_id:
            detail = (f"Step {self._running_step_id} is running: its outcome will be IN DOUBT and checked "
                      "again on resume.")
        elif self._incident_open:
            detail = "The incident stays open; resume it from the start screen."
        else:
            detail = "No incident was started, so there is nothing to journal or resume."
        with Vertical(classes="dialog"):
            yield Label("Quit the wizard?", classes="dialog-title")
            yield Static(detail, markup=False)
            yield Static("y or Ctrl+C again = quit (journaled)   n / Esc = stay", markup=False)

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class ConfirmDialog(Dialog[bool]):
    """A yes/no question about something that cannot be undone (closing an incident)."""

    CSS_PATH = STAGES_CSS

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm-yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm-no"),
        Binding("pageup", "detail(-1)", "Up", show=False),
        Binding("pagedown", "detail(1)", "Down", show=False),
    ]

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(classes="dialog-screen")
        self._title, self._detail = title, detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self._title, classes="dialog-title", markup=False)  # wraps: a question is read whole
            with _Commands(classes="dialog-detail"):  # long instructions or a plan's difference scroll
                yield Static(self._detail, markup=False, id="confirm-detail")
            long = self._detail.count("\n") > 8 or len(self._detail) > 600
            yield Static("y = yes   n / Esc = no" + ("   PgUp/PgDn scroll" if long else ""), markup=False)

    def action_detail(self, direction: int) -> None:
        box = self.query_one(".dialog-detail", _Commands)
        box.scroll_relative(y=direction * max(1, box.size.height - 1), animate=False)

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class ErrorDialog(Dialog[None]):
    """One failure: its title and one sentence. Already journaled by the app."""

    CSS_PATH = STAGES_CSS

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter", "close", "Close", id="close")]

    def __init__(self, title: str, message: str, *, danger: bool = True) -> None:
        super().__init__(classes="dialog-screen")
        self._title, self._message, self._danger = title, message, danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog danger" if self._danger else "dialog"):
            yield Label(self._title, classes="dialog-title")
            yield Static(self._message, markup=False, id="error-message")
            yield Static("Enter / Esc: close", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)


class ChoiceDialog(Dialog[str | None]):
    """A question with fixed answers (the operator's observations during assessment)."""

    CSS_PATH = STAGES_CSS

    # F1 explains the stage the question belongs to (the app's help looks beneath the dialog)
    BINDINGS: ClassVar[list[BindingType]] = [*_ESC, Binding("f1", "app.help", "Help", id="dialog-help")]

    def __init__(self, question: str, choices: tuple[str, ...]) -> None:
        super().__init__(classes="dialog-screen")
        self._question, self._choices = question, choices
        firsts = [c[:1].lower() for c in choices]
        #: one key answers: each choice's first letter, where no other choice shares it
        self.hotkeys = {f: c for f, c in zip(firsts, choices, strict=True) if f.isalpha() and firsts.count(f) == 1}

    def compose(self) -> ComposeResult:
        from screens.widgets.pointed import PointedOptionList

        keys = {c: f for f, c in self.hotkeys.items()}
        with Vertical(classes="dialog"):
            yield Static(self._question, classes="dialog-title", markup=False)  # wraps: a question is read whole
            yield PointedOptionList(*[Option(f"{c} ({keys[c]})" if c in keys else c, id=c) for c in self._choices],
                                    id="choices")
            how = "a letter answers; " if self.hotkeys else ""
            yield Static(f"{how}Up/Down, Enter answers; Esc leaves it unanswered", classes="dialog-hint",
                         markup=False)

    def on_key(self, event: Key) -> None:
        choice = self.hotkeys.get((event.character or "").lower()) if event.character else None
        if choice is not None:
            event.stop()
            self.dismiss(choice)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PasswordDialog(Dialog[str | None]):
    CSS_PATH = STAGES_CSS
    """A masked password prompt (credentials whose plan source is ``prompt``), asked once per
    incident; the value goes straight to the credential store, never to the journal or screen."""

    BINDINGS: ClassVar[list[BindingType]] = _ESC

    def __init__(self, username: str, purpose: str) -> None:
        super().__init__(classes="dialog-screen")
        self._username, self._purpose = username, purpose

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Password needed", classes="dialog-title")
            yield Static(f"Password for {self._username} ({self._purpose}). It is kept in memory only.",
                         markup=False)
            yield Input(password=True, placeholder="password", id="password")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value:
            self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class _Detail(VerticalScroll):
    """A dialog's long text, scrolled by the arrows and PgUp/PgDn (it has the focus)."""


class PreflightDialog(Dialog[bool]):
    """What pre-flight found (#18 item 2): each server asked, what one lacks, who could not be
    asked and why. ``p`` runs it again (True), Enter / Esc closes (False)."""

    CSS_PATH = STAGES_CSS

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "close", "Close", id="close"),
        Binding("p", "again", "Pre-flight again", id="preflight-again"),
    ]

    def __init__(self, ok: bool, findings: tuple[str, ...], checked: tuple[str, ...], unchecked: tuple[str, ...]
                 ) -> None:
        super().__init__(classes="dialog-screen")
        self._ok, self._findings, self._checked, self._unchecked = ok, findings, checked, unchecked

    def compose(self) -> ComposeResult:
        head = ("Pre-flight: every server has what the procedure will ask of it" if self._ok else
                f"Pre-flight: {len(self._findings)} problem(s); no step runs until they are fixed")
        lines: list[str] = [f"! {f}" for f in self._findings]
        if self._checked:
            lines.append(f"Asked ({len(self._checked)}): {', '.join(self._checked)}")
        lines += [f"Not asked now: {u}" for u in self._unchecked]
        with Vertical(classes="dialog" + ("" if self._ok else " danger")):
            yield Label(head, classes="dialog-title")
            yield _Detail(Static("\n".join(lines), markup=False, id="preflight-detail"), classes="dialog-detail")
            yield Static("p: run pre-flight again   Enter / Esc: close", markup=False, classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(False)

    def action_again(self) -> None:
        self.dismiss(True)
