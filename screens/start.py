"""Start: the plan at a glance, who is at the keyboard, which incident, drill or live; or resume
an unfinished incident of this plan (where it stopped, which steps are in doubt).

The form is on screen (and takes keys) before the plan is read: the app reads the plan, builds
the backend and scans the journals in a thread worker after the first frame, then calls
:meth:`StartScreen.show_ready`. Ctrl+S pressed before that starts the incident once it is ready.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from screens.base import StageScreen
from screens.widgets.mode_switch import ModeSwitch

if TYPE_CHECKING:
    from wizard.incident import UnfinishedIncident
    from wizard.opening import Ready


def resume_label(u: UnfinishedIncident) -> str:
    doubt = f"; IN DOUBT: {', '.join(u.in_doubt)}" if u.in_doubt else ""
    torn = "; torn tail" if u.torn_tail else ""
    changed = "; PLAN CHANGED since opened" if u.plan_changed else ""
    changed += f"; DRIVEN by {u.driven_by[:10]} now" if u.driven_by else ""
    mode = "drill" if u.drill else "LIVE"
    when = u.last_at[5:16].replace("T", " ")
    return f"{u.incident} {mode} {u.operator[:10]} @{u.stage} {when}{doubt}{torn}{changed}"


_LABELS = {"operator": "Operator", "incident": "Incident id", "mode": "Mode (space switches)"}


class StartScreen(StageScreen):
    CSS_PATH = None  # app.tcss has the start screen's rules: nothing more to parse for the first frame
    GUIDE = """Start a new incident, or resume one that was not closed.

Type your name and check the incident id (generated from the clock; edit it if your ticketing
system has one). Tab to Mode: space, the arrows, d or l switch between drill and live. Drill
marks every journal entry as a drill. Live asks you to type the organisation's name, and shows a
red banner on every screen.

Resumable incidents of this plan are listed with the stage they stopped at and any step whose
outcome is in doubt (started, never finished): its pre-check runs again before it is offered."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *StageScreen.BINDINGS,
        Binding("ctrl+s", "begin", "Start incident", id="start-incident", priority=True),
        Binding("ctrl+r", "resume", "Resume selected", id="resume-incident", priority=True),
    ]

    _begin_when_ready = False

    def compose(self) -> ComposeResult:
        opening = self.wizard.opening
        yield Label(f"lync-restore: {opening.plan_label}", classes="screen-title", id="start-title")
        with VerticalScroll(id="plan-box"):  # a long plan scrolls: Tab reaches it, the arrows move it
            yield Static(opening.preparing or f"Reading the plan {opening.plan_label}...", id="plan-summary",
                         markup=False)
        with Horizontal(id="start-form"):
            with Vertical(classes="form-col"):
                yield Label("  " + _LABELS["operator"], id="operator-label")
                yield Input(opening.operator, placeholder="your name", id="operator")
                yield Label("  " + _LABELS["incident"], id="incident-label")
                yield Input(opening.incident, id="incident")
            with Vertical(id="mode-col"):
                yield Label("  " + _LABELS["mode"], id="mode-label")
                yield ModeSwitch(opening.mode == "live", id="mode")
        yield Label("Unfinished incidents of this plan: looking...", id="resume-title")
        yield from self.footer()  # the resume list is mounted when there is something to resume

    def on_mount(self) -> None:
        self.query_one("#operator", Input).focus()

    def on_descendant_focus(self) -> None:
        """The focused field's label starts with ``>``: focus is a glyph as well as a colour (#16
        item 8)."""
        focused = self.app.focused.id if self.app.focused is not None else None
        for field, text in _LABELS.items():
            self.query_one(f"#{field}-label", Label).update(("> " if focused == field else "  ") + text)

    async def show_ready(self, ready: Ready) -> None:
        """The plan is read: show its summary and the unfinished incidents; start if asked to."""
        if ready.unfinished and not self.query("#resume-list"):  # the list first: the count never shows alone
            from screens.widgets.pointed import PointedOptionList  # after the first frame

            await self.mount(PointedOptionList(*[Option(resume_label(u), id=str(u.folder)) for u in ready.unfinished],
                                        id="resume-list"), after="#resume-title")
        self.query_one("#start-title", Label).update(f"lync-restore: {ready.organisation}")
        self.query_one("#plan-summary", Static).update("\n".join(ready.summary))
        self.query_one("#resume-title", Label).update(
            f"Unfinished incidents of this plan: {len(ready.unfinished)}"
            + ("  (ctrl+r resumes the highlighted one)" if ready.unfinished else ""))
        if self._begin_when_ready:
            self._begin_when_ready = False
            self.action_begin()

    @property
    def mode(self) -> str:
        return "live" if self.query_one("#mode", ModeSwitch).live else "drill"

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "operator":
            self.query_one("#incident", Input).focus()
        else:
            self.action_begin()

    def action_begin(self) -> None:
        ready = self.wizard.ready
        if ready is None:  # still reading the plan: start as soon as it is read
            self._begin_when_ready = True  # the summary line already says the plan is being read
            return
        operator = self.query_one("#operator", Input).value
        incident = self.query_one("#incident", Input).value.strip()
        if self.mode == "live":
            from screens.modals import ConfirmTyped  # not needed for the first frame

            org = ready.organisation

            def confirmed(typed: str | None) -> None:
                if typed:
                    self.wizard.begin(operator, incident, "live", typed)

            self.app.push_screen(
                ConfirmTyped("LIVE incident", f"This runs commands against {org}'s production servers. "
                             f"Type the organisation name to confirm:", org),
                confirmed)
        else:
            self.wizard.begin(operator, incident, "drill", None)

    def action_resume(self) -> None:
        if self.wizard.ready is None:
            self.notify("Still reading the plan and looking for unfinished incidents.")
            return
        found = self.query("#resume-list").results(OptionList)
        lst = next(found, None)
        if lst is None:
            self.notify("There is no unfinished incident of this plan to resume.")
            return
        if lst.highlighted is None:
            if lst.option_count:
                lst.highlighted = 0
                lst.focus()
            return
        option = lst.get_option_at_index(lst.highlighted)
        operator = self.query_one("#operator", Input).value.strip() or None
        unfinished = self.wizard.ready.unfinished if self.wizard.ready is not None else ()
        chosen = next((u for u in unfinished if str(u.folder) == option.id), None)
        if chosen is not None and chosen.plan_changed:
            self.ask_plan_change(chosen, operator)
            return
        self.wizard.resume(str(option.id), operator)

    def ask_plan_change(self, chosen: UnfinishedIncident, operator: str | None) -> None:
        """The plan file changed since the incident was opened: show how, and ask (#16)."""
        from screens.modals import ConfirmDialog
        from wizard.incident import plan_change

        diff = plan_change(chosen.folder, self.wizard.loaded)

        def answered(yes: bool | None) -> None:
            if yes:
                self.wizard.resume(str(chosen.folder), operator, plan_change_accepted=True)

        self.app.push_screen(ConfirmDialog(
            f"The plan changed since {chosen.incident} was opened. Resume with the plan as it is now?",
            "\n".join(diff) or "(no difference in the text)"), answered)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_resume()
