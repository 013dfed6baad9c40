"""What a simulated SQL Server plugs into the lab's TDS server.

The wire protocol lives in :mod:`.codec` and :mod:`.server`; this module is the small contract a
backend (the toy one in :mod:`.toy`, or the Lync lab scenario) implements, so a backend never
sees a packet and the server never knows what a statement means.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

ColumnType = Literal[
    "int", "bigint", "nvarchar", "bit", "datetime", "float", "varbinary", "uniqueidentifier"
]
COLUMN_TYPES: tuple[ColumnType, ...] = (
    "int", "bigint", "nvarchar", "bit", "datetime", "float", "varbinary", "uniqueidentifier"
)


@dataclass(frozen=True)
class Column:
    """One result column as the client will see it in ``cursor.description``."""

    name: str
    type: ColumnType
    nullable: bool = True


class SqlError(Exception):
    """A SQL Server error: raise it from a backend to fail a statement or a login.

    The server turns it into an ERROR token (severity >= 11) that the ODBC driver reports as
    ``[SQL Server]<message> (<number>)``.
    """

    def __init__(
        self, number: int, message: str, severity: int = 16, state: int = 1, line: int = 1
    ) -> None:
        super().__init__(f"Msg {number}, Level {severity}, State {state}: {message}")
        self.number = number
        self.message = message
        self.severity = severity
        self.state = state
        self.line = line


class ResultSink(Protocol):
    """Where a backend writes the results of one statement.

    ``columns`` opens a result set, ``row`` adds to it, ``done`` closes it (or reports a
    row count for a statement without results). ``info`` is sent to the client at once, so
    progress messages arrive while the statement is still running.
    """

    def columns(self, cols: Sequence[Column]) -> None: ...

    def row(self, values: Sequence[object]) -> None: ...

    def info(self, number: int, message: str, *, severity: int = 0, state: int = 1) -> None: ...

    def error(self, err: SqlError) -> None: ...

    def done(self, rowcount: int | None = None) -> None: ...

    @property
    def cancelled(self) -> threading.Event:
        """Set when the client sends ATTENTION; long statements should poll it and return."""
        ...


class SqlSession(Protocol):
    """One logged-in connection. ``database`` is the current database (``USE`` changes it)."""

    database: str

    def execute(self, sql: str, params: Sequence[object], sink: ResultSink) -> None:
        """Run one batch or RPC statement; ``?`` marks each parameter in ``sql``.

        Raises :class:`SqlError` to fail the statement.
        """
        ...


class SqlBackend(Protocol):
    """A simulated SQL Server instance."""

    def login(self, user: str, password: str, database: str | None, app: str) -> SqlSession:
        """Open a session; raises :class:`SqlError` 18456 (bad credentials) or 4060."""
        ...
