"""The lab's SQL Server as a restore meets it (issue #14): folders that do not exist on the target,
the Lync services' sessions in the databases they use, and the procedural T-SQL a restore batch
runs (variables, loops, INSERT ... EXEC, dynamic SQL), each as SQL Server documents it:

* RESTORE Arguments (Transact-SQL): a database name, a device and MOVE operands may be variables;
  files go back to the paths recorded in the backup unless MOVE says otherwise;
* errors 5133/3156/3119 (a recorded folder that does not exist: "Use WITH MOVE"), 3634/3156 (a
  MOVE target folder that does not exist), 3101 (exclusive access: any other session), 213
  (INSERT ... EXEC with a table of another shape), 3021 (BACKUP/RESTORE in a transaction);
* ALTER DATABASE ... SET SINGLE_USER WITH ROLLBACK IMMEDIATE closes the other connections;
* SERVERPROPERTY: a property the build does not know returns NULL (InstanceDefaultDataPath came
  with SQL Server 2012's late-2015 updates; 2008 R2 returns NULL).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.clock import LabClock
from lab.model import LabDeployment
from lab.sqlengine import EngineSession, SqlEngine, folder_resolver
from lab.sqlstate import SqlInstanceState, write_bak
from lab.tds.api import SqlError
from tests.unit.sql_sink import Sink
from wizard.plan import load_plan

PASSWORD = "Lab-Pa55word!"
SQL = "\\\\bk01\\LyncBackup\\2026-11-24_0200\\sql"
LAB_PLAN = Path(__file__).resolve().parents[2] / "plans" / "lab.yaml"


@dataclass
class Lab:
    state: SqlInstanceState
    engine: SqlEngine
    backup: Path
    drives: Path

    def session(self) -> EngineSession:
        return self.engine.login("sa", PASSWORD, None, "test")

    def run(self, sql: str, session: EngineSession | None = None) -> Sink:
        sink = Sink()
        (session or self.session()).execute(sql, (), sink)
        return sink

    def fail(self, sql: str) -> tuple[int, Sink]:
        sink = Sink()
        with pytest.raises(SqlError) as err:
            self.session().execute(sql, (), sink)
        return err.value.number, sink


def _lab(tmp_path: Path, state: SqlInstanceState) -> Lab:
    state.logins["sa"] = PASSWORD
    backup = tmp_path / "bk01"
    drives = tmp_path / "drives"
    for d in ("c", "d", "e"):
        (drives / d).mkdir(parents=True)
    resolve = folder_resolver({"\\\\bk01\\LyncBackup\\2026-11-24_0200": backup, "C:\\": drives / "c",
                               "D:\\": drives / "d", "E:\\": drives / "e"})
    engine = SqlEngine(state, resolve_path=resolve, clock=LabClock(float("inf"), start=dt.datetime(2026, 11, 25)))
    return Lab(state, engine, backup, drives)


def _full_backup(lab: Lab, source: SqlInstanceState, database: str) -> str:
    """A full backup of ``source``'s database (its own file paths) in the backup share."""
    db = source.databases[database].snapshot()
    db.content = {"database": database, "backup_set": "2026-11-24_0200"}
    write_bak(lab.backup / "sql" / f"{database}.bak", database=db, server=source.server, instance=source.instance,
              kind="D", start=dt.datetime(2026, 11, 24, 2), finish=dt.datetime(2026, 11, 24, 2, 4),
              first_lsn=db.last_lsn - 1, last_lsn=db.last_lsn)
    return f"{SQL}\\{database}.bak"


@pytest.fixture
def moved(tmp_path: Path) -> tuple[Lab, str]:
    """sqlmon rebuilt with its Lync databases under E:\\LyncData; the backup was taken when they
    lived under D:\\CsData (a folder that no longer exists there)."""
    before = SqlInstanceState.for_lync("sqlmon.fabrikam.lab", "lyncmon", ["MonitoringStore"])
    now = SqlInstanceState.for_lync("sqlmon.fabrikam.lab", "lyncmon", ["MonitoringStore"], data_dir="E:\\LyncData")
    lab = _lab(tmp_path, now)
    return lab, _full_backup(lab, before, "LcsCDR")


# -- folders that do not exist on the target ---------------------------------------------------


