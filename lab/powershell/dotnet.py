""".NET types the lab's scripts touch: casts, static members and String.Format.

``[System.Text.Encoding]::UTF8.GetString``, ``[System.Convert]::FromBase64String`` (which, like
.NET, ignores white space), ``[ScriptBlock]::Create``, casts such as ``[int]`` or
``[pscustomobject]``, and the ``-f`` operator's format items. For hashing a file without
Get-FileHash (PowerShell 3.0): ``[System.IO.File]::OpenRead``, ``[System.Security.Cryptography.
SHA256]::Create().ComputeHash(stream)`` (the real SHA-256 of the file's bytes) and
``[System.BitConverter]::ToString``. Anything else fails with
PowerShell's own "Unable to find type" / "Method invocation failed" errors.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from lab.powershell.records import ErrorRecord, PSRuntimeError
from lab.powershell.values import (
    ConversionError,
    Hashtable,
    PSEnum,
    PSObject,
    ScriptBlock,
    enumerate_value,
    to_int,
    to_number,
    to_string,
    truthy,
    type_name_of,
)

if TYPE_CHECKING:
    from lab.powershell.evaluator import Session


class _NoValue:
    """A void result: nothing is written to the pipeline."""

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Any = _NoValue()


class MethodError(Exception):
    """A .NET method threw: becomes 'Exception calling "X" with "n" argument(s): "..."'."""

    def __init__(self, message: str, error_id: str = "MethodInvocationException") -> None:
        super().__init__(message)
        self.error_id = error_id


def runtime_error(message: str, category: str, error_id: str, target: Any = None) -> PSRuntimeError:
    return PSRuntimeError(ErrorRecord(message, category, error_id, target, "RuntimeException"))


# -- types -----------------------------------------------------------------------------------

_TYPE_ALIASES = {
    "int": "int", "int32": "int", "system.int32": "int", "long": "long", "int64": "long",
    "system.int64": "long", "byte": "byte", "system.byte": "byte", "double": "double",
    "system.double": "double", "float": "double", "single": "double", "decimal": "double",
    "string": "string", "system.string": "string", "bool": "bool", "boolean": "bool",
    "system.boolean": "bool", "char": "char", "system.char": "char", "datetime": "datetime",
    "system.datetime": "datetime", "timespan": "timespan", "system.timespan": "timespan",
    "array": "object[]", "object[]": "object[]", "system.object[]": "object[]",
    "string[]": "string[]", "system.string[]": "string[]", "int[]": "int[]", "byte[]": "byte[]",
    "system.byte[]": "byte[]", "hashtable": "hashtable", "system.collections.hashtable":
    "hashtable", "ordered": "hashtable", "pscustomobject": "pscustomobject", "psobject":
    "psobject", "system.management.automation.pscustomobject": "pscustomobject",
    "scriptblock": "scriptblock", "system.management.automation.scriptblock": "scriptblock",
    "void": "void", "system.void": "void", "object": "object", "system.object": "object",
    "regex": "regex", "switch": "bool", "text.encoding": "encoding", "system.text.encoding":
    "encoding", "convert": "convert", "system.convert": "convert", "math": "math",
    "system.math": "math", "environment": "environment", "system.environment": "environment",
    "io.path": "path", "system.io.path": "path", "guid": "guid", "system.guid": "guid",
    "io.file": "file", "system.io.file": "file",
    "security.cryptography.sha256": "sha256", "system.security.cryptography.sha256": "sha256",
    "bitconverter": "bitconverter", "system.bitconverter": "bitconverter",
}


def canonical_type(name: str) -> str:
    key = name.strip().lower().replace(" ", "")
    if key in _TYPE_ALIASES:
        return _TYPE_ALIASES[key]
    raise runtime_error(f"Unable to find type [{name}].", "InvalidOperation", "TypeNotFound", name)


def is_type(value: Any, type_name: str) -> bool:
    canonical = canonical_type(type_name) if type_name not in _TYPE_ALIASES.values() else (
        type_name
    )
    checks: dict[str, Callable[[Any], bool]] = {
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool | PSEnum),
        "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "double": lambda v: isinstance(v, float),
        "string": lambda v: isinstance(v, str),
        "bool": lambda v: isinstance(v, bool),
        "datetime": lambda v: isinstance(v, datetime),
        "timespan": lambda v: isinstance(v, timedelta),
        "object[]": lambda v: isinstance(v, list),
        "hashtable": lambda v: isinstance(v, Hashtable),
        "pscustomobject": lambda v: isinstance(v, PSObject),
        "psobject": lambda v: v is not None,
        "scriptblock": lambda v: isinstance(v, ScriptBlock),
        "object": lambda v: v is not None,
        "byte[]": lambda v: isinstance(v, bytes | bytearray),
    }
    check = checks.get(canonical)
    return bool(check and check(value))


def _parse_datetime(text: str) -> datetime:
    text = text.strip()
    for fmt in ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConversionError(
            f'Cannot convert value "{text}" to type "System.DateTime". Error: "String was not '
            'recognized as a valid DateTime."'
        ) from None
    return parsed


def convert_to(canonical: str, value: Any) -> Any:
    """``[type]value`` for a canonical type name."""
    if canonical in ("int", "long", "byte"):
        if value is None:
            return 0
        return to_int(value)
    if canonical == "double":
        return float(to_number(value))
    if canonical == "string":
        return to_string(value) if value is not None else ""
    if canonical == "bool":
        return truthy(value)
    if canonical == "char":
        if isinstance(value, int):
            return chr(value)
        text = to_string(value)
        if len(text) != 1:
            raise ConversionError(
                f'Cannot convert value "{text}" to type "System.Char". Error: "String must be '
                'exactly one character long."'
            )
        return text
    if canonical == "datetime":
        if isinstance(value, datetime):
            return value
        return _parse_datetime(to_string(value))
    if canonical == "timespan":
        if isinstance(value, timedelta):
            return value
        from lab.powershell.binding import to_timespan

        def fail(detail: str) -> PSRuntimeError:
            raise ConversionError(detail)

        return to_timespan(value, fail)
    if canonical == "object[]":
        return None if value is None else list(enumerate_value(value))
    if canonical == "string[]":
        return [to_string(item) for item in enumerate_value(value)]
    if canonical == "int[]":
        return [to_int(item) for item in enumerate_value(value)]
    if canonical == "byte[]":
        if isinstance(value, bytes | bytearray):
            return bytes(value)
        return bytes(to_int(item) & 0xFF for item in enumerate_value(value))
    if canonical == "hashtable":
        if isinstance(value, Hashtable):
            return value
        raise ConversionError(
            f'Cannot convert the "{to_string(value)}" value of type "{type_name_of(value)}" to '
            'type "System.Collections.Hashtable".'
        )
    if canonical in ("pscustomobject", "psobject"):
        if isinstance(value, Hashtable):
            return PSObject([(to_string(k), v) for k, v in value.items()])
        return value
    if canonical == "scriptblock":
        if isinstance(value, ScriptBlock):
            return value
        raise ConversionError(
            f'Cannot convert the "{to_string(value)}" value of type "{type_name_of(value)}" to '
            'type "System.Management.Automation.ScriptBlock".'
        )
    if canonical == "void":
        return NO_VALUE
    if canonical in ("object", "regex"):
        return value
    raise ConversionError(f'Cannot convert to type "{canonical}".')


# -- streams and hashes ------------------------------------------------------------------------


class FileStream:
    """A System.IO.FileStream opened for reading: the file's bytes, read when it is opened."""

    def __init__(self, path: str, data: bytes) -> None:
        self.path = path
        self.data = data
        self.closed = False

    def __str__(self) -> str:
        return "System.IO.FileStream"


