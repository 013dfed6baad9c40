"""The lab interpreter's runtime values and PowerShell's conversion rules.

PowerShell values map onto Python ones (str, int, float, bool, None, list for arrays, bytes for
byte[], datetime, timedelta) plus the few kinds Python lacks: :class:`PSObject` (ordered typed
properties, what Lync cmdlets return), :class:`PSEnum` (an int with a name, e.g. a service
status), :class:`Hashtable` (case-insensitive, ordered) and :class:`ScriptBlock`.
The helpers here implement the conversions the language applies implicitly: truthiness,
ToString(), case-insensitive comparison with the left operand's type winning, enumeration.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.powershell.syntax import Node


class PSObject:
    """A PSCustomObject-like value: a type name and ordered, case-insensitive properties."""

    __slots__ = ("_props", "text", "type_names")

    def __init__(
        self,
        properties: Iterable[tuple[str, Any]] | dict[str, Any] = (),
        type_name: str = "System.Management.Automation.PSCustomObject",
        text: str | None = None,
    ) -> None:
        items = properties.items() if isinstance(properties, dict) else properties
        self._props: dict[str, tuple[str, Any]] = {}
        for key, value in items:
            self._props[key.lower()] = (key, value)
        self.type_names = [type_name, "System.Object"] if type_name != "System.Object" else [
            "System.Object"
        ]
        #: what ToString() gives; None means PowerShell's "@{a=1; b=2}" form for custom objects
        #: and the type name for others
        self.text = text

    @property
    def type_name(self) -> str:
        return self.type_names[0]

    def names(self) -> list[str]:
        return [key for key, _ in self._props.values()]

    def items(self) -> list[tuple[str, Any]]:
        return list(self._props.values())

    def has(self, name: str) -> bool:
        return name.lower() in self._props

    def get(self, name: str, default: Any = None) -> Any:
        entry = self._props.get(name.lower())
        return default if entry is None else entry[1]

    def set(self, name: str, value: Any) -> None:
        entry = self._props.get(name.lower())
        self._props[name.lower()] = (entry[0] if entry else name, value)

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __repr__(self) -> str:
        return f"PSObject({self.type_name}, {dict(self.items())!r})"

    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__


@dataclass(frozen=True)
class PSEnum:
    """An enum value: ToString() gives the name, ConvertTo-Json the integer."""

    name: str
    value: int
    type_name: str = "System.Enum"

    def __str__(self) -> str:
        return self.name


@dataclass
class ScriptBlock:
    """``{ ... }``: a parsed statement list plus its source text."""

    body: list[Node]
    text: str
    params: list[tuple[str, Node | None]] = field(default_factory=list)

    def __str__(self) -> str:
        return self.text


class Hashtable(MutableMapping[str, Any]):
    """``@{...}``: ordered, keys compared case-insensitively like PowerShell's hashtables."""

    def __init__(self, items: Iterable[tuple[str, Any]] = ()) -> None:
        self._data: dict[Any, tuple[Any, Any]] = {}
        for key, value in items:
            self[key] = value

    @staticmethod
    def _norm(key: Any) -> Any:
        return key.lower() if isinstance(key, str) else key

    def __getitem__(self, key: Any) -> Any:
        return self._data[self._norm(key)][1]

    def __setitem__(self, key: Any, value: Any) -> None:
        norm = self._norm(key)
        old = self._data.get(norm)
        self._data[norm] = (old[0] if old else key, value)

    def __delitem__(self, key: Any) -> None:
        del self._data[self._norm(key)]

    def __iter__(self) -> Iterator[Any]:
        return (key for key, _ in self._data.values())

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Hashtable({list(self.items())!r})"


class TypeName(str):
    """A type literal such as ``[int]`` used as a value (``[int]`` alone, ``-is [string]``)."""

    __slots__ = ()


def is_enumerable(value: Any) -> bool:
    """Whether the pipeline unrolls ``value`` (arrays and byte arrays; not strings or hashtables)."""
    return isinstance(value, list | tuple | bytes | bytearray)


