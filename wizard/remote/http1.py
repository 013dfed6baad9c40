"""One persistent HTTP/1.1 connection per WinRM endpoint, as a requests transport adapter.

pywinrm speaks to one URL over one keep-alive connection (NTLM, Kerberos and CredSSP
authenticate the connection), one request at a time. requests' stock adapter reaches it through
urllib3's pool manager, its connection pool, its retry and timeout objects and ``http.client``'s
e-mail header parser: about 250 µs of interpreter time a request here, against 30 µs for the
exchange itself. Two hundred hosts probed at once pay that in series under the interpreter lock
(#20 item 4), so the runner's session mounts this adapter instead.

It keeps what the stock path does for a WinRM conversation:

- requests' session, its auth handlers and their response hooks (the Negotiate and CredSSP
  handshakes send their next leg through ``response.connection``, which is this adapter);
- TLS with the runner's context, the host's FQDN sent as SNI and checked against its
  certificate; a 401 over TLS carries the server certificate where requests_ntlm reads it for
  channel binding;
- a connection the server closed while idle is replaced before the next request, never after
  a request was sent (a request is never sent twice: the runner decides what may be retried);
- requests' exceptions with the socket's or TLS's error as their cause, so
  :func:`wizard.remote.errors.map_winrm_exception` says the same sentences;
- ``Content-Length``, chunked and read-until-close bodies; gzip and deflate decoded;
  ``Set-Cookie`` kept in the session's jar.

Requests through a proxy or with a client certificate (the runner makes neither: the plan names
no proxy and WinRM certificate logons are not offered) take requests' stock adapter, whose TLS
follows the session's ``verify``.
"""

from __future__ import annotations

import contextlib
import email.parser
import http.client
import select
import socket
import ssl
import threading
import zlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
import urllib3
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers, select_proxy

_MAX_LINE = 65536  # http.client's own limits
_MAX_HEADERS = 100
_MAX_BODY = 512 * 1024 * 1024  # a WinRM answer is bounded by MaxEnvelopeSizekb; this is a guard
_NO_BODY = {204, 304}


class _Bad(Exception):
    """The server's answer is not HTTP/1.x (raised as requests' ConnectionError)."""


class _Closed(Exception):
    """The server closed the connection before a whole answer arrived."""


class _Reader:
    """Buffered reading of one connection, its buffer visible (an idle connection holding
    unread bytes is not reused)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = bytearray()

    @property
    def buffered(self) -> int:
        pending = self._sock.pending() if isinstance(self._sock, ssl.SSLSocket) else 0
        return len(self._buf) + pending

    def _fill(self) -> bool:
        data = self._sock.recv(65536)
        if not data:
            return False
        self._buf += data
        return True

    def readline(self, limit: int) -> bytes:
        """One line with its end; longer than ``limit`` when the line is too long; what is left
        (possibly nothing) when the server closed first."""
        start = 0
        while True:
            end = self._buf.find(b"\n", start)
            if end >= 0:
                line = bytes(self._buf[:end + 1])
                del self._buf[:end + 1]
                return line
            if len(self._buf) > limit:
                return bytes(self._buf)
            start = len(self._buf)
            if not self._fill():
                line = bytes(self._buf)
                self._buf.clear()
                return line

    def read(self, length: int) -> bytes:
        """``length`` bytes, fewer when the server closed first."""
        while len(self._buf) < length and self._fill():
            pass
        data = bytes(self._buf[:length])
        del self._buf[:length]
        return data

    def read_to_close(self, limit: int) -> bytes:
        """Everything until the server closes, at most ``limit`` + 1 bytes."""
        while len(self._buf) <= limit and self._fill():
            pass
        data = bytes(self._buf[:limit + 1])
        self._buf.clear()
        return data


class _Raw:
    """``response.raw`` of an answer read whole: auth handlers release it before their next leg."""

    _original_response: Any = None  # requests reads cookies from here only when it is set

    def release_conn(self) -> None:
        """The connection is free once the answer is read (it always is, before return)."""

    def close(self) -> None:
        """Nothing left to close: the body was read whole."""


class _CookieSource:
    """What requests' cookie extraction reads: the answer's header block as a message."""

    def __init__(self, header_block: str) -> None:
        self.msg = email.parser.Parser(_class=http.client.HTTPMessage).parsestr(
            header_block, headersonly=True)


class _PeerCertificate:
    """``raw._fp.fp.raw._sock``, the path requests_ntlm takes to the server certificate it binds
    NTLM to (channel binding over TLS)."""

    def __init__(self, sock: socket.socket) -> None:
        self.fp = self
        self.raw = self
        self._sock = sock
        self.closed = False

    def close(self) -> None:
        """The socket stays the adapter's."""


