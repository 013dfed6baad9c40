"""The step model: what one step of a Lync restore is, as data.

A step (DESIGN decision 2) carries everything the engine, the UI and the runbook need: the exact
commands (built with :mod:`wizard.remote.psbuild` or as parameterised T-SQL), where they run, a
pre-check that notices work already done, checks that must pass before it is safe to run, a
post-check that proves it worked, whether it is destructive (typed confirmation) or needs a
second operator, what undo means and how long it should take. Topology Builder and Deployment
Wizard work is a :class:`Manual` action: exact instructions, then the operator confirms.

Checks are declarative (:class:`Expect`) so the runbook can say in words what "healthy" means
and the engine can evaluate the same thing on the command's JSON result or SQL rows.

Ordering is expressed with *tags* (``"name"`` or ``"name@scope"``, the scope usually a pool
FQDN) and *needs* (tags that must appear on an earlier step); :mod:`.compose` enforces them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from wizard.remote import psbuild
from wizard.remote.psbuild import Cmd, JsonValue, Pipeline, ServiceStatus, Statement


@dataclass(frozen=True)
class PsCommand:
    """PowerShell statements run as one script on ``host`` (a Lync server FQDN)."""

    host: str
    statements: tuple[Statement, ...]
    json_result: Cmd | Pipeline | None = None
    timeout_s: float = 600.0

    def script(self) -> str:
        """The exact script the runner receives (non-prompting preamble included)."""
        return psbuild.script(*self.statements, json_result=self.json_result)

    def lines(self) -> list[str]:
        """The statement lines as shown to the operator (the preamble is the same everywhere)."""
        out = [s.render() for s in self.statements]
        if self.json_result is not None:
            out.append(self.json_result.render())
        return out

    @property
    def where(self) -> str:
        return self.host


@dataclass(frozen=True)
class SqlCommand:
    """One T-SQL statement on a SQL instance; values only as ``?`` parameters."""

    server: str
    instance: str | None
    sql: str
    params: tuple[str | int, ...] = ()
    long_running: bool = False  # RESTORE/BACKUP: run with live progress
    database: str = "master"
    timeout_s: float = 3600.0

    @property
    def where(self) -> str:
        return f"{self.server}\\{self.instance}" if self.instance else self.server

    def lines(self) -> list[str]:
        """The statement as a person can paste it into SSMS or sqlcmd: each ``?`` shown as its
        T-SQL literal (the wizard itself sends them as parameters, never as text)."""
        if not self.params:
            return [self.sql]
        return [_inline_params(self.sql, self.params), "-- (the wizard sends these values as parameters)"]


def _sql_literal(value: str | int) -> str:
    return str(value) if isinstance(value, int) else "N'" + str(value).replace("'", "''") + "'"


def _inline_params(sql: str, params: tuple[str | int, ...]) -> str:
    """``sql`` with each ``?`` outside a quoted string or [identifier] replaced by its literal."""
    out: list[str] = []
    values = iter(params)
    quote: str | None = None
    for ch in sql:
        if quote is not None:
            out.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'[":
            quote = "'" if ch == "'" else "]"
            out.append(ch)
        elif ch == "?":
            out.append(_sql_literal(next(values, "?")))
        else:
            out.append(ch)
    return "".join(out)


Command: TypeAlias = PsCommand | SqlCommand


# ------------------------------------------------------------------------------ expectations


@dataclass(frozen=True)
class AllEqual:
    """Every row has ``field`` equal to ``value`` (and there is at least one row)."""

    field: str
    value: str | bool | int

    def describe(self) -> str:
        return f"every {self.field} = {self.value}"


@dataclass(frozen=True)
class AnyEqual:
    """At least one row has ``field`` equal to ``value``."""

    field: str
    value: str | bool | int

    def describe(self) -> str:
        return f"some {self.field} = {self.value}"


@dataclass(frozen=True)
class NoneEqual:
    """No row has ``field`` equal to ``value`` (an empty result passes)."""

    field: str
    value: str | bool | int

    def describe(self) -> str:
        return f"no {self.field} = {self.value}"


@dataclass(frozen=True)
class Contains:
    """Every row's ``field`` contains ``text`` (case-insensitive), at least one row."""

    field: str
    text: str

    def describe(self) -> str:
        return f"{self.field} contains '{self.text}'"


