"""The lab's SQL Server: TDS 7.4 on loopback, answering real ODBC drivers.

One thread accepts; each connection has a reader thread that also notices ATTENTION while a
request runs in its own executor thread. Statements go to a :class:`~.api.SqlBackend`; the
connect-time chatter every driver sends (``SET``, ``sp_datatype_info_100``...) is answered here
so backends only see the statements a caller wrote.

``latency_s`` is the network between the jump host and this instance: the answer to each client
message (PRELOGIN, a TLS handshake flight inside PRELOGIN packets, LOGIN7, SQL batch, RPC,
ATTENTION) waits that long before its first packet is written; the packets after it follow as
they are made (they were on the wire behind it). ``requests`` counts those client messages.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType

from . import codec
from .api import Column, ColumnType, SqlBackend, SqlError, SqlSession

log = logging.getLogger(__name__)

_CHATTER = re.compile(
    r"^\s*(?:set\s|"
    r"select\s+@@(?:spid|max_precision|textsize|trancount)|if\s+@@trancount)",
    re.IGNORECASE,
)
_TYPE_INFO = re.compile(
    r"^\s*(?:exec(?:ute)?\s+)?(?:\[?sys\]?\.)?sp_datatype_info(?:_100)?\s*(-?\d+)?", re.IGNORECASE
)
_TYPE_INFO_SPEC: tuple[tuple[str, ColumnType], ...] = (
        ("TYPE_NAME", "nvarchar"), ("DATA_TYPE", "int"), ("PRECISION", "int"),
        ("LITERAL_PREFIX", "nvarchar"), ("LITERAL_SUFFIX", "nvarchar"),
        ("CREATE_PARAMS", "nvarchar"), ("NULLABLE", "int"), ("CASE_SENSITIVE", "int"),
        ("SEARCHABLE", "int"), ("UNSIGNED_ATTRIBUTE", "int"), ("MONEY", "int"),
        ("AUTO_INCREMENT", "int"), ("LOCAL_TYPE_NAME", "nvarchar"), ("MINIMUM_SCALE", "int"),
        ("MAXIMUM_SCALE", "int"), ("SQL_DATA_TYPE", "int"), ("SQL_DATETIME_SUB", "int"),
        ("NUM_PREC_RADIX", "int"), ("INTERVAL_PRECISION", "int"), ("USERTYPE", "int"),
)
_TYPE_INFO_COLUMNS = [Column(name, ctype) for name, ctype in _TYPE_INFO_SPEC]
# What SQLGetTypeInfo needs for the four types pyodbc asks about at connect: it sizes string
# and binary parameters from PRECISION (without it, long strings fail to bind).
_TYPE_INFO_ROWS: dict[int, list[object]] = {
    12: ["varchar", 12, 8000, "'", "'", "max length", 1, 0, 3, None, 0, None, "varchar",
         None, None, 12, None, None, None, 2],
    -9: ["nvarchar", -9, 4000, "N'", "'", "max length", 1, 0, 3, None, 0, None, "nvarchar",
         None, None, -9, None, None, None, 0],
    -3: ["varbinary", -3, 8000, "0x", None, "max length", 1, 0, 2, None, 0, None, "varbinary",
         None, None, -3, None, None, None, 4],
    93: ["datetime2", 93, 27, "'", "'", None, 1, 0, 3, None, 0, None, "datetime2",
         0, 7, 9, 3, None, None, 0],
}
_DESCRIBE = re.compile(r"^\s*exec\s+(?:\[?sys\]?\.)?sp_describe_undeclared", re.IGNORECASE)


def raise_into(sink: _Sink, err: SqlError) -> None:
    """Fail the current statement with ``err`` (ERROR token, then DONE with the error bit)."""
    sink.error(err)
    sink.done()


class _Out:
    """Response writer: fills 4096-byte packets, sends them, flushes on demand. The first packet
    after a client message waits the network's delay (:meth:`answer_due`)."""

    def __init__(self, sock: socket.socket, latency_s: Callable[[], float]) -> None:
        self._sock: socket.socket | _TlsChannel = sock  # the TLS channel once encryption is on
        self._buf = bytearray()
        self._lock = threading.Lock()
        self._room = codec.PACKET_SIZE - codec.HEADER.size
        self._packet_id = 0
        self._latency_s = latency_s
        self._due = False  # a client message arrived: the next packet out is its answer's first

    def answer_due(self) -> None:
        """A client message arrived: the first packet of what answers it crosses the network."""
        with self._lock:
            self._due = True

    def network_delay(self) -> None:
        """Wait the one-way delay if an answer is due (the TLS handshake's flights use it)."""
        with self._lock:
            self._delay()

    def _delay(self) -> None:  # with the lock held
        if self._due:
            self._due = False
            wait = self._latency_s()
            if wait > 0:
                time.sleep(wait)

    def write(self, data: bytes) -> None:
        with self._lock:
            self._buf += data
            while len(self._buf) > self._room:
                self._send(bytes(self._buf[: self._room]), eom=False)
                del self._buf[: self._room]

    def flush(self, *, eom: bool) -> None:
        with self._lock:
            if self._buf or eom:
                self._send(bytes(self._buf), eom=eom)
                self._buf.clear()

    def _send(self, chunk: bytes, *, eom: bool) -> None:
        self._delay()
        self._packet_id = (self._packet_id + 1) % 256
        status = codec.STATUS_EOM if eom else 0
        head = codec.HEADER.pack(codec.PKT_REPLY, status, len(chunk) + 8, 0, self._packet_id, 0)
        try:
            self._sock.sendall(head + chunk)
        except OSError as exc:  # the client went away; the reader will notice and close
            log.debug("TDS send failed: %s", exc)


