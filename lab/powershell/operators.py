"""Expression evaluation: literals, variables, operators, casts and assignment targets.

PowerShell's operator rules live here: comparisons are case-insensitive and convert the right
operand to the left one's type; with an array on the left they filter; ``+`` concatenates
strings and arrays; ``-like`` uses wildcards, ``-match`` .NET regular expressions (setting
``$Matches``); ``-f`` formats like String.Format. Member access and method calls are in
:mod:`lab.powershell.members`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from lab.powershell import members
from lab.powershell import syntax as ast
from lab.powershell.members import NO_VALUE, MethodError, dotnet_format
from lab.powershell.records import ErrorRecord, Position, PSRuntimeError
from lab.powershell.values import (
    ConversionError,
    Hashtable,
    PSObject,
    ScriptBlock,
    TypeName,
    enumerate_value,
    is_enumerable,
    ps_compare,
    ps_equals,
    to_int,
    to_number,
    to_string,
    truthy,
    type_name_of,
)

if TYPE_CHECKING:
    from lab.powershell.evaluator import Session

__all__ = ["NO_VALUE", "evaluate"]


def runtime_error(
    message: str,
    category: str = "InvalidOperation",
    error_id: str = "RuntimeException",
    exception: str = "RuntimeException",
    target: Any = None,
) -> PSRuntimeError:
    return PSRuntimeError(ErrorRecord(message, category, error_id, target, exception))


def unwrap(values: list[Any]) -> Any:
    """A pipeline's collected output as a value: nothing -> $null, one -> itself, else array."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return values


scalar = unwrap


def pipeline_items(value: Any) -> list[Any]:
    """What an expression statement writes to the pipeline."""
    if value is NO_VALUE:
        return []
    if value is None:
        return [None]
    return enumerate_value(value) if is_enumerable(value) else [value]


def to_exit_code(value: Any) -> int:
    try:
        return to_int(value) & 0xFFFFFFFF if to_int(value) < 0 else to_int(value)
    except ConversionError:
        return 0


def throw_record(value: Any, pos: Position | None) -> ErrorRecord:
    if isinstance(value, ErrorRecord):
        return value
    message = "ScriptHalted" if value is None else to_string(value)
    return ErrorRecord(
        message,
        "OperationStopped",
        message,
        target=value,
        exception="RuntimeException",
        position=pos,
    )


def catch_matches(types: list[str], record: ErrorRecord) -> bool:
    for name in types:
        short = name.rsplit(".", 1)[-1].lower()
        if short in ("exception", "runtimeexception", "systemexception", "object"):
            return True
        if short == record.exception.lower():
            return True
        if short == "parameterbindingexception" and "parameterbinding" in record.exception.lower():
            return True
    return False


# -- evaluation ------------------------------------------------------------------------------


def evaluate(session: Session, node: ast.Node) -> Any:
    if isinstance(node, ast.Const):
        return node.value
    if isinstance(node, ast.VarRef):
        return session.get_var(node.name, node.drive)
    if isinstance(node, ast.ExpandString):
        return "".join(
            part if isinstance(part, str) else _expand_part(session, part) for part in node.parts
        )
    if isinstance(node, ast.SubExpr):
        out: list[Any] = []
        session.run_block(node.body, out.extend)
        return unwrap(out)
    if isinstance(node, ast.ArrayExpr):
        out = []
        session.run_block(node.body, out.extend)
        return out
    if isinstance(node, ast.Paren):
        inner = node.inner
        if isinstance(inner, ast.Assignment):
            session.assign(inner)
            return evaluate(session, inner.target)
        if isinstance(inner, ast.PipelineNode | ast.Command) or _is_statement(inner):
            return unwrap(session.collect(inner))
        return evaluate(session, inner)
    if isinstance(node, ast.ArrayLit):
        return [evaluate(session, item) for item in node.items]
    if isinstance(node, ast.HashLit):
        table = Hashtable()
        for key_node, value_node in node.pairs:
            key = evaluate(session, key_node)
            if isinstance(value_node, ast.PipelineNode | ast.Command) or _is_statement(value_node):
                value = unwrap(session.collect(value_node))
            else:
                value = evaluate(session, value_node)
            table[key] = value
        return table
    if isinstance(node, ast.BlockLit):
        return node.block
    if isinstance(node, ast.TypeLit):
        return TypeName(members.canonical_type(node.type_name))
    if isinstance(node, ast.Binary):
        return _binary_node(session, node)
    if isinstance(node, ast.Unary):
        return unary(node.op, evaluate(session, node.operand))
    if isinstance(node, ast.Cast):
        return cast(node.type_name, evaluate(session, node.operand))
    if isinstance(node, ast.Member):
        target = evaluate(session, node.target)
        if node.static:
            return members.static_member(_type_of_static(node.target, target), node.name, session.clock)
        return members.get_member(target, node.name)
    if isinstance(node, ast.Invoke):
        return _invoke(session, node)
    if isinstance(node, ast.Index):
        return members.index(evaluate(session, node.target), evaluate(session, node.index))
    if isinstance(node, ast.IncDec):
        current = evaluate(session, node.target)
        new = to_number(current) + node.delta
        assign_to(session, node.target, new)
        return NO_VALUE
    if isinstance(node, ast.PipelineNode | ast.Command) or _is_statement(node):
        return unwrap(session.collect(node))
    raise runtime_error(f"The lab cannot evaluate {type(node).__name__}.")