class HashAlgorithm:
    """System.Security.Cryptography.SHA256 (what ``[...SHA256]::Create()`` returns)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return f"System.Security.Cryptography.{self.name}Managed"

    def compute_hash(self, source: Any) -> bytes:
        """ComputeHash(Stream) or ComputeHash(byte[]): the real digest of the bytes."""
        import hashlib

        if isinstance(source, FileStream):
            if source.closed:
                raise MethodError("Cannot access a closed file.", "ObjectDisposedException")
            data = source.data
        elif isinstance(source, bytes | bytearray):
            data = bytes(source)
        else:
            data = bytes(to_int(item) & 0xFF for item in enumerate_value(source))
        return hashlib.new(self.name.lower(), data).digest()


def _open_read(session: Session, path: str) -> FileStream:
    """[System.IO.File]::OpenRead: .NET's own exceptions for a missing file or share."""
    from lab.powershell.vfs import VFSError

    try:
        full = session.fs.absolute(path)
        real = session.fs.real(path)
    except VFSError as exc:
        if "network path" in str(exc):
            raise MethodError("The network path was not found.", "IOException") from None
        raise MethodError("The given path's format is not supported.",
                          "NotSupportedException") from None
    if real.is_dir():
        raise MethodError(f"Access to the path '{full}' is denied.", "UnauthorizedAccessException")
    if not real.is_file():
        raise MethodError(f"Could not find file '{full}'.", "FileNotFoundException")
    return FileStream(full, real.read_bytes())