def test_recorded_folder_missing_is_5133_per_file_until_moved(moved: tuple[Lab, str]) -> None:
    lab, bak = moved
    number, sink = lab.fail(f"RESTORE DATABASE [LcsCDR] FROM DISK = N'{bak}' WITH REPLACE")
    assert (number, sink.errors()) == (3013, [5133, 3156, 5133, 3156, 3119])
    assert sink.messages()[0] == ('Directory lookup for the file "D:\\CsData\\MonitoringStore\\lyncmon\\DbPath\\'
                                  'LcsCDR.mdf" failed with the operating system error 3(The system cannot find '
                                  'the path specified.).')
    assert "Use WITH MOVE to identify a valid location for the file." in sink.messages()[1]
    assert "backup_set" not in lab.state.databases["LcsCDR"].content  # nothing was replaced
    data, log = (f.physical_name for f in lab.state.databases["LcsCDR"].files)
    lab.run(f"RESTORE DATABASE [LcsCDR] FROM DISK = N'{bak}' WITH REPLACE, "
            f"MOVE N'LcsCDR' TO N'{data}', MOVE N'LcsCDR_log' TO N'{log}'")
    restored = lab.state.databases["LcsCDR"]
    assert restored.content["backup_set"] == "2026-11-24_0200"
    assert [f.physical_name for f in restored.files] == [data, log]


def test_move_to_a_folder_that_does_not_exist_is_3634(moved: tuple[Lab, str]) -> None:
    lab, bak = moved
    number, sink = lab.fail(f"RESTORE DATABASE [LcsCDR] FROM DISK = N'{bak}' WITH REPLACE, "
                            "MOVE N'LcsCDR' TO N'E:\\Nowhere\\LcsCDR.mdf', "
                            "MOVE N'LcsCDR_log' TO N'E:\\Nowhere\\LcsCDR.ldf'")
    assert (number, sink.errors()) == (3013, [3634, 3156, 3634, 3156, 3119])
    assert "while attempting 'RestoreContainer::ValidateTargetForCreation' on 'E:\\Nowhere\\LcsCDR.mdf'" \
        in sink.messages()[0]
    (lab.drives / "e" / "Nowhere").mkdir()  # a folder made on the server's disk exists
    lab.run(f"RESTORE DATABASE [LcsCDR] FROM DISK = N'{bak}' WITH REPLACE, "
            "MOVE N'LcsCDR' TO N'E:\\Nowhere\\LcsCDR.mdf', MOVE N'LcsCDR_log' TO N'E:\\Nowhere\\LcsCDR.ldf'")
    assert lab.state.databases["LcsCDR"].state == "ONLINE"


def test_restore_operands_may_be_variables(moved: tuple[Lab, str]) -> None:
    lab, bak = moved
    data = lab.state.databases["LcsCDR"].files[0].physical_name
    log = lab.state.databases["LcsCDR"].files[1].physical_name
    lab.run(f"DECLARE @db sysname = N'LcsCDR', @bak nvarchar(4000) = N'{bak}', @l nvarchar(128) = N'LcsCDR', "
            f"@p nvarchar(260) = N'{data}', @l2 nvarchar(128) = N'LcsCDR_log', @p2 nvarchar(260) = N'{log}'; "
            "RESTORE DATABASE @db FROM DISK = @bak WITH REPLACE, MOVE @l TO @p, MOVE @l2 TO @p2")
    assert lab.state.databases["LcsCDR"].content["backup_set"] == "2026-11-24_0200"


# -- the Lync services hold their databases ----------------------------------------------------


@pytest.fixture
def deployment(tmp_path: Path) -> tuple[LabDeployment, Lab]:
    dep = LabDeployment.from_plan(load_plan(LAB_PLAN).plan, tmp_path / "state")
    mon = dep.instance_by_id("mon")
    assert mon is not None
    lab = _lab(tmp_path, mon)
    _full_backup(lab, mon, "QoEMetrics")
    return dep, lab


def _who(lab: Lab, database: str) -> list[int]:
    return [int(str(r[0])) for r in lab.run("EXEC sp_who2").rows() if r[5] == database]


def test_running_front_ends_hold_their_pools_monitoring_databases(deployment: tuple[LabDeployment, Lab]) -> None:
    dep, lab = deployment
    assert len(_who(lab, "QoEMetrics")) == 3  # fe01-fe03 of pool1, whose monitoring store is mon
    number, sink = lab.fail(f"RESTORE DATABASE [QoEMetrics] FROM DISK = N'{SQL}\\QoEMetrics.bak' WITH REPLACE")
    assert (number, sink.errors()) == (3013, [3101])
    dep.server("fe01.fabrikam.lab").services["RTCSRV"].status = "Stopped"
    assert len(_who(lab, "QoEMetrics")) == 2  # a stopped service holds nothing
    lab.run("ALTER DATABASE [QoEMetrics] SET SINGLE_USER WITH ROLLBACK IMMEDIATE")
    assert _who(lab, "QoEMetrics") == []  # ended, and kept out while SINGLE_USER
    lab.run(f"RESTORE DATABASE [QoEMetrics] FROM DISK = N'{SQL}\\QoEMetrics.bak' WITH REPLACE")
    assert lab.state.databases["QoEMetrics"].user_access == "MULTI_USER"  # as it was backed up
    assert len(_who(lab, "QoEMetrics")) == 2  # the running services are back


