"""PowerShell builder: quoting, script composition, delivery, result parsing.

Every value that comes from a plan or an operator reaches a remote PowerShell through this
module, and only as a single-quoted literal (:func:`quote`): nothing untrusted is ever
interpolated, so a server name such as ``pool1'; Remove-Item C:\\ -Recurse #`` stays a string.
Commands are built from a small typed model (:class:`Cmd`, :class:`Pipeline`) whose
:meth:`Cmd.render` is also the exact text shown to the operator before it runs.

:func:`script` wraps statements in a preamble that can never prompt (a prompt hangs a remote
run) and, when a result is wanted, in a JSON envelope between two marker lines that
:func:`parse_envelope` reads back. :func:`command_lines` turns a script into cmd.exe command
lines, staging it through a temporary file when it does not fit in one line.

The lab's interpreter (``lab.powershell``) runs exactly these scripts; the round-trip
tests prove the quoting contract end to end.
"""

from __future__ import annotations

import base64
import enum
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeAlias

from wizard.errors import RemoteError

#: cmd.exe's command-line limit: WinRM commands pass through it.
CMD_LINE_LIMIT = 8191

POWERSHELL_EXE = "powershell.exe"
POWERSHELL_ARGS = ("-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand")

#: Marker lines around the JSON result. ``<`` and ``>`` are always escaped (``\\u003c``) by
#: Windows PowerShell's ConvertTo-Json, so the markers can never occur inside its output.
JSON_BEGIN = "<<<LYNC-RESTORE:JSON>>>"
JSON_END = "<<<LYNC-RESTORE:END>>>"

#: Every character PowerShell's tokenizer treats as a single quote.
SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STAGE_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_QUOTE_RE = re.compile(f"([{SINGLE_QUOTES}])")

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None


class EnvelopeError(RemoteError):
    """The remote output did not carry the JSON result envelope the script was built with."""

    title = "Unexpected remote output"


def quote(value: str) -> str:
    """``value`` as a PowerShell single-quoted literal: every kind of single quote doubled."""
    if not isinstance(value, str):
        raise TypeError(f"quote() takes a str, not {type(value).__name__}")
    return "'" + _QUOTE_RE.sub(r"\1\1", value) + "'"


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"invalid PowerShell {what} name: {name!r}")
    return name


@dataclass(frozen=True)
class Switch:
    """A switch parameter: ``Switch()`` renders ``-Name``, ``Switch(False)`` ``-Name:$false``."""

    present: bool = True


@dataclass(frozen=True)
class Var:
    """A reference to a variable the script itself set, rendered ``$name``."""

    name: str

    def __post_init__(self) -> None:
        if not _VAR.match(self.name):
            raise ValueError(f"invalid PowerShell variable name: {self.name!r}")

    def render(self) -> str:
        return f"${self.name}"


@dataclass(frozen=True)
class Raw:
    """Verbatim PowerShell text: ONLY for the wizard's own constant snippets, never for values."""

    text: str

    def render(self) -> str:
        return self.text


Value: TypeAlias = str | int | bool | Switch | list[str] | tuple[str, ...] | Var | Raw


def render_value(value: Value) -> str:
    """One argument value in PowerShell syntax (strings always single-quoted)."""
    if isinstance(value, bool):
        return "$true" if value else "$false"
    if isinstance(value, int):
        return str(value) if value >= 0 else f"({value})"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, Var | Raw):
        return value.render()
    if isinstance(value, list | tuple):
        if not value:
            return "@()"
        return ",".join(quote(item) for item in value)
    raise TypeError(f"cannot render {type(value).__name__} as a PowerShell value")


@dataclass(frozen=True)
class Cmd:
    """One command with named parameters (in the given order) and positional arguments."""

    name: str
    params: Mapping[str, Value] = field(default_factory=dict)
    positional: Sequence[Value] = ()

    def __post_init__(self) -> None:
        _check_name(self.name, "command")
        for key, value in self.params.items():
            _check_name(key, "parameter")
            if isinstance(value, Switch):
                continue
            render_value(value)  # raises TypeError early for unsupported values
        for value in self.positional:
            if isinstance(value, Switch):
                raise TypeError("a Switch cannot be positional")
            render_value(value)
        object.__setattr__(self, "params", dict(self.params))
        object.__setattr__(self, "positional", tuple(self.positional))

    def render(self) -> str:
        """The exact command text, as run and as shown to the operator."""
        parts = [self.name]
        for key, value in self.params.items():
            if isinstance(value, Switch):
                parts.append(f"-{key}" if value.present else f"-{key}:$false")
            else:
                parts.append(f"-{key} {render_value(value)}")
        parts.extend(render_value(value) for value in self.positional)
        return " ".join(parts)


