"""The lab's SQL instances through pyodbc (FreeTDS; Microsoft ODBC 18 for the progress test),
served by LabRuntime from a scenario: RESTORE progress message by message through nextset(),
cancel mid-restore, and each SQL Server error of the issue in the lab situation that causes it.
(tests/integration/test_lab_sql.py covers the bare engine; these go through the whole lab.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyodbc
import pytest

from lab.runtime import LabRuntime
from lab.scenarios import scenario
from wizard.remote.odbc import FREETDS_PATHS, bundled_msodbc18

pytestmark = pytest.mark.integration

SET = r"\\bk01.fabrikam.lab\LyncBackup\2026-11-24_0200"
FREETDS = FREETDS_PATHS[0]


def _connect(lab: LabRuntime, sql: str, driver: str = FREETDS, **extra: str) -> pyodbc.Connection:
    cs = lab.odbc_connection_string(sql, driver) + "".join(f"{k}={v};" for k, v in extra.items())
    return pyodbc.connect(cs, autocommit=True, timeout=10)


def _state(lab: LabRuntime, sql: str, db: str) -> str | None:
    with _connect(lab, sql) as conn:
        row = conn.cursor().execute("SELECT state_desc FROM sys.databases WHERE name = ?",
                                    db).fetchone()
    return None if row is None else str(row[0])


@pytest.fixture
def mon_lab(tmp_path: Path) -> Iterator[LabRuntime]:
    """Monitoring lost: LcsCDR (2 GB, 13.6 simulated s at 150 MB/s) plays in about 0.35 s."""
    with LabRuntime(scenario("monitoring-db-lost"), state_dir=tmp_path, time_factor=40) as lab:
        yield lab


def _drivers() -> list[str]:
    ms = bundled_msodbc18()
    return [FREETDS] + ([ms] if ms else [])


@pytest.mark.parametrize("driver", _drivers(), ids=lambda d: "msodbc18" if "msodbc" in d
                         else "freetds")
@pytest.mark.timeout(120)  # a safety net only
def test_restore_progress_arrives_message_by_message(mon_lab: LabRuntime, driver: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Streamed while the restore runs, not all at the end: the lab plays the restore's last step
    # (the one that reaches 100 %) only once the client has read a progress message, which must
    # therefore arrive while LcsCDR is still RESTORING. Messages held back to the end would keep
    # the restore waiting (recorded in ``stalled``).
    inst = mon_lab.dep.instance_by_id("mon")
    assert inst is not None
    seen_progress = threading.Event()
    stalled: list[int] = []
    steps: list[float] = []
    play = mon_lab.clock.sleep

    def last_step_waits_for_the_client(sim_seconds: float, cancelled: threading.Event | None = None) -> bool:
        steps.append(sim_seconds)
        if len(steps) == 4 and not seen_progress.wait(10):
            stalled.append(len(steps))
        return play(sim_seconds, cancelled)

    monkeypatch.setattr(mon_lab.clock, "sleep", last_step_waits_for_the_client)
    conn = _connect(mon_lab, "mon", driver)
    cur = conn.cursor()
    cur.execute(rf"RESTORE DATABASE [LcsCDR] FROM DISK = N'{SET}\sql\LcsCDR.bak' "
                "WITH REPLACE, RECOVERY, STATS = 25")
    arrivals: list[str] = []
    state_at_first_progress: str | None = None
    for _ in range(100):  # a bound on result sets, not on time
        for m in cur.messages:
            arrivals.append(str(m[1]))
            if "percent processed." in arrivals[-1] and state_at_first_progress is None:
                db = inst.database("LcsCDR")
                state_at_first_progress = None if db is None else db.state
                seen_progress.set()
        if not cur.nextset():
            break
    arrivals += [str(m[1]) for m in cur.messages]
    conn.close()
    progress = [m for m in arrivals if "percent processed." in m]
    assert [m.rsplit("]", 1)[-1] for m in progress] == [
        f"{p} percent processed." for p in (25, 50, 75, 100)]
    assert "RESTORE DATABASE successfully processed" in arrivals[-1]
    assert stalled == [], "no progress reached the client before the restore's last step"
    assert state_at_first_progress == "RESTORING"
    assert len(steps) == 4  # one simulated step per STATS = 25
    assert _state(mon_lab, "mon", "LcsCDR") == "ONLINE"


def test_cancel_mid_restore_leaves_restoring(tmp_path: Path) -> None:
    # LcsCDR takes 13.6 simulated s: 1.7 s here unless cancelled
    with LabRuntime(scenario("monitoring-db-lost"), state_dir=tmp_path, time_factor=8) as lab:
        conn = _connect(lab, "mon")
        cur = conn.cursor()
        began = time.monotonic()
        cur.execute(rf"RESTORE DATABASE [LcsCDR] FROM DISK = N'{SET}\sql\LcsCDR.bak' "
                    "WITH REPLACE, RECOVERY, STATS = 10")
        seen = [str(m[1]) for m in cur.messages]
        while not any("percent processed" in m for m in seen):
            assert cur.nextset()
            seen += [str(m[1]) for m in cur.messages]
        tds = lab.tds[lab.sql_key("mon")]
        attentions = tds.attentions
        inst = lab.dep.instance_by_id("mon")
        assert inst is not None
        restores = len(inst.restore_history)
        cur.cancel()  # ATTENTION
        try:  # drivers differ: the rest of the batch ends quietly or as an error
            while cur.nextset():
                seen += [str(m[1]) for m in cur.messages]
        except pyodbc.Error as exc:
            assert "successfully" not in str(exc)
        conn.close()
        assert tds.attentions == attentions + 1
        # the restore stopped: progress ends short of 100 % and it never completed
        progress = [m.rsplit("]", 1)[-1] for m in seen if "percent processed" in m]
        assert progress and "100 percent processed." not in progress
        assert not any("successfully processed" in m for m in seen)
        # a window, not a measurement: wait past the end the restore would have had, then check
        # that it did not go on behind the client's back
        time.sleep(max(0.0, began + 2.2 - time.monotonic()))
        assert _state(lab, "mon", "LcsCDR") == "RESTORING"
        assert len(inst.restore_history) == restores  # msdb records no completed restore


@pytest.fixture
def healthy_mon(tmp_path: Path) -> Iterator[LabRuntime]:
    with LabRuntime(scenario("pchat-db-lost"), state_dir=tmp_path, time_factor=1e5) as lab:
        yield lab


def _error(conn: pyodbc.Connection, sql: str) -> str:
    cur = conn.cursor()
    with pytest.raises(pyodbc.Error) as err:
        cur.execute(sql)
        while cur.nextset():
            pass
    return str(err.value)


def test_restore_from_a_lost_server_share_is_3201_then_3013(healthy_mon: LabRuntime) -> None:
    """The file server holding a copy of the backup (fs11) is lost mid-drill."""
    healthy_mon.dep.lose_server("fs11.fabrikam.lab")
    device = r"\\fs11.fabrikam.lab\lyncshare\LcsCDR.bak"
    with _connect(healthy_mon, "mon") as conn:
        text = _error(conn, f"RESTORE DATABASE [LcsCDR] FROM DISK = N'{device}' WITH REPLACE")
    assert "(3201)" in text and "Cannot open backup device" in text
    inst = healthy_mon.dep.instance_by_id("mon")
    assert inst is not None and inst.statement_log[-1].error == 3013


def test_restore_from_a_set_without_that_backup_is_3201(healthy_mon: LabRuntime) -> None:
    with _connect(healthy_mon, "mon") as conn:
        text = _error(conn, rf"RESTORE DATABASE [LcsCDR] FROM DISK = N'{SET}\sql\rtcxds.bak' "
                            "WITH REPLACE")
    assert "(3201)" in text and "Operating system error 2" in text


def test_backup_of_another_database_without_replace_is_3154(healthy_mon: LabRuntime) -> None:
    with _connect(healthy_mon, "mon") as conn:
        text = _error(conn, rf"RESTORE DATABASE [LcsLog] FROM DISK = N'{SET}\sql\LcsCDR.bak'")
    assert "(3154)" in text and "other than the existing" in text


def test_database_in_use_is_3101(healthy_mon: LabRuntime) -> None:
    """A report (another session) still uses LcsCDR: no exclusive access for the restore."""
    with _connect(healthy_mon, "mon", DATABASE="LcsCDR") as busy, \
            _connect(healthy_mon, "mon") as conn:
        busy.cursor().execute("SELECT 1").fetchall()
        text = _error(conn, rf"RESTORE DATABASE [LcsCDR] FROM DISK = N'{SET}\sql\LcsCDR.bak' "
                            "WITH REPLACE")
    assert "(3101)" in text and "Exclusive access could not be obtained" in text


def test_tail_of_the_log_not_backed_up_is_3159(healthy_mon: LabRuntime) -> None:
    """Restoring over the live mgc (FULL recovery, unsaved log) without REPLACE."""
    inst = healthy_mon.dep.instance_by_id("pchat-sql")
    db = inst.database("mgc") if inst is not None else None
    assert db is not None and db.recovery_model == "FULL"
    db.state = "ONLINE"
    db.last_lsn += 500  # activity since the last log backup
    with _connect(healthy_mon, "pchat-sql") as conn:
        text = _error(conn, rf"RESTORE DATABASE [mgc] FROM DISK = N'{SET}\sql\mgc.bak'")
    assert "(3159)" in text and "tail of the log" in text


def test_login_to_a_lost_database_is_4060(tmp_path: Path) -> None:
    with LabRuntime(scenario("monitoring-db-lost"), state_dir=tmp_path, time_factor=1e5) as lab, \
            pytest.raises(pyodbc.Error) as err:
        _connect(lab, "mon", DATABASE="LcsCDR")
    assert "4060" in str(err.value) and 'Cannot open database "LcsCDR"' in str(err.value)


def test_wrong_password_is_18456(healthy_mon: LabRuntime) -> None:
    cs = healthy_mon.odbc_connection_string("mon", FREETDS).replace(
        f"PWD={{{healthy_mon.sql_password}}}", "PWD={not-the-password}")
    with pytest.raises(pyodbc.Error) as err:
        pyodbc.connect(cs, timeout=10)
    assert "18456" in str(err.value) and healthy_mon.sql_password not in str(err.value)


def test_two_clients_restore_on_two_instances_at_once(healthy_mon: LabRuntime) -> None:
    """The lab's SQL servers run each session in its own thread: pchat and mon in parallel."""
    failures: list[pyodbc.Error] = []

    def restore(sql: str, db: str) -> None:
        # LcsCDR is healthy and pool1's Front Ends hold it: their sessions go first (3101 otherwise)
        exclusive = f"ALTER DATABASE [{db}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE; " if db == "LcsCDR" else ""
        try:
            with _connect(healthy_mon, sql) as conn:
                cur = conn.cursor()
                cur.execute(rf"{exclusive}RESTORE DATABASE [{db}] FROM DISK = N'{SET}\sql\{db}.bak' "
                            "WITH REPLACE, RECOVERY")
                while cur.nextset():
                    pass
        except pyodbc.Error as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=restore, args=a) for a in (("pchat-sql", "mgc"),
                                                                   ("mon", "LcsCDR"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert failures == [] and not any(t.is_alive() for t in threads)
    assert _state(healthy_mon, "pchat-sql", "mgc") == "ONLINE"