_NOT_HANDLED: Any = object()


def _call_file_or_hash(session: Session, type_name: str, key: str, args: list[Any]) -> Any:
    """[System.IO.File], [System.Security.Cryptography.SHA256], [System.BitConverter] statics."""
    if type_name == "file" and len(args) == 1:
        path = to_string(args[0])
        if key == "openread":
            return _open_read(session, path)
        if key == "exists":
            return session.fs.exists(path) and not session.fs.is_dir(path)
        if key == "readallbytes":
            return _open_read(session, path).data
    if type_name == "sha256" and key == "create" and not args:
        return HashAlgorithm("SHA256")
    if type_name == "bitconverter" and key == "tostring" and len(args) == 1:
        data = args[0]
        raw = bytes(data) if isinstance(data, bytes | bytearray) else bytes(
            to_int(item) & 0xFF for item in enumerate_value(data))
        return "-".join(f"{byte:02X}" for byte in raw)
    return _NOT_HANDLED


# -- static members ----------------------------------------------------------------------------


class Encoding:
    """System.Text.Encoding instances (UTF8, Unicode, ASCII)."""

    def __init__(self, name: str, codec: str) -> None:
        self.name = name
        self.codec = codec

    def __str__(self) -> str:
        return f"System.Text.{self.name}Encoding"


_ENCODINGS = {
    "utf8": Encoding("UTF8", "utf-8"),
    "unicode": Encoding("Unicode", "utf-16-le"),
    "ascii": Encoding("ASCII", "ascii"),
    "default": Encoding("Default", "cp1252"),
}


def _from_base64(text: Any) -> bytes:
    cleaned = re.sub(r"[ \t\r\n]", "", to_string(text))
    try:
        if len(cleaned) % 4:
            raise binascii.Error
        return base64.b64decode(cleaned, validate=True)
    except binascii.Error:
        raise MethodError(
            "The input is not a valid Base-64 string as it contains a non-base 64 character, "
            "more than two padding characters, or an illegal character among the padding "
            "characters. ",
            "FormatException",
        ) from None


def static_member(type_name: str, name: str, clock: Callable[[], datetime] | None = None) -> Any:
    """A static member of a .NET type. ``clock``: the host's clock (the lab's simulated time, as
    Get-Date reads it; the lab's servers keep UTC), not this machine's."""
    key = name.lower()
    now = clock or datetime.now
    if type_name == "encoding" and key in _ENCODINGS:
        return _ENCODINGS[key]
    if type_name == "int":
        if key == "maxvalue":
            return 2**31 - 1
        if key == "minvalue":
            return -(2**31)
    if type_name == "datetime":
        if key == "now":
            return now()
        if key == "utcnow":
            return now() if clock is not None else datetime.now(UTC).replace(tzinfo=None)
        if key == "today":
            return now().replace(hour=0, minute=0, second=0, microsecond=0)
    if type_name == "string" and key == "empty":
        return ""
    if type_name == "timespan" and key == "zero":
        return timedelta(0)
    if type_name == "environment":
        if key == "newline":
            return "\r\n"
        if key == "machinename":
            return "LAB"
    if type_name == "math" and key == "pi":
        return math.pi
    raise runtime_error(
        f"The static member '{name}' was not found on type [{type_name}].",
        "InvalidOperation",
        "PropertyNotFound",
    )


