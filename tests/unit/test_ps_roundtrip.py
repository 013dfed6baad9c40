"""The quoting contract end to end: psbuild -> command lines -> lab powershell -> envelope.

Whatever string an operator or a plan supplies must reach the cmdlet unchanged, through the
one-line -EncodedCommand form and through staging for scripts over cmd.exe's 8191 characters.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.powershell import (
    CmdletSpec,
    Invocation,
    ParamSpec,
    PowerShellHost,
    PSEnum,
    PSObject,
    VirtualFS,
)
from lab.powershell.testing import clixml_errors, run_lines
from wizard.remote.psbuild import (
    CMD_LINE_LIMIT,
    Cmd,
    Raw,
    ServiceStatus,
    command_lines,
    parse_envelope,
    ps_date,
    script,
)

# Every character PowerShell gives a meaning to, plus awkward Unicode.
NASTY = list(
    "'\u2018\u2019\u201a\u201b\"\u201c\u201d\u201e`$(){}[];#<>|&@,.=+-\u2013\u2014\u2015"
    "\r\n\t \u00a0\u2028\u2029\u0085\x00\x1b\\/:*?%~!^éΩ😀"
)
NASTY_TEXT = st.lists(st.sampled_from(NASTY) | st.characters(blacklist_categories=("Cs",)),
                      max_size=40).map("".join)
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)))
SPECIAL = ["", "'", "''", "’'‘", "$(Remove-Item C:\\ -Recurse)", "`", "a`", "#", "<#", "#>",
           "x'; Write-Output 'pwned", "\r\n", "@'\n", "'@", "\"@", "$null", "${env:TEMP}"]


def _echo(inv: Invocation) -> list[object]:
    return [inv.get("Text")]


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> PowerShellHost:
    root: Path = tmp_path_factory.mktemp("vfs")
    echo = CmdletSpec("Get-LrEcho", [ParamSpec("Text", "string", mandatory=True)], _echo)
    return PowerShellHost([echo], fs=VirtualFS(root), host_name="fe01.lab.test")


def roundtrip(host: PowerShellHost, text: str, padding: int = 0) -> list[object]:
    statements = [Raw("$lrPad = " + "'" + "p" * padding + "'")] if padding else []
    body = script(*statements, json_result=Cmd("Get-LrEcho", {"Text": text}))
    lines = command_lines(body, "roundtrip-1")
    assert all(len(line) <= CMD_LINE_LIMIT for line in lines)
    results = run_lines(host, lines)
    for staged in results[:-1]:
        assert staged.code == 0, staged.stderr
        assert staged.stdout == ""
    last = results[-1]
    assert last.code == 0, last.stderr
    assert last.stderr == ""
    return parse_envelope(last.stdout).values


@pytest.mark.parametrize("text", SPECIAL)
def test_special_strings_survive(host: PowerShellHost, text: str) -> None:
    assert roundtrip(host, text) == [text]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=NASTY_TEXT | ANY_TEXT)
def test_any_string_survives_the_full_path(host: PowerShellHost, text: str) -> None:
    assert roundtrip(host, text) == [text]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=NASTY_TEXT, padding=st.integers(min_value=8200, max_value=30000))
def test_long_scripts_are_staged_and_survive(
    host: PowerShellHost, text: str, padding: int
) -> None:
    body = script(Raw("$lrPad = '" + "p" * padding + "'"),
                  json_result=Cmd("Get-LrEcho", {"Text": text}))
    assert len(command_lines(body, "roundtrip-1")) > 2
    assert roundtrip(host, text, padding) == [text]


def test_staging_file_is_removed_after_the_run(host: PowerShellHost) -> None:
    assert roundtrip(host, "x" * 12000) == ["x" * 12000]
    assert not host.fs.exists(
        "C:\\Users\\Administrator\\AppData\\Local\\Temp\\lync-restore-roundtrip-1.b64"
    )


def test_errors_inside_a_staged_script_keep_their_exit_code(host: PowerShellHost) -> None:
    body = script(Raw("$lrPad = '" + "p" * 9000 + "'"), Cmd("Get-Nothing"), modules=())
    results = run_lines(host, command_lines(body, "fail-1"))
    assert [r.code for r in results[:-1]] == [0] * (len(results) - 1)
    assert results[-1].code == 1
    assert "Get-Nothing" in results[-1].stderr


def _services(inv: Invocation) -> list[object]:
    status = PSEnum("Running", 4, "System.ServiceProcess.ServiceControllerStatus")
    when = datetime(2014, 1, 16, 10, 6, 40)
    deep = PSObject({"L1": PSObject({"L2": PSObject({"L3": PSObject({"L4": "deep"})})})})
    return [PSObject({"Name": inv.get("Name") or "RTCSRV", "Status": status, "Since": when,
                      "Deep": deep})]


def test_typed_results_come_back_through_the_envelope(tmp_path: Path) -> None:
    spec = CmdletSpec("Get-CsWindowsService", [ParamSpec("Name")], _services)
    host = PowerShellHost([spec], fs=VirtualFS(tmp_path), host_name="fe01.lab.test")
    body = script(Cmd("Write-Host", positional=["note"]),
                  json_result=Cmd("Get-CsWindowsService", {"Name": "RTC'SRV"}))
    (result,) = run_lines(host, command_lines(body, "typed-1"))
    assert result.code == 0, result.stderr
    envelope = parse_envelope(result.stdout)
    assert envelope.text_lines == ["note"]
    (service,) = envelope.values
    assert isinstance(service, dict)
    assert service["Name"] == "RTC'SRV"
    assert ServiceStatus.parse(service["Status"]) is ServiceStatus.RUNNING
    assert ps_date(service["Since"]) == datetime(2014, 1, 16, 10, 6, 40, tzinfo=UTC)
    # -Depth 4: the object at depth 5 arrives as its string form, as in PowerShell 5.1
    assert service["Deep"] == {"L1": {"L2": {"L3": "@{L4=deep}"}}}


def test_missing_module_stops_the_script(tmp_path: Path) -> None:
    host = PowerShellHost([], fs=VirtualFS(tmp_path), modules=())
    body = script(Cmd("Write-Output", positional=["after"]), json_result=Cmd("Get-Date"))
    (result,) = run_lines(host, command_lines(body, "module-1"))
    assert result.code == 1
    assert result.stdout == ""
    assert "The specified module 'Lync' was not loaded" in clixml_errors(result.stderr)
