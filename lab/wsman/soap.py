"""SOAP envelopes of the WS-Management shell protocol, as the lab server reads and writes them.

The lab answers real pywinrm clients, so the XML here follows what pywinrm sends and what it
looks for in answers (see PROTOCOLS.md): a ``Name="ShellId"`` selector after Create, a
``CommandId`` after Command, base64 ``Stream`` elements and a ``CommandState`` after Receive,
``RelatesTo`` after Signal and Delete, and SOAP faults carrying Microsoft's WSManFault codes.
Kept apart from the HTTP server so the envelopes can be unit tested without a socket.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
NS_ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
NS_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
NS_TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
NS_FAULT = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"

ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_COMMAND = f"{NS_SHELL}/Command"
ACTION_RECEIVE = f"{NS_SHELL}/Receive"
ACTION_SIGNAL = f"{NS_SHELL}/Signal"
ACTION_SEND = f"{NS_SHELL}/Send"

SIGNAL_TERMINATE = f"{NS_SHELL}/signal/terminate"
SIGNAL_CTRL_C = f"{NS_SHELL}/signal/ctrl_c"
STATE_RUNNING = f"{NS_SHELL}/CommandState/Running"
STATE_DONE = f"{NS_SHELL}/CommandState/Done"

#: WSManFault code of a held Receive that saw no output (pywinrm: WinRMOperationTimeoutError).
FAULT_OPERATION_TIMEOUT = 2150858793
#: WSManFault code of a request naming a shell the service does not know
#: (ERROR_WINRS_SHELL_NOT_FOUND).
FAULT_SHELL_NOT_FOUND = 2150858843
#: WSManFault code of an action the service does not implement.
FAULT_ACTION_NOT_SUPPORTED = 2150858757
FAULT_QUOTA_MAX_SHELLS = 2150859173  # ERROR_WSMAN_QUOTA_MAX_SHELLS (winrs MaxShellsPerUser)
FAULT_QUOTA_MAX_OPERATIONS = 2150859174  # ERROR_WSMAN_QUOTA_MAX_OPERATIONS (MaxConcurrentOperationsPerUser)
FAULT_MAX_ENVELOPE_SIZE = 2150859025  # 0x80338111: the request exceeded MaxEnvelopeSizekb

_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")
_ENCODED_SWITCHES = ("-encodedcommand", "-enc", "-ec")


class SoapError(ValueError):
    """The request is not a WS-Management envelope the lab understands."""


@dataclass(frozen=True)
class WsmanRequest:
    """The parts of a request envelope the lab acts on."""

    action: str
    message_id: str
    shell_id: str | None
    operation_timeout_s: float | None
    options: dict[str, str] = field(default_factory=dict)
    body: ET.Element | None = None


def parse_duration(text: str) -> float | None:
    """Seconds in an xs:duration such as ``PT20S`` or ``PT1M30.5S``; None if unreadable."""
    match = _DURATION.match(text.strip())
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def parse_request(data: bytes) -> WsmanRequest:
    """Read the header fields and the body element of one request envelope."""
    try:
        # Authenticated loopback clients only; expat >= 2.4 refuses entity expansion bombs.
        root = ET.fromstring(data)  # noqa: S314
    except ET.ParseError as exc:
        raise SoapError(f"malformed XML: {exc}") from exc
    header = root.find(f"{{{NS_SOAP}}}Header")
    body = root.find(f"{{{NS_SOAP}}}Body")
    if header is None:
        raise SoapError("no SOAP header")
    action = (header.findtext(f"{{{NS_ADDRESSING}}}Action") or "").strip()
    message_id = (header.findtext(f"{{{NS_ADDRESSING}}}MessageID") or "").strip()
    if not action or not message_id:
        raise SoapError("no Action or MessageID in the header")
    shell_id = None
    for selector in header.iter(f"{{{NS_WSMAN}}}Selector"):
        if selector.get("Name") == "ShellId":
            shell_id = (selector.text or "").strip()
    timeout_text = header.findtext(f"{{{NS_WSMAN}}}OperationTimeout")
    options = {
        option.get("Name", ""): (option.text or "").strip()
        for option in header.iter(f"{{{NS_WSMAN}}}Option")
    }
    return WsmanRequest(
        action=action,
        message_id=message_id,
        shell_id=shell_id,
        operation_timeout_s=parse_duration(timeout_text) if timeout_text else None,
        options=options,
        body=body[0] if body is not None and len(body) else None,
    )


def command_line_of(body: ET.Element | None) -> tuple[str, list[str]]:
    """The Command text and the Arguments of a CommandLine body."""
    if body is None or body.tag != f"{{{NS_SHELL}}}CommandLine":
        raise SoapError("Command without a CommandLine body")
    command = (body.findtext(f"{{{NS_SHELL}}}Command") or "").strip()
    arguments = [(arg.text or "") for arg in body.findall(f"{{{NS_SHELL}}}Arguments")]
    return command, arguments


def signal_of(body: ET.Element | None) -> tuple[str, str]:
    """The CommandId and the signal code of a Signal body."""
    if body is None or body.tag != f"{{{NS_SHELL}}}Signal":
        raise SoapError("Signal without a Signal body")
    return body.get("CommandId", ""), (body.findtext(f"{{{NS_SHELL}}}Code") or "").strip()


def receive_command_id(body: ET.Element | None) -> str:
    """The CommandId a Receive asks output for."""
    stream = None if body is None else body.find(f"{{{NS_SHELL}}}DesiredStream")
    if stream is None:
        raise SoapError("Receive without a DesiredStream")
    return stream.get("CommandId", "")


def send_input_of(body: ET.Element | None) -> tuple[str, bytes, bool]:
    """The CommandId, the decoded bytes and the End flag of a Send (stdin) body."""
    stream = None if body is None else body.find(f"{{{NS_SHELL}}}Stream")
    if stream is None:
        raise SoapError("Send without a Stream")
    try:
        data = base64.b64decode(stream.text or "")
    except binascii.Error as exc:
        raise SoapError("Send with bad base64") from exc
    return stream.get("CommandId", ""), data, stream.get("End", "false").lower() == "true"


def decode_powershell(command: str, arguments: Sequence[str] = ()) -> str | None:
    """The script of ``powershell[.exe] ... -EncodedCommand <base64 UTF-16LE>``, else None."""
    tokens = " ".join((command, *arguments)).split()
    if not tokens:
        return None
    program = tokens[0].strip('"').replace("/", "\\").rsplit("\\", 1)[-1].lower()
    if program not in ("powershell", "powershell.exe"):
        return None
    for index, token in enumerate(tokens[1:-1], start=1):
        if token.lower() in _ENCODED_SWITCHES:
            try:
                return base64.b64decode(tokens[index + 1], validate=True).decode("utf-16-le")
            except (binascii.Error, UnicodeDecodeError):
                return None
    return None


def _envelope(action: str, relates_to: str, body: str) -> bytes:
    text = (
        f'<s:Envelope xml:lang="en-US" xmlns:s="{NS_SOAP}" xmlns:a="{NS_ADDRESSING}" '
        f'xmlns:x="{NS_TRANSFER}" xmlns:w="{NS_WSMAN}" xmlns:rsp="{NS_SHELL}">'
        "<s:Header>"
        f"<a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{uuid.uuid4()}</a:MessageID>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
        "</s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    )
    return text.encode("utf-8")


def create_response(request: WsmanRequest, address: str, shell_id: str) -> bytes:
    body = (
        "<x:ResourceCreated>"
        f"<a:Address>{escape(address)}</a:Address>"
        "<a:ReferenceParameters>"
        f"<w:ResourceURI>{NS_SHELL}/cmd</w:ResourceURI>"
        f'<w:SelectorSet><w:Selector Name="ShellId">{escape(shell_id)}</w:Selector></w:SelectorSet>'
        "</a:ReferenceParameters></x:ResourceCreated>"
        f"<rsp:Shell><rsp:ShellId>{escape(shell_id)}</rsp:ShellId>"
        "<rsp:InputStreams>stdin</rsp:InputStreams>"
        "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>"
    )
    return _envelope(f"{ACTION_CREATE}Response", request.message_id, body)


def command_response(request: WsmanRequest, command_id: str) -> bytes:
    body = (
        f"<rsp:CommandResponse><rsp:CommandId>{escape(command_id)}</rsp:CommandId>"
        "</rsp:CommandResponse>"
    )
    return _envelope(f"{ACTION_COMMAND}Response", request.message_id, body)


def receive_response(
    request: WsmanRequest,
    command_id: str,
    chunks: Sequence[tuple[str, bytes]],
    exit_code: int | None,
) -> bytes:
    """One Stream element per chunk, in order; Done with ExitCode when ``exit_code`` is set."""
    cid = quoteattr(command_id)
    streams = "".join(
        f"<rsp:Stream Name={quoteattr(name)} CommandId={cid}>"
        f"{base64.b64encode(data).decode('ascii')}</rsp:Stream>"
        for name, data in chunks
    )
    if exit_code is None:
        state = f'<rsp:CommandState CommandId={cid} State="{STATE_RUNNING}"/>'
    else:
        streams += (
            f'<rsp:Stream Name="stdout" CommandId={cid} End="true"></rsp:Stream>'
            f'<rsp:Stream Name="stderr" CommandId={cid} End="true"></rsp:Stream>'
        )
        state = (
            f'<rsp:CommandState CommandId={cid} State="{STATE_DONE}">'
            f"<rsp:ExitCode>{int(exit_code)}</rsp:ExitCode></rsp:CommandState>"
        )
    body = f"<rsp:ReceiveResponse>{streams}{state}</rsp:ReceiveResponse>"
    return _envelope(f"{ACTION_RECEIVE}Response", request.message_id, body)


def signal_response(request: WsmanRequest) -> bytes:
    return _envelope(f"{ACTION_SIGNAL}Response", request.message_id, "<rsp:SignalResponse/>")


def send_response(request: WsmanRequest) -> bytes:
    return _envelope(f"{ACTION_SEND}Response", request.message_id, "<rsp:SendResponse/>")


def delete_response(request: WsmanRequest) -> bytes:
    return _envelope(f"{ACTION_DELETE}Response", request.message_id, "")


def fault(
    relates_to: str,
    *,
    code: str,
    subcode: str,
    reason: str,
    wsman_code: int,
    machine: str,
) -> bytes:
    """A SOAP 1.2 fault with a Microsoft WSManFault detail (sent with HTTP 500)."""
    body = (
        "<s:Fault>"
        f"<s:Code><s:Value>{escape(code)}</s:Value>"
        f"<s:Subcode><s:Value>{escape(subcode)}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(reason)}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault xmlns:f="{NS_FAULT}" Code="{wsman_code}" '
        f"Machine={quoteattr(machine)}><f:Message>{escape(reason)}</f:Message>"
        "</f:WSManFault></s:Detail></s:Fault>"
    )
    return _envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body)


def operation_timeout_fault(relates_to: str, machine: str) -> bytes:
    return fault(
        relates_to,
        code="s:Receiver",
        subcode="w:TimedOut",
        reason="The WS-Management service cannot complete the operation within the time "
        "specified in OperationTimeout.",
        wsman_code=FAULT_OPERATION_TIMEOUT,
        machine=machine,
    )


def shell_not_found_fault(relates_to: str, machine: str, shell_id: str) -> bytes:
    return fault(
        relates_to,
        code="s:Sender",
        subcode="w:InvalidSelectors",
        reason=f"The request for the Windows Remote Shell with ShellId {shell_id} failed "
        "because the shell was not found on the server. Possible causes are: the specified "
        "ShellId is incorrect or the shell no longer exists on the server. Provide the correct "
        "ShellId or create a new shell and retry the operation.",
        wsman_code=FAULT_SHELL_NOT_FOUND,
        machine=machine,
    )


def quota_max_shells_fault(relates_to: str, machine: str, allowed: int) -> bytes:
    """wst:Create over winrs MaxShellsPerUser (MS-WSMV 3.1.4.5.2.1: wsman:QuotaLimit), with the
    message Windows gives (PowerShell shows it after "Connecting to remote server failed")."""
    return fault(
        relates_to,
        code="s:Receiver",
        subcode="w:QuotaLimit",
        reason=f"The WS-Management service cannot process the request. This user is allowed a maximum "
        f"number of {allowed} concurrent shells, which has been exceeded. Close existing shells or "
        "raise the quota for this user.",
        wsman_code=FAULT_QUOTA_MAX_SHELLS,
        machine=machine,
    )


def quota_max_operations_fault(relates_to: str, machine: str, allowed: int) -> bytes:
    """Over MaxConcurrentOperationsPerUser (1500 since WinRM 3.0). Windows counts every command a
    shell has run until the shell is deleted (pywinrm issue 124: sequential commands in one long-
    lived shell hit it), so a client that keeps one shell must replace it now and then."""
    return fault(
        relates_to,
        code="s:Receiver",
        subcode="w:QuotaLimit",
        reason=f"The WS-Management service cannot process the request. This user is allowed a maximum "
        f"number of {allowed} concurrent operations, which has been exceeded. Close existing "
        "operations for this user, or raise the quota for this user.",
        wsman_code=FAULT_QUOTA_MAX_OPERATIONS,
        machine=machine,
    )


def envelope_too_large_fault(relates_to: str, machine: str) -> bytes:
    """A request over MaxEnvelopeSizekb (500 KB by default): wsman:EncodingLimit, and the words
    the WinRM client shows for it."""
    return fault(
        relates_to,
        code="s:Sender",
        subcode="w:EncodingLimit",
        reason="The WinRM client sent a request to the remote WS-Management service and was notified "
        "that the request size exceeded the configured MaxEnvelopeSize quota.",
        wsman_code=FAULT_MAX_ENVELOPE_SIZE,
        machine=machine,
    )


def bad_request_fault(relates_to: str, machine: str, detail: str) -> bytes:
    return fault(
        relates_to,
        code="s:Sender",
        subcode="w:ActionNotSupported" if "action" in detail.lower() else "w:InvalidMessage",
        reason=f"The WS-Management service cannot process the request: {detail}.",
        wsman_code=FAULT_ACTION_NOT_SUPPORTED,
        machine=machine,
    )
