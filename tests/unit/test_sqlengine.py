"""The lab's T-SQL engine driven in-process with a recording ResultSink."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.clock import LabClock
from lab.sqlengine import EngineSession, SqlEngine, folder_resolver
from lab.sqlstate import SqlInstanceState, corrupt_bak, read_bak, write_bak
from lab.tds.api import SqlError
from tests.unit.sql_sink import Sink

PASSWORD = "Lab-Pa55word!"


@dataclass
class Lab:
    state: SqlInstanceState
    engine: SqlEngine
    backup: Path  # \\backup01\LyncBackup
    ddrive: Path

    def session(self, database: str | None = None) -> EngineSession:
        return self.engine.login("sa", PASSWORD, database, "test")

    def run(self, sql: str, params: Sequence[object] = (), *, session: EngineSession | None = None,
            sink: Sink | None = None) -> Sink:
        sink = sink or Sink()
        (session or self.session()).execute(sql, params, sink)
        return sink

    def fail(self, sql: str, *, session: EngineSession | None = None) -> tuple[int, Sink]:
        sink = Sink()
        with pytest.raises(SqlError) as err:
            (session or self.session()).execute(sql, (), sink)
        return err.value.number, sink


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    state = SqlInstanceState.for_lync("be1.fabrikam.com", "rtc",
                                      ["BackendStore", "CentralMgmtStore", "MonitoringStore",
                                       "PersistentChatStore"],
                                      content={"set": "live"})
    state.logins["sa"] = PASSWORD
    backup = tmp_path / "backup01" / "LyncBackup"
    (backup / "2026-11-24_0200" / "sql").mkdir(parents=True)
    ddrive = tmp_path / "be1-d"
    ddrive.mkdir()
    resolve = folder_resolver({"\\\\backup01\\LyncBackup": backup, "D:\\": ddrive})
    engine = SqlEngine(state, resolve_path=resolve, clock=LabClock(float("inf"), start=dt.datetime(2026, 11, 25)))
    return Lab(state, engine, backup, ddrive)


SET = "\\\\backup01\\LyncBackup\\2026-11-24_0200\\sql"


def _bak(lab: Lab, database: str, *, content: dict[str, object] | None = None, name: str | None = None) -> str:
    """A full backup of ``database`` written straight into the backup share; returns its Windows path."""
    db = lab.state.databases[database].snapshot()
    if content is not None:
        db.content = content
    file = name or f"{database}.bak"
    write_bak(lab.backup / "2026-11-24_0200" / "sql" / file, database=db, server=lab.state.server,
              instance=lab.state.instance, kind="D", start=dt.datetime(2026, 11, 24, 2, 0),
              finish=dt.datetime(2026, 11, 24, 2, 1), first_lsn=db.last_lsn - 1, last_lsn=db.last_lsn)
    return f"{SET}\\{file}"


# -- login ---------------------------------------------------------------------------------------


def test_login_wrong_password_is_18456(lab: Lab) -> None:
    with pytest.raises(SqlError) as err:
        lab.engine.login("sa", "wrong", None, "test")
    assert (err.value.number, err.value.message, err.value.severity) == (
        18456, "Login failed for user 'sa'.", 14)
    assert "wrong" not in repr(lab.state.statement_log)


def test_login_to_missing_or_restoring_database_is_4060(lab: Lab) -> None:
    with pytest.raises(SqlError) as err:
        lab.engine.login("sa", PASSWORD, "nosuchdb", "test")
    assert err.value.number == 4060
    assert 'Cannot open database "nosuchdb" requested by the login' in err.value.message
    lab.state.databases["rtcxds"].state = "RESTORING"
    with pytest.raises(SqlError) as err2:
        lab.engine.login("sa", PASSWORD, "rtcxds", "test")
    assert err2.value.number == 4060
    assert lab.session("xds").database == "xds"


# -- SELECT --------------------------------------------------------------------------------------


def test_select_probes(lab: Lab) -> None:
    sink = lab.run("SELECT @@VERSION; SELECT @@SERVERNAME AS s, DB_NAME() AS d, SERVERPROPERTY('ProductVersion')")
    rows = sink.rows()
    assert str(rows[0][0]).startswith("Microsoft SQL Server 2012")
    assert rows[1] == ["BE1\\RTC", "master", "11.0.7001.0"]


def test_select_sys_databases_where_in_and_order(lab: Lab) -> None:
    lab.state.databases["rtcxds"].state = "RESTORING"
    sink = lab.run("SELECT name, state_desc, recovery_model_desc, user_access_desc FROM sys.databases "
                   "WHERE name IN (?, ?, 'LcsCDR') ORDER BY name DESC", ["RTCXDS", "xds"])
    assert sink.rows() == [["xds", "ONLINE", "FULL", "MULTI_USER"], ["rtcxds", "RESTORING", "FULL", "MULTI_USER"],
                           ["LcsCDR", "ONLINE", "FULL", "MULTI_USER"]]
    assert sink.events[0] == ("columns", ["name", "state_desc", "recovery_model_desc", "user_access_desc"])
    assert sink.events[-1] == ("done", 3)


def test_select_master_files_join(lab: Lab) -> None:
    sink = lab.run("SELECT d.name, f.name AS logical, f.physical_name, f.type_desc, f.size "
                   "FROM sys.master_files AS f INNER JOIN sys.databases d ON d.database_id = f.database_id "
                   "WHERE d.name = N'rtcxds' ORDER BY f.file_id")
    assert [r[1:4] for r in sink.rows()] == [
        ["rtcxds", "D:\\CsData\\BackendStore\\rtc\\DbPath\\rtcxds.mdf", "ROWS"],
        ["rtcxds_log", "D:\\CsData\\BackendStore\\rtc\\LogPath\\rtcxds.ldf", "LOG"]]
    assert sink.rows()[0][4] == 512 * 1024 * 1024 // 8192


def test_unsupported_sql_is_102_and_unknown_names(lab: Lab) -> None:
    number, _ = lab.fail("SELEKT name FROM sys.databases")
    assert number == 102
    assert lab.fail("SELECT name FROM sys.tables")[0] == 208
    assert lab.fail("SELECT nope FROM sys.databases")[0] == 207
    assert lab.fail("SELECT name FROM sys.databases d JOIN sys.master_files f ON d.database_id = f.database_id")[0] \
        == 209
    assert lab.state.statement_log[-1].error == 209


# -- BACKUP / RESTORE ----------------------------------------------------------------------------


def test_backup_then_restore_round_trip_preserves_content(lab: Lab) -> None:
    lab.state.databases["LcsCDR"].content = {"set": "2026-11-24_0200", "calls": 4242}
    sink = lab.run(f"BACKUP DATABASE [LcsCDR] TO DISK = N'{SET}\\LcsCDR.bak' WITH INIT, CHECKSUM, "
                   "NAME = N'LcsCDR-Full', STATS = 50")
    assert [i for i in sink.infos() if i[0] == 3211] == [(3211, "50 percent processed."),
                                                         (3211, "100 percent processed.")]
    assert sink.infos()[-1][1].startswith("BACKUP DATABASE successfully processed ")
    assert read_bak(lab.backup / "2026-11-24_0200" / "sql" / "LcsCDR.bak").checksum
    lab.state.databases["LcsCDR"].content = {"set": "damaged"}
    lab.run(f"RESTORE DATABASE [LcsCDR] FROM DISK = N'{SET}\\LcsCDR.bak' WITH REPLACE, RECOVERY")
    db = lab.state.databases["LcsCDR"]
    assert db.content == {"set": "2026-11-24_0200", "calls": 4242}
    assert db.state == "ONLINE"
    rows = lab.run("SELECT TOP 1 b.database_name, b.type, b.has_backup_checksums, b.name, m.physical_device_name "
                   "FROM msdb.dbo.backupset b JOIN msdb.dbo.backupmediafamily m ON m.media_set_id = b.media_set_id "
                   "WHERE b.database_name = 'LcsCDR' ORDER BY b.backup_finish_date DESC").rows()
    assert rows == [["LcsCDR", "D", True, "LcsCDR-Full", f"{SET}\\LcsCDR.bak"]]


def test_restore_progress_in_order_then_3014(lab: Lab) -> None:
    path = _bak(lab, "LcsCDR", content={"set": "old"})
    sink = lab.run(f"RESTORE DATABASE [LcsCDR] FROM DISK = N'{path}' WITH REPLACE, STATS = 10")
    infos = sink.infos()
    assert [m for n, m in infos if n == 3211] == [f"{p} percent processed." for p in range(10, 101, 10)]
    numbers = [n for n, _ in infos]
    assert numbers[-3:] == [4035, 4035, 3014]
    assert infos[-1][1].startswith("RESTORE DATABASE successfully processed ")
    assert "Processed 262144 pages for database 'LcsCDR', file 'LcsCDR' on file 1." in [m for _, m in infos]
    assert lab.state.databases["LcsCDR"].content == {"set": "old"}


def test_restore_norecovery_leaves_restoring_then_with_recovery(lab: Lab) -> None:
    path = _bak(lab, "mgc")
    lab.run(f"RESTORE DATABASE mgc FROM DISK = N'{path}' WITH REPLACE, NORECOVERY")
    assert lab.state.databases["mgc"].state == "RESTORING"
    lab.run("restore database mgc with recovery")
    assert lab.state.databases["mgc"].state == "ONLINE"


def test_restore_from_unreachable_path_is_3201_then_3013(lab: Lab) -> None:
    number, sink = lab.fail("RESTORE DATABASE [LcsCDR] FROM DISK = N'\\\\nas9\\gone\\LcsCDR.bak' WITH REPLACE")
    assert number == 3013
    assert sink.events[0] == ("error", (3201, "Cannot open backup device '\\\\nas9\\gone\\LcsCDR.bak'. Operating "
                                              "system error 3(The system cannot find the path specified.)."))
    assert lab.state.statement_log[-1].error == 3013


def test_restore_backup_of_other_database_is_3154(lab: Lab) -> None:
    path = _bak(lab, "QoEMetrics")
    number, sink = lab.fail(f"RESTORE DATABASE [LcsCDR] FROM DISK = N'{path}'")
    assert (number, sink.errors()) == (3013, [3154])
    assert lab.state.databases["LcsCDR"].state == "ONLINE"


def test_restore_with_open_connections_is_3101_until_single_user(lab: Lab) -> None:
    path = _bak(lab, "rtcxds")
    lab.state.databases["rtcxds"].connections = 3
    number, sink = lab.fail(f"RESTORE DATABASE [rtcxds] FROM DISK = N'{path}' WITH REPLACE")
    assert (number, sink.errors()) == (3013, [3101])
    number, sink = lab.fail("ALTER DATABASE [rtcxds] SET SINGLE_USER")
    assert (number, sink.errors()) == (5069, [5070])
    who = lab.run("EXEC sp_who2").rows()
    assert sum(1 for r in who if r[5] == "rtcxds") == 3
    lab.run("ALTER DATABASE [rtcxds] SET SINGLE_USER WITH ROLLBACK IMMEDIATE")
    lab.run(f"RESTORE DATABASE [rtcxds] FROM DISK = N'{path}' WITH REPLACE, RECOVERY")
    lab.run("ALTER DATABASE [rtcxds] SET MULTI_USER")
    assert lab.state.databases["rtcxds"].state == "ONLINE"


def test_kill_ends_application_connections(lab: Lab) -> None:
    lab.state.databases["mgc"].connections = 2
    spids = [int(str(r[0])) for r in lab.run("sp_who2").rows() if r[5] == "mgc"]
    assert len(spids) == 2
    lab.run(f"kill {spids[0]}")
    lab.run(f"KILL {spids[1]}")
    assert lab.state.databases["mgc"].connections == 0
    assert lab.fail(f"kill {spids[0]}")[0] == 6106


def test_restore_over_unbacked_log_is_3159(lab: Lab) -> None:
    path = _bak(lab, "rtcxds")
    lab.state.databases["rtcxds"].advance(500)
    number, sink = lab.fail(f"RESTORE DATABASE [rtcxds] FROM DISK = N'{path}'")
    assert (number, sink.errors()) == (3013, [3159])
    lab.run(f"BACKUP LOG [rtcxds] TO DISK = N'{SET}\\rtcxds_tail.trn' WITH NORECOVERY")
    assert lab.state.databases["rtcxds"].state == "RESTORING"
    lab.run(f"RESTORE DATABASE [rtcxds] FROM DISK = N'{path}' WITH NORECOVERY")
    assert lab.state.databases["rtcxds"].state == "RESTORING"


def test_corrupt_backup_found_by_verifyonly_and_restore_is_3241(lab: Lab) -> None:
    path = _bak(lab, "xds")
    ok = lab.run(f"RESTORE VERIFYONLY FROM DISK = N'{path}' WITH CHECKSUM")
    assert ok.infos() == [(3262, "The backup set on file 1 is valid.")]
    corrupt_bak(lab.backup / "2026-11-24_0200" / "sql" / "xds.bak")
    number, sink = lab.fail(f"RESTORE VERIFYONLY FROM DISK = N'{path}'")
    assert (number, sink.errors()) == (3013, [3241])
    assert lab.state.statement_log[-1].error == 3013
    number, sink = lab.fail(f"RESTORE DATABASE xds FROM DISK = N'{path}' WITH REPLACE")
    assert (number, sink.errors()) == (3013, [3241])
    assert lab.state.databases["xds"].state == "ONLINE"  # the damaged media never touched it


def test_headeronly_filelistonly_labelonly(lab: Lab) -> None:
    path = _bak(lab, "LcsCDR")
    sink = lab.run(f"RESTORE HEADERONLY FROM DISK = N'{path}'")
    cols = sink.events[0][1]
    row = dict(zip(cols, sink.rows()[0], strict=True))  # type: ignore[arg-type]
    assert row["DatabaseName"] == "LcsCDR"
    assert row["BackupType"] == 1
    assert row["ServerName"] == "BE1\\RTC"
    assert row["HasBackupChecksums"] is True
    assert row["BackupStartDate"] == dt.datetime(2026, 11, 24, 2, 0)
    files = lab.run(f"RESTORE FILELISTONLY FROM DISK = N'{path}'").rows()
    assert [(r[0], r[2]) for r in files] == [("LcsCDR", "D"), ("LcsCDR_log", "L")]
    assert lab.run(f"RESTORE LABELONLY FROM DISK = N'{path}'").rows()[0][3] == 1


def test_restore_with_move_to_new_name_and_file_conflict(lab: Lab) -> None:
    path = _bak(lab, "LcsCDR")
    number, sink = lab.fail(f"RESTORE DATABASE [LcsCDR_copy] FROM DISK = N'{path}'")
    # every file is reported while planning, then 3119 (SQL Server lists each problem)
    assert (number, sink.errors()) == (3013, [1834, 3156, 1834, 3156, 3119])
    (lab.ddrive / "Restore").mkdir()
    lab.run(f"RESTORE DATABASE [LcsCDR_copy] FROM DISK = N'{path}' WITH "
            "MOVE N'LcsCDR' TO N'D:\\Restore\\LcsCDR_copy.mdf', MOVE N'LcsCDR_log' TO N'D:\\Restore\\LcsCDR_copy.ldf'")
    copy = lab.state.databases["LcsCDR_copy"]
    assert [f.physical_name for f in copy.files] == ["D:\\Restore\\LcsCDR_copy.mdf", "D:\\Restore\\LcsCDR_copy.ldf"]
    number, sink = lab.fail(f"RESTORE DATABASE [x2] FROM DISK = N'{path}' WITH MOVE N'nope' TO N'E:\\x.mdf'")
    assert sink.errors() == [3234]


def test_full_disk_is_3257(lab: Lab) -> None:
    path = _bak(lab, "LcsCDR")
    lab.state.fault_disk_full = True
    number, sink = lab.fail(f"RESTORE DATABASE [LcsCDR] FROM DISK = N'{path}' WITH REPLACE")
    assert (number, sink.errors()) == (3013, [3257, 3119])
    message = str(sink.events[0][1][1])  # type: ignore[index]
    assert message.startswith("There is insufficient free space on disk volume 'D:\\' to create the database.")


def test_cancel_mid_restore_leaves_restoring(tmp_path: Path, lab: Lab) -> None:
    lab.engine.clock = LabClock(1e9)  # fast, but the sleeps still poll the cancel event
    path = _bak(lab, "LcsLog" if "LcsLog" in lab.state.databases else "LcsCDR")
    sink = Sink(cancel_after_info=3)
    lab.run(f"RESTORE DATABASE [LcsCDR] FROM DISK = N'{path}' WITH REPLACE, STATS = 10", sink=sink)
    assert [n for n, _ in sink.infos()] == [3211, 3211, 3211]
    db = lab.state.databases["LcsCDR"]
    assert db.state == "RESTORING"
    number, err_sink = lab.fail("RESTORE DATABASE [LcsCDR] WITH RECOVERY")
    assert (number, err_sink.errors()) == (3013, [4333])


def test_log_chain_restore_and_gaps(lab: Lab) -> None:
    s = lab.session()
    lab.run(f"BACKUP DATABASE [mgc] TO DISK = N'{SET}\\mgc.bak' WITH INIT, CHECKSUM", session=s)
    for i in (1, 2, 3):
        lab.state.databases["mgc"].advance(100)
        lab.state.databases["mgc"].content = {"log": i}
        lab.run(f"BACKUP LOG [mgc] TO DISK = N'{SET}\\mgc_{i}.trn' WITH INIT, CHECKSUM", session=s)
    lab.run(f"RESTORE DATABASE [mgc] FROM DISK = N'{SET}\\mgc.bak' WITH REPLACE, NORECOVERY", session=s)
    lab.run(f"RESTORE LOG [mgc] FROM DISK = N'{SET}\\mgc_1.trn' WITH NORECOVERY", session=s)
    number, sink = lab.fail(f"RESTORE LOG [mgc] FROM DISK = N'{SET}\\mgc_3.trn' WITH NORECOVERY")
    assert (number, sink.errors()) == (3013, [4305])
    number, sink = lab.fail(f"RESTORE LOG [mgc] FROM DISK = N'{SET}\\mgc_1.trn' WITH NORECOVERY")
    assert (number, sink.errors()) == (3013, [4326])
    lab.run(f"RESTORE LOG [mgc] FROM DISK = N'{SET}\\mgc_2.trn' WITH NORECOVERY", session=s)
    lab.run(f"RESTORE LOG [mgc] FROM DISK = N'{SET}\\mgc_3.trn' WITH RECOVERY", session=s)
    assert lab.state.databases["mgc"].content == {"log": 3}
    assert lab.state.databases["mgc"].state == "ONLINE"
    number, sink = lab.fail(f"RESTORE LOG [mgc] FROM DISK = N'{SET}\\mgc_3.trn'")
    assert sink.errors() == [3117]
    number, sink = lab.fail(f"RESTORE LOG [nosuch] FROM DISK = N'{SET}\\mgc_3.trn'")
    assert sink.errors() == [3118]


def test_backup_log_under_simple_is_4208(lab: Lab) -> None:
    lab.state.databases["rtcshared"].recovery_model = "SIMPLE"
    number, sink = lab.fail(f"BACKUP LOG [rtcshared] TO DISK = N'{SET}\\x.trn'")
    assert (number, sink.errors()) == (3013, [4208])


# -- DBCC, ALTER, ACLs, log shipping --------------------------------------------------------------


def test_checkdb_healthy_and_damaged(lab: Lab) -> None:
    sink = lab.run("DBCC CHECKDB([LcsCDR])")
    assert (8989, "CHECKDB found 0 allocation errors and 0 consistency errors in database 'LcsCDR'.") in sink.infos()
    assert lab.run("DBCC CHECKDB(N'LcsCDR') WITH NO_INFOMSGS").infos() == []
    lab.state.databases["QoEMetrics"].damaged_pages = 2
    sink = lab.run("DBCC CHECKDB (QoEMetrics) WITH NO_INFOMSGS, ALL_ERRORMSGS")
    assert sink.errors() == [8939, 8939]
    assert (8989, "CHECKDB found 0 allocation errors and 2 consistency errors in database 'QoEMetrics'.") \
        in sink.infos()
    lab.state.databases["lis"].state = "SUSPECT"
    assert lab.fail("DBCC CHECKDB([lis])")[0] == 926


def test_alter_database_online_offline(lab: Lab) -> None:
    lab.run("ALTER DATABASE [LcsLog] SET OFFLINE" if "LcsLog" in lab.state.databases
            else "ALTER DATABASE [QoEMetrics] SET OFFLINE WITH ROLLBACK IMMEDIATE")
    assert lab.state.databases["QoEMetrics"].state == "OFFLINE"
    assert lab.fail("USE [QoEMetrics]")[0] == 942
    lab.run("ALTER DATABASE QoEMetrics SET ONLINE")
    assert lab.state.databases["QoEMetrics"].state == "ONLINE"


def test_acl_tsql_recorded_in_state(lab: Lab) -> None:
    db = lab.state.databases["LcsCDR"]
    db.users.clear()
    db.role_members["ServerRole"].clear()
    s = lab.session()
    lab.run("USE [LcsCDR]; CREATE USER [FABRIKAM\\RTCComponentUniversalServices] FOR LOGIN "
            "[FABRIKAM\\RTCComponentUniversalServices]; EXEC sp_addrolemember N'ServerRole', "
            "N'FABRIKAM\\RTCComponentUniversalServices'", session=s)
    assert db.role_members["ServerRole"] == {"FABRIKAM\\RTCComponentUniversalServices"}
    rows = lab.run("SELECT name, type_desc FROM sys.database_principals WHERE name LIKE '%RTCComponent%'",
                   session=s).rows()
    assert rows == [["FABRIKAM\\RTCComponentUniversalServices", "WINDOWS_GROUP"]]
    assert lab.fail("CREATE USER [FABRIKAM\\RTCComponentUniversalServices]", session=s)[0] == 15023
    assert lab.fail("CREATE USER [FABRIKAM\\Nobody] FOR LOGIN [FABRIKAM\\Nobody]", session=s)[0] == 15401
    assert lab.fail("EXEC sp_addrolemember N'NoRole', N'dbo'", session=s)[0] == 15014
    texts = lab.state.statements()
    assert "EXEC sp_addrolemember N'ServerRole', N'FABRIKAM\\RTCComponentUniversalServices'" in texts


def test_log_shipping_failover_sequence(lab: Lab) -> None:
    mgc = lab.state.databases["mgc"]
    mgc.state = "RESTORING"
    mgc.restored_to_lsn = mgc.last_lsn
    mgc.log_shipping_secondary = True
    mgc.connections = 1
    lab.run("exec sp_delete_log_shipping_secondary_database mgc")
    assert not mgc.log_shipping_secondary
    spid = next(int(str(r[0])) for r in lab.run("exec sp_who2").rows() if r[5] == "mgc")
    lab.run(f"kill {spid}")
    lab.run("restore database mgc with recovery")
    assert mgc.state == "ONLINE"


def test_statement_log_and_syntax_error_runs_nothing(lab: Lab) -> None:
    before = len(lab.state.statement_log)
    number, _ = lab.fail("ALTER DATABASE [xds] SET OFFLINE WITH ROLLBACK IMMEDIATE; SELECT FROM")
    assert number == 102
    assert lab.state.databases["xds"].state == "ONLINE"
    assert len(lab.state.statement_log) == before + 1
    assert lab.state.statement_log[-1].error == 102


def test_unknown_procedure_is_2812(lab: Lab) -> None:
    assert lab.fail("EXEC sp_nosuch 1")[0] == 2812


def test_is_srvrolemember_one_zero_null(lab: Lab) -> None:
    """IS_SRVROLEMEMBER (Microsoft's documentation): 1 a member, 0 not, NULL for a role or login
    the instance does not know or a NULL login; without a login, the session's own; membership,
    not permission (a sysadmin is not in dbcreator); every login is in public; sa is sysadmin."""
    lab.state.logins["lyncsql"] = PASSWORD
    lab.state.windows_logins.add("FABRIKAM\\lyncadmin")
    lab.state.sysadmins.add("FABRIKAM\\lyncadmin")
    mine = lab.engine.login("lyncsql", PASSWORD, None, "test")
    sql = ("SELECT IS_SRVROLEMEMBER('sysadmin') AS sysadmin, IS_SRVROLEMEMBER('public') AS p, "
           "IS_SRVROLEMEMBER('dbcreator') AS d, IS_SRVROLEMEMBER('nosuchrole') AS r, "
           "IS_SRVROLEMEMBER('sysadmin', 'fabrikam\\LYNCADMIN') AS w, IS_SRVROLEMEMBER('sysadmin', 'nobody') AS n, "
           "IS_SRVROLEMEMBER('sysadmin', NULL) AS z, IS_SRVROLEMEMBER(N'SYSADMIN', 'sa') AS sa")
    sink = lab.run(sql, session=mine)
    assert sink.events[0] == ("columns", ["sysadmin", "p", "d", "r", "w", "n", "z", "sa"])
    assert sink.rows() == [[0, 1, 0, None, 1, None, None, 1]]
    lab.state.sysadmins.add("LyncSQL")  # logins compare case-insensitively
    assert lab.run("SELECT IS_SRVROLEMEMBER('sysadmin')", session=mine).rows() == [[1]]
    number, _ = lab.fail("SELECT IS_SRVROLEMEMBER()")
    assert number == 174