def test_a_killed_service_session_reconnects_and_a_suspect_database_holds_none(
        deployment: tuple[LabDeployment, Lab]) -> None:
    _dep, lab = deployment
    spids = _who(lab, "LcsCDR")
    lab.run(f"KILL {spids[0]}")
    again = _who(lab, "LcsCDR")
    assert len(again) == 3 and spids[0] not in again  # the Front End service came back, a new session
    lab.state.databases["LcsCDR"].state = "SUSPECT"
    assert _who(lab, "LcsCDR") == []


def test_persistent_chat_service_holds_mgc(tmp_path: Path) -> None:
    dep = LabDeployment.from_plan(load_plan(LAB_PLAN).plan, tmp_path)
    inst = dep.instance_by_id("pchat-sql")
    assert inst is not None
    assert inst.sessions_held(inst.databases["mgc"]) == 1  # pchat01's Persistent Chat service
    assert inst.sessions_held(inst.databases["mgccomp"]) == 0  # the compliance store: not modelled
    dep.server("pchat01.fabrikam.lab").services["RTCCHAT"].status = "Stopped"
    assert inst.sessions_held(inst.databases["mgc"]) == 0


# -- the procedural T-SQL of a restore batch ---------------------------------------------------


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    state = SqlInstanceState.for_lync("sqlmon.fabrikam.lab", "lyncmon", ["MonitoringStore", "ArchivingStore"])
    lab = _lab(tmp_path, state)
    _full_backup(lab, state, "LcsCDR")
    return lab


def _value(lab: Lab, batch: str) -> object:
    return lab.run(batch).rows()[-1][0]


def test_variables_loops_and_branches(lab: Lab) -> None:
    assert _value(lab, "DECLARE @i int = 0, @s nvarchar(50) = N''; "
                       "WHILE 1 = 1 BEGIN SET @i += 1; IF @i = 2 CONTINUE; IF @i > 4 BREAK; "
                       "SET @s = @s + CONVERT(nvarchar(10), @i) END; SELECT @s") == "134"
    assert _value(lab, "DECLARE @n int; SELECT @n = COUNT(*) FROM sys.databases WHERE name LIKE N'Lcs%'; "
                       "IF @n = 2 SELECT N'two' ELSE SELECT N'other'") == "two"
    # SELECT @v = ... keeps the last row, leaves the variable alone when there is none; @@ROWCOUNT counts
    assert lab.run("DECLARE @x sysname = N'none'; SELECT @x = name FROM sys.databases WHERE name = N'nope'; "
                   "SELECT @x, @@ROWCOUNT").rows() == [["none", 0]]
    assert _value(lab, "DECLARE @c nvarchar; SET @c = N'abc'; SELECT @c") == "a"  # no length: one character
    assert lab.run("DECLARE @r int = 5; RETURN; SELECT @r").rows() == []  # RETURN ends the batch


def test_a_batch_is_compiled_before_it_runs(lab: Lab) -> None:
    before = len(lab.state.statement_log)
    for batch, number in (("ALTER DATABASE [LcsCDR] SET SINGLE_USER; SELECT @undeclared", 137),
                          ("ALTER DATABASE [LcsCDR] SET SINGLE_USER; SELECT * FROM @nope", 1087),
                          ("DECLARE @a int; DECLARE @a int", 134),
                          ("ALTER DATABASE [LcsCDR] SET SINGLE_USER; BREAK", 135)):
        assert lab.fail(batch)[0] == number
    assert lab.state.databases["LcsCDR"].user_access == "MULTI_USER"  # nothing ran
    assert [r.error for r in lab.state.statement_log[before:]] == [137, 1087, 134, 135]


