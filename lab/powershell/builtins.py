"""The built-in cmdlets of the lab's PowerShell (Microsoft.PowerShell.* and friends).

Each is a :class:`CmdletSpec` like the lab's Lync cmdlets, so they double as examples of the
extension API. Behaviour follows Windows PowerShell 5.1 where scripts can tell the difference:
Write-Output enumerates, ConvertTo-Json collects pipeline input (one object is not wrapped in
an array, ``-InputObject`` is serialised as given), Select-Object creates ``Selected.*``
objects, Set-Content/Add-Content write CRLF line ends, Get-Content -Raw returns one string.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from lab.powershell.binding import COMMON_PARAMS, SHOULD_PROCESS_PARAMS, CmdletSpec, Invocation, ParamSpec
from lab.powershell.dotnet import NO_VALUE, convert_to, dotnet_datetime_format
from lab.powershell.formatting import (
    convert_to_json,
    format_list,
    format_table,
    json_loads,
    out_string,
)
from lab.powershell.fscmdlets import (
    ENCODING_NAMES,
    PATH_PARAMS,
    add_content,
    get_child_item,
    get_content,
    get_file_hash,
    get_item,
    join_path,
    new_item,
    remove_item,
    set_content,
    test_path,
)
from lab.powershell.members import get_member
from lab.powershell.operators import binary
from lab.powershell.parser import ParseError, parse_script
from lab.powershell.records import ErrorRecord
from lab.powershell.values import (
    ConversionError,
    Hashtable,
    PSObject,
    ScriptBlock,
    enumerate_value,
    is_enumerable,
    ps_compare,
    to_number,
    to_string,
    truthy,
)

P = ParamSpec

ALIASES = {
    "?": "Where-Object", "where": "Where-Object", "%": "ForEach-Object",
    "foreach": "ForEach-Object", "select": "Select-Object", "sort": "Sort-Object",
    "measure": "Measure-Object", "echo": "Write-Output", "write": "Write-Output",
    "gi": "Get-Item", "gci": "Get-ChildItem", "dir": "Get-ChildItem", "ls": "Get-ChildItem",
    "gc": "Get-Content", "cat": "Get-Content", "type": "Get-Content", "del": "Remove-Item",
    "rm": "Remove-Item", "ri": "Remove-Item", "erase": "Remove-Item", "iex": "Invoke-Expression",
    "sleep": "Start-Sleep", "ipmo": "Import-Module", "ni": "New-Item", "sc": "Set-Content",
    "ac": "Add-Content", "ft": "Format-Table", "fl": "Format-List", "gcm": "Get-Command",
}


# -- output -----------------------------------------------------------------------------------


def write_output(inv: Invocation) -> Iterable[Any]:
    value = inv.get("InputObject")
    if inv.get("NoEnumerate"):
        return [value]
    return enumerate_value(value) if is_enumerable(value) else [value]


def write_host(inv: Invocation) -> None:
    value = inv.get("Object")
    separator = inv.get("Separator", " ")
    if value is None and inv.input:
        value = inv.input
    items = enumerate_value(value) if is_enumerable(value) else [value]
    inv.write_host(separator.join(to_string(item) for item in items if item is not None))


def write_error(inv: Invocation) -> None:
    message = inv.get("Message") or ""
    record = ErrorRecord(
        message,
        inv.get("Category", "NotSpecified"),
        inv.get("ErrorId") or "Microsoft.PowerShell.Commands.WriteErrorException",
        target=inv.get("TargetObject"),
        exception="WriteErrorException",
        activity="Write-Error",
        command="Write-Error",
    )
    inv.session.write_error(record, inv.common.get("ErrorAction"))


def write_verbose(inv: Invocation) -> None:
    inv.write_verbose(inv.get("Message") or "")


def write_warning(inv: Invocation) -> None:
    inv.write_warning(inv.get("Message") or "")


def out_null(inv: Invocation) -> None:
    return None


def out_string_cmd(inv: Invocation) -> Iterable[Any]:
    objects = _input_or(inv, "InputObject")
    text = out_string(objects)
    if inv.get("Stream"):
        return text.splitlines()
    return [text]


def out_default(inv: Invocation) -> None:
    inv.session.out_default.write(_input_or(inv, "InputObject"))
    inv.session.out_default.flush()


def _format_cmd(inv: Invocation, as_list: bool) -> Iterable[Any]:
    objects = _input_or(inv, "InputObject")
    properties = inv.get("Property")
    if properties:
        objects = [
            PSObject([(to_string(p), get_member(o, to_string(p))) for p in properties])
            for o in objects
        ]
    shaped = [o for o in objects if isinstance(o, PSObject | Hashtable)]
    if not objects:
        return []
    if len(shaped) != len(objects):
        return out_string(objects).splitlines()
    if as_list:
        return format_list(shaped)
    return format_table(shaped)


def format_table_cmd(inv: Invocation) -> Iterable[Any]:
    return _format_cmd(inv, as_list=False)


def format_list_cmd(inv: Invocation) -> Iterable[Any]:
    return _format_cmd(inv, as_list=True)


def _input_or(inv: Invocation, name: str) -> list[Any]:
    if inv.bound(name):
        value = inv.get(name)
        return [value]
    return list(inv.input)


# -- JSON -------------------------------------------------------------------------------------


def convert_to_json_cmd(inv: Invocation) -> Iterable[Any]:
    depth = inv.get("Depth", 2)
    if depth < 0 or depth > 100:
        raise inv.error(
            f"Cannot validate argument on parameter 'Depth'. The {depth} argument is greater "
            "than the maximum allowed range of 100. Supply an argument that is less than or "
            "equal to 100 and then try the command again.",
            "InvalidData",
            "ParameterArgumentValidationError",
            exception="ParameterBindingValidationException",
        )
    if inv.bound("InputObject"):
        value = inv.get("InputObject")
    elif not inv.input:
        return []
    elif len(inv.input) == 1:
        value = inv.input[0]
    else:
        value = list(inv.input)
    return [convert_to_json(value, depth, bool(inv.get("Compress")))]


def convert_from_json_cmd(inv: Invocation) -> Iterable[Any]:
    texts = [inv.get("InputObject")] if inv.bound("InputObject") else inv.input
    text = "\n".join(to_string(t) for t in texts)
    try:
        return [json_loads(text)]
    except ValueError as exc:
        raise inv.error(
            f"Invalid JSON primitive: {exc}.",
            "NotSpecified",
            "System.ArgumentException",
            exception="ArgumentException",
        ) from None


# -- object cmdlets ---------------------------------------------------------------------------


def _property_value(obj: Any, name: str) -> Any:
    return get_member(obj, name)


def _calculated(inv: Invocation, obj: Any, spec: Hashtable) -> tuple[str, Any]:
    name = next((to_string(spec[k]) for k in ("Name", "Label", "N", "L") if k in spec), "")
    expression = next((spec[k] for k in ("Expression", "E") if k in spec), None)
    if isinstance(expression, ScriptBlock):
        result = inv.session.invoke_block(expression, [], dollar_under=obj, new_scope=True)
        value = result[0] if len(result) == 1 else (result or None)
    else:
        value = _property_value(obj, to_string(expression))
        name = name or to_string(expression)
    return name, value


def select_object(inv: Invocation) -> Iterable[Any]:
    objects = list(inv.input) if not inv.bound("InputObject") else [inv.get("InputObject")]
    if inv.bound("Skip"):
        objects = objects[inv.get("Skip") :]
    if inv.bound("First"):
        objects = objects[: inv.get("First")]
    if inv.bound("Last"):
        count = inv.get("Last")
        objects = objects[-count:] if count else []
    properties = inv.get("Property")
    expand = inv.get("ExpandProperty")
    out: list[Any] = []
    for obj in objects:
        if properties:
            props: list[tuple[str, Any]] = []
            for prop in properties:
                if isinstance(prop, Hashtable):
                    props.append(_calculated(inv, obj, prop))
                    continue
                pattern = to_string(prop)
                if "*" in pattern and isinstance(obj, PSObject):
                    props.extend(
                        (n, v) for n, v in obj.items() if binary("like", n, pattern)
                    )
                else:
                    props.append((pattern, _property_value(obj, pattern)))
            type_name = obj.type_name if isinstance(obj, PSObject) else (
                "System.Management.Automation.PSCustomObject"
            )
            out.append(PSObject(props, type_name=f"Selected.{type_name}"))
        elif expand:
            if not (isinstance(obj, PSObject) and obj.has(expand)) and get_member(
                obj, expand
            ) is None:
                inv.write_error(
                    f'Property "{expand}" cannot be found.',
                    "InvalidArgument",
                    "ExpandPropertyNotFound",
                    target=obj,
                    exception="PSArgumentException",
                )
                continue
            value = get_member(obj, expand)
            out.extend(enumerate_value(value) if is_enumerable(value) else [value])
        else:
            out.append(obj)
    if inv.get("Unique"):
        unique: list[Any] = []
        for item in out:
            if not any(to_string(item) == to_string(seen) for seen in unique):
                unique.append(item)
        out = unique
    return out


_WHERE_OPS = (
    "EQ", "NE", "GT", "GE", "LT", "LE", "Like", "NotLike", "Match", "NotMatch", "Contains",
    "NotContains", "In", "NotIn", "CEQ", "CNE", "CLike", "CMatch",
)


def _with_underscore(inv: Invocation, block: ScriptBlock, obj: Any) -> list[Any]:
    return inv.session.invoke_block(block, [], dollar_under=obj, new_scope=False)


def where_object(inv: Invocation) -> Iterator[Any]:
    block = inv.get("FilterScript")
    prop = inv.get("Property")
    if block is None and isinstance(prop, ScriptBlock):
        block, prop = prop, None
    ops = [op for op in _WHERE_OPS if inv.get(op)]
    for obj in inv.input:
        inv.check_cancelled()
        if block is not None:
            result = _with_underscore(inv, block, obj)
            keep = truthy(result[0] if len(result) == 1 else result)
        else:
            value = get_member(obj, to_string(prop))
            keep = truthy(binary(ops[0].lower(), value, inv.get("Value"))) if ops else truthy(value)
        if keep:
            yield obj


def foreach_object(inv: Invocation) -> Iterator[Any]:
    process = inv.get("Process")
    begin = inv.get("Begin")
    end = inv.get("End")
    member = inv.get("MemberName")
    if isinstance(process, list):
        process = process[0] if process else None
    if isinstance(process, str):
        member, process = process, None
    if isinstance(begin, ScriptBlock):
        yield from _with_underscore(inv, begin, None)
    for obj in inv.input:
        inv.check_cancelled()
        if isinstance(process, ScriptBlock):
            yield from _with_underscore(inv, process, obj)
        elif member:
            value = get_member(obj, to_string(member))
            yield from (enumerate_value(value) if is_enumerable(value) else [value])
    if isinstance(end, ScriptBlock):
        yield from _with_underscore(inv, end, None)


def sort_object(inv: Invocation) -> Iterable[Any]:
    properties = inv.get("Property") or []
    objects = list(inv.input)

    def key_of(obj: Any) -> list[Any]:
        if not properties:
            return [obj]
        keys = []
        for prop in properties:
            if isinstance(prop, ScriptBlock):
                result = inv.session.invoke_block(prop, [], dollar_under=obj)
                keys.append(result[0] if len(result) == 1 else result)
            else:
                keys.append(get_member(obj, to_string(prop)))
        return keys

    def compare(a: Any, b: Any) -> int:
        for x, y in zip(key_of(a), key_of(b), strict=True):
            order = ps_compare(x, y)
            if order:
                return order
        return 0

    objects.sort(key=functools.cmp_to_key(compare), reverse=bool(inv.get("Descending")))
    if inv.get("Unique"):
        unique: list[Any] = []
        for item in objects:
            if not unique or compare(unique[-1], item) != 0:
                unique.append(item)
        objects = unique
    return objects


def measure_object(inv: Invocation) -> Iterable[Any]:
    prop = inv.get("Property")
    objects = list(inv.input)
    values = [get_member(o, to_string(prop)) if prop else o for o in objects]
    numbers = [to_number(v) for v in values if v is not None] if (
        inv.get("Sum") or inv.get("Average") or inv.get("Maximum") or inv.get("Minimum")
    ) else []
    result = PSObject(
        [
            ("Count", len(objects)),
            ("Average", (sum(numbers) / len(numbers)) if inv.get("Average") and numbers else None),
            ("Sum", sum(numbers) if inv.get("Sum") else None),
            ("Maximum", max(numbers) if inv.get("Maximum") and numbers else None),
            ("Minimum", min(numbers) if inv.get("Minimum") and numbers else None),
            ("Property", prop),
        ],
        type_name="Microsoft.PowerShell.Commands.GenericMeasureInfo",
    )
    return [result]


def new_object(inv: Invocation) -> Iterable[Any]:
    type_name = to_string(inv.get("TypeName"))
    if type_name.lower() not in ("psobject", "pscustomobject", "system.management.automation."
                                 "psobject", "object", "system.object"):
        raise inv.error(
            f'Cannot find type [{type_name}]: verify that the assembly containing this type is '
            "loaded.",
            "InvalidType",
            "TypeNotFound",
            target=type_name,
            exception="PSArgumentException",
        )
    props = inv.get("Property")
    items = [(to_string(k), v) for k, v in props.items()] if isinstance(props, Hashtable) else []
    return [PSObject(items)]


# -- modules, time, expressions -----------------------------------------------------------------


def import_module(inv: Invocation) -> None:
    for name in inv.get("Name") or []:
        key = name.lower()
        if key in inv.session.available_modules:
            if key not in (m.lower() for m in inv.session.loaded_modules):
                inv.session.loaded_modules.append(inv.session.available_modules[key])
            continue
        inv.write_error(
            f"The specified module '{name}' was not loaded because no valid module file was "
            "found in any module directory.",
            "ResourceUnavailable",
            "Modules_ModuleNotFound",
            target=name,
            exception="FileNotFoundException",
        )


def get_date(inv: Invocation) -> Iterable[Any]:
    value = inv.get("Date")
    now = inv.session.clock() if value is None else value
    if not isinstance(now, datetime):
        try:
            now = convert_to("datetime", now)
        except ConversionError as exc:
            raise inv.error(
                f"Cannot bind parameter 'Date'. {exc}",
                "InvalidArgument",
                "CannotConvertArgumentNoMessage",
                exception="ParameterBindingException",
            ) from None
    fmt = inv.get("Format")
    if fmt:
        return [dotnet_datetime_format(now, fmt)]
    return [now]


def start_sleep(inv: Invocation) -> None:
    seconds = float(to_number(inv.get("Seconds") or 0))
    seconds += (inv.get("Milliseconds") or 0) / 1000
    inv.sleep(seconds)


def invoke_expression(inv: Invocation) -> Iterable[Any]:
    text = to_string(inv.get("Command"))
    try:
        block = parse_script(text)
    except ParseError as exc:
        raise inv.error(exc.message, "ParserError", "ParseException",
                        exception="ParseException") from None
    out: list[Any] = []
    inv.session.run_block(block.body, out.extend)
    return out


_MODULES = {"get-filehash": "Microsoft.PowerShell.Utility"}


def _command_info(session: Any, name: str) -> PSObject | None:
    """What Get-Command reports for ``name`` in this session, or None when it does not exist."""
    from lab.powershell.versions import FUNCTIONS

    key = name.lower()
    function = session.functions.get(key)
    if function is not None:
        return PSObject([("CommandType", "Function"), ("Name", name), ("ModuleName", "")],
                        type_name="System.Management.Automation.FunctionInfo", text=name)
    spec = session.commands.get(key)
    if spec is not None:
        if key != spec.name.lower():
            return PSObject([("CommandType", "Alias"), ("Name", key), ("ModuleName", "")],
                            type_name="System.Management.Automation.AliasInfo", text=key)
        kind = "Function" if key in FUNCTIONS else "Cmdlet"
        module = "Lync" if "-cs" in key else _MODULES.get(key, "")
        # .Parameters: name -> metadata (here the name), the cmdlet's own and the common ones
        names = [p.name for p in (*spec.params, *COMMON_PARAMS,
                                  *(SHOULD_PROCESS_PARAMS if spec.supports_should_process else ()))]
        return PSObject([("CommandType", kind), ("Name", spec.name), ("ModuleName", module),
                         ("Parameters", Hashtable((n, n) for n in names))],
                        type_name=f"System.Management.Automation.{kind}Info", text=spec.name)
    base = key.removesuffix(".exe")
    if base in session.natives:
        return PSObject([("CommandType", "Application"), ("Name", f"{base}.exe"),
                         ("ModuleName", "")],
                        type_name="System.Management.Automation.ApplicationInfo", text=f"{base}.exe")
    return None


def get_command(inv: Invocation) -> Iterable[Any]:
    """Get-Command -Name: the command's info, or a non-terminating CommandNotFoundException."""
    import fnmatch

    from lab.powershell.evaluator import COMMAND_NOT_FOUND

    session = inv.session
    out: list[Any] = []
    for name in inv.get("Name") or []:
        if any(c in name for c in "*?["):
            names = sorted({spec.name for spec in session.commands.values()}
                           | set(session.functions), key=str.lower)
            out += [info for n in names if fnmatch.fnmatchcase(n.lower(), name.lower())
                    for info in [_command_info(session, n)] if info is not None]
            continue
        info = _command_info(session, name)
        if info is None:
            inv.write_error(COMMAND_NOT_FOUND.format(name), "ObjectNotFound",
                            "CommandNotFoundException", target=name,
                            exception="CommandNotFoundException")
            continue
        out.append(info)
    return out


