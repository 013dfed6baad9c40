"""The lab's T-SQL subset: identifiers, strings, parameters, SELECT shapes, the clock."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest

from lab.clock import LabClock
from lab.sqlengine import SqlEngine, folder_resolver
from lab.sqllex import tokenize
from lab.sqlstate import BackupHistory, DatabaseState, SqlInstanceState
from lab.tds.api import SqlError
from tests.unit.sql_sink import Sink

PASSWORD = "Lab-Pa55word!"


@pytest.fixture
def engine(tmp_path: Path) -> SqlEngine:
    st = SqlInstanceState.for_lync("be1.fabrikam.com", "rtc", ["BackendStore", "MonitoringStore"])
    st.logins["sa"] = PASSWORD
    return SqlEngine(st, resolve_path=folder_resolver({"D:\\": tmp_path}), clock=LabClock(float("inf")))


def run(engine: SqlEngine, sql: str, params: tuple[object, ...] = ()) -> list[list[object]]:
    sink = Sink()
    engine.login("sa", PASSWORD, None, "t").execute(sql, params, sink)
    return sink.rows()


def test_tokenizer_brackets_strings_comments_params() -> None:
    toks = tokenize("SELECT [a]]b], N'it''s', 'x' -- comment\n /* block */ , ?, ?", ["p'1", None])
    assert [(t.kind, t.text) for t in toks] == [
        ("word", "SELECT"), ("qident", "a]b"), ("op", ","), ("string", "it's"), ("op", ","), ("string", "x"),
        ("op", ","), ("string", "p'1"), ("op", ","), ("null", "NULL"), ("end", "")]
    with pytest.raises(SqlError) as err:
        tokenize("SELECT 'open")
    assert err.value.number == 105
    with pytest.raises(SqlError) as err2:
        tokenize("SELECT ?", [])
    assert err2.value.number == 8178


def test_bracketed_database_name_with_escape(engine: SqlEngine) -> None:
    engine.state.add_database(DatabaseState(name="odd]name"))
    assert run(engine, "SELECT name FROM sys.databases WHERE name = 'odd]name'") == [["odd]name"]]
    run(engine, "ALTER DATABASE [odd]]name] SET OFFLINE")
    assert engine.state.databases["odd]name"].state == "OFFLINE"


def test_aggregates_group_by_top_like(engine: SqlEngine) -> None:
    st = engine.state
    t0 = dt.datetime(2026, 11, 20, 2, 0)
    for day in range(3):
        for db in ("LcsCDR", "QoEMetrics"):
            st.backup_history.append(BackupHistory(db, "D", t0 + dt.timedelta(days=day),
                                                   t0 + dt.timedelta(days=day, minutes=5), f"\\\\b\\{db}{day}.bak",
                                                   day * 10, day * 10 + 5, True, st.server, None,
                                                   st.next_media_set_id(), 1000))
    rows = run(engine, "SELECT database_name, MAX(backup_finish_date) AS last, COUNT(*) FROM msdb.dbo.backupset "
                       "WHERE type = 'D' GROUP BY database_name ORDER BY database_name")
    assert rows == [["LcsCDR", t0 + dt.timedelta(days=2, minutes=5), 3],
                    ["QoEMetrics", t0 + dt.timedelta(days=2, minutes=5), 3]]
    rows = run(engine, "SELECT TOP (?) m.physical_device_name FROM msdb..backupset b JOIN msdb.dbo.backupmediafamily m "
                       "ON b.media_set_id = m.media_set_id WHERE b.database_name LIKE 'qoe%' "
                       "ORDER BY b.backup_start_date DESC", (2,))
    assert rows == [["\\\\b\\QoEMetrics2.bak"], ["\\\\b\\QoEMetrics1.bak"]]
    assert run(engine, "SELECT COUNT(*) FROM sys.databases WHERE state_desc <> 'ONLINE' OR name IS NULL") == [[0]]
    assert run(engine, "SELECT DISTINCT recovery_model_desc FROM sys.databases ORDER BY 1") == [["FULL"], ["SIMPLE"]]


def test_mirroring_view_and_partner_off(engine: SqlEngine) -> None:
    db = engine.state.databases["rtcxds"]
    db.mirroring_role = "PRINCIPAL"
    db.mirroring_partner = "TCP://be2.fabrikam.com:5022"
    rows = run(engine, "SELECT d.name, m.mirroring_role_desc, m.mirroring_partner_name FROM sys.database_mirroring m "
                       "JOIN sys.databases d ON d.database_id = m.database_id WHERE m.mirroring_role_desc IS NOT NULL")
    assert rows == [["rtcxds", "PRINCIPAL", "TCP://be2.fabrikam.com:5022"]]
    run(engine, "ALTER DATABASE [rtcxds] SET PARTNER OFF")
    assert db.mirroring_role is None


def test_create_drop_database_and_use(engine: SqlEngine) -> None:
    s = engine.login("sa", PASSWORD, None, "t")
    s.execute("CREATE DATABASE [scratch]; USE [scratch]", (), Sink())
    assert s.database == "scratch"
    with pytest.raises(SqlError) as err:
        s.execute("DROP DATABASE [scratch]", (), Sink())
    assert err.value.number == 3702
    s.execute("USE master; DROP DATABASE scratch", (), Sink())
    assert "scratch" not in engine.state.databases
    with pytest.raises(SqlError) as err2:
        s.execute("USE [scratch]", (), Sink())
    assert err2.value.number == 911


def test_instance_down_refuses_login(engine: SqlEngine) -> None:
    engine.state.up = False
    with pytest.raises(SqlError) as err:
        engine.login("sa", PASSWORD, None, "t")
    assert err.value.number == 17142


def test_clock_scales_and_cancels() -> None:
    clock = LabClock(100.0, start=dt.datetime(2026, 11, 24, 2, 0))
    t = time.monotonic()
    assert clock.sleep(10.0) is True  # 10 simulated seconds = 0.1 s
    assert 0.08 < time.monotonic() - t < 2.0
    assert clock.now() >= dt.datetime(2026, 11, 24, 2, 0, 9)
    cancel = threading.Event()
    threading.Timer(0.05, cancel.set).start()
    t = time.monotonic()
    assert clock.sleep(3600.0, cancel) is False
    assert time.monotonic() - t < 2.0
    clock.advance(3 * 3600)
    assert clock.now() >= dt.datetime(2026, 11, 24, 5, 0)
    with pytest.raises(ValueError):
        LabClock(0)
