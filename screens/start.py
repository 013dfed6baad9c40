"""Start: the plan at a glance, who is at the keyboard, which incident, drill or live; or resume
an unfinished incident of this plan (where it stopped, which steps are in doubt)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, OptionList, RadioButton, RadioSet, Static
from textual.widgets.option_list import Option

from screens.base import StageScreen
from screens.modals import ConfirmTyped
from wizard.incident import UnfinishedIncident
from wizard.plan.commands import summary


def resume_label(u: UnfinishedIncident) -> str:
    doubt = f"; IN DOUBT: {', '.join(u.in_doubt)}" if u.in_doubt else ""
    torn = "; torn tail" if u.torn_tail else ""
    mode = "drill" if u.drill else "LIVE"
    when = u.last_at[5:16].replace("T", " ")
    return f"{u.incident} {mode} {u.operator[:10]} @{u.stage} {when}{doubt}{torn}"


class StartScreen(StageScreen):
    GUIDE = """Start a new incident, or resume one that was not closed.

Type your name and check the incident id (generated from the clock; edit it if your ticketing
system has one). Drill marks every journal entry as a drill. Live asks you to type the
organisation's name, and shows a red banner on every screen.

Resumable incidents of this plan are listed with the stage they stopped at and any step whose
outcome is in doubt (started, never finished): its pre-check runs again before it is offered."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *StageScreen.BINDINGS,
        Binding("ctrl+s", "begin", "Start incident", id="start-incident", priority=True),
        Binding("ctrl+r", "resume", "Resume selected", id="resume-incident", priority=True),
    ]

    def compose(self) -> ComposeResult:
        app = self.wizard
        yield Label(f"lync-restore: {app.loaded.plan.organisation.name}", classes="screen-title")
        lines = summary(app.loaded.plan, app.plan_label)
        yield Static("\n".join(lines[1:]), id="plan-summary", markup=False)
        with Horizontal(id="start-form"):
            with Vertical(classes="form-col"):
                yield Label("Operator")
                yield Input(app.defaults.operator, placeholder="your name", id="operator")
                yield Label("Incident id")
                yield Input(app.defaults.incident, id="incident")
            with RadioSet(id="mode"):
                yield RadioButton("Drill", value=app.defaults.mode == "drill", id="mode-drill")
                yield RadioButton("Live", value=app.defaults.mode == "live", id="mode-live")
        unfinished = app.unfinished()
        yield Label(f"Unfinished incidents of this plan: {len(unfinished)}"
                    + ("  (ctrl+r resumes the highlighted one)" if unfinished else ""), id="resume-title")
        yield OptionList(*[Option(resume_label(u), id=str(u.folder)) for u in unfinished], id="resume-list")
        yield from self.footer()

    def on_mount(self) -> None:
        self.query_one("#operator", Input).focus()

    @property
    def mode(self) -> str:
        return "live" if self.query_one("#mode-live", RadioButton).value else "drill"

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "operator":
            self.query_one("#incident", Input).focus()
        else:
            self.action_begin()

    def action_begin(self) -> None:
        operator = self.query_one("#operator", Input).value
        incident = self.query_one("#incident", Input).value.strip()
        if self.mode == "live":
            org = self.wizard.loaded.plan.organisation.name
            self.app.push_screen(
                ConfirmTyped("LIVE incident", f"This runs commands against {org}'s production servers. "
                             f"Type the organisation name to confirm:", org),
                lambda typed: self.wizard.begin(operator, incident, "live", typed) if typed else None)
        else:
            self.wizard.begin(operator, incident, "drill", None)

    def action_resume(self) -> None:
        lst = self.query_one("#resume-list", OptionList)
        if lst.highlighted is None:
            if lst.option_count:
                lst.highlighted = 0
                lst.focus()
            return
        option = lst.get_option_at_index(lst.highlighted)
        operator = self.query_one("#operator", Input).value.strip() or None
        self.wizard.resume(str(option.id), operator)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_resume()
