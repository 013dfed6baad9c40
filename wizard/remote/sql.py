"""The SQL runner: queries and long RESTORE/BACKUP statements over pyodbc, with live progress.

Restore steps need three things the plain DB-API does not give: progress while a RESTORE runs
(SQL Server's ``N percent processed.`` messages arrive one per ``nextset()`` and vanish from
``cursor.messages`` at the next call), a cancel that really stops the server (closing the cursor
sends ATTENTION) and failures phrased for the operator (:mod:`.sqlerrors`). Values always travel
as ``?`` parameters; names that cannot be parameters go through :func:`quote_identifier`.
"""

from __future__ import annotations

import os
import re
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from wizard.errors import UsageError

from .odbc import OdbcDriver, SqlEndpoint, connection_string, discover
from .sqlerrors import (
    SqlServerError,
    SqlTimeoutError,
    from_odbc_error,
    parse_server_messages,
)

__all__ = [
    "SqlEndpoint",
    "SqlEvent",
    "SqlFinished",
    "SqlMessage",
    "SqlOutcome",
    "SqlProgress",
    "SqlRunner",
    "quote_identifier",
]

MAX_IDENTIFIER = 128
_POLL_S = 0.02


def quote_identifier(name: str) -> str:
    """``name`` as a T-SQL bracketed identifier: ``[...]`` with ``]`` doubled.

    Raises :class:`~wizard.errors.UsageError` for an empty name, a NUL or more than 128
    characters (SQL Server's limit for a ``sysname``).
    """
    if not name:
        raise UsageError("A SQL Server name cannot be empty.")
    if "\x00" in name:
        raise UsageError("A SQL Server name cannot contain a NUL character.")
    if len(name) > MAX_IDENTIFIER:
        raise UsageError(f"A SQL Server name cannot be longer than {MAX_IDENTIFIER} characters.")
    return "[" + name.replace("]", "]]") + "]"


@dataclass(frozen=True)
class SqlProgress:
    """SQL Server message 3211: ``percent`` of the statement done."""

    percent: int
    message: str


@dataclass(frozen=True)
class SqlMessage:
    """Any other message from the server (or the runner's own note); ``number`` None = ours."""

    number: int | None
    text: str


@dataclass(frozen=True)
class SqlFinished:
    """SQL Server message 3014: the RESTORE/BACKUP completed (pages, seconds, MB/s)."""

    message: str


SqlEvent = SqlProgress | SqlMessage | SqlFinished


@dataclass(frozen=True)
class SqlOutcome:
    """How a long statement ended (failures raise instead)."""

    completed: bool
    cancelled: bool
    last_percent: int | None
    finished_message: str | None
    messages: tuple[str, ...]
    elapsed_s: float
    note: str | None = None
    """For a cancelled RESTORE: the database is left RESTORING."""


_PERCENT = re.compile(r"(\d+) percent processed", re.I)
_STATE_NUMBER = re.compile(r"\((\d+)\)")
_RESTORE_DB = re.compile(r"^\s*RESTORE\s+(?:DATABASE|LOG)\s+(\[(?:[^\]]|\]\])*\]|\S+)", re.I)


def classify_message(state: str, text: str) -> SqlEvent:
    """One ``cursor.messages`` entry ``('[01000] (3211)', '[..][SQL Server]10 percent ...')``."""
    parsed = parse_server_messages(f"{text} {state}")
    m = _STATE_NUMBER.search(state)
    number = int(m.group(1)) if m else (parsed[0].number if parsed else None)
    body = text.rsplit("]", 1)[-1].strip()
    if number == 3211:
        pct = _PERCENT.search(body)
        if pct:
            return SqlProgress(int(pct.group(1)), body)
    if number == 3014:
        return SqlFinished(body)
    return SqlMessage(number, body)


def restored_database(sql: str) -> str | None:
    """The database a RESTORE statement targets (unquoted), or None for other statements."""
    m = _RESTORE_DB.match(sql)
    if m is None:
        return None
    name = m.group(1)
    return name[1:-1].replace("]]", "]") if name.startswith("[") else name


