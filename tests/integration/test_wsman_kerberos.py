"""Kerberos and CredSSP against the lab's WinRM listeners, with a real MIT KDC (#15 items 2 and 3).

The lab's realm (lab/kerberos.py: ``krb5kdc`` on loopback, a principal per account, ``HTTP/<fqdn>``
keys in a keytab) is what the listeners accept tickets with. The wizard's runner takes the
service principal from the host's FQDN although it connects to 127.0.0.1, authenticates with a
password or with a ticket cache made by ``kinit``, and its failures are one sentence each. Plain
pywinrm (pykerberos, requests-credssp) talks to the same listeners as a standard client would.

The second hop: a session without forwarded credentials is denied another server's share
("Access is denied", as Windows says); a forwarded ticket (the host trusted for delegation) or
CredSSP reaches it.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.kerberos import LabKdc, kdc_available
from lab.runtime import LabRuntime
from lab.scenarios import scenario
from lab.tls import LabCA
from lab.wsman import WsmanServer
from lab.wsman.auth import KerberosKeys
from lab.wsman.toyhost import ToyHost
from wizard.remote.errors import BadCredentialsError, WinRMFailure
from wizard.remote.negotiate import KerberosError, kerberos_missing
from wizard.remote.winrm import PowerShellRunner, WinRMEndpoint

pytestmark = [
    pytest.mark.integration,
    # bootstrap.sh installs both (CI included): without them there is nothing to test here
    pytest.mark.skipif((not kdc_available() or kerberos_missing() is not None) and not os.environ.get("CI"),
                       reason="MIT Kerberos' KDC or the Python gssapi module is not installed"),
]

USER, PASSWORD = "FABRIKAM\\lyncadmin", "Kerb-Pa55word"
USERS = {USER: PASSWORD, "lyncadmin": PASSWORD}
TRUSTED, UNTRUSTED = "fe01.fabrikam.lab", "fe02.fabrikam.lab"


@pytest.fixture(scope="module")
def realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabKdc]:
    kdc = LabKdc(tmp_path_factory.mktemp("realm"), "fabrikam.lab")
    kdc.create(USERS, [TRUSTED, UNTRUSTED], trusted_for_delegation=[TRUSTED])
    kdc.start()
    yield kdc
    kdc.stop()


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LabCA:
    return LabCA(tmp_path_factory.mktemp("ca"))


def _server(host: str, realm: LabKdc, ca: LabCA | None, auth: tuple[str, ...] = ("kerberos",)) -> WsmanServer:
    return WsmanServer(host, ToyHost(), USERS, auth=auth, tls=ca.server_context(host) if ca else None,
                       kerberos=KerberosKeys(str(realm.keytab), realm.realm)).start()


def _endpoint(server: WsmanServer, realm: LabKdc, ca: LabCA | None, *, auth: str = "kerberos",
              delegate: bool = False) -> WinRMEndpoint:
    return WinRMEndpoint(server.host_name, address="127.0.0.1", port=server.port,
                         scheme="https" if ca else "http", insecure=ca is None, auth=auth,  # type: ignore[arg-type]
                         ca_bundle=str(ca.bundle) if ca else None, delegate=delegate,
                         krb5_config=str(realm.krb5_config), realm=realm.realm)


def _run(endpoint: WinRMEndpoint, password: str = PASSWORD, script: str = "Write-Output 'hello'") -> str:
    runner = PowerShellRunner(endpoint, USER, password, connect_timeout_s=5)
    try:
        return runner.run(script, deadline_s=20).stdout.strip()
    finally:
        runner.close()


def _auth_lines(server: WsmanServer) -> list[str]:
    return [e.detail for e in server.transcript if e.action == "Auth"]


def test_kerberos_over_https_names_the_fqdn_not_the_address(realm: LabKdc, ca: LabCA) -> None:
    server = _server(TRUSTED, realm, ca)
    try:
        assert server.url.startswith("https://127.0.0.1:")
        assert _run(_endpoint(server, realm, ca)) == "hello"
        # the listener accepted a ticket for HTTP/fe01.fabrikam.lab: its keytab holds no other name
        assert _auth_lines(server) == ["kerberos"]
    finally:
        server.stop()


def test_kerberos_over_plain_http_seals_every_message(realm: LabKdc) -> None:
    server = _server(UNTRUSTED, realm, None)
    try:
        assert _run(_endpoint(server, realm, None)) == "hello"
        assert server.sealed_requests >= 3  # Create, Command, Receive... each wrapped with the session key
    finally:
        server.stop()


def test_an_existing_ticket_cache_is_used_when_the_credential_has_no_password(
        realm: LabKdc, ca: LabCA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "ccache"
    env = {**os.environ, "KRB5_CONFIG": str(realm.krb5_config), "KRB5CCNAME": f"FILE:{cache}"}
    done = subprocess.run(["kinit", f"lyncadmin@{realm.realm}"], input=PASSWORD + "\n", text=True, env=env,
                          capture_output=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{cache}")
    server = _server(TRUSTED, realm, ca)
    try:
        assert _run(_endpoint(server, realm, ca), password="") == "hello"
    finally:
        server.stop()
    # and without a ticket: one sentence saying to run kinit
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'empty'}")
    server = _server(TRUSTED, realm, ca)
    try:
        with pytest.raises(KerberosError, match=r"no Kerberos ticket for lyncadmin@FABRIKAM\.LAB.*kinit"):
            _run(_endpoint(server, realm, ca), password="")
    finally:
        server.stop()


def test_a_wrong_password_and_an_unreachable_kdc_are_one_sentence_each(realm: LabKdc, ca: LabCA) -> None:
    server = _server(TRUSTED, realm, ca)
    try:
        with pytest.raises(KerberosError) as refused:
            _run(_endpoint(server, realm, ca), password="not-the-password")
        assert str(refused.value) == ("The KDC for realm FABRIKAM.LAB refused the password of "
                                      "lyncadmin@FABRIKAM.LAB: check the credential.")
        realm.stop()
        try:
            with pytest.raises(KerberosError) as unreachable:
                _run(_endpoint(server, realm, ca))
        finally:
            realm.start()
        assert str(unreachable.value).startswith("Kerberos could not reach a KDC for realm FABRIKAM.LAB")
        assert str(realm.krb5_config) in str(unreachable.value) and "port 88" in str(unreachable.value)
        assert "not-the-password" not in str(refused.value) + str(unreachable.value)
    finally:
        server.stop()


def test_a_listener_without_the_hosts_key_refuses_the_ticket(realm: LabKdc, ca: LabCA) -> None:
    """A ticket for HTTP/fe01 presented to a listener that holds only its own keys is refused: the
    service principal really comes from the FQDN (a ticket for the address would fail too)."""
    other = LabKdc(realm.folder.parent / "other-realm", "fabrikam.lab")
    other.create(USERS, ["fe09.fabrikam.lab"])
    server = WsmanServer(TRUSTED, ToyHost(), USERS, auth=("kerberos",), tls=ca.server_context(TRUSTED),
                         kerberos=KerberosKeys(str(other.keytab), other.realm)).start()
    try:
        with pytest.raises(BadCredentialsError, match=r"refused the Kerberos ticket of lyncadmin@FABRIKAM\.LAB "
                                                      r"for HTTP/fe01\.fabrikam\.lab"):
            _run(_endpoint(server, realm, ca))
    finally:
        server.stop()


SHARE = "\\\\bk01.fabrikam.lab\\LyncBackup"
HOP = f"Get-ChildItem -LiteralPath {SHARE} -Directory | Select-Object -First 1 -ExpandProperty Name"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabRuntime]:
    # any scenario: it writes the backup sets into \\bk01\LyncBackup before breaking something
    with LabRuntime(scenario("edge-lost"), state_dir=tmp_path_factory.mktemp("lab")) as runtime:
        # the lab's own estate trusts its servers for delegation; fe02 is taken off the list here
        assert runtime.kdc is not None
        runtime.kdc.set_delegation("fe02.fabrikam.lab", trusted=False)
        yield runtime


@pytest.mark.parametrize(("host", "auth", "reaches"), [
    ("fe01.fabrikam.lab", "kerberos", True),   # trusted for delegation: the ticket is forwarded
    ("fe02.fabrikam.lab", "kerberos", False),  # not trusted: the KDC gives no OK-AS-DELEGATE
    ("fe02.fabrikam.lab", "credssp", True),    # CredSSP hands the password to the host
    ("fe01.fabrikam.lab", "ntlm", False),      # an NTLM logon has nothing to present
])
def test_the_second_hop(lab: LabRuntime, host: str, auth: str, reaches: bool) -> None:
    runner = lab.runner(host, auth=auth)  # type: ignore[arg-type]
    try:
        result = runner.run(HOP, deadline_s=30)
    finally:
        runner.close()
    if reaches:
        assert result.exit_code == 0 and result.stdout.strip().startswith("20"), result.stderr
    else:
        assert "Access is denied" in result.stderr
        assert "PermissionDenied" in result.stderr and "UnauthorizedAccessException" in result.stderr
    logons = [e.detail for e in lab.wsman[host].transcript if e.action == "Auth"]
    assert logons[-1].startswith(auth)
    assert ("forwarded" in logons[-1] or "delegated" in logons[-1]) == (reaches and auth != "ntlm")


def test_credssp_over_plain_http_is_refused(lab: LabRuntime) -> None:
    endpoint = WinRMEndpoint("fe01.fabrikam.lab", address="127.0.0.1", port=5985, scheme="http",
                             insecure=True, auth="credssp")
    with pytest.raises(WinRMFailure, match="CredSSP over plain HTTP"):
        PowerShellRunner(endpoint, USER, PASSWORD)


@pytest.fixture
def lab_names(lab: LabRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lab's host names resolve to loopback (a standard client connects by FQDN, as the
    certificate and the service principal require): only the resolver is replaced."""
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".fabrikam.lab"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


