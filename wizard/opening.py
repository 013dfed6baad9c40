"""Opening the wizard: what must be ready before an incident can start, prepared after the
first frame.

The start screen appears before the plan is read: the operator can type their name and the
incident id while a thread worker reads and validates the plan, builds the backend (the
transports, the procedure library: the costly imports) and scans the journal folder for
unfinished incidents of this plan. This module is the core side of that: :class:`Opening` says
where the plan comes from, :func:`prepare` does the work and returns :class:`Ready`.

It imports almost nothing at module level (the UI imports it for its first frame); the plan,
journal and incident modules are loaded inside :func:`prepare`, off the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wizard.incident import Backend, Mode, UnfinishedIncident
    from wizard.plan import LoadedPlan

#: Reads the plan and builds the backend. Runs in a thread.
PlanSource = Callable[[], "tuple[LoadedPlan, Backend]"]


@dataclass(frozen=True)
class Opening:
    """Everything the app is given: where the plan comes from and the start form's defaults."""

    source: PlanSource
    plan_label: str
    journal_dir: Path
    operator: str
    incident: str
    mode: Mode
    preparing: str = ""  # what the start screen says while the source works (default: reading the plan)


@dataclass(frozen=True)
class Ready:
    """The plan read and checked, the backend built, the journal folder scanned."""

    loaded: LoadedPlan
    backend: Backend
    organisation: str
    summary: tuple[str, ...]  # the plan at a glance (``validate``'s summary without its first line)
    unfinished: tuple[UnfinishedIncident, ...]


def loaded_source(loaded: LoadedPlan, backend: Backend) -> PlanSource:
    """A source for a plan already read (drills: the lab read it; tests)."""
    return lambda: (loaded, backend)


def prepare(opening: Opening) -> Ready:
    """Read the plan (raises :class:`~wizard.errors.PlanError` with every FILE:LINE:COL), build the
    backend, summarise the plan and list its unfinished incidents, newest first."""
    from wizard.incident import unfinished_incidents
    from wizard.plan.commands import summary

    loaded, backend = opening.source()
    lines = summary(loaded.plan, opening.plan_label)
    return Ready(loaded, backend, loaded.plan.organisation.name, tuple(lines[1:]),
                 tuple(unfinished_incidents(opening.journal_dir, loaded)))

