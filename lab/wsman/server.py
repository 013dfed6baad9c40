"""A WS-Management listener that plays one Windows host of the simulated Lync deployment.

The wizard's PowerShell runner talks real pywinrm to it, exactly as it would to a Lync server:
shells, commands, held Receives with operation timeouts, Signal, Delete, Basic or NTLM with
message encryption. What a command *does* is delegated to a :class:`CommandHost` (the simulated
Lync box, or a toy in tests). One listener is one host on its own loopback port, so an
unreachable host is simply a port nobody listens on. Faults (dropped connections, refused
logins, slow answers) can be switched on at run time to rehearse bad days.

``latency_s`` is the network between the jump host and this host, not the host: every HTTP answer
(a 401 challenge too) waits that long before it is written, and an HTTPS connection's TLS handshake
once before the server's first flight; the TCP handshake itself is the kernel's and is not delayed.
``requests`` counts every HTTP request that arrived (each POST, authentication rounds included).
"""

from __future__ import annotations

import contextlib
import logging
import random
import selectors
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Protocol

from lab.identity import SESSION, NetworkLogon
from lab.wsman import soap
from lab.wsman.auth import (
    ENCRYPTED_CONTENT_TYPE,
    AccountStore,
    AuthFailed,
    CredSSPConnection,
    EncryptionFailed,
    KerberosConnection,
    KerberosKeys,
    NtlmConnection,
)

log = logging.getLogger(__name__)

#: cmd.exe refuses longer command lines; WinRM commands pass through it.
CMD_LINE_LIMIT = 8191
_DEFAULT_OPERATION_TIMEOUT_S = 60.0

Action = Literal[
    "Create", "Command", "Receive", "Signal", "Send", "Delete", "Fault", "Auth", "Drop"
]


class CommandIO(Protocol):
    """What a running command may do: write its two streams and watch for cancellation."""

    def write_stdout(self, text: str) -> None: ...
    def write_stderr(self, text: str) -> None: ...
    @property
    def cancelled(self) -> threading.Event: ...


class CommandHost(Protocol):
    """The simulated machine behind the listener.

    ``run`` is called in its own thread per command and returns the exit code. It should return
    soon after ``io.cancelled`` is set (Signal terminate/ctrl_c, Delete of the shell, stop).
    """

    def run(self, command: str, arguments: Sequence[str], io: CommandIO) -> int: ...


@dataclass(frozen=True)
class TranscriptEntry:
    """One thing the listener did, for tests and drill reports. Never holds a secret."""

    time: float
    action: Action
    shell_id: str | None
    command_id: str | None
    user: str | None
    detail: str


@dataclass
class TransportFaults:
    """Failures to inject; change them at any time, they apply to the next request."""

    #: close the TCP connection without answering every Nth request (counted from start).
    drop_every_nth_request: int | None = None
    #: close the TCP connection without answering, at random with this probability (a flaky
    #: host: "one request in five" is 0.2); seeded so a drill replays the same way.
    drop_probability: float = 0.0
    drop_seed: int = 2013
    #: answer 401 to every request, whatever the credentials.
    fail_auth: bool = False
    #: sleep this long before handling each request.
    delay_s: float = 0.0
    #: the network fails before the next answer leaves: the request was handled (a command's
    #: output taken), the TCP connection is closed instead of answering; cleared when it strikes
    drop_next_answer: bool = False