def _timeouts(timeout: Any) -> tuple[float | None, float | None]:
    """(connect, read) seconds from what requests passes: a pair, one number, or urllib3's."""
    if isinstance(timeout, tuple):
        return timeout[0], timeout[1]
    if isinstance(timeout, urllib3.Timeout):
        connect, read = timeout.connect_timeout, timeout.read_timeout
        return (connect if isinstance(connect, (int, float)) else None,
                read if isinstance(read, (int, float)) else None)
    return timeout, timeout


class Http1Adapter(requests.adapters.BaseAdapter):
    """A requests adapter holding one persistent HTTP/1.1 connection (see the module doc).

    ``tls`` is the context for ``https`` URLs and ``server_hostname`` the name their certificate
    must carry (the host's FQDN, whatever address the URL connects to).
    """

    def __init__(self, *, tls: ssl.SSLContext | None = None, server_hostname: str | None = None) -> None:
        super().__init__()
        self._tls = tls
        self._server_hostname = server_hostname
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._reader: _Reader | None = None
        self._peer: tuple[str, str, int] | None = None  # (scheme, host, port) connected to
        self._urls: dict[str, tuple[str, str, int, bytes]] = {}
        self._stock: requests.adapters.HTTPAdapter | None = None

    # -- requests' adapter interface --------------------------------------------------------

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: float | tuple[float, float] | tuple[float, None] | None = None,
             verify: bool | str = True, cert: Any = None,
             proxies: Mapping[str, str] | None = None) -> requests.Response:
        url = str(request.url)
        scheme, host, port, target = self._split(url)
        if cert or (proxies and select_proxy(url, dict(proxies))):
            return self._stock_adapter().send(request, stream=stream, timeout=timeout,
                                              verify=verify, cert=cert, proxies=proxies)
        connect_s, read_s = _timeouts(timeout)
        head = self._head(request, target, host, port, scheme)
        body = request.body.encode("utf-8") if isinstance(request.body, str) else request.body
        with self._lock:
            sock = self._connection(scheme, host, port, connect_s, request)
            try:
                sock.settimeout(read_s)
                sock.sendall(head + body if body else head)
                status, reason, version, headers, block, raw_body = self._read_answer(
                    request.method == "HEAD")
            except BaseException as exc:
                self._drop()
                raise self._mapped(exc, request, connect=False) from exc
            if not self._keeps_alive(version, headers):
                self._drop()
        return self._response(request, url, status, reason, headers, block, raw_body, sock)

    def close(self) -> None:
        with self._lock:
            self._drop()
        if self._stock is not None:
            self._stock.close()

    # -- connection -------------------------------------------------------------------------

    def _split(self, url: str) -> tuple[str, str, int, bytes]:
        parts = self._urls.get(url)
        if parts is None:
            split = urlsplit(url)
            scheme = split.scheme.lower()
            if scheme not in ("http", "https") or not split.hostname:
                raise requests.exceptions.InvalidURL(f"not an http(s) URL: {url}")
            port = split.port or (443 if scheme == "https" else 80)
            target = (split.path or "/") + (f"?{split.query}" if split.query else "")
            parts = self._urls[url] = (scheme, split.hostname, port, target.encode("ascii"))
        return parts

    def _stock_adapter(self) -> requests.adapters.HTTPAdapter:
        if self._stock is None:
            self._stock = requests.adapters.HTTPAdapter()
        return self._stock

    def _connection(self, scheme: str, host: str, port: int, connect_s: float | None,
                    request: requests.PreparedRequest) -> socket.socket:
        if self._sock is not None and (self._peer != (scheme, host, port) or self._dropped()):
            self._drop()
        if self._sock is None:
            try:
                sock = socket.create_connection((host, port), timeout=connect_s)
            except BaseException as exc:
                raise self._mapped(exc, request, connect=True) from exc
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if scheme == "https":
                    tls = self._tls or ssl.create_default_context()
                    sock = tls.wrap_socket(sock, server_hostname=self._server_hostname or host)
            except BaseException as exc:
                sock.close()
                raise self._mapped(exc, request, connect=True) from exc
            self._sock, self._peer = sock, (scheme, host, port)
            self._reader = _Reader(sock)
        return self._sock

    def _dropped(self) -> bool:
        """An idle keep-alive connection the server closed (or wrote to unasked) is not reused:
        urllib3's own test (readable while idle means closed, or not ours to read)."""
        assert self._sock is not None
        if self._reader is not None and self._reader.buffered:
            return True
        poller = select.poll()  # not select(): a wizard with hundreds of hosts passes fd 1024
        poller.register(self._sock, select.POLLIN | select.POLLPRI)
        try:
            return bool(poller.poll(0))
        except OSError:
            return True

    def _drop(self) -> None:
        sock, self._sock, self._reader, self._peer = self._sock, None, None, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    # -- one exchange -----------------------------------------------------------------------

    @staticmethod
    def _head(request: requests.PreparedRequest, target: bytes, host: str, port: int,
              scheme: str) -> bytes:
        shown = f"[{host}]" if ":" in host else host  # an IPv6 address
        host_value = shown if port == (443 if scheme == "https" else 80) else f"{shown}:{port}"
        lines = [f"{request.method} ".encode("ascii") + target + b" HTTP/1.1"]
        names = {k.lower() for k in request.headers}
        if "host" not in names:
            lines.append(f"Host: {host_value}".encode("ascii"))
        for name, value in request.headers.items():
            raw_name = name.encode("latin-1") if isinstance(name, str) else name
            raw_value = value.encode("latin-1") if isinstance(value, str) else value
            if not raw_name or any(c in raw_name for c in b"\r\n: \t") or b"\r" in raw_value \
                    or b"\n" in raw_value:
                raise requests.exceptions.InvalidHeader(f"invalid header {name!r}")
            lines.append(raw_name + b": " + raw_value)
        if "content-length" not in names and "transfer-encoding" not in names:
            size = len(request.body) if request.body else 0
            if request.body or request.method in ("POST", "PUT", "PATCH"):
                lines.append(b"Content-Length: " + str(size).encode("ascii"))
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def _line(self) -> bytes:
        assert self._reader is not None
        line = self._reader.readline(_MAX_LINE)
        if len(line) > _MAX_LINE:
            raise _Bad("a header line is too long")
        return line

    def _read_answer(self, head_only: bool) -> tuple[int, str, int, list[tuple[str, str]], str, bytes]:
        """(status, reason, version, headers, the header block, body); 1xx answers skipped.
        The version is 11 or 10, or 0 when the body ran to the connection's close."""
        while True:
            line = self._line()
            if not line:
                raise _Closed("the server closed the connection without answering")
            try:
                proto, code, *rest = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
                status = int(code)
            except ValueError:
                raise _Bad(f"not an HTTP status line: {line[:40]!r}") from None
            if proto not in ("HTTP/1.1", "HTTP/1.0") or not 100 <= status <= 999:
                raise _Bad(f"not an HTTP/1.x answer: {line[:40]!r}")
            headers, block = self._headers()
            if status >= 200 or status == 101:
                break
        version = 11 if proto == "HTTP/1.1" else 10
        reason = rest[0] if rest else ""
        if head_only or status in _NO_BODY or status < 200:
            return status, reason, version, headers, block, b""
        fields = {k.lower(): v for k, v in headers}
        if "chunked" in fields.get("transfer-encoding", "").lower():
            body = self._chunked()
        elif "content-length" in fields:
            try:
                length = int(fields["content-length"].split(",")[0].strip())
            except ValueError:
                raise _Bad("Content-Length is not a number") from None
            if length < 0 or length > _MAX_BODY:
                raise _Bad(f"Content-Length {length} is out of range")
            body = self._exactly(length)
        else:
            assert self._reader is not None
            body = self._reader.read_to_close(_MAX_BODY)  # the answer ends when the server closes
            if len(body) > _MAX_BODY:
                raise _Bad("the answer is too large")
            version = 0  # the connection is spent
        return status, reason, version, headers, block, self._decoded(body, fields)

    def _headers(self) -> tuple[list[tuple[str, str]], str]:
        headers: list[tuple[str, str]] = []
        lines: list[str] = []
        while True:
            line = self._line()
            if not line:
                raise _Closed("the server closed the connection inside an answer's headers")
            if line in (b"\r\n", b"\n"):
                return headers, "".join(lines)
            if len(headers) >= _MAX_HEADERS:
                raise _Bad("too many headers")
            text = line.decode("latin-1")
            lines.append(text)
            if text[0] in " \t" and headers:  # an obsolete folded continuation
                name, value = headers.pop()
                headers.append((name, f"{value} {text.strip()}"))
                continue
            name, sep, value = text.partition(":")
            if not sep:
                raise _Bad(f"not a header line: {text[:40]!r}")
            headers.append((name.strip(), value.strip()))

    def _exactly(self, length: int) -> bytes:
        assert self._reader is not None
        data = self._reader.read(length)
        if len(data) < length:
            raise _Closed(f"the server closed the connection {length - len(data)} bytes before "
                          "the end of its answer")
        return data

    def _chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self._line()
            if not line:
                raise _Closed("the server closed the connection inside a chunked answer")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _Bad("a chunk size is not a number") from None
            if size == 0:
                while self._line() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > _MAX_BODY:
                raise _Bad("the answer is too large")
            parts.append(self._exactly(size))
            self._exactly(2)  # the chunk's CRLF

    @staticmethod
    def _decoded(body: bytes, fields: Mapping[str, str]) -> bytes:
        coding = fields.get("content-encoding", "").strip().lower()
        if not coding or coding == "identity" or not body:
            return body
        try:
            if coding in ("gzip", "x-gzip"):
                return zlib.decompress(body, 16 + zlib.MAX_WBITS)
            if coding == "deflate":
                try:
                    return zlib.decompress(body)
                except zlib.error:
                    return zlib.decompress(body, -zlib.MAX_WBITS)  # raw deflate, as some send
        except zlib.error as exc:
            raise requests.exceptions.ContentDecodingError(
                f"the answer's {coding} body does not decompress") from exc
        raise requests.exceptions.ContentDecodingError(f"the answer is {coding}-encoded")

    @staticmethod
    def _keeps_alive(version: int, headers: list[tuple[str, str]]) -> bool:
        tokens = {t.strip().lower() for k, v in headers if k.lower() == "connection"
                  for t in v.split(",")}
        if "close" in tokens or version == 0:
            return False
        return version == 11 or "keep-alive" in tokens

    def _response(self, request: requests.PreparedRequest, url: str, status: int, reason: str,
                  headers: list[tuple[str, str]], block: str, body: bytes,
                  sock: socket.socket) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        merged: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        for name, value in headers:
            merged[name] = f"{merged[name]}, {value}" if name in merged else value
        response.headers = merged
        response.reason = reason
        response.url = url
        response.request = request
        response.connection = self  # type: ignore[assignment]  # an adapter, as requests sets it
        response.encoding = get_encoding_from_headers(merged)
        response._content = body
        response._content_consumed = True  # type: ignore[attr-defined]
        response.elapsed = timedelta(0)  # requests' Session.send replaces it
        raw: Any
        if status == 401:
            # the answer a Negotiate handshake starts from: requests_ntlm binds NTLM to the
            # server certificate (TLS only), which it reaches through a urllib3 response's socket
            raw = urllib3.HTTPResponse(body=b"", headers=urllib3.HTTPHeaderDict(headers), status=status,
                                       reason=reason, preload_content=False, request_url=url)
            raw._fp = _PeerCertificate(sock)
        else:
            raw = _Raw()
        if "set-cookie" in merged:
            raw._original_response = _CookieSource(block)
        response.raw = raw
        return response

    # -- errors -----------------------------------------------------------------------------

    def _mapped(self, exc: BaseException, request: requests.PreparedRequest, *,
                connect: bool) -> BaseException:
        """requests' exception for a failed exchange, with the original as its cause."""
        if isinstance(exc, requests.exceptions.RequestException) or not isinstance(exc, Exception):
            return exc
        if isinstance(exc, (ssl.SSLError, ssl.CertificateError)):
            return requests.exceptions.SSLError(exc, request=request)
        if isinstance(exc, (socket.timeout, TimeoutError)):
            if connect:
                return requests.exceptions.ConnectTimeout(exc, request=request)
            return requests.exceptions.ReadTimeout(exc, request=request)
        if isinstance(exc, (OSError, _Closed, _Bad)):
            return requests.exceptions.ConnectionError(exc, request=request)
        return exc