@dataclass(frozen=True)
class NonEmpty:
    """There is at least one row (with a non-empty ``field`` when one is named)."""

    field: str | None = None

    def describe(self) -> str:
        return f"{self.field} is not empty" if self.field else "returns something"


@dataclass(frozen=True)
class Empty:
    """The command returns nothing (e.g. no stopped service, no such database)."""

    def describe(self) -> str:
        return "returns nothing"


@dataclass(frozen=True)
class OneOf:
    """Every row's ``field`` is one of ``values`` (case-insensitive), at least one row."""

    field: str
    values: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.field} is one of {', '.join(self.values)}"


@dataclass(frozen=True)
class Blank:
    """At least one row, and every row's ``field`` is empty (e.g. no active CMS master, §6.15 step 3)."""

    field: str

    def describe(self) -> str:
        return f"{self.field} is empty"


Expect: TypeAlias = AllEqual | AnyEqual | NoneEqual | Contains | NonEmpty | Empty | OneOf | Blank


def _norm(value: JsonValue | object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and "Value" in value:  # PowerShell enum/wrapper as an object
        return _norm(value["Value"])
    return "" if value is None else str(value).strip().lower()


def _field(row: object, name: str) -> object:
    if isinstance(row, Mapping):
        for key, value in row.items():
            if str(key).lower() == name.lower():
                return value
        return None
    return row if name in ("", ".") else None


def _matches(actual: object, expected: str | bool | int, name: str) -> bool:
    if name.lower() == "status" and isinstance(expected, str):
        try:
            return ServiceStatus.parse(actual).name.replace("_", "").lower() == expected.lower()  # type: ignore[arg-type]
        except psbuild.EnvelopeError:
            return False
    return _norm(actual) == _norm(expected)


def evaluate(expect: Expect, rows: Sequence[object]) -> tuple[bool, str]:
    """Does ``rows`` (a JSON result list or SQL rows) meet ``expect``? With a short reason."""
    if isinstance(expect, Empty):
        return (not rows, "nothing returned" if not rows else f"{len(rows)} unexpected row(s)")
    if isinstance(expect, NonEmpty):
        ok = bool(rows) and (expect.field is None
                             or all(_norm(_field(r, expect.field)) not in ("", "[]", "{}") for r in rows))
        return ok, "returned data" if ok else f"{expect.field or 'result'} is empty"
    if isinstance(expect, Blank):
        filled = [r for r in rows if _norm(_field(r, expect.field)) not in ("", "[]", "{}")]
        ok = bool(rows) and not filled
        return ok, "as expected" if ok else (f"{expect.field} is not empty" if rows else "no result")
    if isinstance(expect, OneOf):
        wanted = {v.lower() for v in expect.values}
        ok = bool(rows) and all(_norm(_field(r, expect.field)) in wanted for r in rows)
        return ok, "as expected" if ok else f"{expect.field} is not one of {', '.join(expect.values)}"
    if isinstance(expect, Contains):
        bad = [r for r in rows if expect.text.lower() not in _norm(_field(r, expect.field))]
        ok = bool(rows) and not bad
        return ok, "as expected" if ok else f"{expect.field} does not contain '{expect.text}'"
    values = [_field(r, expect.field) for r in rows]
    hits = [v for v in values if _matches(v, expect.value, expect.field)]
    if isinstance(expect, AllEqual):
        ok = bool(rows) and len(hits) == len(values)
        return ok, "as expected" if ok else (
            f"{len(values) - len(hits)} of {len(values)} have {expect.field} != {expect.value}"
            if rows else "no result")
    if isinstance(expect, AnyEqual):
        return bool(hits), "as expected" if hits else f"no {expect.field} = {expect.value}"
    return not hits, "as expected" if not hits else f"{len(hits)} have {expect.field} = {expect.value}"


@dataclass(frozen=True)
class Check:
    """A read-only command plus what its result must look like; polled up to ``wait_s``."""

    title: str
    command: Command
    expect: Expect
    wait_s: float = 0.0  # keep re-running until it passes or this much time has gone (§11.14)
    poll_s: float = 10.0

    def describe(self) -> str:
        return f"{self.title}: {self.expect.describe()}"


@dataclass(frozen=True)
class Manual:
    """Work the operator does by hand (Topology Builder, Deployment Wizard, OS, DNS)."""

    tool: str  # e.g. "Topology Builder", "Deployment Wizard", "Windows"
    where: str  # the computer to do it on
    instructions: tuple[str, ...]


Phase = Literal["prepare", "cms", "failover", "back_end", "file_store", "front_end", "data", "edge",
                "verify", "custom"]


@dataclass(frozen=True)
class Step:
    """One step of a procedure. ``section`` is the domain reference section (e.g. "6.2")."""

    id: str
    title: str
    section: str
    why: str
    phase: Phase
    commands: tuple[Command, ...] = ()
    manual: Manual | None = None
    applies: str = ""  # in words: when this step is part of a procedure
    only_if: Check | None = None  # fails = the step is not needed now; the wizard skips it and says why
    already_done: Check | None = None  # passes = the work is already done (offer to skip)
    requires: tuple[Check, ...] = ()  # must pass before running (is it safe now?)
    post_checks: tuple[Check, ...] = ()  # prove the step worked
    destructive: bool = False
    confirm_text: str | None = None  # typed confirmation (database or pool name)
    second_operator: bool = False
    undo: str = "Nothing to undo: the step only reads."
    duration_s: int = 60
    tags: frozenset[str] = field(default_factory=frozenset)
    needs: tuple[str, ...] = ()  # tags that must appear on an earlier step
    custom: bool = False
    #: the backup files SQL Server itself reads in this step: (server, instance, path); pre-flight
    #: has each instance read its file's header before the first change (#18 item 2)
    sql_reads: tuple[tuple[str, str | None, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.custom and f"§{self.section}" not in self.why:
            raise ValueError(f"step {self.id}: 'why' must cite its section §{self.section}")
        if self.destructive and not self.confirm_text:
            raise ValueError(f"step {self.id}: a destructive step needs a confirmation text")
        if not self.commands and self.manual is None and not self.post_checks:
            raise ValueError(f"step {self.id}: a step needs commands, manual instructions or a check")

    @property
    def hosts(self) -> list[str]:
        return list(dict.fromkeys(c.where for c in self.commands))

    @property
    def shown_host(self) -> str:
        """Where the step acts, as the operator is shown it: its hosts, or where the manual work is."""
        return ", ".join(self.hosts) or (self.manual.where if self.manual else "")

    def shown_lines(self) -> tuple[str, ...]:
        """The step's commands as the operator is shown them, the manual work first."""
        lines = [line for c in self.commands for line in c.lines()]
        if self.manual is not None:
            lines = [f"[by hand: {self.manual.tool} on {self.manual.where}]", *self.manual.instructions, *lines]
        return tuple(lines)

    def all_commands(self) -> list[Command]:
        """Every command the step can emit: its own, and those of its checks."""
        cmds: list[Command] = list(self.commands)
        checks = [*self.requires, *self.post_checks]
        checks += [c for c in (self.only_if, self.already_done) if c is not None]
        cmds.extend(c.command for c in checks)
        return cmds


@dataclass(frozen=True)
class Omitted:
    """A library step left out of a procedure, and why."""

    step_id: str
    title: str
    reason: str