class _Command:
    """A command running in a shell; it is the CommandIO its host writes to."""

    def __init__(self, command_id: str, encoding: str, stopped: threading.Event) -> None:
        self.command_id = command_id
        self._encoding = encoding
        self._stopped = stopped
        self._cond = threading.Condition()
        self._chunks: list[tuple[str, bytes]] = []
        self._cancelled = threading.Event()
        self.exit_code: int | None = None

    @property
    def cancelled(self) -> threading.Event:
        return self._cancelled

    def write_stdout(self, text: str) -> None:
        self._write("stdout", text)

    def write_stderr(self, text: str) -> None:
        self._write("stderr", text)

    def _write(self, stream: str, text: str) -> None:
        if not text:
            return
        data = text.encode(self._encoding, errors="replace")
        with self._cond:
            self._chunks.append((stream, data))
            self._cond.notify_all()

    def cancel(self) -> None:
        self._cancelled.set()
        self.wake()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def finish(self, exit_code: int) -> None:
        with self._cond:
            self.exit_code = exit_code
            self._cond.notify_all()

    def take(self, timeout_s: float) -> tuple[list[tuple[str, bytes]], int | None] | None:
        """Buffered output (and the exit code once all is sent), or None after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not self._chunks and self.exit_code is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopped.is_set():
                    return None
                self._cond.wait(remaining)
            chunks, self._chunks = self._chunks, []
            return chunks, self.exit_code


@dataclass
class _Shell:
    shell_id: str
    encoding: str
    user: str | None
    commands: dict[str, _Command]
    last_used: float = 0.0  # monotonic: a shell idle longer than winrs IdleTimeout is deleted
    operations: int = 0  # commands run in it: they count against MaxConcurrentOperationsPerUser


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], wsman: WsmanServer, tls: ssl.SSLContext | None = None) -> None:
        self.wsman = wsman
        self.tls = tls
        super().__init__(address, _Handler)
        self._wake_r, self._wake_w = socket.socketpair()
        self._closing = False

    def serve_until_stopped(self) -> None:
        """socketserver's loop without its timer: serve_forever wakes every poll interval to look
        for a shutdown request (a lab of 200 listeners at 50 ms woke 4,000 times a second, 8 % of
        a core while idle); this one sleeps until a connection arrives or stop_serving wakes it."""
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._closing:
                for key, _ in selector.select():
                    if key.fileobj is self and not self._closing:
                        self._handle_request_noblock()  # type: ignore[attr-defined]  # what serve_forever calls
                self.service_actions()

    def stop_serving(self) -> None:
        """End serve_until_stopped (from another thread); it returns at once."""
        self._closing = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def server_close(self) -> None:
        super().server_close()
        for end in (self._wake_r, self._wake_w):
            end.close()

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        if self.tls is None:
            return sock, addr
        # the handshake runs in the connection's own thread (setup), never in the accept loop
        return self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


class _Handler(BaseHTTPRequestHandler):
    """One TCP connection: keep-alive, NTLM context per connection, one write per answer."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HttpServer

    def setup(self) -> None:
        self._tls_failed = False
        if isinstance(self.request, ssl.SSLSocket):
            try:
                self.request.settimeout(30)
                self.server.wsman._network_delay()  # the server's first flight crosses the network
                self.request.do_handshake()  # a client that distrusts the certificate ends it here
                self.request.settimeout(None)
            except (ssl.SSLError, OSError):
                self._tls_failed = True
        super().setup()
        #: the connection's authenticated security context (NTLM, Kerberos or CredSSP)
        self._security: NtlmConnection | KerberosConnection | CredSSPConnection | None = None
        self._basic_user: str | None = None
        self._mutual: str | None = None  # the Kerberos AP-REP to send with the next answer
        self.server.wsman._track(self.connection, add=True)

    def handle(self) -> None:
        if not self._tls_failed:
            super().handle()

    def finish(self) -> None:
        self.server.wsman._track(self.connection, add=False)
        super().finish()

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> None:
        self.server.wsman._network_delay()  # the answer crosses the network: one way, once
        lines = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
        lines += [f"{name}: {value}" for name, value in headers]
        lines += [f"Content-Length: {len(body)}", "Server: Microsoft-HTTPAPI/2.0"]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + body)  # one TCP write: no Nagle stall between head and body

    def _unauthorized(self, wsman: WsmanServer, challenge: str | None = None) -> None:
        if challenge is not None:
            offers = [("WWW-Authenticate", challenge)]
        else:
            offers = []
            if "ntlm" in wsman.auth or "kerberos" in wsman.auth:
                offers.append(("WWW-Authenticate", "Negotiate"))
            if "kerberos" in wsman.auth:
                offers.append(("WWW-Authenticate", "Kerberos"))
            if "credssp" in wsman.auth and self.server.tls is not None:
                offers.append(("WWW-Authenticate", "CredSSP"))
            if "basic" in wsman.auth:
                offers.append(("WWW-Authenticate", 'Basic realm="WSMAN"'))
        self._send(401, b"", offers)

    def do_POST(self) -> None:
        wsman = self.server.wsman
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if wsman._should_drop():
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if wsman.faults.delay_s > 0:
            time.sleep(wsman.faults.delay_s)
        user = self._authenticate(wsman)
        if user is None:
            return
        sealed = (self.headers.get("Content-Type") or "").startswith("multipart/encrypted")
        security = self._security
        if sealed:
            if not isinstance(security, (NtlmConnection, KerberosConnection)):
                self._send(400, b"")
                return
            try:
                message = security.unseal(body)
                wsman._count_sealed()
            except EncryptionFailed as exc:
                wsman._record("Fault", None, None, user, f"encryption: {exc}")
                self._send(400, b"")
                return
        elif not body:  # pywinrm's empty POST that sets up the encrypted session
            self._send(200, b"", [("WWW-Authenticate", self._mutual)] if self._mutual else [])
            self._mutual = None
            return
        elif self.server.tls is None and not wsman.allow_unencrypted:
            wsman._record("Auth", None, None, user, "unencrypted body over http refused (AllowUnencrypted=false)")
            self._unauthorized(wsman)
            return
        else:
            message = body
        if security is not None and security.user == user:
            wsman._logon.value = NetworkLogon(user, security.method, security.delegated)
        else:  # Basic: a clear-text logon, which holds the password (it can reach other hosts)
            wsman._logon.value = NetworkLogon(user, "basic", True)
        if len(message) > wsman.max_envelope_size_kb * 1024:
            wsman._record("Fault", None, None, user, f"envelope over {wsman.max_envelope_size_kb} KB")
            status, answer = 500, soap.envelope_too_large_fault("", wsman.host_name)
        else:
            status, answer = wsman._dispatch(message, user)
        content_type = "application/soap+xml;charset=UTF-8"
        if sealed and isinstance(security, (NtlmConnection, KerberosConnection)):
            answer = security.seal(answer)
            content_type = ENCRYPTED_CONTENT_TYPE
        if wsman._should_drop_answer():  # the network failed while the request was in flight
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        headers = [("Content-Type", content_type)]
        if self._mutual is not None:
            headers.append(("WWW-Authenticate", self._mutual))
            self._mutual = None
        self._send(status, answer, headers)

    def _authenticate(self, wsman: WsmanServer) -> str | None:
        """The authenticated user, or None after answering 401 (challenge or refusal)."""
        header = self.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        scheme_l = scheme.lower()
        if wsman.faults.fail_auth:
            wsman._record("Auth", None, None, None, "refused (fault injected)")
            self._unauthorized(wsman)
            return None
        if scheme_l == "basic" and "basic" in wsman.auth:
            try:
                user = wsman._store.check_basic(header)
            except AuthFailed:
                wsman._record("Auth", None, None, None, "basic refused")
                self._unauthorized(wsman)
                return None
            if user != self._basic_user:
                self._basic_user = user
                wsman._record("Auth", None, None, user, "basic")
            return user
        token = token.strip()
        if scheme_l in ("negotiate", "kerberos") and "kerberos" in wsman.auth and not _is_ntlm(token):
            return self._kerberos(wsman, scheme, token)
        if scheme_l in ("negotiate", "ntlm") and "ntlm" in wsman.auth:
            return self._ntlm_step(wsman, scheme, token)
        if scheme_l == "credssp" and "credssp" in wsman.auth and self.server.tls is not None:
            return self._credssp(wsman, token)
        if not header and self._security is not None and self._security.user is not None:
            return self._security.user  # the connection is already authenticated
        self._unauthorized(wsman)
        return None

    def _ntlm_step(self, wsman: WsmanServer, scheme: str, token: str) -> str | None:
        if not isinstance(self._security, NtlmConnection):
            self._security = NtlmConnection(wsman._store)
        try:
            challenge = self._security.step(token)
        except AuthFailed as exc:
            wsman._record("Auth", None, None, None, f"ntlm refused: {exc}")
            self._unauthorized(wsman)
            return None
        if challenge is not None:
            self._unauthorized(wsman, f"{scheme} {challenge}")
            return None
        wsman._record("Auth", None, None, self._security.user, "ntlm")
        return self._security.user

    def _kerberos(self, wsman: WsmanServer, scheme: str, token: str) -> str | None:
        if wsman.kerberos is None:
            self._unauthorized(wsman)
            return None
        connection = KerberosConnection(wsman._store, wsman.kerberos)
        try:
            reply = connection.step(token)
        except AuthFailed as exc:
            wsman._record("Auth", None, None, None, f"kerberos refused: {exc}")
            self._unauthorized(wsman)
            return None
        self._security = connection
        self._mutual = f"{scheme} {reply}" if reply else None
        wsman._record("Auth", None, None, connection.user,
                      "kerberos (ticket forwarded)" if connection.delegated else "kerberos")
        return connection.user

    def _credssp(self, wsman: WsmanServer, token: str) -> str | None:
        if not isinstance(self._security, CredSSPConnection) or self._security.user is not None:
            self._security = CredSSPConnection(wsman._store, wsman.kerberos, wsman._credssp_tls())
        try:
            reply = self._security.step(token)
        except AuthFailed as exc:
            wsman._record("Auth", None, None, None, f"credssp refused: {exc}")
            self._security = None
            self._unauthorized(wsman)
            return None
        if self._security.user is None:
            self._unauthorized(wsman, f"CredSSP {reply or ''}".strip())
            return None
        wsman._record("Auth", None, None, self._security.user,
                      "credssp (credentials delegated)" if self._security.delegated else "credssp")
        return self._security.user


