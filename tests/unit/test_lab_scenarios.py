"""Every scenario: the documented manual procedure, written as plain PowerShell and run through
the lab's interpreter in-process, brings service back; forbidden orders fail as the doc says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.runtime import LabRuntime
from lab.scenarios import SCENARIOS, scenario
from lab.sqlengine import SqlEngine
from lab.tds.api import SqlError

SET = r"\\bk01.fabrikam.lab\LyncBackup\2026-11-24_0200"


class Run:
    def __init__(self, lab: LabRuntime) -> None:
        self.lab = lab

    def ps(self, host: str, script: str, *, ok: bool = True) -> tuple[int, str, str]:
        out: list[str] = []
        err: list[str] = []
        code = self.lab.powershell(host).run_script(script, out.append, err.append,
                                                     clixml_errors=False)
        text, errors = "".join(out), "".join(err)
        if ok:
            assert code == 0, f"{host}: {script}\n{errors}"
        return code, text, errors

    def sql(self, sql_id: str, statement: str) -> None:
        inst = self.lab.dep.instance_by_id(sql_id)
        assert inst is not None
        engine = SqlEngine(inst, resolve_path=self.lab.dep.paths.resolver_for(inst.server),
                           clock=self.lab.clock)
        session = engine.login(self.lab.sql_user, self.lab.sql_password, "master", "test")
        from lab.tds.api import Column

        class Sink:
            import threading

            cancelled = threading.Event()

            def columns(self, cols: list[Column]) -> None: ...
            def row(self, values: list[object]) -> None: ...
            def info(self, number: int, message: str, **kw: object) -> None: ...
            def error(self, err: SqlError) -> None:
                raise err
            def done(self, rowcount: int | None = None) -> None: ...

        session.execute(statement, [], Sink())  # type: ignore[arg-type]


@pytest.fixture
def run(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Run]:
    lab = LabRuntime(scenario(request.param), state_dir=tmp_path, time_factor=float("inf"))
    yield Run(lab)


def _restart_pool(r: Run, host: str, fes: list[str]) -> None:
    """Every Front End started together (-NoWait): one by one, the first waits in Start Pending for a
    quorum that never comes (§6.13, §5.4)."""
    for fe in fes:
        r.ps(host, f"Start-CsWindowsService -ComputerName '{fe}' -NoWait")


def test_every_scenario_breaks_service(tmp_path: Path) -> None:
    assert len(SCENARIOS) >= 10
    assert {s.outage_class for s in SCENARIOS} >= set("ABCDEFGHI")
    for i, s in enumerate(SCENARIOS):
        lab = LabRuntime(s, state_dir=tmp_path / str(i), time_factor=float("inf"))
        assert s.service_restored(lab.dep), f"{s.name} leaves nothing to restore"


@pytest.mark.parametrize("run", ["fe-lost"], indirect=True)
def test_fe_lost(run: Run) -> None:
    run.lab.rebuild("fe02.fabrikam.lab")
    run.ps("fe02.fabrikam.lab",
           r"& 'C:\Program Files\Microsoft Lync Server 2013\Deployment\Bootstrapper.exe'")
    run.ps("fe02.fabrikam.lab", "Start-CsWindowsService")
    assert run.lab.scenario and run.lab.scenario.service_restored(run.lab.dep) == []


@pytest.mark.parametrize("run", ["be-primary-lost-witness"], indirect=True)
def test_be_primary_lost_witness(run: Run) -> None:
    fe, fe11 = "fe01.fabrikam.lab", "fe11.fabrikam.lab"
    # §5.3 C: the CMS lives on this Back End; a publish needs the primary CMS database, so fail the CMS over first
    run.ps(fe11, "Invoke-CsManagementServerFailover -BackupSqlServerFqdn 'sql11.fabrikam.lab' "
               "-BackupSqlInstanceName 'rtc' -Force")
    run.lab.perform_manual("be-mirror-topology-pool1.fabrikam.lab",  # §6.5 steps 3-4 (Topology Builder)
                           "Set 'SQL Server store' to sql02.fabrikam.lab\\rtc; OK; Publish again.")
    for t in ("User", "Application"):
        run.ps(fe, f"Uninstall-CsMirrorDatabase -DatabaseType {t} -SqlServerFqdn "
                   "'sql02.fabrikam.lab' -SqlInstanceName rtc")
    run.lab.rebuild("sql01.fabrikam.lab")
    # §6.5 step 8 (Topology Builder): the rebuilt server is the new mirror; Create Mirror Database
    run.lab.perform_manual("be-mirror-create-pool1.fabrikam.lab",
                            "Edit Properties: set the mirroring SQL Server store to sql01.fabrikam.lab\\rtc. "
                           "Tick 'Use SQL Server mirroring witness' and set the witness to "
                           "sqlwit.fabrikam.lab\\rtc. OK.")
    for fe_ in ("fe01.fabrikam.lab", "fe02.fabrikam.lab", "fe03.fabrikam.lab"):  # T15, §6.6: mirroring changed
        run.ps(fe, f"Stop-CsWindowsService -ComputerName {fe_}; Start-CsWindowsService -ComputerName {fe_}")
    assert run.lab.scenario and run.lab.scenario.service_restored(run.lab.dep) == []


@pytest.mark.parametrize("run", ["be-primary-lost-witness"], indirect=True)
def test_uninstalling_mirroring_leaves_the_topology_to_topology_builder(run: Run) -> None:
    """Uninstall-CsMirrorDatabase removes SQL mirroring; the pool's SQL Server store is Topology
    Builder's (§6.5 steps 3-4). Skipped, the topology still names the dead primary."""
    fe = "fe01.fabrikam.lab"
    primary = run.lab.dep.pool_sql("pool1.fabrikam.lab")
    for t in ("User", "Application", "CentralMgmt"):
        run.ps(fe, f"Uninstall-CsMirrorDatabase -DatabaseType {t} -SqlServerFqdn "
                   "'sql02.fabrikam.lab' -SqlInstanceName rtc")
    assert run.lab.dep.pool_sql("pool1.fabrikam.lab") is primary  # unchanged: still the lost server
    assert run.lab.scenario and run.lab.scenario.service_restored(run.lab.dep)


