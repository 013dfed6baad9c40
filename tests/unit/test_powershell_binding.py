"""Parameter binding of the lab's PowerShell, error for error as Windows PowerShell 5.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lab.powershell import (
    CmdletSpec,
    Invocation,
    ParamSpec,
    PowerShellHost,
    PSObject,
    VirtualFS,
)
from lab.powershell.testing import Result, run

CALLS: list[dict[str, Any]] = []


def _record(inv: Invocation) -> list[Any]:
    CALLS.append({"set": inv.parameter_set, **inv.params})
    return []


SPECS = [
    CmdletSpec(
        "Get-LrThing",
        [
            ParamSpec("Name", "string", mandatory=True, position=0),
            ParamSpec("Count", "int", position=1),
            ParamSpec("Force", "switch"),
            ParamSpec("Enabled", "bool"),
            ParamSpec("Tags", "string[]"),
            ParamSpec("WaitTime", "timespan"),
            ParamSpec("ComputerName", "string", aliases=("Cn",)),
            ParamSpec("Computers", "string"),
        ],
        _record,
    ),
    CmdletSpec(
        "Import-LrData",
        [
            ParamSpec("PoolFqdn", set="Pool", mandatory=True),
            ParamSpec("Identity", set="Identity", mandatory=True),
            ParamSpec("FileName", mandatory=True),
        ],
        _record,
    ),
    CmdletSpec(
        "Start-LrService",
        [
            ParamSpec("Name", set="Name", position=0),
            ParamSpec("InputObject", "object", set="Object", pipeline="value"),
        ],
        _record,
        default_set="Name",
    ),
    CmdletSpec(
        "Set-LrUser",
        [
            ParamSpec("Identity", mandatory=True, pipeline="property", aliases=("SipAddress",)),
            ParamSpec("Enabled", "bool"),
        ],
        _record,
    ),
    CmdletSpec("Remove-LrPool", [ParamSpec("PoolFqdn", mandatory=True)], _record,
               supports_should_process=True, confirm_impact="High"),
]


@pytest.fixture
def host(tmp_path: Path) -> PowerShellHost:
    CALLS.clear()
    return PowerShellHost(SPECS, fs=VirtualFS(tmp_path), host_name="fe01.lab.test")


def fails(result: Result, message: str, error_id: str) -> None:
    assert result.code == 1
    assert message in result.stderr
    assert f"FullyQualifiedErrorId : {error_id}" in result.stderr


def test_named_colon_switch_and_positional_forms(host: PowerShellHost) -> None:
    result = run(host, "Get-LrThing x 3 -Force; Get-LrThing -Name:'y' -Count:4 -Force:$false")
    assert result.code == 0, result.stderr
    assert CALLS[0] == {"set": None, "Name": "x", "Count": 3, "Force": True}
    assert CALLS[1] == {"set": None, "Name": "y", "Count": 4, "Force": False}


def test_prefixes_aliases_arrays_bools_and_timespans(host: PowerShellHost) -> None:
    result = run(
        host,
        "Get-LrThing -Na n -Cou 2 -Ta a,b -En $true -Wait 00:00:15 -Cn fe01 -Computers all",
    )
    assert result.code == 0, result.stderr
    call = CALLS[0]
    assert call["Name"] == "n" and call["Count"] == 2 and call["Tags"] == ["a", "b"]
    assert call["Enabled"] is True and call["WaitTime"].total_seconds() == 15
    assert call["ComputerName"] == "fe01" and call["Computers"] == "all"


def test_unknown_parameter(host: PowerShellHost) -> None:
    result = run(host, "Get-LrThing -Name x -Bogus 1")
    fails(
        result,
        "Get-LrThing : A parameter cannot be found that matches parameter name 'Bogus'.",
        "NamedParameterNotFound,Get-LrThing",
    )
    assert "ParameterBindingException" in result.stderr
    assert CALLS == []


def test_ambiguous_prefix(host: PowerShellHost) -> None:
    fails(
        run(host, "Get-LrThing x -Comp a"),
        "Parameter cannot be processed because the parameter name 'Comp' is ambiguous. "
        "Possible matches include: -ComputerName -Computers.",
        "AmbiguousParameter,Get-LrThing",
    )


def test_mandatory_missing_never_prompts(host: PowerShellHost) -> None:
    fails(
        run(host, "Get-LrThing -Force"),
        "Get-LrThing : Cannot process command because of one or more missing mandatory "
        "parameters: Name.",
        "MissingMandatoryParameter,Get-LrThing",
    )


def test_missing_argument_and_bad_values(host: PowerShellHost) -> None:
    fails(run(host, "Get-LrThing -Name"),
          "Missing an argument for parameter 'Name'. Specify a parameter of type "
          "'System.String' and try again.", "MissingArgument,Get-LrThing")
    fails(run(host, "Get-LrThing x -Count abc"),
          "Cannot bind parameter 'Count'. Cannot convert value \"abc\" to type \"System.Int32\"."
          " Error: \"Input string was not in a correct format.\"",
          "CannotConvertArgumentNoMessage,Get-LrThing")
    fails(run(host, "Get-LrThing x -Enabled 'yes'"),
          "Boolean parameters accept only Boolean values and numbers, such as $True, $False, 1 "
          "or 0.", "ParameterArgumentTransformationError,Get-LrThing")
    fails(run(host, "Get-LrThing x 1 extra"),
          "A positional parameter cannot be found that accepts argument 'extra'.",
          "PositionalParameterNotFound,Get-LrThing")
    fails(run(host, "Get-LrThing x -Force -Force"),
          "Cannot bind parameter because parameter 'Force' is specified more than once.",
          "ParameterAlreadyBound,Get-LrThing")


def test_parameter_sets(host: PowerShellHost) -> None:
    assert run(host, "Import-LrData -PoolFqdn p -FileName f").code == 0
    assert CALLS[-1]["set"] == "Pool"
    assert run(host, "Import-LrData -Identity i -FileName f").code == 0
    assert CALLS[-1]["set"] == "Identity"
    message = "Parameter set cannot be resolved using the specified named parameters."
    fails(run(host, "Import-LrData -PoolFqdn p -Identity i -FileName f"), message,
          "AmbiguousParameterSet,Import-LrData")
    fails(run(host, "Import-LrData -FileName f"), message, "AmbiguousParameterSet,Import-LrData")


def test_pipeline_by_value_picks_the_pipeline_set(host: PowerShellHost) -> None:
    assert run(host, "Start-LrService svc").code == 0
    assert CALLS[-1] == {"set": "Name", "Name": "svc"}
    CALLS.clear()
    assert run(host, "'a','b' | Start-LrService").code == 0
    assert CALLS == [{"set": "Object", "InputObject": "a"}, {"set": "Object", "InputObject": "b"}]


def test_pipeline_by_property_name_and_alias(host: PowerShellHost) -> None:
    script = (
        "[pscustomobject]@{Identity='u1'; Other=1}, [pscustomobject]@{SipAddress='u2'} "
        "| Set-LrUser -Enabled $false"
    )
    result = run(host, script)
    assert result.code == 0, result.stderr
    assert [c["Identity"] for c in CALLS] == ["u1", "u2"]
    fails(run(host, "'plain' | Set-LrUser"), "The input object cannot be bound to any "
          "parameters for the command", "InputObjectNotBound,Set-LrUser")


def test_unknown_command(host: PowerShellHost) -> None:
    result = run(host, "Start-CsPool -PoolFqdn pool1.lab.test")
    fails(
        result,
        "Start-CsPool : The term 'Start-CsPool' is not recognized as the name of a cmdlet, "
        "function, script file, or operable program. Check the spelling of the name, or if a "
        "path was included, verify that the path is correct and try again.",
        "CommandNotFoundException",
    )
    assert "ObjectNotFound: (Start-CsPool:String) [], CommandNotFoundException" in result.stderr


def test_confirm_impact_high_cannot_prompt(host: PowerShellHost) -> None:
    fails(run(host, "Remove-LrPool -PoolFqdn p"),
          "PowerShell is in NonInteractive mode. Read and Prompt functionality is not available.",
          "HostFunctionNotImplemented,Remove-LrPool")
    assert run(host, "Remove-LrPool -PoolFqdn p -Confirm:$false").code == 0
    assert run(host, "$ConfirmPreference = 'None'; Remove-LrPool -PoolFqdn p").code == 0
    assert len(CALLS) == 2


def test_binding_error_stops_only_its_statement(host: PowerShellHost) -> None:
    result = run(host, "Get-LrThing -Bogus; 'next'")
    assert result.lines == ["next"]
    assert result.code == 0
    result = run(host, "$ErrorActionPreference = 'Stop'; Get-LrThing -Bogus; 'next'")
    assert result.lines == []
    assert result.code == 1


def test_psobject_pipeline_input_keeps_identity(host: PowerShellHost) -> None:
    seen: list[Any] = []

    def take(inv: Invocation) -> None:
        seen.append(inv.current)

    def give(inv: Invocation) -> list[Any]:
        return [PSObject({"Name": "RTCSRV"})]

    host.register(CmdletSpec("Get-LrObj", [], give))
    host.register(CmdletSpec("Use-LrObj", [ParamSpec("InputObject", "object", pipeline="value")],
                             take))
    assert run(host, "Get-LrObj | Use-LrObj").code == 0
    assert isinstance(seen[0], PSObject) and seen[0].get("name") == "RTCSRV"
