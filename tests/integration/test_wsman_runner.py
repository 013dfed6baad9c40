"""The PowerShell runner (real pywinrm underneath) against the lab's WS-Management listener."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from lab.wsman import CommandIO, WsmanServer
from lab.wsman.toyhost import ToyHost
from wizard.errors import RemoteError
from wizard.remote import psbuild
from wizard.remote.errors import (
    BadCredentialsError,
    CommandTooLongError,
    ConnectionLostError,
    HostNotFoundError,
    HostUnreachableError,
    InsecureTransportError,
    RemoteTimeoutError,
    TlsError,
)
from wizard.remote.winrm import (
    CommandFinished,
    CommandStarted,
    PowerShellRunner,
    RunnerEvent,
    ShellOutput,
    WinRMEndpoint,
)

pytestmark = pytest.mark.integration

USER = "CONTOSO\\lyncadmin"
PASSWORD = "S3cret-pw"
CANARY = "CANARY-b41d-wrong-password"
FQDN = "fe01.contoso.com"


@pytest.fixture
def host() -> ToyHost:
    return ToyHost()


@pytest.fixture
def server(host: ToyHost) -> Iterator[WsmanServer]:
    with WsmanServer(FQDN, host, {USER: PASSWORD}) as srv:
        yield srv


def _endpoint(port: int, auth: str = "basic", *, scheme: str = "http",
              address: str = "127.0.0.1", host: str = FQDN) -> WinRMEndpoint:
    return WinRMEndpoint(host, address=address, port=port, scheme=scheme,  # type: ignore[arg-type]
                         auth=auth, insecure=scheme == "http")  # type: ignore[arg-type]


def _runner(server: WsmanServer, auth: str = "basic", password: str = PASSWORD,
            **kwargs: object) -> PowerShellRunner:
    return PowerShellRunner(_endpoint(server.port, auth), USER, password, **kwargs)  # type: ignore[arg-type]


def _sleeper(io: CommandIO) -> int:
    io.write_stdout("started\r\n")
    return 1 if io.cancelled.wait(10) else 0


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
def test_runs_commands_on_one_reused_utf8_shell(server: WsmanServer, auth: str) -> None:
    warnings: list[str] = []
    runner = _runner(server, auth, on_warning=warnings.append)
    first = runner.run("Write-Output 'Zürich'", deadline_s=10)
    second = runner.run("Write-Output 'two'; Get-Nope", deadline_s=10)
    assert (first.exit_code, first.stdout, first.cancelled) == (0, "Zürich\r\n", False)
    assert second.exit_code == 1 and second.stdout == "two\r\n"
    assert [e.fully_qualified_error_id for e in second.errors] == ["CommandNotFoundException"]
    assert second.errors[0].target == "Get-Nope"
    assert "is not recognized" in second.stderr and "CLIXML" not in second.stderr
    assert len(warnings) == 1 and "plain HTTP" in warnings[0] and FQDN in warnings[0]
    creates = [e for e in server.transcript if e.action == "Create"]
    assert len(creates) == 1 and creates[0].detail == "codepage 65001"
    runner.close()
    assert [e.action for e in server.transcript][-1] == "Delete"
    assert server.open_shells() == set()
    if auth == "ntlm":
        assert server.sealed_requests >= 6


def test_lines_stream_in_order_while_the_command_runs(server: WsmanServer, host: ToyHost) -> None:
    def ticker(io: CommandIO) -> int:
        for index in range(10):
            io.write_stdout(f"line {index}\r\n")
            time.sleep(0.05)
        return 0

    host.handlers["ticker"] = ticker
    events: list[tuple[float, RunnerEvent]] = []
    started = time.monotonic()
    with _runner(server) as runner:
        result = runner.run("ticker", deadline_s=10,
                            on_event=lambda e: events.append((time.monotonic() - started, e)))
    lines = [(t, e.text) for t, e in events if isinstance(e, ShellOutput)]
    assert [text for _t, text in lines] == [f"line {i}" for i in range(10)]
    assert lines[0][0] < 0.25  # the first line arrived long before the command's ~0.5 s end
    assert result.duration_s >= 0.45
    assert isinstance(events[0][1], CommandStarted)
    assert isinstance(events[-1][1], CommandFinished) and events[-1][1].exit_code == 0


def test_keeps_looping_through_operation_timeouts(server: WsmanServer, host: ToyHost) -> None:
    def quiet_then_talk(io: CommandIO) -> int:
        time.sleep(2.3)
        io.write_stdout("finally\r\n")
        return 3

    host.handlers["quiet"] = quiet_then_talk
    with _runner(server, operation_timeout_s=1, read_margin_s=2) as runner:
        result = runner.run("quiet", deadline_s=10)
    assert (result.exit_code, result.stdout) == (3, "finally\r\n")
    timeouts = [e for e in server.transcript if e.detail == "operation timeout"]
    assert len(timeouts) >= 2


def test_deadline_stops_the_command_and_leaves_no_shell(server: WsmanServer, host: ToyHost) -> None:
    host.handlers["sleep"] = _sleeper
    runner = _runner(server)
    started = time.monotonic()
    with pytest.raises(RemoteTimeoutError) as info:
        runner.run("sleep", deadline_s=1.0)
    assert time.monotonic() - started < 3
    assert str(info.value) == (
        f"The command on {FQDN}:{server.port} did not finish within 1 s and was stopped."
    )
    actions = [e.action for e in server.transcript]
    assert actions[-2:] == ["Signal", "Delete"]
    assert server.open_shells() == set()
    # The runner is still usable: it opens a fresh shell.
    assert runner.run("Write-Output 'again'", deadline_s=5).stdout == "again\r\n"
    runner.close()


def test_cancel_stops_the_command_and_leaves_no_shell(server: WsmanServer, host: ToyHost) -> None:
    host.handlers["sleep"] = _sleeper
    cancel = threading.Event()
    events: list[RunnerEvent] = []
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    started = time.monotonic()
    result = _runner(server, poll_s=1).run("sleep", deadline_s=30, cancel=cancel,
                                           on_event=events.append)
    timer.join()
    assert result.cancelled and result.stdout == "started\r\n"
    assert time.monotonic() - started < 2.5
    assert isinstance(events[-1], CommandFinished) and events[-1].cancelled
    assert [e.action for e in server.transcript][-2:] == ["Signal", "Delete"]
    assert server.open_shells() == set()


def test_shell_dropped_by_the_server_is_reopened(server: WsmanServer) -> None:
    with _runner(server, "ntlm") as runner:
        assert runner.run("Write-Output 'one'", deadline_s=5).exit_code == 0
        server.drop_shells()
        assert runner.run("Write-Output 'two'", deadline_s=5).stdout == "two\r\n"
    actions = [e.action for e in server.transcript]
    assert actions.count("Create") == 2
    assert any(e.action == "Fault" and e.detail == "shell not found" for e in server.transcript)


# -- failure sentences -------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_refused_port() -> None:
    port = _closed_port()
    runner = PowerShellRunner(_endpoint(port), USER, PASSWORD)
    with pytest.raises(HostUnreachableError) as info:
        runner.run("Write-Output 'x'", deadline_s=5)
    assert str(info.value) == f"{FQDN}:{port} refused the connection: is WinRM running?"
    assert info.value.exit_code == RemoteError.exit_code


def test_unresolvable_name() -> None:
    endpoint = _endpoint(5985, address="nonexistent.invalid", host="nonexistent.invalid")
    runner = PowerShellRunner(endpoint, USER, PASSWORD, connect_timeout_s=3)
    with pytest.raises(HostNotFoundError) as info:
        runner.run("Write-Output 'x'", deadline_s=5)
    assert str(info.value) == "nonexistent.invalid could not be resolved: check the name and DNS."


def test_tls_to_a_plain_http_port(server: WsmanServer) -> None:
    runner = PowerShellRunner(_endpoint(server.port, scheme="https"), USER, PASSWORD)
    with pytest.raises(TlsError) as info:
        runner.run("Write-Output 'x'", deadline_s=5)
    assert str(info.value) == (
        f"{FQDN}:{server.port} failed the TLS handshake: is HTTPS enabled on that port?"
    )


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
def test_wrong_password_sentence_has_no_password(server: WsmanServer, auth: str) -> None:
    runner = _runner(server, auth, password=CANARY)
    with pytest.raises(BadCredentialsError) as info:
        runner.run("Write-Output 'x'", deadline_s=5)
    assert str(info.value) == (
        f"{FQDN}:{server.port} rejected the credentials for {USER}: "
        "check the user name and password."
    )
    assert CANARY not in repr(info.value) and CANARY not in repr(server.transcript)
    assert CANARY not in repr(vars(info.value))


def test_server_that_does_not_answer_in_time(server: WsmanServer) -> None:
    server.faults.delay_s = 3
    runner = _runner(server, operation_timeout_s=1, read_margin_s=1)
    started = time.monotonic()
    with pytest.raises(RemoteTimeoutError) as info:
        runner.run("Write-Output 'x'", deadline_s=10)
    assert time.monotonic() - started < 3
    assert str(info.value) == f"{FQDN}:{server.port} did not answer within 2 s."


def test_dropped_connection(server: WsmanServer) -> None:
    server.faults.drop_every_nth_request = 1
    with pytest.raises(ConnectionLostError) as info:
        _runner(server).run("Write-Output 'x'", deadline_s=5)
    assert str(info.value) == f"{FQDN}:{server.port} closed the connection unexpectedly."


def test_command_too_long_is_refused_before_sending(
    server: WsmanServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(psbuild, "command_lines", lambda script, stage_id: ["x" * 9000])
    with pytest.raises(CommandTooLongError) as info:
        _runner(server).run("anything", deadline_s=5)
    assert str(info.value) == (
        f"The script for {FQDN}:{server.port} makes a command line of 9000 characters, "
        "over cmd.exe's limit of 8191."
    )
    assert [e.action for e in server.transcript] == []  # nothing reached the host


def test_command_too_long_reported_by_the_host(server: WsmanServer, host: ToyHost) -> None:
    def cmd_refuses(io: CommandIO) -> int:
        io.write_stderr("The command line is too long.\r\n")
        return 1

    host.handlers["long"] = cmd_refuses
    with pytest.raises(CommandTooLongError) as info:
        _runner(server).run("long", deadline_s=5)
    assert str(info.value) == (
        f"{FQDN}:{server.port} refused a command line as too long for cmd.exe."
    )


def test_plain_http_needs_the_insecure_mark() -> None:
    endpoint = WinRMEndpoint(FQDN, port=5985, scheme="http", auth="ntlm", insecure=False)
    with pytest.raises(InsecureTransportError) as info:
        PowerShellRunner(endpoint, USER, PASSWORD)
    assert str(info.value) == (
        f"{FQDN}:5985 is configured for plain HTTP but the plan does not mark it insecure: "
        "use HTTPS (port 5986)."
    )