def call_static(session: Session, type_name: str, name: str, args: list[Any]) -> Any:
    key = name.lower()
    if type_name == "convert":
        if key == "frombase64string" and len(args) == 1:
            return _from_base64(args[0])
        if key == "tobase64string" and len(args) == 1:
            data = args[0]
            raw = bytes(data) if isinstance(data, bytes | bytearray) else bytes(
                to_int(item) & 0xFF for item in enumerate_value(data)
            )
            return base64.b64encode(raw).decode("ascii")
        if key == "toint32" and len(args) >= 1:
            return to_int(args[0]) if len(args) == 1 else int(to_string(args[0]), to_int(args[1]))
        if key == "tostring" and len(args) == 1:
            return to_string(args[0])
    if type_name == "scriptblock" and key == "create" and len(args) == 1:
        from lab.powershell.parser import ParseError, parse_script

        try:
            return parse_script(to_string(args[0]))
        except ParseError as exc:
            raise MethodError(f"At char:{exc.pos + 1}: {exc.message}", "ParseException") from None
    if type_name == "string":
        if key == "isnullorempty" and len(args) == 1:
            return args[0] is None or to_string(args[0]) == ""
        if key == "isnullorwhitespace" and len(args) == 1:
            return args[0] is None or to_string(args[0]).strip() == ""
        if key == "join" and len(args) >= 2:
            items = args[1] if len(args) == 2 and isinstance(args[1], list) else args[1:]
            return to_string(args[0]).join(to_string(item) for item in items)
        if key == "format" and args:
            return dotnet_format(to_string(args[0]), args[1:])
    if type_name == "math" and args:
        numbers = [to_number(a) for a in args]
        if key == "round":
            digits = to_int(args[1]) if len(args) > 1 else 0
            return round(numbers[0], digits) if digits else float(round(numbers[0]))
        funcs: dict[str, Callable[..., Any]] = {
            "floor": math.floor, "ceiling": math.ceil, "abs": abs, "max": max, "min": min,
            "pow": math.pow, "sqrt": math.sqrt,
        }
        if key in funcs:
            return funcs[key](*numbers)
    if type_name == "datetime" and key == "parse" and len(args) == 1:
        try:
            return _parse_datetime(to_string(args[0]))
        except ConversionError as exc:
            raise MethodError(str(exc)) from None
    if type_name == "int" and key == "parse" and len(args) == 1:
        try:
            return int(to_string(args[0]).strip())
        except ValueError:
            raise MethodError("Input string was not in a correct format.") from None
    if type_name == "timespan" and len(args) == 1:
        units = {"fromseconds": "seconds", "fromminutes": "minutes", "fromhours": "hours",
                 "fromdays": "days", "frommilliseconds": "milliseconds"}
        if key in units:
            return timedelta(**{units[key]: float(to_number(args[0]))})
    if type_name == "guid" and key == "newguid":
        import uuid

        return str(uuid.uuid4())
    if type_name in ("file", "sha256", "bitconverter"):
        result = _call_file_or_hash(session, type_name, key, args)
        if result is not _NOT_HANDLED:
            return result
    if type_name == "path":
        texts = [to_string(a) for a in args]
        if key == "combine":
            result = texts[0]
            for part in texts[1:]:
                result = part if re.match(r"^([A-Za-z]:)?\\", part) else (
                    result.rstrip("\\") + "\\" + part
                )
            return result
        if key == "getfilename" and texts:
            return texts[0].replace("/", "\\").rsplit("\\", 1)[-1]
        if key == "getextension" and texts:
            base = texts[0].replace("/", "\\").rsplit("\\", 1)[-1]
            return "." + base.rsplit(".", 1)[1] if "." in base else ""
        if key == "gettemppath":
            return to_string(session.get_var("TEMP", "env")) + "\\"
    raise runtime_error(
        f"Method invocation failed because [{type_name}] does not contain a method named "
        f"'{name}'.",
        "InvalidOperation",
        "MethodNotFound",
    )