def test_insert_exec_takes_restore_filelistonly_into_a_table_variable(lab: Lab) -> None:
    columns = ("LogicalName nvarchar(128), PhysicalName nvarchar(260), [Type] char(1), FileGroupName nvarchar(128), "
               "[Size] numeric(20,0), MaxSize numeric(20,0), FileId bigint, CreateLSN numeric(25,0), "
               "DropLSN numeric(25,0), UniqueId uniqueidentifier, ReadOnlyLSN numeric(25,0), "
               "ReadWriteLSN numeric(25,0), BackupSizeInBytes bigint, SourceBlockSize int, FileGroupId int, "
               "LogGroupGUID uniqueidentifier, DifferentialBaseLSN numeric(25,0), DifferentialBaseGUID "
               "uniqueidentifier, IsReadOnly bit, IsPresent bit")
    ok = lab.run(f"DECLARE @f TABLE ({columns}, TDEThumbprint varbinary(32)); "  # noqa: S608
                 f"INSERT INTO @f EXEC sp_executesql N'RESTORE FILELISTONLY FROM DISK = @b', N'@b nvarchar(4000)', "
                 f"@b = N'{SQL}\\LcsCDR.bak'; SELECT LogicalName, [Type], @@ROWCOUNT FROM @f ORDER BY FileId")
    assert ok.rows() == [["LcsCDR", "D", 2], ["LcsCDR_log", "L", 2]]
    # a table of another shape (e.g. without TDEThumbprint, or SQL Server 2016's SnapshotUrl added)
    number, sink = lab.fail(f"DECLARE @f TABLE ({columns}); "
                            f"INSERT INTO @f EXEC (N'RESTORE FILELISTONLY FROM DISK = N''{SQL}\\LcsCDR.bak''')")
    assert (number, sink.errors()) == (213, [])
    # RESTORE itself cannot run inside INSERT ... EXEC (a transaction)
    number, sink = lab.fail(f"DECLARE @f TABLE (x int); INSERT @f EXEC (N'RESTORE DATABASE [LcsCDR] FROM DISK = "
                            f"N''{SQL}\\LcsCDR.bak'' WITH REPLACE')")
    assert (number, sink.errors()) == (3013, [3021])


def test_dynamic_sql_is_a_batch_of_its_own(lab: Lab) -> None:
    # sp_executesql sees only its parameters; a missing one is 8178
    assert lab.fail("DECLARE @outer int = 1; EXEC sp_executesql N'SELECT @outer'")[0] == 137
    assert lab.fail("EXEC sp_executesql N'SELECT @p', N'@p int'")[0] == 8178
    assert _value(lab, "DECLARE @v int = 41; EXEC sp_executesql N'SELECT @p + 1', N'@p int', @p = @v") == 42
    # a USE inside EXEC ends with it; EXEC (...) takes string literals and variables only
    assert _value(lab, "EXEC (N'USE [LcsCDR]'); SELECT DB_NAME()") == "master"
    assert lab.fail("DECLARE @db sysname = N'LcsCDR'; EXEC (N'ALTER DATABASE ' + QUOTENAME(@db) + N' SET OFFLINE')")[
        0] == 102
    lab.run("DECLARE @db sysname = N'LcsCDR', @s nvarchar(200); "
            "SET @s = N'ALTER DATABASE ' + QUOTENAME(@db) + N' SET SINGLE_USER WITH ROLLBACK IMMEDIATE'; EXEC (@s)")
    assert lab.state.databases["LcsCDR"].user_access == "SINGLE_USER"


def test_string_functions_as_sql_server_has_them(lab: Lab) -> None:
    row = lab.run("SELECT QUOTENAME(N'a]b'), QUOTENAME(N'it''s', ''''), REPLACE(N'D:\\DATA\\x', N'data', N'Logs'), "
                  "CHARINDEX(N'\\', REVERSE(N'D:\\a\\b.mdf')), LEFT(N'D:\\a\\b.mdf', 4), "
                  "RIGHT(N'D:\\a\\b.mdf', 5), SUBSTRING(N'abcdef', 2, 3)").rows()[0]
    assert row == ["[a]]b]", "'it''s'", "D:\\Logs\\x", 6, "D:\\a", "b.mdf", "bcd"]
    assert _value(lab, f"SELECT QUOTENAME(N'{'x' * 129}')") is None  # longer than 128: NULL
    assert lab.fail("SELECT LEFT(N'abc', -1)")[0] == 536


def test_default_paths_by_version(lab: Lab) -> None:
    query = "SELECT SERVERPROPERTY('InstanceDefaultDataPath'), SERVERPROPERTY('InstanceDefaultLogPath')"
    assert lab.run(query).rows() == [["C:\\Program Files\\Microsoft SQL Server\\DATA\\"] * 2]
    lab.state.default_data_path = "E:\\SQLData\\"
    assert lab.run(query).rows()[0][0] == "E:\\SQLData\\"
    lab.state.version = "2008R2"
    assert lab.run(query).rows() == [[None, None]]  # a property this build does not know
