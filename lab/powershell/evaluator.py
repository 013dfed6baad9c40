"""The interpreter proper: sessions, statements, pipelines and command invocation.

:class:`Session` is one PowerShell run: variable scopes, ``$env:``, the virtual file system,
the registered commands, the output and error streams and the cancel flag. It executes parsed
statements with PowerShell's error semantics: a statement-terminating error (unknown command,
binding error, a cmdlet's terminating error) is reported and the script goes on, unless
``$ErrorActionPreference`` is ``Stop`` or a ``try`` is active; ``throw`` ends the script.
Output that nobody captured goes, statement by statement, to :class:`OutDefault`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lab.powershell import operators as ops
from lab.powershell import syntax as ast
from lab.powershell.binding import (
    ArgValue,
    CmdletSpec,
    Invocation,
    ParamValue,
    bind,
    bind_pipeline_object,
    binding_error,
    pair_arguments,
    prompt_unavailable,
)
from lab.powershell.formatting import ErrorSink, OutDefault
from lab.powershell.records import (
    BreakSignal,
    CancelledSignal,
    ContinueSignal,
    ErrorRecord,
    ExitSignal,
    Position,
    PSRuntimeError,
    ReturnSignal,
)
from lab.powershell.values import (
    ConversionError,
    Hashtable,
    ScriptBlock,
    enumerate_value,
    is_enumerable,
    to_string,
    truthy,
)
from lab.powershell.versions import VERSIONS, PSVersionInfo, too_new_common, version_table
from lab.powershell.vfs import AccessDenied, VirtualFS

Emit = Callable[[list[Any]], None]


@dataclass(frozen=True)
class NativeContext:
    """What a native executable handler gets: its raw arguments and the session's streams."""

    name: str
    args: list[str]
    session: Session

    def write_stdout(self, text: str) -> None:
        """One or more lines of standard output (a trailing newline is added if missing)."""
        self.session.native_output.extend(text.splitlines() or [""])

    def write_stderr(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            self.session.errors.raw_error(line)

    @property
    def cancelled(self) -> threading.Event:
        return self.session.cancelled


NativeHandler = Callable[[NativeContext], int]

COMMAND_NOT_FOUND = (
    "The term '{0}' is not recognized as the name of a cmdlet, function, script file, or "
    "operable program. Check the spelling of the name, or if a path was included, verify that "
    "the path is correct and try again."
)


class Session:
    """One PowerShell run (a powershell.exe process)."""

    def __init__(
        self,
        *,
        commands: Mapping[str, CmdletSpec],
        natives: Mapping[str, NativeHandler],
        fs: VirtualFS,
        host_name: str,
        env: Mapping[str, str],
        modules: Iterable[str],
        out: Callable[[str], None],
        errors: ErrorSink,
        cancelled: threading.Event | None = None,
        clock: Callable[[], datetime] | None = None,
        version: PSVersionInfo | None = None,
    ) -> None:
        self.version = version or VERSIONS["5.1"]
        self.commands = commands
        self.natives = natives
        self.fs = fs
        self.host_name = host_name
        self.env = Hashtable(env.items())
        self.available_modules = {m.lower(): m for m in modules}
        self.loaded_modules: list[str] = []
        self.functions: dict[str, ScriptBlock] = {}
        self.out = out
        self.errors = errors
        self.cancelled = cancelled or threading.Event()
        self.clock: Callable[[], datetime] = clock or datetime.now
        self.out_default = OutDefault(self._write_line)
        self.scopes: list[dict[str, Any]] = [
            {
                "true": True,
                "false": False,
                "null": None,
                "erroractionpreference": "Continue",
                "warningpreference": "Continue",
                "verbosepreference": "SilentlyContinue",
                "confirmpreference": "High",
                "progresspreference": "Continue",
                "lastexitcode": None,
                "?": True,
                "error": [],
                "pid": 4242,
                "home": "C:\\Users\\Administrator",
                "pwd": fs.cwd,
                "psversiontable": version_table(self.version),
            }
        ]
        self.try_depth = 0
        self.native_output: list[str] = []
        self.error_in_statement = False
        self.current_position: Position | None = None

    # -- variables --------------------------------------------------------------------------

    def get_var(self, name: str, drive: str = "") -> Any:
        if drive == "env":
            return self.env.get(name)
        key = name.lower()
        if key == "psitem":
            key = "_"
        for scope in reversed(self.scopes):
            if key in scope:
                return scope[key]
        return None

    def set_var(self, name: str, value: Any, drive: str = "") -> None:
        if drive == "env":
            if value is None or value == "":
                self.env.pop(name, None)
            else:
                self.env[name] = to_string(value)
            return
        key = name.lower()
        if key in ("true", "false", "null"):
            if key == "null":
                return
            raise PSRuntimeError(
                ErrorRecord(
                    f"Cannot overwrite variable {name} because it is read-only or constant.",
                    "WriteError",
                    "VariableNotWritable",
                    target=name,
                    exception="SessionStateUnauthorizedAccessException",
                )
            )
        scope = self.scopes[0] if drive in ("global", "script") else self.scopes[-1]
        scope[key] = value

    def preference(self, name: str) -> str:
        return to_string(self.get_var(name)) or "Continue"

    # -- streams ----------------------------------------------------------------------------

    def _write_line(self, line: str) -> None:
        self.out(line + "\r\n")

    def write_host(self, text: str) -> None:
        self.out_default.flush()
        for line in text.split("\n"):
            self._write_line(line.rstrip("\r"))

    def write_verbose(self, message: str, explicit: bool | None = None) -> None:
        if explicit or (explicit is None and self.preference("VerbosePreference") == "Continue"):
            self.errors.stream("verbose", message)

    def write_warning(self, message: str, action: str | None = None) -> None:
        action = action or self.preference("WarningPreference")
        if action.lower() in ("silentlycontinue", "ignore"):
            return
        self.errors.stream("warning", message)
        if action.lower() == "stop":
            raise PSRuntimeError(
                ErrorRecord(
                    "The running command stopped because the preference variable "
                    '"WarningPreference" or common parameter is set to Stop: ' + message,
                    "OperationStopped",
                    "ActionPreferenceStop",
                    exception="ActionPreferenceStopException",
                )
            )

    def write_error(self, record: ErrorRecord, action: str | None = None) -> None:
        """A non-terminating error, subject to -ErrorAction / $ErrorActionPreference."""
        action = (action or self.preference("ErrorActionPreference")).lower()
        record = record.at(self.current_position)
        self.error_in_statement = True
        if action == "ignore":
            return
        errors = self.get_var("Error")
        if isinstance(errors, list):
            errors.insert(0, record)
        if action == "stop":
            raise PSRuntimeError(record)
        if action == "silentlycontinue":
            return
        self.report(record)

    def report(self, record: ErrorRecord) -> None:
        self.out_default.flush()
        self.errors.error(record)

    def check_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise CancelledSignal()

    def sleep(self, seconds: float) -> None:
        if self.cancelled.wait(max(0.0, seconds)):
            raise CancelledSignal()

    # -- execution --------------------------------------------------------------------------

    def loop_body(self, body: list[ast.Node], emit: Emit) -> bool:
        """One pass of a loop's body; False when ``break`` ends the loop (``continue`` does not)."""
        try:
            self.run_block(body, emit)
        except BreakSignal:
            return False
        except ContinueSignal:
            pass
        return True

    def run_block(self, body: list[ast.Node], emit: Emit) -> None:
        for node in body:
            self.check_cancelled()
            self.error_in_statement = False
            try:
                self._exec_checked(node, emit)
            except PSRuntimeError as exc:
                exc.record = exc.record.at(position(node))
                if exc.script_terminating or self.try_depth or (
                    self.preference("ErrorActionPreference").lower() == "stop"
                ):
                    raise
                self._note_error(exc.record)
                self.report(exc.record)
                self.set_status(False)
            else:
                if not isinstance(node, ast.Assignment):
                    self.set_status(not self.error_in_statement and self.scopes[0]["?"] is True)

    def _exec_checked(self, node: ast.Node, emit: Emit) -> None:
        """Run a statement; a failed implicit conversion becomes PowerShell's cast error."""
        try:
            self.exec_statement(node, emit)
        except ConversionError as exc:
            message = str(exc)
            raise PSRuntimeError(
                ErrorRecord(
                    message,
                    "InvalidArgument",
                    "InvalidCastFromStringToInteger" if "System.Int32" in message
                    else "InvalidCastParseTargetInvocation",
                    exception="PSInvalidCastException",
                    position=position(node),
                )
            ) from None

    def _note_error(self, record: ErrorRecord) -> None:
        errors = self.get_var("Error")
        if isinstance(errors, list):
            errors.insert(0, record)

    def set_status(self, ok: bool) -> None:
        self.scopes[0]["?"] = ok

    def collect(self, node: ast.Node) -> list[Any]:
        out: list[Any] = []
        self.exec_statement(node, out.extend)
        return out

    def exec_statement(self, node: ast.Node, emit: Emit) -> None:
        self.scopes[0]["?"] = True
        if isinstance(node, ast.PipelineNode):
            self.run_pipeline(node, emit)
        elif isinstance(node, ast.Assignment):
            self.assign(node)
        elif isinstance(node, ast.If):
            for cond, body in node.clauses:
                if truthy(ops.scalar(self.collect(cond))):
                    self.run_block(body, emit)
                    return
            if node.else_body is not None:
                self.run_block(node.else_body, emit)
        elif isinstance(node, ast.Foreach):
            items = enumerate_value(ops.unwrap(self.collect(node.iterable)))
            for item in items:
                self.set_var(node.var, item)
                if not self.loop_body(node.body, emit):
                    break
        elif isinstance(node, ast.While):
            while truthy(ops.scalar(self.collect(node.cond))):
                self.check_cancelled()
                if not self.loop_body(node.body, emit):
                    break
        elif isinstance(node, ast.For):
            if node.init is not None:
                self.collect(node.init)
            while node.cond is None or truthy(ops.scalar(self.collect(node.cond))):
                self.check_cancelled()
                if not self.loop_body(node.body, emit):
                    break
                if node.step is not None:
                    self.collect(node.step)
        elif isinstance(node, ast.Try):
            self.exec_try(node, emit)
        elif isinstance(node, ast.Throw):
            value = ops.unwrap(self.collect(node.value)) if node.value is not None else None
            raise PSRuntimeError(ops.throw_record(value, position(node)), script_terminating=True)
        elif isinstance(node, ast.Exit):
            code = 0
            if node.value is not None:
                code = ops.to_exit_code(ops.unwrap(self.collect(node.value)))
            raise ExitSignal(code)
        elif isinstance(node, ast.Return):
            values = self.collect(node.value) if node.value is not None else []
            raise ReturnSignal(values)
        elif isinstance(node, ast.Break):
            raise BreakSignal()
        elif isinstance(node, ast.Continue):
            raise ContinueSignal()
        elif isinstance(node, ast.FunctionDef):
            self.functions[node.name.lower()] = node.block
        else:
            value = self.eval(node)
            if isinstance(node, ast.IncDec) and not node.prefix:
                return
            if isinstance(node, ast.IncDec):
                return
            if value is not None or not isinstance(node, ast.Paren | ast.SubExpr):
                emit(ops.pipeline_items(value))

    def exec_try(self, node: ast.Try, emit: Emit) -> None:
        try:
            self.try_depth += 1
            try:
                self.run_block(node.body, emit)
            finally:
                self.try_depth -= 1
        except PSRuntimeError as exc:
            for types, body in node.catches:
                if not types or ops.catch_matches(types, exc.record):
                    # $_ is set in the current scope (a catch block is no scope of its own:
                    # what it assigns stays set after it, as in PowerShell)
                    scope = self.scopes[-1]
                    saved: dict[str, Any] = {name: scope[name] for name in ("_", "psitem") if name in scope}
                    scope.update({"_": exc.record, "psitem": exc.record})
                    try:
                        self.run_block(body, emit)
                    finally:
                        for name in ("_", "psitem"):
                            scope.pop(name, None)
                        scope.update(saved)
                        if node.final is not None:
                            self.run_block(node.final, emit)
                    return
            if node.final is not None:
                self.run_block(node.final, emit)
            raise
        if node.final is not None:
            self.run_block(node.final, emit)

    def assign(self, node: ast.Assignment) -> None:
        values = self.collect(node.value)
        value = ops.unwrap(values) if not isinstance(node.value, ast.ArrayExpr) else values
        if isinstance(node.value, ast.ArrayExpr | ast.ArrayLit) and isinstance(value, list):
            value = list(value)
        if node.op != "=":
            current = self.eval(node.target)
            value = ops.binary(node.op[0], current, value)
        ops.assign_to(self, node.target, value)

    # -- pipelines --------------------------------------------------------------------------

    def run_pipeline(self, node: ast.PipelineNode, emit: Emit) -> None:
        data: list[Any] | None = None
        last = len(node.elements) - 1
        for index, element in enumerate(node.elements):
            self.check_cancelled()
            stage_emit: Emit | None = emit if index == last else None
            if isinstance(element, ast.Command):
                data = self.run_command(element, data, stage_emit)
            else:
                value = self.eval(element)
                data = [None] if value is None else enumerate_value(value)
                if stage_emit is not None:
                    stage_emit(data)
                    data = []
        if data:
            emit(data)

    def run_command(
        self, node: ast.Command, input_objects: list[Any] | None, emit: Emit | None
    ) -> list[Any]:
        """Run one command; its output is returned, or streamed to ``emit`` when given."""
        out: list[Any] = []
        sink: Emit = emit if emit is not None else out.extend
        pos = position(node)
        saved_position, self.current_position = self.current_position, pos
        try:
            target = self.eval(node.name) if node.call_op or not isinstance(
                node.name, ast.Const
            ) else node.name.value
            elements: list[ParamValue | ArgValue] = []
            for element in node.elements:
                if isinstance(element, ast.Param):
                    has_value = element.value is not None
                    value = self.eval(element.value) if element.value is not None else None
                    elements.append(ParamValue(element.name, element.text, has_value, value))
                else:
                    elements.append(ArgValue(self.eval(element)))
            # Redirection: only "> $null" (and "*> $null") of the output stream is modelled.
            if any(
                r.stream in ("1", "*") and not r.merge and isinstance(r.target, ast.VarRef)
                and r.target.name.lower() == "null" for r in node.redirects
            ):
                sink = _discard
            if isinstance(target, ScriptBlock):
                self.invoke_script(target, elements, input_objects, sink)
            else:
                name = to_string(target)
                self.invoke_named(name, elements, input_objects, sink)
        except PSRuntimeError as exc:
            exc.record = exc.record.at(pos)
            raise
        finally:
            self.current_position = saved_position
        return out

    def invoke_script(
        self,
        block: ScriptBlock,
        elements: list[ParamValue | ArgValue],
        input_objects: list[Any] | None,
        sink: Emit,
    ) -> None:
        names = [name.lower() for name, _ in block.params]

        def takes_value(param: str) -> bool:
            return len([n for n in names if n.startswith(param.lower())]) == 1

        named, positional = pair_arguments(elements, takes_value)
        self.invoke_block(block, positional, named, input_objects, sink)

    def invoke_named(
        self,
        name: str,
        elements: list[ParamValue | ArgValue],
        input_objects: list[Any] | None,
        sink: Emit,
    ) -> None:
        key = name.lower()
        function = self.functions.get(key)
        if function is not None:
            self.invoke_script(function, elements, input_objects, sink)
            return
        spec = self.commands.get(key)
        if spec is not None:
            self.invoke_cmdlet(spec, elements, input_objects, sink)
            return
        native = self.find_native(name)
        if native is not None:
            args: list[str] = []
            for item in elements:
                if isinstance(item, ParamValue):
                    args.append(item.text)
                elif is_enumerable(item.value):
                    args.extend(to_string(v) for v in enumerate_value(item.value))
                else:
                    args.append(to_string(item.value))
            self.run_native(name, native, args, sink)
            return
        raise PSRuntimeError(
            ErrorRecord(
                COMMAND_NOT_FOUND.format(name),
                "ObjectNotFound",
                "CommandNotFoundException",
                target=name,
                exception="CommandNotFoundException",
                command=name,
            )
        )

    def find_native(self, name: str) -> NativeHandler | None:
        base = name.replace("/", "\\").rsplit("\\", 1)[-1].lower()
        for candidate in (base, base.removesuffix(".exe"), base.removesuffix(".com")):
            if candidate in self.natives:
                return self.natives[candidate]
        return None

    def run_native(self, name: str, handler: NativeHandler, args: list[str], sink: Emit) -> None:
        self.native_output = []
        code = handler(NativeContext(name, args, self))
        lines, self.native_output = self.native_output, []
        sink(lines)
        self.scopes[0]["lastexitcode"] = code
        if code != 0:
            self.error_in_statement = True

    def invoke_cmdlet(
        self,
        spec: CmdletSpec,
        elements: list[ParamValue | ArgValue],
        input_objects: list[Any] | None,
        sink: Emit,
    ) -> None:
        expects_input = input_objects is not None
        call = bind(spec, elements, expects_input)
        too_new = too_new_common(call.common, self.version)
        if too_new:
            raise binding_error(spec, f"A parameter cannot be found that matches parameter name "
                                      f"'{too_new[0]}'.", "NamedParameterNotFound")
        # The question comes when the cmdlet acts (ShouldProcess): never for an empty pipeline.
        if not expects_input or input_objects:
            self._confirm(spec, call.common)
        if not expects_input or spec.collect_input:
            inv = Invocation(spec, call.params, input_objects or [], self, call.common,
                             call.parameter_set)
            self._emit_results(_denied_as_error(spec, inv), sink)
            return
        for obj in input_objects or []:
            self.check_cancelled()
            try:
                params = bind_pipeline_object(spec, call, obj)
            except PSRuntimeError as exc:
                self.write_error(exc.record, call.common.get("ErrorAction"))
                continue
            inv = Invocation(spec, params, [obj], self, call.common, call.parameter_set)
            self._emit_results(_denied_as_error(spec, inv), sink)

    def _confirm(self, spec: CmdletSpec, common: dict[str, Any]) -> None:
        if not spec.supports_should_process or common.get("WhatIf"):
            return
        levels = {"none": 99, "low": 1, "medium": 2, "high": 3}
        preference = levels.get(self.preference("ConfirmPreference").lower(), 3)
        impact = levels[spec.confirm_impact.lower()]
        confirm = common.get("Confirm")
        if confirm is True or (confirm is None and impact >= preference):
            raise prompt_unavailable(spec)

    def _emit_results(self, results: Iterable[Any] | None, sink: Emit) -> None:
        if results is None:
            return
        batch: list[Any] = []
        for item in results:
            self.check_cancelled()
            batch.append(item)
        sink(batch)

    def invoke_block(
        self,
        block: ScriptBlock,
        positional: list[Any],
        named: list[ParamValue] | None = None,
        input_objects: list[Any] | None = None,
        sink: Emit | None = None,
        dollar_under: Any = ops.NO_VALUE,
        new_scope: bool = True,
    ) -> list[Any]:
        """Run a script block (``&``, ForEach-Object, a function) in a child scope."""
        out: list[Any] = []
        target: Emit = sink if sink is not None else out.extend
        scope: dict[str, Any] = {}
        args = list(positional)
        names = [name for name, _ in block.params]
        for item in named or []:
            matches = [n for n in names if n.lower().startswith(item.name.lower())]
            if len(matches) == 1:
                scope[matches[0].lower()] = item.value if item.has_value else True
            else:
                args.append(item.text)
                if item.has_value:
                    args.append(item.value)
        for name, default in block.params:
            if name.lower() in scope:
                continue
            if args:
                scope[name.lower()] = args.pop(0)
            else:
                scope[name.lower()] = self.eval(default) if default is not None else None
        scope["args"] = args
        if input_objects is not None:
            scope["input"] = list(input_objects)
        if dollar_under is not ops.NO_VALUE:
            scope["_"] = dollar_under
        saved: dict[str, Any] = {}
        if new_scope:
            self.scopes.append(scope)
        else:
            current = self.scopes[-1]
            saved = {key: current.get(key, ops.NO_VALUE) for key in ("_", "args")}
            current["_"] = scope.get("_")
            current["args"] = args
        try:
            self.run_block(block.body, target)
        except ReturnSignal as ret:
            target(ret.values)
        finally:
            if new_scope:
                self.scopes.pop()
            else:
                for key, value in saved.items():
                    if value is ops.NO_VALUE:
                        self.scopes[-1].pop(key, None)
                    else:
                        self.scopes[-1][key] = value
        return out

    # -- expressions ------------------------------------------------------------------------

    def eval(self, node: ast.Node) -> Any:
        return ops.evaluate(self, node)


def _discard(values: list[Any]) -> None:
    """Output redirected to $null."""


def position(node: ast.Node) -> Position | None:
    if not node.src:
        return None
    return Position(node.src, node.start, node.end)


def _denied_as_error(spec: CmdletSpec, inv: Invocation) -> Iterator[Any]:
    """The cmdlet's output; a path its logon may not reach (:class:`AccessDenied`, the second
    hop) becomes the terminating error .NET's UnauthorizedAccessException gives."""
    try:
        results = spec.handler(inv)
        if results is not None:
            yield from results
    except AccessDenied as exc:
        raise PSRuntimeError(ErrorRecord(
            str(exc), "PermissionDenied", "UnauthorizedAccessException", exception="UnauthorizedAccessException",
            activity=inv.name, command=inv.name, qualifier=spec.error_qualifier)) from None
