"""Backup Service and user-data housekeeping cmdlets (§6.13, §6.19, §7.2, §8).

Backup-CsPool (a manual Backup Service push), Get-/Set-CsBackupServiceConfiguration,
Remove-CsUserStoreBackupData, Invoke-CsStorageServiceFlush, Sync-CsUserData (needs the Backup
Service running, §8) and Convert-CsUserData (between the Lync 2013 and the Lync 2010 user data
formats). Parameters are exactly the §8 table's; the table's unnamed "batch limits" of
Set-CsBackupServiceConfiguration are not modelled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from lab.backupset import (
    BackupFormatError,
    read_user_data_zip,
    user_data_format,
    user_data_xml,
    user_data_zip,
)
from lab.cmdlets.base import (
    LyncCmdlet,
    P,
    obj,
    pool_arg,
    read_file,
    require_cms,
    write_file,
)
from lab.model import BACKUP_MODULES, LabDeployment
from lab.powershell.binding import Invocation
from lab.powershell.values import enumerate_value


def _partner(dep: LabDeployment, inv: Invocation, pool: str) -> str:
    partner = dep.pool(pool).spec.paired_with
    if not partner:
        raise inv.error(f"The pool {pool} has no backup pool assigned.", "InvalidOperation",
                        "NoBackupPool")
    return partner.lower()


def _backup_service_running(dep: LabDeployment, pool: str) -> bool:
    return any(s.reachable and s.lync_installed and (svc := s.service("LYNCBACKUP")) is not None
               and svc.status == "Running" for s in dep.lync_servers(pool))


def backup_pool(dep: LabDeployment, host: str, inv: Invocation) -> None:
    pool = pool_arg(dep, inv, str(inv.get("PoolFqdn")))
    partner = _partner(dep, inv, pool)
    if inv.get("FailedOverPoolOnly") and not inv.get("FullBackup"):
        raise inv.error("-FailedOverPoolOnly can only be used with -FullBackup.",
                        "InvalidArgument", "FailedOverPoolOnlyNeedsFullBackup")
    if inv.get("FailedOverPoolOnly") and not dep.pool(pool).failed_over_to:
        inv.write_verbose(f"{pool} is not failed over: nothing to back up.")
        return
    if not _backup_service_running(dep, pool):
        raise inv.error(f"The Backup Service is not running on {pool}.", "ResourceUnavailable",
                        "BackupServiceDown")
    if dep.pool_problems(partner):
        raise inv.error(f"The backup pool {partner} is not running; the Backup Service cannot "
                        "push data to it.", "ResourceUnavailable", "BackupPoolDown")
    category = str(inv.get("Category") or "").lower()
    modules = dep.backup_service.setdefault((pool, partner), {})
    for name in BACKUP_MODULES:
        if category == "cms" and not name.startswith("CentralMgmt"):
            continue
        if category == "userdata" and name.startswith("CentralMgmt"):
            continue
        export, _ = modules.get(name, ("NotInitialized", "NormalState"))
        if export != "NotInitialized":
            modules[name] = ("FinalState", "NormalState")
            inv.write_verbose(f"Backup module {name}: pushed to {partner}.")


def get_backup_config(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
    cfg = dep.backup_service_config
    return [obj("Microsoft.Rtc.Management.WritableConfig.Policy.BackupService."
                "BackupServiceConfiguration", Identity="Global",
                SyncInterval=cfg["SyncInterval"],
                AuthorizedUniversalGroups=list(cfg["AuthorizedUniversalGroups"]),
                AuthorizedLocalAccounts=list(cfg["AuthorizedLocalAccounts"]))]


def set_backup_config(dep: LabDeployment, host: str, inv: Invocation) -> None:
    require_cms(dep, inv)
    cfg = dep.backup_service_config
    if inv.bound("SyncInterval"):
        interval = inv.get("SyncInterval")
        if not isinstance(interval, dt.timedelta) or interval <= dt.timedelta(0):
            raise inv.error("SyncInterval must be a positive time span.", "InvalidArgument",
                            "InvalidSyncInterval")
        cfg["SyncInterval"] = interval
    for name in ("AuthorizedUniversalGroups", "AuthorizedLocalAccounts"):
        if inv.bound(name):
            cfg[name] = [str(v) for v in enumerate_value(inv.get(name))]
    dep.bump_config()
    dep.log(host, "Backup Service configuration changed")


def remove_user_store_backup_data(dep: LabDeployment, host: str, inv: Invocation) -> None:
    """Drops the backup data other pools left on ``pool`` that no longer pair with it."""
    pool = pool_arg(dep, inv, str(inv.get("PoolFqdn")))
    if not inv.should_process(pool, "Remove-CsUserStoreBackupData"):
        return
    stale = [key for key in dep.backup_service
             if key[1] == pool and (dep.pool(key[0]).spec.paired_with or "").lower() != pool]
    for key in stale:
        del dep.backup_service[key]
        inv.write_verbose(f"Removed the backup data of {key[0]} from {pool}.")
    if not stale:
        inv.write_verbose(f"{pool} holds no stale backup data.")


def storage_flush(dep: LabDeployment, host: str, inv: Invocation) -> None:
    pool = pool_arg(dep, inv, str(inv.get("PoolFqdn")))
    problems = dep.pool_problems(pool)
    if problems:
        raise inv.error(f"The storage service of {pool} cannot be flushed: {problems[0]}.",
                        "ResourceUnavailable", "PoolUnavailable")
    kind = str(inv.get("FlushType") or "FullFlush")
    inv.write_verbose(f"{kind} of the storage service of {pool} completed.")


def sync_user_data(dep: LabDeployment, host: str, inv: Invocation) -> None:
    pool = pool_arg(dep, inv, str(inv.get("PoolFqdn")))
    if not _backup_service_running(dep, pool):
        raise inv.error(f"Sync-CsUserData needs the Backup Service running on {pool}.",
                        "ResourceUnavailable", "BackupServiceDown")
    partner = (dep.pool(pool).spec.paired_with or "").lower()
    if partner:
        modules = dep.backup_service.setdefault((pool, partner), {})
        modules["UserServices.PresenceFocus"] = ("FinalState", "NormalState")
    inv.write_verbose(f"User data of {pool} synchronised.")


def convert_user_data(dep: LabDeployment, host: str, inv: Invocation) -> None:
    raw = read_file(dep, host, inv, str(inv.get("InputFile")))
    try:
        data = read_user_data_zip(raw)
        source = user_data_format(raw)
    except BackupFormatError as exc:
        raise inv.error(f"Convert-CsUserData failed: {exc}", "InvalidData",
                        "InvalidUserDataFile") from None
    target = str(inv.get("TargetVersion")).lower()
    users = inv.get("UserFilter")
    if users:
        data = dict(data, user_filter=[str(u) for u in enumerate_value(users)])
    out = str(inv.get("OutputFile"))
    legacy = target == "lync2010"
    payload = user_data_xml(data) if out.lower().endswith(".xml") else user_data_zip(
        data, legacy=legacy)
    write_file(dep, host, inv, out, payload)
    inv.write_verbose(f"Converted user data from {source} to "
                      f"{'Lync2010' if legacy else 'Current'}.")


CMDLETS = (
    LyncCmdlet("Backup-CsPool", (
        P("PoolFqdn", mandatory=True), P("Category"),
        P("FullBackup", "switch", set="Full", mandatory=True),
        P("FailedOverPoolOnly", "switch", set="Full"),
        P("SteadyState", "switch", set="Steady", mandatory=True),
        P("WaitTime", "timespan"), P("RetryCount", "int"),
    ), backup_pool, duration=120.0),
    LyncCmdlet("Get-CsBackupServiceConfiguration", (), get_backup_config),
    LyncCmdlet("Set-CsBackupServiceConfiguration", (
        P("SyncInterval", "timespan"), P("AuthorizedUniversalGroups", "string[]"),
        P("AuthorizedLocalAccounts", "string[]"),
    ), set_backup_config, duration=5.0),
    LyncCmdlet("Remove-CsUserStoreBackupData", (P("PoolFqdn", mandatory=True),),
               remove_user_store_backup_data, duration=30.0, should_process=True),
    LyncCmdlet("Invoke-CsStorageServiceFlush", (
        P("PoolFqdn", mandatory=True), P("FlushType", choices=("FullFlush", "SteadyStateFlush")),
    ), storage_flush, duration=60.0),
    LyncCmdlet("Sync-CsUserData", (
        P("PoolFqdn", mandatory=True), P("RoutingGroup"), P("Target"),
        P("LocalStore", "switch"),
    ), sync_user_data, duration=30.0),
    LyncCmdlet("Convert-CsUserData", (
        P("InputFile", mandatory=True), P("OutputFile", mandatory=True),
        P("TargetVersion", mandatory=True, choices=("Lync2010", "Current")),
        P("UserFilter", "string[]"),
    ), convert_user_data, duration=10.0),
)
