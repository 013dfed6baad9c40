"""WinRM over HTTPS against the lab's TLS listener (#15 item 1): the certificate, issued by the
lab's own CA for the host's FQDN only, is checked against that FQDN although the runner connects
to a loopback address; the CA comes from the plan's ca_bundle or the environment's CA file, never
from certifi alone. An untrusted CA and a name that does not match each fail as the real client
fails, with their own sentence; plain pywinrm fails the same way when it is pointed at the address."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from winrm.protocol import Protocol

from lab.tls import LabCA
from lab.wsman import WsmanServer
from lab.wsman.toyhost import ToyHost
from wizard.remote.errors import TlsError
from wizard.remote.winrm import PowerShellRunner, WinRMEndpoint

pytestmark = pytest.mark.integration

USER, PASSWORD = "CONTOSO\\lyncadmin", "S3cret-pw"
FQDN = "fe01.contoso.com"


@pytest.fixture
def ca(tmp_path: Path) -> LabCA:
    return LabCA(tmp_path / "ca")


@pytest.fixture
def server(ca: LabCA) -> Iterator[WsmanServer]:
    with WsmanServer(FQDN, ToyHost(), {USER: PASSWORD}, tls=ca.server_context(FQDN)) as srv:
        yield srv


def _run(server: WsmanServer, *, host: str = FQDN, ca_bundle: str | None, auth: str = "ntlm") -> str:
    endpoint = WinRMEndpoint(host, address="127.0.0.1", port=server.port, scheme="https", auth=auth,  # type: ignore[arg-type]
                             ca_bundle=ca_bundle)
    runner = PowerShellRunner(endpoint, USER, PASSWORD, connect_timeout_s=5)
    try:
        return runner.run("Write-Output 'over TLS'", deadline_s=20).stdout.strip()
    finally:
        runner.close()


@pytest.mark.parametrize("auth", ["ntlm", "basic"])
def test_the_certificate_is_checked_against_the_fqdn_not_the_address(server: WsmanServer, ca: LabCA,
                                                                     auth: str) -> None:
    assert server.url.startswith("https://127.0.0.1:")
    assert _run(server, ca_bundle=str(ca.bundle), auth=auth) == "over TLS"


def test_the_environment_ca_file_is_trusted_when_the_plan_names_none(server: WsmanServer, ca: LabCA,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca.bundle))
    assert _run(server, ca_bundle=None) == "over TLS"


def test_an_untrusted_ca_is_its_own_sentence(server: WsmanServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with pytest.raises(TlsError) as info:
        _run(server, ca_bundle=None)  # the system store does not hold the lab's CA
    assert "a CA this machine does not trust" in info.value.message and "ca_bundle" in info.value.message


def test_a_certificate_for_another_name_is_refused(server: WsmanServer, ca: LabCA) -> None:
    with pytest.raises(TlsError) as info:
        _run(server, host="fe02.contoso.com", ca_bundle=str(ca.bundle))
    assert "does not name fe02.contoso.com" in info.value.message


def test_plain_pywinrm_pointed_at_the_address_fails_the_name_check(server: WsmanServer, ca: LabCA) -> None:
    """What a standard client does: it checks the name in the URL (the address) and fails; with
    the FQDN in the URL it cannot resolve it here. The wizard's runner sends the FQDN as SNI and
    checks it while connecting to the address."""
    p = Protocol(server.url, transport="ntlm", username=USER, password=PASSWORD,
                 server_cert_validation="validate", ca_trust_path=str(ca.bundle))
    with pytest.raises(requests.exceptions.SSLError, match=r"127\.0\.0\.1"):
        p.open_shell()


def test_plain_http_refuses_an_unencrypted_body_as_windows_does_by_default() -> None:
    """AllowUnencrypted=false (Windows' default): Basic over plain HTTP is refused with 401;
    NTLM over plain HTTP works because pywinrm seals every message."""
    from wizard.remote.errors import BadCredentialsError

    with WsmanServer(FQDN, ToyHost(), {USER: PASSWORD}) as srv:
        assert srv.url.startswith("http://")
        for auth in ("basic", "ntlm"):
            endpoint = WinRMEndpoint(FQDN, address="127.0.0.1", port=srv.port, scheme="http", auth=auth,  # type: ignore[arg-type]
                                     insecure=True)
            runner = PowerShellRunner(endpoint, USER, PASSWORD, connect_timeout_s=5)
            try:
                if auth == "basic":
                    with pytest.raises(BadCredentialsError):
                        runner.run("Write-Output 'clear'", deadline_s=20)
                else:
                    assert runner.run("Write-Output 'sealed'", deadline_s=20).stdout.strip() == "sealed"
            finally:
                runner.close()
        assert any("AllowUnencrypted=false" in str(t) for t in srv.transcript)


def test_winrs_quotas_shells_per_user_and_idle_timeout(ca: LabCA) -> None:
    """winrs MaxShellsPerUser: one Create too many is a wsman:QuotaLimit fault with Windows'
    words; IdleTimeout: a shell nobody used is deleted, and the runner opens a new one."""
    import time

    from winrm.exceptions import WSManFaultError

    with WsmanServer(FQDN, ToyHost(), {USER: PASSWORD}, tls=ca.server_context(FQDN), max_shells_per_user=2,
                     idle_timeout_s=0.5) as srv:
        p = Protocol(srv.url.replace("127.0.0.1", "localhost"), transport="ntlm", username=USER, password=PASSWORD,
                     server_cert_validation="ignore")
        first, second = p.open_shell(), p.open_shell()
        with pytest.raises(WSManFaultError) as info:
            p.open_shell()
        assert "allowed a maximum number of 2 concurrent shells, which has been exceeded" in str(info.value.reason)
        assert info.value.wsman_fault_code == 2150859173
        p.close_shell(first)
        p.close_shell(second)
        endpoint = WinRMEndpoint(FQDN, address="127.0.0.1", port=srv.port, scheme="https", ca_bundle=str(ca.bundle))
        runner = PowerShellRunner(endpoint, USER, PASSWORD, connect_timeout_s=5)
        try:
            assert runner.run("Write-Output 'one'", deadline_s=20).stdout.strip() == "one"
            time.sleep(1.0)  # past IdleTimeout: the server deletes the runner's shell
            assert runner.run("Write-Output 'two'", deadline_s=20).stdout.strip() == "two"
        finally:
            runner.close()
        assert any("shell not found" in str(t) for t in srv.transcript), "the old shell was gone"


def test_operations_quota_and_envelope_size_and_the_runner_stays_within(
        ca: LabCA, monkeypatch: pytest.MonkeyPatch) -> None:
    """MaxConcurrentOperationsPerUser counts every command a shell ran until it is deleted (as
    Windows does: sequential commands in one long-lived shell reach it); MaxEnvelopeSizekb refuses
    a larger request. Both with Windows' codes and words; the runner replaces its shell before the
    quota (COMMANDS_PER_SHELL) and after the fault, and its largest envelope fits 500 KB."""
    from winrm.exceptions import WSManFaultError

    import wizard.remote.winrm as winrm_module

    with WsmanServer(FQDN, ToyHost(), {USER: PASSWORD}, tls=ca.server_context(FQDN), max_operations_per_user=3,
                     max_envelope_size_kb=8) as srv:
        p = Protocol(srv.url.replace("127.0.0.1", "localhost"), transport="ntlm", username=USER, password=PASSWORD,
                     server_cert_validation="ignore")
        shell = p.open_shell()
        for _ in range(3):
            p.cleanup_command(shell, p.run_command(shell, "echo", ["x"]))
        with pytest.raises(WSManFaultError) as quota:
            p.run_command(shell, "echo", ["x"])  # the three before were cleaned up: they still count
        assert quota.value.wsman_fault_code == 2150859174
        assert ("This user is allowed a maximum number of 3 concurrent operations, which has been exceeded. "
                "Close existing operations for this user, or raise the quota for this user.") in str(quota.value.reason)
        with pytest.raises(WSManFaultError) as big:
            p.run_command(shell, "echo", ["y" * 9000])
        assert big.value.wsman_fault_code == 2150859025
        assert "exceeded the configured MaxEnvelopeSize quota" in str(big.value.reason)
        p.close_shell(shell)

        endpoint = WinRMEndpoint(FQDN, address="127.0.0.1", port=srv.port, scheme="https", ca_bundle=str(ca.bundle))
        runner = PowerShellRunner(endpoint, USER, PASSWORD, connect_timeout_s=5)
        try:  # more commands than the quota allows per shell: the fault makes the runner start afresh
            assert [runner.run(f"Write-Output '{i}'", deadline_s=20).stdout.strip() for i in range(7)] == [
                str(i) for i in range(7)]
        finally:
            runner.close()
        monkeypatch.setattr(winrm_module, "COMMANDS_PER_SHELL", 2)
        runner = PowerShellRunner(endpoint, USER, PASSWORD, connect_timeout_s=5)
        faults = sum(t.action == "Fault" for t in srv.transcript)
        try:  # and below the quota it replaces the shell before the server has to refuse
            assert [runner.run(f"Write-Output '{i}'", deadline_s=20).stdout.strip() for i in range(5)] == [
                str(i) for i in range(5)]
        finally:
            runner.close()
        assert sum(t.action == "Fault" for t in srv.transcript) == faults
        assert sum(t.action == "Delete" for t in srv.transcript) >= 3


def test_the_runners_longest_script_fits_the_default_envelope(ca: LabCA, tmp_path: Path) -> None:
    """A script far longer than one command line is staged in pieces, each envelope well under
    the default 500 KB MaxEnvelopeSizekb (the lab's PowerShell stages and runs it)."""
    from lab.powershell.host import PowerShellHost
    from lab.powershell.vfs import VirtualFS
    from lab.runtime import _HostAdapter

    host = PowerShellHost(fs=VirtualFS(tmp_path), host_name=FQDN)
    with WsmanServer(FQDN, _HostAdapter(host), {USER: PASSWORD}, tls=ca.server_context(FQDN)) as srv:
        endpoint = WinRMEndpoint(FQDN, address="127.0.0.1", port=srv.port, scheme="https", ca_bundle=str(ca.bundle))
        runner = PowerShellRunner(endpoint, USER, PASSWORD, connect_timeout_s=5)
        script = "\n".join(f"# {'padding ' * 12} {i}" for i in range(6000)) + "\nWrite-Output 'long'"
        try:
            assert len(script.encode()) > 600_000
            assert runner.run(script, deadline_s=120).stdout.strip() == "long"
        finally:
            runner.close()
        assert srv.max_envelope_size_kb == 500
        assert not any("envelope" in t.detail for t in srv.transcript if t.action == "Fault")