def _is_statement(node: ast.Node) -> bool:
    return isinstance(
        node, ast.If | ast.Foreach | ast.While | ast.For | ast.Try | ast.Throw | ast.Exit
        | ast.Return | ast.Assignment | ast.FunctionDef
    )


def _expand_part(session: Session, node: ast.Node) -> str:
    value = evaluate(session, node)
    if isinstance(value, list):
        return " ".join(to_string(item) for item in value)
    return to_string(value)


def _type_of_static(node: ast.Node, value: Any) -> str:
    if isinstance(node, ast.TypeLit):
        return members.canonical_type(node.type_name)
    if isinstance(value, TypeName):
        return str(value)
    return type_name_of(value).lower()


def _invoke(session: Session, node: ast.Invoke) -> Any:
    target = evaluate(session, node.target)
    args = [evaluate(session, arg) for arg in node.args]
    try:
        if node.static:
            return members.call_static(session, _type_of_static(node.target, target), node.name,
                                       args)
        return members.call_method(session, target, node.name, args)
    except MethodError as exc:
        raise runtime_error(
            f'Exception calling "{node.name}" with "{len(args)}" argument(s): "{exc}"',
            "NotSpecified",
            exc.error_id,
            "MethodInvocationException",
        ) from None


def _binary_node(session: Session, node: ast.Binary) -> Any:
    op = node.op
    if op == "and":
        return truthy(evaluate(session, node.left)) and truthy(evaluate(session, node.right))
    if op == "or":
        return truthy(evaluate(session, node.left)) or truthy(evaluate(session, node.right))
    left = evaluate(session, node.left)
    right = evaluate(session, node.right)
    if op in ("match", "notmatch", "cmatch", "cnotmatch"):
        return _match(session, op, left, right)
    return binary(op, left, right)


def _wildcard(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "`" and index + 1 < len(pattern):
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end > index:
                out.append("[" + pattern[index + 1 : end].replace("\\", "\\\\") + "]")
                index = end + 1
                continue
            out.append(re.escape(char))
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out), re.DOTALL)


def _like(value: Any, pattern: Any, case: bool) -> bool:
    regex = _wildcard(to_string(pattern))
    flags = 0 if case else re.IGNORECASE
    return re.fullmatch(regex.pattern, to_string(value), flags | re.DOTALL) is not None


def _regex(pattern: Any, case: bool) -> re.Pattern[str]:
    text = to_string(pattern)
    # .NET named groups and back-references in Python's spelling
    python = re.sub(r"(?<!\\)\(\?<(?![=!])", "(?P<", text)
    python = re.sub(r"\\k<(\w+)>", r"(?P=\1)", python)
    try:
        return re.compile(python, 0 if case else re.IGNORECASE)
    except re.error as exc:
        raise runtime_error(
            f'The regular expression pattern {text} is not valid: {exc}.',
            "InvalidOperation",
            "InvalidRegularExpression",
        ) from None


def _match(session: Session, op: str, left: Any, right: Any) -> Any:
    case = op.startswith("c")
    negate = "not" in op
    regex = _regex(right, case)
    if isinstance(left, list):
        return [item for item in left if (regex.search(to_string(item)) is None) == negate]
    found = regex.search(to_string(left))
    if found and not negate:
        table = Hashtable()
        table[0] = found.group(0)
        for i, group in enumerate(found.groups(), 1):
            if group is not None:
                table[i] = group
        for name, group in found.groupdict().items():
            if group is not None:
                table[name] = group
        session.set_var("Matches", table)
    return (found is None) == negate


