"""How results and errors look: default output, error records, CLIXML stderr, ConvertTo-Json.

What a script prints is part of the contract the wizard parses, so the shapes imitate Windows
PowerShell 5.1: ``Out-Default`` renders objects as a table (up to 4 properties) or a list;
an error record prints as "Cmd : message / At line:1 char:1 / + ... / + CategoryInfo ...";
powershell.exe started with ``-EncodedCommand`` and redirected streams writes its error,
warning and verbose streams to stderr as CLIXML (``#< CLIXML`` then ``<Objs>`` with one
``<S S="Error">`` per line); ConvertTo-Json follows the JavaScriptSerializer rules of 5.1
(``\\/Date(ms)\\/``, enums as integers, ``<>&'`` escaped, -Depth 2 by default, nested objects
beyond it become strings, the 4-space bracket-aligned indentation).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from lab.powershell.parser import line_and_column
from lab.powershell.records import ErrorRecord
from lab.powershell.values import (
    Hashtable,
    PSEnum,
    PSObject,
    ScriptBlock,
    format_datetime,
    to_string,
    type_name_of,
)

CLIXML_HEADER = "#< CLIXML\r\n"
CLIXML_OPEN = '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
CLIXML_CLOSE = "</Objs>"


# -- error records --------------------------------------------------------------------------


def error_lines(record: ErrorRecord) -> list[str]:
    """The lines PowerShell 5.1 prints for an error record (NormalView)."""
    lines: list[str] = []
    head = f"{record.command} : {record.message}" if record.command else record.message
    lines.extend(head.split("\n"))
    if record.position is not None:
        line, column, text = line_and_column(record.position.src, record.position.start)
        lines.append(f"At line:{line} char:{column}")
        lines.append(f"+ {text}")
        width = max(1, min(record.position.end, len(record.position.src)) - record.position.start)
        first_line_rest = len(text) - (column - 1)
        width = max(1, min(width, first_line_rest)) if first_line_rest > 0 else 1
        lines.append("+ " + " " * (column - 1) + "~" * width)
    target = record.target
    target_text = ""
    if target is not None:
        target_text = f"{_short(to_string(target))}:{type_name_of(target).rsplit('.', 1)[-1]}"
    else:
        target_text = ":"
    lines.append(
        f"    + CategoryInfo          : {record.category}: ({target_text}) "
        f"[{record.activity}], {record.exception}"
    )
    lines.append(f"    + FullyQualifiedErrorId : {record.fully_qualified_error_id}")
    lines.append(" ")
    return lines


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


_XML_ESCAPE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)|[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]|[<>&]")


def clixml_text(text: str) -> str:
    """A string as PowerShell's serializer writes it inside ``<S>``."""

    def repl(match: re.Match[str]) -> str:
        char = match.group(0)
        if char == "<":
            return "&lt;"
        if char == ">":
            return "&gt;"
        if char == "&":
            return "&amp;"
        return f"_x{ord(char):04X}_"

    return _XML_ESCAPE.sub(repl, text)


class ErrorSink:
    """The error/warning/verbose streams of a run, written to stderr (CLIXML or plain text)."""

    def __init__(self, write: Callable[[str], None], clixml: bool = True) -> None:
        self._write = write
        self.clixml = clixml
        self._opened = False
        self.records: list[ErrorRecord] = []

    def _open(self) -> None:
        if not self._opened:
            self._opened = True
            if self.clixml:
                self._write(CLIXML_HEADER + CLIXML_OPEN)

    def _line(self, kind: str, line: str) -> None:
        self._open()
        if self.clixml:
            self._write(f'<S S="{kind}">{clixml_text(line + chr(13) + chr(10))}</S>')
        else:
            prefix = {"warning": "WARNING: ", "verbose": "VERBOSE: "}.get(kind, "")
            self._write(prefix + line + "\r\n")

    def error(self, record: ErrorRecord) -> None:
        self.records.append(record)
        for line in error_lines(record):
            self._line("Error", line)

    def raw_error(self, line: str) -> None:
        self._line("Error", line)

    def stream(self, kind: str, message: str) -> None:
        for line in message.split("\n"):
            self._line(kind, line.rstrip("\r"))

    def close(self) -> None:
        if self._opened and self.clixml:
            self._write(CLIXML_CLOSE)


