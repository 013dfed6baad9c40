"""TLS inside TDS (#15 item 4): the lab's SQL endpoint offers encryption in PRELOGIN with a
certificate of the lab's CA, as SQL Server does with a certificate configured, and runs the TLS
handshake inside PRELOGIN packets (MS-TDS 2.2.6.5, 3.3.5.1). Real drivers connect through it:
FreeTDS with ``Encryption=require`` (the whole session encrypted) and ``Encryption=request``
(PRELOGIN ENCRYPT_OFF: only the login record, as SQL Server does), Microsoft ODBC Driver 18
with its defaults (Encrypt=yes, the certificate validated, here against the lab CA and the
FQDN). A server that forces
encryption refuses a client that cannot encrypt; a server without a certificate says "not
supported" and a client that requires encryption gives up."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pyodbc
import pytest

from lab.tds.server import TdsServer
from lab.tds.toy import ToyBackend
from lab.tls import LabCA
from wizard.remote.odbc import FREETDS_PATHS, bundled_msodbc18

pytestmark = pytest.mark.integration

FQDN = "sql01.fabrikam.lab"
FREETDS = FREETDS_PATHS[0]


@pytest.fixture
def ca(tmp_path: Path) -> LabCA:
    return LabCA(tmp_path / "pki")


def _serve(ca: LabCA | None, *, force: bool = False) -> TdsServer:
    tls = ca.server_context(FQDN, sql_server=True) if ca else None
    return TdsServer(ToyBackend(), server_name="SQL01\\RTC", tls=tls, force_encryption=force).start()


def _freetds(server: TdsServer, encryption: str) -> pyodbc.Connection:
    cs = (f"DRIVER={{{FREETDS}}};Server=127.0.0.1;Port={server.port};TDS_Version=7.4;"
          f"Encryption={encryption};UID=sa;PWD={{Lab-Pa55word}};")
    return pyodbc.connect(cs, autocommit=True, timeout=10)


@pytest.fixture
def tls_server(ca: LabCA) -> Iterator[TdsServer]:
    server = _serve(ca)
    yield server
    server.stop()


def test_freetds_requiring_encryption_runs_the_whole_session_over_tls(tls_server: TdsServer) -> None:
    with _freetds(tls_server, "require") as conn:
        assert conn.cursor().execute("SELECT ?", 42).fetchone()[0] == 42
    assert any(line.startswith("-- TLS TLSv1.2 (whole session)") for line in tls_server.transcript), \
        tls_server.transcript


def test_freetds_requesting_encryption_gets_the_login_encrypted_only(tls_server: TdsServer) -> None:
    with _freetds(tls_server, "request") as conn:
        assert conn.cursor().execute("SELECT ?", 7).fetchone()[0] == 7
    assert any("(login only)" in line for line in tls_server.transcript), tls_server.transcript


def test_a_server_without_a_certificate_and_a_client_that_requires_encryption() -> None:
    server = _serve(None)
    try:
        with pytest.raises(pyodbc.Error):
            _freetds(server, "require")
    finally:
        server.stop()


def test_force_encryption_refuses_a_client_that_cannot_encrypt(ca: LabCA) -> None:
    server = _serve(ca, force=True)
    try:
        with pytest.raises(pyodbc.Error):
            _freetds(server, "off")  # FreeTDS "off" says ENCRYPT_NOT_SUP: the server hangs up
        assert any("the client does not support encryption" in line for line in server.transcript)
        with _freetds(server, "request") as conn:  # ENCRYPT_OFF is answered REQ: the whole session
            assert conn.cursor().execute("SELECT ?", 1).fetchone()[0] == 1
        assert any("(whole session)" in line for line in server.transcript)
    finally:
        server.stop()


@pytest.mark.skipif(bundled_msodbc18() is None, reason="Microsoft ODBC Driver 18 is not installed")
def test_odbc_driver_18_defaults_validate_the_lab_certificate(tls_server: TdsServer, ca: LabCA,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    driver = bundled_msodbc18()
    base = (f"DRIVER={{{driver}}};Server=tcp:127.0.0.1,{tls_server.port};UID=sa;PWD={{Lab-Pa55word}};"
            "Encrypt=yes;TrustServerCertificate=no;")
    with pytest.raises(pyodbc.Error, match="certificate"):  # the system store does not hold the lab CA
        pyodbc.connect(base + f"HostNameInCertificate={FQDN};", autocommit=True, timeout=10)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.bundle))
    with pytest.raises(pyodbc.Error, match="certificate"):  # the CA trusted, the name not the certificate's
        pyodbc.connect(base + "HostNameInCertificate=sql02.fabrikam.lab;", autocommit=True, timeout=10)
    with pyodbc.connect(base + f"HostNameInCertificate={FQDN};", autocommit=True, timeout=10) as conn:
        assert conn.cursor().execute("SELECT ?", 18).fetchone()[0] == 18
    assert os.environ["SSL_CERT_FILE"] == str(ca.bundle)


@pytest.mark.skipif(bundled_msodbc18() is None, reason="Microsoft ODBC Driver 18 is not installed")
def test_encryption_and_certificate_failures_have_their_own_sentences(tls_server: TdsServer, ca: LabCA,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Not "Cannot reach SQL Server ... firewall": the server answered; its certificate or its
    encryption is the problem, and the sentence says which (real driver texts, mapped)."""
    from wizard.remote.sqlerrors import SqlEncryptionError, from_odbc_error

    driver = bundled_msodbc18()

    def failure(server: TdsServer, name: str) -> SqlEncryptionError:
        cs = (f"DRIVER={{{driver}}};Server=tcp:127.0.0.1,{server.port};UID=sa;PWD={{Lab-Pa55word}};"
              f"Encrypt=yes;TrustServerCertificate=no;HostNameInCertificate={name};")
        with pytest.raises(pyodbc.Error) as info:
            pyodbc.connect(cs, autocommit=True, timeout=10)
        mapped = from_odbc_error(info.value.args, where=f"{FQDN}\\rtc", address=f"127.0.0.1,{server.port}",
                                 driver="ODBC Driver 18", during="connect")
        assert isinstance(mapped, SqlEncryptionError), mapped
        return mapped

    assert "a CA this machine does not trust" in failure(tls_server, FQDN).message
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.bundle))
    assert "a certificate that does not name it" in failure(tls_server, "sql02.fabrikam.lab").message
    plain = _serve(None)
    try:
        assert "does not offer encryption" in failure(plain, FQDN).message
    finally:
        plain.stop()


@pytest.mark.skipif(bundled_msodbc18() is None, reason="Microsoft ODBC Driver 18 is not installed")
def test_the_wizards_connection_string_validates_the_fqdn_at_an_address(tls_server: TdsServer, ca: LabCA,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The wizard's own string (encrypt mandatory, the certificate validated) to 127.0.0.1: the
    certificate is checked against sql01.fabrikam.lab (HostNameInCertificate)."""
    from wizard.remote.odbc import SqlEndpoint, classify, connection_string

    monkeypatch.setenv("SSL_CERT_FILE", str(ca.bundle))
    endpoint = SqlEndpoint(server=FQDN, port=tls_server.port, address="127.0.0.1", encrypt="mandatory")
    cs = connection_string(endpoint, classify(str(bundled_msodbc18())), "sa", "Lab-Pa55word")
    with pyodbc.connect(cs, autocommit=True, timeout=10) as conn:
        assert conn.cursor().execute("SELECT ?", 5).fetchone()[0] == 5
    assert any("(whole session)" in line for line in tls_server.transcript)
