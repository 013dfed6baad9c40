"""``lync-restore run`` and ``lync-restore drill``: the entry points that open the wizard.

The Textual app lives in ``screens``; it is loaded by name only here (importlib), so importing
the core never loads Textual (import-linter contract). ``run`` opens the organisation's plan;
``drill`` opens the bundled lab plan in drill mode. Until the lab runtime lands, a drill does not
start the lab: the stages that need the assessment, catalogue or procedure modules say which
part is not built yet.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import os
from importlib import resources
from pathlib import Path

from wizard.errors import ExitCode
from wizard.incident import Mode, new_incident_id
from wizard.journal import default_journal_dir
from wizard.plan import LoadedPlan, load_plan


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
    given = getattr(args, "journal_dir", None)
    return Path(given) if given else default_journal_dir()


def open_app(loaded: LoadedPlan, *, plan_label: str, journal_dir: Path, operator: str, incident: str,
             mode: Mode) -> int:
    """Build and run the Textual app (imported by name) and return its exit code."""
    app_module = importlib.import_module("screens.app")
    defaults = app_module.Defaults(operator, incident, mode)
    app = app_module.WizardApp(loaded, plan_label=plan_label, journal_dir=journal_dir, defaults=defaults)
    code = app.run()
    return int(code) if isinstance(code, int) else ExitCode.OK


def run_command(args: argparse.Namespace) -> int:
    loaded = load_plan(args.plan)
    return open_app(loaded, plan_label=str(args.plan), journal_dir=_journal_dir(args),
                    operator=default_operator(args.operator), incident=args.incident or new_incident_id(),
                    mode="drill" if args.drill else "live")


def drill_command(args: argparse.Namespace) -> int:
    plan_path = bundled_plan()
    loaded = load_plan(plan_path)
    return open_app(loaded, plan_label="lab.yaml (bundled)", journal_dir=_journal_dir(args),
                    operator=default_operator(getattr(args, "operator", None)), incident=new_incident_id(),
                    mode="drill")
