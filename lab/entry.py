"""``lync-restore drill`` and ``lync-restore`` alone: the wizard against the bundled lab.

Loaded by name by the command line (``wizard.cli.HANDLERS``), as ``run`` loads ``screens``: the
product never imports the lab. Light at module level, like :mod:`wizard.app_entry`: the start
screen shows before the lab is started; :class:`LabSource` starts it in the app's worker after
the first frame (``tests/unit/test_import_hygiene.py``).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from lab.defaults import DEFAULT_SCENARIO, DEFAULT_TIME_FACTOR
from wizard.app_entry import default_operator, journal_dir, new_incident_id, open_app
from wizard.opening import Opening

if TYPE_CHECKING:  # loaded after the first frame, in the app's thread worker
    from lab.drill import LabDrill
    from wizard.incident import Backend
    from wizard.plan import LoadedPlan


class LabSource:
    """The plan source of ``lync-restore drill``: starts the lab for the scenario (its WinRM and
    TDS listeners, its plan copy) in the app's worker after the first frame, so the trainee sees
    the start screen at once; :meth:`close` stops the lab when the app has left."""

    def __init__(self, scenario: str, time_factor: float, auth: str | None = None) -> None:
        self.scenario = scenario
        self.time_factor = time_factor
        self.auth = auth
        self.drill: LabDrill | None = None

    def __call__(self) -> tuple[LoadedPlan, Backend]:
        from lab.drill import LabDrill

        drill = self.drill = LabDrill(self.scenario, time_factor=self.time_factor, auth=self.auth).start()
        assert drill.loaded is not None
        return drill.loaded, drill.backend

    def close(self) -> None:
        if self.drill is not None:
            self.drill.stop()


def drill_command(args: argparse.Namespace) -> int:
    """``lync-restore drill`` (and ``lync-restore`` alone): the wizard against the lab, or
    ``--headless`` without Textual."""
    if getattr(args, "headless", False):
        from lab.drill import headless_command

        return headless_command(args, journal_dir(args), sys.stdout)
    name = getattr(args, "scenario", None) or DEFAULT_SCENARIO
    factor = getattr(args, "time_factor", None) or DEFAULT_TIME_FACTOR
    source = LabSource(name, factor, getattr(args, "auth", None))
    try:
        return open_app(Opening(source, plan_label=f"lab: {name}", journal_dir=journal_dir(args),
                                operator=default_operator(getattr(args, "operator", None)),
                                incident=new_incident_id(), mode="drill",
                                preparing=f"Starting the lab (scenario {name}) and reading its plan..."))
    finally:
        source.close()
