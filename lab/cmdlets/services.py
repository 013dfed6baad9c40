"""Lync service cmdlets: Get/Start/Stop-CsWindowsService, Get-CsComputer, Get-CsService,
Test-CsReplica (§7.2, §8).

Semantics from the doc: without ``-ComputerName`` they act on the local computer only, without
``-Name`` on every Lync service there; Stop also stops dependents; Start is no error when the
service already runs. The Front-End service (RTCSRV) only reaches Running when its pool has
quorum (§5.4) and an online Back End; otherwise it stays in StartPending.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lab.cmdlets.base import (
    LyncCmdlet,
    P,
    local_server,
    obj,
    pool_arg,
    require_cms,
    status_enum,
    strip_prefix,
    write_file,
)
from lab.model import RUNNING_QUORUM, LabDeployment, LabServer
from lab.powershell.binding import Invocation
from lab.powershell.values import PSObject

#: Services that depend on the Front-End service (stopping RTCSRV stops them): inferred.
_DEPENDENTS = {"RTCSRV": ("RTCRGS", "RTCCPS", "RTCCAA", "RTCASMCU")}


def _targets(dep: LabDeployment, host: str, inv: Invocation) -> LabServer:
    name = inv.get("ComputerName")
    if name is None:
        return local_server(dep, host, inv)
    srv = dep.servers.get(dep.paths.fqdn(str(name)))
    if srv is None or not srv.reachable:
        raise inv.error(f"Cannot open Service Control Manager on computer '{name}'. This "
                        "operation might require other privileges.", "OpenError",
                        "ServiceControlManagerUnavailable", target=name)
    if srv.kind != "lync" or not srv.lync_installed:
        raise inv.error(f"Lync Server is not installed on computer '{name}'.", "InvalidOperation",
                        "LyncNotInstalled", target=name)
    return srv


def _service_obj(srv: LabServer, name: str) -> PSObject:
    svc = srv.services[name]
    return obj("Microsoft.Rtc.Management.Deployment.Core.NTService",
               Status=status_enum(svc.status), Name=svc.name, DisplayName=svc.display_name,
               ActivityLevel="", ComputerName=srv.fqdn)


def _names(srv: LabServer, inv: Invocation) -> list[str]:
    wanted = inv.get("Name")
    obj_in = inv.get("InputObject")
    if isinstance(obj_in, PSObject):
        wanted = obj_in.get("Name")
        computer = obj_in.get("ComputerName")
        if computer and str(computer).lower() != srv.fqdn:
            return []
    if wanted is None:
        return list(srv.services)
    key = str(wanted).upper()
    if key not in srv.services:
        raise inv.error(f"Cannot find any service with service name '{wanted}'.",
                        "ObjectNotFound", "NoServiceFoundForGivenName", target=wanted)
    return [key]


def _input_server(dep: LabDeployment, host: str, inv: Invocation) -> LabServer:
    obj_in = inv.get("InputObject")
    if isinstance(obj_in, PSObject) and obj_in.get("ComputerName") and inv.get("ComputerName") \
            is None:
        srv = dep.servers.get(str(obj_in.get("ComputerName")).lower())
        if srv is not None:
            return srv
    return _targets(dep, host, inv)


def get_service(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
    srv = _targets(dep, host, inv)
    return [_service_obj(srv, n) for n in _names(srv, inv)]


def settle_pool(dep: LabDeployment, pool_fqdn: str | None) -> None:
    """Front-End services of a pool: Running with quorum and a Back End, else StartPending."""
    if pool_fqdn is None:
        return
    pool = dep.pool(pool_fqdn)
    if pool.spec.role != "front_end":
        for srv in dep.lync_servers(pool_fqdn):
            for svc in srv.services.values():
                if svc.status == "StartPending":
                    svc.status = "Running"
        return
    starting = [s for s in dep.lync_servers(pool_fqdn)
                if s.reachable and s.lync_installed and s.service("RTCSRV") is not None
                and s.services["RTCSRV"].status in ("Running", "StartPending")]
    size = len(pool.spec.servers)
    need = RUNNING_QUORUM.get(size, size // 2 + 1)  # §5.4 (the first-start table is not used)
    backend_ok = dep.principal_sql(pool_fqdn) is not None
    ok = backend_ok and len(starting) >= need
    for srv in starting:
        srv.services["RTCSRV"].status = "Running" if ok else "StartPending"
        for dep_name in _DEPENDENTS["RTCSRV"]:
            other = srv.service(dep_name)
            if other is not None and other.status in ("Running", "StartPending"):
                other.status = "Running" if ok else "StartPending"


def start_service(dep: LabDeployment, host: str, inv: Invocation) -> None:
    srv = _input_server(dep, host, inv)
    for name in _names(srv, inv):
        svc = srv.services[name]
        if svc.status != "Running":
            svc.status = "StartPending" if name in ("RTCSRV", *_DEPENDENTS["RTCSRV"]) \
                else "Running"
            inv.write_verbose(f"Starting service {svc.name} on {srv.fqdn}.")
            if name == "RTCSRV":
                srv.started_at = dep.tick()
    replica = srv.service("REPLICA")
    if replica is not None and replica.status == "Running" and not srv.replica_reported and dep.cms_functional():
        # a store seeded from a file (Edge): once its replica agent runs, the CMS replicates to it on its own
        # (§6.7 step 3 "after install, Edge config replicates automatically")
        dep.replicate(srv.fqdn)
    settle_pool(dep, srv.pool)
    dep.log(srv.fqdn, "Start-CsWindowsService")


#: How long the lab lets Start-CsWindowsService wait for a Front End stuck in Start Pending. The
#: cmdlet waits for the services to start unless -NoWait (§8); a Front End waits in Start Pending
#: until its pool reaches quorum (§5.4), so a remote run would hang until its deadline. The lab
#: gives up after this much of its own time with an error instead, so drills end.
START_WAIT_S = 600.0


def wait_until_started(dep: LabDeployment, host: str, inv: Invocation) -> None:
    """After Start-CsWindowsService, outside the lock: without -NoWait, wait while the Front End is
    Start Pending (other shells may bring the pool to quorum meanwhile)."""
    if inv.get("NoWait"):
        return
    with dep.lock:
        srv = _input_server(dep, host, inv)
    waited = 0.0
    while (svc := srv.service("RTCSRV")) is not None and svc.status == "StartPending":
        if waited >= START_WAIT_S:
            raise inv.error(f"Service RTCSRV on {srv.fqdn} did not start: it is still Start Pending (the pool "
                            f"{srv.pool} has not reached its start quorum, §5.4). Start the Front Ends together "
                            "with -NoWait.", "OperationTimeout", "ServiceStartPending")
        if not dep.clock.sleep(15.0, inv.session.cancelled):  # the lab's time, not the wall's
            inv.check_cancelled()
        waited += 15.0
        with dep.lock:
            settle_pool(dep, srv.pool)


def stop_service(dep: LabDeployment, host: str, inv: Invocation) -> None:
    srv = _input_server(dep, host, inv)
    names = _names(srv, inv)
    for name in list(names):
        names += [d for d in _DEPENDENTS.get(name, ()) if d in srv.services]
    if inv.get("LeaveWebServerRunning"):
        names = [n for n in names if n != "W3SVC"]
    if inv.get("LeaveClsAgentRunning"):
        names = [n for n in names if n != "RTCCLSAGT"]
    for name in dict.fromkeys(names):
        srv.services[name].status = "Stopped"
        inv.write_verbose(f"Stopping service {srv.services[name].name} on {srv.fqdn}.")
    settle_pool(dep, srv.pool)
    dep.log(srv.fqdn, "Stop-CsWindowsService")


def get_computer(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
    require_cms(dep, inv)
    pool = inv.get("Pool")
    identity = inv.get("Identity")
    out = []
    for srv in dep.lync_servers(pool_arg(dep, inv, str(pool)) if pool else None):
        if identity and str(identity).lower() != srv.fqdn:
            continue
        out.append(obj("Microsoft.Rtc.Management.Xds.DisplayComputer", Identity=srv.fqdn,
                       Pool=srv.pool, Fqdn=srv.fqdn))
    if identity and not out:
        raise inv.error(f'Cannot find computer "{identity}" in the topology.', "ObjectNotFound",
                        "ComputerNotFound", target=identity)
    return out


def get_cs_service(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
    require_cms(dep, inv)
    out: list[Any] = []
    if inv.get("CentralManagement"):
        cms_sql = dep.cms_instance()
        out.append(obj("Microsoft.Rtc.Management.Xds.DisplayCentralManagementServer",
                       Identity=f"CentralManagement:{dep.cms_pool}", PoolFqdn=dep.cms_pool,
                       SiteId=dep.pool(dep.cms_pool).spec.site,
                       Version=6, Active=True,
                       SqlServer=cms_sql.data_source if cms_sql else None))
    if inv.get("Registrar"):
        for pool in dep.plan.front_end_pools():
            out.append(obj("Microsoft.Rtc.Management.Xds.DisplayRegistrar",
                           Identity=f"Registrar:{pool.fqdn.lower()}", PoolFqdn=pool.fqdn.lower(),
                           SiteId=pool.site, BackupPool=(pool.paired_with or "").lower() or None))
    if inv.get("UserDatabase"):
        for pool in dep.plan.front_end_pools():
            inst = dep.pool_sql(pool.fqdn)
            if inst is not None:
                out.append(obj("Microsoft.Rtc.Management.Xds.DisplayUserDatabase",
                               Identity=f"UserDatabase:{inst.server}",
                               PoolFqdn=inst.server, SqlInstanceName=inst.instance))
    return out


def test_replica(dep: LabDeployment, host: str, inv: Invocation) -> None:
    srv = local_server(dep, host, inv)
    svc = srv.service("REPLICA")
    if dep.replica_up_to_date(srv) and (svc is None or svc.status == "Running"):
        inv.write_verbose('"Test-CsReplica" processing has completed successfully.')
        return None
    report = inv.get("Report") or f"C:\\Users\\Administrator\\AppData\\Local\\Temp\\Test-CsReplica-{srv.fqdn}.html"
    inv.write_warning("Test-CsReplica failed.")
    inv.write_warning(f"Detailed results can be found at \"{report}\".")
    return None


def _report(dep: LabDeployment, host: str, inv: Invocation, title: str,
            rows: list[tuple[str, bool, str]]) -> None:
    """Write the HTML report ``-Report`` names (the doc: no on-screen pass/fail)."""
    path = inv.get("Report")
    if not path:
        return
    from html import escape

    body = "".join(f"<tr><td>{escape(name)}</td><td>{'Success' if ok else 'Failure'}</td>"
                   f"<td>{escape(detail)}</td></tr>" for name, ok, detail in rows)
    page = (f"<html><head><title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>"
            f"<table>{body}</table></body></html>\r\n")
    write_file(dep, host, inv, str(path), page.encode("utf-8"))


def test_computer(dep: LabDeployment, host: str, inv: Invocation) -> None:
    srv = local_server(dep, host, inv)
    rows: list[tuple[str, bool, str]] = [
        (f"Service {svc.name}", svc.status == "Running", str(svc.status))
        for svc in srv.services.values()]
    rows.append(("Local configuration store", dep.replica_up_to_date(srv),
                 f"version {srv.replica_version}"))
    for name, ok, detail in rows:
        inv.write_verbose(f"{name}: {'Success' if ok else 'Failure'} ({detail}).")
    _report(dep, host, inv, f"Test-CsComputer {srv.fqdn}", rows)


def test_topology(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
    require_cms(dep, inv)
    service = inv.get("Service")
    if service:
        _role, _, pool_name = str(service).partition(":")
        if not pool_name:
            raise inv.error(f'The service "{service}" is not of the form "<Role>:<pool>".',
                            "InvalidArgument", "InvalidServiceIdentity", target=str(service))
        pools = [pool_arg(dep, inv, pool_name)]
    else:
        pools = [p.fqdn.lower() for p in dep.plan.topology.pools]
    rows = []
    for pool in pools:
        problems = dep.pool_problems(pool)
        rows.append((pool, not problems, "; ".join(problems) or "activated"))
    _report(dep, host, inv, "Test-CsTopology", rows)
    failed = [r for r in rows if not r[1]]
    return [obj("Microsoft.Rtc.SyntheticTransactions.TaskOutput",
                TargetFqdn=str(service or "Global"),
                Result="Failure" if failed else "Success", Latency="00:00:00",
                Error=failed[0][2] if failed else None,
                Diagnosis=f"{len(failed)} of {len(rows)} services failed" if failed else None)]


CMDLETS = (
    LyncCmdlet("Get-CsWindowsService", (
        P("ComputerName"), P("Name", position=0), P("ExcludeActivityLevel", "switch"),
        P("Report"),
    ), get_service),
    LyncCmdlet("Start-CsWindowsService", (
        P("ComputerName"), P("Name", position=0),
        P("InputObject", "object", pipeline="value"), P("NoWait", "switch"), P("Report"),
        P("Force", "switch"),
    ), start_service, duration=20.0, then=wait_until_started),
    LyncCmdlet("Stop-CsWindowsService", (
        P("ComputerName"), P("Name", position=0), P("InputObject", "object", pipeline="value"),
        P("Graceful", "switch"), P("LeaveClsAgentRunning", "switch"),
        P("LeaveWebServerRunning", "switch"), P("NoWait", "switch"), P("Report"),
        P("Force", "switch"),
    ), stop_service, duration=20.0),
    LyncCmdlet("Get-CsComputer", (P("Identity", position=0), P("Pool")), get_computer),
    LyncCmdlet("Get-CsService", (
        P("CentralManagement", "switch"), P("Registrar", "switch"), P("UserDatabase", "switch"),
    ), get_cs_service),
    LyncCmdlet("Test-CsReplica", (P("Report"),), test_replica),
    LyncCmdlet("Test-CsComputer", (P("Report"),), test_computer, duration=20.0),
    LyncCmdlet("Test-CsTopology", (P("Service"), P("Report")), test_topology, duration=20.0),
)

__all__ = ["CMDLETS", "settle_pool", "strip_prefix"]