class _Sink:
    """The :class:`~.api.ResultSink` of one request; becomes silent once cancelled."""

    def __init__(self, out: _Out, server_name: str, *, in_proc: bool) -> None:
        self._out = out
        self._server = server_name
        self._done_token = codec.TOK_DONEINPROC if in_proc else codec.TOK_DONE
        self._cols: Sequence[Column] | None = None
        self._rows = 0
        self._pending: tuple[int, int] | None = None  # (status, rowcount) of the last DONE
        self.failed = False
        self._cancelled = threading.Event()

    @property
    def cancelled(self) -> threading.Event:
        return self._cancelled

    def _flush_pending(self) -> None:
        if self._pending is not None:
            status, count = self._pending
            self._out.write(codec.done(self._done_token, status | codec.DONE_MORE, count))
            self._pending = None

    def columns(self, cols: Sequence[Column]) -> None:
        if self._cancelled.is_set():
            return
        if self._cols is not None:
            self.done()
        self._flush_pending()
        self._cols, self._rows = list(cols), 0
        self._out.write(codec.colmetadata(self._cols))

    def row(self, values: Sequence[object]) -> None:
        if self._cancelled.is_set():
            return
        if self._cols is None:
            raise ValueError("row() before columns()")
        self._out.write(codec.row(self._cols, values))
        self._rows += 1

    def info(self, number: int, message: str, *, severity: int = 0, state: int = 1) -> None:
        if self._cancelled.is_set():
            return
        self._flush_pending()
        self._out.write(codec.message(codec.TOK_INFO, number, message, severity, state, self._server))
        self._out.write(codec.done(self._done_token, codec.DONE_MORE))
        self._out.flush(eom=False)

    def error(self, err: SqlError) -> None:
        if self._cancelled.is_set():
            return
        self._flush_pending()
        self._out.write(codec.error_token(err, self._server))
        self.failed = True

    def done(self, rowcount: int | None = None) -> None:
        if self._cancelled.is_set():
            return
        self._flush_pending()
        if rowcount is None and self._cols is not None:
            rowcount = self._rows
        status = codec.DONE_ERROR if self.failed else 0
        if rowcount is not None:
            status |= codec.DONE_COUNT
        self._pending = (status, rowcount or 0)
        self._cols = None

    def finish(self, tail: bytes = b"", final_token: int = codec.TOK_DONE) -> None:
        """Close the response: the last DONE (without MORE), end of message."""
        if self._cols is not None:
            self.done()
        status, count = self._pending or (0, 0)
        if self.failed:
            status |= codec.DONE_ERROR
        if final_token != self._done_token:  # RPC: DONEINPROC..., RETURNSTATUS, DONEPROC
            self._flush_pending()
            self._out.write(tail + codec.done(final_token, status & ~codec.DONE_COUNT))
        else:
            self._out.write(codec.done(final_token, status, count))
        self._out.flush(eom=True)


