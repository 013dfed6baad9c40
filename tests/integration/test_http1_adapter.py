"""The runner's HTTP/1.1 adapter (wizard/remote/http1.py) over real sockets.

Two kinds of server: the lab's WS-Management listener (TLS from the lab CA, NTLM, Basic), and a
small HTTP/1.1 server written here that answers each request with bytes a test chooses, for the
framings RFC 9112 allows that the lab's listener never sends (chunked, gzip, read to close, an
interim 100, a folded header) and for a server that misbehaves (closes mid-answer, never
answers, closes an idle connection). Each answer is checked as requests itself would give it.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import platform
import socket
import ssl
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from requests_ntlm import HttpNtlmAuth

from lab.tls import LabCA
from lab.wsman import WsmanServer
from lab.wsman.toyhost import ToyHost
from wizard.remote.errors import (
    ConnectionLostError,
    HostUnreachableError,
    RemoteTimeoutError,
    TlsError,
    map_winrm_exception,
)
from wizard.remote.http1 import Http1Adapter
from wizard.remote.winrm import PowerShellRunner, WinRMEndpoint, tls_context

FQDN = "fe01.contoso.com"
USER, PASSWORD = "CONTOSO\\lyncadmin", "Lab-Only-Pa55"

Answer = Callable[[bytes], bytes | None]  # request head + body -> bytes to send (None: hang up)


class _AndClose(bytes):
    """An answer after which the server closes the connection."""


class _Server:
    """Accepts connections; answers each request on it with the next scripted answer."""

    def __init__(self, answers: list[Answer]) -> None:
        self.answers = answers
        self.requests: list[bytes] = []
        self.accepted = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._serving: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._conns.append(conn)
            serving = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._serving.append(serving)
            serving.start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while self.answers:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buf) < length:
                    buf += conn.recv(65536)
                request, buf = head + b"\r\n\r\n" + buf[:length], buf[length:]
                self.requests.append(request)
                answer = self.answers.pop(0)(request)
                if answer is None:
                    return  # hang up
                conn.sendall(answer)
                if isinstance(answer, _AndClose):
                    return

    def close(self) -> None:
        """End every thread before closing what it waits on. A close alone does not wake a thread
        blocked in accept() or recv(), and when the kernel restarts that call (a stop and continue
        of the process does) it looks the descriptor's number up again: by then another socket
        may hold it, and the thread takes a connection meant for it. That is how a later test
        lost its first connection to the lab's fe01 listener (test_wsman_kerberos, in CI)."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() with EINVAL
        self._accepting.join(timeout=5)
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # wakes a recv() with end of file
        for serving in self._serving:
            serving.join(timeout=5)
        self.sock.close()
        for conn in self._conns:
            conn.close()
        left = [t for t in (self._accepting, *self._serving) if t.is_alive()]
        assert not left, f"the test server left {len(left)} thread(s) waiting on its sockets"


@contextmanager
def _server(*answers: Answer) -> Iterator[_Server]:
    srv = _Server(list(answers))
    try:
        yield srv
    finally:
        srv.close()


def _fixed(raw: bytes) -> Answer:
    return lambda _request: raw


def _ok(body: bytes, *extra: str) -> Answer:
    head = "".join(f"{h}\r\n" for h in extra)
    return _fixed(f"HTTP/1.1 200 OK\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)


def _session(adapter: Http1Adapter | None = None) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    adapter = adapter or Http1Adapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _post(session: requests.Session, port: int, body: bytes = b"<e/>", **kwargs: object) -> requests.Response:
    return session.post(f"http://127.0.0.1:{port}/wsman", data=body, timeout=(2, 2), **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- framing


def test_one_connection_carries_every_request_and_the_request_is_what_requests_would_send() -> None:
    with _server(_ok(b"one"), _ok(b"two"), _ok(b"three")) as srv:
        session = _session()
        got = [_post(session, srv.port, f"<m{i}/>".encode()).content for i in range(3)]
        assert got == [b"one", b"two", b"three"]
        assert srv.accepted == 1
        first = srv.requests[0]
        assert first.startswith(b"POST /wsman HTTP/1.1\r\n")
        assert f"Host: 127.0.0.1:{srv.port}\r\n".encode() in first
        assert b"Content-Length: 5\r\n" in first and first.endswith(b"<m0/>")


def test_chunked_gzip_and_folded_headers_read_as_requests_reads_them() -> None:
    payload = b"<s:Envelope>" + b"x" * 5000 + b"</s:Envelope>"
    packed = gzip.compress(payload)
    chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(packed[i:i + 700]), packed[i:i + 700])
                      for i in range(0, len(packed), 700))
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n"
               b"X-Folded: first\r\n  second\r\nContent-Type: application/soap+xml;charset=UTF-8\r\n\r\n"
               + chunks + b"0\r\nX-Trailer: t\r\n\r\n")
    with _server(_fixed(chunked), _ok(b"after")) as srv:
        session = _session()
        response = _post(session, srv.port)
        assert response.content == payload
        assert response.headers["x-folded"] == "first second"
        assert response.encoding == "UTF-8"
        assert _post(session, srv.port).content == b"after"  # the framing left the stream aligned
        assert srv.accepted == 1


