"""A toy SQL Server for the TDS integration tests and benchmarks.

It understands a handful of statements, enough to exercise every column type, parameters,
bracket-quoted names and a slow ``RESTORE DATABASE ... WITH STATS`` that reports progress,
honours cancellation and fails with the real error numbers (3201, 3013, 3154, 3101, 3159, 3241)
of SQL Server. The Lync lab scenario has its own, richer backend.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .api import Column, ResultSink, SqlError

VERSION = (
    "Microsoft SQL Server 2012 (SP4) (KB4018073) - 11.0.7001.0 (X64) "
    "Lab Edition (64-bit) on Windows NT 6.3 <X64> (lync-restore lab)"
)

TYPES_COLUMNS = (
    Column("i", "int"), Column("b", "bigint"), Column("s", "nvarchar"), Column("f", "bit"),
    Column("d", "datetime"), Column("x", "float"), Column("v", "varbinary"),
    Column("g", "uniqueidentifier"),
)
TYPES_ROW = (
    -2147483648, 9223372036854775807, "Lync ☎ 'quoted' \"x\"", True,
    dt.datetime(2013, 10, 22, 17, 30, 15, 500000), 3.25, b"\x00\x01\xfe\xff",
    uuid.UUID("6f9619ff-8b86-d011-b42d-00c04fc964ff"),
)


@dataclass
class ToyBackup:
    """A backup file the toy instance can read: which database it holds, whether it is damaged."""

    database: str
    pages: int = 1256
    damaged: bool = False


@dataclass
class ToyDatabase:
    name: str
    recovery: str = "SIMPLE"  # FULL databases need a tail-log backup or WITH REPLACE
    users_connected: int = 0
    state: str = "ONLINE"


def parse_bracketed(text: str, pos: int) -> tuple[str, int]:
    """Read a ``[...]`` identifier starting at ``text[pos] == '['``; ``]]`` means ``]``."""
    if pos >= len(text) or text[pos] != "[":
        raise SqlError(102, f"Incorrect syntax near '{text[pos:pos + 20]}'.", 15)
    out = []
    i = pos + 1
    while i < len(text):
        ch = text[i]
        if ch == "]":
            if text[i + 1 : i + 2] == "]":
                out.append("]")
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise SqlError(105, "Unclosed quotation mark after the character string ''.", 15)


def _value_column(name: str, value: object) -> Column:
    if isinstance(value, bool):
        return Column(name, "bit")
    if isinstance(value, int):
        return Column(name, "bigint")
    if isinstance(value, float):
        return Column(name, "float")
    if isinstance(value, dt.datetime):
        return Column(name, "datetime")
    if isinstance(value, bytes | bytearray):
        return Column(name, "varbinary")
    if isinstance(value, uuid.UUID):
        return Column(name, "uniqueidentifier")
    return Column(name, "nvarchar")


@dataclass
class ToyBackend:
    """Users, databases and backup files of one toy instance; thread-safe enough for tests."""

    users: dict[str, str] = field(default_factory=lambda: {"sa": "Lab-Pa55word"})
    databases: dict[str, ToyDatabase] = field(default_factory=lambda: {
        n: ToyDatabase(n) for n in ("master", "tempdb", "rtc", "xds", "lis", "LcsCDR")})
    backups: dict[str, ToyBackup] = field(default_factory=dict)
    step_delay_s: float = 0.05
    #: called with (percent, monotonic time) right after each progress message is flushed
    on_progress_sent: Callable[[int, float], None] | None = None
    restores_cancelled: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def login(self, user: str, password: str, database: str | None, app: str) -> ToySession:
        if self.users.get(user) != password:
            raise SqlError(18456, f"Login failed for user '{user}'.", 14, 1)
        db = database or "master"
        if db not in self.databases:
            raise SqlError(4060, f'Cannot open database "{db}" requested by the login. '
                                 "The login failed.", 11, 1)
        return ToySession(self, db)


_THROW = re.compile(r"^THROW\s+(\d+)\s*,\s*N?'((?:[^']|'')*)'\s*,\s*(\d+)\s*;?$", re.I | re.S)
_SELECT_PARAMS = re.compile(r"^SELECT\s+\?(?:\s*,\s*\?)*\s*;?$", re.I)
_NUMBERS = re.compile(r"^SELECT\s+TOP\s*\(\s*\?\s*\)\s+n\s*,\s*label\s+FROM\s+lab\.numbers\s*;?$", re.I)
_RESTORE = re.compile(r"^RESTORE\s+DATABASE\s+", re.I)
_DISK = re.compile(r"^\s*FROM\s+DISK\s*=\s*(?:N?'((?:[^']|'')*)'|(\?))", re.I)
_WAITFOR = re.compile(r"^WAITFOR\s+DELAY\s+'00:00:(\d\d)'\s*;?$", re.I)


class ToySession:
    def __init__(self, backend: ToyBackend, database: str) -> None:
        self.backend = backend
        self.database = database

    def execute(self, sql: str, params: Sequence[object], sink: ResultSink) -> None:
        text = sql.strip()
        upper = text.upper().rstrip(";").strip()
        if upper == "SELECT @@VERSION":
            sink.columns([Column("", "nvarchar")])
            sink.row([VERSION])
            sink.done()
        elif upper == "SELECT 1":
            sink.columns([Column("", "int")])
            sink.row([1])
            sink.done()
        elif upper == "SELECT DB_NAME()":
            sink.columns([Column("", "nvarchar")])
            sink.row([self.database])
            sink.done()
        elif _SELECT_PARAMS.match(text):
            sink.columns([_value_column(f"p{i}", v) for i, v in enumerate(params, 1)])
            sink.row(list(params))
            sink.done()
        elif upper == "SELECT * FROM LAB.TYPES":
            sink.columns(TYPES_COLUMNS)
            sink.row(TYPES_ROW)
            sink.row([None] * len(TYPES_COLUMNS))
            sink.done()
        elif _NUMBERS.match(text):
            count = params[0] if params and isinstance(params[0], int) else 0
            sink.columns([Column("n", "int", nullable=False), Column("label", "nvarchar")])
            for n in range(1, count + 1):
                sink.row([n, f"row {n:06d} of the lab numbers table"])
            sink.done()
        elif upper.startswith("SELECT NAME FROM SYS.DATABASES"):
            self._list_databases(upper, params, sink)
        elif upper.startswith(("CREATE DATABASE ", "DROP DATABASE ", "USE ")):
            self._ddl(text, sink)
        elif m := _THROW.match(text):
            raise SqlError(int(m.group(1)), m.group(2).replace("''", "'"), 16, int(m.group(3)))
        elif _RESTORE.match(text):
            self._restore(text, params, sink)
        elif m := _WAITFOR.match(text):
            sink.cancelled.wait(int(m.group(1)))
            sink.done()
        else:
            raise SqlError(102, f"Incorrect syntax near '{text[:30]}'.", 15)

    def _list_databases(self, upper: str, params: Sequence[object], sink: ResultSink) -> None:
        with self.backend.lock:
            names = sorted(self.backend.databases)
        if "WHERE NAME = ?" in upper:
            names = [n for n in names if n == params[0]]
        sink.columns([Column("name", "nvarchar", nullable=False)])
        for n in names:
            sink.row([n])
        sink.done()

    def _ddl(self, text: str, sink: ResultSink) -> None:
        verb, _, rest = text.partition(" ")
        if verb.upper() != "USE":
            rest = rest.partition(" ")[2]
        name, end = parse_bracketed(rest, 0)
        if rest[end:].strip(" ;"):
            raise SqlError(102, f"Incorrect syntax near '{rest[end:end + 20]}'.", 15)
        with self.backend.lock:
            dbs = self.backend.databases
            if verb.upper() == "USE":
                if name not in dbs:
                    raise SqlError(911, f"Database '{name}' does not exist. Make sure that the "
                                        "name is entered correctly.", 16)
                self.database = name
            elif verb.upper() == "CREATE":
                if name in dbs:
                    raise SqlError(1801, f"Database '{name}' already exists. Choose a different "
                                         "database name.", 16)
                dbs[name] = ToyDatabase(name)
            else:
                if name not in dbs:
                    raise SqlError(3701, f"Cannot drop the database '{name}', because it does "
                                         "not exist or you do not have permission.", 11)
                del dbs[name]
        sink.done(rowcount=None)

    def _restore(self, text: str, params: Sequence[object], sink: ResultSink) -> None:
        rest = text[len(_RESTORE.match(text).group(0)):]  # type: ignore[union-attr]
        name, end = parse_bracketed(rest, 0)
        m = _DISK.match(rest[end:])
        if m is None:
            raise SqlError(102, "Incorrect syntax near 'RESTORE'.", 15)
        path = m.group(1).replace("''", "'") if m.group(1) is not None else str(params[0])
        options = rest[end + m.end():].upper()
        stats = re.search(r"STATS\s*=\s*(\d+)", options)
        step = int(stats.group(1)) if stats else 0
        replace = re.search(r"\bREPLACE\b", options) is not None
        terminate = SqlError(3013, "RESTORE DATABASE is terminating abnormally.", 16, 1)
        backend = self.backend
        with backend.lock:
            backup = backend.backups.get(path)
            target = backend.databases.get(name)
        if backup is None:
            sink.error(SqlError(3201, f"Cannot open backup device '{path}'. Operating system "
                                      "error 5(Access is denied.).", 16, 2))
            raise terminate
        if backup.damaged:
            sink.error(SqlError(3241, f"The media family on device '{path}' is incorrectly "
                                      "formed. SQL Server cannot process this media family.", 16))
            raise terminate
        if target is not None and target.users_connected:
            sink.error(SqlError(3101, "Exclusive access could not be obtained because the "
                                      "database is in use.", 16))
            raise terminate
        if backup.database != name and target is not None and not replace:
            sink.error(SqlError(3154, "The backup set holds a backup of a database other than "
                                      f"the existing '{name}' database.", 16))
            raise terminate
        if target is not None and target.recovery == "FULL" and not replace:
            sink.error(SqlError(3159, f"The tail of the log for the database \"{name}\" has not "
                                      "been backed up. Use BACKUP LOG WITH NORECOVERY to back up "
                                      "the log if it contains work you do not want to lose.", 16))
            raise terminate
        with backend.lock:
            backend.databases[name] = db = ToyDatabase(name, state="RESTORING")
        started = time.monotonic()
        if step:
            for pct in range(step, 101, step):
                if sink.cancelled.wait(backend.step_delay_s):
                    with backend.lock:
                        backend.restores_cancelled += 1
                    return  # left RESTORING, as a real server does
                sink.info(3211, f"{pct} percent processed.", severity=0)
                if backend.on_progress_sent is not None:
                    backend.on_progress_sent(pct, time.monotonic())
        elif sink.cancelled.wait(backend.step_delay_s):
            return
        db.state = "ONLINE"
        secs = max(time.monotonic() - started, 0.001)
        sink.info(4035, f"Processed {backup.pages} pages for database '{name}', file "
                        f"'{name}_data' on file 1.")
        sink.info(3014, f"RESTORE DATABASE successfully processed {backup.pages} pages in "
                        f"{secs:.3f} seconds ({backup.pages * 8 / 1024 / secs:.3f} MB/sec).")
        sink.done(rowcount=None)