class _TlsChannel:
    """TLS inside TDS (MS-TDS 2.2.6.5, 3.3.5.1): the handshake's records travel in PRELOGIN
    packets; afterwards TLS records carry the TDS packets directly over TCP. A socket-like
    object (recv, sendall, shutdown, close) over an SSLObject, safe for the reader thread and a
    request's executor thread writing at once."""

    def __init__(self, raw: socket.socket, ctx: ssl.SSLContext) -> None:
        self.raw = raw
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = ctx.wrap_bio(self._in, self._out, server_side=True)
        self._lock = threading.Lock()  # the SSLObject
        self._send_lock = threading.Lock()  # the order of records on the wire

    def handshake(self, conn: _Connection) -> bool:
        """Run the handshake with its records wrapped in PRELOGIN packets; False if it failed."""
        while True:
            try:
                self._tls.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            except ssl.SSLError as exc:
                log.info("TDS TLS handshake failed: %s", exc)
                self._wrapped(self._out.read())  # the alert, if any
                return False
            flight = self._out.read()
            if flight:
                conn._out.network_delay()
            self._wrapped(flight)
            if done:
                return True
            msg = conn._read_message()
            if msg is None:
                return False
            self._in.write(msg[1])

    def _wrapped(self, data: bytes) -> None:
        if data:
            packets = codec.packets(codec.PKT_PRELOGIN, data, eom=True)
            with contextlib.suppress(OSError):
                self.raw.sendall(b"".join(packets))

    def recv(self, n: int) -> bytes:
        while True:
            with self._lock:
                try:
                    return self._tls.read(n)
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLZeroReturnError:
                    return b""
            data = self.raw.recv(16384)
            if not data:
                return b""
            with self._lock:
                self._in.write(data)

    def sendall(self, data: bytes) -> None:
        with self._send_lock:
            with self._lock:
                self._tls.write(data)
                records = self._out.read()
            self.raw.sendall(records)

    def shutdown(self, how: int) -> None:
        self.raw.shutdown(how)

    def close(self) -> None:
        self.raw.close()