# -- formatting --------------------------------------------------------------------------------

_FORMAT_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?:,(-?\d+))?(?::([^}]*))?\}")


def dotnet_format(fmt: str, args: list[Any]) -> str:
    """String.Format with the common numeric and date format specifiers."""

    def repl(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "{{":
            return "{"
        if whole == "}}":
            return "}"
        position = int(match.group(1))
        if position >= len(args):
            raise runtime_error(
                "Error formatting a string: Index (zero based) must be greater than or equal to "
                "zero and less than the size of the argument list..",
                "InvalidOperation",
                "FormatError",
            )
        text = format_value(args[position], match.group(3) or "")
        width = int(match.group(2) or 0)
        return text.rjust(width) if width > 0 else text.ljust(-width)

    return _FORMAT_ITEM.sub(repl, fmt)


def format_value(value: Any, spec: str) -> str:
    if not spec:
        return to_string(value)
    if isinstance(value, datetime):
        return dotnet_datetime_format(value, spec)
    kind, digits_text = spec[0].upper(), spec[1:]
    try:
        number = to_number(value)
    except ConversionError:
        return to_string(value)
    digits = int(digits_text) if digits_text.isdigit() else None
    if kind in ("N", "F", "P"):
        places = 2 if digits is None else digits
        scaled = number * 100 if kind == "P" else number
        rounded = _round_away(scaled, places)
        text = f"{rounded:,.{places}f}" if kind != "F" else f"{rounded:.{places}f}"
        return text + " %" if kind == "P" else text
    if kind == "D":
        return f"{int(number):0{digits or 0}d}"
    if kind == "X":
        text = f"{int(number):0{digits or 0}X}"
        return text if spec[0] == "X" else text.lower()
    if re.fullmatch(r"0+(\.0+)?", spec):
        decimals = len(spec.split(".")[1]) if "." in spec else 0
        width = len(spec.split(".", maxsplit=1)[0])
        return f"{number:0{width + (decimals + 1 if decimals else 0)}.{decimals}f}"
    return to_string(value)


def _round_away(number: float, places: int) -> Decimal:
    """.NET's formatting rounds half away from zero on the shortest decimal form."""
    return Decimal(repr(number)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


_DT_TOKENS = re.compile(r"yyyy|yy|MM|M|dd|d|HH|H|hh|h|mm|m|ss|s|fff|ff|f|tt|'[^']*'|.")


def dotnet_datetime_format(value: datetime, fmt: str) -> str:
    if fmt == "o":
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond * 10:07d}"
    if fmt == "s":
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if fmt == "u":
        return value.strftime("%Y-%m-%d %H:%M:%SZ")
    out: list[str] = []
    for token in _DT_TOKENS.findall(fmt):
        hour12 = value.hour % 12 or 12
        mapping = {
            "yyyy": f"{value.year:04d}", "yy": f"{value.year % 100:02d}",
            "MM": f"{value.month:02d}", "M": str(value.month), "dd": f"{value.day:02d}",
            "d": str(value.day), "HH": f"{value.hour:02d}", "H": str(value.hour),
            "hh": f"{hour12:02d}", "h": str(hour12), "mm": f"{value.minute:02d}",
            "m": str(value.minute), "ss": f"{value.second:02d}", "s": str(value.second),
            "fff": f"{value.microsecond // 1000:03d}", "ff": f"{value.microsecond // 10000:02d}",
            "f": str(value.microsecond // 100000), "tt": "AM" if value.hour < 12 else "PM",
        }
        if token in mapping:
            out.append(mapping[token])
        elif token.startswith("'") and token.endswith("'") and len(token) >= 2:
            out.append(token[1:-1])
        else:
            out.append(token)
    return "".join(out)