class SqlRunner:
    """One autocommit connection to one instance, opened on first use.

    Not thread-safe for concurrent statements (one at a time); ``cancel`` may be set from any
    thread. The password stays in this object only and never appears in ``repr``, errors or logs.
    """

    def __init__(self, endpoint: SqlEndpoint, username: str, password: str) -> None:
        self.endpoint = endpoint
        self.username = username
        self.__password = password
        self._driver: OdbcDriver | None = None
        self._conn: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SqlRunner({self.endpoint.display!r}, user={self.username!r})"

    __str__ = __repr__

    # -- connection

    @property
    def driver(self) -> OdbcDriver:
        if self._driver is None:
            self._driver = discover(self.endpoint.driver)
        return self._driver

    def _error(self, exc: Exception, during: str, timeout_s: float | None = None
               ) -> SqlServerError:
        args = tuple(self._redact(str(a)) for a in getattr(exc, "args", ()))
        return from_odbc_error(args, where=self.endpoint.display, address=self.endpoint.target,
                               driver=self.driver.name, during=during, timeout_s=timeout_s)

    def _redact(self, text: str) -> str:
        pw = self.__password
        return text.replace(pw, "********") if len(pw) >= 3 else text

    def connect(self) -> None:
        """Open the connection now (otherwise the first statement does)."""
        self._connection()

    def _connection(self) -> Any:
        if self._conn is not None:
            return self._conn
        import pyodbc

        conn_str = connection_string(self.endpoint, self.driver, self.username, self.__password)
        timeout = max(1, round(self.endpoint.login_timeout_s))
        try:
            if self.driver.kind == "msodbc":
                _trust(self.endpoint.ca_bundle)
            conn = pyodbc.connect(conn_str, autocommit=True, timeout=timeout)
        except pyodbc.Error as exc:
            raise self._error(exc, "connect", self.endpoint.login_timeout_s) from None
        finally:
            del conn_str
        conn.timeout = max(0, round(self.endpoint.query_timeout_s))
        self._conn = conn
        return conn

    def close(self) -> None:
        import pyodbc

        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except pyodbc.Error as exc:  # already broken: nothing left to release
                raise self._error(exc, "statement") from None

    def __enter__(self) -> SqlRunner:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- statements

    def query(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, object]]:
        """Run one statement with ``?`` parameters; rows of its first result set as dicts."""
        import pyodbc

        with self._lock:
            conn = self._connection()
            try:
                cur = conn.cursor()
                try:
                    cur.execute(sql, *params) if params else cur.execute(sql)
                    if cur.description is None:
                        return []
                    names = [d[0] for d in cur.description]
                    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
                finally:
                    cur.close()
            except pyodbc.Error as exc:
                raise self._error(exc, "statement", self.endpoint.query_timeout_s) from None

    def execute_with_progress(
        self,
        sql: str,
        *,
        on_event: Callable[[SqlEvent], None],
        cancel: threading.Event | None = None,
        deadline_s: float | None = None,
    ) -> SqlOutcome:
        """Run a long statement (RESTORE/BACKUP ... WITH STATS), reporting as it goes.

        ``on_event`` gets each :class:`SqlProgress`, :class:`SqlMessage` and :class:`SqlFinished` in the
        runner's thread as soon as the driver hands it over. Setting ``cancel`` sends ATTENTION
        and returns an outcome with ``cancelled=True``; passing ``deadline_s`` does the same and
        then raises :class:`SqlTimeoutError`. Server errors raise :mod:`.sqlerrors` exceptions.
        """
        import pyodbc

        with self._lock:
            conn = self._connection()
            started = time.monotonic()
            cur = conn.cursor()
            stop = threading.Event()
            why: list[str] = []
            watcher = threading.Thread(
                target=self._watch, args=(cur, stop, cancel, deadline_s, started, why),
                name="sql-cancel-watch", daemon=True)
            state = _Progress(on_event)
            watcher.start()
            try:
                cur.execute(sql)
                while True:
                    state.drain(cur.messages)
                    if not cur.nextset():
                        break
                state.drain(cur.messages)
            except pyodbc.Error as exc:
                if not why:
                    raise self._error(exc, "statement") from None
            finally:
                stop.set()
                watcher.join()
                try:
                    cur.close()
                except pyodbc.Error:
                    self._conn = None  # unusable after a failed cancel: reconnect next time
            elapsed = time.monotonic() - started
            if not why:
                return state.outcome(completed=True, cancelled=False, elapsed=elapsed)
            note = self._cancel_note(sql)
            if note:
                on_event(SqlMessage(None, note))
            if why[0] == "deadline":
                raise SqlTimeoutError(
                    f"The statement on {self.endpoint.display} did not finish within "
                    f"{deadline_s:g} s and was cancelled.", hint=note)
            return state.outcome(completed=False, cancelled=True, elapsed=elapsed, note=note)

    @staticmethod
    def _watch(cur: Any, stop: threading.Event, cancel: threading.Event | None,
               deadline_s: float | None, started: float, why: list[str]) -> None:
        """Cancel the running statement (ATTENTION) when asked to or past the deadline."""
        import pyodbc

        while not stop.wait(_POLL_S):
            if cancel is not None and cancel.is_set():
                why.append("cancel")
            elif deadline_s is not None and time.monotonic() - started > deadline_s:
                why.append("deadline")
            else:
                continue
            try:
                cur.cancel()
            except pyodbc.Error:
                why.append("cancel-failed")
            return

    def _cancel_note(self, sql: str) -> str | None:
        db = restored_database(sql)
        if db is None:
            return None
        return (f"The restore was cancelled: database {db} on {self.endpoint.display} is left "
                "RESTORING until a restore of it completes.")


