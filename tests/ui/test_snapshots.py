"""Snapshots of every screen at 80x24 with a pinned clock (pytest-textual-snapshot 1.1.0)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from screens.assessment import AssessmentScreen
from screens.backup import BackupScreen
from screens.help import HelpScreen
from screens.restore import RestoreScreen
from screens.summary import SummaryScreen
from screens.verify import VerifyScreen
from tests.ui.conftest import AppFactory, wait_for
from tests.ui.screen_text import screen_text
from tests.ui.scripted_backend import ScriptedBackend

SIZE = (80, 24)


async def _to_assessment(pilot: Pilot[Any]) -> None:
    app = pilot.app
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ChoiceDialog")
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, AssessmentScreen) and app.screen.recommendation is not None)


async def _to_backup(pilot: Pilot[Any]) -> None:
    await _to_assessment(pilot)
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, BackupScreen) and pilot.app.screen.choice is not None)


async def _to_restore(pilot: Pilot[Any]) -> None:
    await _to_backup(pilot)
    await pilot.press("a")
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, RestoreScreen) and app.screen.checklist is not None)
    await pilot.press("down", "r")
    await wait_for(pilot, lambda: app.screen.running is None and "be-stop-services" in app.session.state.steps
                   and app.session.state.steps["be-stop-services"].status == "done")


async def _to_verify(pilot: Pilot[Any]) -> None:
    await _to_restore(pilot)
    app = pilot.app
    await pilot.press("s", *"recreated by hand", "enter")  # the highlight is back on step 1
    await wait_for(pilot, lambda: "be-install-databases" in app.session.state.steps)
    for sid in ("be-import-user-data", "be-start-services"):
        await pilot.press("r")
        await wait_for(pilot, lambda sid=sid: app.screen.running is None and sid in app.session.state.steps
                       and app.session.state.steps[sid].status == "done")
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, VerifyScreen) and "failed" in str(
        app.screen.query_one("#verify-detail").render()))


async def _to_summary(pilot: Pilot[Any]) -> None:
    await _to_verify(pilot)
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SummaryScreen))


async def _help(pilot: Pilot[Any]) -> None:
    await _to_backup(pilot)
    await pilot.press("f1")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))


async def _confirm(pilot: Pilot[Any]) -> None:
    await _to_restore(pilot)  # the highlight is back on step 1, destructive
    await pilot.press("r")
    await wait_for(pilot, lambda: pilot.app.screen.__class__.__name__ == "ConfirmTyped"
                   and "Destructive step" in screen_text(pilot.app))


async def _quit(pilot: Pilot[Any]) -> None:
    await _to_assessment(pilot)
    await pilot.press("ctrl+q")
    await wait_for(pilot, lambda: "Quit the wizard?" in screen_text(pilot.app))


async def _journal(pilot: Pilot[Any]) -> None:
    await _to_backup(pilot)
    await pilot.press("ctrl+p", *"journal viewer")
    await pilot.pause(0.3)
    await pilot.press("enter")
    await wait_for(pilot, lambda: pilot.app.screen.__class__.__name__ == "JournalViewer")
    await pilot.press("down", "down", "down")  # an entry whose detail holds no machine-specific path
    await wait_for(pilot, lambda: "#4 " in screen_text(pilot.app))


async def _plan_read(pilot: Pilot[Any]) -> None:
    await wait_for(pilot, lambda: "Unfinished incidents of this plan: 0" in screen_text(pilot.app))


@pytest.mark.parametrize(("name", "steps", "mode"), [
    ("start", _plan_read, "drill"),
    ("start_live", _plan_read, "live"),
    ("assessment", _to_assessment, "drill"),
    ("backup", _to_backup, "drill"),
    ("restore", _to_restore, "drill"),
    ("verify", _to_verify, "drill"),
    ("summary", _to_summary, "drill"),
    ("help", _help, "drill"),
    ("confirm_destructive", _confirm, "drill"),
    ("quit", _quit, "drill"),
    ("journal_viewer", _journal, "drill"),
])
def test_screen_snapshot(name: str, steps: Callable[[Pilot[Any]], Awaitable[None]], mode: str,
                         make_app: AppFactory, pinned_clock: dt.datetime, snap_compare: Any) -> None:
    backend = ScriptedBackend("be-lost", failing_checks={"services"})
    app = make_app(backend, mode=mode)
    assert snap_compare(app, terminal_size=SIZE, run_before=steps)
