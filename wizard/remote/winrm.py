"""The PowerShell runner: one WinRM shell per host, streamed output, own deadline and cancel.

Built on pywinrm's low-level ``Protocol`` rather than ``Session.run_ps``: a restore runs dozens
of commands per host, and ``run_ps`` opens and closes a shell (and a TCP connection) for each,
cannot stream, and retries a held Receive forever. Here the shell is opened lazily with the
UTF-8 code page, reused, and reopened once if the server lost it; each Receive is held at most
a few seconds so a deadline or a cancel request is honoured promptly by a terminate Signal.
Every failure leaves as a :class:`wizard.remote.errors.WinRMFailure` with one plain sentence.
"""

from __future__ import annotations

import codecs
import collections.abc
import contextlib
import math
import os
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import requests
import requests.adapters
from requests.cookies import RequestsCookieJar
from requests.structures import CaseInsensitiveDict
from winrm.exceptions import WinRMOperationTimeoutError
from winrm.protocol import Protocol
from winrm.transport import Transport

from wizard.remote import psbuild
from wizard.remote import wsman_messages as msg
from wizard.remote.clixml import (
    ClixmlStreamDecoder,
    PsErrorRecord,
    clixml_to_text,
    parse_error_records,
)
from wizard.remote.errors import (
    MAPPED_EXCEPTIONS,
    CommandTooLongError,
    ConnectionLostError,
    InsecureTransportError,
    RemoteTimeoutError,
    ShellLostError,
    StagingError,
    WinRMFailure,
    is_operations_quota,
    is_shell_not_found,
    map_winrm_exception,
)
from wizard.remote.http1 import Http1Adapter
from wizard.remote.negotiate import KerberosAuth, credssp_auth, kerberos_principal, require_kerberos

AuthMethod = Literal["ntlm", "kerberos", "credssp", "basic"]
_TOO_LONG = "The command line is too long."
#: Commands run in one shell before the runner replaces it: Windows counts every command of a
#: shell against MaxConcurrentOperationsPerUser (1500) until the shell is deleted; 400 leaves
#: room for the user's other shells (a second wizard, a colleague's console).
COMMANDS_PER_SHELL = 400
#: How often a read-only (idempotent) script is tried when the connection keeps dropping.
IDEMPOTENT_ATTEMPTS = 4


@dataclass(frozen=True)
class WinRMEndpoint:
    """Where and how to reach one host's WinRM service."""

    host: str  # the FQDN, used in every message
    address: str | None = None  # what to connect to; defaults to ``host``
    port: int = 5986
    scheme: Literal["https", "http"] = "https"
    path: str = "/wsman"
    auth: AuthMethod = "ntlm"
    ca_bundle: str | None = None  # PEM file of CAs to trust; None = the system/certifi store
    insecure: bool = False  # the plan allows plain http for this host
    delegate: bool = False  # Kerberos: forward the ticket when the host is trusted for delegation
    krb5_config: str | None = None  # Kerberos configuration file; None = KRB5_CONFIG or /etc/krb5.conf
    realm: str | None = None  # Kerberos realm of DOMAIN\user accounts (the AD domain in capitals)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address or self.host}:{self.port}{self.path}"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ShellOutput:
    stream: Literal["stdout", "stderr"]
    text: str


@dataclass(frozen=True)
class CommandStarted:
    host: str
    command_id: str


@dataclass(frozen=True)
class CommandFinished:
    host: str
    exit_code: int
    duration_s: float
    cancelled: bool


RunnerEvent = ShellOutput | CommandStarted | CommandFinished


@dataclass(frozen=True)
class PsResult:
    """What one script did. ``stderr`` is human text (CLIXML decoded); ``errors`` parsed."""

    exit_code: int
    stdout: str
    stderr: str
    errors: list[PsErrorRecord] = field(default_factory=list)
    duration_s: float = 0.0
    cancelled: bool = False


