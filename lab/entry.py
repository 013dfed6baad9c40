"""``lync-restore drill`` and ``lync-restore`` alone: the wizard against the bundled lab.

Loaded by name by the command line (``wizard.cli.HANDLERS``), as ``run`` loads ``screens``: the
product never imports the lab. Light at module level, like :mod:`wizard.app_entry`: the start
screen shows before the lab is started; :class:`LabSource` starts it in the app's worker after
the first frame (``tests/unit/test_import_hygiene.py``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lab.defaults import DEFAULT_SCENARIO, DEFAULT_TIME_FACTOR
from wizard.app_entry import default_operator, journal_dir, new_incident_id, open_app
from wizard.errors import ExitCode, UsageError
from wizard.opening import Opening

if TYPE_CHECKING:  # loaded after the first frame, in the app's thread worker
    from lab.attach import KeptDrill
    from wizard.incident import Backend
    from wizard.plan import LoadedPlan


class LabSource:
    """The plan source of ``lync-restore drill``: in the app's worker after the first frame (the
    trainee sees the start screen at once), opens the scenario's drill plan and its labs, which
    run in keeper processes that outlive the terminal (:class:`lab.attach.KeptDrill`): a lab is
    ready for a new incident, and the lab of an unfinished incident is found again for its
    resume. :meth:`close` (when the app has left) stops the lab of a closed incident and a lab
    no incident used, and keeps the lab of an unfinished one."""

    def __init__(self, scenario: str, time_factor: float, auth: str | None = None, *,
                 journal_dir: Path) -> None:
        self.scenario = scenario
        self.time_factor = time_factor
        self.auth = auth
        self.journal_dir = journal_dir
        self.drill: KeptDrill | None = None

    def __call__(self) -> tuple[LoadedPlan, Backend]:
        from lab.attach import KeptDrill

        drill = self.drill = KeptDrill(self.scenario, journal_dir=self.journal_dir, time_factor=self.time_factor,
                                       auth=self.auth).start()
        assert drill.loaded is not None
        return drill.loaded, drill.backend

    def close(self) -> str | None:
        """Leave the labs as the incident needs them; the incident whose lab keeps running, if any."""
        return self.drill.leave() if self.drill is not None else None


#: a random drill's incident id starts so (``RND-20261207-1402``): ``drill --random`` resumes it
RANDOM_PREFIX = "RND-"


def random_scenario(journal: Path, operator: str, seed: int | None) -> str:
    """``drill --random``: the scenario of this trainee's unfinished random drill, if any (the same
    command resumes it); else a pick favouring the classes the trainee practised least."""
    from lab.history import pick_random, scored_drills, unfinished_scenario
    from lab.scenarios import SCENARIOS

    open_one = unfinished_scenario(journal, operator, RANDOM_PREFIX)
    if open_one is not None:
        return open_one
    by_class: dict[str, list[str]] = {}
    for s in SCENARIOS:
        by_class.setdefault(s.outage_class, []).append(s.name)
    return pick_random(by_class, scored_drills(journal, operator)[0], seed)


def kept_note(incident: str, scenario: str, journal_dir: str | None, *, hidden: bool = False,
              scenario_file: str | None = None) -> str:
    """What the trainee reads after leaving an unfinished drill: the lab waits for the resume.
    A drill of an instructor's file is resumed by that file (its absolute path: the name alone
    is found only where the file is kept in a scenario folder, docs/scenarios.md)."""
    where = f" --journal-dir {shlex.quote(journal_dir)}" if journal_dir else ""
    if hidden:
        return (f"The lab of drill {incident} keeps running in the background, as you left it.\n"
                f"  resume (then ctrl+r): lync-restore drill --random{where}\n"
                f"  stop it:              lync-restore drill --stop{where}\n")
    which = (f"--scenario-file {shlex.quote(str(Path(scenario_file).resolve()))}" if scenario_file
             else f"--scenario {shlex.quote(scenario)}")
    return (f"The lab of drill {incident} keeps running in the background, as you left it.\n"
            f"  resume (then ctrl+r): lync-restore drill {which}{where}\n"
            f"  stop it:              lync-restore drill --stop {which}{where}\n"
            "It also stops when the incident is closed, or after 8 h unused.")


def stop_command(args: argparse.Namespace, journal: Path) -> int:
    """``lync-restore drill --stop [--scenario S]``: stop the labs kept for resumes."""
    from lab.attach import stop_labs

    scenario = getattr(args, "scenario", None)
    found = stop_labs(journal, scenario)
    if not found:
        print(f"No drill lab{' of scenario ' + scenario if scenario else ''} is running for {journal}.")
    for s in found:
        whose = f" (incident {s.incident})" if s.incident else " (no incident used it)"
        print(f"{'Stopped' if s.was == 'stopped' else 'Removed the leftovers of'} the lab of scenario "
              f"{s.scenario}{whose}.")
    return ExitCode.OK


def drill_command(args: argparse.Namespace) -> int:
    """``lync-restore drill`` (and ``lync-restore`` alone): the wizard against the lab, or
    ``--headless`` without Textual (the lab in this process), or ``--stop``."""
    journal = journal_dir(args)
    if getattr(args, "scenario_file", None):  # an instructor's file: found by its name from here on
        from lab.scenarios import use_scenario_file

        if getattr(args, "scenario", None):
            raise UsageError("Give --scenario or --scenario-file, not both.")
        args.scenario = use_scenario_file(args.scenario_file)
    if getattr(args, "stop", False):
        return stop_command(args, journal)
    if getattr(args, "what", None) == "history":
        from lab.history import history_command

        return history_command(args, journal)
    hidden = bool(getattr(args, "random", False))
    if hidden:
        if getattr(args, "scenario", None):
            raise UsageError("--random picks the scenario: give --scenario or --random, not both.")
        args.scenario = random_scenario(journal, default_operator(getattr(args, "operator", None)),
                                        getattr(args, "seed", None))
    if getattr(args, "headless", False):
        from lab.drill import headless_command

        return headless_command(args, journal, sys.stdout, hidden=hidden)
    name = getattr(args, "scenario", None) or DEFAULT_SCENARIO
    factor = getattr(args, "time_factor", None) or DEFAULT_TIME_FACTOR
    source = LabSource(name, factor, getattr(args, "auth", None), journal_dir=journal)
    code = ExitCode.OK
    try:
        shown = "a random drill (its scenario is revealed with the score)" if hidden else name
        code = open_app(Opening(source, plan_label=f"lab: {shown}", journal_dir=journal,
                                operator=default_operator(getattr(args, "operator", None)),
                                incident=(RANDOM_PREFIX + new_incident_id()[4:]) if hidden else new_incident_id(),
                                mode="drill",
                                preparing=f"Starting the lab ({'random scenario' if hidden else 'scenario ' + name}) "
                                          "and reading its plan..."))
    finally:
        kept = source.close()
        if kept:
            given = getattr(args, "drill_journal_dir", None) or getattr(args, "journal_dir", None)
            print(kept_note(kept, name, given, hidden=hidden, scenario_file=getattr(args, "scenario_file", None)),
                  file=sys.stderr if code else sys.stdout, flush=True)
    return code
