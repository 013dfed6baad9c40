"""The five WS-Management messages the PowerShell runner sends, built from precompiled text.

pywinrm builds every envelope as nested dicts and serialises them with ``xmltodict.unparse``,
which validates each element name character by character: about a third of the client's CPU
per round trip, and the assessment probes hundreds of hosts at once. These templates produce
the same envelopes (same namespaces, headers, attributes, order: a unit test compares them
with pywinrm's own) with only the variable parts - message id, operation timeout, shell and
command ids, the command line - escaped and spliced in. The matching response readers do in
one pass over the parsed tree what pywinrm does in several; the RelatesTo checks it makes for
Signal and Delete are kept, as an error rather than an ``assert``.
"""

from __future__ import annotations

import base64
import uuid
import xml.etree.ElementTree as ET

from winrm.exceptions import WinRMError

RESOURCE_CMD = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_COMMAND = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command"
ACTION_RECEIVE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive"
ACTION_SIGNAL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal"
SIGNAL_TERMINATE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate"

# The envelope opening and the headers up to the MessageID, exactly as pywinrm 0.5 writes them
# (including its fixed a:To, MaxEnvelopeSize and en-US locales).
_OPEN = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    ' xmlns:env="http://www.w3.org/2003/05/soap-envelope"'
    ' xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
    ' xmlns:b="http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd"'
    ' xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration"'
    ' xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer"'
    ' xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"'
    ' xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"'
    ' xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"'
    ' xmlns:cfg="http://schemas.microsoft.com/wbem/wsman/1/config">'
    "<env:Header>"
    "<a:To>http://windows-host:5985/wsman</a:To>"
    '<a:ReplyTo><a:Address mustUnderstand="true">'
    "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>"
    '<w:MaxEnvelopeSize mustUnderstand="true">153600</w:MaxEnvelopeSize>'
    "<a:MessageID>uuid:"
)
_AFTER_ID = (
    "</a:MessageID>"
    '<w:Locale mustUnderstand="false" xml:lang="en-US"></w:Locale>'
    '<p:DataLocale mustUnderstand="false" xml:lang="en-US"></p:DataLocale>'
    "<w:OperationTimeout>PT"
)


def _after_timeout(action: str) -> str:
    return (
        "S</w:OperationTimeout>"
        f'<w:ResourceURI mustUnderstand="true">{RESOURCE_CMD}</w:ResourceURI>'
        f'<a:Action mustUnderstand="true">{action}</a:Action>'
    )


_CREATE = _after_timeout(ACTION_CREATE)
_COMMAND = _after_timeout(ACTION_COMMAND) + '<w:SelectorSet><w:Selector Name="ShellId">'
_RECEIVE = _after_timeout(ACTION_RECEIVE) + '<w:SelectorSet><w:Selector Name="ShellId">'
_SIGNAL = _after_timeout(ACTION_SIGNAL) + '<w:SelectorSet><w:Selector Name="ShellId">'
_DELETE = _after_timeout(ACTION_DELETE) + '<w:SelectorSet><w:Selector Name="ShellId">'
_END_SELECTOR = "</w:Selector></w:SelectorSet>"
_CLOSE = "</env:Body></env:Envelope>"