def builtin_cmdlets() -> list[CmdletSpec]:
    """Every built-in cmdlet (the host adds the aliases in :data:`ALIASES`)."""
    enc = P("Encoding", "string", choices=ENCODING_NAMES)
    content_params = (
        *[P(p.name, p.type, mandatory=True, position=p.position, set=p.set,
            aliases=p.aliases, pipeline=p.pipeline) for p in PATH_PARAMS],
        P("Value", "object[]", position=1, pipeline="value"),
        P("NoNewline", "switch"), enc, P("Force", "switch"), P("PassThru", "switch"),
    )
    return [
        CmdletSpec("Write-Output", [P("InputObject", "object", mandatory=True, position=0,
                                      pipeline="value", remaining=True),
                                    P("NoEnumerate", "switch")], write_output),
        CmdletSpec("Write-Host", [P("Object", "object", position=0, remaining=True,
                                    pipeline="value"),
                                  P("NoNewline", "switch"), P("Separator", "string"),
                                  P("ForegroundColor", "string"), P("BackgroundColor", "string")],
                   write_host, collect_input=True),
        CmdletSpec("Write-Error", [P("Message", "string", position=0, pipeline="value"),
                                   P("Category", "string"), P("ErrorId", "string"),
                                   P("TargetObject", "object"), P("Exception", "object")],
                   write_error),
        CmdletSpec("Write-Verbose", [P("Message", "string", mandatory=True, position=0,
                                       pipeline="value")], write_verbose),
        CmdletSpec("Write-Warning", [P("Message", "string", mandatory=True, position=0,
                                       pipeline="value")], write_warning),
        CmdletSpec("Out-Null", [P("InputObject", "object", pipeline="value")], out_null,
                   collect_input=True),
        CmdletSpec("Out-Default", [P("InputObject", "object", pipeline="value")], out_default,
                   collect_input=True),
        CmdletSpec("Out-String", [P("InputObject", "object", pipeline="value"),
                                  P("Stream", "switch"), P("Width", "int")], out_string_cmd,
                   collect_input=True),
        CmdletSpec("Format-Table", [P("Property", "object[]", position=0),
                                    P("AutoSize", "switch"), P("Wrap", "switch"),
                                    P("InputObject", "object", pipeline="value")],
                   format_table_cmd, collect_input=True),
        CmdletSpec("Format-List", [P("Property", "object[]", position=0),
                                   P("InputObject", "object", pipeline="value")],
                   format_list_cmd, collect_input=True),
        CmdletSpec("ConvertTo-Json", [P("InputObject", "object", mandatory=True, position=0,
                                        pipeline="value"),
                                      P("Depth", "int"), P("Compress", "switch")],
                   convert_to_json_cmd, collect_input=True),
        CmdletSpec("ConvertFrom-Json", [P("InputObject", "string", mandatory=True, position=0,
                                          pipeline="value")], convert_from_json_cmd,
                   collect_input=True),
        CmdletSpec("Select-Object", [P("Property", "object[]", position=0),
                                     P("ExpandProperty", "string"), P("First", "int"),
                                     P("Last", "int"), P("Skip", "int"), P("Unique", "switch"),
                                     P("InputObject", "object", pipeline="value")],
                   select_object, collect_input=True),
        CmdletSpec("Where-Object", [P("FilterScript", "scriptblock"),
                                    P("Property", "object", position=0),
                                    P("Value", "object", position=1),
                                    P("InputObject", "object", pipeline="value"),
                                    *[P(op, "switch") for op in _WHERE_OPS]],
                   where_object, collect_input=True),
        CmdletSpec("ForEach-Object", [P("Process", "object", position=0),
                                      P("Begin", "scriptblock"), P("End", "scriptblock"),
                                      P("MemberName", "string"),
                                      P("InputObject", "object", pipeline="value")],
                   foreach_object, collect_input=True),
        CmdletSpec("Sort-Object", [P("Property", "object[]", position=0),
                                   P("Descending", "switch"), P("Unique", "switch"),
                                   P("InputObject", "object", pipeline="value")],
                   sort_object, collect_input=True),
        CmdletSpec("Measure-Object", [P("Property", "string", position=0), P("Sum", "switch"),
                                      P("Average", "switch"), P("Maximum", "switch"),
                                      P("Minimum", "switch"),
                                      P("InputObject", "object", pipeline="value")],
                   measure_object, collect_input=True),
        CmdletSpec("New-Object", [P("TypeName", "string", mandatory=True, position=0),
                                  P("Property", "object")], new_object),
        CmdletSpec("Import-Module", [P("Name", "string[]", mandatory=True, position=0,
                                       pipeline="value"),
                                     P("Force", "switch"), P("DisableNameChecking", "switch")],
                   import_module),
        CmdletSpec("Get-Date", [P("Date", "object", position=0, pipeline="value"),
                                P("Format", "string")], get_date),
        CmdletSpec("Start-Sleep", [P("Seconds", "object", position=0, set="Seconds"),
                                   P("Milliseconds", "int", set="Milliseconds")], start_sleep,
                   default_set="Seconds"),
        CmdletSpec("Invoke-Expression", [P("Command", "string", mandatory=True, position=0,
                                           pipeline="value")], invoke_expression),
        CmdletSpec("Join-Path", [P("Path", "string[]", mandatory=True, position=0,
                                   pipeline="value"),
                                 P("ChildPath", "string", mandatory=True, position=1)],
                   join_path),
        CmdletSpec("Test-Path", [*[P(p.name, p.type, mandatory=True, position=p.position,
                                     set=p.set, aliases=p.aliases, pipeline=p.pipeline)
                                   for p in PATH_PARAMS],
                                 P("PathType", "string", choices=("Any", "Container", "Leaf"))],
                   test_path, default_set="Path"),
        CmdletSpec("Get-Content", [*[P(p.name, p.type, mandatory=True, position=p.position,
                                       set=p.set, aliases=p.aliases, pipeline=p.pipeline)
                                     for p in PATH_PARAMS],
                                   P("Raw", "switch"), enc, P("TotalCount", "int")],
                   get_content, default_set="Path"),
        CmdletSpec("Set-Content", list(content_params), set_content, default_set="Path",
                   supports_should_process=True),
        CmdletSpec("Add-Content", list(content_params), add_content, default_set="Path",
                   supports_should_process=True),
        CmdletSpec("Remove-Item", [*[P(p.name, p.type, mandatory=True, position=p.position,
                                       set=p.set, aliases=p.aliases, pipeline=p.pipeline)
                                     for p in PATH_PARAMS],
                                   P("Recurse", "switch"), P("Force", "switch")],
                   remove_item, default_set="Path", supports_should_process=True),
        CmdletSpec("Get-Item", [*[P(p.name, p.type, mandatory=True, position=p.position,
                                    set=p.set, aliases=p.aliases, pipeline=p.pipeline)
                                  for p in PATH_PARAMS], P("Force", "switch")],
                   get_item, default_set="Path"),
        CmdletSpec("Get-ChildItem", [*PATH_PARAMS, P("Filter", "string", position=1),
                                     P("Recurse", "switch"), P("File", "switch"),
                                     P("Directory", "switch"), P("Name", "switch"),
                                     P("Force", "switch")],
                   get_child_item, default_set="Path"),
        CmdletSpec("Get-FileHash", [*PATH_PARAMS, P("Algorithm", "string", position=1,
                                                    choices=("SHA1", "SHA256", "SHA384", "SHA512", "MD5"))],
                   get_file_hash, default_set="Path"),
        CmdletSpec("Get-Command", [P("Name", "string[]", position=0, pipeline="value")],
                   get_command, qualifier="Microsoft.PowerShell.Commands.GetCommandCommand"),
        CmdletSpec("New-Item", [P("Path", "string[]", mandatory=True, position=0),
                                P("ItemType", "string", aliases=("Type",)),
                                P("Name", "string"), P("Value", "object", pipeline="value"),
                                P("Force", "switch")], new_item,
                   supports_should_process=True),
    ]


__all__ = ["ALIASES", "NO_VALUE", "builtin_cmdlets"]