@pytest.mark.parametrize("run", ["be-primary-lost-no-witness"], indirect=True)
def test_be_primary_lost_no_witness(run: Run) -> None:
    fe = "fe01.fabrikam.lab"
    assert run.lab.scenario and run.lab.scenario.service_restored(run.lab.dep)
    for t in ("User", "Application", "CentralMgmt"):
        run.ps(fe, f"Invoke-CsDatabaseFailover -PoolFqdn pool1.fabrikam.lab -DatabaseType {t} "
                   "-NewPrincipal Mirror -Force -Verbose")
    assert run.lab.scenario.service_restored(run.lab.dep) == []


@pytest.mark.parametrize("run", ["be-lost-unpaired"], indirect=True)
def test_be_lost_unpaired_and_import_with_services_running(run: Run) -> None:
    fe = "fe21.fabrikam.lab"
    run.lab.rebuild("sql21.fabrikam.lab")
    run.ps(fe, "Install-CsDatabase -ConfiguredDatabases -SqlServerFqdn sql21.fabrikam.lab")
    zip_ = rf"{SET}\UserData_pool3.fabrikam.lab.zip"
    code, _, err = run.ps(fe, f"Import-CsUserData -PoolFqdn pool3.fabrikam.lab -FileName '{zip_}'",
                          ok=False)
    assert code == 1 and "Front-End service (RTCSRV) is running" in err
    fes = ["fe21.fabrikam.lab", "fe22.fabrikam.lab", "fe23.fabrikam.lab"]
    for f in fes:
        run.ps(fe, f"Stop-CsWindowsService -ComputerName '{f}'")
    run.ps(fe, f"Import-CsUserData -PoolFqdn pool3.fabrikam.lab -FileName '{zip_}'")
    _restart_pool(run, fe, fes)
    assert run.lab.scenario and run.lab.scenario.service_restored(run.lab.dep) == []