class Pipeline:
    """Commands joined by ``|``."""

    __slots__ = ("cmds",)

    def __init__(self, *cmds: Cmd) -> None:
        if not cmds:
            raise ValueError("a pipeline needs at least one command")
        self.cmds: tuple[Cmd, ...] = tuple(cmds)

    def render(self) -> str:
        return " | ".join(cmd.render() for cmd in self.cmds)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pipeline) and other.cmds == self.cmds

    def __hash__(self) -> int:
        return hash(self.cmds)

    def __repr__(self) -> str:
        return f"Pipeline{self.cmds!r}"


@dataclass(frozen=True)
class Assign:
    """``$name = <command or pipeline or value>``."""

    name: str
    value: Cmd | Pipeline | Value

    def __post_init__(self) -> None:
        Var(self.name)

    def render(self) -> str:
        rhs = self.value.render() if isinstance(self.value, Cmd | Pipeline) else render_value(
            self.value
        )
        return f"${self.name} = {rhs}"


Statement: TypeAlias = Cmd | Pipeline | Assign | Raw

PREAMBLE = (
    "$ErrorActionPreference = 'Stop'",
    "$ProgressPreference = 'SilentlyContinue'",
    "$ConfirmPreference = 'None'",
)


def script(
    *statements: Statement,
    json_result: Cmd | Pipeline | None = None,
    preamble: bool = True,
    modules: Sequence[str] = ("Lync",),
) -> str:
    """A complete script: non-prompting preamble, modules, statements, optional JSON envelope."""
    lines: list[str] = []
    if preamble:
        lines.extend(PREAMBLE)
    for module in modules:
        lines.append(Cmd("Import-Module", {"Name": _check_name(module, "module")}).render())
    for statement in statements:
        if not isinstance(statement, Cmd | Pipeline | Assign | Raw):
            raise TypeError(f"not a statement: {type(statement).__name__}")
        lines.append(statement.render())
    if json_result is not None:
        lines.append(f"$lrResult = @({json_result.render()})")
        lines.append(f"Write-Output {quote(JSON_BEGIN)}")
        lines.append("ConvertTo-Json -InputObject $lrResult -Depth 4 -Compress")
        lines.append(f"Write-Output {quote(JSON_END)}")
    return "\r\n".join(lines) + "\r\n"


# ---------------------------------------------------------------------------------------------
# delivery


def encode_command_line(script: str) -> str:
    """The cmd.exe command line that runs ``script`` with powershell.exe, never prompting."""
    encoded = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
    return " ".join((POWERSHELL_EXE, *POWERSHELL_ARGS, encoded))


def _stage_path_expr(stage_id: str) -> str:
    return f"(Join-Path $env:TEMP {quote(f'lync-restore-{stage_id}.b64')})"


def _stage_line(stage_id: str, chunk: str, first: bool) -> str:
    # No -NoNewline (PowerShell 5.0+ only): FromBase64String skips the line breaks anyway.
    verb = "Set-Content" if first else "Add-Content"
    return encode_command_line(
        f"$ErrorActionPreference = 'Stop'; {verb} -LiteralPath {_stage_path_expr(stage_id)} "
        f"-Value {quote(chunk)} -Encoding ASCII"
    )


def _run_staged_line(stage_id: str) -> str:
    return encode_command_line(
        "$ErrorActionPreference = 'Stop'; "
        f"$lrStage = {_stage_path_expr(stage_id)}; "
        "$lrScript = [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String("
        "(Get-Content -LiteralPath $lrStage -Raw))); "
        "Remove-Item -LiteralPath $lrStage -Force; "
        "& ([ScriptBlock]::Create($lrScript))"
    )


def command_lines(script: str, stage_id: str) -> list[str]:
    """Command lines to run, in order, so that ``script`` runs once on the far side.

    One line when it fits under :data:`CMD_LINE_LIMIT`; otherwise the script is staged in a
    temporary file named after ``stage_id`` by several short lines and then run by a last one.
    Only the last line's output and exit code belong to the script; a staging line that exits
    non-zero means the script never ran.
    """
    if not _STAGE_ID.match(stage_id):
        raise ValueError(f"invalid stage id: {stage_id!r}")
    line = encode_command_line(script)
    if len(line) <= CMD_LINE_LIMIT:
        return [line]
    payload = base64.b64encode(script.encode("utf-8")).decode("ascii")
    overhead = len(_stage_line(stage_id, "", first=False))
    # Each base64 char of the chunk costs 2 UTF-16 bytes, i.e. 8/3 chars once re-encoded.
    chunk_size = int((CMD_LINE_LIMIT - overhead - 8) * 3 / 8)
    chunk_size -= chunk_size % 4
    chunks = [payload[i : i + chunk_size] for i in range(0, len(payload), chunk_size)]
    lines = [_stage_line(stage_id, chunk, first=i == 0) for i, chunk in enumerate(chunks)]
    lines.append(_run_staged_line(stage_id))
    assert all(len(item) <= CMD_LINE_LIMIT for item in lines)
    return lines


