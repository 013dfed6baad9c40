"""Output shapes: ConvertTo-Json, Select-Object/Where-Object, Out-Default, CLIXML, exit codes,
cancel. Expected strings are what Windows PowerShell 5.1 prints for the same input."""

from __future__ import annotations

import base64
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import winrm

from lab.powershell import (
    CANCELLED_EXIT_CODE,
    CmdletSpec,
    Invocation,
    ParamSpec,
    PowerShellHost,
    PSEnum,
    PSObject,
    VirtualFS,
)
from lab.powershell.testing import Capture, clixml_errors, run

RUNNING = PSEnum("Running", 4, "System.ServiceProcess.ServiceControllerStatus")
STOPPED = PSEnum("Stopped", 1, "System.ServiceProcess.ServiceControllerStatus")
NTSERVICE = "Microsoft.Rtc.Management.Deployment.Core.NTService"


def _services(inv: Invocation) -> list[Any]:
    return [
        PSObject({"Status": RUNNING, "Name": "RTCSRV", "ActivityLevel": ""}, NTSERVICE, "RTCSRV"),
        PSObject({"Status": STOPPED, "Name": "RTCCPS", "ActivityLevel": ""}, NTSERVICE, "RTCCPS"),
        PSObject({"Status": RUNNING, "Name": "FabricHostSvc", "ActivityLevel": ""}, NTSERVICE),
    ]


def _replicas(inv: Invocation) -> list[Any]:
    return [
        PSObject({"UniqueId": "a", "ReplicaFqdn": "fe01.lab.test", "UpToDate": True,
                  "LastStatusReport": datetime(2014, 1, 16, 10, 6, 40)}),
        PSObject({"UniqueId": "b", "ReplicaFqdn": "edge01.lab.test", "UpToDate": False,
                  "LastStatusReport": None}),
    ]


def _slow(inv: Invocation) -> None:
    for _ in range(100):
        inv.sleep(0.1)


@pytest.fixture
def host(tmp_path: Path) -> PowerShellHost:
    specs = [
        CmdletSpec("Get-CsWindowsService", [ParamSpec("ComputerName")], _services),
        CmdletSpec("Get-CsManagementStoreReplicationStatus", [ParamSpec("ReplicaFqdn")],
                   _replicas),
        CmdletSpec("Invoke-LrSlow", [], _slow),
    ]
    return PowerShellHost(specs, fs=VirtualFS(tmp_path), host_name="fe01.lab.test")


def out(host: PowerShellHost, script: str) -> str:
    result = run(host, script)
    assert result.code == 0, result.stderr
    return result.stdout


# -- ConvertTo-Json -------------------------------------------------------------------------


def test_convert_to_json_pretty_form_of_5_1(host: PowerShellHost) -> None:
    text = out(host, "[pscustomobject]@{a=1; b=@(1,'x'); c=@{d=$true}} | ConvertTo-Json")
    assert text == (
        "{\r\n"
        '    "a":  1,\r\n'
        '    "b":  [\r\n'
        "              1,\r\n"
        '              "x"\r\n'
        "          ],\r\n"
        '    "c":  {\r\n'
        '              "d":  true\r\n'
        "          }\r\n"
        "}\r\n"
    )


def test_convert_to_json_input_object_versus_pipeline(host: PowerShellHost) -> None:
    assert out(host, "ConvertTo-Json -InputObject @(1) -Compress") == "[1]\r\n"
    assert out(host, "@(1) | ConvertTo-Json -Compress") == "1\r\n"
    assert out(host, "1, 2 | ConvertTo-Json -Compress") == "[1,2]\r\n"
    assert out(host, "@() | ConvertTo-Json") == ""
    assert out(host, "ConvertTo-Json -InputObject @() -Compress") == "[]\r\n"
    assert out(host, "ConvertTo-Json -InputObject $null") == "null\r\n"


