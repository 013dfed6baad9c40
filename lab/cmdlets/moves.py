"""Cmdlets that move things between pools: the CMS (§6.15b), users, conference directories and
application endpoints (ABC failover, §6.19), the XMPP route (Set-CsSite, §6.21) and the
Persistent Chat active servers and state (§6.20, §7.2).

Move-CsManagementServer follows §6.15b: it runs locally on a Front End of the target pool whose
Front-End service runs, the target's CMS database must exist (Install-CsDatabase
-CentralManagementDatabase first), and when the current CMS cannot be reached it needs
``-Force`` and the exported Config and LIS files. It answers with the computers that need local
setup, as the doc says. The Move-Cs* cmdlets of §6.19 refuse an offline source pool unless
``-Force`` is given.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lab.backupset import BackupFormatError, read_config_zip, read_lis_zip
from lab.cmdlets.base import (
    LyncCmdlet,
    P,
    local_server,
    obj,
    pool_arg,
    read_file,
    require_cms,
    strip_prefix,
)
from lab.model import CmsPointer, LabDeployment
from lab.powershell.binding import Invocation
from lab.powershell.values import Hashtable, enumerate_value


# ------------------------------------------------------------------------ CMS move (§6.15b)
def move_management_server(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
    srv = local_server(dep, host, inv)
    here = dep.pool_of(host)
    target = here.fqdn.lower() if here is not None else ""
    if inv.get("TargetFqdn") and dep.paths.fqdn(str(inv.get("TargetFqdn"))) != target:
        raise inv.error("Move-CsManagementServer must run locally on a server of the pool the "
                        "Central Management Server moves to.", "InvalidOperation",
                        "WrongComputer")
    if target == dep.cms_pool and dep.cms_functional():
        raise inv.error(f"The Central Management Server is already in {target}.",
                        "InvalidOperation", "AlreadyThere")
    if not srv.front_end_running:
        raise inv.error(f"The Front-End service is not running on {srv.fqdn}; "
                        "Move-CsManagementServer needs it.", "InvalidOperation",
                        "FrontEndNotRunning")
    store = dep.pool_sql(target)
    xds = store.database("xds") if store is not None and dep.sql_up(store) else None
    lis_db = store.database("lis") if store is not None and dep.sql_up(store) else None
    if store is None or xds is None or lis_db is None:
        raise inv.error(f"The Central Management store database does not exist for {target}. "
                        "Run Install-CsDatabase -CentralManagementDatabase first.",
                        "ObjectNotFound", "CmsDatabaseMissing")
    source_ok = dep.cms_functional()
    if not source_ok and not inv.get("Force"):
        raise inv.error(f"Cannot connect to the Central Management store: {dep.cms_problem()}. "
                        "Use -Force to move it from an offline source.", "ResourceUnavailable",
                        "CmsUnavailable")
    if source_ok:
        cfg = dict(dep.cms_config() or {})
        old = dep.cms_instance()
        lis = dict((old.database("lis").content.get("lis") or {})  # type: ignore[union-attr]
                   if old is not None and old.database("lis") is not None else {})
    else:
        if not inv.get("ConfigurationFileName") or not inv.get("LisConfigurationFileName"):
            raise inv.error("The current Central Management store cannot be read: give "
                            "-ConfigurationFileName and -LisConfigurationFileName.",
                            "InvalidArgument", "FilesNeeded")
        try:
            cfg = read_config_zip(read_file(dep, host, inv, str(inv.get("ConfigurationFileName"))))
            lis = read_lis_zip(read_file(dep, host, inv, str(inv.get("LisConfigurationFileName"))))
        except BackupFormatError as exc:
            raise inv.error(f"Move-CsManagementServer failed: {exc}", "InvalidData",
                            "InvalidConfigurationFile") from None
    if not inv.should_process(target, "Move-CsManagementServer"):
        return []
    old_pool = dep.cms_pool
    previous = dep.cms_instance() if source_ok else None
    cfg["version"] = max(int(cfg.get("version", 1)), dep.config_version()) + 1
    cfg.setdefault("topology", {})["central_management"] = target
    xds.state = lis_db.state = "ONLINE"
    xds.content.update({"filled": True, "config": cfg, "enabled": True, "active": True})
    lis_db.content.update({"filled": True, "lis": lis, "published": True})
    if previous is not None and previous is not store:
        prev_xds = previous.database("xds")
        if prev_xds is not None:
            prev_xds.content["active"] = False
    mirror = dep.mirror_sql(target)
    dep.scp = CmsPointer(store.server, store.instance, mirror.server if mirror else None,
                         mirror.instance if mirror else None)
    dep.cms_pool = target
    for key, modules in dep.backup_service.items():
        modules["CentralMgmt.CMSMaster"] = ("SteadyState" if key[0] == target
                                            else "NotInitialized", "NormalState")
    dep.log(host, f"Central Management Server moved from {old_pool} to {target}")
    needs = [s.fqdn for s in dep.lync_servers(target) if s.fqdn != srv.fqdn]
    needs += [s.fqdn for s in dep.lync_servers(old_pool) if s.reachable and old_pool != target]
    return [f"Computer {fqdn} needs local setup: run Bootstrapper.exe (Deployment Wizard step 2)."
            for fqdn in needs]


# ------------------------------------------------------------------------ ABC moves (§6.19)
def _source_pool_check(dep: LabDeployment, inv: Invocation, source: str | None, what: str) -> None:
    if source and source in dep.pools and dep.pool_problems(source) and not inv.get("Force"):
        raise inv.error(f"Cannot move {what}: its pool {source} is not available. Use -Force to "
                        "move it anyway (its data on that pool is lost).", "ResourceUnavailable",
                        "SourcePoolUnavailable", target=what)


def _home_pool(dep: LabDeployment, sip: str) -> str | None:
    if sip in dep.user_moves:
        return dep.user_moves[sip]
    short = sip.split("@", 1)[0].rsplit(".", 1)[-1]
    return next((p.fqdn.lower() for p in dep.plan.front_end_pools()
                 if p.fqdn.lower().split(".")[0] == short), None)


def move_user(dep: LabDeployment, host: str, inv: Invocation) -> None:
    require_cms(dep, inv)
    target = pool_arg(dep, inv, str(inv.get("Target")))
    identity = inv.get("Identity")
    if identity is None:
        raise inv.error("Cannot bind argument to parameter 'Identity' because it is null.",
                        "InvalidData", "ParameterArgumentValidationErrorNullNotAllowed")
    raw = identity.get("SipAddress") if hasattr(identity, "get") and not isinstance(
        identity, str) else identity
    sip = str(raw).lower()
    sip = sip if sip.startswith("sip:") else f"sip:{sip}"
    source = _home_pool(dep, sip)
    if source is None:
        raise inv.error(f'Management object not found for identity "{identity}".',
                        "ObjectNotFound", "UserNotFound", target=str(identity))
    _source_pool_check(dep, inv, source, sip)
    if not inv.should_process(sip, "Move-CsUser"):
        return
    dep.user_moves[sip] = target
    dep.log(host, f"user {sip} moved from {source} to {target}")


def move_conference_directory(dep: LabDeployment, host: str, inv: Invocation) -> None:
    require_cms(dep, inv)
    target = pool_arg(dep, inv, str(inv.get("TargetPool")))
    identity = str(inv.get("Identity"))
    source = dep.conference_directory_moves.get(identity)
    _source_pool_check(dep, inv, source, f"conference directory {identity}")
    if not inv.should_process(identity, "Move-CsConferenceDirectory"):
        return
    dep.conference_directory_moves[identity] = target
    dep.log(host, f"conference directory {identity} moved to {target}")


def move_application_endpoint(dep: LabDeployment, host: str, inv: Invocation) -> None:
    require_cms(dep, inv)
    target = pool_arg(dep, inv, str(inv.get("TargetApplicationPool")))
    identity = str(inv.get("Identity")).lower()
    if not inv.should_process(identity, "Move-CsApplicationEndpoint"):
        return
    dep.application_endpoint_moves[identity] = target
    dep.log(host, f"application endpoint {identity} moved to {target}")


# ------------------------------------------------------------------------ Set-CsSite (§6.21)
def set_site(dep: LabDeployment, host: str, inv: Invocation) -> None:
    require_cms(dep, inv)
    site = strip_prefix(str(inv.get("Identity")), "site:")
    names = {s.name.lower(): s.name for s in dep.plan.topology.sites}
    if site not in names:
        raise inv.error(f'Cannot find site "{inv.get("Identity")}" in the topology.',
                        "ObjectNotFound", "SiteNotFound", target=str(inv.get("Identity")))
    if inv.bound("XmppExternalFederationRoute"):
        route = dep.paths.fqdn(str(inv.get("XmppExternalFederationRoute")))
        edges = {p.fqdn.lower() for p in dep.plan.topology.pools if p.role == "edge"}
        edges |= {s.fqdn for s in dep.lync_servers() if s.role == "edge"}
        if route not in edges:
            raise inv.error(f'"{route}" is not an Edge server or pool of the topology.',
                            "InvalidArgument", "NotAnEdge", target=route)
        cfg = dep.cms_config() or {}
        sites = dict(cfg.get("sites", {}))
        sites[names[site]] = dict(sites.get(names[site], {}), xmpp_route=route)
        dep.bump_config({"sites": sites})
        dep.log(host, f"XMPP federation route of site {names[site]} set to {route}")


# ------------------------------------------------------------------------ Persistent Chat
def _pchat_pool(dep: LabDeployment, inv: Invocation) -> str:
    pool = pool_arg(dep, inv, strip_prefix(str(inv.get("Identity")), "service:",
                                          "PersistentChatServer:"))
    if dep.pool(pool).spec.role != "persistent_chat":
        raise inv.error(f'"{pool}" is not a Persistent Chat pool.', "InvalidArgument",
                        "NotPersistentChat", target=pool)
    return pool


def set_pchat_active_server(dep: LabDeployment, host: str, inv: Invocation) -> None:
    require_cms(dep, inv)
    pool = _pchat_pool(dep, inv)
    state = dep.pool(pool)
    members = [s.lower() for s in state.spec.servers]
    active = list(state.pchat_active if state.pchat_active is not None else members)
    if inv.get("Swap"):
        active = [m for m in members if m not in active]
    else:
        change = inv.get("ActiveServers")
        if not isinstance(change, Hashtable | dict):
            change = Hashtable([("Replace", change)])
        for verb, value in change.items():
            servers = [dep.paths.fqdn(str(v)) for v in enumerate_value(value) if v is not None]
            unknown = [s for s in servers if s not in members]
            if unknown:
                raise inv.error(f'"{unknown[0]}" is not a server of {pool}.', "InvalidArgument",
                                "NotAPoolMember", target=unknown[0])
            kind = str(verb).lower()
            if kind == "replace":
                active = servers
            elif kind == "add":
                active += [s for s in servers if s not in active]
            elif kind == "remove":
                active = [s for s in active if s not in servers]
            else:
                raise inv.error(f"Cannot convert the value of parameter 'ActiveServers': "
                                f"unknown list operation '{verb}'.", "InvalidArgument",
                                "InvalidListModifier")
    state.pchat_active = active
    dep.log(host, f"Persistent Chat active servers of {pool}: {', '.join(active) or '(none)'}")


def get_pchat_state(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
    require_cms(dep, inv)
    pool = _pchat_pool(dep, inv)
    return [obj("Microsoft.Rtc.Management.Xds.PersistentChatState",
                Identity=f"service:PersistentChatServer:{pool}",
                PoolState=dep.pool(pool).pchat_state)]


CMDLETS = (
    LyncCmdlet("Move-CsManagementServer", (
        P("ConfigurationFileName"), P("LisConfigurationFileName"), P("TargetFqdn"),
        P("Force", "switch"), P("Report"),
    ), move_management_server, duration=180.0, should_process=True),
    LyncCmdlet("Move-CsUser", (
        P("Identity", "object", mandatory=True, position=0, pipeline="value"),
        P("Target", mandatory=True), P("Force", "switch"),
    ), move_user, duration=2.0, should_process=True),
    LyncCmdlet("Move-CsConferenceDirectory", (
        P("Identity", mandatory=True, position=0), P("TargetPool", mandatory=True),
        P("Force", "switch"),
    ), move_conference_directory, duration=10.0, should_process=True),
    LyncCmdlet("Move-CsApplicationEndpoint", (
        P("Identity", mandatory=True, position=0), P("TargetApplicationPool", mandatory=True),
        P("Force", "switch"),
    ), move_application_endpoint, duration=5.0, should_process=True),
    LyncCmdlet("Set-CsSite", (
        P("Identity", mandatory=True, position=0), P("XmppExternalFederationRoute"),
    ), set_site, duration=5.0),
    LyncCmdlet("Set-CsPersistentChatActiveServer", (
        P("Identity", mandatory=True, position=0),
        P("ActiveServers", "object", set="List", mandatory=True),
        P("Swap", "switch", set="Swap", mandatory=True),
    ), set_pchat_active_server, duration=5.0),
    LyncCmdlet("Get-CsPersistentChatState", (
        P("Identity", mandatory=True, position=0),
    ), get_pchat_state),
)