def _net_replacement(replacement: str) -> str:
    """A .NET replacement string ($1, ${name}, $0, $$) in Python's re.sub syntax."""
    out: list[str] = []
    index = 0
    while index < len(replacement):
        char = replacement[index]
        if char == "$" and index + 1 < len(replacement):
            nxt = replacement[index + 1]
            if nxt == "$":
                out.append("$")
                index += 2
                continue
            digits = re.match(r"\d+", replacement[index + 1 :])
            if digits:
                out.append(f"\\g<{digits.group(0)}>")
                index += 1 + len(digits.group(0))
                continue
            named = re.match(r"\{(\w+)\}", replacement[index + 1 :])
            if named:
                out.append(f"\\g<{named.group(1)}>")
                index += 1 + len(named.group(0))
                continue
        out.append("\\\\" if char == "\\" else char)
        index += 1
    return "".join(out)


def _compare_op(op: str, left: Any, right: Any) -> bool:
    case = op.startswith("c") and op not in ("contains",)
    base = op[1:] if op.startswith("c") and op[1:] in _SCALAR_OPS else op
    if base in ("eq", "ne"):
        equal = left == to_string(right) if case and isinstance(left, str) else ps_equals(left, right)
        return equal if base == "eq" else not equal
    if base in ("like", "notlike"):
        result = _like(left, right, case)
        return result if base == "like" else not result
    try:
        order = ps_compare(left, right)
    except ConversionError as exc:
        raise runtime_error(str(exc), "InvalidArgument", "InvalidCastFromStringToInteger",
                            "PSInvalidCastException") from None
    if case and isinstance(left, str):
        a, b = left, to_string(right)
        order = (a > b) - (a < b)
    return {"gt": order > 0, "ge": order >= 0, "lt": order < 0, "le": order <= 0}[base]


_SCALAR_OPS = {"eq", "ne", "gt", "ge", "lt", "le", "like", "notlike"}


def binary(op: str, left: Any, right: Any) -> Any:
    """A binary operator on two values (``and``/``or`` short-circuit in the caller)."""
    base = op[1:] if op.startswith("c") and op[1:] in (_SCALAR_OPS | _SET_OPS) else op
    if base in _SCALAR_OPS:
        if isinstance(left, list):
            return [item for item in left if _compare_op(op, item, right)]
        return _compare_op(op, left, right)
    if base in ("contains", "notcontains"):
        found = any(ps_equals(item, right) for item in enumerate_value(left))
        return found if base == "contains" else not found
    if base in ("in", "notin"):
        found = any(ps_equals(item, left) for item in enumerate_value(right))
        return found if base == "in" else not found
    if base == "replace":
        parts = right if isinstance(right, list) else [right]
        regex = _regex(parts[0], op.startswith("c"))
        repl = _net_replacement(to_string(parts[1])) if len(parts) > 1 else ""
        if isinstance(left, list):
            return [regex.sub(repl, to_string(item)) for item in left]
        return regex.sub(repl, to_string(left))
    if base == "split":
        parts = right if isinstance(right, list) else [right]
        regex = _regex(parts[0], op.startswith("c"))
        limit = to_int(parts[1]) if len(parts) > 1 else 0
        result: list[Any] = []
        for item in enumerate_value(left):
            result.extend(regex.split(to_string(item), maxsplit=max(0, limit - 1)))
        return result
    if op == "join":
        return to_string(right).join(to_string(item) for item in enumerate_value(left))
    if op == "f":
        return dotnet_format(to_string(left), enumerate_value(right) if isinstance(right, list)
                             else [right])
    if op in ("is", "isnot"):
        result_is = members.is_type(left, to_string(right))
        return result_is if op == "is" else not result_is
    if op == "as":
        try:
            return cast(to_string(right), left)
        except PSRuntimeError:
            return None
    if op == "xor":
        return truthy(left) != truthy(right)
    if op in ("band", "bor", "bxor"):
        a, b = to_int(left), to_int(right)
        return {"band": a & b, "bor": a | b, "bxor": a ^ b}[op]
    if op == "..":
        start, end = to_int(left), to_int(right)
        step = 1 if end >= start else -1
        return list(range(start, end + step, step))
    return _arith(op, left, right)