@pytest.mark.parametrize("run", ["cms-lost-paired"], indirect=True)
def test_cms_lost_paired_and_failover_order(run: Run) -> None:
    fe = "fe11.fabrikam.lab"
    code, _, err = run.ps(fe, "Invoke-CsPoolFailover -PoolFqdn pool1.fabrikam.lab -DisasterMode",
                          ok=False)
    assert code == 1 and "Central Management store" in err
    run.ps(fe, "Invoke-CsManagementServerFailover -BackupSqlServerFqdn sql11.fabrikam.lab "
               "-BackupSqlInstanceName rtc -Force -Verbose")
    code, _, err = run.ps(fe, "Invoke-CsPoolFailover -PoolFqdn pool1.fabrikam.lab -DisasterMode",
                          ok=False)
    assert code == 1 and "is specified in topology as the next hop for the Edge server" in err
    run.ps(fe, "Set-CsEdgeServer -Identity EdgeServer:edge.fabrikam.lab "
               "-Registrar Registrar:pool2.fabrikam.lab")
    run.ps(fe, "Invoke-CsPoolFailover -PoolFqdn pool1.fabrikam.lab -DisasterMode -Verbose")
    run.ps(fe, rf"Import-CsLisConfiguration -FileName '{SET}\E911Config.zip'; "
               "Publish-CsLisConfiguration; Invoke-CsManagementStoreReplication")
    _, text, _ = run.ps(fe, "Get-CsManagementStoreReplicationStatus -CentralManagementStoreStatus"
                            " | ConvertTo-Json -Compress")
    assert '"ActiveMasterFqdn":"fe11.fabrikam.lab"' in text
    assert run.lab.scenario and run.lab.scenario.service_restored(run.lab.dep) == []


@pytest.mark.parametrize("run", ["cms-se-lost-unpaired"], indirect=True)
def test_cms_se_lost_and_back_end_before_cms(run: Run) -> None:
    se = "se01.fabrikam.lab"
    run.lab.rebuild(se)
    code, _, err = run.ps(se, "Install-CsDatabase -ConfiguredDatabases -SqlServerFqdn "
                              "se01.fabrikam.lab", ok=False)
    assert code == 1 and "Cannot connect to the Central Management store" in err
    run.ps(se, "Install-CsDatabase -CentralManagementDatabase -Clean -SqlServerFqdn "
               "se01.fabrikam.lab -SqlInstanceName rtc -Verbose")
    run.ps(se, "Set-CsConfigurationStoreLocation -SqlServerFqdn se01.fabrikam.lab "
               "-SqlInstanceName rtc -Verbose")
    run.ps(se, rf"Import-CsConfiguration -FileName '{SET}\Config.zip'")
    run.ps(se, "Enable-CsTopology")
    run.ps(se, r"& 'C:\Program Files\Microsoft Lync Server 2013\Deployment\Bootstrapper.exe'")
    run.ps(se, rf"Import-CsUserData -PoolFqdn se01.fabrikam.lab -FileName "
               rf"'{SET}\UserData_se01.fabrikam.lab.zip'")
    run.ps(se, "Start-CsWindowsService")
    run.ps(se, rf"Import-CsLisConfiguration -FileName '{SET}\E911Config.zip'; "
               "Publish-CsLisConfiguration; Invoke-CsManagementStoreReplication")
    _, text, _ = run.ps(se, "Get-CsConfigurationStoreLocation")
    assert "se01.fabrikam.lab\\rtc" in text
    assert run.lab.scenario and run.lab.scenario.service_restored(run.lab.dep) == []


@pytest.mark.parametrize("run", ["file-store-lost"], indirect=True)
def test_file_store_lost(run: Run) -> None:
    fe = "fe01.fabrikam.lab"
    code, _, _ = run.ps(fe, rf"robocopy {SET}\filestore\fs-hq \\fs01.fabrikam.lab\lyncshare /E "
                            "/XF Meeting.Active; exit $LASTEXITCODE", ok=False)
    assert code == 1  # robocopy: files copied
    run.ps(fe, "Enable-CsTopology")
    assert run.lab.scenario and run.lab.scenario.service_restored(run.lab.dep) == []