class _Connection:
    def __init__(self, server: TdsServer, sock: socket.socket) -> None:
        self._server = server
        self._raw = sock
        self._sock: socket.socket | _TlsChannel = sock
        self._out = _Out(sock, lambda: server.latency_s)
        self._session: SqlSession | None = None
        self._worker: threading.Thread | None = None
        self._sink: _Sink | None = None
        self._prepared: dict[int, str] = {}
        self._next_handle = 1
        self.thread = threading.Thread(target=self._run, name="tds-conn", daemon=True)

    # -- reading

    def _recv_exact(self, n: int) -> bytes | None:
        data = bytearray()
        while len(data) < n:
            try:
                chunk = self._sock.recv(n - len(data))
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return bytes(data)

    def _read_message(self) -> tuple[int, bytes] | None:
        payload = bytearray()
        while True:
            head = self._recv_exact(codec.HEADER.size)
            if head is None:
                return None
            ptype, status, length, _spid, _pid, _win = codec.HEADER.unpack(head)
            body = self._recv_exact(length - codec.HEADER.size)
            if body is None:
                return None
            payload += body
            if status & codec.STATUS_EOM:
                self._server._count_request()
                self._out.answer_due()
                return ptype, bytes(payload)

    def _run(self) -> None:
        try:
            while True:
                msg = self._read_message()
                if msg is None:
                    return
                ptype, payload = msg
                if ptype == codec.PKT_ATTENTION:
                    self._attention()
                    continue
                self._join_worker()
                if ptype == codec.PKT_PRELOGIN:
                    if not self._prelogin(payload):
                        return
                elif ptype == codec.PKT_LOGIN7:
                    if self._login_only:  # ENCRYPT_OFF: only the LOGIN7 record was encrypted
                        self._use(self._raw)
                    if not self._login(payload):
                        return
                elif ptype in (codec.PKT_BATCH, codec.PKT_RPC) and self._session is not None:
                    self._start(ptype, payload)
                else:
                    log.warning("TDS: unexpected packet type 0x%02x, closing", ptype)
                    return
        except codec.ProtocolError as exc:
            log.warning("TDS protocol error, closing the connection: %s", exc)
        finally:
            self._close()

    _login_only = False

    def _use(self, sock: socket.socket | _TlsChannel) -> None:
        self._sock = self._out._sock = sock

    def _prelogin(self, payload: bytes) -> bool:
        """Negotiate encryption (MS-TDS 2.2.6.5, with SQL Server's Force Encryption setting)
        and, when it is used, run the TLS handshake; False: the connection ends."""
        server = self._server
        client = codec.prelogin_encryption(payload)
        if server.tls is None:
            answer = codec.ENCRYPT_NOT_SUP
        elif client == codec.ENCRYPT_NOT_SUP:
            if server.force_encryption:  # the server requires it and the client cannot: it hangs up
                server._record("-- prelogin refused: the client does not support encryption, the server forces it")
                return False
            answer = codec.ENCRYPT_NOT_SUP
        elif client == codec.ENCRYPT_OFF:
            answer = codec.ENCRYPT_REQ if server.force_encryption else codec.ENCRYPT_OFF
        else:  # ON or REQ
            answer = codec.ENCRYPT_ON
        self._reply(codec.prelogin_reply(answer), ptype=codec.PKT_REPLY)
        if answer == codec.ENCRYPT_NOT_SUP:
            return True
        assert server.tls is not None
        channel = _TlsChannel(self._raw, server.tls)
        if not channel.handshake(self):
            server._record("-- TLS handshake failed")
            return False
        scope = "login only" if answer == codec.ENCRYPT_OFF else "whole session"
        server._record(f"-- TLS {channel._tls.version()} ({scope})")
        self._login_only = answer == codec.ENCRYPT_OFF
        self._use(channel)
        return True

    def _close(self) -> None:
        if self._sink is not None:
            self._sink.cancelled.set()
        self._join_worker()
        with contextlib.suppress(OSError):
            self._sock.close()
        close_session = getattr(self._session, "close", None)
        if callable(close_session):  # backends that track sessions (3101 checks) learn it ended
            close_session()
        self._session = None
        self._server._forget(self)

    def _join_worker(self) -> None:
        if self._worker is not None:
            self._worker.join()
            self._worker = None

    def _reply(self, payload: bytes, *, ptype: int = codec.PKT_REPLY) -> None:
        self._out.write(payload)
        self._out.flush(eom=True)

    # -- login

    def _login(self, payload: bytes) -> bool:
        login = codec.parse_login7(payload)
        name = self._server.server_name
        try:
            if login.sspi:
                raise SqlError(18452, "Login failed. The login is from an untrusted domain and "
                                      "cannot be used with Windows authentication.", 14, 1)
            session = self._server.backend.login(login.user, login.password,
                                                 login.database or None, login.app)
        except SqlError as err:
            self._server._record(f"-- login refused for {login.user!r}: {err.number}")
            self._reply(codec.error_token(err, name) + codec.done(codec.TOK_DONE, codec.DONE_ERROR))
            return False
        self._session = session
        self._server._record(f"-- login {login.user!r} app={login.app!r} db={session.database!r}")
        self._reply(codec.login_reply(session.database, name))
        return True

    # -- requests

    def _start(self, ptype: int, payload: bytes) -> None:
        in_proc = ptype == codec.PKT_RPC
        sink = _Sink(self._out, self._server.server_name, in_proc=in_proc)
        self._sink = sink
        target = self._run_rpc if in_proc else self._run_batch
        self._worker = threading.Thread(target=target, args=(payload, sink), daemon=True,
                                        name="tds-exec")
        self._worker.start()

    def _attention(self) -> None:
        self._server._attention()
        if self._sink is not None:
            self._sink.cancelled.set()
        self._join_worker()
        self._out.write(codec.done(codec.TOK_DONE, codec.DONE_ATTN))
        self._out.flush(eom=True)

    def _execute(self, sql: str, params: Sequence[object], sink: _Sink) -> None:
        assert self._session is not None
        self._server._record(sql)
        if _CHATTER.match(sql):
            sink.done()
            return
        if m := _TYPE_INFO.match(sql):
            wanted = params[0] if params else (int(m.group(1)) if m.group(1) else None)
            sink.columns(_TYPE_INFO_COLUMNS)
            for code, values in _TYPE_INFO_ROWS.items():
                if wanted in (None, 0, code):
                    sink.row(values)
            sink.done()
            return
        if _DESCRIBE.match(sql):  # the driver falls back to its own guess of the types
            raise_into(sink, SqlError(2812, "Could not find stored procedure "
                                            "'sp_describe_undeclared_parameters'.", 16, 62))
            return
        try:
            self._session.execute(sql, params, sink)
        except SqlError as err:
            raise_into(sink, err)
        except Exception as exc:
            # A bug in a lab backend: the client gets an error, the log gets the traceback.
            log.exception("lab SQL backend failed on a statement")
            sink.error(SqlError(50000, f"The lab backend failed: {type(exc).__name__}."))
            sink.done()

    def _run_batch(self, payload: bytes, sink: _Sink) -> None:
        self._execute(codec.parse_batch(payload), (), sink)
        if not sink.cancelled.is_set():
            sink.finish()

    def _run_rpc(self, payload: bytes, sink: _Sink) -> None:
        tail = b""
        try:
            for call in codec.parse_rpc(payload):
                tail = self._call(call, sink)
        except codec.ProtocolError as exc:
            log.warning("TDS: cannot decode an RPC request: %s", exc)
            sink.error(SqlError(8009, f"The lab cannot decode this request: {exc}."))
        if not sink.cancelled.is_set():
            sink.finish(tail=tail, final_token=codec.TOK_DONEPROC)

    def _call(self, call: codec.RpcCall, sink: _Sink) -> bytes:
        """Run one RPC call; returns the RETURNSTATUS/RETURNVALUE tokens for its end."""
        values = [p.value for p in call.params]
        status = codec.returnstatus(0)
        if call.proc == "sp_executesql":
            self._run_statement(str(values[0]), call.params[2:], sink)
            return status
        if call.proc in ("sp_prepexec", "sp_prepare"):
            handle = self._next_handle
            self._next_handle += 1
            self._prepared[handle] = str(values[2])
            if call.proc == "sp_prepexec":
                self._run_statement(str(values[2]), call.params[3:], sink)
            return status + codec.returnvalue_int(0, call.params[0].name, handle)
        if call.proc == "sp_execute":
            given = values[0]
            stmt = self._prepared.get(given) if isinstance(given, int) else None
            if stmt is None:
                sink.error(SqlError(8179, f"Could not find prepared statement with handle {given}."))
            else:
                self._run_statement(stmt, call.params[1:], sink)
            return status
        if call.proc == "sp_unprepare":
            if isinstance(values[0], int):
                self._prepared.pop(values[0], None)
            return status
        marks = ", ".join("?" for _ in values)
        self._execute(f"EXEC {call.proc} {marks}".rstrip(), values, sink)
        return status

    def _run_statement(self, stmt: str, params: Sequence[codec.RpcParam], sink: _Sink) -> None:
        sql, order = codec.placeholders_to_qmarks(stmt)
        by_number = {}
        for i, p in enumerate(params, start=1):
            digits = p.name.lstrip("@Pp")
            by_number[int(digits) if digits.isdigit() else i] = p.value
        values = [by_number.get(n) for n in order]
        self._execute(sql, values, sink)


