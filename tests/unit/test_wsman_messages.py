"""The runner's precompiled WS-Management messages are pywinrm's messages, and read alike.

pywinrm's own ``Protocol`` builds each of the five messages with its ``send_message`` swapped
for a recorder (no transport involved: only the envelope text is compared); both envelopes are
parsed as XML and compared element by element, MessageID aside.
"""

from __future__ import annotations

import base64
import contextlib
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from winrm.exceptions import WinRMError
from winrm.protocol import Protocol

from wizard.remote import wsman_messages as msg

A_NS = "{http://schemas.xmlsoap.org/ws/2004/08/addressing}"
RSP_NS = "{http://schemas.microsoft.com/wbem/wsman/1/windows/shell}"
ODD = "S-1 & <x> \"q\" 'a'\tz"  # every character the escaping must handle


class _Recorder:
    """Stands in for pywinrm's send_message: keeps the envelope, answers ``reply``."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.sent: list[str] = []

    def __call__(self, message: str) -> bytes:
        self.sent.append(message)
        return self.reply


def _reply(relates_to: str = "uuid:00000000-0000-0000-0000-000000000000") -> bytes:
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
        'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell">'
        f"<s:Header><a:RelatesTo>{relates_to}</a:RelatesTo></s:Header><s:Body>"
        '<w:Selector Name="ShellId">S</w:Selector><rsp:CommandId>C</rsp:CommandId>'
        "</s:Body></s:Envelope>"
    ).encode()


def _pywinrm(timeout_s: int, call: Callable[[Protocol], object]) -> str:
    protocol = Protocol("http://127.0.0.1:1/wsman", transport="basic", username="u",
                        password="p", operation_timeout_sec=timeout_s,
                        read_timeout_sec=timeout_s + 1)
    recorder = _Recorder(_reply())
    protocol.send_message = recorder  # type: ignore[method-assign]
    with contextlib.suppress(AssertionError):  # its RelatesTo check: the reply is canned
        call(protocol)
    assert len(recorder.sent) == 1
    return recorder.sent[0]


def _tree(text: str) -> tuple[ET.Element, str]:
    """The envelope without its MessageID (returned apart), canonical for comparison."""
    root = ET.fromstring(text)  # noqa: S314 - our own test strings
    header = root.find("{http://www.w3.org/2003/05/soap-envelope}Header")
    assert header is not None
    message_id = header.find(f"{A_NS}MessageID")
    assert message_id is not None and message_id.text is not None
    value = message_id.text
    message_id.text = "uuid:X"
    return root, value


def _same(ours: str, theirs: str) -> None:
    our_root, our_id = _tree(ours)
    their_root, their_id = _tree(theirs)
    assert ET.canonicalize(ET.tostring(our_root)) == ET.canonicalize(ET.tostring(their_root))
    assert our_id.startswith("uuid:") and uuid.UUID(our_id[5:])
    assert their_id.startswith("uuid:")


MID = uuid.uuid4()


@pytest.mark.parametrize("noprofile", [True, False])
@pytest.mark.parametrize("codepage", [65001, 437])
def test_create_shell_is_pywinrms(noprofile: bool, codepage: int) -> None:
    theirs = _pywinrm(7, lambda p: p.open_shell(codepage=codepage, noprofile=noprofile))
    _same(msg.create_shell(MID, 7, codepage=codepage, noprofile=noprofile), theirs)


@pytest.mark.parametrize("shell_id", ["0E2A2F4C-1F1D-4C31-A0B5-6B1C3D6F9E20", ODD])
@pytest.mark.parametrize("line", ["powershell -NoProfile -EncodedCommand AAAA", ODD, ""])
def test_command_is_pywinrms(shell_id: str, line: str) -> None:
    theirs = _pywinrm(20, lambda p: p.run_command(shell_id, line))
    _same(msg.command(MID, 20, shell_id, line), theirs)


@pytest.mark.parametrize(("shell_id", "command_id"), [("S-1", "C-1"), (ODD, ODD)])
def test_receive_signal_delete_are_pywinrms(shell_id: str, command_id: str) -> None:
    _same(msg.receive(MID, 3, shell_id, command_id),
          _pywinrm(3, lambda p: p.get_command_output_raw(shell_id, command_id)))
    _same(msg.signal_terminate(MID, 3, shell_id, command_id),
          _pywinrm(3, lambda p: p.cleanup_command(shell_id, command_id)))
    _same(msg.delete_shell(MID, 3, shell_id),
          _pywinrm(3, lambda p: p.close_shell(shell_id, close_session=False)))


def test_a_different_message_differs() -> None:
    """The comparison can fail: another timeout or another action is seen."""
    theirs = _pywinrm(7, lambda p: p.get_command_output_raw("S-1", "C-1"))
    with pytest.raises(AssertionError):
        _same(msg.receive(MID, 8, "S-1", "C-1"), theirs)
    with pytest.raises(AssertionError):
        _same(msg.signal_terminate(MID, 7, "S-1", "C-1"), theirs)


_XML_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
                    | st.sampled_from("&<>\"'\t\n"), max_size=300)


@given(_XML_TEXT, _XML_TEXT)
def test_command_text_and_ids_survive_escaping(line: str, ident: str) -> None:
    root = ET.fromstring(msg.command(MID, 20, ident, line))  # noqa: S314 - our own text
    assert root.findtext(f".//{RSP_NS}Command") == line
    selector = root.find(".//{http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd}Selector")
    assert selector is not None and (selector.text or "") == ident
    receive = ET.fromstring(msg.receive(MID, 20, ident, ident))  # noqa: S314 - our own text
    stream = receive.find(f".//{RSP_NS}DesiredStream")
    assert stream is not None and stream.get("CommandId") == ident


# -- responses ---------------------------------------------------------------------------------


def _receive_answer(streams: list[tuple[str, bytes]], state: str = "Running",
                    exit_code: str | None = None) -> bytes:
    parts = "".join(
        f'<rsp:Stream Name="{name}" CommandId="C">{base64.b64encode(data).decode()}</rsp:Stream>'
        for name, data in streams
    )
    code = "" if exit_code is None else f"<rsp:ExitCode>{exit_code}</rsp:ExitCode>"
    state_uri = f"http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/{state}"
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Body>'
        f'<rsp:ReceiveResponse>{parts}<rsp:CommandState CommandId="C" State="{state_uri}">'
        f"{code}</rsp:CommandState></rsp:ReceiveResponse></s:Body></s:Envelope>"
    ).encode()


def _pywinrm_reads(answer: bytes) -> tuple[bytes, bytes, int, bool]:
    protocol = Protocol("http://127.0.0.1:1/wsman", transport="basic", username="u",
                        password="p")
    protocol.send_message = _Recorder(answer)  # type: ignore[method-assign]
    return protocol.get_command_output_raw("S", "C")


@pytest.mark.parametrize(
    "answer",
    [
        _receive_answer([("stdout", b"one\r\n"), ("stderr", b"#< CLIXML"), ("stdout", b"two")]),
        _receive_answer([("stdout", b"")], "Done", "0"),
        _receive_answer([("stdout", b"x" * 5000), ("stderr", b"\xff\x00")], "Done", "3"),
        _receive_answer([], "Done", "-1073741510"),
        _receive_answer([("stdout", b"\xe2\x82\xac")], "Done", ""),
        _receive_answer([("other", b"ignored"), ("stdout", b"kept")]),
    ],
)
def test_receive_is_read_as_pywinrm_reads_it(answer: bytes) -> None:
    assert msg.parse_receive(answer) == _pywinrm_reads(answer)


def test_receive_done_without_exit_code_is_refused() -> None:
    with pytest.raises(WinRMError):
        msg.parse_receive(_receive_answer([], "Done"))


def test_ids_from_answers() -> None:
    assert msg.shell_id_of(_reply()) == "S"
    assert msg.command_id_of(_reply()) == "C"
    with pytest.raises(WinRMError):
        msg.command_id_of(_receive_answer([]))


def test_relates_to_is_checked() -> None:
    message_id = uuid.uuid4()
    msg.check_relates_to(_reply(f"uuid:{message_id}"), message_id)
    msg.check_relates_to(_reply(f"uuid:{str(message_id).upper()}"), message_id)
    with pytest.raises(WinRMError):
        msg.check_relates_to(_reply(f"uuid:{uuid.uuid4()}"), message_id)
    with pytest.raises(WinRMError):
        msg.check_relates_to(_reply("not-an-id"), message_id)
    with pytest.raises(WinRMError):
        msg.check_relates_to(_receive_answer([]), message_id)


def test_an_answer_with_a_dtd_is_refused() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "aaaa">]>'
            b'<s><RelatesTo>&a;</RelatesTo></s>')
    with pytest.raises(WinRMError):
        msg.check_relates_to(bomb, uuid.uuid4())
