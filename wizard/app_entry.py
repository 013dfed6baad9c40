"""``lync-restore run`` and ``lync-restore drill``: the entry points that open the wizard.

The Textual app lives in ``screens``; it is loaded by name only here (importlib), so importing
the core never loads Textual (import-linter contract). Both open the start screen first and
hand the app a plan source (:mod:`wizard.opening`) that its worker runs after the first frame:
``run`` reads the organisation's plan and builds the real backend (:class:`PlanReader`);
``drill`` starts the lab for a scenario and opens its plan copy in drill mode with the real core
(:class:`LabSource`), and stops the lab on exit; ``drill --headless`` plays the same session
without Textual (:func:`wizard.drill.headless_command`).
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import os
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard.errors import ExitCode
from wizard.opening import Opening
from wizard.remote.prompt import PromptBridge

if TYPE_CHECKING:  # loaded after the first frame, in the app's thread worker (see wizard.opening)
    from wizard.core_backend import CoreBackend
    from wizard.drill import LabDrill
    from wizard.incident import Backend
    from wizard.plan import LoadedPlan


def bundled_plan(name: str = "lab.yaml") -> Path:
    return Path(str(resources.files("plans").joinpath(name)))


def default_operator(given: str | None) -> str:
    if given:
        return given
    env = os.environ.get("LYNC_RESTORE_OPERATOR")
    if env:
        return env
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def new_incident_id() -> str:
    from wizard.incident import new_incident_id as make

    return make()


def _journal_dir(args: argparse.Namespace) -> Path:
    given = getattr(args, "drill_journal_dir", None) or getattr(args, "journal_dir", None)
    if given:
        return Path(given)
    from wizard.journal import default_journal_dir

    return default_journal_dir()


class PlanReader:
    """The plan source of ``lync-restore run``: reads the plan and builds the real backend (the
    transports and the procedure library), in the app's worker after the first frame. Remembers
    the backend so the command can close it when the app has left."""

    def __init__(self, plan: Path | str, prompt: PromptBridge) -> None:
        self.plan = Path(plan)
        self.prompt = prompt
        self.backend: CoreBackend | None = None

    def __call__(self) -> tuple[LoadedPlan, Backend | None]:
        from wizard.core_backend import BackendOptions, CoreBackend
        from wizard.plan import load_plan
        from wizard.remote.credentials import CredentialStore

        loaded = load_plan(self.plan)
        backend = self.backend = CoreBackend(BackendOptions(CredentialStore(loaded.plan, prompt=self.prompt)))
        return loaded, backend

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()


def build_app(opening: Opening, prompt_bridge: PromptBridge | None = None) -> Any:
    """The Textual app (imported by name: the core never imports Textual)."""
    app_module = importlib.import_module("screens.app")
    return app_module.WizardApp(opening, prompt_bridge=prompt_bridge)


def open_app(opening: Opening, prompt_bridge: PromptBridge | None = None) -> int:
    """Run the app and return its exit code; a plan that could not be read is raised here (the
    command line prints its FILE:LINE:COL lines, exit 2)."""
    app = build_app(opening, prompt_bridge)
    code = app.run()
    if app.failure is not None:
        raise app.failure
    return int(code) if isinstance(code, int) else ExitCode.OK


def run_command(args: argparse.Namespace) -> int:
    bridge = PromptBridge()  # the app attaches its masked password dialog
    reader = PlanReader(args.plan, bridge)
    try:
        return open_app(Opening(reader, plan_label=str(args.plan), journal_dir=_journal_dir(args),
                                operator=default_operator(args.operator),
                                incident=args.incident or new_incident_id(),
                                mode="drill" if args.drill else "live"), bridge)
    finally:
        reader.close()


class LabSource:
    """The plan source of ``lync-restore drill``: starts the lab for the scenario (its WinRM and
    TDS listeners, its plan copy) in the app's worker after the first frame, so the trainee sees
    the start screen at once; :meth:`close` stops the lab when the app has left."""

    def __init__(self, scenario: str, time_factor: float) -> None:
        self.scenario = scenario
        self.time_factor = time_factor
        self.drill: LabDrill | None = None

    def __call__(self) -> tuple[LoadedPlan, Backend | None]:
        from wizard.drill import LabDrill

        drill = self.drill = LabDrill(self.scenario, time_factor=self.time_factor).start()
        assert drill.loaded is not None
        return drill.loaded, drill.backend

    def close(self) -> None:
        if self.drill is not None:
            self.drill.stop()


def drill_command(args: argparse.Namespace) -> int:
    if getattr(args, "headless", False):
        from wizard import drill

        return drill.headless_command(args, _journal_dir(args), sys.stdout)
    from wizard.lab.defaults import DEFAULT_SCENARIO, DEFAULT_TIME_FACTOR

    name = getattr(args, "scenario", None) or DEFAULT_SCENARIO
    factor = getattr(args, "time_factor", None) or DEFAULT_TIME_FACTOR
    source = LabSource(name, factor)
    try:
        return open_app(Opening(source, plan_label=f"lab: {name}", journal_dir=_journal_dir(args),
                                operator=default_operator(getattr(args, "operator", None)),
                                incident=new_incident_id(), mode="drill",
                                preparing=f"Starting the lab (scenario {name}) and reading its plan..."))
    finally:
        source.close()