def enumerate_value(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, bytes | bytearray):
        return list(value)
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def truthy(value: Any) -> bool:
    """PowerShell's conversion to bool."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, PSEnum):
        return value.value != 0
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        return value != ""
    if isinstance(value, list | tuple):
        if len(value) == 0:
            return False
        if len(value) == 1:
            return truthy(value[0])
        return True
    if isinstance(value, timedelta):
        return True
    return True


def format_number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    return text.replace("e+", "E+").replace("e-", "E-")


def format_datetime(value: datetime) -> str:
    """en-US DateTime.ToString(): ``11/24/2026 2:00:00 AM``."""
    hour = value.hour % 12 or 12
    ampm = "AM" if value.hour < 12 else "PM"
    return f"{value.month}/{value.day}/{value.year} {hour}:{value.minute:02d}:{value.second:02d} {ampm}"


def format_timespan(value: timedelta) -> str:
    """TimeSpan.ToString(): ``[-][d.]hh:mm:ss[.fffffff]``."""
    total_us = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if total_us < 0 else ""
    total_us = abs(total_us)
    seconds, micros = divmod(total_us, 1_000_000)
    minutes, secs = divmod(seconds, 60)
    hours, mins = divmod(minutes, 60)
    days, hrs = divmod(hours, 24)
    text = f"{sign}{f'{days}.' if days else ''}{hrs:02d}:{mins:02d}:{secs:02d}"
    if micros:
        text += f".{micros * 10:07d}"
    return text


def to_string(value: Any) -> str:
    """``[string]$value`` / ToString(): arrays join with spaces as in string expansion."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, PSEnum):
        return value.name
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, timedelta):
        return format_timespan(value)
    if isinstance(value, list | tuple):
        return " ".join(to_string(item) for item in value)
    if isinstance(value, bytes | bytearray):
        return " ".join(str(b) for b in value)
    if isinstance(value, PSObject):
        if value.text is not None:
            return value.text
        if value.type_name == "System.Management.Automation.PSCustomObject" or (
            value.type_name.startswith("Selected.")
        ):
            inner = "; ".join(f"{k}={to_string(v)}" for k, v in value.items())
            return "@{" + inner + "}"
        return value.type_name
    if isinstance(value, Hashtable):
        return "System.Collections.Hashtable"
    if isinstance(value, ScriptBlock):
        return value.text
    return str(value)


def type_name_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "System.Boolean"
    if isinstance(value, int):
        return "System.Int32" if -(2**31) <= value < 2**31 else "System.Int64"
    if isinstance(value, float):
        return "System.Double"
    if isinstance(value, str):
        return "System.String"
    if isinstance(value, list | tuple):
        return "System.Object[]"
    if isinstance(value, bytes | bytearray):
        return "System.Byte[]"
    if isinstance(value, datetime):
        return "System.DateTime"
    if isinstance(value, timedelta):
        return "System.TimeSpan"
    if isinstance(value, PSEnum):
        return value.type_name
    if isinstance(value, PSObject):
        return value.type_name
    if isinstance(value, Hashtable):
        return "System.Collections.Hashtable"
    if isinstance(value, ScriptBlock):
        return "System.Management.Automation.ScriptBlock"
    return type(value).__name__


class ConversionError(Exception):
    """A value cannot be converted to the requested type (becomes an InvalidCastException)."""


def to_number(value: Any) -> int | float:
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, PSEnum):
        return value.value
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0
        try:
            if text.lower().startswith("0x"):
                return int(text, 16)
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            raise ConversionError(
                f'Cannot convert value "{value}" to type "System.Int32". Error: "Input string was'
                ' not in a correct format."'
            ) from None
    if isinstance(value, list | tuple) and len(value) == 1:
        return to_number(value[0])
    raise ConversionError(
        f'Cannot convert the "{to_string(value)}" value of type "{type_name_of(value)}" to type'
        ' "System.Int32".'
    )


def to_int(value: Any) -> int:
    number = to_number(value)
    if isinstance(number, float):
        # .NET rounds half to even, as Python's round() does.
        return round(number)
    return number


def _coerce_like(left: Any, right: Any) -> Any:
    """Convert ``right`` to ``left``'s type for a comparison (PowerShell: the left side wins)."""
    if isinstance(left, PSEnum):
        if isinstance(right, PSEnum):
            return right
        if isinstance(right, str):
            return right
        return right
    if isinstance(left, bool):
        return truthy(right)
    if isinstance(left, int | float):
        try:
            return to_number(right)
        except ConversionError:
            return None
    if isinstance(left, str):
        return to_string(right)
    return right


def ps_equals(left: Any, right: Any) -> bool:
    """``-eq`` for two scalars: case-insensitive strings, right converted to left's type."""
    if isinstance(left, PSEnum):
        if isinstance(right, PSEnum):
            return left.value == right.value
        if isinstance(right, str):
            return left.name.lower() == right.strip().lower() or right.strip() == str(left.value)
        if isinstance(right, int | float):
            return left.value == right
        return False
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, str) and isinstance(right, PSEnum):
        return left.lower() == right.name.lower()
    converted = _coerce_like(left, right)
    if isinstance(left, str):
        return left.lower() == str(converted).lower()
    if isinstance(left, bool | int | float):
        return converted is not None and left == converted
    if isinstance(left, datetime) and isinstance(right, datetime):
        return left == right
    return bool(left is right or left == right)


def ps_compare(left: Any, right: Any) -> int:
    """Ordering for -gt/-lt and Sort-Object; raises ConversionError when not comparable."""
    if isinstance(left, PSEnum):
        left = left.value
        if isinstance(right, str):
            right = right.strip()
    if isinstance(right, PSEnum):
        right = right.value
    if left is None:
        return 0 if right is None else -1
    if right is None:
        return 1
    a: Any
    b: Any
    if isinstance(left, str):
        a, b = left.lower(), to_string(right).lower()
    elif isinstance(left, bool | int | float):
        a, b = left, to_number(right)
    elif isinstance(left, datetime | timedelta) and type(left) is type(right):
        a, b = left, right
    else:
        a, b = to_string(left).lower(), to_string(right).lower()
    return int(a > b) - int(a < b)