def _is_ntlm(token: str) -> bool:
    """Is this Negotiate token raw NTLM (``NTLMSSP\\0``), rather than Kerberos?"""
    return token.startswith("TlRMTVNTUA")  # base64 of b"NTLMSSP"


class WsmanServer:
    """One simulated Windows host serving WS-Management on ``bind:port`` (0 = any free)."""

    def __init__(
        self,
        host_name: str,
        command_host: CommandHost,
        users: Mapping[str, str],
        *,
        auth: Collection[str] = ("basic", "ntlm"),
        bind: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        allow_unencrypted: bool = False,
        max_shells_per_user: int = 30,
        idle_timeout_s: float = 7200.0,
        kerberos: KerberosKeys | None = None,
        max_operations_per_user: int = 1500,
        max_envelope_size_kb: int = 500,
        latency_s: float = 0.0,
    ) -> None:
        """``tls``: serve HTTPS with this context (the host's certificate, lab/tls.py), as a
        WinRM HTTPS listener does on 5986; None: plain HTTP (5985). ``allow_unencrypted``: the
        service's AllowUnencrypted setting (Windows' default: false): over plain HTTP a SOAP body
        that is not sealed (Basic, or NTLM without message encryption) is refused with 401.
        ``max_shells_per_user`` and ``idle_timeout_s``: winrs MaxShellsPerUser (WinRM 3.0
        default 30; one more Create is a wsman:QuotaLimit fault) and IdleTimeout (7,200,000 ms:
        a shell nobody used for that long is deleted; naming it then is "shell not found").
        ``max_operations_per_user``: MaxConcurrentOperationsPerUser (1500; every command a shell
        ran counts until the shell is deleted); ``max_envelope_size_kb``: MaxEnvelopeSizekb (500: a
        larger request is a wsman:EncodingLimit fault); ``kerberos``: the service keys Kerberos
        tickets are accepted with (lab/kerberos.py); ``latency_s``: the network's one-way delay
        of every answer (the module docstring)."""
        unknown = set(auth) - {"basic", "ntlm", "kerberos", "credssp"}
        if unknown:
            raise ValueError(f"unsupported lab authentication: {sorted(unknown)}")
        self.host_name = host_name
        self.command_host = command_host
        self.auth = frozenset(auth)
        self.faults = TransportFaults()
        #: the one-way network delay of every answer (seconds; change it at any time)
        self.latency_s = latency_s
        self.tls = tls
        self.kerberos = kerberos
        self.allow_unencrypted = allow_unencrypted
        #: the logon of the request a handler thread is serving (read by ``_command``)
        self._logon = threading.local()
        self._credssp_context: Any = None
        self.max_shells_per_user = max_shells_per_user
        self.idle_timeout_s = idle_timeout_s
        self.max_operations_per_user = max_operations_per_user
        self.max_envelope_size_kb = max_envelope_size_kb
        self._bind = bind
        self._port = port
        self._store = AccountStore(users)
        self._lock = threading.Lock()
        self._shells: dict[str, _Shell] = {}
        self._transcript: list[TranscriptEntry] = []
        self._connections: set[socket.socket] = set()
        self._requests = 0
        self._drop_rng: random.Random | None = None
        self._sealed = 0
        self._stopped = threading.Event()
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> WsmanServer:
        if self._httpd is not None:
            return self
        self._stopped.clear()
        self._store.open()
        self._httpd = _HttpServer((self._bind, self._port), self, self.tls)
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_until_stopped,
            name=f"wsman-{self.host_name}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopped.set()
        with self._lock:
            shells = list(self._shells.values())
            self._shells.clear()
            connections = list(self._connections)
        for shell in shells:
            for command in shell.commands.values():
                command.cancel()
        httpd.stop_serving()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        self._store.close()

    def __enter__(self) -> WsmanServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"{'https' if self.tls is not None else 'http'}://{self._bind}:{self._port}/wsman"

    # -- inspection and faults ---------------------------------------------------------------

    @property
    def transcript(self) -> list[TranscriptEntry]:
        with self._lock:
            return list(self._transcript)

    def open_shells(self) -> set[str]:
        with self._lock:
            return set(self._shells)

    def drop_shells(self) -> None:
        """Forget every shell, as a restarted WinRM service would; their commands are cancelled."""
        with self._lock:
            shells = list(self._shells.values())
            self._shells.clear()
        for shell in shells:
            for command in shell.commands.values():
                command.cancel()
        self._record("Drop", None, None, None, f"{len(shells)} shell(s) dropped")

    # -- internals used by the handler -------------------------------------------------------

    def _credssp_tls(self) -> Any:
        """The CredSSP acceptor's inner TLS identity (a self-signed certificate, as the WinRM
        service makes for CredSSP), made once per listener."""
        with self._lock:
            if self._credssp_context is None:
                from spnego._credssp import _create_tls_context

                self._credssp_context = _create_tls_context("accept")
            return self._credssp_context

    @property
    def requests(self) -> int:
        """How many HTTP requests arrived (every POST: authentication rounds, dropped ones too)."""
        with self._lock:
            return self._requests

    def _network_delay(self) -> None:
        if self.latency_s > 0:
            time.sleep(self.latency_s)

    @property
    def sealed_requests(self) -> int:
        """How many requests arrived NTLM-sealed (``multipart/encrypted``) and opened fine."""
        with self._lock:
            return self._sealed

    def _count_sealed(self) -> None:
        with self._lock:
            self._sealed += 1

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _should_drop(self) -> bool:
        with self._lock:
            self._requests += 1
            nth = self.faults.drop_every_nth_request
            drop = bool(nth) and self._requests % int(nth or 1) == 0
            if self.faults.drop_probability > 0:
                if self._drop_rng is None:
                    self._drop_rng = random.Random(self.faults.drop_seed)
                drop = drop or self._drop_rng.random() < self.faults.drop_probability
        if drop:
            detail = f"connection dropped (request {self._requests})"
            self._record("Fault", None, None, None, detail)
        return drop

    def _should_drop_answer(self) -> bool:
        with self._lock:
            drop, self.faults.drop_next_answer = self.faults.drop_next_answer, False
        if drop:
            self._record("Fault", None, None, None, "connection dropped before the answer (request in flight)")
        return drop

    def _record(
        self,
        action: Action,
        shell_id: str | None,
        command_id: str | None,
        user: str | None,
        detail: str,
    ) -> None:
        entry = TranscriptEntry(time.time(), action, shell_id, command_id, user, detail)
        with self._lock:
            self._transcript.append(entry)

    def _dispatch(self, message: bytes, user: str) -> tuple[int, bytes]:
        """Handle one authenticated SOAP request; (HTTP status, response envelope)."""
        try:
            request = soap.parse_request(message)
            handler = {
                soap.ACTION_CREATE: self._create,
                soap.ACTION_COMMAND: self._command,
                soap.ACTION_RECEIVE: self._receive,
                soap.ACTION_SIGNAL: self._signal,
                soap.ACTION_SEND: self._send_input,
                soap.ACTION_DELETE: self._delete,
            }.get(request.action)
            if handler is None:
                raise soap.SoapError(f"unsupported action {request.action}")
            return handler(request, user)
        except soap.SoapError as exc:
            self._record("Fault", None, None, user, str(exc))
            return 500, soap.bad_request_fault("", self.host_name, str(exc))

    def _shell_or_fault(self, request: WsmanRequest, user: str) -> _Shell | tuple[int, bytes]:
        with self._lock:
            self._reap_idle()
            shell = self._shells.get(request.shell_id or "")
            if shell is not None:
                shell.last_used = time.monotonic()
        if shell is None:
            self._record("Fault", request.shell_id, None, user, "shell not found")
            return 500, soap.shell_not_found_fault(
                request.message_id, self.host_name, request.shell_id or ""
            )
        return shell

    def _reap_idle(self) -> None:
        """Delete the shells idle longer than IdleTimeout (call with the lock held)."""
        now = time.monotonic()
        for shell_id in [s.shell_id for s in self._shells.values()
                         if all(c.exit_code is not None for c in s.commands.values())
                         and now - s.last_used > self.idle_timeout_s]:
            del self._shells[shell_id]

    def _create(self, request: WsmanRequest, user: str) -> tuple[int, bytes]:
        codepage = request.options.get("WINRS_CODEPAGE", "437")
        encoding = "utf-8" if codepage == "65001" else "cp437"
        shell_id = str(uuid.uuid4()).upper()
        with self._lock:
            self._reap_idle()
            if sum(s.user == user for s in self._shells.values()) >= self.max_shells_per_user:
                full = True
            else:
                full = False
                self._shells[shell_id] = _Shell(shell_id, encoding, user, {}, time.monotonic())
        if full:
            self._record("Fault", None, None, user, f"quota: {self.max_shells_per_user} shells per user")
            return 500, soap.quota_max_shells_fault(request.message_id, self.host_name, self.max_shells_per_user)
        self._record("Create", shell_id, None, user, f"codepage {codepage}")
        return 200, soap.create_response(request, self.url, shell_id)

    def _command(self, request: WsmanRequest, user: str) -> tuple[int, bytes]:
        shell = self._shell_or_fault(request, user)
        if not isinstance(shell, _Shell):
            return shell
        command, arguments = soap.command_line_of(request.body)
        command_id = str(uuid.uuid4()).upper()
        running = _Command(command_id, shell.encoding, self._stopped)
        with self._lock:
            # every command a shell ran counts until the shell is deleted (MaxConcurrentOperationsPerUser)
            used = sum(s.operations for s in self._shells.values() if s.user == user)
            allowed = used < self.max_operations_per_user
            if allowed:
                shell.operations += 1
                shell.commands[command_id] = running
        if not allowed:
            self._record("Fault", shell.shell_id, None, user,
                         f"quota: {self.max_operations_per_user} operations per user")
            return 500, soap.quota_max_operations_fault(request.message_id, self.host_name,
                                                        self.max_operations_per_user)
        script = soap.decode_powershell(command, arguments)
        line = " ".join((command, *arguments))
        detail = script if script is not None else line
        self._record("Command", shell.shell_id, command_id, user, detail)
        logon = getattr(self._logon, "value", None)  # who asked: the command runs under that logon
        threading.Thread(
            target=self._run, args=(running, command, arguments, len(line), logon),
            name=f"wsman-cmd-{command_id[:8]}", daemon=True,
        ).start()
        return 200, soap.command_response(request, command_id)

    def _run(self, running: _Command, command: str, arguments: list[str], length: int,
             logon: NetworkLogon | None = None) -> None:
        SESSION.set(logon)  # this thread's own context: what lab/identity.py checks
        if length > CMD_LINE_LIMIT:
            running.write_stderr("The command line is too long.\r\n")
            running.finish(1)
            return
        try:
            exit_code = self.command_host.run(command, arguments, running)
        except Exception as exc:  # the host is lab code: its crash becomes a failed command
            log.exception("lab host %s crashed running a command", self.host_name)
            running.write_stderr(f"The lab host failed: {type(exc).__name__}: {exc}\r\n")
            exit_code = 1
        running.finish(exit_code)

    def _command_of(self, shell: _Shell, command_id: str) -> _Command | None:
        with self._lock:
            return shell.commands.get(command_id)

    def _receive(self, request: WsmanRequest, user: str) -> tuple[int, bytes]:
        shell = self._shell_or_fault(request, user)
        if not isinstance(shell, _Shell):
            return shell
        command_id = soap.receive_command_id(request.body)
        running = self._command_of(shell, command_id)
        if running is None:
            raise soap.SoapError(f"no command {command_id} in shell {shell.shell_id}")
        timeout = request.operation_timeout_s
        if timeout is None:
            timeout = _DEFAULT_OPERATION_TIMEOUT_S
        taken = running.take(timeout)
        if taken is None:
            self._record("Fault", shell.shell_id, command_id, user, "operation timeout")
            return 500, soap.operation_timeout_fault(request.message_id, self.host_name)
        chunks, exit_code = taken
        detail = f"{len(chunks)} chunk(s)" + ("" if exit_code is None else f", done {exit_code}")
        self._record("Receive", shell.shell_id, command_id, user, detail)
        return 200, soap.receive_response(request, command_id, chunks, exit_code)

    def _signal(self, request: WsmanRequest, user: str) -> tuple[int, bytes]:
        shell = self._shell_or_fault(request, user)
        if not isinstance(shell, _Shell):
            return shell
        command_id, code = soap.signal_of(request.body)
        running = self._command_of(shell, command_id)
        if running is not None and code in (soap.SIGNAL_TERMINATE, soap.SIGNAL_CTRL_C):
            running.cancel()
            if code == soap.SIGNAL_TERMINATE:
                with self._lock:
                    shell.commands.pop(command_id, None)
        self._record("Signal", shell.shell_id, command_id, user, code.rsplit("/", 1)[-1])
        return 200, soap.signal_response(request)

    def _send_input(self, request: WsmanRequest, user: str) -> tuple[int, bytes]:
        shell = self._shell_or_fault(request, user)
        if not isinstance(shell, _Shell):
            return shell
        command_id, data, end = soap.send_input_of(request.body)
        self._record("Send", shell.shell_id, command_id, user, f"{len(data)} byte(s), end={end}")
        return 200, soap.send_response(request)

    def _delete(self, request: WsmanRequest, user: str) -> tuple[int, bytes]:
        shell = self._shell_or_fault(request, user)
        if not isinstance(shell, _Shell):
            return shell
        with self._lock:
            self._shells.pop(shell.shell_id, None)
        for running in shell.commands.values():
            running.cancel()
        self._record("Delete", shell.shell_id, None, user, "")
        return 200, soap.delete_response(request)


WsmanRequest = soap.WsmanRequest
