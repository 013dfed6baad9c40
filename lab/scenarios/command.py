"""``lync-restore scenarios`` (the built-in and instructor scenarios, one line each) and
``lync-restore scenarios validate FILE...`` (every error of every file as
``FILE:LINE:COL: message``, exit 2; one line per valid file, exit 0)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from wizard.errors import ExitCode

if TYPE_CHECKING:
    from lab.scenarios.model import Scenario


def _line(s: Scenario, width: int, sections: int) -> str:
    path = ",".join(s.expected_path)
    return f"{s.name:<{width}}  {s.outage_class or '-'}  {path:<{sections}} {s.summary}"


def scenarios_command(args: argparse.Namespace) -> int:
    """``lync-restore scenarios [--dir DIR]``: one line per built-in drill, then the instructor
    scenarios found (``--dir``, ``$LYNC_RESTORE_SCENARIOS``, the user's config folder) with
    their files; the errors of instructor files that are not valid go to standard error."""
    from lab.scenarios import SCENARIOS, instructor_scenarios, scenario_dirs

    extra = getattr(args, "dir", None) or []
    theirs, errors = instructor_scenarios(extra)
    every = [*SCENARIOS, *theirs]
    width = max(len(s.name) for s in every)
    sections = max(len(",".join(s.expected_path)) for s in every)
    for s in SCENARIOS:
        sys.stdout.write(_line(s, width, sections) + "\n")
    if theirs:
        sys.stdout.write("\ninstructor scenarios:\n")
        for s in theirs:
            sys.stdout.write(f"{_line(s, width, sections)}\n{'':<{width}}  from {s.source}\n")
    else:
        looked = ", ".join(str(d) for d in scenario_dirs(extra))
        sys.stdout.write(f"\nno instructor scenarios (looked in {looked})\n")
    for line in errors:
        sys.stderr.write(line + "\n")
    if errors:
        sys.stderr.write("lync-restore: some instructor scenario files are invalid (not listed): "
                         "lync-restore scenarios validate FILE\n")
    return ExitCode.OK


def validate_command(args: argparse.Namespace) -> int:
    """``lync-restore scenarios validate FILE...``: every file read and checked; all errors at
    once (:class:`~lab.scenarios.fileformat.ScenarioError`, exit 2), else one line per file."""
    from lab.scenarios.fileformat import ScenarioError, load_scenario_file
    from wizard.errors import InputFileError

    errors: list[str] = []
    summaries: list[str] = []
    for path in args.files:
        try:
            s = load_scenario_file(path)
        except ScenarioError as err:
            errors += err.errors
            continue
        except InputFileError as err:
            errors.append(f"{path}:1:1: {err.message.removeprefix(f'{path}: ')}")
            continue
        timed = len(s.faults.sql_restore_fails) + len(s.faults.connection_drops)
        expected = ", ".join(f"{p}({t or '-'})" for p, t in s.expected_plan) or "nothing"
        summaries.append(f"{path}: valid: scenario {s.name} (class {s.outage_class or '-'}, "
                         f"§{', §'.join(s.expected_path) or '-'}), {len(s.faults.names())} fault kind(s), "
                         f"{timed} timed; expects {expected}")
    if errors:
        raise ScenarioError(errors)
    for line in summaries:
        sys.stdout.write(line + "\n")
    return ExitCode.OK
