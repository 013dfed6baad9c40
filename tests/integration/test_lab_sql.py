"""The lab's SQL engine behind the real TDS server, driven by real pyodbc (FreeTDS and MS ODBC 18)."""

from __future__ import annotations

import datetime as dt
import threading
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
def clock() -> LabClock:
    # LcsCDR is 2 GB: 13.6 simulated seconds at 150 MB/s, played 40x faster (about 0.35 s)
    return LabClock(40.0)


@pytest.fixture
def server(state: SqlInstanceState, clock: LabClock, tmp_path: Path) -> Iterator[TdsServer]:
    share = tmp_path / "LyncBackup"
    (share / "2026-11-24_0200" / "sql").mkdir(parents=True)
    old = state.databases["LcsCDR"].snapshot()
    old.content = {"set": "2026-11-24_0200", "calls": 777}
    write_bak(share / "2026-11-24_0200" / "sql" / "LcsCDR.bak", database=old, server=state.server,
              instance=state.instance, start=dt.datetime(2026, 11, 24, 2, 0), finish=dt.datetime(2026, 11, 24, 2, 1),
              first_lsn=old.last_lsn - 1, last_lsn=old.last_lsn)
    engine = SqlEngine(state, resolve_path=folder_resolver({"\\\\backup01\\LyncBackup": share}),
                       clock=clock)
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


@pytest.mark.timeout(120)  # a safety net only
def test_restore_with_progress_via_nextset(conn: pyodbc.Connection, state: SqlInstanceState,
                                           clock: LabClock, monkeypatch: pytest.MonkeyPatch) -> None:
    # Streamed as they happen, not all at the end: the engine plays its last step (the one that
    # reaches 100 %) only once the client has read a progress message, so that message must
    # arrive while the database is still RESTORING. An engine or server that held the messages
    # back to the end would keep the restore waiting (recorded in ``stalled``).
    seen_progress = threading.Event()
    stalled: list[int] = []
    steps: list[float] = []
    play = clock.sleep

    def last_step_waits_for_the_client(sim_seconds: float, cancelled: threading.Event | None = None) -> bool:
        steps.append(sim_seconds)
        if len(steps) == 4 and not seen_progress.wait(10):
            stalled.append(len(steps))
        return play(sim_seconds, cancelled)

    monkeypatch.setattr(clock, "sleep", last_step_waits_for_the_client)
    cur = conn.cursor()
    cur.execute(f"RESTORE DATABASE [LcsCDR] FROM DISK = N'{SET}\\LcsCDR.bak' WITH REPLACE, RECOVERY, STATS = 25")
    messages: list[str] = []
    state_at_first_progress: str | None = None
    for _ in range(100):  # a bound on result sets, not on time
        for _, text in cur.messages:
            messages.append(str(text))
            if "percent processed." in str(text) and state_at_first_progress is None:
                state_at_first_progress = state.databases["LcsCDR"].state
                seen_progress.set()
        if not cur.nextset():
            break
    for _, text in cur.messages:
        messages.append(str(text))
    progress = [m for m in messages if "percent processed." in m]
    assert [m.rsplit("]", 1)[-1] for m in progress] == [f"{p} percent processed." for p in (25, 50, 75, 100)]
    assert "RESTORE DATABASE successfully processed" in messages[-1]
    assert stalled == [], "no progress reached the client before the restore's last step"
    assert state_at_first_progress == "RESTORING"
    assert len(steps) == 4  # one simulated step per STATS = 25
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
