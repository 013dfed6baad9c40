"""The lab's SQL engine behind the real TDS server, driven by real pyodbc (FreeTDS and MS ODBC 18)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pyodbc
import pytest

from lab.clock import LabClock
from lab.sqlengine import SqlEngine, folder_resolver
from lab.sqlstate import SqlInstanceState, write_bak
from lab.tds import TdsServer
from wizard.remote.odbc import FREETDS_PATHS, bundled_msodbc18

pytestmark = pytest.mark.integration

PASSWORD = "Lab-Integration-7Pw"
SET = "\\\\backup01\\LyncBackup\\2026-11-24_0200\\sql"


@pytest.fixture
def state(tmp_path: Path) -> SqlInstanceState:
    st = SqlInstanceState.for_lync("be1.fabrikam.com", "rtc", ["BackendStore", "MonitoringStore"],
                                   content={"set": "live"})
    st.logins["sa"] = PASSWORD
    return st


@pytest.fixture
def server(state: SqlInstanceState, tmp_path: Path) -> Iterator[TdsServer]:
    share = tmp_path / "LyncBackup"
    (share / "2026-11-24_0200" / "sql").mkdir(parents=True)
    old = state.databases["LcsCDR"].snapshot()
    old.content = {"set": "2026-11-24_0200", "calls": 777}
    write_bak(share / "2026-11-24_0200" / "sql" / "LcsCDR.bak", database=old, server=state.server,
              instance=state.instance, start=dt.datetime(2026, 11, 24, 2, 0), finish=dt.datetime(2026, 11, 24, 2, 1),
              first_lsn=old.last_lsn - 1, last_lsn=old.last_lsn)
    # LcsCDR is 2 GB: 13.6 simulated seconds at 150 MB/s, played 40x faster (about 0.35 s)
    engine = SqlEngine(state, resolve_path=folder_resolver({"\\\\backup01\\LyncBackup": share}),
                       clock=LabClock(40.0))
    with TdsServer(engine, server_name=state.name) as srv:
        yield srv


def _drivers() -> list[str]:
    found = [FREETDS_PATHS[0]]
    ms = bundled_msodbc18()
    if ms is not None:
        found.append(ms)
    return found


@pytest.fixture(params=_drivers(), ids=lambda p: "msodbc18" if "msodbc" in p.lower() else "freetds")
def conn(request: pytest.FixtureRequest, server: TdsServer) -> Iterator[pyodbc.Connection]:
    driver = request.param
    if "msodbc" in driver.lower():
        cs = (f"DRIVER={driver};SERVER=127.0.0.1,{server.port};UID=sa;PWD={{{PASSWORD}}};Encrypt=no;"
              "TrustServerCertificate=yes")
    else:
        cs = f"DRIVER={driver};SERVER=127.0.0.1;PORT={server.port};UID=sa;PWD={{{PASSWORD}}};TDS_Version=7.4"
    cn = pyodbc.connect(cs, autocommit=True, timeout=5)
    cn.timeout = 20
    try:
        yield cn
    finally:
        cn.close()


def test_select_sys_databases(conn: pyodbc.Connection, state: SqlInstanceState) -> None:
    state.databases["rtcxds"].state = "RESTORING"
    cur = conn.cursor()
    cur.execute("SELECT name, state_desc, recovery_model_desc FROM sys.databases WHERE name IN (?, ?) ORDER BY name",
                "rtcxds", "LcsCDR")
    assert [tuple(r) for r in cur.fetchall()] == [("LcsCDR", "ONLINE", "FULL"), ("rtcxds", "RESTORING", "FULL")]
    assert [d[0] for d in cur.description] == ["name", "state_desc", "recovery_model_desc"]
    cur.execute("SELECT @@SERVERNAME")
    assert cur.fetchone()[0] == "BE1\\RTC"


def test_restore_with_progress_via_nextset(conn: pyodbc.Connection, state: SqlInstanceState) -> None:
    cur = conn.cursor()
    started = time.monotonic()
    cur.execute(f"RESTORE DATABASE [LcsCDR] FROM DISK = N'{SET}\\LcsCDR.bak' WITH REPLACE, RECOVERY, STATS = 25")
    messages: list[str] = []
    arrivals: list[float] = []
    deadline = time.monotonic() + 20
    while True:
        for _, text in cur.messages:
            messages.append(str(text))
            arrivals.append(time.monotonic())
        if not cur.nextset() or time.monotonic() > deadline:
            break
    for _, text in cur.messages:
        messages.append(str(text))
    progress = [m for m in messages if "percent processed." in m]
    assert [m.rsplit("]", 1)[-1] for m in progress] == [f"{p} percent processed." for p in (25, 50, 75, 100)]
    assert "RESTORE DATABASE successfully processed" in messages[-1]
    assert time.monotonic() - started < 10
    # streamed as they happened, not all at the end: 25% -> 100% spans 3/4 of ~0.34 s
    assert arrivals[len(progress) - 1] - arrivals[0] > 0.1
    assert state.databases["LcsCDR"].content == {"set": "2026-11-24_0200", "calls": 777}
    assert state.databases["LcsCDR"].state == "ONLINE"


def test_restore_unreachable_path_is_3201(conn: pyodbc.Connection, state: SqlInstanceState) -> None:
    cur = conn.cursor()
    with pytest.raises(pyodbc.Error) as err:
        cur.execute("RESTORE DATABASE [LcsCDR] FROM DISK = N'\\\\nas9\\gone\\LcsCDR.bak' WITH REPLACE")
        while cur.nextset():
            pass
    text = str(err.value)
    assert "(3201)" in text
    assert "Cannot open backup device" in text
    assert state.statement_log[-1].error == 3013


def test_login_refused_is_18456(server: TdsServer) -> None:
    cs = (f"DRIVER={FREETDS_PATHS[0]};SERVER=127.0.0.1;PORT={server.port};UID=sa;PWD={{wrong}};"
          "TDS_Version=7.4")
    with pytest.raises(pyodbc.Error) as err:
        pyodbc.connect(cs, timeout=5)
    assert "18456" in str(err.value)
