"""Every scenario's documented manual procedure through the REAL clients against LabRuntime.

PowerShell goes through the wizard's PowerShellRunner (pywinrm underneath), alternating Basic
and NTLM with message encryption between scenarios; T-SQL goes through pyodbc with FreeTDS,
and the Monitoring restore over Microsoft ODBC Driver 18 (the mssql-python-odbc wheel). Each
procedure must bring ``service_restored()`` to []. The orders the domain doc warns against
fail, and their error text reaches the client as a PowerShell error record.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pyodbc
import pytest

from lab.runtime import LabRuntime
from lab.scenarios import SCENARIOS, scenario
from wizard.remote.odbc import FREETDS_PATHS, bundled_msodbc18
from wizard.remote.winrm import PowerShellRunner, PsResult

pytestmark = pytest.mark.integration

SET = r"\\bk01.fabrikam.lab\LyncBackup\2026-11-24_0200"
BOOTSTRAPPER = r"& 'C:\Program Files\Microsoft Lync Server 2013\Deployment\Bootstrapper.exe'"
FREETDS = FREETDS_PATHS[0]
#: simulated minutes of cmdlets and restores play back in milliseconds
TIME_FACTOR = 20_000.0
Auth = Literal["basic", "kerberos"]


class Clients:
    """The real clients against one lab: one reused runner (shell) per host."""

    def __init__(self, lab: LabRuntime, auth: Auth) -> None:
        self.lab = lab
        self.auth = auth
        self.runners: dict[str, PowerShellRunner] = {}

    def ps(self, host: str, script: str, *, ok: bool = True) -> PsResult:
        runner = self.runners.get(host)
        if runner is None:
            runner = self.runners[host] = self.lab.runner(host, self.auth)
        result = runner.run(script, deadline_s=30)
        if ok:
            assert result.exit_code == 0, f"{host}: {script}\n{result.stderr}"
        return result

    def sql(self, sql_id: str, statement: str, driver: str = FREETDS) -> list[str]:
        """Run one batch, draining every result set; returns the messages that arrived."""
        conn = pyodbc.connect(self.lab.odbc_connection_string(sql_id, driver), autocommit=True,
                              timeout=10)
        try:
            cur = conn.cursor()
            cur.execute(statement)
            messages = [str(m[1]) for m in cur.messages]
            deadline = time.monotonic() + 20
            while cur.nextset() and time.monotonic() < deadline:
                messages += [str(m[1]) for m in cur.messages]
            return messages
        finally:
            conn.close()

    def query(self, sql_id: str, statement: str) -> list[tuple[object, ...]]:
        conn = pyodbc.connect(self.lab.odbc_connection_string(sql_id, FREETDS), autocommit=True,
                              timeout=10)
        try:
            return [tuple(r) for r in conn.cursor().execute(statement).fetchall()]
        finally:
            conn.close()

    def close(self) -> None:
        for runner in self.runners.values():
            runner.close()

    def restored(self) -> list[str]:
        assert self.lab.scenario is not None
        return self.lab.scenario.service_restored(self.lab.dep)


_NAMES = [s.name for s in SCENARIOS]


def _auth_for(name: str) -> Auth:
    """Kerberos with the ticket forwarded (the production default) or Basic: each logon can reach
    the backup shares the restores read (an NTLM session could not: the second hop)."""
    return "kerberos" if _NAMES.index(name) % 2 == 0 else "basic"


@pytest.fixture
def c(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Clients]:
    name = str(request.param)
    with LabRuntime(scenario(name), state_dir=tmp_path, time_factor=TIME_FACTOR) as lab:
        clients = Clients(lab, _auth_for(name))
        try:
            assert clients.restored(), f"{name} starts with nothing to restore"
            yield clients
        finally:
            clients.close()


COVERED: set[str] = set()


def _sc(name: str) -> pytest.MarkDecorator:
    COVERED.add(scenario(name).name)
    return pytest.mark.parametrize("c", [name], indirect=True, ids=[f"{name}-{_auth_for(name)}"])


#: scenarios whose real-client test is the headless drill alone (tests/integration/test_drill_headless.py
#: plays them through pywinrm and pyodbc over both authentications): restoring them by hand here would
#: repeat the wizard's twenty-odd steps line by line
DRILL_ONLY = {"hq-room-lost", "pool-lost-shared-store", "cms-pool-lost-paired", "cms-pool-lost-failed-over",
              "cms-pool-lost-unpaired",
              # the estate's transports (#15): the headless drill and test_wsman_kerberos.py's second hop
              "be-lost-no-delegation", "pchat-db-lost-ntlm"}


def test_every_scenario_has_a_test_here_and_both_auths_are_used() -> None:
    from tests.integration.test_drill_headless import CASES

    assert DRILL_ONLY.issubset(CASES)
    assert set(_NAMES) - COVERED - DRILL_ONLY == set(), "scenarios without a real-client test"
    assert {_auth_for(n) for n in _NAMES} == {"basic", "kerberos"}


@_sc("fe-lost")
def test_fe_lost(c: Clients) -> None:
    fe = "fe02.fabrikam.lab"
    assert fe not in c.lab.winrm_urls()
    c.lab.rebuild(fe)
    c.ps(fe, BOOTSTRAPPER)
    c.ps(fe, "Start-CsWindowsService")
    out = c.ps(fe, "Get-CsWindowsService -Name RTCSRV | Select-Object -ExpandProperty Status")
    assert out.stdout.strip() == "Running"
    assert c.restored() == []


@_sc("be-primary-lost-witness")
def test_be_primary_lost_witness(c: Clients) -> None:
    fe, fe11 = "fe01.fabrikam.lab", "fe11.fabrikam.lab"
    # §5.3 C: the CMS lives on this Back End; a publish needs the primary CMS database, so fail the CMS over first
    c.ps(fe11, "Invoke-CsManagementServerFailover -BackupSqlServerFqdn 'sql11.fabrikam.lab' "
               "-BackupSqlInstanceName 'rtc' -Force")
    # §6.5 steps 3-4 (Topology Builder, the trainee's hands): the pool's store is now the survivor
    c.lab.perform_manual("be-mirror-topology-pool1.fabrikam.lab",
                         "Set 'SQL Server store' to sql02.fabrikam.lab\\rtc; OK; Publish again.")
    for t in ("User", "Application"):
        c.ps(fe, f"Uninstall-CsMirrorDatabase -DatabaseType {t} -SqlServerFqdn "
                 "'sql02.fabrikam.lab' -SqlInstanceName rtc")
    c.lab.rebuild("sql01.fabrikam.lab")
    # §6.5 step 8 (Topology Builder): the rebuilt server is the new mirror; Create Mirror Database
    c.lab.perform_manual("be-mirror-create-pool1.fabrikam.lab",
                          "Edit Properties: set the mirroring SQL Server store to sql01.fabrikam.lab\\rtc. "
                           "Tick 'Use SQL Server mirroring witness' and set the witness to "
                           "sqlwit.fabrikam.lab\\rtc. OK.")
    for fe_ in ("fe01.fabrikam.lab", "fe02.fabrikam.lab", "fe03.fabrikam.lab"):  # T15, §6.6: mirroring changed
        c.ps(fe, f"Stop-CsWindowsService -ComputerName {fe_}; Start-CsWindowsService -ComputerName {fe_}")
    rows = c.query("be1-mirror", "SELECT name, state_desc FROM sys.databases WHERE name = 'rtcxds'")
    assert rows == [("rtcxds", "ONLINE")]
    assert c.restored() == []


@_sc("be-primary-lost-no-witness")
def test_be_primary_lost_no_witness(c: Clients) -> None:
    fe = "fe01.fabrikam.lab"
    for t in ("User", "Application", "CentralMgmt"):
        c.ps(fe, f"Invoke-CsDatabaseFailover -PoolFqdn pool1.fabrikam.lab -DatabaseType {t} "
                 "-NewPrincipal Mirror -Force -Verbose")
    assert c.restored() == []


@_sc("be-lost-unpaired")
def test_be_lost_unpaired_and_import_with_services_running(c: Clients) -> None:
    fe = "fe21.fabrikam.lab"
    c.lab.rebuild("sql21.fabrikam.lab")
    c.ps(fe, "Install-CsDatabase -ConfiguredDatabases -SqlServerFqdn sql21.fabrikam.lab")
    assert ("rtcxds", "ONLINE") in c.query("be3", "SELECT name, state_desc FROM sys.databases")
    zip_ = rf"{SET}\UserData_pool3.fabrikam.lab.zip"
    bad = c.ps(fe, f"Import-CsUserData -PoolFqdn pool3.fabrikam.lab -FileName '{zip_}'", ok=False)
    assert bad.exit_code == 1 and len(bad.errors) == 1
    assert "Front-End service (RTCSRV) is running" in bad.errors[0].message
    fes = ["fe21.fabrikam.lab", "fe22.fabrikam.lab", "fe23.fabrikam.lab"]
    for f in fes:
        c.ps(fe, f"Stop-CsWindowsService -ComputerName '{f}'")
    c.ps(fe, f"Import-CsUserData -PoolFqdn pool3.fabrikam.lab -FileName '{zip_}'")
    for f in fes:
        c.ps(fe, f"Start-CsWindowsService -ComputerName '{f}' -NoWait")
    assert c.restored() == []


@_sc("cms-lost-paired")
def test_cms_lost_paired_and_pool_failover_before_cms_failover(c: Clients) -> None:
    fe = "fe11.fabrikam.lab"
    bad = c.ps(fe, "Invoke-CsPoolFailover -PoolFqdn pool1.fabrikam.lab -DisasterMode", ok=False)
    assert bad.exit_code == 1 and "Central Management store" in bad.errors[0].message
    assert bad.errors[0].category.startswith("ResourceUnavailable")
    c.ps(fe, "Invoke-CsManagementServerFailover -BackupSqlServerFqdn sql11.fabrikam.lab "
             "-BackupSqlInstanceName rtc -Force -Verbose")
    hop = c.ps(fe, "Invoke-CsPoolFailover -PoolFqdn pool1.fabrikam.lab -DisasterMode", ok=False)
    assert "is specified in topology as the next hop for the Edge server" in hop.errors[0].message
    c.ps(fe, "Set-CsEdgeServer -Identity EdgeServer:edge.fabrikam.lab "
             "-Registrar Registrar:pool2.fabrikam.lab")
    c.ps(fe, "Invoke-CsPoolFailover -PoolFqdn pool1.fabrikam.lab -DisasterMode -Verbose")
    c.ps(fe, rf"Import-CsLisConfiguration -FileName '{SET}\E911Config.zip'; "
             "Publish-CsLisConfiguration; Invoke-CsManagementStoreReplication")
    out = c.ps(fe, "Get-CsManagementStoreReplicationStatus -CentralManagementStoreStatus"
                   " | ConvertTo-Json -Compress")
    assert '"ActiveMasterFqdn":"fe11.fabrikam.lab"' in out.stdout
    assert c.restored() == []


@_sc("cms-se-lost-unpaired")
def test_cms_se_lost_and_back_end_before_cms(c: Clients) -> None:
    se = "se01.fabrikam.lab"
    c.lab.rebuild(se)
    bad = c.ps(se, "Install-CsDatabase -ConfiguredDatabases -SqlServerFqdn se01.fabrikam.lab",
               ok=False)
    assert bad.exit_code == 1
    assert "Cannot connect to the Central Management store" in bad.errors[0].message
    c.ps(se, "Install-CsDatabase -CentralManagementDatabase -Clean -SqlServerFqdn "
             "se01.fabrikam.lab -SqlInstanceName rtc -Verbose")
    c.ps(se, "Set-CsConfigurationStoreLocation -SqlServerFqdn se01.fabrikam.lab "
             "-SqlInstanceName rtc -Verbose")
    c.ps(se, rf"Import-CsConfiguration -FileName '{SET}\Config.zip'")
    c.ps(se, "Enable-CsTopology")
    c.ps(se, BOOTSTRAPPER)
    c.ps(se, rf"Import-CsUserData -PoolFqdn se01.fabrikam.lab -FileName "
             rf"'{SET}\UserData_se01.fabrikam.lab.zip'")
    c.ps(se, "Start-CsWindowsService")
    c.ps(se, rf"Import-CsLisConfiguration -FileName '{SET}\E911Config.zip'; "
             "Publish-CsLisConfiguration; Invoke-CsManagementStoreReplication")
    assert "se01.fabrikam.lab\\rtc" in c.ps(se, "Get-CsConfigurationStoreLocation").stdout
    assert c.restored() == []


@_sc("file-store-lost")
def test_file_store_lost(c: Clients) -> None:
    fe = "fe01.fabrikam.lab"
    copy = c.ps(fe, rf"robocopy {SET}\filestore\fs-hq \\fs01.fabrikam.lab\lyncshare /E "
                    "/XF Meeting.Active; exit $LASTEXITCODE", ok=False)
    assert copy.exit_code == 1  # robocopy: files were copied
    c.ps(fe, "Enable-CsTopology")
    assert c.restored() == []


@_sc("pool-lost-paired")
def test_pool_lost_paired(c: Clients) -> None:
    fe = "fe01.fabrikam.lab"
    c.ps(fe, "Invoke-CsPoolFailover -PoolFqdn pool2.fabrikam.lab -DisasterMode")
    c.ps(fe, "Import-CsRgsConfiguration -Destination 'service:ApplicationServer:pool1.fabrikam"
             rf".lab' -FileName '{SET}\Rgs_pool2.fabrikam.lab.zip'")  # no -OverwriteOwner (§6.16 step 5)
    out = c.ps(fe, "Get-CsRgsWorkflow -Identity 'service:ApplicationServer:pool1.fabrikam.lab' "
                   "-ShowAll | Select-Object -ExpandProperty Name")
    assert "pool2-helpdesk" in out.stdout.split()
    assert c.restored() == []


@_sc("pool-lost-unpaired")
def test_pool_lost_unpaired(c: Clients) -> None:
    fes = ["fe21.fabrikam.lab", "fe22.fabrikam.lab", "fe23.fabrikam.lab"]
    c.lab.rebuild("sql21.fabrikam.lab")
    for fe in fes:
        c.lab.rebuild(fe)
    c.ps(fes[0], "Install-CsDatabase -ConfiguredDatabases -SqlServerFqdn sql21.fabrikam.lab")
    for fe in fes:
        c.ps(fe, BOOTSTRAPPER)
    c.ps(fes[0], rf"Import-CsUserData -PoolFqdn pool3.fabrikam.lab -FileName "
                 rf"'{SET}\UserData_pool3.fabrikam.lab.zip'")
    for fe in fes:
        c.ps(fes[0], f"Start-CsWindowsService -ComputerName '{fe}' -NoWait")
    assert c.restored() == []


@_sc("edge-lost")
def test_edge_lost(c: Clients) -> None:
    export = r"\\bk01.fabrikam.lab\LyncBackup\edge-config.zip"
    c.ps("fe01.fabrikam.lab", f"Export-CsConfiguration -FileName '{export}'")
    edge = "edge01.fabrikam.lab"
    c.lab.rebuild(edge)
    early = c.ps(edge, BOOTSTRAPPER, ok=False)
    assert early.exit_code != 0  # an Edge needs its local store imported from a file (§6.7)
    c.ps(edge, f"Import-CsConfiguration -LocalStore -FileName '{export}'")
    c.ps(edge, BOOTSTRAPPER)
    c.ps(edge, "Start-CsWindowsService")
    assert c.restored() == []


@_sc("edge-site-lost")
def test_edge_site_lost(c: Clients) -> None:
    """§6.21 in its order: federation route (Topology Builder, then Run Again on the new Edge once the
    publish reached it), XMPP route (stop, Set-CsSite, DNS by hand, start), media association."""
    fe, edge = "fe11.fabrikam.lab", "edge11.fabrikam.lab"
    fed = "Test-CsFederatedPartner -TargetFqdn edge2.fabrikam.lab -Domain litwareinc.com | " \
          "Select-Object -ExpandProperty Result"
    assert c.ps(fe, fed).stdout.strip() == "Failure"
    c.lab.perform_manual("edge-federation-route-edge.fabrikam.lab", (
        "Edit Properties of the Edge pool edge.fabrikam.lab > General: clear 'Enable federation for this Edge "
        "pool (Port 5061)'; OK.\nEdit Properties of the Edge pool edge2.fabrikam.lab > General: tick 'Enable "
        "federation for this Edge pool (Port 5061)'; OK.\nPublish the topology."))
    c.ps(fe, f"Invoke-CsManagementStoreReplication -ReplicaFqdn {edge}")
    c.ps(edge, BOOTSTRAPPER)  # Deployment Wizard: Setup or Remove Lync Server Components, Run Again
    c.ps(edge, "Stop-CsWindowsService")
    c.ps(fe, "Set-CsSite HQ -XmppExternalFederationRoute edge2.fabrikam.lab")
    c.ps(edge, "Start-CsWindowsService")
    assert c.ps(fe, fed).stdout.strip() == "Success"
    c.lab.perform_manual("edge-media-edge.fabrikam.lab", "\n".join(
        f"Edit Properties of the Front End pool {p} > Associations: 'Associate Edge pool (for media components)' "
        "= edge2.fabrikam.lab; OK." for p in ("pool1.fabrikam.lab", "se01.fabrikam.lab")))
    out = c.ps(fe, "Test-CsAVEdgeConnectivity -TargetFqdn pool1.fabrikam.lab | Select-Object -ExpandProperty Result")
    assert out.stdout.strip() == "Success"
    c.ps(fe, "Invoke-CsManagementStoreReplication")
    assert c.restored() == []


@_sc("monitoring-db-lost")
def test_monitoring_db_lost_over_msodbc18(c: Clients) -> None:
    ms = bundled_msodbc18()
    assert ms is not None, "the mssql-python-odbc wheel is part of the test set-up"
    c.ps("fe01.fabrikam.lab", "Install-CsDatabase -ConfiguredDatabases -SqlServerFqdn "
                              "sqlmon.fabrikam.lab")
    # pool1's Front Ends use the recreated databases at once: their sessions go first (3101 otherwise)
    messages = c.sql("mon", "ALTER DATABASE [LcsCDR] SET SINGLE_USER WITH ROLLBACK IMMEDIATE; "
                            rf"RESTORE DATABASE [LcsCDR] FROM DISK = N'{SET}\sql\LcsCDR.bak' "
                            "WITH REPLACE, RECOVERY, STATS = 20; ALTER DATABASE [LcsCDR] SET MULTI_USER", driver=ms)
    assert any("RESTORE DATABASE successfully processed" in m for m in messages)
    assert c.restored() == []


def _sessions_in(c: Clients, database: str) -> int:
    return sum(1 for row in c.query("mon", "EXEC sp_who2") if str(row[5]) == database)


@_sc("monitoring-db-damaged-held")
def test_monitoring_db_damaged_held_restored_by_the_wizards_batch(c: Clients) -> None:
    from wizard.procedures.library.data import restore_batch

    assert c.query("mon", "SELECT name, state_desc FROM sys.databases WHERE name IN ('LcsCDR', 'QoEMetrics') "
                          "ORDER BY name") == [("LcsCDR", "SUSPECT"), ("QoEMetrics", "ONLINE")]
    assert _sessions_in(c, "QoEMetrics") == 3  # one per running Front End of pool1
    with pytest.raises(pyodbc.Error) as held:
        c.sql("mon", rf"RESTORE DATABASE [QoEMetrics] FROM DISK = N'{SET}\sql\QoEMetrics.bak' WITH REPLACE")
    assert "(3101)" in str(held.value)
    ms = bundled_msodbc18()
    assert ms is not None
    for name, driver in (("LcsCDR", FREETDS), ("QoEMetrics", ms), ("LcsLog", FREETDS)):
        messages = c.sql("mon", restore_batch(name, rf"{SET}\sql\{name}.bak", recovery=True), driver=driver)
        assert any("RESTORE DATABASE successfully processed" in m for m in messages), messages
        c.sql("mon", f"ALTER DATABASE [{name}] SET MULTI_USER")
    assert c.restored() == []
    assert _sessions_in(c, "QoEMetrics") == 3  # the services came back once it was MULTI_USER again


@_sc("pchat-db-lost")
def test_pchat_db_lost(c: Clients) -> None:
    assert c.query("pchat-sql", "SELECT state_desc FROM sys.databases WHERE name = 'mgc'") == [
        ("SUSPECT",)]
    messages = c.sql("pchat-sql", rf"RESTORE DATABASE [mgc] FROM DISK = N'{SET}\sql\mgc.bak' "
                                  "WITH REPLACE, RECOVERY, STATS = 25")
    assert [m.rsplit("]", 1)[-1] for m in messages if "percent processed" in m] == [
        f"{p} percent processed." for p in (25, 50, 75, 100)]
    assert c.restored() == []


@_sc("bad-config-change")
def test_bad_config_change(c: Clients) -> None:
    fe = "fe01.fabrikam.lab"
    c.ps(fe, rf"Import-CsConfiguration -FileName '{SET}\Config.zip'")
    assert c.restored()  # imported but not yet replicated
    c.ps(fe, "Invoke-CsManagementStoreReplication")
    out = c.ps(fe, "Get-CsManagementStoreReplicationStatus | Where-Object {$_.UpToDate -ne $true}"
                   " | Measure-Object | Select-Object -ExpandProperty Count")
    assert out.stdout.strip() == "0"
    assert c.restored() == []
