"""The lab's SQL Server: TDS 7.4 on loopback for real ODBC drivers (FreeTDS, Microsoft 17/18).

Drills, integration tests and benchmarks connect to it with the same SQL runner an incident
uses. A backend (:class:`SqlBackend`) decides what statements mean; :mod:`.toy` has a small one.
"""

from __future__ import annotations

from .api import COLUMN_TYPES, Column, ColumnType, ResultSink, SqlBackend, SqlError, SqlSession
from .server import TdsServer

__all__ = [
    "COLUMN_TYPES",
    "Column",
    "ColumnType",
    "ResultSink",
    "SqlBackend",
    "SqlError",
    "SqlSession",
    "TdsServer",
]
