"""Cmdlet specifications and PowerShell's parameter binding.

A :class:`CmdletSpec` declares a command's parameters (:class:`ParamSpec`) and the Python
handler that runs it; :func:`bind` turns the parsed arguments into a typed dict the way
PowerShell's binder does: ``-Name value``, ``-Name:value``, switches, unambiguous prefixes and
aliases, positional parameters, parameter sets, mandatory parameters (never prompting, as under
``-NonInteractive``) and pipeline input by value or by property name. Its errors carry the
messages and FullyQualifiedErrorIds PowerShell 5.1 prints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from lab.powershell.records import ErrorRecord, PSRuntimeError
from lab.powershell.values import (
    ConversionError,
    Hashtable,
    PSEnum,
    PSObject,
    ScriptBlock,
    to_int,
    to_string,
    type_name_of,
)

if TYPE_CHECKING:
    from lab.powershell.evaluator import Session

ParamType = Literal[
    "string", "int", "switch", "bool", "object", "string[]", "timespan", "scriptblock", "object[]"
]

_NET_TYPES = {
    "string": "System.String",
    "int": "System.Int32",
    "switch": "System.Management.Automation.SwitchParameter",
    "bool": "System.Boolean",
    "object": "System.Object",
    "string[]": "System.String[]",
    "object[]": "System.Object[]",
    "timespan": "System.TimeSpan",
    "scriptblock": "System.Management.Automation.ScriptBlock",
}


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a cmdlet.

    ``set`` names the parameter set it belongs to (None: every set); ``pipeline`` is False,
    ``'value'`` (ValueFromPipeline) or ``'property'`` (ValueFromPipelineByPropertyName).
    """

    name: str
    type: ParamType = "string"
    mandatory: bool = False
    position: int | None = None
    pipeline: Literal[False, "value", "property"] = False
    set: str | None = None
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()  # ValidateSet, compared case-insensitively
    remaining: bool = False  # ValueFromRemainingArguments: takes every leftover positional


@dataclass(frozen=True)
class CmdletSpec:
    """A command the interpreter can run.

    ``handler(invocation)`` returns (or yields) the objects the command outputs, or None.
    It is called once per pipeline input object when a parameter takes pipeline input, else
    once (with all input in ``invocation.input`` when ``collect_input`` is set).
    """

    name: str
    params: Sequence[ParamSpec]
    handler: Callable[[Invocation], Iterable[Any] | None]
    supports_should_process: bool = False
    confirm_impact: Literal["Low", "Medium", "High"] = "Medium"
    default_set: str | None = None
    collect_input: bool = False
    aliases: tuple[str, ...] = ()
    qualifier: str = ""  # FullyQualifiedErrorId suffix; defaults to the cmdlet name

    @property
    def error_qualifier(self) -> str:
        return self.qualifier or self.name