def test_convert_to_json_depth_dates_enums_and_escapes(host: PowerShellHost) -> None:
    assert out(host, "@{a=@{b=@{c=@{d=1}}}} | ConvertTo-Json -Compress") == (
        '{"a":{"b":{"c":"System.Collections.Hashtable"}}}\r\n'
    )
    assert out(host, "@{a=@{b=1}} | ConvertTo-Json -Compress -Depth 0") == (
        '{"a":"System.Collections.Hashtable"}\r\n'
    )
    assert out(host, "Get-CsManagementStoreReplicationStatus | ConvertTo-Json -Compress") == (
        '[{"UniqueId":"a","ReplicaFqdn":"fe01.lab.test","UpToDate":true,'
        '"LastStatusReport":"\\/Date(1389866800000)\\/"},'
        '{"UniqueId":"b","ReplicaFqdn":"edge01.lab.test","UpToDate":false,'
        '"LastStatusReport":null}]\r\n'
    )
    assert out(host, "(Get-CsWindowsService)[0] | ConvertTo-Json -Compress") == (
        '{"Status":4,"Name":"RTCSRV","ActivityLevel":""}\r\n'
    )
    assert out(host, "\"<a href='x'>&</a>`t\" | ConvertTo-Json") == (
        '"\\u003ca href=\\u0027x\\u0027\\u003e\\u0026\\u003c/a\\u003e\\t"\r\n'
    )


# -- Select-Object / Where-Object / Out-Default ----------------------------------------------


def test_select_object_table(host: PowerShellHost) -> None:
    text = out(host, "Get-CsManagementStoreReplicationStatus | Select-Object ReplicaFqdn, UpToDate")
    assert text.splitlines() == [
        "",
        "ReplicaFqdn     UpToDate",
        "-----------     --------",
        "fe01.lab.test       True",
        "edge01.lab.test    False",
        "",
    ]


def test_select_object_expand_first_and_calculated(host: PowerShellHost) -> None:
    assert out(host, "Get-CsWindowsService | Select-Object -ExpandProperty Name").splitlines() == [
        "RTCSRV", "RTCCPS", "FabricHostSvc"]
    assert out(host, "Get-CsWindowsService | Select-Object -First 1 -ExpandProperty Name") == (
        "RTCSRV\r\n"
    )
    text = out(host, "Get-CsWindowsService | Select-Object -First 1 Name, "
                     "@{Name='Up'; Expression={$_.Status -eq 'Running'}} | ConvertTo-Json -Compress")
    assert text == '{"Name":"RTCSRV","Up":true}\r\n'
    result = run(host, "Get-CsWindowsService | Select-Object -ExpandProperty Nope")
    assert 'Property "Nope" cannot be found.' in result.stderr
    assert "ExpandPropertyNotFound,Select-Object" in result.stderr


def test_where_object_script_block_and_simple_forms(host: PowerShellHost) -> None:
    script = 'Get-CsWindowsService | Where-Object {$_.Status -ne "Running"} | ForEach-Object Name'
    assert out(host, script) == "RTCCPS\r\n"
    assert out(host, "Get-CsWindowsService | Where-Object Status -eq running | % { $_.Name }") == (
        "RTCSRV\r\nFabricHostSvc\r\n"
    )
    assert out(host, "Get-CsWindowsService | ? Name -like 'rtc*' | Measure-Object | "
                     "Select-Object -ExpandProperty Count") == "2\r\n"


def test_default_output_table_list_and_scalars(host: PowerShellHost) -> None:
    assert out(host, "Get-CsWindowsService").splitlines() == [
        "",
        "Status  Name          ActivityLevel",
        "------  ----          -------------",
        "Running RTCSRV",
        "Stopped RTCCPS",
        "Running FabricHostSvc",
        "",
    ]
    assert out(host, "[pscustomobject]@{a=1;b=2;c=3;d=4;long=5}").splitlines() == [
        "", "a    : 1", "b    : 2", "c    : 3", "d    : 4", "long : 5", "", ""]
    assert out(host, "1; 'two'; $true; $null; 2.5") == "1\r\ntwo\r\nTrue\r\n2.5\r\n"
    assert out(host, "$s = Get-CsWindowsService; \"first=$($s[0]) status=$($s[0].Status)\"") == (
        "first=RTCSRV status=Running\r\n"
    )


