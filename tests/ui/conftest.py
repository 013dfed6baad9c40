"""UI test fixtures: an app factory on the bundled lab plan with a scripted backend, a bounded
wait, and a pinned clock for snapshots."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from screens.app import WizardApp
from wizard.incident import Backend, Mode
from wizard.opening import Opening, loaded_source
from wizard.plan import load_plan

PLAN = Path(__file__).resolve().parents[2] / "plans" / "lab.yaml"

AppFactory = Callable[..., WizardApp]


@pytest.fixture
def journal_dir(tmp_path: Path) -> Path:
    return tmp_path / "incidents"


@pytest.fixture
def make_app(journal_dir: Path) -> AppFactory:
    loaded = load_plan(PLAN)

    def factory(backend: Backend | None = None, *, operator: str = "alice", incident: str = "INC-UI",
                mode: Mode = "drill") -> WizardApp:
        return WizardApp(Opening(loaded_source(loaded, backend), "plans/lab.yaml", journal_dir, operator,
                                 incident, mode))

    return factory


async def wait_for(pilot: Pilot[object], predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Let the app run until ``predicate`` holds; fail after ``timeout`` seconds (generous: a
    failed wait inside a snapshot's run_before leaves Textual's screenshot run waiting, so a
    loaded 2-core machine must not trip it)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            from tests.ui.screen_text import screen_text

            raise AssertionError(f"timed out after {timeout}s waiting for the UI; the screen:\n"
                                 + screen_text(pilot.app))
        await pilot.pause(0.02)
    await asyncio.sleep(0)


@pytest.fixture
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    """Journal times advance one second per entry from 2026-11-25 03:00 UTC; the session clock is fixed."""
    start = dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC)
    counter = itertools.count()

    def journal_now() -> str:
        return (start + dt.timedelta(seconds=next(counter))).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    import wizard.incident
    import wizard.journal

    monkeypatch.setattr(wizard.journal, "now_utc", journal_now)
    monkeypatch.setattr(wizard.incident, "utcnow", lambda: start + dt.timedelta(minutes=12))
    return start
