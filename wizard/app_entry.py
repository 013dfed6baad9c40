"""``lync-restore run`` and ``lync-restore drill``: the entry points that open the wizard.

The Textual app lives in ``screens``; it is loaded by name only here (importlib), so importing
the core never loads Textual (import-linter contract). ``run`` opens the organisation's plan;
``drill`` starts the lab for a scenario (:class:`wizard.drill.LabDrill`), opens the wizard on the
lab's plan copy in drill mode with the real core, and stops the lab on exit; ``drill --headless``
plays the same session without Textual (:func:`wizard.drill.headless_command`).
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import os
import sys
from importlib import resources
from pathlib import Path

from wizard.errors import ExitCode
from wizard.incident import Backend, Mode, new_incident_id
from wizard.journal import default_journal_dir
from wizard.plan import LoadedPlan, load_plan
from wizard.remote.credentials import PromptBridge


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


def _journal_dir(args: argparse.Namespace) -> Path:
    given = getattr(args, "drill_journal_dir", None) or getattr(args, "journal_dir", None)
    return Path(given) if given else default_journal_dir()


def open_app(loaded: LoadedPlan, *, plan_label: str, journal_dir: Path, operator: str, incident: str,
             mode: Mode, backend: Backend | None = None, prompt_bridge: PromptBridge | None = None) -> int:
    """Build and run the Textual app (imported by name) and return its exit code."""
    app_module = importlib.import_module("screens.app")
    defaults = app_module.Defaults(operator, incident, mode)
    app = app_module.WizardApp(loaded, plan_label=plan_label, journal_dir=journal_dir, defaults=defaults,
                               backend=backend, prompt_bridge=prompt_bridge)
    code = app.run()
    return int(code) if isinstance(code, int) else ExitCode.OK


def run_command(args: argparse.Namespace) -> int:
    from wizard.core_backend import BackendOptions, CoreBackend
    from wizard.remote.credentials import CredentialStore

    loaded = load_plan(args.plan)
    bridge = PromptBridge()  # the app attaches its masked password dialog
    backend = CoreBackend(BackendOptions(CredentialStore(loaded.plan, prompt=bridge)))
    try:
        return open_app(loaded, plan_label=str(args.plan), journal_dir=_journal_dir(args),
                        operator=default_operator(args.operator), incident=args.incident or new_incident_id(),
                        mode="drill" if args.drill else "live", backend=backend, prompt_bridge=bridge)
    finally:
        backend.close()


def drill_command(args: argparse.Namespace) -> int:
    from wizard import drill

    if getattr(args, "headless", False):
        return drill.headless_command(args, _journal_dir(args), sys.stdout)
    name = getattr(args, "scenario", None) or drill.DEFAULT_SCENARIO
    factor = getattr(args, "time_factor", None) or drill.DEFAULT_TIME_FACTOR
    with drill.LabDrill(name, time_factor=factor) as lab:
        assert lab.loaded is not None
        return open_app(lab.loaded, plan_label=f"lab: {name}", journal_dir=_journal_dir(args),
                        operator=default_operator(getattr(args, "operator", None)), incident=new_incident_id(),
                        mode="drill", backend=lab.backend)
