"""The PowerShell builder: quoting, rendering, composition, staging, envelope parsing."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from wizard.errors import RemoteError
from wizard.remote import psbuild
from wizard.remote.psbuild import (
    CMD_LINE_LIMIT,
    JSON_BEGIN,
    JSON_END,
    Assign,
    Cmd,
    EnvelopeError,
    Pipeline,
    Raw,
    ServiceStatus,
    Switch,
    Var,
    command_lines,
    parse_envelope,
    ps_date,
    quote,
    script,
)


def test_quote_doubles_every_single_quote_kind() -> None:
    assert quote("it's") == "'it''s'"
    assert quote("a\u2018b\u2019c\u201ad\u201be") == (
        "'a\u2018\u2018b\u2019\u2019c\u201a\u201ad\u201b\u201be'"
    )
    assert quote('$(x) "y" `z') == "'$(x) \"y\" `z'"
    assert quote("") == "''"


def test_cmd_render_all_value_kinds() -> None:
    cmd = Cmd(
        "Get-Thing",
        {
            "Name": "pool1'x",
            "Count": 3,
            "Offset": -2,
            "Enabled": True,
            "Force": Switch(),
            "NoWait": Switch(False),
            "List": ["a", "b"],
            "Credential": Var("cred"),
            "Other": Raw("$cred"),
        },
        positional=["p"],
    )
    assert cmd.render() == (
        "Get-Thing -Name 'pool1''x' -Count 3 -Offset (-2) -Enabled $true -Force -NoWait:$false"
        " -List 'a','b' -Credential $cred -Other $cred 'p'"
    )


@pytest.mark.parametrize("name", ["", "1abc", "Get Thing", "a;b", "-x", "Get-Foo'"])
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid PowerShell"):
        Cmd(name)
    with pytest.raises(ValueError, match="invalid PowerShell"):
        Cmd("Get-Foo", {name: "x"})


def test_unsupported_value_is_refused() -> None:
    with pytest.raises(TypeError):
        Cmd("Get-Foo", {"X": 1.5})  # type: ignore[dict-item]


def test_pipeline_and_assign_render() -> None:
    pipe = Pipeline(Cmd("Get-CsWindowsService"), Cmd("Select-Object", positional=["Name"]))
    assert pipe.render() == "Get-CsWindowsService | Select-Object 'Name'"
    assert Assign("s", Cmd("Get-Date")).render() == "$s = Get-Date"
    with pytest.raises(ValueError):
        Var("a b")


def test_script_composition_has_preamble_modules_and_envelope() -> None:
    text = script(Cmd("Write-Host", positional=["hi"]), json_result=Cmd("Get-Date"))
    assert text.splitlines() == [
        "$ErrorActionPreference = 'Stop'",
        "$ProgressPreference = 'SilentlyContinue'",
        "$ConfirmPreference = 'None'",
        "Import-Module -Name 'Lync'",
        "Write-Host 'hi'",
        "$lrResult = @(Get-Date)",
        f"Write-Output '{JSON_BEGIN}'",
        "ConvertTo-Json -InputObject $lrResult -Depth 4 -Compress",
        f"Write-Output '{JSON_END}'",
    ]
    bare = script(Raw("1"), preamble=False, modules=())
    assert bare == "1\r\n"


def test_short_script_is_one_encoded_line() -> None:
    lines = command_lines("Get-Date", "s1")
    assert len(lines) == 1
    assert lines[0].startswith("powershell.exe -NoProfile -NonInteractive")
    encoded = lines[0].rsplit(" ", 1)[1]
    assert base64.b64decode(encoded).decode("utf-16-le") == "Get-Date"


def test_long_script_is_staged_in_short_lines() -> None:
    long = "Write-Output " + quote("x" * 20000)
    lines = command_lines(long, "stage-1")
    assert len(lines) > 2
    assert all(len(line) <= CMD_LINE_LIMIT for line in lines)
    decoded = [base64.b64decode(line.rsplit(" ", 1)[1]).decode("utf-16-le") for line in lines]
    assert "Set-Content" in decoded[0]
    assert all("Add-Content" in d for d in decoded[1:-1])
    assert "lync-restore-stage-1.b64" in decoded[-1]
    assert "FromBase64String" in decoded[-1]
    with pytest.raises(ValueError):
        command_lines("x", "bad id")


def test_parse_envelope_shapes() -> None:
    out = f"hello\r\n{JSON_BEGIN}\r\n{{\"a\":1}}\r\n{JSON_END}\r\n"
    env = parse_envelope(out)
    assert env.values == [{"a": 1}]
    assert env.text_lines == ["hello"]
    assert parse_envelope(f"{JSON_BEGIN}\n[1,2]\n{JSON_END}\n").values == [1, 2]
    assert parse_envelope(f"{JSON_BEGIN}\nnull\n{JSON_END}\n").values == []
    assert parse_envelope(f"{JSON_BEGIN}\n{JSON_END}\n").values == []


def test_parse_envelope_errors_name_what_was_expected() -> None:
    with pytest.raises(EnvelopeError, match="JSON"):
        parse_envelope("nothing here")
    with pytest.raises(EnvelopeError, match="END"):
        parse_envelope(f"{JSON_BEGIN}\n[1]\n")
    with pytest.raises(EnvelopeError, match="not valid JSON") as info:
        parse_envelope(f"{JSON_BEGIN}\n[1,\n{JSON_END}\n")
    assert isinstance(info.value, RemoteError)


def test_ps_date_and_service_status() -> None:
    expected = datetime(2014, 1, 16, 10, 6, 40, tzinfo=UTC)
    assert ps_date("/Date(1389866800000)/") == expected
    assert ps_date("\\/Date(1389866800000)\\/") == expected
    assert ps_date("/Date(1389866800000+0100)/") == expected
    with pytest.raises(EnvelopeError):
        ps_date("yesterday")
    assert ServiceStatus.parse(4) is ServiceStatus.RUNNING
    assert ServiceStatus.parse("StopPending") is ServiceStatus.STOP_PENDING
    with pytest.raises(EnvelopeError):
        ServiceStatus.parse(99)
    assert psbuild.ps_timespan("00:02:00").total_seconds() == 120
