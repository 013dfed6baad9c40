"""Lync cmdlet handlers through the interpreter: main behaviour and documented failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.runtime import LabRuntime

FE = "fe01.fabrikam.lab"
SET = r"\\bk01.fabrikam.lab\LyncBackup\2026-11-24_0200"


@pytest.fixture
def lab(tmp_path: Path) -> LabRuntime:
    from lab.backupset import write_backup_sets

    runtime = LabRuntime(None, state_dir=tmp_path, time_factor=float("inf"))
    write_backup_sets(runtime.dep)
    return runtime


def ps(lab: LabRuntime, script: str, host: str = FE) -> tuple[int, str, str]:
    out: list[str] = []
    err: list[str] = []
    code = lab.powershell(host).run_script(script, out.append, err.append, clixml_errors=False)
    return code, "".join(out), "".join(err)


def js(lab: LabRuntime, script: str, host: str = FE) -> object:
    code, out, err = ps(lab, f"{script} | ConvertTo-Json -Compress -Depth 4", host)
    assert code == 0, err
    return json.loads(out)


def test_unknown_parameter_and_cmdlet_fail_like_powershell(lab: LabRuntime) -> None:
    code, _, err = ps(lab, "Get-CsBackupServiceStatus -PoolFqdn pool1.fabrikam.lab "
                           "-BackupModule ConfServices.DataConf")
    assert code == 1 and "A parameter cannot be found that matches parameter name 'BackupModule'" in err
    code, _, err = ps(lab, "Start-CsPool -PoolFqdn pool1.fabrikam.lab")
    assert code == 1 and "'Start-CsPool' is not recognized as the name of a cmdlet" in err
    code, _, err = ps(lab, "Enable-CsTopology -SkipPrepareCheck")
    assert code == 1 and "SkipPrepareCheck" in err  # a Boolean, not a switch (§8)


def test_windows_services_local_and_remote(lab: LabRuntime) -> None:
    rows = js(lab, "Get-CsWindowsService")
    assert isinstance(rows, list) and all(r["Status"] == 4 for r in rows)
    assert ps(lab, "Stop-CsWindowsService -ComputerName fe02.fabrikam.lab -Name RTCSRV")[0] == 0
    row = js(lab, "Get-CsWindowsService -ComputerName fe02.fabrikam.lab -Name RTCSRV")
    assert isinstance(row, dict) and row["Status"] == 1
    stopped = js(lab, "Get-CsWindowsService -ComputerName fe02.fabrikam.lab | "
                      "Where-Object {$_.Status -ne 'Running'} | Select-Object Name")
    assert {"Name": "RTCRGS"} in stopped  # dependents stop too  # type: ignore[operator]
    assert ps(lab, "Get-CsWindowsService -ComputerName fe02.fabrikam.lab | "
                   "Where-Object {$_.Status -ne 'Running'} | Start-CsWindowsService")[0] == 0
    assert lab.dep.server("fe02.fabrikam.lab").front_end_running
    code, _, err = ps(lab, "Get-CsWindowsService", host="bk01.fabrikam.lab")
    assert code == 1 and "not installed" in err


def test_quorum_keeps_rtcsrv_pending(lab: LabRuntime) -> None:
    for fe in ("fe02", "fe03"):
        ps(lab, f"Stop-CsWindowsService -ComputerName {fe}.fabrikam.lab")
    row = js(lab, "Get-CsWindowsService -Name RTCSRV")
    assert isinstance(row, dict) and row["Status"] == 2  # StartPending: pool quorum lost
    _, out, _ = ps(lab, "Get-CsPoolFabricState -PoolFqdn pool1.fabrikam.lab")
    assert "Pool quorum: LOST" in out


def test_install_database_default_instance_trap(lab: LabRuntime) -> None:
    lab.dep.lose_server("se01.fabrikam.lab")
    lab.dep.rebuild_server("se01.fabrikam.lab")
    code, _, err = ps(lab, "Install-CsDatabase -CentralManagementDatabase -Clean "
                           "-SqlServerFqdn se01.fabrikam.lab")
    assert code == 1 and "default instance" in err
    assert ps(lab, "Install-CsDatabase -CentralManagementDatabase -Clean -SqlServerFqdn "
                   "se01.fabrikam.lab -SqlInstanceName rtc")[0] == 0
    inst = lab.dep.pool_sql("se01.fabrikam.lab")
    assert inst is not None and inst.database("xds") is not None
    assert inst.database("xds").content.get("empty")  # type: ignore[union-attr]


def test_set_store_location_needs_reachable_sql_unless_skiplookup(lab: LabRuntime) -> None:
    lab.dep.lose_server("sql21.fabrikam.lab")
    code, _, err = ps(lab, "Set-CsConfigurationStoreLocation -SqlServerFqdn sql21.fabrikam.lab "
                           "-SqlInstanceName rtc")
    assert code == 1 and "was not changed" in err
    assert str(lab.dep.scp) == "sql01.fabrikam.lab\\rtc"
    assert ps(lab, "Set-CsConfigurationStoreLocation -SqlServerFqdn sql21.fabrikam.lab "
                   "-SqlInstanceName rtc -SkipLookup")[0] == 0
    _, out, _ = ps(lab, "Get-CsConfigurationStoreLocation")
    assert out.strip() == "sql21.fabrikam.lab\\rtc"
    assert lab.dep.cms_problem() is not None


def test_test_csdatabase_fields_and_warning(lab: LabRuntime) -> None:
    rows = js(lab, "Test-CsDatabase -CentralManagementDatabase")
    assert isinstance(rows, list) and [r["DatabaseName"] for r in rows] == ["xds", "lis"]
    assert set(rows[0]) >= {"SqlServerFqdn", "SqlInstanceName", "MirrorSqlServerFqdn",
                            "MirrorSqlInstanceName", "DatabaseName", "DataSource",
                            "SQLServerVersion", "ExpectedVersion", "InstalledVersion", "Succeed"}
    inst = lab.dep.instance_by_id("be3")
    assert inst is not None
    inst.drop_database("rtcxds")
    code, out, _ = ps(lab, "Test-CsDatabase -ConfiguredDatabases -SqlServerFqdn "
                             "sql21.fabrikam.lab | Where-Object {-not $_.Succeed} | "
                             "Select-Object -ExpandProperty DatabaseName")
    assert code == 0 and out.strip() == "rtcxds"


def test_export_lis_refuses_existing_file_and_import_merges(lab: LabRuntime) -> None:
    path = r"C:\Logs\E911.zip"
    lab.dep.paths.resolve(r"C:\Logs", FE).mkdir(parents=True, exist_ok=True)
    assert ps(lab, f"Export-CsLisConfiguration -FileName '{path}'")[0] == 0
    code, _, err = ps(lab, f"Export-CsLisConfiguration -FileName '{path}'")
    assert code == 1 and "already exists" in err
    cms = lab.dep.cms_instance()
    assert cms is not None
    cms.database("lis").content["lis"]["locations"]["New-Room"] = "added later"  # type: ignore[union-attr]
    assert ps(lab, f"Import-CsLisConfiguration -FileName '{path}'")[0] == 0
    assert "New-Room" in cms.database("lis").content["lis"]["locations"]  # type: ignore[union-attr]


def test_rgs_import_into_new_database_needs_overwrite_owner(lab: LabRuntime) -> None:
    inst = lab.dep.pool_sql("pool1.fabrikam.lab")
    assert inst is not None
    inst.database("rgsconfig").content = {"empty": True}  # type: ignore[union-attr]
    dest = "-Destination 'service:ApplicationServer:pool1.fabrikam.lab'"
    code, _, err = ps(lab, f"Import-CsRgsConfiguration {dest} -FileName '{SET}\\Rgs_pool1.fabrikam.lab.zip'")
    assert code == 1 and "-OverwriteOwner" in err
    assert ps(lab, f"Import-CsRgsConfiguration {dest} -FileName "
                   f"'{SET}\\Rgs_pool1.fabrikam.lab.zip' -OverwriteOwner")[0] == 0


def test_replication_status_per_replica(lab: LabRuntime) -> None:
    lab.dep.bump_config()
    rows = js(lab, "Get-CsManagementStoreReplicationStatus | Select-Object ReplicaFqdn, UpToDate")
    assert isinstance(rows, list) and not any(r["UpToDate"] for r in rows)
    assert ps(lab, "Invoke-CsManagementStoreReplication -ReplicaFqdn fe02.fabrikam.lab")[0] == 0
    row = js(lab, "Get-CsManagementStoreReplicationStatus -ReplicaFqdn fe02.fabrikam.lab")
    assert isinstance(row, dict) and row["UpToDate"] is True


def test_backup_service_and_pairing(lab: LabRuntime) -> None:
    code, out, err = ps(lab, "$s = Get-CsBackupServiceStatus -PoolFqdn 'pool1.fabrikam.lab'; "
                             "$s.BackupModules | Select-Object -ExpandProperty BackupModule")
    assert code == 0, err
    assert out.split() == ["UserServices.PresenceFocus", "ConfServices.DataConf",
                           "CentralMgmt.CMSMaster"]
    rel = js(lab, "Get-CsPoolBackupRelationship -PoolFqdn pool1.fabrikam.lab")
    assert isinstance(rel, dict) and rel["BackupPoolFqdn"] == "pool2.fabrikam.lab"
    code, _, err = ps(lab, "Invoke-CsPoolFailover -PoolFqdn pool3.fabrikam.lab -DisasterMode")
    assert code == 1 and "no backup pool" in err


def test_robocopy_exit_codes(lab: LabRuntime) -> None:
    code, _, _ = ps(lab, rf"robocopy {SET}\filestore\fs-hq C:\copy /E; exit $LASTEXITCODE")
    assert code == 1
    code, _, _ = ps(lab, rf"robocopy {SET}\filestore\fs-hq C:\copy /E; exit $LASTEXITCODE")
    assert code == 0
    code, _, _ = ps(lab, r"robocopy \\bk01.fabrikam.lab\LyncBackup\nope C:\copy /E; exit $LASTEXITCODE")
    assert code == 16


def test_synthetic_transaction_and_user_pool_info(lab: LabRuntime) -> None:
    row = js(lab, "Test-CsRegistration -TargetFqdn pool1.fabrikam.lab")
    assert isinstance(row, dict) and row["Result"] == "Success"
    info = js(lab, "Get-CsUserPoolInfo 'sip:ann.pool1@fabrikam.lab'")
    assert isinstance(info, dict) and info["PrimaryPoolPrimaryRegistrar"] == "fe01.fabrikam.lab"