class TdsServer:
    """A SQL Server endpoint on loopback backed by a :class:`~.api.SqlBackend`.

    ``transcript`` lists every statement received (and one line per login), never a password.
    """

    def __init__(self, backend: SqlBackend, *, bind: str = "127.0.0.1", port: int = 0,
                 server_name: str = "SQL01\\RTC", tls: ssl.SSLContext | None = None,
                 force_encryption: bool = False, latency_s: float = 0.0) -> None:
        """``tls``: the instance's certificate (lab/tls.py): encryption is offered as SQL Server
        offers it (without one: "not supported"); ``force_encryption``: SQL Server's Force
        Encryption setting (a client that cannot encrypt is refused); ``latency_s``: the network's
        one-way delay of every answer (the module docstring; change it at any time)."""
        self.backend = backend
        self.latency_s = latency_s
        self.tls = tls
        self.force_encryption = force_encryption
        self.server_name = server_name
        self._bind = (bind, port)
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._conns: set[_Connection] = set()
        self._transcript: list[str] = []
        self._attentions = 0
        self._requests = 0

    @property
    def host(self) -> str:
        return self._bind[0]

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("the TDS server is not started")
        return int(self._listener.getsockname()[1])

    @property
    def transcript(self) -> list[str]:
        with self._lock:
            return list(self._transcript)

    @property
    def requests(self) -> int:
        """How many client messages arrived (PRELOGIN and the TLS handshake's, LOGIN7, SQL
        batches, RPC requests, ATTENTION)."""
        with self._lock:
            return self._requests

    def _count_request(self) -> None:
        with self._lock:
            self._requests += 1

    @property
    def attentions(self) -> int:
        """How many ATTENTION (cancel) packets clients have sent."""
        with self._lock:
            return self._attentions

    def start(self) -> TdsServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(self._bind)
        sock.listen(64)
        self._listener = sock
        self._accept_thread = threading.Thread(target=self._accept, name="tds-accept", daemon=True)
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=5)
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn._raw.shutdown(socket.SHUT_RDWR)
        for conn in conns:
            conn.thread.join(timeout=5)

    def __enter__(self) -> TdsServer:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                sock, _addr = self._listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(self, sock)
            with self._lock:
                self._conns.add(conn)
            conn.thread.start()

    def _forget(self, conn: _Connection) -> None:
        with self._lock:
            self._conns.discard(conn)

    def _record(self, line: str) -> None:
        with self._lock:
            self._transcript.append(line)

    def _attention(self) -> None:
        with self._lock:
            self._attentions += 1
