"""The lab's WS-Management listener against the REAL pywinrm client (no transport mocks)."""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Iterator

import pytest
import requests
import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WSManFaultError
from winrm.protocol import Protocol

from lab.wsman import CommandIO, WsmanServer
from lab.wsman.toyhost import ToyHost

pytestmark = pytest.mark.integration

USER = "CONTOSO\\lyncadmin"
PASSWORD = "Pa:ss-w0rd!é"
CANARY = "CANARY-7f3a9-not-the-password"


@pytest.fixture
def host() -> ToyHost:
    return ToyHost()


@pytest.fixture
def server(host: ToyHost) -> Iterator[WsmanServer]:
    with WsmanServer("fe01.contoso.com", host, {USER: PASSWORD}, allow_unencrypted=True) as srv:
        yield srv


def _protocol(server: WsmanServer, transport: str = "basic", password: str = PASSWORD,
              operation_timeout: int = 20) -> Protocol:
    return Protocol(
        server.url, transport=transport, username=USER, password=password,  # type: ignore[arg-type]
        message_encryption="always" if transport == "ntlm" else "never",
        operation_timeout_sec=operation_timeout, read_timeout_sec=operation_timeout + 5,
        proxy=None, ca_trust_path=None,
    )


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_run_ps_round_trip(server: WsmanServer, transport: str) -> None:
    session = winrm.Session(server.url, auth=(USER, PASSWORD), transport=transport,
                            message_encryption="always" if transport == "ntlm" else "never",
                            proxy=None, ca_trust_path=None)
    result = session.run_ps("Write-Output 'hello'; Write-Output 'second'")
    assert result.status_code == 0
    assert result.std_out == b"hello\r\nsecond\r\n"
    actions = [entry.action for entry in server.transcript]
    assert actions == ["Auth", "Create", "Command", "Receive", "Signal", "Delete"]
    assert server.transcript[2].detail == "Write-Output 'hello'; Write-Output 'second'"
    assert server.transcript[0].detail == transport
    assert server.open_shells() == set()
    if transport == "ntlm":
        assert server.sealed_requests >= 5  # every SOAP body travelled multipart/encrypted
    else:
        assert server.sealed_requests == 0


def test_ntlm_credentials_file_is_private_and_removed_on_stop(host: ToyHost) -> None:
    srv = WsmanServer("fe02", host, {USER: PASSWORD}, allow_unencrypted=True).start()
    try:
        path = srv._store._file
        assert path is not None and os.path.isfile(path)
        assert os.stat(path).st_mode & 0o777 == 0o600
        with open(path, encoding="utf-8") as handle:
            assert PASSWORD not in handle.read()  # hashes only
    finally:
        srv.stop()
    assert not os.path.exists(path)


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_wrong_password_is_401_and_never_recorded(server: WsmanServer, transport: str) -> None:
    protocol = _protocol(server, transport, password=CANARY)
    with pytest.raises(InvalidCredentialsError) as info:
        protocol.open_shell()
    assert CANARY not in str(info.value) and CANARY not in repr(info.value)
    assert CANARY not in repr(server.transcript)
    assert any(e.action == "Auth" and "refused" in e.detail for e in server.transcript)
    assert server.open_shells() == set()


def test_utf8_code_page_and_cp437_default(server: WsmanServer) -> None:
    protocol = _protocol(server)
    command = "powershell -encodedcommand " + base64.b64encode(
        "Write-Output 'Zürich'".encode("utf-16-le")).decode()
    for codepage, expected in ((65001, "Zürich\r\n".encode()), (437, "Zürich\r\n".encode("cp437"))):
        shell = protocol.open_shell(codepage=codepage)
        command_id = protocol.run_command(shell, command)
        out, _err, code = protocol.get_command_output(shell, command_id)
        assert (out, code) == (expected, 0)
        protocol.close_shell(shell, close_session=False)


