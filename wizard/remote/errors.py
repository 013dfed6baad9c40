"""Every way a WinRM conversation can fail, as one-sentence operator errors.

pywinrm and requests raise a zoo of exceptions (several of pywinrm's do not even derive from
its ``WinRMError``). :func:`map_winrm_exception` turns each into a subclass of
:class:`wizard.errors.RemoteError` whose message names the host and port and says what to check,
and never carries a password (messages are built from names only, not from exception text,
except for a summarised SOAP fault reason written by the server).
"""

from __future__ import annotations

import errno
import socket
import ssl
import xml.etree.ElementTree as ET

import requests
from spnego.exceptions import SpnegoError
from winrm.exceptions import (
    AuthenticationError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)

from wizard.errors import RemoteError

#: WSManFault code of a request naming a shell the server no longer has.
SHELL_NOT_FOUND_CODE = 2150858843


class WinRMFailure(RemoteError):
    """A WinRM endpoint failed; ``where`` is ``host:port``."""

    title = "WinRM failure"

    def __init__(self, message: str, *, where: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.where = where


class HostNotFoundError(WinRMFailure):
    title = "Host name not found"


class HostUnreachableError(WinRMFailure):
    title = "Host unreachable"


class ConnectionLostError(WinRMFailure):
    title = "Connection lost"


class TlsError(WinRMFailure):
    title = "TLS failure"


class BadCredentialsError(WinRMFailure):
    title = "Credentials refused"


class ServerFaultError(WinRMFailure):
    title = "WinRM fault"

    def __init__(
        self, message: str, *, where: str = "", wsman_code: int | None = None
    ) -> None:
        super().__init__(message, where=where)
        self.wsman_code = wsman_code


class ShellLostError(ServerFaultError):
    """The server no longer knows our shell (service restarted, idle timeout)."""

    title = "Remote shell lost"


class RemoteTimeoutError(WinRMFailure):
    title = "Remote timeout"


class CommandTooLongError(WinRMFailure):
    title = "Command too long"


class InsecureTransportError(WinRMFailure):
    """Plain HTTP was asked for a host the plan does not mark insecure."""

    title = "Insecure connection refused"


class StagingError(WinRMFailure):
    """A line that stages a long script failed, so the script never ran."""

    title = "Script staging failed"


def _summarise(reason: str, limit: int = 160) -> str:
    text = " ".join(reason.split())
    first = text.split(". ")[0].rstrip(".")
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception, its causes and contexts, and urllib3's ``reason`` chain."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        todo += [item.__cause__, item.__context__]
        reason = getattr(item, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
        for arg in getattr(item, "args", ()):
            if isinstance(arg, BaseException):
                todo.append(arg)
    return seen


def _is_name_error(exc: BaseException) -> bool:
    return isinstance(exc, socket.gaierror) or type(exc).__name__ == "NameResolutionError"


def is_shell_not_found(exc: BaseException) -> bool:
    """True for the fault a server gives when the shell we name no longer exists."""
    if not isinstance(exc, WSManFaultError):
        return False
    return (
        exc.wsman_fault_code == SHELL_NOT_FOUND_CODE
        or (exc.fault_subcode or "").endswith("InvalidSelectors")
        or "shell was not found" in (exc.reason or "")
    )


#: WSManFault code of MaxConcurrentOperationsPerUser exceeded (ERROR_WSMAN_QUOTA_MAX_OPERATIONS).
OPERATIONS_QUOTA_CODE = 2150859174


def is_operations_quota(exc: BaseException) -> bool:
    """True for the fault a server gives when the user's operations quota is full."""
    return isinstance(exc, WSManFaultError) and exc.wsman_fault_code == OPERATIONS_QUOTA_CODE


def map_winrm_exception(
    exc: BaseException,
    host: str,
    port: int,
    *,
    user: str = "",
    connect_timeout_s: float | None = None,
    read_timeout_s: float | None = None,
) -> WinRMFailure:
    """One operator sentence for any failure of a WinRM exchange with ``host:port``.

    Tried in order: pywinrm's own exceptions, then the network underneath (TLS, DNS, timeouts,
    refused or unreachable hosts), then whatever else an exchange can raise."""
    if isinstance(exc, WinRMFailure):
        return exc
    failure = _pywinrm_failure(exc, host, port, user)
    if failure is None:
        failure = _network_failure(exc, host, port, connect_timeout_s, read_timeout_s)
    if failure is None:
        failure = _other_failure(exc, f"{host}:{port}")
    return failure


def _pywinrm_failure(exc: BaseException, host: str, port: int, user: str) -> WinRMFailure | None:
    """pywinrm's exceptions: credentials refused, SOAP faults, operation timeouts, HTTP errors."""
    where = f"{host}:{port}"
    if isinstance(exc, AuthenticationError):
        who = f" for {user}" if user else ""
        return BadCredentialsError(
            f"{where} rejected the credentials{who}: check the user name and password.",
            where=where,
        )
    if isinstance(exc, WSManFaultError):
        if is_shell_not_found(exc):
            return ShellLostError(
                f"{where} no longer has our remote shell: the WinRM service may have restarted.",
                where=where, wsman_code=exc.wsman_fault_code,
            )
        return ServerFaultError(
            f"{where} answered with a WinRM fault: {_summarise(exc.reason)}.",
            where=where, wsman_code=exc.wsman_fault_code,
        )
    if isinstance(exc, WinRMOperationTimeoutError):
        return RemoteTimeoutError(
            f"{where} did not complete a WinRM operation in time.", where=where
        )
    if isinstance(exc, WinRMTransportError):
        if exc.code == 401:
            return map_winrm_exception(AuthenticationError(), host, port, user=user)
        return ServerFaultError(
            f"{where} answered HTTP {exc.code} instead of a WinRM response: "
            "is this the WinRM port?",
            where=where,
        )
    return None


def _network_failure(exc: BaseException, host: str, port: int, connect_timeout_s: float | None,
                     read_timeout_s: float | None) -> WinRMFailure | None:
    """The network under the exchange: TLS, name resolution, timeouts, refused or no route."""
    where = f"{host}:{port}"
    causes = _causes(exc)
    if any(isinstance(c, (ssl.SSLError, requests.exceptions.SSLError)) for c in causes):
        return _tls_failure(where, causes)
    if any(_is_name_error(c) for c in causes):
        return HostNotFoundError(
            f"{host} could not be resolved: check the name and DNS.", where=where
        )
    if isinstance(exc, (requests.exceptions.ConnectTimeout,)):
        waited = f" within {connect_timeout_s:g} s" if connect_timeout_s else ""
        return RemoteTimeoutError(
            f"{where} did not accept the connection{waited}: is a firewall dropping it?",
            where=where,
        )
    if isinstance(exc, (requests.exceptions.Timeout, TimeoutError, socket.timeout)):
        waited = f" within {read_timeout_s:g} s" if read_timeout_s else ""
        return RemoteTimeoutError(f"{where} did not answer{waited}.", where=where)
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return HostUnreachableError(
            f"{where} refused the connection: is WinRM running?", where=where
        )
    unreachable = (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN)
    if any(isinstance(c, OSError) and c.errno in unreachable for c in causes):
        return HostUnreachableError(
            f"{where} cannot be reached: no route to the host.", where=where
        )
    return None


def _tls_failure(where: str, causes: list[BaseException]) -> WinRMFailure:
    said = " ".join(str(c) for c in causes)
    if any(s in said for s in ("Hostname mismatch", "IP address mismatch", "doesn't match")):
        return TlsError(
            f"{where} presented a certificate that does not name {where.rsplit(':', 1)[0]}: the "
            "certificate is checked against the host's FQDN (not the address connected to); "
            "check the listener's certificate.",
            where=where,
        )
    if any(s in said for s in ("unable to get local issuer", "self-signed", "self signed")):
        return TlsError(
            f"{where} presented a certificate from a CA this machine does not trust: set the "
            "plan's ca_bundle to that CA's PEM file, or add the CA to the system trust store.",
            where=where,
        )
    if any("CERTIFICATE_VERIFY_FAILED" in str(c) for c in causes):
        return TlsError(
            f"{where} presented a certificate that could not be verified: check the CA "
            "bundle and the host name.",
            where=where,
        )
    reasons = [str(c.reason) for c in causes if isinstance(c, ssl.SSLError) and getattr(c, "reason", None)]
    if any(isinstance(c, ssl.SSLEOFError) for c in causes) or any("EOF" in r for r in reasons):
        return TlsError(
            f"{where} closed the connection during the TLS handshake: check that the listener has a "
            "valid certificate bound to that port and accepts TLS 1.2 or newer.",
            where=where,
        )
    if reasons and not any(r in ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "RECORD_LAYER_FAILURE")
                           for r in reasons):
        return TlsError(
            f"{where} failed the TLS handshake (OpenSSL: {reasons[0]}): check the listener's "
            "certificate and TLS settings.",
            where=where,
        )
    return TlsError(
        f"{where} failed the TLS handshake: is HTTPS enabled on that port?", where=where
    )


def _other_failure(exc: BaseException, where: str) -> WinRMFailure:
    """Lost connections, NTLM that does not complete, answers that do not parse, the rest."""
    if isinstance(exc, (requests.exceptions.ConnectionError, ConnectionError)):
        return ConnectionLostError(
            f"{where} closed the connection unexpectedly.", where=where
        )
    if isinstance(exc, (PermissionError, SpnegoError)):
        return BadCredentialsError(
            f"{where} did not complete NTLM authentication: check that NTLM is enabled.",
            where=where,
        )
    if isinstance(exc, (ET.ParseError, StopIteration, AssertionError, WinRMError, ValueError)):
        return ServerFaultError(
            f"{where} sent a WinRM answer the wizard could not understand.", where=where
        )
    if isinstance(exc, requests.exceptions.RequestException):
        return ConnectionLostError(f"{where} could not be talked to over HTTP.", where=where)
    return WinRMFailure(
        f"{where} failed in an unexpected way ({type(exc).__name__}).", where=where
    )


#: What the runner catches and maps; anything else is a bug and propagates.
MAPPED_EXCEPTIONS: tuple[type[BaseException], ...] = (
    WinRMFailure,  # raised as such by the Kerberos and CredSSP handlers (negotiate.py)
    WinRMError,
    WinRMTransportError,
    WinRMOperationTimeoutError,
    requests.exceptions.RequestException,
    OSError,
    ET.ParseError,
    StopIteration,
    AssertionError,
    ValueError,
    SpnegoError,
)