def test_an_interim_100_is_skipped_and_repeated_headers_are_joined() -> None:
    raw = (b"HTTP/1.1 100 Continue\r\n\r\n"
           b"HTTP/1.1 200 OK\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: Basic realm=\"WSMAN\"\r\n"
           b"Content-Length: 2\r\n\r\nok")
    with _server(_fixed(raw)) as srv:
        response = _post(_session(), srv.port)
        assert (response.status_code, response.content) == (200, b"ok")
        assert response.headers["WWW-Authenticate"] == 'Negotiate, Basic realm="WSMAN"'


def test_an_answer_read_to_the_close_ends_the_connection_and_the_next_request_opens_one() -> None:
    with _server(_fixed(_AndClose(b"HTTP/1.0 200 OK\r\n\r\nall of it")), _ok(b"fresh")) as srv:
        session = _session()
        assert _post(session, srv.port).content == b"all of it"
        assert _post(session, srv.port).content == b"fresh"
        assert srv.accepted == 2


def test_connection_close_is_honoured() -> None:
    close = _AndClose(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye")
    with _server(_fixed(close), _ok(b"again")) as srv:
        session = _session()
        assert _post(session, srv.port).content == b"bye"
        assert _post(session, srv.port).content == b"again"
        assert srv.accepted == 2


def test_an_idle_connection_the_server_closed_is_replaced_before_sending() -> None:
    with _server(_ok(b"first"), _ok(b"second")) as srv:
        session = _session()
        assert _post(session, srv.port).content == b"first"
        for conn in srv._conns:  # the server closes the idle connection (its keep-alive time)
            conn.shutdown(socket.SHUT_RDWR)
        time.sleep(0.2)
        assert _post(session, srv.port).content == b"second"
        assert srv.accepted == 2
        assert len(srv.requests) == 2  # nothing was lost on the dead connection


def test_set_cookie_is_kept_in_the_sessions_jar_and_sent_back() -> None:
    with _server(_ok(b"a", "Set-Cookie: lb=node2; Path=/"), _ok(b"b")) as srv:
        session = _session()
        _post(session, srv.port)
        assert session.cookies.get("lb") == "node2"
        _post(session, srv.port)
        assert b"Cookie: lb=node2\r\n" in srv.requests[1]


def test_a_proxied_request_takes_requests_stock_adapter() -> None:
    """The runner names no proxy; a caller that does gets requests' own behaviour: the request
    goes to the proxy in absolute form."""
    with _server(_ok(b"via proxy")) as proxy:
        response = _session().post("http://fe01.contoso.com:5985/wsman", data=b"x", timeout=(2, 2),
                                   proxies={"http": f"http://127.0.0.1:{proxy.port}"})
        assert response.content == b"via proxy"
        assert proxy.requests[0].startswith(b"POST http://fe01.contoso.com:5985/wsman HTTP/1.1\r\n")


# -------------------------------------------------------------------------------- failure


def test_a_server_closing_mid_answer_is_a_lost_connection_with_its_cause() -> None:
    with _server(_fixed(_AndClose(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"))) as srv:
        session = _session()
        with pytest.raises(requests.exceptions.ConnectionError) as info:
            _post(session, srv.port)
        failure = map_winrm_exception(info.value, FQDN, srv.port)
        assert isinstance(failure, ConnectionLostError)
        assert "closed the connection unexpectedly" in failure.message


def test_a_server_that_never_answers_is_a_read_timeout() -> None:
    hang = threading.Event()

    def never(_request: bytes) -> bytes | None:
        hang.wait(5)
        return None

    with _server(never) as srv:
        with pytest.raises(requests.exceptions.ReadTimeout) as info:
            _session().post(f"http://127.0.0.1:{srv.port}/wsman", data=b"x", timeout=(2, 0.3))
        failure = map_winrm_exception(info.value, FQDN, srv.port, read_timeout_s=0.3)
        assert isinstance(failure, RemoteTimeoutError) and "did not answer within 0.3 s" in failure.message
        hang.set()


def test_a_refused_connection_says_so() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: the kernel refuses
        with pytest.raises(requests.exceptions.ConnectionError) as info:
            _post(_session(), port)
    failure = map_winrm_exception(info.value, FQDN, port)
    assert isinstance(failure, HostUnreachableError) and "refused the connection" in failure.message


def test_a_listener_ending_the_tls_handshake_is_named_as_such() -> None:
    """A server that reads the ClientHello and hangs up (a listener without a usable certificate,
    a TLS inspection box refusing) is not a plain-HTTP port: the sentence says which."""
    def hang_up(sock: socket.socket) -> None:
        conn, _ = sock.accept()
        with conn, conn.makefile("rb") as stream:
            header = stream.read(5)  # the ClientHello record, read whole: the close is a FIN, not a reset
            stream.read(int.from_bytes(header[3:5], "big"))

    with socket.create_server(("127.0.0.1", 0)) as listener:
        hanging_up = threading.Thread(target=hang_up, args=(listener,), daemon=True)
        hanging_up.start()
        port = listener.getsockname()[1]
        session = _session(Http1Adapter(tls=tls_context(None), server_hostname=FQDN))
        with pytest.raises(requests.exceptions.RequestException) as info:
            session.post(f"https://127.0.0.1:{port}/wsman", data=b"", timeout=(2, 2))
        hanging_up.join(timeout=5)  # never left in accept() on a closed listener (see _Server.close)
        assert not hanging_up.is_alive()
    failure = map_winrm_exception(info.value, FQDN, port)
    assert isinstance(failure, TlsError), failure
    assert "closed the connection during the TLS handshake" in failure.message


def test_a_garbled_status_line_is_refused_not_parsed() -> None:
    with _server(_fixed(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")) as srv, \
            pytest.raises(requests.exceptions.ConnectionError, match="not an HTTP"):
        _post(_session(), srv.port)


def test_a_header_value_with_a_line_break_is_never_sent() -> None:
    with _server(_ok(b"never")) as srv:
        session = _session()
        request = requests.Request("POST", f"http://127.0.0.1:{srv.port}/wsman", data=b"x").prepare()
        request.headers["X-Evil"] = "a\r\nInjected: 1"
        with pytest.raises(requests.exceptions.InvalidHeader):
            session.get_adapter(str(request.url)).send(request, timeout=(2, 2))
        assert srv.requests == []


# ---------------------------------------------------------------------------- TLS and NTLM


@pytest.fixture()
def ca(tmp_path: Path) -> LabCA:
    return LabCA(tmp_path / "ca")


def test_tls_names_the_fqdn_and_a_401_carries_the_certificate_ntlm_binds_to(ca: LabCA) -> None:
    """requests_ntlm binds NTLM to the server certificate it reads from the 401's socket (channel
    binding); through this adapter it reads the same certificate the listener presents."""
    with WsmanServer(FQDN, ToyHost(), {USER: PASSWORD}, tls=ca.server_context(FQDN)) as srv:
        adapter = Http1Adapter(tls=tls_context(str(ca.bundle)), server_hostname=FQDN)
        session = _session(adapter)
        response = session.post(f"https://127.0.0.1:{srv.port}/wsman", data=b"", timeout=(2, 5))
        assert response.status_code == 401
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # requests_ntlm warns when it cannot find the socket
            bound = HttpNtlmAuth(USER, PASSWORD)._get_server_cert(response)
        der = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate(("127.0.0.1", srv.port)))
        assert bound == hashlib.sha256(der).digest()
        # a name the certificate does not carry is refused before anything is sent
        wrong = _session(Http1Adapter(tls=tls_context(str(ca.bundle)), server_hostname="fe99.contoso.com"))
        with pytest.raises(requests.exceptions.SSLError) as info:
            wrong.post(f"https://127.0.0.1:{srv.port}/wsman", data=b"", timeout=(2, 5))
        assert isinstance(map_winrm_exception(info.value, "fe99.contoso.com", srv.port), TlsError)


def test_ntlm_over_https_and_sealed_over_http_run_on_one_connection_each(
        ca: LabCA, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's whole conversation (the Negotiate legs, Create, Command, Receive, Signal,
    Delete) goes over one TCP connection per host, over TLS and over plain HTTP with NTLM
    sealing (pywinrm's blank first message authenticates that same connection)."""
    with WsmanServer(FQDN, ToyHost(), {USER: PASSWORD}, tls=ca.server_context(FQDN)) as tls_srv, \
            WsmanServer(FQDN, ToyHost(), {USER: PASSWORD}) as plain_srv:
        for srv, scheme in ((tls_srv, "https"), (plain_srv, "http")):
            endpoint = WinRMEndpoint(FQDN, address="127.0.0.1", port=srv.port, scheme=scheme,  # type: ignore[arg-type]
                                     auth="ntlm", ca_bundle=str(ca.bundle), insecure=scheme == "http")
            connections: list[object] = []
            real = Http1Adapter._connection

            def counting(self: Http1Adapter, *args: Any, _real: Any = real,
                         _seen: list[object] = connections) -> object:
                sock = _real(self, *args)
                if not any(sock is s for s in _seen):
                    _seen.append(sock)
                return sock

            monkeypatch.setattr(Http1Adapter, "_connection", counting)
            with PowerShellRunner(endpoint, USER, PASSWORD, connect_timeout_s=5) as runner:
                assert runner.run("Write-Output 'one'", deadline_s=20).stdout.strip() == "one"
                assert runner.run("Write-Output 'two'", deadline_s=20).stdout.strip() == "two"
            monkeypatch.undo()
            assert len(connections) == 1, scheme
            assert sum(t.action == "Auth" for t in srv.transcript) == 1, scheme


def test_hosts_trusting_one_unchanged_ca_file_share_one_tls_context(ca: LabCA, tmp_path: Path) -> None:
    """Reading a CA file costs tens of milliseconds; 200 hosts share the one context, and a
    rewritten file (a CA added mid-incident) is read again and trusted at once."""
    other = LabCA(tmp_path / "other")
    bundle = tmp_path / "trust.pem"
    bundle.write_bytes(other.bundle.read_bytes())  # not the CA that signed the listener's cert
    first = tls_context(str(bundle))
    assert tls_context(str(bundle)) is first
    with WsmanServer(FQDN, ToyHost(), {USER: PASSWORD}, tls=ca.server_context(FQDN)) as srv:
        url = f"https://127.0.0.1:{srv.port}/wsman"
        with pytest.raises(requests.exceptions.SSLError):
            _session(Http1Adapter(tls=first, server_hostname=FQDN)).post(url, data=b"", timeout=(2, 5))
        bundle.write_bytes(other.bundle.read_bytes() + ca.bundle.read_bytes())
        second = tls_context(str(bundle))
        assert second is not first
        response = _session(Http1Adapter(tls=second, server_hostname=FQDN)).post(url, data=b"", timeout=(2, 5))
        assert response.status_code == 401  # TLS done; the listener asks who we are


_ACCEPT_CALLS = {"x86_64": {"43", "288"}, "aarch64": {"202", "242"}}  # accept, accept4


def _in_accept(thread: threading.Thread) -> bool:
    """Is ``thread`` inside accept() now (Linux names a task's current system call in /proc)?"""
    try:
        number = Path(f"/proc/self/task/{thread.native_id}/syscall").read_text(encoding="ascii").split()[0]
    except (OSError, IndexError):
        return False
    return number in _ACCEPT_CALLS.get(platform.machine(), set())


@pytest.mark.skipif(platform.machine() not in _ACCEPT_CALLS or not Path("/proc/self/task").is_dir(),
                    reason="reads a thread's system call from Linux's /proc (x86-64 or arm64)")
def test_a_closed_test_server_leaves_no_thread_to_take_another_listeners_connection() -> None:
    """What once failed a later test in CI (see ``_Server.close``): a thread left in accept() on
    the closed listener took, once the kernel restarted its call, the first connection to the
    next socket given the same descriptor number. A stop and continue of this process restarts
    every blocked call; the new listener must still get its own connection."""
    with _server(_ok(b"one")) as srv:
        assert _post(_session(), srv.port).content == b"one"
        deadline = time.monotonic() + 5
        while not _in_accept(srv._accepting) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _in_accept(srv._accepting)  # its loop waits in accept() again as the server closes
    with socket.create_server(("127.0.0.1", 0)) as listener:  # most often the number just freed
        subprocess.run(["sh", "-c", 'kill -STOP "$1"; sleep 0.2; kill -CONT "$1"', "sh", str(os.getpid())],
                       check=True, timeout=30)
        with socket.create_connection(listener.getsockname(), timeout=5):
            time.sleep(0.3)  # time for a leftover thread to take it (none must be left)
            listener.settimeout(2)
            conn, _ = listener.accept()  # times out when a leftover thread took it
            conn.close()