_SET_OPS = {"contains", "notcontains", "in", "notin", "replace", "split"}


def _arith(op: str, left: Any, right: Any) -> Any:
    try:
        if op == "+":
            if left is None:
                return right
            if isinstance(left, list):
                return left + (right if isinstance(right, list) else [right])
            if isinstance(left, str):
                return left + to_string(right)
            if isinstance(left, Hashtable) and isinstance(right, Hashtable):
                merged = Hashtable(left.items())
                for key, value in right.items():
                    if key in merged:
                        raise runtime_error(
                            f"Item has already been added. Key in dictionary: '{key}'  Key being "
                            f"added: '{key}'",
                            "InvalidOperation",
                            "System.ArgumentException",
                            "ArgumentException",
                        )
                    merged[key] = value
                return merged
            if isinstance(left, datetime) and isinstance(right, timedelta):
                return left + right
            if isinstance(left, timedelta) and isinstance(right, timedelta):
                return left + right
            return _num(to_number(left) + to_number(right))
        if op == "-":
            if isinstance(left, datetime) and isinstance(right, datetime | timedelta):
                return left - right
            if isinstance(left, timedelta) and isinstance(right, timedelta):
                return left - right
            return _num(to_number(left) - to_number(right))
        if op == "*":
            if isinstance(left, str):
                return left * to_int(right)
            if isinstance(left, list):
                return left * to_int(right)
            return _num(to_number(left) * to_number(right))
        if op in ("/", "%"):
            a, b = to_number(left), to_number(right)
            if b == 0:
                raise runtime_error("Attempted to divide by zero.", "NotSpecified",
                                    "RuntimeException")
            if op == "%":
                return _num(a - b * int(a / b))
            if isinstance(a, int) and isinstance(b, int) and a % b == 0:
                return a // b
            return a / b
    except ConversionError as exc:
        raise runtime_error(str(exc), "InvalidArgument", "InvalidCastFromStringToInteger",
                            "PSInvalidCastException") from None
    raise runtime_error(f"The operator '{op}' is not supported by the lab.")


def _num(value: int | float) -> int | float:
    return value


def unary(op: str, value: Any) -> Any:
    if op == "not":
        return not truthy(value)
    if op == ",":
        return [value]
    if op == "-":
        return -to_number(value)
    if op == "+":
        return to_number(value)
    if op == "bnot":
        return ~to_int(value)
    if op == "split":
        return [part for item in enumerate_value(value) for part in to_string(item).split()]
    if op == "join":
        return "".join(to_string(item) for item in enumerate_value(value))
    raise runtime_error(f"The operator '-{op}' is not supported by the lab.")


def cast(type_name: str, value: Any) -> Any:
    try:
        return members.convert_to(members.canonical_type(type_name), value)
    except ConversionError as exc:
        raise runtime_error(str(exc), "InvalidArgument", "InvalidCastFromStringToInteger",
                            "PSInvalidCastException") from None


def assign_to(session: Session, target: ast.Node, value: Any) -> None:
    if isinstance(target, ast.Cast):
        value = cast(target.type_name, value)
        target = target.operand
    if isinstance(target, ast.VarRef):
        session.set_var(target.name, value, target.drive)
        return
    if isinstance(target, ast.Member):
        obj = evaluate(session, target.target)
        if isinstance(obj, PSObject):
            obj.set(target.name, value)
            return
        if isinstance(obj, Hashtable):
            obj[target.name] = value
            return
        raise runtime_error(
            f"The property '{target.name}' cannot be found on this object. Verify that the "
            "property exists and can be set.",
            "InvalidOperation",
            "PropertyNotFound",
        )
    if isinstance(target, ast.Index):
        obj = evaluate(session, target.target)
        key = evaluate(session, target.index)
        if isinstance(obj, Hashtable):
            obj[key] = value
            return
        if isinstance(obj, list):
            position = to_int(key)
            if -len(obj) <= position < len(obj):
                obj[position] = value
                return
            raise runtime_error("Index was outside the bounds of the array.", "OperationStopped",
                                "System.IndexOutOfRangeException", "IndexOutOfRangeException")
        raise runtime_error("Cannot index into a null array.", "InvalidOperation", "NullArray")
    raise runtime_error("The assignment expression is not valid.")


__all__ += ["ScriptBlock"]
