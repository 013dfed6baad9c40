"""Named outages for drills: each breaks the lab the way a real incident would, says which
documented recovery path fixes it, and scores the result.

A scenario is a YAML file (``docs/scenarios.md``, :mod:`lab.scenarios.fileformat`): its name, a
one-line summary, the §5.3 outage class (A-I), the plan it runs on (and changes to it), what
breaks (``broken:``, the named actions of :mod:`lab.scenarios.vocabulary`), what says service
is back (``restored_when:``), extra :class:`Faults` (static, and timed ones that strike once at
a moment of the recovery), what the instructor expects (the plan of action, the backup set),
the scoring weights. Read, it is a :class:`Scenario`: ``apply(dep)`` writes the backup sets
while the deployment is healthy, then breaks it; ``service_restored(dep)`` is an empty list
when service is back, else one sentence per thing still wrong.

:data:`SCENARIOS` are the built-in drills (``lab/scenarios/builtin/*.yaml``, read when first
used). :data:`CALM` is no drill: the organisation's ordinary day with nothing broken, for
readiness checks and ``lync-restore lab serve --scenario calm`` (with faults added by
:meth:`Scenario.with_faults`); :func:`scenario` finds it, :func:`drill_scenario` does not.
Instructor scenarios live in directories (:func:`scenario_dirs`: ``$LYNC_RESTORE_SCENARIOS``,
then the user's config folder) or are named by file; :func:`scenario` and
:func:`drill_scenario` find them by name after the built-in ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from lab.scenarios.command import scenarios_command, validate_command
from lab.scenarios.fileformat import ScenarioError, load_scenario_file, schema_document
from lab.scenarios.model import ConnectionDrop, Faults, Scenario, SqlRestoreFails
from lab.scoring import DEFAULT_WEIGHTS

__all__ = [
    "CALM",
    "DEFAULT_WEIGHTS",
    "ENV_DIRS",
    "SCENARIOS",
    "ConnectionDrop",
    "Faults",
    "Scenario",
    "ScenarioError",
    "SqlRestoreFails",
    "builtin_files",
    "drill_scenario",
    "instructor_file",
    "instructor_scenarios",
    "load_scenario_file",
    "scenario",
    "scenario_dirs",
    "scenarios_command",
    "schema_document",
    "use_scenario_file",
    "validate_command",
]

#: directories of instructor scenarios (``os.pathsep``-separated), searched before the user's config folder
ENV_DIRS = "LYNC_RESTORE_SCENARIOS"

SCENARIOS: tuple[Scenario, ...]  # the built-in drills: read from their files when first used (__getattr__)
CALM: Scenario  # not a drill: nothing is broken (readiness checks, ``lab serve --scenario calm``)

_BUILTIN: dict[str, Scenario] = {}


def builtin_files() -> list[Path]:
    """The built-in scenario files, in the order ``lync-restore scenarios`` lists them."""
    folder = Path(str(resources.files("lab.scenarios.builtin")))
    return sorted(folder.glob("[0-9][0-9]-*.yaml"))  # NN-name.yaml: the number orders the list


def _builtins() -> dict[str, Scenario]:
    if not _BUILTIN:
        loaded = {s.name: s for s in (load_scenario_file(p) for p in builtin_files())}
        _BUILTIN.update({name: _builtin(s) for name, s in loaded.items()})
    return _BUILTIN


def _builtin(s: Scenario) -> Scenario:
    from dataclasses import replace

    return replace(s, source=None)


def __getattr__(name: str) -> Any:
    if name == "SCENARIOS":
        return tuple(s for s in _builtins().values() if s.drill)
    if name == "CALM":
        return _builtins()["calm"]
    raise AttributeError(f"module 'lab.scenarios' has no attribute {name!r}")


def scenario_dirs(extra: Sequence[str | Path] = ()) -> list[Path]:
    """Where instructor scenarios are looked for, in order: ``extra`` (``--dir``), each folder
    (or file) of ``$LYNC_RESTORE_SCENARIOS``, the user's config folder
    (``~/.config/lync-restore/scenarios`` on Linux)."""
    import platformdirs

    dirs = [Path(d) for d in extra]
    dirs += [Path(d) for d in os.environ.get(ENV_DIRS, "").split(os.pathsep) if d]
    dirs.append(Path(platformdirs.user_config_dir("lync-restore", appauthor=False)) / "scenarios")
    return dirs


def _files_in(dirs: Sequence[Path]) -> Iterator[Path]:
    for d in dirs:
        if d.is_dir():
            yield from sorted(p for p in d.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        elif d.is_file():  # one file named in $LYNC_RESTORE_SCENARIOS (drill --scenario-file)
            yield d


def use_scenario_file(path: str | Path) -> str:
    """``drill --scenario-file FILE``: the instructor scenario in FILE, read and checked (every
    error as FILE:LINE:COL, :class:`ScenarioError`), then found by its name from here on, in this
    process and in the labs it starts (the file goes first in ``$LYNC_RESTORE_SCENARIOS``, which
    a kept lab's keeper inherits); its name."""
    s = instructor_file(path)
    given = os.environ.get(ENV_DIRS, "")
    os.environ[ENV_DIRS] = os.pathsep.join(p for p in (str(Path(path).resolve()), given) if p)
    return s.name


def instructor_scenarios(extra: Sequence[str | Path] = ()) -> tuple[list[Scenario], list[str]]:
    """The valid instructor scenarios of :func:`scenario_dirs` (the first of a name wins; a
    built-in name is refused), and the errors of the files that are not."""
    found: dict[str, Scenario] = {}
    errors: list[str] = []
    for path in _files_in(scenario_dirs(extra)):
        try:
            s = load_scenario_file(path)
        except ScenarioError as err:
            errors += err.errors
            continue
        if s.name in _builtins():
            errors.append(f"{path}:1:1: scenario.name: '{s.name}' is a built-in scenario; give yours another name")
        elif s.name not in found:
            found[s.name] = s
    return list(found.values()), errors


def instructor_file(path: str | Path) -> Scenario:
    """The instructor scenario in ``path`` (``drill --scenario-file``): read and checked
    (:class:`ScenarioError`, every FILE:LINE:COL); a built-in scenario's name is refused."""
    s = load_scenario_file(path)
    if s.name in _builtins():
        raise ScenarioError([f"{path}:1:1: scenario.name: '{s.name}' is a built-in scenario; "
                             "give yours another name"])
    return s


def scenario(name: str) -> Scenario:
    """A scenario by name: a built-in one (:data:`CALM` too), else an instructor one."""
    builtins = _builtins()
    if name in builtins:
        return builtins[name]
    for path in _files_in(scenario_dirs()):
        try:
            s = load_scenario_file(path)
        except ScenarioError:
            continue
        if s.name == name:
            return s
    raise KeyError(name)


def drill_scenario(name: str) -> Scenario:
    """A drill by name (:data:`CALM` is none: nothing to recover)."""
    s = scenario(name)
    if not s.drill:
        raise KeyError(name)
    return s