# -- Out-Default ----------------------------------------------------------------------------


def _is_numeric(value: Any) -> bool:
    """Right-aligned in tables: numbers and booleans (as in ``Enabled`` columns)."""
    return isinstance(value, int | float) and not isinstance(value, PSEnum)


def format_cell(value: Any) -> str:
    if isinstance(value, list | tuple):
        inner = ", ".join(format_cell(item) for item in value)
        return "{" + inner + "}"
    if isinstance(value, PSObject) and value.text is None and (
        value.type_name == "System.Management.Automation.PSCustomObject"
    ):
        return to_string(value)
    return to_string(value)


def format_scalar(value: Any) -> str:
    if isinstance(value, datetime):
        day = value.strftime("%A, %B ") + f"{value.day}, {value.year} "
        return day + format_datetime(value).split(" ", 1)[1]
    return to_string(value)


def _rows(obj: Any) -> list[tuple[str, Any]]:
    if isinstance(obj, PSObject):
        return obj.items()
    if isinstance(obj, Hashtable):
        return list(obj.items())
    return []


def format_table(objects: list[Any]) -> list[str]:
    if isinstance(objects[0], Hashtable):
        pairs = [(to_string(k), v) for obj in objects for k, v in obj.items()]
        rows = [[k, format_cell(v)] for k, v in pairs]
        headers = ["Name", "Value"]
        numeric = [False, False]
    else:
        headers = [name for name, _ in _rows(objects[0])]
        rows = []
        numeric = [True] * len(headers)
        for obj in objects:
            values = [obj.get(h) if isinstance(obj, PSObject) else None for h in headers]
            rows.append([format_cell(v) for v in values])
            for i, value in enumerate(values):
                if not _is_numeric(value):
                    numeric[i] = False
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        parts = []
        for i, cell in enumerate(cells):
            last = i == len(cells) - 1
            if numeric[i]:
                parts.append(cell.rjust(widths[i]))
            else:
                parts.append(cell if last else cell.ljust(widths[i]))
        return " ".join(parts).rstrip()

    out = ["", line(headers), line(["-" * len(h) for h in headers])]
    out.extend(line(row) for row in rows)
    out.append("")
    return out


def format_list(objects: list[Any]) -> list[str]:
    out: list[str] = []
    for obj in objects:
        rows = _rows(obj)
        width = max((len(name) for name, _ in rows), default=0)
        out.append("")
        out.extend(f"{name.ljust(width)} : {format_cell(value)}".rstrip() for name, value in rows)
    out.extend(["", ""])
    return out


class OutDefault:
    """Formats uncaptured output: objects of one shape are batched into one table or list."""

    def __init__(self, write_line: Callable[[str], None]) -> None:
        self._write_line = write_line
        self._batch: list[Any] = []
        self._shape: tuple[str, tuple[str, ...]] | None = None

    @staticmethod
    def _shape_of(obj: Any) -> tuple[str, tuple[str, ...]] | None:
        if isinstance(obj, PSObject) and obj.names():
            return (obj.type_name, tuple(n.lower() for n in obj.names()))
        if isinstance(obj, Hashtable):
            return ("hashtable", ())
        return None

    def write(self, objects: list[Any]) -> None:
        for obj in objects:
            shape = self._shape_of(obj)
            if shape is None:
                self.flush()
                if obj is None:
                    continue
                for line in format_scalar(obj).split("\n"):
                    self._write_line(line.rstrip("\r"))
                continue
            if shape != self._shape:
                self.flush()
                self._shape = shape
            self._batch.append(obj)

    def flush(self) -> None:
        if not self._batch:
            return
        batch, self._batch, self._shape = self._batch, [], None
        first = batch[0]
        lines = format_list(batch) if isinstance(first, PSObject) and len(first.names()) > 4 else format_table(batch)
        for line in lines:
            self._write_line(line)


def out_string(objects: list[Any]) -> str:
    lines: list[str] = []
    formatter = OutDefault(lines.append)
    formatter.write(objects)
    formatter.flush()
    return "".join(line + "\r\n" for line in lines)


# -- ConvertTo-Json -----------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