@pytest.mark.usefixtures("lab_names")
@pytest.mark.parametrize("transport", ["kerberos", "credssp", "ntlm"])
def test_plain_pywinrm_by_hand(lab: LabRuntime, transport: str, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``lab serve --json`` is for: pywinrm with ``ca_trust_path`` and the lab's krb5.conf
    (kinit first for Kerberos: pykerberos takes no password), over HTTPS with validation."""
    from winrm.protocol import Protocol

    info = lab.info()
    assert info["krb5_config"] and info["realm"] == "FABRIKAM.LAB"
    monkeypatch.setenv("KRB5_CONFIG", info["krb5_config"])
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'cc'}")
    if transport == "kerberos":
        pytest.importorskip("kerberos", reason="pykerberos (pywinrm's Kerberos) is not installed")
        subprocess.run(["kinit", f"lyncadmin@{info['realm']}"], input=lab.win_password + "\n", text=True,
                       check=True, capture_output=True, timeout=30)
    port = lab.wsman["fe01.fabrikam.lab"].port
    username = lab.win_user if transport == "ntlm" else f"lyncadmin@{info['realm']}"
    protocol = Protocol(f"https://fe01.fabrikam.lab:{port}/wsman", transport=transport,  # type: ignore[arg-type]
                        username=username, password=lab.win_password, server_cert_validation="validate",
                        ca_trust_path=info["ca_bundle"], message_encryption="auto")
    if transport == "credssp":  # Kerberos inside CredSSP (Protocol does not pass this through)
        protocol.transport.credssp_auth_mechanism = "kerberos"
    shell = protocol.open_shell()
    try:
        command = protocol.run_command(shell, "powershell.exe", ["-NoProfile", "-Command", "Write-Output 'by hand'"])
        out, _, code = protocol.get_command_output(shell, command)
        protocol.cleanup_command(shell, command)
    finally:
        protocol.close_shell(shell)
    assert code == 0 and out.decode().strip() == "by hand"


def test_a_revived_lab_ends_the_kdc_its_killed_keeper_left(tmp_path: Path) -> None:
    """A kept lab's keeper SIGKILLed (a power cut) leaves its krb5kdc running; the lab revived on
    the same state ends it before starting its own, and the realm answers on the new port."""
    first = LabKdc(tmp_path / "kdc", "fabrikam.lab")
    first.create(USERS, [TRUSTED])
    first.start()
    orphan, first._proc = first._proc, None  # the keeper died without stopping it
    assert orphan is not None and orphan.poll() is None
    again = LabKdc(tmp_path / "kdc", "fabrikam.lab")
    again.start()
    try:
        assert orphan.wait(timeout=10) is not None  # ended by the revived lab
        env = {**os.environ, "KRB5_CONFIG": str(again.krb5_config), "KRB5CCNAME": f"FILE:{tmp_path / 'cc'}"}
        done = subprocess.run(["kinit", f"lyncadmin@{again.realm}"], input=PASSWORD + "\n", text=True, env=env,
                              capture_output=True, timeout=30, check=False)
        assert done.returncode == 0, done.stderr
    finally:
        again.stop()


@pytest.mark.parametrize(("auth", "server", "down"), [
    ("ntlm", "fs01.fabrikam.lab", False),      # denied C$ on the second hop: it answered, it runs
    ("kerberos", "fs01.fabrikam.lab", False),  # the ticket forwarded: C$ is read
    ("ntlm", "edge01.fabrikam.lab", True),     # lost in this scenario: the network path is not found
])
def test_a_server_refusing_c_dollar_on_the_second_hop_is_not_taken_for_down(
        lab: LabRuntime, auth: str, server: str, down: bool) -> None:
    """The ``only_if`` of a rebuild step asks whether a server is gone by reading its C$ from
    another host: a denial is an answer (the server runs), only a missing network path is down."""
    from wizard.procedures.library.common import server_down_check
    from wizard.procedures.model import evaluate
    from wizard.remote import psbuild

    check = server_down_check("fe01.fabrikam.lab", server)
    runner = lab.runner("fe01.fabrikam.lab", auth=auth)  # type: ignore[arg-type]
    try:
        result = runner.run(check.command.script(), deadline_s=30)  # type: ignore[union-attr]
    finally:
        runner.close()
    ok, detail = evaluate(check.expect, list(psbuild.parse_envelope(result.stdout).values))
    assert ok is down, (detail, result.stderr)