# ---------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class Envelope:
    """A script's JSON result (always a list) and the other lines it printed."""

    values: list[JsonValue]
    text_lines: list[str]


def parse_envelope(stdout: str) -> Envelope:
    """Read the JSON result written by a :func:`script` with ``json_result``.

    PowerShell's one-object-or-array quirk is undone: a single object becomes a one-item list,
    ``null`` or nothing becomes an empty list.
    """
    lines = stdout.splitlines()
    stripped = [line.strip() for line in lines]
    try:
        begin = stripped.index(JSON_BEGIN)
    except ValueError:
        raise EnvelopeError(
            f"The remote output has no '{JSON_BEGIN}' line before the JSON result."
        ) from None
    try:
        end = stripped.index(JSON_END, begin + 1)
    except ValueError:
        raise EnvelopeError(
            f"The remote output has no '{JSON_END}' line after the JSON result."
        ) from None
    body = "\n".join(lines[begin + 1 : end]).strip()
    text_lines = lines[:begin] + lines[end + 1 :]
    if not body:
        return Envelope([], text_lines)
    try:
        decoded: JsonValue = json.loads(body)
    except json.JSONDecodeError as exc:
        raise EnvelopeError(
            f"The remote JSON result is not valid JSON (line {exc.lineno} column {exc.colno})."
        ) from None
    if decoded is None:
        values: list[JsonValue] = []
    elif isinstance(decoded, list):
        values = decoded
    else:
        values = [decoded]
    return Envelope(values, text_lines)


_DATE = re.compile(r"^\\?/Date\((-?\d+)([+-]\d{4})?\)\\?/$")


def ps_date(value: JsonValue) -> datetime:
    """PowerShell 3-5.1's JSON date ``"\\/Date(1390000000000)\\/"`` as an aware UTC datetime.

    The milliseconds count from the Unix epoch in UTC; a ``+hhmm`` suffix (local DateTime
    values) only says which offset the sender was in and does not move the instant.
    """
    if isinstance(value, str):
        match = _DATE.match(value.strip())
        if match:
            millis = int(match.group(1))
            return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise EnvelopeError(f"Expected a PowerShell date like '/Date(1390000000000)/', got {value!r}.")


def ps_timespan(value: JsonValue) -> timedelta:
    """A TimeSpan as ConvertTo-Json writes it (an object with TotalMilliseconds) or "hh:mm:ss"."""
    if isinstance(value, dict):
        total = value.get("TotalMilliseconds")
        if isinstance(total, int | float) and math.isfinite(total):
            return timedelta(milliseconds=total)
    if isinstance(value, str):
        match = re.match(r"^(-)?(?:(\d+)\.)?(\d+):(\d+):(\d+)(?:\.(\d+))?$", value.strip())
        if match:
            sign, days, hours, minutes, seconds, frac = match.groups()
            delta = timedelta(
                days=int(days or 0),
                hours=int(hours),
                minutes=int(minutes),
                seconds=int(seconds),
                microseconds=int((frac or "0").ljust(6, "0")[:6]),
            )
            return -delta if sign else delta
    raise EnvelopeError(f"Expected a PowerShell TimeSpan, got {value!r}.")


class ServiceStatus(enum.IntEnum):
    """System.ServiceProcess.ServiceControllerStatus, as ConvertTo-Json sends it (an integer)."""

    STOPPED = 1
    START_PENDING = 2
    STOP_PENDING = 3
    RUNNING = 4
    CONTINUE_PENDING = 5
    PAUSE_PENDING = 6
    PAUSED = 7

    @classmethod
    def parse(cls, value: JsonValue) -> ServiceStatus:
        """From the JSON integer, or from the name (``"Running"``) as Select-Object strings give."""
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                pass
        if isinstance(value, str):
            key = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", value.strip()).upper()
            if key in cls.__members__:
                return cls[key]
        raise EnvelopeError(f"Expected a service status, got {value!r}.")
