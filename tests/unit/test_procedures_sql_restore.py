"""The T-SQL the wizard composes for a SQL restore (§6.10, §6.11), read and run against the lab's
SQL Server in-process: exclusive access first (the Lync services hold the database, 3101), MOVE
where the backup's folders do not exist on the target, the default folders by SQL Server version,
and the log chain (full WITH NORECOVERY, each log in order, then RECOVERY; 4305 out of order)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from lab.clock import LabClock
from lab.model import LabDeployment
from lab.sqlengine import EngineSession, SqlEngine
from lab.sqlstate import DatabaseState, DbFile, SqlInstanceState, write_bak
from lab.tds.api import SqlError
from tests.conftest import REPO
from tests.unit.sql_sink import Sink
from wizard.plan import load_plan
from wizard.plan.model import Plan, SqlInstance
from wizard.procedures.library.common import Ctx
from wizard.procedures.library.data import mon_arch_steps, pchat_restore_step, restore_batch, sql_restore_step
from wizard.procedures.model import SqlCommand, Step
from wizard.remote.sql import quote_identifier

PASSWORD = "Lab-Pa55word!"
SET = "2026-11-24_0200"


def _run(session: EngineSession, command: SqlCommand) -> Sink:
    """As the procedure engine runs a command: in its database, long statements without ``?``."""
    sink = Sink()
    text = command.sql if command.database == "master" else f"USE {quote_identifier(command.database)}; {command.sql}"
    session.execute(text, () if command.long_running else command.params, sink)
    return sink


def _run_step(session: EngineSession, step: Step) -> None:
    for command in step.commands:
        assert isinstance(command, SqlCommand)
        _run(session, command)


def _post_check_holds(session: EngineSession, step: Step) -> bool:
    check = step.post_checks[0].command
    assert isinstance(check, SqlCommand)
    return bool(_run(session, check).rows())


@dataclass
class World:
    plan: Plan
    dep: LabDeployment
    ctx: Ctx

    def sql(self, sql_id: str) -> tuple[SqlInstance, SqlInstanceState, EngineSession]:
        spec = self.plan.sql(sql_id)
        inst = self.dep.instance_by_id(sql_id)
        assert inst is not None
        inst.logins["sa"] = PASSWORD
        engine = SqlEngine(inst, resolve_path=self.dep.paths.resolver_for(inst.server),
                           clock=LabClock(float("inf"), start=dt.datetime(2026, 11, 25)))
        return spec, inst, engine.login("sa", PASSWORD, None, "wizard")

    def backup(self, unc: str, db: DatabaseState, *, kind: Literal["D", "L"] = "D",
               lsns: tuple[int, int] | None = None) -> None:
        """Write a backup of ``db`` where the plan's set says it is (the share on the lab's disk)."""
        first, last = lsns or (db.last_lsn - 1, db.last_lsn)
        snap = db.snapshot()
        snap.content = {**snap.content, "backup_set": SET, "lsn": last}
        write_bak(self.dep.paths.resolve(unc), database=snap, server="sqlmon.fabrikam.lab", instance="lyncmon",
                  kind=kind, start=dt.datetime(2026, 11, 24, 2), finish=dt.datetime(2026, 11, 24, 2, 4),
                  first_lsn=first, last_lsn=last)


@pytest.fixture
def world(tmp_path: Path) -> World:
    plan = load_plan(REPO / "plans" / "lab.yaml").plan
    return World(plan, LabDeployment.from_plan(plan, tmp_path), Ctx(plan, backup_set=SET))


def _restore(world: World, sql_id: str, database: str, *, logs: Sequence[str] = ()) -> Step:
    return sql_restore_step(world.ctx, world.plan.sql(sql_id), database, "6.10", "Test restore (§6.10).",
                            "fe01.fabrikam.lab", logs=logs)


# -- what the step says and runs -----------------------------------------------------------------


def test_the_step_restores_the_chain_and_opens_the_database_again(world: World) -> None:
    logs = [f"\\\\bk01\\LyncBackup\\{SET}\\sql\\mgc_log{i}.trn" for i in (1, 2)]
    step = sql_restore_step(world.ctx, world.plan.sql("pchat-sql"), "mgc", "6.11", "Test (§6.11).",
                            "pchat01.fabrikam.lab", logs=logs)
    texts = [c.sql for c in step.commands if isinstance(c, SqlCommand)]
    assert texts[0].startswith("RESTORE VERIFYONLY FROM DISK = N'")
    assert "WITH REPLACE, NORECOVERY, STATS = 10" in texts[1] and "SINGLE_USER WITH ROLLBACK IMMEDIATE" in texts[1]
    assert texts[2:] == [f"RESTORE LOG [mgc] FROM DISK = N'{logs[0]}' WITH NORECOVERY, STATS = 10",
                         f"RESTORE LOG [mgc] FROM DISK = N'{logs[1]}' WITH NORECOVERY, STATS = 10",
                         "RESTORE DATABASE [mgc] WITH RECOVERY", "ALTER DATABASE [mgc] SET MULTI_USER"]
    alone = _restore(world, "mon", "LcsCDR")
    assert [c.sql.splitlines()[0] for c in alone.commands if isinstance(c, SqlCommand)][1:] == [
        "-- RESTORE DATABASE @db FROM DISK = @bak WITH REPLACE, RECOVERY: built on the server, with MOVE where a "
        "folder is missing, after the other sessions are ended", "ALTER DATABASE [LcsCDR] SET MULTI_USER"]
    for cited in ("§6.10", "§6.20 step 3", "§11.1", "error 3101"):
        assert cited in alone.why
    assert "4305" in step.why and "4305" not in alone.why
    assert "user_access_desc = 'MULTI_USER'" in step.post_checks[0].command.sql  # type: ignore[union-attr]


def test_values_enter_the_batch_only_as_quoted_literals() -> None:
    batch = restore_batch("Lcs'CDR", "\\\\bk01\\O'Brien\\sql\\x.bak", recovery=True)
    assert "@db sysname = N'Lcs''CDR', @bak nvarchar(4000) = N'\\\\bk01\\O''Brien\\sql\\x.bak';" in batch
    assert batch.count("Lcs'CDR") == 0 and batch.count("O'Brien") == 0  # nowhere unquoted, not in the comment
    assert "QUOTENAME(@db)" in batch and "sp_executesql @sql, N'@db sysname, @bak nvarchar(4000)'" in batch
    with pytest.raises(ValueError, match="NUL"):
        restore_batch("x\x00", "\\\\bk01\\x.bak", recovery=True)


def test_monitoring_steps_take_the_logs_they_are_given_persistent_chat_stops_at_the_full_backup(
        world: World) -> None:
    pool1, pchat = world.plan.pool("pool1.fabrikam.lab"), world.plan.pool("pchat.fabrikam.lab")
    trn = f"\\\\bk01\\LyncBackup\\{SET}\\sql\\LcsCDR_log1.trn"
    steps = {s.id: s for s in mon_arch_steps(world.ctx, pool1, "fe01.fabrikam.lab", logs={"lcscdr": [trn]})}
    cdr = [c.sql for c in steps["sql-restore-lcscdr-mon"].commands if isinstance(c, SqlCommand)]
    assert f"RESTORE LOG [LcsCDR] FROM DISK = N'{trn}' WITH NORECOVERY, STATS = 10" in cdr
    assert not any(c.sql.startswith("RESTORE LOG") for c in steps["sql-restore-qoemetrics-mon"].commands
                   if isinstance(c, SqlCommand))
    mgc = pchat_restore_step(world.ctx, pchat, "pchat01.fabrikam.lab")  # §6.11: only to the last full backup
    assert not any(isinstance(c, SqlCommand) and c.sql.startswith("RESTORE LOG") for c in mgc.commands)
    assert "last full backup only" in mgc.why


# -- run against the lab's SQL Server ---------------------------------------------------------


def test_restore_over_a_database_the_front_ends_hold(world: World) -> None:
    spec, inst, session = world.sql("mon")
    db = inst.databases["QoEMetrics"]
    world.backup(world.ctx.sql_backup("QoEMetrics"), db)
    held = sum(1 for r in _run(session, SqlCommand(spec.server, spec.instance, "EXEC sp_who2")).rows()
               if r[5] == "QoEMetrics")
    assert held == 3  # pool1's Front Ends
    naive = SqlCommand(spec.server, spec.instance, f"RESTORE DATABASE [QoEMetrics] FROM DISK = "
                                                   f"N'{world.ctx.sql_backup('QoEMetrics')}' WITH REPLACE, RECOVERY")
    with pytest.raises(SqlError) as refused:  # what the wizard ran before (issue #14)
        _run(session, naive)
    assert refused.value.number == 3013
    step = _restore(world, "mon", "QoEMetrics")
    _run_step(session, step)
    assert _post_check_holds(session, step)
    restored = inst.databases["QoEMetrics"]
    assert restored.content["backup_set"] == SET and restored.user_access == "MULTI_USER"
    assert inst.sessions_held(restored) == 3  # the services are back without a restart
    assert any("SET SINGLE_USER WITH ROLLBACK IMMEDIATE" in r.sql for r in inst.statement_log)


def test_files_whose_folder_is_missing_are_moved_to_the_database_they_replace(world: World) -> None:
    spec, inst, session = world.sql("mon")
    old = inst.databases["LcsCDR"].snapshot()  # backed up when the files lived under D:\CsData
    world.backup(world.ctx.sql_backup("LcsCDR"), old)
    # sqlmon was rebuilt and Install-CsDatabase put the databases on E:
    for name in ("LcsCDR", "QoEMetrics", "LcsLog"):
        db = inst.databases[name]
        db.files = [DbFile(f.logical_name, f.physical_name.replace("D:\\CsData", "E:\\LyncData"), f.type,
                           f.size_bytes) for f in db.files]
    wanted = [f.physical_name for f in inst.databases["LcsCDR"].files]
    _run(session, SqlCommand(spec.server, spec.instance, "ALTER DATABASE [LcsCDR] SET SINGLE_USER WITH ROLLBACK "
                                                         "IMMEDIATE"))
    sink = Sink()
    with pytest.raises(SqlError):  # without MOVE: the recorded folders do not exist there
        session.execute(f"RESTORE DATABASE [LcsCDR] FROM DISK = N'{world.ctx.sql_backup('LcsCDR')}' WITH REPLACE",
                        (), sink)
    assert sink.errors() == [5133, 3156, 5133, 3156, 3119]
    _run(session, SqlCommand(spec.server, spec.instance, "ALTER DATABASE [LcsCDR] SET MULTI_USER"))
    step = _restore(world, "mon", "LcsCDR")
    _run_step(session, step)
    assert [f.physical_name for f in inst.databases["LcsCDR"].files] == wanted
    assert inst.databases["LcsCDR"].content["backup_set"] == SET
    moved = [r.sql for r in inst.statement_log if r.sql.startswith("RESTORE DATABASE @db")]
    assert moved == [f"RESTORE DATABASE @db FROM DISK = @bak WITH REPLACE, RECOVERY, STATS = 10, MOVE N'LcsCDR' "
                     f"TO N'{wanted[0]}', MOVE N'LcsCDR_log' TO N'{wanted[1]}'"]


@pytest.mark.parametrize("version", ["2012", "2008R2"])
def test_a_new_database_goes_to_the_default_folders_of_the_version(world: World, version: str) -> None:
    _spec, inst, session = world.sql("mon")
    world.backup(world.ctx.sql_backup("LcsLog"), inst.databases["LcsLog"])
    for name in ("LcsCDR", "QoEMetrics", "LcsLog"):  # the disk with D:\CsData is gone with them
        inst.drop_database(name)
    inst.kept_folders.clear()
    inst.version = version  # type: ignore[assignment]
    inst.default_data_path, inst.default_log_path = "E:\\SQLData\\", "E:\\SQLLogs\\"
    for folder in ("SQLData", "SQLLogs"):
        world.dep.paths.resolve(f"E:\\{folder}", inst.server).mkdir(parents=True)
    _run_step(session, _restore(world, "mon", "LcsLog"))
    files = [f.physical_name for f in inst.databases["LcsLog"].files]
    if version == "2012":  # SERVERPROPERTY('InstanceDefaultDataPath') / ...LogPath
        assert files == ["E:\\SQLData\\LcsLog.mdf", "E:\\SQLLogs\\LcsLog.ldf"]
    else:  # unknown there (NULL): the folders of master's files
        assert files == ["C:\\Program Files\\Microsoft SQL Server\\DATA\\LcsLog.mdf",
                         "C:\\Program Files\\Microsoft SQL Server\\DATA\\LcsLog.ldf"]


def _chain(world: World) -> tuple[SqlInstanceState, EngineSession, int, Step]:
    """mgc SUSPECT; the set holds its full backup and two log backups after it. Returns the LSN the
    last log backup ends at."""
    spec, inst, session = world.sql("pchat-sql")
    mgc = inst.databases["mgc"]
    base = mgc.last_lsn
    world.backup(world.ctx.sql_backup("mgc"), mgc, lsns=(base - 500, base))
    folder = world.ctx.sql_backup("mgc").rsplit("\\", 1)[0]
    logs = [f"{folder}\\mgc_log{i}.trn" for i in (1, 2)]
    world.backup(logs[0], mgc, kind="L", lsns=(base, base + 200))
    world.backup(logs[1], mgc, kind="L", lsns=(base + 200, base + 400))
    mgc.state = "SUSPECT"
    step = sql_restore_step(world.ctx, spec, "mgc", "6.11", "Test (§6.11).", "pchat01.fabrikam.lab", logs=logs)
    return inst, session, base + 400, step


def test_the_log_chain_is_applied_in_order(world: World) -> None:
    inst, session, end, step = _chain(world)
    _run_step(session, step)
    mgc = inst.databases["mgc"]
    assert mgc.state == "ONLINE" and mgc.last_lsn == mgc.restored_to_lsn == end
    assert mgc.content["lsn"] == end  # the data of the last log backup, not only the full one
    assert _post_check_holds(session, step)


def test_a_log_out_of_sequence_stops_the_chain_and_leaves_the_database_restoring(world: World) -> None:
    inst, session, _end, step = _chain(world)
    commands = [c for c in step.commands if isinstance(c, SqlCommand)]
    swapped = [commands[0], commands[1], commands[3], commands[2], *commands[4:]]  # log 2 before log 1
    _run(session, swapped[0])
    _run(session, swapped[1])
    sink = Sink()
    with pytest.raises(SqlError) as failed:
        session.execute(swapped[2].sql, (), sink)
    assert (failed.value.number, sink.errors()) == (3013, [4305])
    assert inst.databases["mgc"].state == "RESTORING"
    assert not _post_check_holds(session, step)  # RESTORING is not ONLINE: the step would fail its check