class _LineSplitter:
    """Incremental UTF-8 decoding and line splitting of one output stream."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""
        self.text: list[str] = []

    def feed(self, data: bytes, final: bool = False) -> list[str]:
        chunk = self._decoder.decode(data, final=final)
        self.text.append(chunk)
        parts = (self._partial + chunk).replace("\r\n", "\n").split("\n")
        self._partial = parts.pop()
        if final and self._partial:
            parts.append(self._partial)
            self._partial = ""
        return parts


class _LeanSession(requests.Session):
    """A requests Session that prepares pywinrm's POSTs without per-request re-derivation.

    ``Session.prepare_request`` re-parses the URL, merges cookies, headers, params, auth and
    hooks for every message; pywinrm always posts bytes to one URL with no per-request
    headers, params or cookies. For exactly that request (and while the session holds no
    cookies) the prepared URL is reused and the session headers copied; the session's auth
    still runs on every request (NTLM registers its response hook there). Anything else takes
    the ordinary path. Proxies are resolved once: the environment is never read
    (``trust_env`` is off) and the endpoint never changes.
    """

    _lean_urls: dict[str, str]
    _lean_proxies: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, str]]

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        data = request.data
        if (
            request.method != "POST"
            or not isinstance(data, bytes)
            or self.trust_env
            or request.files
            or request.json is not None
            or request.params
            or request.headers
            or request.cookies
            or request.auth is not None
            or any(request.hooks.values())
            or any(self.hooks.values())
            or self.params
            or len(self.cookies)
            or not isinstance(request.url, str)
        ):
            return super().prepare_request(request)
        url = self._lean_url(request.url)
        p = requests.PreparedRequest()
        p.method = "POST"
        p.url = url
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        for key, value in self.headers.items():
            if value is not None:
                headers[key] = value  # type: ignore[assignment]  # str | bytes, as requests allows
        p.headers = headers
        p._cookies = RequestsCookieJar()  # type: ignore[attr-defined]
        p.body = data
        p.headers["Content-Length"] = str(len(data))
        if self.auth is not None:
            p.prepare_auth(self.auth, url)
        return p

    def _lean_url(self, raw: str) -> str:
        urls = self.__dict__.setdefault("_lean_urls", {})
        url = urls.get(raw)
        if url is None:
            probe = requests.PreparedRequest()
            probe.prepare_url(raw, None)
            url = urls[raw] = str(probe.url)
        return str(url)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if "proxies" not in kwargs and not self.trust_env and isinstance(request.url, str):
            cache = self.__dict__.setdefault("_lean_proxies", {})
            key = (request.url, tuple(sorted(self.proxies.items())))
            proxies = cache.get(key)
            if proxies is None:
                proxies = cache[key] = requests.utils.resolve_proxies(
                    request, dict(self.proxies), False
                )
            kwargs["proxies"] = dict(proxies)
        return super().send(request, **kwargs)


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """What a WinRM HTTPS connection trusts: the plan's CA bundle when it names one, else the CA
    file the environment names (REQUESTS_CA_BUNDLE, SSL_CERT_FILE), else the operating system's
    store (OpenSSL's default paths; never certifi's bundle alone). Certificates and host names
    are always checked (TLS 1.2 or newer).

    One context serves every host that trusts the same file, while the file is unchanged (its
    size, modification time and inode): reading Debian's bundle of 140 CAs costs 40 ms of CPU, which
    200 hosts assessed at once would pay in series (#20). An SSLContext is safe to share
    between threads."""
    named = ca_bundle or os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    try:
        stat = os.stat(named) if named else None
    except OSError:
        return _new_tls_context(named)  # raises what reading it raises; nothing is cached
    key = (named, (stat.st_mtime_ns, stat.st_size, stat.st_ino) if stat else None)
    with _TLS_LOCK:
        ctx = _TLS_CONTEXTS.get(key)
        if ctx is None:
            ctx = _TLS_CONTEXTS[key] = _new_tls_context(named)
    return ctx


_TLS_LOCK = threading.Lock()
_TLS_CONTEXTS: dict[tuple[str | None, tuple[int, int, int] | None], ssl.SSLContext] = {}


def _new_tls_context(named: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if named:
        ctx.load_verify_locations(cafile=named)
    return ctx


#: Set while a :class:`_LeanTransport` builds its session (per thread).
_BUILDING = threading.local()
_MERGE_SETTINGS = requests.Session.merge_environment_settings


def _merge_settings(self: requests.Session, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
    """requests' settings merge; for the session pywinrm builds for us it does not read the proxy
    and CA variables of the environment: the runner names no proxy (pywinrm's ``proxy=None``) and
    validates certificates with its own context (:class:`~wizard.remote.http1.Http1Adapter`). Reading them costs
    1.3 ms a session (every variable of the environment decoded), a quarter of a host probe's CPU,
    which 200 probes in parallel pay in series under the interpreter lock (#20 item 4). Any other
    session is merged exactly as requests does."""
    if getattr(_BUILDING, "lean", False):
        self.trust_env = False
    return _MERGE_SETTINGS(self, url, proxies, stream, verify, cert)


requests.Session.merge_environment_settings = _merge_settings  # type: ignore[method-assign]


class _LeanTransport(Transport):
    """pywinrm's transport, whose session never reads proxy variables, prepares lean and sends
    through one persistent connection (:class:`wizard.remote.http1.Http1Adapter`); over HTTPS
    it validates the host's certificate against its FQDN."""

    tls_name: str | None = None  # the FQDN the certificate must name (set by the runner)
    tls_ca: str | None = None
    #: Kerberos or CredSSP named after the FQDN (wizard/remote/negotiate.py), used instead of
    #: pywinrm's own handler, which names the service after the URL's address
    custom_auth: requests.auth.AuthBase | None = None

    def build_session(self) -> requests.Session:
        if self.session:
            return self.session
        custom = self.custom_auth
        _BUILDING.lean = True
        try:
            session = super().build_session() if custom is None else self._custom_session(custom)
        finally:
            _BUILDING.lean = False
        self._lean(session)
        return session

    def setup_encryption(self, session: requests.Session) -> None:
        """pywinrm authenticates the connection with a blank message here, before it returns the
        session: that message already goes through the lean session's own connection."""
        self._lean(session)
        super().setup_encryption(session)

    def _lean(self, session: requests.Session) -> None:
        """Make ``session`` lean (once): no environment read per request, lean preparation,
        one persistent connection spoken to without urllib3's pool (wizard/remote/http1.py).
        Over HTTPS the certificate is checked against the host's FQDN, whatever address the
        plan connects to (#15 item 1), and only the context below decides what is trusted
        (requests' own CA file, certifi or a path pywinrm passes, never reaches it)."""
        if isinstance(session, _LeanSession):
            return
        # proxy=None already ignores proxy variables; not re-reading the environment on every
        # request saves a third of a millisecond each.
        session.trust_env = False
        session.__class__ = _LeanSession
        https = str(self.endpoint).lower().startswith("https://")
        adapter = Http1Adapter(tls=tls_context(self.tls_ca) if https else None,
                               server_hostname=self.tls_name)
        session.mount("https://", adapter)
        session.mount("http://", adapter)

    def _custom_session(self, auth: requests.auth.AuthBase) -> requests.Session:
        """pywinrm's session set-up (proxies, verification, headers) with our handler; message
        encryption over plain HTTP as pywinrm does it for Kerberos."""
        method, encryption = self.auth_method, self.message_encryption
        self.auth_method, self.message_encryption = "basic", "never"
        try:
            session = super().build_session()
        finally:
            self.auth_method, self.message_encryption = method, encryption
        session.auth = auth
        plain = not str(self.endpoint).lower().startswith("https")
        if method == "kerberos" and (encryption == "always" or (encryption == "auto" and plain)):
            self.setup_encryption(session)
        return session


class _WsmanProtocol(Protocol):
    """pywinrm's Protocol whose five shell messages come from :mod:`wsman_messages` templates.

    Sending (auth, NTLM sealing, TLS, timeouts) and fault handling stay pywinrm's
    (``send_message``); calls with options the templates do not cover fall back to pywinrm.
    Its transport should be made a :class:`_LeanTransport` right after construction.
    """

    def _send(self, message: str) -> bytes:
        return self.send_message(message.encode("utf-8"))  # type: ignore[arg-type]

    def open_shell(
        self,
        i_stream: str = "stdin",
        o_stream: str = "stdout stderr",
        working_directory: str | None = None,
        env_vars: dict[str, str] | None = None,
        noprofile: bool = False,
        codepage: int = 437,
        lifetime: None = None,
        idle_timeout: str | int | None = None,
    ) -> str:
        if (i_stream, o_stream) != ("stdin", "stdout stderr") or working_directory or env_vars \
                or idle_timeout:
            return super().open_shell(i_stream, o_stream, working_directory, env_vars, noprofile,
                                      codepage, lifetime, idle_timeout)
        request = msg.create_shell(msg.new_message_id(), int(self.operation_timeout_sec),
                                   codepage=codepage, noprofile=noprofile)
        return msg.shell_id_of(self._send(request))

    def run_command(
        self,
        shell_id: str,
        command: str,
        arguments: collections.abc.Iterable[str | bytes] = (),
        console_mode_stdin: bool = True,
        skip_cmd_shell: bool = False,
    ) -> str:
        if arguments:
            return super().run_command(shell_id, command, arguments, console_mode_stdin,
                                       skip_cmd_shell)
        request = msg.command(msg.new_message_id(), int(self.operation_timeout_sec), shell_id,
                              command, console_mode_stdin=console_mode_stdin,
                              skip_cmd_shell=skip_cmd_shell)
        return msg.command_id_of(self._send(request))

    def get_command_output_raw(
        self, shell_id: str, command_id: str
    ) -> tuple[bytes, bytes, int, bool]:
        request = msg.receive(msg.new_message_id(), int(self.operation_timeout_sec), shell_id,
                              command_id)
        return msg.parse_receive(self._send(request))

    def cleanup_command(self, shell_id: str, command_id: str) -> None:
        message_id = msg.new_message_id()
        request = msg.signal_terminate(message_id, int(self.operation_timeout_sec), shell_id,
                                       command_id)
        msg.check_relates_to(self._send(request), message_id)

    def close_shell(self, shell_id: str, close_session: bool = True) -> None:
        message_id = msg.new_message_id()
        request = msg.delete_shell(message_id, int(self.operation_timeout_sec), shell_id)
        try:
            response = self._send(request)
        finally:
            if close_session:
                self.transport.close_session()
        msg.check_relates_to(response, message_id)


def _custom_auth(endpoint: WinRMEndpoint, username: str, password: str) -> requests.auth.AuthBase | None:
    """The wizard's own Kerberos or CredSSP handler for ``endpoint`` (None: pywinrm's)."""
    if endpoint.auth == "kerberos":
        require_kerberos(endpoint.where)
        return KerberosAuth(endpoint.host, kerberos_principal(username, endpoint.realm), password or None,
                            where=endpoint.where, delegate=endpoint.delegate, realm=endpoint.realm,
                            krb5_config=endpoint.krb5_config)
    if endpoint.auth == "credssp":
        # inside CredSSP: Kerberos where the plan configures it, else NTLM
        return credssp_auth(endpoint.host, username, password, where=endpoint.where,
                            mechanism="kerberos" if endpoint.krb5_config else "ntlm",
                            realm=endpoint.realm, krb5_config=endpoint.krb5_config)
    return None


class PowerShellRunner:
    """Runs PowerShell scripts on one host through a reused WinRM shell. Not re-entrant:
    one ``run`` at a time (calls from several threads are serialised)."""

    def __init__(
        self,
        endpoint: WinRMEndpoint,
        username: str,
        password: str,
        *,
        operation_timeout_s: int = 20,
        connect_timeout_s: float = 10,
        read_margin_s: int = 10,
        poll_s: int = 2,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        if endpoint.scheme == "http" and not endpoint.insecure:
            raise InsecureTransportError(
                f"{endpoint.where} is configured for plain HTTP but the plan does not mark it "
                "insecure: use HTTPS (port 5986).",
                where=endpoint.where,
            )
        if endpoint.scheme == "http" and endpoint.auth == "credssp":
            raise InsecureTransportError(
                f"{endpoint.where} is set to CredSSP over plain HTTP: CredSSP hands the password "
                "to the host, so the wizard uses it over HTTPS (port 5986) only.",
                where=endpoint.where,
            )
        self.endpoint = endpoint
        self._username = username
        self._operation_timeout_s = max(1, int(operation_timeout_s))
        self._read_timeout_s = self._operation_timeout_s + max(1, int(read_margin_s))
        self._connect_timeout_s = connect_timeout_s
        self._poll_s = max(1, int(poll_s))
        self._on_warning = on_warning
        self._lock = threading.RLock()
        self._shell_id: str | None = None
        self._commands_in_shell = 0
        # (shell id, command id) of the last command, Done but not yet released by a Signal
        self._done: tuple[str, str] | None = None
        self._warned = False
        encryption: Literal["auto", "always", "never"]
        if endpoint.scheme == "https":
            encryption = "auto"  # TLS already protects the body
        elif endpoint.auth == "basic":
            encryption = "never"  # Basic cannot seal messages
        else:
            encryption = "always"
        try:
            self._protocol = _WsmanProtocol(
                endpoint.url,
                transport=endpoint.auth,
                username=username,
                password=password,
                server_cert_validation="validate",
                ca_trust_path=endpoint.ca_bundle,  # type: ignore[arg-type]
                read_timeout_sec=self._read_timeout_s,
                operation_timeout_sec=self._operation_timeout_s,
                message_encryption=encryption,
                proxy=None,
            )
        except MAPPED_EXCEPTIONS as exc:
            raise self._map(exc) from None
        self._protocol.transport.__class__ = _LeanTransport
        self._protocol.transport.tls_name = endpoint.host  # type: ignore[attr-defined]
        self._protocol.transport.tls_ca = endpoint.ca_bundle  # type: ignore[attr-defined]
        self._protocol.transport.custom_auth = _custom_auth(  # type: ignore[attr-defined]
            endpoint, username, password)
        # requests accepts (connect, read); pywinrm passes this value straight through.
        self._protocol.transport.read_timeout_sec = (  # type: ignore[assignment]
            connect_timeout_s,
            self._read_timeout_s,
        )

    # -- public ------------------------------------------------------------------------------

    def run(
        self,
        script: str,
        *,
        deadline_s: float,
        on_event: Callable[[RunnerEvent], None] | None = None,
        cancel: threading.Event | None = None,
        idempotent: bool = False,
    ) -> PsResult:
        """Run ``script`` and return its result; ``deadline_s`` seconds from now at most.

        Raises RemoteTimeoutError when the deadline passes (the command is terminated and the
        shell closed), CommandTooLongError, StagingError or another WinRMFailure. A set
        ``cancel`` ends the command the same way and returns a result with ``cancelled``.

        When the connection drops mid-run the HTTP session is thrown away (a new one, with new
        NTLM keys, is built for the next request) and ConnectionLostError is raised: whether
        the command ran is unknown. Only an ``idempotent`` script (a read-only probe or check)
        is retried, once, on the fresh session.
        """
        attempts = IDEMPOTENT_ATTEMPTS if idempotent else 1
        for attempt in range(1, attempts + 1):
            try:
                return self._run_once(script, deadline_s=deadline_s, on_event=on_event, cancel=cancel)
            except ConnectionLostError:
                with self._lock:
                    self._protocol.transport.close_session()
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _run_once(
        self,
        script: str,
        *,
        deadline_s: float,
        on_event: Callable[[RunnerEvent], None] | None,
        cancel: threading.Event | None,
    ) -> PsResult:
        deadline = time.monotonic() + deadline_s
        stage_id = uuid.uuid4().hex[:16]
        try:
            lines = psbuild.command_lines(script, stage_id)
        except NotImplementedError:
            lines = [psbuild.encode_command_line(script)]
        too_long = [line for line in lines if len(line) > psbuild.CMD_LINE_LIMIT]
        if too_long:
            raise CommandTooLongError(
                f"The script for {self.endpoint.where} makes a command line of "
                f"{len(too_long[0])} characters, over cmd.exe's limit of "
                f"{psbuild.CMD_LINE_LIMIT}.",
                where=self.endpoint.where,
            )
        with self._lock:
            self._warn_if_plain_http()
            for index, line in enumerate(lines):
                last = index == len(lines) - 1
                result = self._run_line(
                    line, deadline, deadline_s, on_event if last else None, cancel
                )
                if last or result.cancelled:
                    return result
                if result.exit_code != 0:
                    raise StagingError(
                        f"Staging a long script on {self.endpoint.where} failed "
                        f"(exit code {result.exit_code}), so it did not run.",
                        where=self.endpoint.where,
                    )
        raise AssertionError("command_lines returned no line")  # pragma: no cover

    def close(self) -> None:
        """Delete the shell and drop the HTTP session (also on failure, which is raised as a
        WinRMFailure: the shell may then linger on the host until WinRM's idle timeout)."""
        with self._lock:
            shell_id, self._shell_id = self._shell_id, None
            self._done = None  # deleting the shell releases its commands
            if shell_id is None:
                self._protocol.transport.close_session()
                return
            try:
                self._protocol.close_shell(shell_id)
            except MAPPED_EXCEPTIONS as exc:
                raise self._map(exc) from None
            finally:
                self._protocol.transport.close_session()

    def __enter__(self) -> PowerShellRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------

    def _map(self, exc: BaseException) -> WinRMFailure:
        return map_winrm_exception(
            exc,
            self.endpoint.host,
            self.endpoint.port,
            user=self._username,
            connect_timeout_s=self._connect_timeout_s,
            read_timeout_s=self._read_timeout_s,
        )

    def _warn_if_plain_http(self) -> None:
        if self.endpoint.scheme == "http" and not self._warned and self._on_warning:
            self._warned = True
            self._on_warning(
                f"{self.endpoint.where} is reached over plain HTTP: the plan marks it insecure."
            )

    def _shell(self) -> str:
        if self._shell_id is not None and self._commands_in_shell >= COMMANDS_PER_SHELL:
            self._retire_shell()  # before Windows' operations quota counts it full
        if self._shell_id is None:
            self._shell_id = self._protocol.open_shell(codepage=65001, noprofile=True)
            self._commands_in_shell = 0
        return self._shell_id

    def _retire_shell(self) -> None:
        """Delete the current shell (its commands stop counting against the user's operations)."""
        shell_id, self._shell_id = self._shell_id, None
        self._done = None
        if shell_id is not None:  # gone already, or the host reaps it at its idle timeout
            with contextlib.suppress(*MAPPED_EXCEPTIONS):
                self._protocol.close_shell(shell_id)

    def _start(self, line: str) -> tuple[str, str]:
        """(shell id, command id); reopens the shell once if the server lost it, or if the user's
        operations quota is full (another client of the same account kept shells busy)."""
        self._release_done()
        for attempt in (1, 2):
            shell_id = self._shell()
            try:
                command_id = self._protocol.run_command(shell_id, line)
                self._commands_in_shell += 1
                return shell_id, command_id
            except MAPPED_EXCEPTIONS as exc:
                if attempt == 1 and is_shell_not_found(exc):
                    self._shell_id = None
                    continue
                if attempt == 1 and is_operations_quota(exc):
                    self._retire_shell()
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _run_line(
        self,
        line: str,
        deadline: float,
        deadline_s: float,
        on_event: Callable[[RunnerEvent], None] | None,
        cancel: threading.Event | None,
    ) -> PsResult:
        emit = on_event or (lambda _event: None)
        started = time.monotonic()
        try:
            shell_id, command_id = self._start(line)
        except MAPPED_EXCEPTIONS as exc:
            raise self._map(exc) from None
        emit(CommandStarted(self.endpoint.host, command_id))
        out = _LineSplitter()
        err = codecs.getincrementaldecoder("utf-8")(errors="replace")
        err_chunks: list[str] = []
        err_lines = ClixmlStreamDecoder()
        exit_code: int | None = None
        stopped: Literal["cancel", "deadline"] | None = None
        try:
            while exit_code is None:
                remaining = deadline - time.monotonic()
                if cancel is not None and cancel.is_set():
                    stopped = "cancel"
                    break
                if remaining <= 0:
                    stopped = "deadline"
                    break
                hold = min(self._operation_timeout_s, math.ceil(remaining))
                if cancel is not None:
                    hold = min(hold, self._poll_s)
                self._protocol.operation_timeout_sec = max(1, hold)
                try:
                    stdout, stderr, code, done = self._protocol.get_command_output_raw(
                        shell_id, command_id
                    )
                except WinRMOperationTimeoutError:
                    continue  # nothing new yet: a normal, held Receive that timed out
                for text in out.feed(stdout, final=done):
                    emit(ShellOutput("stdout", text))
                err_text = err.decode(stderr, final=done)
                err_chunks.append(err_text)
                lines = err_lines.feed(err_text) + (err_lines.flush() if done else [])
                for text in lines:
                    emit(ShellOutput("stderr", text))
                if done:
                    exit_code = code
        except MAPPED_EXCEPTIONS as exc:
            if is_shell_not_found(exc):
                self._shell_id = None
                raise ShellLostError(
                    f"{self.endpoint.where} lost our remote shell while a command ran: "
                    "its outcome is unknown.",
                    where=self.endpoint.where,
                ) from None
            raise self._map(exc) from None
        finally:
            self._protocol.operation_timeout_sec = self._operation_timeout_s
        duration = time.monotonic() - started
        if stopped is not None:
            self._terminate(shell_id, command_id)
            emit(CommandFinished(self.endpoint.host, -1, duration, True))
            if stopped == "deadline":
                raise RemoteTimeoutError(
                    f"The command on {self.endpoint.where} did not finish within "
                    f"{deadline_s:g} s and was stopped.",
                    where=self.endpoint.where,
                )
            stdout_text = "".join(out.text)
            stderr_text = clixml_to_text("".join(err_chunks))
            return PsResult(-1, stdout_text, stderr_text, parse_error_records(stderr_text),
                            duration, cancelled=True)
        final_code = -1 if exit_code is None else exit_code
        self._done = (shell_id, command_id)  # released before the next command: _release_done
        stdout_text = "".join(out.text)
        stderr_text = clixml_to_text("".join(err_chunks))
        if final_code != 0 and _TOO_LONG in stderr_text:
            raise CommandTooLongError(
                f"{self.endpoint.where} refused a command line as too long for cmd.exe.",
                where=self.endpoint.where,
            )
        emit(CommandFinished(self.endpoint.host, final_code, duration, False))
        return PsResult(final_code, stdout_text, stderr_text, parse_error_records(stderr_text),
                        duration, cancelled=False)

    def _release_done(self) -> None:
        """Release the last Done command with a terminate Signal, as the WinRS client does: a
        long incident runs hundreds of commands in one shell, and a host that kept them all
        until the shell is deleted would hit its per-user operation quota. The Signal is sent
        before the next command rather than after the last one's output: a result is returned
        a round trip sooner (a quarter of a short probe's time), at most one Done command is
        held, and the last one is released by the shell's Delete in close()."""
        done, self._done = self._done, None
        if done is None or done[0] != self._shell_id:
            return  # nothing to release, or its shell is gone (and its commands with it)
        try:
            self._protocol.cleanup_command(*done)
        except MAPPED_EXCEPTIONS:
            # The command is done and its output was returned: a failed release loses nothing.
            # The host frees it with the shell; start a fresh HTTP session for what follows.
            self._protocol.transport.close_session()

    def _terminate(self, shell_id: str, command_id: str) -> None:
        """Signal terminate, then delete the shell so nothing is left running on the host."""
        self._shell_id = None
        self._done = None
        try:
            self._protocol.cleanup_command(shell_id, command_id)
        except MAPPED_EXCEPTIONS as exc:
            if not is_shell_not_found(exc):
                raise self._map(exc) from None
        try:
            self._protocol.close_shell(shell_id, close_session=False)
        except MAPPED_EXCEPTIONS as exc:
            if not is_shell_not_found(exc):
                raise self._map(exc) from None