def escape_text(value: str) -> str:
    """``value`` as XML character data (what xmltodict does through saxutils.escape)."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    return value


def escape_attr(value: str) -> str:
    """``value`` inside a double-quoted attribute (saxutils.quoteattr's escapes)."""
    value = escape_text(value)
    for raw, entity in (('"', "&quot;"), ("\n", "&#10;"), ("\r", "&#13;"), ("\t", "&#9;")):
        if raw in value:
            value = value.replace(raw, entity)
    return value


def new_message_id() -> uuid.UUID:
    return uuid.uuid4()


def create_shell(
    message_id: uuid.UUID, operation_timeout_s: int, *, codepage: int, noprofile: bool
) -> str:
    """Create a cmd shell with the given code page and profile option."""
    return (
        f"{_OPEN}{message_id}{_AFTER_ID}{int(operation_timeout_s)}{_CREATE}"
        '<w:OptionSet><w:Option Name="WINRS_NOPROFILE">'
        f"{'TRUE' if noprofile else 'FALSE'}</w:Option>"
        f'<w:Option Name="WINRS_CODEPAGE">{int(codepage)}</w:Option></w:OptionSet>'
        "</env:Header><env:Body><rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams>"
        "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>" + _CLOSE
    )


def command(
    message_id: uuid.UUID,
    operation_timeout_s: int,
    shell_id: str,
    command_line: str,
    *,
    console_mode_stdin: bool = True,
    skip_cmd_shell: bool = False,
) -> str:
    """Run ``command_line`` (no separate arguments) in the shell."""
    return (
        f"{_OPEN}{message_id}{_AFTER_ID}{int(operation_timeout_s)}{_COMMAND}"
        f"{escape_text(shell_id)}{_END_SELECTOR}"
        '<w:OptionSet><w:Option Name="WINRS_CONSOLEMODE_STDIN">'
        f"{'TRUE' if console_mode_stdin else 'FALSE'}</w:Option>"
        '<w:Option Name="WINRS_SKIP_CMD_SHELL">'
        f"{'TRUE' if skip_cmd_shell else 'FALSE'}</w:Option></w:OptionSet>"
        "</env:Header><env:Body><rsp:CommandLine><rsp:Command>"
        f"{escape_text(command_line)}</rsp:Command></rsp:CommandLine>{_CLOSE}"
    )


def receive(message_id: uuid.UUID, operation_timeout_s: int, shell_id: str,
            command_id: str) -> str:
    """Receive stdout and stderr of a command (held up to the operation timeout)."""
    return (
        f"{_OPEN}{message_id}{_AFTER_ID}{int(operation_timeout_s)}{_RECEIVE}"
        f"{escape_text(shell_id)}{_END_SELECTOR}"
        '</env:Header><env:Body><rsp:Receive><rsp:DesiredStream CommandId="'
        f'{escape_attr(command_id)}">stdout stderr</rsp:DesiredStream></rsp:Receive>{_CLOSE}'
    )


def signal_terminate(message_id: uuid.UUID, operation_timeout_s: int, shell_id: str,
                     command_id: str) -> str:
    """Signal a command to terminate (also releases a Done one)."""
    return (
        f"{_OPEN}{message_id}{_AFTER_ID}{int(operation_timeout_s)}{_SIGNAL}"
        f"{escape_text(shell_id)}{_END_SELECTOR}"
        '</env:Header><env:Body><rsp:Signal CommandId="'
        f'{escape_attr(command_id)}"><rsp:Code>{SIGNAL_TERMINATE}</rsp:Code></rsp:Signal>'
        f"{_CLOSE}"
    )


def delete_shell(message_id: uuid.UUID, operation_timeout_s: int, shell_id: str) -> str:
    """Delete the shell."""
    return (
        f"{_OPEN}{message_id}{_AFTER_ID}{int(operation_timeout_s)}{_DELETE}"
        f"{escape_text(shell_id)}{_END_SELECTOR}</env:Header><env:Body>{_CLOSE}"
    )


# -- responses ---------------------------------------------------------------------------------


def _parse(response: bytes) -> ET.Element:
    """The answer as an element tree (pywinrm's parser). WS-Management answers never carry a
    DTD, so one is refused rather than expanded."""
    if b"<!DOCTYPE" in response or b"<!ENTITY" in response:
        raise WinRMError("the answer carries a DTD")
    return ET.fromstring(response)  # noqa: S314 - no DTD, see above


def shell_id_of(response: bytes) -> str:
    """The ShellId a Create answer names (the first element with ``Name="ShellId"``)."""
    root = _parse(response)
    for node in root.iter():
        if node is not root and node.get("Name") == "ShellId":
            return node.text or ""
    raise WinRMError("the Create answer names no ShellId")


def command_id_of(response: bytes) -> str:
    """The CommandId a Command answer names (the first element whose tag ends so)."""
    root = _parse(response)
    for node in root.iter():
        if node is not root and node.tag.endswith("CommandId"):
            return node.text or ""
    raise WinRMError("the Command answer names no CommandId")


def check_relates_to(response: bytes, message_id: uuid.UUID) -> None:
    """Raise WinRMError unless the answer's RelatesTo is ``message_id`` (pywinrm's assert)."""
    root = _parse(response)
    for node in root.iter():
        if node is not root and node.tag.endswith("RelatesTo"):
            try:
                relates_to = uuid.UUID((node.text or "").replace("uuid:", ""))
            except ValueError:
                raise WinRMError("the answer's RelatesTo is not a message id") from None
            if relates_to != message_id:
                raise WinRMError("the answer relates to another request")
            return
    raise WinRMError("the answer has no RelatesTo")


def parse_receive(response: bytes) -> tuple[bytes, bytes, int, bool]:
    """(stdout, stderr, exit code, done) of a Receive answer, read as pywinrm reads it: every
    ``*Stream`` element's base64 text by its Name; done when exactly one element has a State
    ending ``CommandState/Done``, the exit code then from the first ``*ExitCode`` element."""
    root = _parse(response)
    stdout: list[bytes] = []
    stderr: list[bytes] = []
    done_states = 0
    exit_text: str | None = None
    has_exit = False
    for node in root.iter():
        if node is root:
            continue
        tag = node.tag
        if tag.endswith("Stream"):
            text = node.text
            if text:
                name = node.get("Name")
                if name == "stdout":
                    stdout.append(base64.b64decode(text))
                elif name == "stderr":
                    stderr.append(base64.b64decode(text))
        elif tag.endswith("ExitCode") and not has_exit:
            has_exit = True
            exit_text = node.text
        state = node.get("State")
        if state is not None and state.endswith("CommandState/Done"):
            done_states += 1
    done = done_states == 1
    exit_code = -1
    if done:
        if not has_exit:
            raise WinRMError("a Done command state carries no ExitCode")
        exit_code = int(exit_text or -1)
    return b"".join(stdout), b"".join(stderr), exit_code, done
