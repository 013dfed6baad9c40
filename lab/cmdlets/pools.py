"""Pool cmdlets: fabric, registrar reset, failover/failback, Backup Service, pairing, user
homing and the synthetic transactions (§5.4, §6.14, §6.16, §6.17, §7.2, §8).

Invoke-CsPoolFailover enforces the two documented preconditions: a functional CMS (§5.1.7) and
no Edge pool using the failed pool as next hop (the doc's error text, §6.16 step 2).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lab.cmdlets.base import LyncCmdlet, P, obj, pool_arg, require_cms
from lab.cmdlets.services import settle_pool
from lab.model import BACKUP_MODULES, LabDeployment
from lab.powershell.binding import Invocation


def fabric_state(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
    pool = pool_arg(dep, inv, str(inv.get("PoolFqdn")))
    lines = [f"Pool FQDN: {pool}"]
    running = {s.fqdn for s in dep.running_front_ends(pool)}
    for group in dep.pool(pool).routing_groups:
        alive = [r for r in group.replicas if r in running]
        primary = alive[0] if alive else ""
        secondaries = ", ".join(alive[1:])
        lines.append(f"RoutingGroup {group.id}: Primary = {primary or '(none)'}; "
                     f"Secondaries = {secondaries or '(none)'}")
        if inv.get("Verbose") and len(alive) < 2:
            inv.write_verbose(f"Routing group {group.id} is missing replicas (quorum loss).")
    lines.append("Pool quorum: " + ("LOST" if dep.pool_quorum_lost(pool) else "OK"))
    return lines


def reset_registrar(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
    pool = pool_arg(dep, inv, str(inv.get("PoolFqdn")))
    kind = str(inv.get("ResetType") or "ServiceReset")
    if not inv.should_process(pool, f"Reset-CsPoolRegistrarState -ResetType {kind}"):
        return []
    if kind.lower() == "quorumlossrecovery" and dep.pool_quorum_lost(pool):
        raise inv.error("QuorumLossRecovery cannot run while the pool is in pool-level quorum "
                        "loss.", "InvalidOperation", "PoolQuorumLost")
    if kind.lower() == "machinestateremoved":
        machine = dep.paths.fqdn(str(inv.get("MachineFqdn") or ""))
        for group in dep.pool(pool).routing_groups:
            group.replicas = [r for r in group.replicas if r != machine]
    settle_pool(dep, pool)
    return [f"{kind} completed for pool {pool}."]


def _backup_pool(dep: LabDeployment, inv: Invocation, pool: str) -> str:
    partner = dep.pool(pool).spec.paired_with
    if not partner:
        raise inv.error(f"The pool {pool} has no backup pool assigned.", "InvalidOperation",
                        "NoBackupPool")
    return partner.lower()


def pool_failover(dep: LabDeployment, host: str, inv: Invocation) -> None:
    pool = pool_arg(dep, inv, str(inv.get("PoolFqdn")))
    backup = _backup_pool(dep, inv, pool)
    require_cms(dep, inv)
    for edge in dep.plan.topology.pools:
        if edge.role == "edge" and dep.edge_next_hop(edge.fqdn) == pool:
            raise inv.error(
                f'This Front-end pool "{pool}" is specified in topology as the next hop for the '
                f'Edge server "{edge.fqdn.lower()}". Change the next hop of the Edge server to '
                "another pool before failing over this pool.", "InvalidOperation",
                "EdgeNextHop", target=pool)
    if dep.pool(pool).failed_over_to:
        raise inv.error(f"The pool {pool} is already failed over to "
                        f"{dep.pool(pool).failed_over_to}.", "InvalidOperation",
                        "AlreadyFailedOver")
    if not inv.get("DisasterMode") and dep.pool_problems(pool):
        raise inv.error(f"The pool {pool} is not running; a planned failover needs both pools. "
                        "Use -DisasterMode.", "InvalidOperation", "PoolDown")
    if dep.pool_problems(backup):
        raise inv.error(f"The backup pool {backup} is not running.", "ResourceUnavailable",
                        "BackupPoolDown")
    dep.pool(pool).failed_over_to = backup
    dep.log(host, f"users of {pool} failed over to {backup}")


def pool_failback(dep: LabDeployment, host: str, inv: Invocation) -> None:
    pool = pool_arg(dep, inv, str(inv.get("PoolFqdn")))
    state = dep.pool(pool)
    if not state.failed_over_to:
        raise inv.error(f"The pool {pool} is not failed over.", "InvalidOperation",
                        "NotFailedOver")
    require_cms(dep, inv)
    problems = dep.pool_problems(pool)
    if problems:
        raise inv.error(f"The pool {pool} cannot take its users back: {problems[0]}.",
                        "ResourceUnavailable", "HomePoolDown")
    state.failed_over_to = None
    dep.log(host, f"users of {pool} failed back")


def backup_status(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
    pool = pool_arg(dep, inv, str(inv.get("PoolFqdn")))
    partner = _backup_pool(dep, inv, pool)
    modules = dep.backup_service.get((pool, partner), {})
    category = str(inv.get("Category") or "").lower()
    rows = []
    for name in BACKUP_MODULES:
        if category == "cms" and not name.startswith("CentralMgmt"):
            continue
        if category == "userdata" and name.startswith("CentralMgmt"):
            continue
        export, imp = modules.get(name, ("ErrorState", "ErrorState"))
        if dep.pool_problems(partner):
            export = "ErrorState"
        rows.append(obj("Microsoft.Rtc.Management.BackupService.BackupModuleStatus",
                        BackupModule=name, ExportStatus=export, ImportStatus=imp,
                        BackupPoolFqdn=partner))
    return [obj("Microsoft.Rtc.Management.BackupService.BackupServiceStatus",
                PoolFqdn=pool, BackupPoolFqdn=partner, BackupModules=rows,
                OverallExportStatus=rows[0].get("ExportStatus") if rows else None)]


def backup_sync(dep: LabDeployment, host: str, inv: Invocation) -> None:
    pool = pool_arg(dep, inv, str(inv.get("PoolFqdn")))
    partner = _backup_pool(dep, inv, pool)
    if dep.pool_problems(pool):
        raise inv.error(f"The Backup Service on {pool} is not running.", "ResourceUnavailable",
                        "BackupServiceDown")
    module = inv.get("BackupModule")
    modules = dep.backup_service.setdefault((pool, partner), {})
    for name in BACKUP_MODULES:
        if module and str(module).lower() != name.lower():
            continue
        export, _imp = modules.get(name, ("NotInitialized", "NormalState"))
        modules[name] = ("FinalState" if export != "NotInitialized" else export, "NormalState")
        if name == "ConfServices.DataConf":
            _sync_conference_content(dep, pool, partner)


def _sync_conference_content(dep: LabDeployment, source: str, target: str) -> None:
    """Copy the source pool's file store content to the target pool's (§6.14)."""
    import shutil

    src_id, dst_id = dep.pool(source).spec.file_store, dep.pool(target).spec.file_store
    if not src_id or not dst_id or src_id == dst_id:
        return
    src_fs, dst_fs = dep.plan.file_store(src_id), dep.plan.file_store(dst_id)
    src = dep.paths.unc(src_fs.server, src_fs.share)
    dst = dep.paths.unc(dst_fs.server, dst_fs.share)
    if not src.is_dir() or not dep.server(dst_fs.server).reachable:
        return
    for path in src.rglob("*"):
        if path.is_file() and path.name.lower() != "meeting.active":
            out = dst / path.relative_to(src)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out)


def backup_relationship(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
    pool = pool_arg(dep, inv, str(inv.get("PoolFqdn")))
    partner = dep.pool(pool).spec.paired_with
    return [obj("Microsoft.Rtc.Management.BackupService.BackupRelation", PoolFqdn=pool,
                BackupPoolFqdn=partner.lower() if partner else None)]


def _user_pool(dep: LabDeployment, inv: Invocation, identity: str) -> str:
    """Lab users are ``sip:<name>.<pool short name>@<domain>`` (e.g. sip:ann.pool1@fabrikam.lab)."""
    moved = dep.user_moves.get("sip:" + identity.lower().removeprefix("sip:"))
    if moved is not None:
        return moved
    text = identity.lower().removeprefix("sip:")
    local = text.split("@", 1)[0]
    short = local.rsplit(".", 1)[-1]
    for pool in dep.plan.front_end_pools():
        if pool.fqdn.lower().split(".")[0] == short:
            return pool.fqdn.lower()
    raise inv.error(f'Management object not found for identity "{identity}".', "ObjectNotFound",
                    "UserNotFound", target=identity)


def user_pool_info(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
    require_cms(dep, inv)
    identity = str(inv.get("Identity"))
    pool = _user_pool(dep, inv, identity)
    state = dep.pool(pool)
    backup = (state.spec.paired_with or "").lower() or None
    fes = state.spec.servers
    backup_fes = dep.pool(backup).spec.servers if backup else []
    return [obj("Microsoft.Rtc.Management.Hosted.UserInformation",
                Identity=identity, PrimaryPoolFqdn=pool, BackupPoolFqdn=backup,
                UserServicesPoolFqdn=state.failed_over_to or pool,
                PrimaryPoolPrimaryRegistrar=fes[0].lower() if not state.failed_over_to else None,
                BackupPoolPrimaryRegistrar=backup_fes[0].lower()
                if state.failed_over_to and backup_fes else None)]


def federated_partner(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
    """§7.2: -TargetFqdn is the internal Edge FQDN that carries federated SIP; Success when that is
    the Edge pool published for federation, set up, running, with a next hop that serves (§6.21)."""
    target = str(inv.get("TargetFqdn")).lower()
    problems = dep.federation_problems(target)
    return [obj("Microsoft.Rtc.SyntheticTransactions.TaskOutput", TargetFqdn=target,
                Result="Failure" if problems else "Success",
                Latency="00:00:00" if problems else "00:00:01.2",
                Error="504, Server time-out" if problems else None,
                Diagnosis=f"FederatedPartner {inv.get('Domain')}: {problems[0]}" if problems else None)]


def _synthetic(what: str) -> Any:
    def run(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
        here = dep.pool_of(host)
        target = str(inv.get("TargetFqdn") or (here.fqdn if here is not None else "")).lower()
        given_user = any(inv.bound(n) for n in ("UserSipAddress", "SenderSipAddress"))
        if target in dep.pools and not dep.pools[target].spec.test_users and not given_user:
            # without arguments the transaction uses the pool's health-monitoring test users (§7.2)
            raise inv.error(f"No health monitoring test users are configured for {target}: create them with "
                            "New-CsHealthMonitoringConfiguration or pass -UserSipAddress and -UserCredential.",
                            "InvalidOperation", "NoHealthMonitoringConfiguration")
        ok = target in dep.pools and not dep.pool_problems(target)
        if target in dep.pools and dep.pools[target].spec.role == "edge":
            ok = not dep.pool_problems(target) and bool(
                dep.edge_next_hop(target) and dep.users_served_by(str(dep.edge_next_hop(target))))
        elif what == "AVEdgeConnectivity" and ok:  # the pool's media go through its associated Edge (§6.21)
            ok = not dep.media_problems(target)
        return [obj("Microsoft.Rtc.SyntheticTransactions.TaskOutput", TargetFqdn=target,
                    Result="Success" if ok else "Failure",
                    Latency="00:00:00.8" if ok else "00:00:00",
                    Error=None if ok else "504, Server time-out",
                    Diagnosis=None if ok else f"{what}: no response from {target}")]
    return run


_SYNTHETIC = ("Registration", "IM", "Presence", "AVConference", "P2PAV", "GroupIM",
              "DataConference", "ASConference", "AddressBookService", "AddressBookWebQuery",
              "WebApp", "AVEdgeConnectivity", "LisConfiguration", "PersistentChatMessage",
              "ExUMConnectivity", "ClientAuthentication")
_SYNTH_PARAMS = (
    P("TargetFqdn"), P("UserSipAddress"), P("UserCredential", "object"),
    P("SenderSipAddress"), P("SenderCredential", "object"), P("ReceiverSipAddress"),
    P("ReceiverCredential", "object"),
    P("Authentication", choices=("TrustedServer", "Negotiate", "ClientCertificate", "LiveID")),
    P("RegistrarPort", "int"), P("OutLoggerVariable"), P("OutVerboseVariable"),
)

CMDLETS = (
    LyncCmdlet("Get-CsPoolFabricState", (
        P("PoolFqdn", mandatory=True),
        P("Type", choices=("All", "MCUFactory", "ConferenceDirectory", "Routing", "LYSS")),
    ), fabric_state),
    LyncCmdlet("Reset-CsPoolRegistrarState", (
        P("PoolFqdn", mandatory=True),
        P("ResetType", choices=("ServiceReset", "QuorumLossRecovery", "FullReset",
                                "MachineStateRemoved")),
        P("MachineFqdn"), P("NoReStart", "switch"), P("ResetLocalDatabases", "switch"),
    ), reset_registrar, duration=60.0, should_process=True, impact="High"),
    LyncCmdlet("Invoke-CsPoolFailover", (
        P("PoolFqdn", mandatory=True), P("DisasterMode", "switch"),
        P("FlushStorageService", "switch"), P("WaitTime", "timespan"), P("Force", "switch"),
    ), pool_failover, duration=300.0),
    LyncCmdlet("Invoke-CsPoolFailback", (
        P("PoolFqdn", mandatory=True), P("DisasterMode", "switch"), P("WaitTime", "timespan"),
        P("Force", "switch"),
    ), pool_failback, duration=300.0),
    LyncCmdlet("Get-CsBackupServiceStatus", (
        P("PoolFqdn", mandatory=True), P("Category", choices=("CMS", "UserData")),
        P("Force", "switch"),
    ), backup_status),
    LyncCmdlet("Invoke-CsBackupServiceSync", (
        P("PoolFqdn", mandatory=True), P("BackupModule", choices=BACKUP_MODULES),
    ), backup_sync, duration=120.0),
    LyncCmdlet("Get-CsPoolBackupRelationship", (
        P("PoolFqdn", mandatory=True), P("LocalStore", "switch"),
    ), backup_relationship),
    LyncCmdlet("Get-CsUserPoolInfo", (
        P("Identity", mandatory=True, position=0), P("LocalStore", "switch"),
    ), user_pool_info),
    *(LyncCmdlet(f"Test-Cs{name}", _SYNTH_PARAMS, _synthetic(name), duration=6.0)
      for name in _SYNTHETIC),
    LyncCmdlet("Test-CsFederatedPartner", (
        P("TargetFqdn", mandatory=True), P("Domain", mandatory=True), P("ProxyFqdn"),
        P("Certificate", "object"),
    ), federated_partner, duration=6.0),
)