@pytest.mark.parametrize("run", ["pool-lost-paired"], indirect=True)
@pytest.mark.parametrize("overwrite", [False, True])
def test_pool_lost_paired(run: Run, overwrite: bool) -> None:
    """§6.16 step 5 imports pool2's Response Groups into pool1 without -OverwriteOwner: they stay
    pool2's (T13). With -OverwriteOwner pool1 takes them over, and the lab says so (#14)."""
    fe = "fe01.fabrikam.lab"
    run.ps(fe, "Invoke-CsPoolFailover -PoolFqdn pool2.fabrikam.lab -DisasterMode")
    run.ps(fe, "Import-CsRgsConfiguration -Destination 'service:ApplicationServer:pool1.fabrikam"
               rf".lab' -FileName '{SET}\Rgs_pool2.fabrikam.lab.zip'" + (" -OverwriteOwner" if overwrite else ""))
    _, text, _ = run.ps(fe, "Get-CsRgsWorkflow -Identity 'service:ApplicationServer:pool1.fabrikam"
                            ".lab' -ShowAll | Select-Object -ExpandProperty OwnerPool")
    assert ("pool2.fabrikam.lab" in text) is not overwrite
    assert run.lab.scenario
    problems = run.lab.scenario.service_restored(run.lab.dep)
    if overwrite:
        assert problems == ["the Response Groups of pool2.fabrikam.lab are not in pool1.fabrikam.lab owned by "
                            "pool2.fabrikam.lab (owners there: pool1.fabrikam.lab)"]
    else:
        assert problems == []


@pytest.mark.parametrize("run", ["pool-lost-unpaired"], indirect=True)
def test_pool_lost_unpaired(run: Run) -> None:
    fes = ["fe21.fabrikam.lab", "fe22.fabrikam.lab", "fe23.fabrikam.lab"]
    run.lab.rebuild("sql21.fabrikam.lab")
    for fe in fes:
        run.lab.rebuild(fe)
    run.ps(fes[0], "Install-CsDatabase -ConfiguredDatabases -SqlServerFqdn sql21.fabrikam.lab")
    for fe in fes:
        run.ps(fe, r"& 'C:\Program Files\Microsoft Lync Server 2013\Deployment\Bootstrapper.exe'")
    run.ps(fes[0], rf"Import-CsUserData -PoolFqdn pool3.fabrikam.lab -FileName "
                   rf"'{SET}\UserData_pool3.fabrikam.lab.zip'")
    _restart_pool(run, fes[0], fes)
    assert run.lab.scenario and run.lab.scenario.service_restored(run.lab.dep) == []


@pytest.mark.parametrize("run", ["edge-lost"], indirect=True)
def test_edge_lost(run: Run) -> None:
    run.ps("fe01.fabrikam.lab", r"Export-CsConfiguration -FileName '\\bk01.fabrikam.lab\LyncBackup"
                                r"\edge-config.zip'")
    run.lab.rebuild("edge01.fabrikam.lab")
    edge = "edge01.fabrikam.lab"
    code, _, _ = run.ps(edge, r"& 'C:\Program Files\Microsoft Lync Server 2013\Deployment"
                              r"\Bootstrapper.exe'", ok=False)
    assert code != 0  # an Edge needs its local store imported from a file first (§6.7)
    run.ps(edge, r"Import-CsConfiguration -LocalStore -FileName '\\bk01.fabrikam.lab\LyncBackup"
                 r"\edge-config.zip'")
    run.ps(edge, r"& 'C:\Program Files\Microsoft Lync Server 2013\Deployment\Bootstrapper.exe'")
    run.ps(edge, "Start-CsWindowsService")
    assert run.lab.scenario and run.lab.scenario.service_restored(run.lab.dep) == []


