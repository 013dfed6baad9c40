"""Benchmarks of the SQL path against the lab's TDS server (real pyodbc + FreeTDS).

Each function starts its own toy server on loopback, measures, stops it and returns a dict
with the median in milliseconds, so the benchmark harness can record and compare runs.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from lab.tds import TdsServer
from lab.tds.toy import ToyBackend, ToyBackup
from wizard.remote.odbc import FREETDS_PATHS, SqlEndpoint, discover
from wizard.remote.sql import SqlEvent, SqlProgress, SqlRunner

_PASSWORD = "bench-Lab-pw1"  # noqa: S105 -- the toy lab login, not a secret
_BACKUP = "\\\\bk\\bench\\rtc.bak"


def _endpoint(server: TdsServer, driver: str | None) -> SqlEndpoint:
    chosen = driver or discover(next((p for p in FREETDS_PATHS if _exists(p)), None)).name
    return SqlEndpoint(server="sql01.lab.local", instance="RTC", port=server.port,
                       address="127.0.0.1", driver=chosen, encrypt="off", login_timeout_s=5)


def _exists(path: str) -> bool:
    import os

    return os.path.exists(path)


def _result(name: str, samples: list[float], **extra: Any) -> dict[str, Any]:
    return {"name": name, "median_ms": round(statistics.median(samples), 3),
            "min_ms": round(min(samples), 3), "max_ms": round(max(samples), 3),
            "n": len(samples), **extra}


def bench_sql_connect(n: int = 30, driver: str | None = None) -> dict[str, Any]:
    """Connect (LOGIN7 + the driver's connect-time queries) and close, FreeTDS by default."""
    samples = []
    with TdsServer(ToyBackend(users={"sa": _PASSWORD})) as srv:
        ep = _endpoint(srv, driver)
        for _ in range(n):
            t0 = time.perf_counter()
            runner = SqlRunner(ep, "sa", _PASSWORD)
            runner.connect()
            runner.close()
            samples.append((time.perf_counter() - t0) * 1000)
    return _result("sql_connect", samples, driver=ep.driver)


def bench_sql_select(n: int = 200, rows: int = 1, driver: str | None = None) -> dict[str, Any]:
    """One parameterised SELECT returning ``rows`` rows on an open connection."""
    samples = []
    with TdsServer(ToyBackend(users={"sa": _PASSWORD})) as srv:
        ep = _endpoint(srv, driver)
        with SqlRunner(ep, "sa", _PASSWORD) as runner:
            runner.query("SELECT 1")
            for _ in range(n):
                t0 = time.perf_counter()
                got = runner.query("SELECT TOP (?) n, label FROM lab.numbers", [rows])
                samples.append((time.perf_counter() - t0) * 1000)
                if len(got) != rows:
                    raise RuntimeError(f"expected {rows} rows, got {len(got)}")
    return _result("sql_select", samples, rows=rows, driver=ep.driver)


def bench_progress_latency(steps: int = 20, step_delay_s: float = 0.02,
                           driver: str | None = None) -> dict[str, Any]:
    """Milliseconds from the server flushing a 3211 INFO to the runner's SqlProgress event."""
    sent: dict[int, float] = {}
    backend = ToyBackend(users={"sa": _PASSWORD}, step_delay_s=step_delay_s)
    backend.backups[_BACKUP] = ToyBackup("rtc")
    backend.on_progress_sent = sent.__setitem__
    received: dict[int, float] = {}

    def on_event(event: SqlEvent) -> None:
        if isinstance(event, SqlProgress):
            received[event.percent] = time.monotonic()

    stats = max(1, 100 // steps)
    with TdsServer(backend) as srv:
        ep = _endpoint(srv, driver)
        with SqlRunner(ep, "sa", _PASSWORD) as runner:
            runner.execute_with_progress(
                f"RESTORE DATABASE [rtc] FROM DISK = N'{_BACKUP}' WITH REPLACE, STATS = {stats}",
                on_event=on_event, deadline_s=60)
    samples = [(received[p] - sent[p]) * 1000 for p in sent if p in received]
    if not samples:
        raise RuntimeError("no progress event reached the runner")
    return _result("progress_latency", samples, goal_ms=100, driver=ep.driver)