#: What JavaScriptSerializer escapes: the quote, the backslash, ``<``, ``>``, ``&``, ``'``, control
#: characters, surrogates and the line separators.
_JSON_ESCAPED = re.compile(r"[\"\\<>&'\x00-\x1f\x85\u2028\u2029\ud800-\udfff]")
_JSON_NAMED = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
               "\r": "\\r"}


def _json_escape(match: re.Match[str]) -> str:
    char = match.group()
    return _JSON_NAMED.get(char) or f"\\u{ord(char):04x}"


def _json_string(text: str) -> str:
    """JavaScriptSerializer's string escaping (``<``, ``>``, ``&``, ``'`` as \\u escapes)."""
    return '"' + _JSON_ESCAPED.sub(_json_escape, text) + '"'


def _json_number(value: int | float) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return _json_string(to_string(value))
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return repr(value).replace("e+", "E+").replace("e-", "E-")
    return str(value)


def _date_ms(value: datetime) -> int:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    delta = aware - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


def to_json_compact(value: Any, depth: int, max_depth: int) -> str:
    """One value as compact JSON, PowerShell 5.1 style."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, PSEnum):
        return str(value.value)
    if isinstance(value, int | float):
        return _json_number(value)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, datetime):
        return _json_string(f"\\/Date({_date_ms(value)})\\/").replace("\\\\/", "\\/")
    if isinstance(value, ScriptBlock):
        return _json_string(value.text)
    if depth > max_depth:
        return _json_string(to_string(value))
    if isinstance(value, timedelta):
        from lab.powershell.members import timespan_member

        keys = ["Ticks", "Days", "Hours", "Milliseconds", "Minutes", "Seconds", "TotalDays",
                "TotalHours", "TotalMilliseconds", "TotalMinutes", "TotalSeconds"]
        members = [(k, timespan_member(value, k.lower())) for k in keys]
        return "{" + ",".join(
            f"{_json_string(k)}:{to_json_compact(v, depth + 1, max_depth)}" for k, v in members
        ) + "}"
    if isinstance(value, list | tuple | bytes | bytearray):
        return "[" + ",".join(to_json_compact(v, depth + 1, max_depth) for v in value) + "]"
    if isinstance(value, Hashtable):
        return "{" + ",".join(
            f"{_json_string(to_string(k))}:{to_json_compact(v, depth + 1, max_depth)}"
            for k, v in value.items()
        ) + "}"
    if isinstance(value, PSObject):
        return "{" + ",".join(
            f"{_json_string(k)}:{to_json_compact(v, depth + 1, max_depth)}"
            for k, v in value.items()
        ) + "}"
    return _json_string(to_string(value))


def format_json(compact: str) -> str:
    """PowerShell 5.1's pretty form: 4-space steps from the opening bracket's column,
    ``"key":  value`` with two spaces, CRLF line breaks."""
    out: list[str] = []
    columns: list[int] = []
    column = 0
    in_string = False
    escaped = False

    def newline(indent: int) -> None:
        nonlocal column
        out.append("\r\n" + " " * indent)
        column = indent

    for char in compact:
        if in_string:
            out.append(char)
            column += 1
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
            out.append(char)
            column += 1
        elif char in "{[":
            columns.append(column)
            out.append(char)
            newline(column + 4)
        elif char in "}]":
            start = columns.pop()
            if out and out[-1].startswith("\r\n") and out[-1].strip() == "":
                out[-1] = "\r\n"
            newline(start)
            out.append(char)
            column += 1
        elif char == ",":
            out.append(",")
            newline(columns[-1] + 4 if columns else 0)
        elif char == ":":
            out.append(":  ")
            column += 3
        else:
            out.append(char)
            column += 1
    return "".join(out)


def convert_to_json(value: Any, depth: int = 2, compress: bool = False) -> str:
    compact = to_json_compact(value, 0, depth)
    return compact if compress else format_json(compact)


def json_loads(text: str) -> Any:
    """ConvertFrom-Json: objects become PSObjects, arrays lists."""

    def hook(pairs: list[tuple[str, Any]]) -> PSObject:
        return PSObject(pairs)

    return json.loads(text, object_pairs_hook=hook)
