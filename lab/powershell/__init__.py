"""A Windows PowerShell 5.1 subset for the lab: the far side of the wizard's quoting contract.

The wizard builds scripts with :mod:`wizard.remote.psbuild`; the lab's WinRM server hands the
command lines it receives to :meth:`PowerShellHost.run_command_line`, which decodes
``powershell.exe -EncodedCommand`` (or ``-Command``, or a native program such as robocopy) and
runs the script here, with PowerShell's parsing, parameter binding, error records and output
shapes. Hand-written admin scripts from the runbooks run too.

Writing a lab cmdlet
--------------------
A cmdlet is a :class:`CmdletSpec`: a name, its :class:`ParamSpec` list and a handler that
gets an :class:`Invocation` and returns (or yields) output objects::

    from lab.powershell import CmdletSpec, Invocation, ParamSpec, PSEnum, PSObject

    def get_service(inv: Invocation):
        for name in inv.get("Name") or ["RTCSRV"]:
            status = PSEnum("Running", 4, "System.ServiceProcess.ServiceControllerStatus")
            yield PSObject({"Name": name, "Status": status}, type_name="Microsoft.Rtc...NTService")

    def stop_service(inv: Invocation):
        svc = inv.get("InputObject") or inv.get("Name")
        if not inv.should_process(str(svc), "Stop"):      # honours -WhatIf
            return None
        inv.write_verbose(f"Stopping {svc}")
        inv.sleep(0.5)                                   # wakes up on cancel
        if svc == "bad":
            inv.error("Cannot stop it.", "InvalidOperation", "StopFailed", target=svc)
        return None

    specs = [
        CmdletSpec("Get-CsWindowsService",
                   [ParamSpec("ComputerName"), ParamSpec("Name", "string[]", position=0)],
                   get_service),
        CmdletSpec("Stop-CsWindowsService",
                   [ParamSpec("ComputerName"), ParamSpec("Name", set="Name"),
                    ParamSpec("InputObject", "object", pipeline="value", set="Object"),
                    ParamSpec("Force", "switch")],
                   stop_service, supports_should_process=True, default_set="Name"),
    ]
    host = PowerShellHost(specs, natives={"robocopy": robocopy}, fs=VirtualFS(state / "fs"),
                          host_name="fe01.lab.test", env={}, modules=("Lync",))
    code = host.run_script("Get-CsWindowsService | Stop-CsWindowsService", out, err)

ParamSpec types: ``string``, ``int``, ``switch``, ``bool`` (needs ``$true``/``$false``),
``object``, ``object[]``, ``string[]``, ``timespan``, ``scriptblock``. ``mandatory`` parameters
that are missing fail with MissingMandatoryParameter (never a prompt); ``position`` makes a
parameter positional; ``pipeline='value'|'property'`` takes pipeline input (the handler is
then called once per input object, ``inv.current`` is that object); ``set`` puts it in a
parameter set (binding picks the set or fails with AmbiguousParameterSet, ``default_set``
breaks ties); ``choices`` is ValidateSet; ``aliases`` are alternative names. Prefixes of
parameter names work when unambiguous; common parameters (-Verbose, -ErrorAction, ...) and,
with ``supports_should_process``, -WhatIf/-Confirm are added automatically.

Invocation: ``get(name)``/``bound(name)``, ``params``, ``input``/``current``, ``session``
(``fs``: the :class:`VirtualFS`, ``host_name``, ``get_var``/``set_var``, ``env``),
``write_verbose/write_warning/write_host/write_error`` (non-terminating, honours
-ErrorAction), ``error(message, category, error_id, target)`` (raises a terminating error),
``should_process``, ``check_cancelled``, ``sleep``.

Values: :class:`PSObject` (ordered typed properties; ToString is ``text`` or the type name),
:class:`PSEnum` (name + int: prints the name, JSON gives the int), ``datetime``
(``\\/Date(ms)\\/`` in JSON), ``timedelta`` (TimeSpan), lists (arrays), :class:`Hashtable`.

Native executables: ``natives={"robocopy": handler}`` where ``handler(ctx: NativeContext) ->
int`` gets the raw string ``ctx.args``, writes with ``ctx.write_stdout/ctx.write_stderr`` and
returns the exit code (``$LASTEXITCODE``).
"""

from __future__ import annotations

from lab.powershell.binding import CmdletSpec, Invocation, ParamSpec
from lab.powershell.evaluator import NativeContext, NativeHandler, Session
from lab.powershell.formatting import convert_to_json
from lab.powershell.host import (
    CANCELLED_EXIT_CODE,
    PowerShellHost,
    split_command_line,
)
from lab.powershell.parser import ParseError, parse_script
from lab.powershell.records import ErrorRecord, PSRuntimeError
from lab.powershell.values import Hashtable, PSEnum, PSObject, ScriptBlock
from lab.powershell.vfs import VirtualFS

__all__ = [
    "CANCELLED_EXIT_CODE",
    "CmdletSpec",
    "ErrorRecord",
    "Hashtable",
    "Invocation",
    "NativeContext",
    "NativeHandler",
    "PSEnum",
    "PSObject",
    "PSRuntimeError",
    "ParamSpec",
    "ParseError",
    "PowerShellHost",
    "ScriptBlock",
    "Session",
    "VirtualFS",
    "convert_to_json",
    "parse_script",
    "split_command_line",
]
