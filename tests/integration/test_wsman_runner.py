"""The PowerShell runner (real pywinrm underneath) against the lab's WS-Management listener."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

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
    with WsmanServer(FQDN, host, {USER: PASSWORD}, allow_unencrypted=True) as srv:
        yield srv


def _endpoint(port: int, auth: str = "basic", *, scheme: str = "http",
              address: str = "127.0.0.1", host: str = FQDN) -> WinRMEndpoint:
    return WinRMEndpoint(host, address=address, port=port, scheme=scheme,  # type: ignore[arg-type]
                         auth=auth, insecure=scheme == "http")  # type: ignore[arg-type]


def _runner(server: WsmanServer, auth: str = "basic", password: str = PASSWORD,
            **kwargs: object) -> PowerShellRunner:
    return PowerShellRunner(_endpoint(server.port, auth), USER, password, **kwargs)  # type: ignore[arg-type]


def _sleeper(started: list[CommandIO]) -> Callable[[CommandIO], int]:
    """A command that says "started" and then runs 10 s unless stopped; ``started`` gets its io."""
    def sleeper(io: CommandIO) -> int:
        started.append(io)
        io.write_stdout("started\r\n")
        return 1 if io.cancelled.wait(10) else 0

    return sleeper


def _ended_on_its_own(server: WsmanServer, command_id: str) -> bool:
    """Whether the host ever reported the command as done (it was not stopped first)."""
    return any(e.action == "Receive" and e.command_id == command_id and "done" in e.detail
               for e in server.transcript)


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
    # The command writes its next line only once the caller has seen the previous one, so every
    # line must reach on_event while the command is still running: a runner that buffered the
    # output until the end would leave the command waiting (recorded in ``stalled``).
    seen = [threading.Event() for _ in range(10)]
    stalled: list[int] = []

    def ticker(io: CommandIO) -> int:
        for index in range(10):
            io.write_stdout(f"line {index}\r\n")
            if not stalled and not seen[index].wait(5):
                stalled.append(index)
        return 0

    events: list[RunnerEvent] = []

    def on_event(event: RunnerEvent) -> None:
        events.append(event)
        if isinstance(event, ShellOutput) and event.text.startswith("line "):
            seen[int(event.text.split()[1])].set()

    host.handlers["ticker"] = ticker
    with _runner(server) as runner:
        result = runner.run("ticker", deadline_s=30, on_event=on_event)
    lines = [e.text for e in events if isinstance(e, ShellOutput)]
    assert lines == [f"line {i}" for i in range(10)]
    assert stalled == [], f"line {stalled} was not delivered while the command ran"
    assert isinstance(events[0], CommandStarted)
    # one Receive round per line, then the one that reports the exit code
    receives = [e.detail for e in server.transcript
                if e.action == "Receive" and e.command_id == events[0].command_id]
    assert receives == ["1 chunk(s)"] * 10 + ["0 chunk(s), done 0"]
    assert isinstance(events[-1], CommandFinished) and events[-1].exit_code == 0
    assert (result.exit_code, result.cancelled) == (0, False)
    assert events[-1].duration_s == result.duration_s


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


@pytest.mark.timeout(60)  # a safety net only: a hung runner fails here instead of stalling CI
def test_deadline_stops_the_command_and_leaves_no_shell(server: WsmanServer, host: ToyHost) -> None:
    started: list[CommandIO] = []
    host.handlers["sleep"] = _sleeper(started)
    runner = _runner(server)
    events: list[RunnerEvent] = []
    with pytest.raises(RemoteTimeoutError) as info:
        runner.run("sleep", deadline_s=1.0, on_event=events.append)
    assert str(info.value) == (
        f"The command on {FQDN}:{server.port} did not finish within 1 s and was stopped."
    )
    # The command was stopped while it still ran (its 10 s never played out): the host got a
    # terminate Signal for it and never reported it done.
    assert isinstance(events[0], CommandStarted)
    command_id = events[0].command_id
    assert len(started) == 1 and started[0].cancelled.is_set()
    assert not _ended_on_its_own(server, command_id)
    assert [(e.action, e.command_id, e.detail) for e in server.transcript][-2] == (
        "Signal", command_id, "terminate")
    assert isinstance(events[-1], CommandFinished) and events[-1].cancelled
    actions = [e.action for e in server.transcript]
    assert actions[-2:] == ["Signal", "Delete"]
    assert server.open_shells() == set()
    # The runner is still usable: it opens a fresh shell.
    assert runner.run("Write-Output 'again'", deadline_s=5).stdout == "again\r\n"
    runner.close()


@pytest.mark.timeout(60)  # a safety net only: a runner that ignores cancel fails here
def test_cancel_stops_the_command_and_leaves_no_shell(server: WsmanServer, host: ToyHost) -> None:
    started: list[CommandIO] = []
    host.handlers["sleep"] = _sleeper(started)
    cancel = threading.Event()
    events: list[RunnerEvent] = []
    timers: list[threading.Timer] = []

    def on_event(event: RunnerEvent) -> None:
        events.append(event)
        if isinstance(event, ShellOutput) and event.text == "started":
            # cancel from another thread while the runner waits in a held Receive
            timers.append(threading.Timer(0.3, cancel.set))
            timers[-1].start()

    runner = _runner(server, poll_s=1)
    result = runner.run("sleep", deadline_s=30, cancel=cancel, on_event=on_event)
    for timer in timers:
        timer.join()
    assert result.cancelled and result.exit_code == -1 and result.stdout == "started\r\n"
    assert isinstance(events[-1], CommandFinished) and events[-1].cancelled
    # stopped on the host while it still ran (it would have run 10 s and exited 0)
    assert isinstance(events[0], CommandStarted)
    assert len(started) == 1 and started[0].cancelled.is_set()
    assert not _ended_on_its_own(server, events[0].command_id)
    assert [e.action for e in server.transcript][-2:] == ["Signal", "Delete"]
    assert server.open_shells() == set()
    # and the runner is still usable: it opens a fresh shell
    assert runner.run("Write-Output 'again'", deadline_s=10).stdout == "again\r\n"
    runner.close()


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


@pytest.mark.timeout(60)  # a safety net only
def test_server_that_does_not_answer_in_time(server: WsmanServer) -> None:
    # Each answer comes 3 s late, after the runner's 2 s read timeout: a runner that waited for
    # it would get every answer and print "x" instead of raising.
    server.faults.delay_s = 3
    runner = _runner(server, operation_timeout_s=1, read_margin_s=1)
    with pytest.raises(RemoteTimeoutError) as info:
        runner.run("Write-Output 'x'", deadline_s=10)
    assert str(info.value) == f"{FQDN}:{server.port} did not answer within 2 s."
    # Once the host answers in time again, the same runner works (a fresh connection).
    server.faults.delay_s = 0
    assert runner.run("Write-Output 'back'", deadline_s=10).stdout == "back\r\n"
    runner.close()


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