@pytest.mark.timeout(60)  # a safety net only
def test_idle_receive_returns_the_operation_timeout_fault(server: WsmanServer, host: ToyHost) -> None:
    release = threading.Event()

    def slow(io: CommandIO) -> int:
        if release.wait(10):  # idle (no output) until the test releases it
            io.write_stdout("late\r\n")
        io.cancelled.wait(10)
        return 0

    host.handlers["slow"] = slow
    protocol = _protocol(server, operation_timeout=1)  # the HTTP read timeout is 6 s
    shell = protocol.open_shell()
    command_id = protocol.run_command(
        shell, "powershell -EncodedCommand " + base64.b64encode("slow".encode("utf-16-le")).decode())
    # The client asks for 1 s: a listener holding the Receive to its own 60 s default would run
    # into the client's read timeout (requests.ReadTimeout) instead of answering with the fault.
    with pytest.raises(WinRMOperationTimeoutError):
        protocol.get_command_output_raw(shell, command_id)
    assert [(e.action, e.detail) for e in server.transcript if e.command_id == command_id] == [
        ("Command", "slow"), ("Fault", "operation timeout")]
    # A held Receive answers as soon as there is output: the command writes while the next
    # Receive waits (a listener that answered "nothing yet" at once would fault again).
    protocol.operation_timeout_sec = 4
    timer = threading.Timer(0.3, release.set)
    timer.start()
    out, _err, _code, done = protocol.get_command_output_raw(shell, command_id)
    timer.join()
    assert (out, done) == (b"late\r\n", False)  # and the command is still running
    protocol.cleanup_command(shell, command_id)
    protocol.close_shell(shell)
    assert [(e.action, e.detail) for e in server.transcript if e.command_id == command_id] == [
        ("Command", "slow"), ("Fault", "operation timeout"), ("Receive", "1 chunk(s)"),
        ("Signal", "terminate")]


def test_dropped_shell_gives_the_shell_not_found_fault(server: WsmanServer) -> None:
    protocol = _protocol(server)
    shell = protocol.open_shell()
    server.drop_shells()
    with pytest.raises(WSManFaultError) as info:
        protocol.run_command(shell, "powershell -enc " + base64.b64encode(b"x\x00").decode())
    assert info.value.wsman_fault_code == 2150858843
    assert info.value.fault_subcode == "w:InvalidSelectors"
    assert f"ShellId {shell} failed because the shell was not found" in info.value.reason


def test_streamed_output_arrives_chunk_by_chunk(server: WsmanServer, host: ToyHost) -> None:
    def ticker(io: CommandIO) -> int:
        for index in range(3):
            io.write_stdout(f"tick {index}\r\n")
            time.sleep(0.1)
        return 7

    host.handlers["ticker"] = ticker
    protocol = _protocol(server)
    shell = protocol.open_shell()
    command_id = protocol.run_command(
        shell, "powershell -EncodedCommand " + base64.b64encode("ticker".encode("utf-16-le")).decode())
    seen: list[bytes] = []
    done, code = False, -1
    deadline = time.monotonic() + 5
    while not done and time.monotonic() < deadline:
        out, _err, code, done = protocol.get_command_output_raw(shell, command_id)
        if out:
            seen.append(out)
    assert seen == [b"tick 0\r\n", b"tick 1\r\n", b"tick 2\r\n"]
    assert (done, code) == (True, 7)
    protocol.close_shell(shell)


def test_delete_cancels_running_commands(server: WsmanServer, host: ToyHost) -> None:
    stopped: list[bool] = []

    def waits(io: CommandIO) -> int:
        stopped.append(io.cancelled.wait(5))
        return 0

    host.handlers["waits"] = waits
    protocol = _protocol(server)
    shell = protocol.open_shell()
    protocol.run_command(
        shell, "powershell -EncodedCommand " + base64.b64encode("waits".encode("utf-16-le")).decode())
    protocol.close_shell(shell)
    deadline = time.monotonic() + 3
    while not stopped and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stopped == [True]
    assert server.open_shells() == set()


@pytest.mark.timeout(60)  # a safety net only
def test_injected_faults(server: WsmanServer) -> None:
    server.faults.fail_auth = True
    with pytest.raises(InvalidCredentialsError):
        _protocol(server).open_shell()
    server.faults.fail_auth = False
    # The delay applies to the next request: answering 3 s late, the listener loses a client
    # that waits 2 s at most.
    server.faults.delay_s = 3
    impatient = Protocol(server.url, transport="basic", username=USER, password=PASSWORD,
                         message_encryption="never", operation_timeout_sec=1, read_timeout_sec=2,
                         proxy=None, ca_trust_path=None)  # type: ignore[arg-type]
    with pytest.raises(requests.exceptions.ReadTimeout):
        impatient.open_shell()
    # Switched off again at run time, the next request is answered.
    server.faults.delay_s = 0
    shell = _protocol(server).open_shell()
    assert shell in server.open_shells()