class _Progress:
    """Turns ``cursor.messages`` batches into events and remembers how far it got."""

    def __init__(self, on_event: Callable[[SqlEvent], None]) -> None:
        self._on_event = on_event
        self.last_percent: int | None = None
        self.finished: str | None = None
        self.texts: list[str] = []

    def drain(self, messages: Sequence[tuple[str, str]]) -> None:
        for state, text in messages:
            event = classify_message(state, text)
            if isinstance(event, SqlProgress):
                self.last_percent = event.percent
                self.texts.append(event.message)
            elif isinstance(event, SqlFinished):
                self.finished = event.message
                self.texts.append(event.message)
            else:
                self.texts.append(event.text)
            self._on_event(event)

    def outcome(self, *, completed: bool, cancelled: bool, elapsed: float,
                note: str | None = None) -> SqlOutcome:
        return SqlOutcome(completed=completed, cancelled=cancelled,
                          last_percent=self.last_percent, finished_message=self.finished,
                          messages=tuple(self.texts), elapsed_s=elapsed, note=note)


_CERT_ENV_LOCK = threading.Lock()
_TRUSTED: list[str] = []  # the plan CA bundles handed to OpenSSL so far, in order
_BASE: list[str] = []  # what OpenSSL trusted before (SSL_CERT_FILE, else its default CA file)


def _trust(ca_bundle: str | None) -> None:
    """Add the plan's CA bundle to what OpenSSL trusts before Microsoft's ODBC driver connects: it
    has no keyword for a CA file and reads OpenSSL's ``SSL_CERT_FILE`` at each handshake. The
    variable then names one file holding what was trusted before plus every plan bundle, set for
    the process and kept (connections run in parallel: a variable switched back and forth around
    each connect would serialise them behind the slowest login, and nothing trusted before is lost)."""
    if ca_bundle is None:
        return
    with _CERT_ENV_LOCK:
        if not _BASE:
            before = os.environ.get("SSL_CERT_FILE") or ssl.get_default_verify_paths().openssl_cafile
            _BASE.append(before if before and os.path.isfile(before) else "")
        if ca_bundle in _TRUSTED and os.path.isfile(os.environ.get("SSL_CERT_FILE", "")):
            return
        _TRUSTED[:] = [p for p in _TRUSTED if os.path.isfile(p)] + [ca_bundle]  # a removed file trusts nothing
        files = [f for f in (_BASE[0], *_TRUSTED) if f]
        union = "".join(Path(f).read_text(encoding="utf-8", errors="replace").rstrip() + "\n" for f in files)
        folder = Path(tempfile.mkdtemp(prefix="lync-restore-ca-"))
        target = folder / "trusted-cas.pem"
        target.write_text(union, encoding="utf-8")
        os.environ["SSL_CERT_FILE"] = str(target)
