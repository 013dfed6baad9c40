"""The SQL runner against the lab's TDS server with both real ODBC drivers (no mocks).

FreeTDS is the system driver; Microsoft ODBC Driver 18 comes from the ``mssql-python-odbc``
wheel and is used by absolute path (its RUNPATH finds its bundled libodbcinst, so no
LD_LIBRARY_PATH or odbcinst.ini entry is needed on a fresh machine).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Iterator

import pytest

from lab.tds import TdsServer
from lab.tds.toy import TYPES_ROW, ToyBackend, ToyBackup, ToyDatabase
from wizard.remote import sqlerrors as se
from wizard.remote.odbc import FREETDS_PATHS, bundled_msodbc18
from wizard.remote.sql import SqlEndpoint, SqlEvent, SqlFinished, SqlMessage, SqlProgress, SqlRunner

pytestmark = pytest.mark.integration

CANARY = "Canary-7f3a9c-Secret"
FREETDS = FREETDS_PATHS[0]
BACKUP = "\\\\bk\\LyncBackup\\2024-05-01\\sql\\rtc.bak"


def _msodbc() -> str:
    path = bundled_msodbc18()
    assert path is not None, "mssql-python-odbc (Microsoft ODBC Driver 18 wheel) is not installed"
    return path


@pytest.fixture(params=["freetds", "msodbc18"])
def driver(request: pytest.FixtureRequest) -> str:
    return FREETDS if request.param == "freetds" else _msodbc()


@pytest.fixture
def backend() -> ToyBackend:
    be = ToyBackend(users={"sa": CANARY}, step_delay_s=0.08)
    be.backups[BACKUP] = ToyBackup("rtc")
    be.backups["\\\\bk\\damaged.bak"] = ToyBackup("rtc", damaged=True)
    be.backups["\\\\bk\\xds.bak"] = ToyBackup("xds")
    return be


@pytest.fixture
def server(backend: ToyBackend) -> Iterator[TdsServer]:
    with TdsServer(backend) as srv:
        yield srv


def endpoint(server: TdsServer, driver: str, **kw: object) -> SqlEndpoint:
    return SqlEndpoint(server="sql01.contoso.local", instance="RTC", port=server.port,
                       address="127.0.0.1", driver=driver, encrypt="off",
                       login_timeout_s=5, query_timeout_s=10, **kw)  # type: ignore[arg-type]


@pytest.fixture
def runner(server: TdsServer, driver: str) -> Iterator[SqlRunner]:
    with SqlRunner(endpoint(server, driver), "sa", CANARY) as r:
        yield r


def test_select_every_type_and_nulls(runner: SqlRunner) -> None:
    rows = runner.query("SELECT * FROM lab.types")
    assert list(rows[0]) == ["i", "b", "s", "f", "d", "x", "v", "g"]
    got = rows[0]
    assert got["i"] == TYPES_ROW[0] and got["b"] == TYPES_ROW[1] and got["s"] == TYPES_ROW[2]
    assert got["f"] is True and got["x"] == 3.25 and got["v"] == b"\x00\x01\xfe\xff"
    assert got["d"] == dt.datetime(2013, 10, 22, 17, 30, 15, 500000)
    assert uuid.UUID(str(got["g"])) == TYPES_ROW[7]
    assert set(rows[1].values()) == {None}


@pytest.mark.parametrize("value", [
    "plain", "it's \"quoted\" [x]] ; --", "Lync ☎ Ελληνικά 日本語 😀", "", None, 42,
    -(2**40), True, 2.5, b"\x00\xff" * 100, "x" * 3000,
])
def test_parameters_round_trip(runner: SqlRunner, value: object) -> None:
    rows = runner.query("SELECT ?, ?", ["anchor", value])
    assert list(rows[0].values()) == ["anchor", value]


def test_large_result_crosses_many_packets(runner: SqlRunner) -> None:
    rows = runner.query("SELECT TOP (?) n, label FROM lab.numbers", [3000])
    assert len(rows) == 3000
    assert rows[-1] == {"n": 3000, "label": "row 003000 of the lab numbers table"}


def test_restore_progress_arrives_during_the_statement(
        runner: SqlRunner, backend: ToyBackend, driver: str) -> None:
    # Events arrive one by one while the server is still working: each percentage reaches the
    # runner before the server produces the one after the next (FreeTDS hands each message over
    # at once; Microsoft's driver holds one message back). The server checks it: before going on
    # from ``pct`` it waits until the runner has seen ``pct - 10 * (lag - 1)``. A runner that
    # reported progress only at the end would leave it waiting, recorded in ``late``.
    lag = 1 if "freetds" in driver.lower() or "tds" in driver else 2
    seen_pct = {pct: threading.Event() for pct in range(10, 101, 10)}
    late: list[int] = []

    def on_progress_sent(pct: int, _t: float) -> None:
        due = pct - 10 * (lag - 1)
        if due in seen_pct and not late and not seen_pct[due].wait(5):
            late.append(due)

    backend.on_progress_sent = on_progress_sent
    seen: list[SqlEvent] = []

    def on_event(e: SqlEvent) -> None:
        seen.append(e)
        if isinstance(e, SqlProgress):
            seen_pct[e.percent].set()

    outcome = runner.execute_with_progress(
        f"RESTORE DATABASE [rtc] FROM DISK = N'{BACKUP}' WITH REPLACE, RECOVERY, STATS = 10",
        on_event=on_event, deadline_s=60)
    progress = [e.percent for e in seen if isinstance(e, SqlProgress)]
    assert progress == list(range(10, 101, 10))
    assert late == [], f"{late[0]}% reached the runner only after the server went on to {late[0] + 10 * lag}%"
    assert outcome.completed and outcome.last_percent == 100
    assert outcome.finished_message is not None
    assert outcome.finished_message.startswith("RESTORE DATABASE successfully processed 1256 pages")
    assert isinstance(seen[-1], SqlFinished)
    assert backend.databases["rtc"].state == "ONLINE"


@pytest.mark.timeout(120)  # a safety net only
def test_cancel_mid_restore_sends_attention(runner: SqlRunner, server: TdsServer,
                                            backend: ToyBackend) -> None:
    cancel = threading.Event()
    events: list[SqlEvent] = []

    def on_event(e: SqlEvent) -> None:
        events.append(e)
        if isinstance(e, SqlProgress) and e.percent == 30:
            cancel.set()

    def on_progress_sent(pct: int, _t: float) -> None:
        if pct == 40:  # from here each step lasts 30 s: only a cancel ends the restore early
            backend.step_delay_s = 30

    backend.step_delay_s = 0.2
    backend.on_progress_sent = on_progress_sent
    runner.connect()  # FreeTDS cancels the rest of its connect-time type queries: not ours
    before = server.attentions
    # Uncancelled, the restore would run past the runner's 20 s deadline and raise instead.
    outcome = runner.execute_with_progress(
        f"RESTORE DATABASE [rtc] FROM DISK = N'{BACKUP}' WITH REPLACE, STATS = 10",
        on_event=on_event, cancel=cancel, deadline_s=20)
    assert outcome.cancelled and not outcome.completed
    assert outcome.note is not None and "rtc" in outcome.note and "RESTORING" in outcome.note
    assert any(isinstance(e, SqlMessage) and e.number is None and "RESTORING" in e.text
               for e in events)
    # progress stopped where the cancel came (Microsoft's driver may still hand over 40 %)
    assert outcome.last_percent in (30, 40)
    assert max(e.percent for e in events if isinstance(e, SqlProgress)) <= 40
    assert not any(isinstance(e, SqlFinished) for e in events)
    assert outcome.finished_message is None
    assert server.attentions == before + 1
    assert backend.restores_cancelled == 1
    assert backend.databases["rtc"].state == "RESTORING"
    assert runner.query("SELECT 1") == [{"": 1}]  # the connection is still usable


@pytest.mark.timeout(60)  # a safety net only
@pytest.mark.parametrize("statement", ["waitfor", "restore"])
def test_deadline_cancels_and_raises(runner: SqlRunner, server: TdsServer, backend: ToyBackend,
                                     statement: str) -> None:
    runner.connect()
    before = server.attentions
    # Uncancelled, either statement runs far past the 0.3 s deadline (9 s; a restore whose every
    # step lasts 30 s): a runner that waited for it would see it end normally and not raise.
    backend.step_delay_s = 30
    sql = ("WAITFOR DELAY '00:00:09'" if statement == "waitfor"
           else f"RESTORE DATABASE [rtc] FROM DISK = N'{BACKUP}' WITH REPLACE, STATS = 10")
    with pytest.raises(se.SqlTimeoutError) as info:
        runner.execute_with_progress(sql, on_event=lambda e: None, deadline_s=0.3)
    assert "did not finish within 0.3 s" in info.value.message
    assert server.attentions == before + 1  # ATTENTION reached the server
    if statement == "restore":  # and the server really stopped the statement
        assert backend.restores_cancelled == 1
        assert backend.databases["rtc"].state == "RESTORING"
        assert info.value.hint is not None and "RESTORING" in info.value.hint
    assert runner.query("SELECT 1") == [{"": 1}]  # the connection is still usable


@pytest.mark.parametrize(("path", "setup", "cls", "number", "phrase"), [
    ("\\\\bk\\missing.bak", None, se.BackupDeviceError, 3201, "cannot open the backup file"),
    ("\\\\bk\\damaged.bak", None, se.DamagedBackupError, 3241, "is damaged"),
    ("\\\\bk\\xds.bak", None, se.WrongBackupSetError, 3154, "holds a different database"),
    (BACKUP, "in_use", se.DatabaseInUseError, 3101, "is in use"),
    (BACKUP, "full", se.TailLogError, 3159, "tail of the log of rtc"),
])
def test_restore_errors_reach_the_runner_as_sentences(
        runner: SqlRunner, backend: ToyBackend, path: str, setup: str | None,
        cls: type[se.SqlServerError], number: int, phrase: str) -> None:
    if setup == "in_use":
        backend.databases["rtc"] = ToyDatabase("rtc", users_connected=3)
    elif setup == "full":
        backend.databases["rtc"] = ToyDatabase("rtc", recovery="FULL")
    replace = "" if number in (3154, 3159) else "REPLACE, "
    with pytest.raises(cls) as info:
        runner.execute_with_progress(
            f"RESTORE DATABASE [rtc] FROM DISK = N'{path}' WITH {replace}STATS = 10",
            on_event=lambda e: None)
    err = info.value
    assert err.number == number
    assert phrase in err.message and "sql01.contoso.local\\RTC" in str(err)
    assert err.message.count(". ") == 0 and err.hint  # one sentence, plus the fix
    assert CANARY not in str(err)


@pytest.mark.parametrize(("sql", "cls", "number"), [
    ("THROW 3013, N'RESTORE DATABASE is terminating abnormally.', 1",
     se.RestoreTerminatedError, 3013),
    ("THROW 4060, N'Cannot open database \"LcsLog\" requested by the login.', 1",
     se.CannotOpenDatabaseError, 4060),
    ("THROW 50123, N'Something else went wrong.', 1", se.SqlServerError, 50123),
])
def test_other_errors_map_by_number(runner: SqlRunner, sql: str,
                                    cls: type[se.SqlServerError], number: int) -> None:
    with pytest.raises(cls) as info:
        runner.query(sql)
    assert info.value.number == number
    assert "sql01.contoso.local\\RTC" in info.value.message


def test_login_refused_and_database_missing_at_connect(
        server: TdsServer, driver: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(se.LoginRefusedError) as info:
        SqlRunner(endpoint(server, driver), "sa", "wrong-" + CANARY).connect()
    assert info.value.number == 18456
    assert info.value.message == "SQL Server sql01.contoso.local\\RTC refused the login for sa."
    runner = SqlRunner(endpoint(server, driver), "sa", CANARY)
    assert CANARY not in repr(runner) and CANARY not in str(runner)
    assert CANARY not in str(info.value) and CANARY not in repr(info.value)
    assert not any(CANARY in line for line in server.transcript)
    assert CANARY not in caplog.text


@pytest.mark.timeout(60)  # a safety net only
def test_refused_port_is_unreachable(driver: str) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ep = SqlEndpoint(server="sql01.contoso.local", instance="RTC", port=port,
                     address="127.0.0.1", driver=driver, encrypt="off", login_timeout_s=3)
    with pytest.raises(se.SqlUnreachableError) as info:
        SqlRunner(ep, "sa", CANARY).connect()
    assert info.value.message == (
        f"Cannot reach SQL Server sql01.contoso.local\\RTC at 127.0.0.1:{port}."
    ) or "did not answer" in info.value.message
    assert CANARY not in str(info.value)


def test_missing_driver_is_named() -> None:
    ep = SqlEndpoint(server="sql01", driver="ODBC Driver 99 for SQL Server", encrypt="off")
    with pytest.raises(se.DriverMissingError) as info:
        SqlRunner(ep, "sa", CANARY).connect()
    assert "ODBC Driver 99 for SQL Server" in info.value.message
    assert info.value.hint is not None and "msodbcsql18" in info.value.hint