class Invocation:
    """What a handler gets: bound parameters, pipeline input, streams and the session."""

    def __init__(
        self,
        spec: CmdletSpec,
        params: dict[str, Any],
        input_objects: list[Any],
        session: Session,
        common: dict[str, Any],
        parameter_set: str | None,
    ) -> None:
        self.spec = spec
        self.params = params
        self.input = input_objects
        self.session = session
        self.common = common
        self.parameter_set = parameter_set

    @property
    def name(self) -> str:
        return self.spec.name

    def get(self, name: str, default: Any = None) -> Any:
        """A bound parameter by its spec name (case-insensitive), or ``default``."""
        for key, value in self.params.items():
            if key.lower() == name.lower():
                return value
        return default

    def bound(self, name: str) -> bool:
        return any(key.lower() == name.lower() for key in self.params)

    @property
    def current(self) -> Any:
        """The pipeline input object being processed (None without pipeline input)."""
        return self.input[0] if self.input else None

    # -- streams ----------------------------------------------------------------------------

    def write_verbose(self, message: str) -> None:
        self.session.write_verbose(message, self.common.get("Verbose"))

    def write_warning(self, message: str) -> None:
        self.session.write_warning(message, self.common.get("WarningAction"))

    def write_host(self, message: str) -> None:
        self.session.write_host(message)

    def write_error(
        self,
        message: str,
        category: str = "NotSpecified",
        error_id: str = "",
        target: Any = None,
        exception: str = "",
    ) -> None:
        """A non-terminating error (terminating under ErrorAction Stop)."""
        record = self._record(message, category, error_id, target, exception)
        self.session.write_error(record, self.common.get("ErrorAction"))

    def error(
        self,
        message: str,
        category: str = "NotSpecified",
        error_id: str = "",
        target: Any = None,
        exception: str = "",
    ) -> PSRuntimeError:
        """Raise a terminating error record (ThrowTerminatingError). Use ``raise inv.error(...)``
        or just call it: it raises either way."""
        raise PSRuntimeError(self._record(message, category, error_id, target, exception))

    def _record(
        self, message: str, category: str, error_id: str, target: Any, exception: str
    ) -> ErrorRecord:
        return ErrorRecord(
            message=message,
            category=category,
            error_id=error_id or (exception or "RuntimeException"),
            target=target,
            exception=exception or "RuntimeException",
            activity=self.spec.name,
            command=self.spec.name,
            qualifier=self.spec.error_qualifier,
        )

    def should_process(self, target: str, action: str | None = None) -> bool:
        """ShouldProcess: False under -WhatIf (after printing PowerShell's "What if:" line)."""
        verb = action or self.spec.name
        if self.common.get("WhatIf"):
            self.session.write_host(
                f'What if: Performing the operation "{verb}" on target "{target}".'
            )
            return False
        return True

    def check_cancelled(self) -> None:
        """Raise if the run was cancelled; long handlers call it between steps."""
        self.session.check_cancelled()

    def sleep(self, seconds: float) -> None:
        """Wait, waking up at once when the run is cancelled."""
        self.session.sleep(seconds)


# -- binding -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamValue:
    """A named argument as parsed: ``value`` is None for a bare ``-Name``."""

    name: str
    text: str
    has_value: bool
    value: Any = None


@dataclass(frozen=True)
class ArgValue:
    """A positional argument as parsed."""

    value: Any


def pair_arguments(
    elements: Sequence[ParamValue | ArgValue], takes_value: Callable[[str], bool]
) -> tuple[list[ParamValue], list[Any]]:
    """Give each ``-Name`` that takes a value the argument that follows it."""
    named: list[ParamValue] = []
    positional: list[Any] = []
    index = 0
    while index < len(elements):
        item = elements[index]
        index += 1
        if isinstance(item, ArgValue):
            positional.append(item.value)
            continue
        if not item.has_value and index < len(elements) and takes_value(item.name):
            nxt = elements[index]
            if isinstance(nxt, ArgValue):
                item = ParamValue(item.name, item.text, True, nxt.value)
                index += 1
        named.append(item)
    return named, positional


@dataclass
class BoundCall:
    """The result of binding: spec params, common params, the set, what waits for input."""

    params: dict[str, Any]
    common: dict[str, Any]
    parameter_set: str | None
    pipeline_params: list[ParamSpec] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


COMMON_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("Verbose", "switch", aliases=("vb",)),
    ParamSpec("Debug", "switch", aliases=("db",)),
    ParamSpec("ErrorAction", "string", aliases=("ea",)),
    ParamSpec("WarningAction", "string", aliases=("wa",)),
    ParamSpec("InformationAction", "string", aliases=("infa",)),
    ParamSpec("ErrorVariable", "string", aliases=("ev",)),
    ParamSpec("WarningVariable", "string", aliases=("wv",)),
    ParamSpec("InformationVariable", "string", aliases=("iv",)),
    ParamSpec("OutVariable", "string", aliases=("ov",)),
    ParamSpec("OutBuffer", "int", aliases=("ob",)),
    ParamSpec("PipelineVariable", "string", aliases=("pv",)),
)
SHOULD_PROCESS_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("WhatIf", "switch", aliases=("wi",)),
    ParamSpec("Confirm", "switch", aliases=("cf",)),
)
_ACTIONS = ("SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend")


def binding_error(
    spec: CmdletSpec, message: str, error_id: str, category: str = "InvalidArgument",
    exception: str = "ParameterBindingException", target: Any = None,
) -> PSRuntimeError:
    return PSRuntimeError(
        ErrorRecord(
            message=message,
            category=category,
            error_id=error_id,
            exception=exception,
            activity=spec.name,
            command=spec.name,
            qualifier=spec.error_qualifier,
            target=target,
        )
    )