@pytest.mark.parametrize("run", ["monitoring-db-lost"], indirect=True)
def test_monitoring_db_lost(run: Run) -> None:
    run.ps("fe01.fabrikam.lab", "Install-CsDatabase -ConfiguredDatabases -SqlServerFqdn "
                                "sqlmon.fabrikam.lab")
    # pool1's Front Ends use the recreated (empty) databases at once: RESTORE needs them out (3101)
    with pytest.raises(SqlError) as held:
        run.sql("mon", rf"RESTORE DATABASE [LcsCDR] FROM DISK = N'{SET}\sql\LcsCDR.bak' WITH REPLACE, RECOVERY")
    assert held.value.number == 3101
    run.sql("mon", "ALTER DATABASE [LcsCDR] SET SINGLE_USER WITH ROLLBACK IMMEDIATE")
    run.sql("mon", rf"RESTORE DATABASE [LcsCDR] FROM DISK = N'{SET}\sql\LcsCDR.bak' "
                   "WITH REPLACE, RECOVERY")
    run.sql("mon", "ALTER DATABASE [LcsCDR] SET MULTI_USER")
    assert run.lab.scenario and run.lab.scenario.service_restored(run.lab.dep) == []


@pytest.mark.parametrize("run", ["pchat-db-lost"], indirect=True)
def test_pchat_db_lost(run: Run) -> None:
    run.sql("pchat-sql", rf"RESTORE DATABASE [mgc] FROM DISK = N'{SET}\sql\mgc.bak' "
                         "WITH REPLACE, RECOVERY")
    assert run.lab.scenario and run.lab.scenario.service_restored(run.lab.dep) == []


@pytest.mark.parametrize("run", ["bad-config-change"], indirect=True)
def test_bad_config_change(run: Run) -> None:
    fe = "fe01.fabrikam.lab"
    run.ps(fe, rf"Import-CsConfiguration -FileName '{SET}\Config.zip'")
    assert run.lab.scenario and run.lab.scenario.service_restored(run.lab.dep)  # not replicated
    run.ps(fe, "Invoke-CsManagementStoreReplication")
    _, text, _ = run.ps(fe, "Get-CsManagementStoreReplicationStatus | Where-Object "
                            "{$_.UpToDate -ne $true} | Measure-Object | Select-Object "
                            "-ExpandProperty Count")
    assert text.strip() == "0"
    assert run.lab.scenario.service_restored(run.lab.dep) == []


@pytest.mark.parametrize("run", ["be-lost-unpaired"], indirect=True)
def test_a_cold_pool_started_one_front_end_at_a_time_waits_in_start_pending(run: Run) -> None:
    """#14: a cold pool's first Front End sits in Start Pending until quorum (§5.4); the cmdlet
    waits unless -NoWait (§8), so a one-by-one start never gets past the first Front End."""
    fe = "fe21.fabrikam.lab"
    run.lab.rebuild("sql21.fabrikam.lab")
    run.ps(fe, "Install-CsDatabase -ConfiguredDatabases -SqlServerFqdn sql21.fabrikam.lab")
    for f in ("fe21.fabrikam.lab", "fe22.fabrikam.lab", "fe23.fabrikam.lab"):
        run.ps(fe, f"Stop-CsWindowsService -ComputerName '{f}'")
    code, _, err = run.ps(fe, "Start-CsWindowsService -ComputerName 'fe21.fabrikam.lab'", ok=False)
    assert code == 1 and "still Start Pending" in err
    svc = run.lab.dep.server("fe21.fabrikam.lab").service("RTCSRV")
    assert svc is not None and svc.status == "StartPending"
    _restart_pool(run, fe, ["fe22.fabrikam.lab", "fe23.fabrikam.lab"])
    assert svc.status == "Running"


def test_a_scenario_variant_merges_into_the_shipped_plan(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """plan_changes: a pool added by its fqdn, the CMS moved; everything else stays lab.yaml's."""
    from lab.runtime import LabRuntime

    edges = LabRuntime(scenario("edge-site-lost"), state_dir=tmp_path / "e", time_factor=float("inf"))
    pools = [p.fqdn for p in edges.plan.topology.pools]
    assert "edge2.fabrikam.lab" in pools and "edge.fabrikam.lab" in pools and len(pools) == 7
    assert [loc.name for loc in edges.plan.backup.locations] == ["hq-vault", "dr-vault"]
    cms3 = LabRuntime(scenario("cms-pool-lost-unpaired"), state_dir=tmp_path / "c", time_factor=float("inf"))
    assert cms3.plan.cms_pool.fqdn == "pool3.fabrikam.lab" and len(cms3.plan.topology.pools) == 6
