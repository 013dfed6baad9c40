"""``lync-restore run``: the entry point that opens the wizard on an organisation's plan.

The Textual app lives in ``screens``; it is loaded by name only here (importlib), so importing
the core never loads Textual (import-linter contract). The app opens on the start screen and
runs a plan source (:mod:`wizard.opening`) in its worker after the first frame: ``run`` reads the
plan and builds the real backend (:class:`PlanReader`). ``lync-restore drill`` (in the ``lab``
package, loaded by name by the command line) opens the same app through :func:`open_app` with a
source that starts the lab first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard.errors import ExitCode
from wizard.opening import Opening
from wizard.remote.prompt import PromptBridge

if TYPE_CHECKING:  # loaded after the first frame, in the app's thread worker (see wizard.opening)
    from wizard.core_backend import CoreBackend
    from wizard.incident import Backend
    from wizard.plan import LoadedPlan


def bundled_plan(name: str = "lab.yaml") -> Path:
    from importlib import resources  # not needed for `run`'s first frame

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


def new_incident_id(now: dt.datetime | None = None) -> str:
    """The start form's generated id, as :func:`wizard.incident.new_incident_id` makes it (the same
    format, ``INC-20261125-0312``; a test holds them equal) without loading the incident module,
    the plan model and the journal before the first frame."""
    return (now or dt.datetime.now(dt.UTC)).strftime("INC-%Y%m%d-%H%M")


def journal_dir(args: argparse.Namespace) -> Path:
    given = getattr(args, "drill_journal_dir", None) or getattr(args, "journal_dir", None)
    if given:
        return Path(given)
    from wizard.journal import default_journal_dir

    return default_journal_dir()


class PlanReader:
    """The plan source of ``lync-restore run``: reads the plan and builds the real backend (the
    transports and the procedure library), in the app's worker after the first frame. Remembers
    the backend so the command can close it when the app has left."""

    def __init__(self, plan: Path | str, prompt: PromptBridge, *, drill: bool = False) -> None:
        self.plan = Path(plan)
        self.prompt = prompt
        self.drill = drill
        self.backend: CoreBackend | None = None

    def __call__(self) -> tuple[LoadedPlan, Backend]:
        from wizard.core_backend import BackendOptions, CoreBackend, check_isolation
        from wizard.plan import load_plan
        from wizard.remote.credentials import CredentialStore

        loaded = load_plan(self.plan)
        if self.drill:  # the same guard as `lync-restore drill`, before any name is resolved
            check_isolation(loaded.plan)
        backend = self.backend = CoreBackend(BackendOptions(CredentialStore(loaded.plan, prompt=self.prompt),
                                                            loopback_only=self.drill))
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
    farewell = getattr(app, "farewell", None)
    if farewell:
        print(farewell, flush=True)  # after the app left: the terminal is the shell's again
    return int(code) if isinstance(code, int) else ExitCode.OK


def run_command(args: argparse.Namespace) -> int:
    bridge = PromptBridge()  # the app attaches its masked password dialog
    reader = PlanReader(args.plan, bridge, drill=bool(args.drill))
    try:
        return open_app(Opening(reader, plan_label=str(args.plan), journal_dir=journal_dir(args),
                                operator=default_operator(args.operator),
                                incident=args.incident or new_incident_id(),
                                mode="drill" if args.drill else "live"), bridge)
    finally:
        reader.close()