def _all_params(spec: CmdletSpec) -> list[ParamSpec]:
    extra = SHOULD_PROCESS_PARAMS if spec.supports_should_process else ()
    return [*spec.params, *COMMON_PARAMS, *extra]


def resolve_name(spec: CmdletSpec, name: str) -> ParamSpec:
    """The parameter ``-name`` designates: exact name or alias, else an unambiguous prefix."""
    params = _all_params(spec)
    lowered = name.lower()
    for param in params:
        if param.name.lower() == lowered or lowered in (a.lower() for a in param.aliases):
            return param
    matches = [p for p in params if p.name.lower().startswith(lowered)]
    if not matches:
        matches = [p for p in params if any(a.lower().startswith(lowered) for a in p.aliases)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise binding_error(
            spec,
            f"A parameter cannot be found that matches parameter name '{name}'.",
            "NamedParameterNotFound",
        )
    names = " ".join(f"-{p.name}" for p in matches)
    raise binding_error(
        spec,
        f"Parameter cannot be processed because the parameter name '{name}' is ambiguous. "
        f"Possible matches include: {names}.",
        "AmbiguousParameter",
    )


def convert(spec: CmdletSpec, param: ParamSpec, value: Any) -> Any:
    """Convert an argument to the parameter's type, with PowerShell's error messages."""
    net = _NET_TYPES[param.type]

    def fail(detail: str) -> PSRuntimeError:
        return binding_error(
            spec,
            f"Cannot bind parameter '{param.name}'. {detail}",
            "CannotConvertArgumentNoMessage",
        )

    kind = param.type
    if kind == "object":
        return value
    if kind == "object[]":
        return list(value) if isinstance(value, list | tuple) else [value]
    if kind == "switch":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and not isinstance(value, PSEnum):
            return value != 0
        raise fail(
            f'Cannot convert the "{to_string(value)}" value of type "{type_name_of(value)}" '
            'to type "System.Management.Automation.SwitchParameter".'
        )
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and not isinstance(value, PSEnum):
            return value != 0
        raise binding_error(
            spec,
            f"Cannot process argument transformation on parameter '{param.name}'. Cannot convert"
            f' value "{type_name_of(value)}" to type "System.Boolean". Boolean parameters accept'
            " only Boolean values and numbers, such as $True, $False, 1 or 0.",
            "ParameterArgumentTransformationError",
        )
    if kind == "string":
        if isinstance(value, list | tuple):
            if len(value) == 1:
                value = value[0]
            else:
                raise binding_error(
                    spec,
                    f"Cannot convert '{type_name_of(value)}' to the type '{net}' required by "
                    f"parameter '{param.name}'. Specified method is not supported.",
                    "CannotConvertArgument",
                )
        text = to_string(value)
        _check_choices(spec, param, text)
        return text
    if kind == "string[]":
        items = value if isinstance(value, list | tuple) else [value]
        texts = [to_string(item) for item in items]
        for text in texts:
            _check_choices(spec, param, text)
        return texts
    if kind == "int":
        try:
            return to_int(value)
        except ConversionError:
            raise fail(
                f'Cannot convert value "{to_string(value)}" to type "System.Int32". Error: '
                '"Input string was not in a correct format."'
            ) from None
    if kind == "timespan":
        return to_timespan(value, fail)
    if kind == "scriptblock":
        if isinstance(value, ScriptBlock):
            return value
        raise fail(
            f'Cannot convert the "{to_string(value)}" value of type "{type_name_of(value)}" to '
            'type "System.Management.Automation.ScriptBlock".'
        )
    raise AssertionError(kind)


def to_timespan(value: Any, fail: Callable[[str], PSRuntimeError]) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return timedelta(microseconds=value / 10)
    text = to_string(value).strip()
    parts = text.split(":")
    try:
        if len(parts) == 3:
            head = parts[0]
            days = 0
            if "." in head:
                day_text, head = head.split(".", 1)
                days = int(day_text)
            return timedelta(
                days=days, hours=int(head), minutes=int(parts[1]), seconds=float(parts[2])
            )
        if len(parts) == 2:
            return timedelta(hours=int(parts[0]), minutes=int(parts[1]))
        return timedelta(days=int(text))
    except ValueError:
        raise fail(
            f'Cannot convert value "{text}" to type "System.TimeSpan". Error: "String was not '
            'recognized as a valid TimeSpan."'
        ) from None


def _check_choices(spec: CmdletSpec, param: ParamSpec, text: str) -> None:
    if param.choices and text.lower() not in (c.lower() for c in param.choices):
        raise binding_error(
            spec,
            f"Cannot validate argument on parameter '{param.name}'. The argument \"{text}\" does"
            " not belong to the set \"" + ",".join(param.choices) + "\" specified by the "
            "ValidateSet attribute. Supply an argument that is in the set and then try the "
            "command again.",
            "ParameterArgumentValidationError",
        )


def _sets(spec: CmdletSpec) -> list[str]:
    names: list[str] = []
    for param in spec.params:
        if param.set and param.set not in names:
            names.append(param.set)
    return names


def _in_set(param: ParamSpec, set_name: str | None) -> bool:
    return param.set is None or set_name is None or param.set == set_name


def _takes_value(spec: CmdletSpec) -> Callable[[str], bool]:
    def check(name: str) -> bool:
        try:
            return resolve_name(spec, name).type != "switch"
        except PSRuntimeError:
            return False

    return check


def bind(
    spec: CmdletSpec,
    elements: Sequence[ParamValue | ArgValue],
    expects_input: bool,
) -> BoundCall:
    """Bind parsed arguments to ``spec``; raises PSRuntimeError with PowerShell's messages."""
    named, positional = pair_arguments(elements, _takes_value(spec))
    bound: dict[str, Any] = {}
    common: dict[str, Any] = {}
    by_param: dict[str, ParamSpec] = {}
    for item in named:
        param = resolve_name(spec, item.name)
        target = common if param not in spec.params else bound
        if param.name in target:
            raise binding_error(
                spec,
                f"Cannot bind parameter because parameter '{param.name}' is specified more than "
                "once. To provide multiple values to parameters that can accept multiple values,"
                ' use the array syntax. For example, "-parameter value1,value2,value3".',
                "ParameterAlreadyBound",
            )
        if param.type == "switch":
            value: Any = True if not item.has_value else item.value
        elif not item.has_value:
            raise binding_error(
                spec,
                f"Missing an argument for parameter '{param.name}'. Specify a parameter of type "
                f"'{_NET_TYPES[param.type]}' and try again.",
                "MissingArgument",
            )
        else:
            value = item.value
        converted = convert(spec, param, value)
        if target is common and param.name in ("ErrorAction", "WarningAction"):
            match = [a for a in _ACTIONS if a.lower() == str(converted).lower()]
            if not match:
                raise binding_error(
                    spec,
                    f"Cannot bind parameter '{param.name}'. Cannot convert value "
                    f'"{converted}" to type "System.Management.Automation.ActionPreference".',
                    "CannotConvertArgumentNoMessage",
                )
            converted = match[0]
        target[param.name] = converted
        by_param[param.name] = param

    sets = _sets(spec)
    candidates: list[str | None] = list(sets) if sets else [None]
    for name in bound:
        param = by_param[name]
        if param.set is not None:
            candidates = [c for c in candidates if c == param.set]
    if not candidates:
        raise _set_error(spec)

    # positional arguments, in position order among the parameters still free
    remaining = list(positional)
    if remaining:
        ordered = sorted(
            (p for p in spec.params if p.position is not None and p.name not in bound),
            key=lambda p: p.position if p.position is not None else 0,
        )
        for param in ordered:
            if not remaining:
                break
            if not any(_in_set(param, c) for c in candidates):
                continue
            if param.remaining:
                taken, remaining = remaining, []
                bound[param.name] = convert(spec, param, taken if len(taken) > 1 else taken[0])
            else:
                bound[param.name] = convert(spec, param, remaining.pop(0))
            by_param[param.name] = param
            if param.set is not None:
                candidates = [c for c in candidates if c == param.set]
        if remaining:
            raise binding_error(
                spec,
                "A positional parameter cannot be found that accepts argument "
                f"'{to_string(remaining[0])}'.",
                "PositionalParameterNotFound",
            )

    chosen = _choose_set(spec, candidates, bound, expects_input)
    pipeline_params = [
        p for p in spec.params if p.pipeline and _in_set(p, chosen) and p.name not in bound
    ]
    missing = [
        p.name
        for p in spec.params
        if p.mandatory and _in_set(p, chosen) and p.name not in bound
    ]
    if missing and not (expects_input and all(p in [q.name for q in pipeline_params]
                                              for p in missing)):
        raise missing_mandatory(spec, missing)
    return BoundCall(bound, common, chosen, pipeline_params, missing)


def missing_mandatory(spec: CmdletSpec, names: Sequence[str]) -> PSRuntimeError:
    """What PowerShell says under -NonInteractive instead of prompting."""
    return binding_error(
        spec,
        "Cannot process command because of one or more missing mandatory parameters: "
        + " ".join(names)
        + ".",
        "MissingMandatoryParameter",
    )


def prompt_unavailable(spec: CmdletSpec) -> PSRuntimeError:
    """What a confirmation question (ShouldProcess or ShouldContinue) becomes under
    ``powershell.exe -NonInteractive``: the host cannot ask, the cmdlet fails."""
    return PSRuntimeError(
        ErrorRecord(
            "PowerShell is in NonInteractive mode. Read and Prompt functionality is not "
            "available.",
            "InvalidOperation",
            "HostFunctionNotImplemented",
            exception="PSInvalidOperationException",
            activity=spec.name,
            command=spec.name,
            qualifier=spec.error_qualifier,
        )
    )


def _set_error(spec: CmdletSpec) -> PSRuntimeError:
    return binding_error(
        spec,
        "Parameter set cannot be resolved using the specified named parameters.",
        "AmbiguousParameterSet",
    )


def _choose_set(
    spec: CmdletSpec, candidates: list[str | None], bound: dict[str, Any], expects_input: bool
) -> str | None:
    if len(candidates) == 1:
        return candidates[0]

    def satisfied(set_name: str | None) -> bool:
        for param in spec.params:
            if param.mandatory and _in_set(param, set_name) and param.name not in bound:
                if not (expects_input and param.pipeline):
                    return False
        return True

    ok = [c for c in candidates if satisfied(c)]
    if len(ok) == 1:
        return ok[0]
    if expects_input:
        piped = [
            c for c in ok
            if any(p.pipeline and p.set == c and p.name not in bound for p in spec.params)
        ]
        if len(piped) == 1:
            return piped[0]
    if spec.default_set in candidates:
        return spec.default_set
    raise _set_error(spec)


def bind_pipeline_object(
    spec: CmdletSpec, call: BoundCall, obj: Any
) -> dict[str, Any]:
    """Bind one pipeline object (by value first, then by property name)."""
    params = dict(call.params)
    done = False
    for param in call.pipeline_params:
        if param.pipeline == "value" and param.name not in params:
            try:
                params[param.name] = convert(spec, param, obj)
                done = True
                break
            except PSRuntimeError:
                continue
    for param in call.pipeline_params:
        if param.pipeline != "property" or param.name in params:
            continue
        for name in (param.name, *param.aliases):
            value = _property(obj, name)
            if value is not _MISSING:
                params[param.name] = convert(spec, param, value)
                done = True
                break
    if not done:
        raise PSRuntimeError(
            ErrorRecord(
                message="The input object cannot be bound to any parameters for the command "
                "either because the command does not take pipeline input or the input and its "
                "properties do not match any of the parameters that take pipeline input.",
                category="InvalidArgument",
                error_id="InputObjectNotBound",
                exception="ParameterBindingException",
                activity=spec.name,
                command=spec.name,
                qualifier=spec.error_qualifier,
                target=obj,
            )
        )
    missing = [name for name in call.missing if name not in params]
    if missing:
        raise missing_mandatory(spec, missing)
    return params


_MISSING = object()


def _property(obj: Any, name: str) -> Any:
    if isinstance(obj, PSObject) and obj.has(name):
        return obj.get(name)
    if isinstance(obj, Hashtable) and name in obj:
        return obj[name]
    return _MISSING