# -- errors, CLIXML, exit codes ------------------------------------------------------------------


def _encoded(script: str) -> str:
    return "powershell.exe -NoProfile -NonInteractive -EncodedCommand " + base64.b64encode(
        script.encode("utf-16-le")
    ).decode()


def test_clixml_stderr_as_powershell_exe_writes_it(host: PowerShellHost) -> None:
    io = Capture()
    code = host.run_command_line(_encoded("'before'; Get-Foo; 'after'"), [], io)
    assert code == 0  # the last statement succeeded
    assert io.stdout == "before\r\nafter\r\n"
    assert io.stderr.startswith(
        '#< CLIXML\r\n<Objs Version="1.1.0.1" '
        'xmlns="http://schemas.microsoft.com/powershell/2004/04"><S S="Error">Get-Foo : The term '
        "'Get-Foo' is not recognized as the name of a cmdlet"
    )
    assert '_x000D__x000A_</S><S S="Error">At line:1 char:11_x000D__x000A_</S>' in io.stderr
    assert io.stderr.endswith("</Objs>")
    decoded = clixml_errors(io.stderr)
    assert "+ CategoryInfo          : ObjectNotFound: (Get-Foo:String) [], " in decoded
    # pywinrm's own decoder (what run_ps shows the caller) reads it
    cleaned = winrm.Session._clean_error_msg(object.__new__(winrm.Session), io.stderr.encode())
    assert cleaned.decode().startswith("Get-Foo : The term 'Get-Foo' is not recognized")


def test_clixml_escapes_markup_and_underscores(host: PowerShellHost) -> None:
    io = Capture()
    host.run_command_line(_encoded("Write-Warning '<w> & _x0041_'; throw 'a<b>&c'"), [], io)
    assert '<S S="warning">&lt;w&gt; &amp; _x005F_x0041__x000D__x000A_</S>' in io.stderr
    assert '<S S="Error">a&lt;b&gt;&amp;c_x000D__x000A_</S>' in io.stderr
    assert clixml_errors(io.stderr).startswith("a<b>&c\r\n")


@pytest.mark.parametrize(
    ("script", "code"),
    [
        ("'ok'", 0),
        ("exit 3", 3),
        ("& { exit 4 }; 'not reached'", 4),
        ("throw 'x'", 1),
        ("Get-Foo", 1),
        ("Get-Foo; 'recovered'", 0),
        ("$ErrorActionPreference = 'Stop'; Get-Foo; 'never'", 1),
        ("Write-Error 'e' -ErrorAction SilentlyContinue; $?", 0),
        ("try { throw 'x' } catch { 'handled' }", 0),
        ("if (", 1),
    ],
)
def test_exit_codes(host: PowerShellHost, script: str, code: int) -> None:
    assert run(host, script).code == code


def test_parse_error_is_reported_with_its_position(host: PowerShellHost) -> None:
    result = run(host, "'unterminated")
    assert result.code == 1
    assert "The string is missing the terminator: '." in result.stderr
    assert "At line:1 char:1" in result.stderr


def test_cancel_stops_a_long_cmdlet_and_start_sleep(host: PowerShellHost) -> None:
    for script in ("Invoke-LrSlow; 'not reached'", "Start-Sleep -Seconds 30; 'not reached'"):
        cancelled = threading.Event()
        timer = threading.Timer(0.2, cancelled.set)
        started = time.monotonic()
        timer.start()
        try:
            result = run(host, script, cancelled=cancelled)
        finally:
            timer.cancel()
        assert time.monotonic() - started < 3
        assert result.code == CANCELLED_EXIT_CODE
        assert "not reached" not in result.stdout
