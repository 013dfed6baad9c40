"""``lync-restore run`` and ``lync-restore drill``: the entry points that open the wizard.

The Textual app lives in ``screens``; it is loaded by name only here, so importing the core
never loads Textual. Until the screens land, ``drill`` checks the bundled lab plan and says
what it would open; ``run`` says it is not built yet.
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from wizard.errors import ExitCode, NotBuiltError
from wizard.plan import load_plan
from wizard.plan.commands import summary


def bundled_plan(name: str = "lab.yaml") -> Path:
    return Path(str(resources.files("plans").joinpath(name)))


def run_command(args: argparse.Namespace) -> int:
    load_plan(args.plan)  # a broken plan is reported even before the UI exists
    raise NotBuiltError("'lync-restore run' needs the wizard screens, which are not built yet; "
                        "use 'lync-restore runbook' or 'validate' meanwhile.")


def drill_command(args: argparse.Namespace) -> int:
    plan_path = bundled_plan()
    loaded = load_plan(plan_path)
    print("\n".join(summary(loaded.plan, str(plan_path))))
    print()
    print("The interactive drill opens here once the wizard screens are built; "
          "meanwhile 'lync-restore scenarios' and 'lync-restore lab serve' run the lab.")
    return ExitCode.OK
