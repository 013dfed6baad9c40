"""Every Done command is released with a terminate Signal before the next command starts.

Runs the real runner (real pywinrm transport, Basic and sealed NTLM) against the lab listener
and reads the listener's transcript: a result comes back after Command and Receive, the Signal
for that command goes out ahead of the next Command, and the last one is released by Delete.
"""

from __future__ import annotations

import pytest

from lab.wsman import WsmanServer
from lab.wsman.toyhost import ToyHost
from wizard.remote.winrm import PowerShellRunner, WinRMEndpoint

pytestmark = pytest.mark.integration

USER = "CONTOSO\\lyncadmin"
PASSWORD = "S3cret-pw-release"


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
def test_done_commands_are_released_before_the_next(auth: str) -> None:
    with WsmanServer("fe01.contoso.com", ToyHost(), {USER: PASSWORD}, allow_unencrypted=True) as server:
        endpoint = WinRMEndpoint("fe01.contoso.com", address="127.0.0.1", port=server.port,
                                 scheme="http", auth=auth, insecure=True)  # type: ignore[arg-type]
        runner = PowerShellRunner(endpoint, USER, PASSWORD)
        results = []
        for word in ("one", "two", "three"):
            results.append(runner.run(f"Write-Output '{word}'", deadline_s=5).stdout)
            # the answer is back without waiting for a Signal round trip
            assert server.transcript[-1].action == "Receive"
        runner.close()
        assert results == ["one\r\n", "two\r\n", "three\r\n"]
        steps = [e for e in server.transcript if e.action not in ("Auth",)]
        assert [e.action for e in steps] == [
            "Create", "Command", "Receive",
            "Signal", "Command", "Receive",
            "Signal", "Command", "Receive",
            "Delete",
        ]
        commands = [e.command_id for e in steps if e.action == "Command"]
        signals = [e.command_id for e in steps if e.action == "Signal"]
        assert signals == commands[:2]  # each released, the last by the shell's Delete
        assert server.open_shells() == set()


def test_a_release_on_a_lost_shell_fails_quietly() -> None:
    """The shell vanished: the pending Signal faults, the shell is reopened, the run goes on."""
    with WsmanServer("fe01.contoso.com", ToyHost(), {USER: PASSWORD}, allow_unencrypted=True) as server:
        endpoint = WinRMEndpoint("fe01.contoso.com", address="127.0.0.1", port=server.port,
                                 scheme="http", auth="basic", insecure=True)
        with PowerShellRunner(endpoint, USER, PASSWORD) as runner:
            assert runner.run("Write-Output 'one'", deadline_s=5).exit_code == 0
            server.drop_shells()
            assert runner.run("Write-Output 'two'", deadline_s=5).stdout == "two\r\n"
        actions = [e.action for e in server.transcript if e.action != "Auth"]
        assert actions.count("Create") == 2
        assert any(e.action == "Fault" and e.detail == "shell not found"
                   for e in server.transcript)
        assert actions[-1] == "Delete"
