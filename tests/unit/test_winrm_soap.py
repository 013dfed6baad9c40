"""The lab's SOAP helpers: request parsing, durations and decoding of -EncodedCommand."""

from __future__ import annotations

import base64

import pytest
import xmltodict
from hypothesis import given
from hypothesis import strategies as st
from winrm.protocol import Protocol

from lab.wsman import decode_powershell
from lab.wsman.soap import (
    ACTION_COMMAND,
    SoapError,
    command_line_of,
    parse_duration,
    parse_request,
)
from wizard.remote import psbuild


def _b64(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode()


@pytest.mark.parametrize(
    ("command", "arguments"),
    [
        (f"powershell -encodedcommand {_b64('Get-CsPool')}", []),
        (f"powershell.exe -NoProfile -EncodedCommand {_b64('Get-CsPool')}", []),
        ("PowerShell", ["-NonInteractive", "-enc", _b64("Get-CsPool")]),
        (f"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe -ec {_b64('Get-CsPool')}",
         []),
    ],
)
def test_decode_powershell(command: str, arguments: list[str]) -> None:
    assert decode_powershell(command, arguments) == "Get-CsPool"


@pytest.mark.parametrize(
    "command",
    ["cmd /c dir", "powershell -Command Get-CsPool", "powershell -enc not*base64", "", "powershell -enc"],
)
def test_decode_powershell_refuses(command: str) -> None:
    assert decode_powershell(command) is None


@given(st.text(min_size=1, max_size=200))
def test_decode_inverts_psbuild(script: str) -> None:
    assert decode_powershell(psbuild.encode_command_line(script)) == script


def test_parse_duration() -> None:
    assert parse_duration("PT20S") == 20
    assert parse_duration("PT1M30.5S") == 90.5
    assert parse_duration("PT1H") == 3600
    assert parse_duration("20") is None


def test_parse_what_pywinrm_sends() -> None:
    protocol = Protocol("http://127.0.0.1:1/wsman", transport="basic", username="u", password="p",
                        operation_timeout_sec=7, read_timeout_sec=9)
    envelope = {"env:Envelope": protocol.build_wsman_header(
        action=ACTION_COMMAND, resource_uri="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd",
        shell_id="SHELL-1")}
    envelope["env:Envelope"]["env:Body"] = {"rsp:CommandLine": {
        "rsp:Command": "powershell", "rsp:Arguments": "-enc AAAA"}}
    request = parse_request(xmltodict.unparse(envelope).encode())
    assert (request.action, request.shell_id, request.operation_timeout_s) == (
        ACTION_COMMAND, "SHELL-1", 7)
    assert request.message_id.startswith("uuid:")
    assert command_line_of(request.body) == ("powershell", ["-enc AAAA"])


def test_parse_rejects_garbage() -> None:
    with pytest.raises(SoapError):
        parse_request(b"<not-xml")
    with pytest.raises(SoapError):
        parse_request(b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"/>')
