"""Instance members and methods: the sliver of .NET objects the lab's scripts use.

String methods, DateTime and TimeSpan properties, hashtable helpers, array member
enumeration (``$services.Name``), error records in ``catch`` blocks and indexing. Types,
casts, static members and formatting live in :mod:`lab.powershell.dotnet`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from lab.powershell.records import ErrorRecord
from lab.powershell.values import (
    ConversionError,
    Hashtable,
    PSEnum,
    PSObject,
    ScriptBlock,
    TypeName,
    enumerate_value,
    format_number,
    to_int,
    to_number,
    to_string,
    type_name_of,
)

if TYPE_CHECKING:
    from lab.powershell.evaluator import Session


from lab.powershell.dotnet import (
    NO_VALUE,
    Encoding,
    FileStream,
    HashAlgorithm,
    MethodError,
    call_static,
    canonical_type,
    convert_to,
    dotnet_datetime_format,
    dotnet_format,
    is_type,
    runtime_error,
    static_member,
)

# -- instance members --------------------------------------------------------------------------


def _datetime_member(value: datetime, key: str) -> Any:
    simple = {
        "year": value.year, "month": value.month, "day": value.day, "hour": value.hour,
        "minute": value.minute, "second": value.second,
        "millisecond": value.microsecond // 1000,
    }
    if key in simple:
        return simple[key]
    if key == "dayofweek":
        names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        return PSEnum(names[value.weekday()], (value.weekday() + 1) % 7, "System.DayOfWeek")
    if key == "date":
        return value.replace(hour=0, minute=0, second=0, microsecond=0)
    if key == "ticks":
        delta = value.replace(tzinfo=None) - datetime(1, 1, 1)
        return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10
    return None


def timespan_member(value: timedelta, key: str) -> Any:
    total = value.total_seconds()
    sign = -1 if total < 0 else 1
    whole = abs(value)
    parts = {
        "days": sign * whole.days,
        "hours": sign * (whole.seconds // 3600),
        "minutes": sign * (whole.seconds // 60 % 60),
        "seconds": sign * (whole.seconds % 60),
        "milliseconds": sign * (whole.microseconds // 1000),
        "totaldays": total / 86400,
        "totalhours": total / 3600,
        "totalminutes": total / 60,
        "totalseconds": total,
        "totalmilliseconds": total * 1000,
        "ticks": round(total * 10_000_000),
    }
    return parts.get(key)


def get_member(target: Any, name: str) -> Any:
    """``target.Name`` (with member enumeration over arrays, as PowerShell 3+ does)."""
    key = name.lower()
    if target is None:
        return None
    if isinstance(target, PSObject):
        if target.has(name):
            return target.get(name)
        return None
    if isinstance(target, Hashtable):
        if name in target:
            return target[name]
        if key == "keys":
            return list(target.keys())
        if key == "values":
            return list(target.values())
        if key == "count":
            return len(target)
        return None
    if isinstance(target, list | tuple | bytes | bytearray):
        if key in ("count", "length"):
            return len(target)
        results: list[Any] = []
        for item in target:
            value = get_member(item, name)
            if value is not None:
                results.extend(value if isinstance(value, list) else [value])
        if not results:
            return None
        return results[0] if len(results) == 1 else results
    if isinstance(target, str):
        if key == "length":
            return len(target)
        return None
    if isinstance(target, datetime):
        return _datetime_member(target, key)
    if isinstance(target, timedelta):
        return timespan_member(target, key)
    if isinstance(target, PSEnum):
        return target.value if key == "value__" else None
    if isinstance(target, ErrorRecord):
        return _error_record_member(target, key)
    if isinstance(target, FileStream):
        return {"length": len(target.data), "name": target.path, "position": 0}.get(key)
    if isinstance(target, HashAlgorithm):
        return {"hashsize": 256}.get(key)
    if key == "count":
        return 1
    return None


def _error_record_member(record: ErrorRecord, key: str) -> Any:
    if key == "exception":
        return PSObject(
            [("Message", record.message)],
            type_name=f"System.Management.Automation.{record.exception}",
            text=record.message,
        )
    if key == "fullyqualifiederrorid":
        return record.fully_qualified_error_id
    if key == "targetobject":
        return record.target
    if key == "categoryinfo":
        return PSObject(
            [("Category", record.category), ("Activity", record.activity),
             ("Reason", record.exception)],
            text=f"{record.category}: (:) [{record.activity}], {record.exception}",
        )
    return None


def call_method(session: Session, target: Any, name: str, args: list[Any]) -> Any:
    key = name.lower()
    if target is None:
        raise runtime_error("You cannot call a method on a null-valued expression.",
                     "InvalidOperation", "InvokeMethodOnNull")
    if key == "tostring" and not args:
        if isinstance(target, float):
            return format_number(target)
        return to_string(target)
    if key == "tostring" and isinstance(target, datetime) and len(args) == 1:
        return dotnet_datetime_format(target, to_string(args[0]))
    if key == "gettype" and not args:
        full = type_name_of(target)
        return PSObject([("Name", full.rsplit(".", 1)[-1]), ("FullName", full)],
                        type_name="System.RuntimeType", text=full)
    if key == "equals" and len(args) == 1:
        return target == args[0]
    if isinstance(target, str):
        return _string_method(target, key, name, args)
    if isinstance(target, Encoding):
        if key == "getstring" and len(args) == 1:
            data = args[0]
            raw = bytes(data) if isinstance(data, bytes | bytearray) else bytes(
                to_int(item) & 0xFF for item in enumerate_value(data)
            )
            return raw.decode(target.codec, errors="replace")
        if key == "getbytes" and len(args) == 1:
            return to_string(args[0]).encode(target.codec, errors="replace")
    if isinstance(target, HashAlgorithm):
        if key == "computehash" and len(args) == 1:
            return target.compute_hash(args[0])
        if key in ("dispose", "clear") and not args:
            return NO_VALUE
    if isinstance(target, FileStream) and key in ("dispose", "close") and not args:
        target.closed = True
        return NO_VALUE
    if isinstance(target, ScriptBlock) and key in ("invoke", "invokereturnasis"):
        from lab.powershell.evaluator import Session as _Session

        assert isinstance(session, _Session)
        out = session.invoke_block(target, list(args))
        return out if key == "invoke" else (out[0] if len(out) == 1 else out)
    if isinstance(target, Hashtable):
        if key in ("containskey", "contains") and len(args) == 1:
            return args[0] in target
        if key == "add" and len(args) == 2:
            if args[0] in target:
                raise MethodError(
                    f"Item has already been added. Key in dictionary: '{to_string(args[0])}'  "
                    f"Key being added: '{to_string(args[0])}'"
                )
            target[args[0]] = args[1]
            return NO_VALUE
        if key == "remove" and len(args) == 1:
            target.pop(args[0], None)
            return NO_VALUE
        if key == "clear" and not args:
            target.clear()
            return NO_VALUE
        if key == "getenumerator" and not args:
            return [PSObject([("Name", k), ("Key", k), ("Value", v)],
                             type_name="System.Collections.DictionaryEntry")
                    for k, v in target.items()]
    if isinstance(target, list):
        if key == "contains" and len(args) == 1:
            return args[0] in target
        if key == "indexof" and len(args) == 1:
            return target.index(args[0]) if args[0] in target else -1
        if key == "add":
            raise MethodError("Collection was of a fixed size.", "NotSupportedException")
    if isinstance(target, datetime):
        units = {"adddays": "days", "addhours": "hours", "addminutes": "minutes",
                 "addseconds": "seconds", "addmilliseconds": "milliseconds"}
        if key in units and len(args) == 1:
            return target + timedelta(**{units[key]: float(to_number(args[0]))})
        if key == "touniversaltime" and not args:
            return target
        if key == "tolocaltime" and not args:
            return target
    raise runtime_error(
        f"Method invocation failed because [{type_name_of(target)}] does not contain a method "
        f"named '{name}'.",
        "InvalidOperation",
        "MethodNotFound",
    )


def _string_method(text: str, key: str, name: str, args: list[Any]) -> Any:
    strs = [to_string(a) for a in args]
    if key in ("toupper", "toupperinvariant"):
        return text.upper()
    if key in ("tolower", "tolowerinvariant"):
        return text.lower()
    if key in ("trim", "trimstart", "trimend"):
        chars = "".join(strs) if strs else None
        func = {"trim": str.strip, "trimstart": str.lstrip, "trimend": str.rstrip}[key]
        return func(text, chars)
    if key == "split":
        if not strs:
            return text.split()
        seps = strs[0] if len(args) == 1 and not isinstance(args[0], list) else "".join(strs)
        if len(args) == 1 and isinstance(args[0], list):
            seps = "".join(to_string(a) for a in args[0])
        if not seps:
            return text.split()
        return re.split("[" + re.escape(seps) + "]", text)
    if key == "replace" and len(strs) == 2:
        if strs[0] == "":
            raise MethodError("String cannot be of zero length.\r\nParameter name: oldValue")
        return text.replace(strs[0], strs[1])
    if key == "contains" and len(strs) == 1:
        return strs[0] in text
    if key == "startswith" and strs:
        return text.startswith(strs[0])
    if key == "endswith" and strs:
        return text.endswith(strs[0])
    if key == "indexof" and strs:
        return text.find(strs[0])
    if key == "lastindexof" and strs:
        return text.rfind(strs[0])
    if key == "substring" and args:
        start = to_int(args[0])
        length = to_int(args[1]) if len(args) > 1 else len(text) - start
        if start < 0 or start > len(text) or length < 0 or start + length > len(text):
            raise MethodError(
                "startIndex cannot be larger than length of string.\r\nParameter name: startIndex"
                if start > len(text) else
                "Index and length must refer to a location within the string.\r\nParameter name:"
                " length"
            )
        return text[start : start + length]
    if key in ("padleft", "padright") and args:
        width = to_int(args[0])
        fill = strs[1] if len(strs) > 1 else " "
        return text.rjust(width, fill) if key == "padleft" else text.ljust(width, fill)
    if key == "tochararray" and not args:
        return list(text)
    if key == "insert" and len(args) == 2:
        at = to_int(args[0])
        return text[:at] + strs[1] + text[at:]
    if key == "remove" and args:
        at = to_int(args[0])
        count = to_int(args[1]) if len(args) > 1 else len(text) - at
        return text[:at] + text[at + count :]
    if key == "compareto" and len(strs) == 1:
        return (text > strs[0]) - (text < strs[0])
    raise runtime_error(
        f"Method invocation failed because [System.String] does not contain a method named "
        f"'{name}'.",
        "InvalidOperation",
        "MethodNotFound",
    )


def index(target: Any, key: Any) -> Any:
    """``target[key]``: arrays (negative from the end, out of range -> $null), strings,
    hashtables; an array of keys gives an array of results."""
    if target is None:
        raise runtime_error("Cannot index into a null array.", "InvalidOperation", "NullArray")
    if isinstance(key, list) and not isinstance(target, Hashtable):
        return [index(target, k) for k in key]
    if isinstance(target, Hashtable):
        return target.get(key)
    if isinstance(target, PSObject):
        return target.get(to_string(key))
    if isinstance(target, list | tuple | str | bytes | bytearray):
        try:
            position = to_int(key)
        except ConversionError:
            return None
        if -len(target) <= position < len(target):
            return target[position]
        return None
    if to_int(key) == 0:
        return target
    return None


__all__ = [
    "NO_VALUE",
    "MethodError",
    "TypeName",
    "call_method",
    "call_static",
    "canonical_type",
    "convert_to",
    "dotnet_format",
    "get_member",
    "index",
    "is_type",
    "static_member",
]
