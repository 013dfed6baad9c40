"""A small typed-schema layer: dataclasses in, strict validation from YAML nodes out.

Why not a general validation library: plans are validated from the *composed YAML node graph*
so that every error carries the exact line and column of the offending key or value, unknown
keys are errors, scalar types are checked from YAML's own resolution (``port: "5986"`` is a
string, not a number), and the same dataclasses generate ``plans/schema.json``. That is a few
hundred lines here against a dependency whose errors would have to be mapped back to lines.

Model classes are ordinary frozen dataclasses; each field's metadata carries its docstring and
constraints (see :func:`spec`). Values built from a plan remember where each field came from
(:func:`where`), so cross-reference checks can point at the right line too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, dataclass
from typing import Any, Literal, Union, get_args, get_origin

import yaml

# --------------------------------------------------------------------------- positions


@dataclass(frozen=True)
class Pos:
    """A 1-based position in the plan file."""

    line: int
    col: int

    @classmethod
    def of(cls, node: yaml.Node) -> Pos:
        return cls(node.start_mark.line + 1, node.start_mark.column + 1)


@dataclass(frozen=True)
class Issue:
    pos: Pos
    message: str


_LOC_ATTR = "_plan_loc"


def where(obj: object, field_name: str | None = None) -> Pos:
    """Where ``obj`` (or one of its fields) was written in the plan; 1:1 when unknown."""
    loc: dict[str, Pos] = getattr(obj, _LOC_ATTR, {})
    if field_name is not None and field_name in loc:
        return loc[field_name]
    return loc.get("", Pos(1, 1))


# --------------------------------------------------------------------------- field specs


def spec(
    doc: str,
    *,
    default: Any = MISSING,
    default_factory: Callable[[], Any] | None = None,
    pattern: str | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    min_items: int | None = None,
    key: str | None = None,
) -> Any:
    """A dataclass field with a docstring and constraints (``key``: YAML name if not the field's)."""
    meta = {
        "doc": doc,
        "pattern": pattern,
        "minimum": minimum,
        "maximum": maximum,
        "min_items": min_items,
        "key": key,
    }
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def yaml_key(f: dataclasses.Field[Any]) -> str:
    key = f.metadata.get("key")
    return key if isinstance(key, str) else f.name


class Duration:
    """A duration written as ``90s``, ``30m``, ``4h``, ``1d`` or ``1h30m``."""

    _RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
    json_pattern = r"^(\d+d)?(\d+h)?(\d+m)?(\d+s)?$"

    def __init__(self, seconds: int, text: str) -> None:
        self.seconds = seconds
        self.text = text

    @classmethod
    def parse(cls, text: str) -> Duration:
        m = cls._RE.match(text.strip())
        if not text.strip() or m is None:
            raise ValueError(f"'{text}' is not a duration (write e.g. 30m, 4h, 1d or 1h30m)")
        d, h, mi, s = (int(g) if g else 0 for g in m.groups())
        seconds = ((d * 24 + h) * 60 + mi) * 60 + s
        if seconds <= 0:
            raise ValueError(f"'{text}' is not a positive duration")
        return cls(seconds, text.strip())

    @classmethod
    def of(cls, seconds: int) -> Duration:
        h, rest = divmod(seconds, 3600)
        m = rest // 60
        return cls(seconds, (f"{h}h" if h else "") + (f"{m}m" if m or not h else ""))

    def __repr__(self) -> str:
        return f"Duration({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Duration) and other.seconds == self.seconds

    def __hash__(self) -> int:
        return hash(self.seconds)

    def __str__(self) -> str:
        return self.text


# --------------------------------------------------------------------------- validation

_TAG_INT = "tag:yaml.org,2002:int"
_TAG_FLOAT = "tag:yaml.org,2002:float"
_TAG_BOOL = "tag:yaml.org,2002:bool"
_TAG_NULL = "tag:yaml.org,2002:null"
_TAG_STR = "tag:yaml.org,2002:str"

_KIND_WORD: dict[type, str] = {
    yaml.MappingNode: "a mapping",
    yaml.SequenceNode: "a list",
}


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return {
            _TAG_INT: "a number",
            _TAG_FLOAT: "a number",
            _TAG_BOOL: "true/false",
            _TAG_NULL: "nothing (null)",
        }.get(node.tag, f"the text '{_short(node.value)}'")
    return _KIND_WORD.get(type(node), "a value")


def _short(text: str, limit: int = 40) -> str:
    """A value quoted in an error: one line, control characters shown as escapes (a NUL or an
    escape sequence from a plan never reaches the terminal), cut at ``limit``."""
    text = "".join(c if c == "\n" or 32 <= ord(c) != 127 else f"\\x{ord(c):02x}" for c in text).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


class TooLarge(Exception):
    """The node graph expands beyond the budget (an alias bomb, or an absurd plan)."""


class Validator:
    """Builds model instances from YAML nodes, collecting every issue instead of stopping."""

    def __init__(self, node_budget: int = 200_000) -> None:
        self.issues: list[Issue] = []
        self._budget = node_budget

    def error(self, node_or_pos: yaml.Node | Pos, message: str) -> None:
        pos = node_or_pos if isinstance(node_or_pos, Pos) else Pos.of(node_or_pos)
        self.issues.append(Issue(pos, message))

    def _spend(self) -> None:
        self._budget -= 1
        if self._budget < 0:
            raise TooLarge

    # The return type is whatever ``tp`` describes; mypy cannot express that here.
    def build(self, tp: Any, node: yaml.Node, path: str) -> Any:
        """Value of type ``tp`` from ``node``, or ``None`` after recording issues."""
        self._spend()
        origin = get_origin(tp)
        if origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if isinstance(node, yaml.ScalarNode) and node.tag == _TAG_NULL:
                return None
            return self.build(args[0], node, path) if len(args) == 1 else None
        if origin is Literal:
            return self._literal(tp, node, path)
        if origin is list:
            return self._list(get_args(tp)[0], node, path)
        if origin is dict:
            return self._dict(get_args(tp)[1], node, path)
        if dataclasses.is_dataclass(tp):
            return self._object(tp, node, path)
        return self._scalar(tp, node, path)

    def _literal(self, tp: Any, node: yaml.Node, path: str) -> Any:
        choices = get_args(tp)
        if isinstance(node, yaml.ScalarNode) and node.tag == _TAG_STR and node.value in choices:
            return node.value
        listed = ", ".join(str(c) for c in choices)
        self.error(node, f"{path}: expected one of {listed}; found {_describe(node)}")
        return None

    def _list(self, item_tp: Any, node: yaml.Node, path: str) -> list[Any] | None:
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, f"{path}: expected a list; found {_describe(node)}")
            return None
        out = []
        for i, child in enumerate(node.value):
            value = self.build(item_tp, child, f"{path}[{i}]")
            if value is not None:
                out.append(value)
        return out

    def _dict(self, value_tp: Any, node: yaml.Node, path: str) -> dict[str, Any] | None:
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{path}: expected a mapping; found {_describe(node)}")
            return None
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            self._spend()
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _TAG_NULL:
                self.error(key_node, f"{path}: keys must be plain text")
                continue
            key = key_node.value
            if key in out:
                self.error(key_node, f"{path}: '{key}' appears twice")
                continue
            value = self.build(value_tp, value_node, f"{path}.{key}")
            if value is not None:
                out[key] = value
        return out

    def _object(self, tp: Any, node: yaml.Node, path: str) -> Any:
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{path}: expected a mapping; found {_describe(node)}")
            return None
        fields = {yaml_key(f): f for f in dataclasses.fields(tp)}
        hints = typing.get_type_hints(tp)
        seen: dict[str, yaml.Node] = {}
        kwargs: dict[str, Any] = {}
        loc: dict[str, Pos] = {"": Pos.of(node)}
        failed = False
        for key_node, value_node in node.value:
            self._spend()
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                self.error(key_node, f"{path}: keys must be plain text")
                failed = True
                continue
            if key in seen:
                self.error(key_node, f"{path}: '{key}' appears twice")
                failed = True
                continue
            seen[key] = key_node
            f = fields.get(key)
            if f is None:
                self.error(key_node, f"{path}: unknown key '{key}'{_suggest(key, fields)}")
                failed = True
                continue
            loc[f.name] = Pos.of(value_node)
            before = len(self.issues)
            value = self.build(hints[f.name], value_node, f"{path}.{key}")
            if len(self.issues) > before:
                failed = True
                continue
            if value is not None:
                if not self._constraints(f, value, value_node, f"{path}.{key}"):
                    failed = True
                    continue
            kwargs[f.name] = value
        for key, f in fields.items():
            required = f.default is MISSING and f.default_factory is MISSING
            if required and key not in seen:
                self.error(node, f"{path}: missing required key '{key}' ({f.metadata.get('doc', '')})")
                failed = True
        if failed:
            return None
        for name, value in list(kwargs.items()):
            if value is None:  # explicit null for an optional field: use the default
                f = next(x for x in dataclasses.fields(tp) if x.name == name)
                if f.default is not MISSING or f.default_factory is not MISSING:
                    del kwargs[name]
        obj = tp(**kwargs)
        object.__setattr__(obj, _LOC_ATTR, loc)
        return obj

    def _constraints(self, f: dataclasses.Field[Any], value: Any, node: yaml.Node, path: str) -> bool:
        meta = f.metadata
        pattern = meta.get("pattern")
        if pattern and isinstance(value, str) and not re.fullmatch(pattern, value):
            self.error(node, f"{path}: '{_short(value)}' is not valid here ({meta.get('doc', '')})")
            return False
        lo, hi = meta.get("minimum"), meta.get("maximum")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                self.error(node, f"{path}: {value} is out of range ({lo}..{hi})")
                return False
        min_items = meta.get("min_items")
        if min_items is not None and isinstance(value, (list, dict)) and len(value) < min_items:
            self.error(node, f"{path}: needs at least {min_items} entr{'y' if min_items == 1 else 'ies'}")
            return False
        return True

    def _scalar(self, tp: Any, node: yaml.Node, path: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            want = {str: "text", int: "a whole number", float: "a number", bool: "true or false"}
            self.error(node, f"{path}: expected {want.get(tp, 'a value')}; found {_describe(node)}")
            return None
        tag, text = node.tag, node.value
        if tp is str and tag in (_TAG_INT, _TAG_FLOAT):  # a bare number where text is wanted: say so
            self.error(node, f"{path}: expected text; found the number {text} (quote it)")
            return None
        read = _SCALAR_READERS.get(tp)
        try:
            value = read(tag, text) if read is not None else _MISMATCH
        except ValueError as exc:  # a duration that does not parse: its message says why
            self.error(node, f"{path}: {exc}")
            return None
        if value is not _MISMATCH:
            return value
        wanted = {
            str: "text",
            int: "a whole number",
            float: "a number",
            bool: "true or false",
            Duration: "a duration such as 30m or 4h",
        }.get(tp, "a value")
        self.error(node, f"{path}: expected {wanted}; found {_describe(node)}")
        return None


#: What a scalar reader returns when the YAML scalar is not of the wanted type.
_MISMATCH = object()


def _read_str(tag: str, text: str) -> Any:
    return text if tag == _TAG_STR else _MISMATCH


def _read_bool(tag: str, text: str) -> Any:
    return text.lower() in ("true", "yes", "on") if tag == _TAG_BOOL else _MISMATCH


def _read_int(tag: str, text: str) -> Any:
    if tag == _TAG_INT:
        with contextlib.suppress(ValueError):
            return int(text.replace("_", ""), 0)
    return _MISMATCH


def _read_float(tag: str, text: str) -> Any:
    if tag in (_TAG_INT, _TAG_FLOAT):
        with contextlib.suppress(ValueError):
            return float(text.replace("_", ""))
    return _MISMATCH


def _read_duration(tag: str, text: str) -> Any:
    """A duration, or ValueError saying why the text is not one."""
    return Duration.parse(text) if tag == _TAG_STR else _MISMATCH


#: Scalar readers by wanted type: each takes the YAML tag and text of a scalar node.
_SCALAR_READERS: dict[Any, Callable[[str, str], Any]] = {
    str: _read_str,
    bool: _read_bool,
    int: _read_int,
    float: _read_float,
    Duration: _read_duration,
}


def _suggest(key: str, fields: dict[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""


# --------------------------------------------------------------------------- JSON Schema


def json_schema(root: type, *, title: str, schema_id: str) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) for ``root``, with every dataclass under ``$defs``."""
    defs: dict[str, Any] = {}
    top = _schema_object(root, defs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id,
        "title": title,
        **top,
        "$defs": dict(sorted(defs.items())),
    }


_JSON_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
}


def _schema_of(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """The schema of one type; dataclasses go to ``defs`` and are referred to."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        inner = _schema_of(args[0], defs)
        return {"anyOf": [inner, {"type": "null"}]}
    if origin is Literal:
        return {"enum": list(get_args(tp))}
    if origin is list:
        return {"type": "array", "items": _schema_of(get_args(tp)[0], defs)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema_of(get_args(tp)[1], defs)}
    if dataclasses.is_dataclass(tp):
        name = typing.cast(type, tp).__name__
        if name not in defs:
            defs[name] = {}  # placeholder against recursion
            defs[name] = _schema_object(tp, defs)
        return {"$ref": f"#/$defs/{name}"}
    if tp is Duration:
        return {"type": "string", "pattern": Duration.json_pattern}
    return dict(_JSON_SCALARS[tp])


def _schema_object(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(tp)
    props: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(tp):
        key = yaml_key(f)
        props[key] = _schema_field(f, hints[f.name], defs)
        if f.default is MISSING and f.default_factory is MISSING:
            required.append(key)
    out: dict[str, Any] = {
        "type": "object",
        "description": (tp.__doc__ or "").strip().split("\n\n")[0],
        "properties": props,
        "additionalProperties": False,
    }
    if required:
        out["required"] = required
    return out


def _schema_field(f: dataclasses.Field[Any], hint: Any, defs: dict[str, Any]) -> dict[str, Any]:
    s = dict(_schema_of(hint, defs))
    meta = f.metadata
    s["description"] = meta.get("doc", "")
    if meta.get("pattern"):
        s["pattern"] = meta["pattern"]
    if meta.get("minimum") is not None:
        s["minimum"] = meta["minimum"]
    if meta.get("maximum") is not None:
        s["maximum"] = meta["maximum"]
    if meta.get("min_items") is not None:
        s["minItems" if s.get("type") == "array" else "minProperties"] = meta["min_items"]
    if f.default is not MISSING and isinstance(f.default, (str, int, float, bool)):
        s["default"] = f.default
    return s
