"""Every pywinrm / requests failure becomes one operator sentence naming host and port."""

from __future__ import annotations

import socket
import ssl

import pytest
import requests
from winrm.exceptions import (
    InvalidCredentialsError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)

from wizard.errors import ExitCode, RemoteError
from wizard.remote.errors import (
    BadCredentialsError,
    ConnectionLostError,
    HostNotFoundError,
    HostUnreachableError,
    RemoteTimeoutError,
    ServerFaultError,
    ShellLostError,
    TlsError,
    is_shell_not_found,
    map_winrm_exception,
)

WHERE = "fe01.contoso.com:5986"


def _map(exc: BaseException) -> RemoteError:
    return map_winrm_exception(exc, "fe01.contoso.com", 5986, user="CONTOSO\\admin",
                               connect_timeout_s=10, read_timeout_s=30)


def _ssl_reason(reason: str) -> ssl.SSLError:
    """An SSLError as OpenSSL raises it: its ``reason`` set (a constructed one has none)."""
    err = ssl.SSLError(1, f"[SSL: {reason}] {reason.lower().replace('_', ' ')}")
    err.reason = reason
    return err


def _wrapped(cause: BaseException, outer: type[requests.RequestException]) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise outer("wrapped") from inner
    except requests.RequestException as exc:
        return exc


def _fault(code: int | None, subcode: str | None, reason: str) -> WSManFaultError:
    return WSManFaultError(500, "Bad HTTP response", "<xml/>", reason, "s:Sender", subcode, code)


@pytest.mark.parametrize(
    ("exc", "kind", "sentence"),
    [
        (InvalidCredentialsError("rejected"), BadCredentialsError,
         f"{WHERE} rejected the credentials for CONTOSO\\admin: check the user name and password."),
        (WinRMTransportError("http", 401, ""), BadCredentialsError,
         f"{WHERE} rejected the credentials for CONTOSO\\admin: check the user name and password."),
        (WinRMTransportError("http", 404, ""), ServerFaultError,
         f"{WHERE} answered HTTP 404 instead of a WinRM response: is this the WinRM port?"),
        (WinRMOperationTimeoutError(), RemoteTimeoutError,
         f"{WHERE} did not complete a WinRM operation in time."),
        (_fault(2150858770, "w:AccessDenied", "Access is denied. More detail here."),
         ServerFaultError, f"{WHERE} answered with a WinRM fault: Access is denied."),
        (_fault(2150858843, "w:InvalidSelectors", "The shell was not found."), ShellLostError,
         f"{WHERE} no longer has our remote shell: the WinRM service may have restarted."),
        (_wrapped(ConnectionRefusedError(111, "refused"), requests.ConnectionError),
         HostUnreachableError, f"{WHERE} refused the connection: is WinRM running?"),
        (_wrapped(OSError(113, "No route to host"), requests.ConnectionError),
         HostUnreachableError, f"{WHERE} cannot be reached: no route to the host."),
        (_wrapped(socket.gaierror(-2, "Name or service not known"), requests.ConnectionError),
         HostNotFoundError, "fe01.contoso.com could not be resolved: check the name and DNS."),
        (_wrapped(ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] self-signed"),
                  requests.exceptions.SSLError),
         TlsError, f"{WHERE} presented a certificate from a CA this machine does not trust: set the "
         "plan's ca_bundle to that CA's PEM file, or add the CA to the system trust store."),
        (_wrapped(ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate has expired"),
                  requests.exceptions.SSLError),
         TlsError, f"{WHERE} presented a certificate that could not be verified: check the CA "
         "bundle and the host name."),
        (_wrapped(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"),
                  requests.exceptions.SSLError),
         TlsError, f"{WHERE} failed the TLS handshake: is HTTPS enabled on that port?"),
        (_wrapped(ssl.SSLEOFError(8, "[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol"),
                  requests.exceptions.SSLError),
         TlsError, f"{WHERE} closed the connection during the TLS handshake: check that the listener has a "
         "valid certificate bound to that port and accepts TLS 1.2 or newer."),
        (_wrapped(_ssl_reason("TLSV1_ALERT_PROTOCOL_VERSION"), requests.exceptions.SSLError),
         TlsError, f"{WHERE} failed the TLS handshake (OpenSSL: TLSV1_ALERT_PROTOCOL_VERSION): check the "
         "listener's certificate and TLS settings."),
        (requests.exceptions.ConnectTimeout("slow"), RemoteTimeoutError,
         f"{WHERE} did not accept the connection within 10 s: is a firewall dropping it?"),
        (requests.exceptions.ReadTimeout("slow"), RemoteTimeoutError,
         f"{WHERE} did not answer within 30 s."),
        (requests.ConnectionError("Connection aborted"), ConnectionLostError,
         f"{WHERE} closed the connection unexpectedly."),
        (PermissionError("Server did not respond with NTLM challenge token"), BadCredentialsError,
         f"{WHERE} did not complete NTLM authentication: check that NTLM is enabled."),
        (StopIteration(), ServerFaultError,
         f"{WHERE} sent a WinRM answer the wizard could not understand."),
        (WinRMError("odd"), ServerFaultError,
         f"{WHERE} sent a WinRM answer the wizard could not understand."),
    ],
)
def test_sentences(exc: BaseException, kind: type[RemoteError], sentence: str) -> None:
    mapped = _map(exc)
    assert type(mapped) is kind
    assert str(mapped) == sentence
    assert mapped.exit_code == ExitCode.REMOTE
    assert isinstance(mapped, RemoteError)
    assert "\n" not in str(mapped)


def test_long_fault_reasons_are_cut_to_one_short_clause() -> None:
    mapped = _map(_fault(1, "w:X", "word " * 100))
    assert len(str(mapped)) < 260 and str(mapped).endswith("….")


def test_shell_not_found_detection() -> None:
    assert is_shell_not_found(_fault(None, "w:InvalidSelectors", "x"))
    assert is_shell_not_found(_fault(None, None, "... because the shell was not found on ..."))
    assert not is_shell_not_found(_fault(2150858793, "w:TimedOut", "timeout"))
    assert not is_shell_not_found(ValueError("shell was not found"))
