"""Central Management store cmdlets (§6.2, §6.15, §6.16, §7.2, §8).

Export/Import-CsConfiguration, Export/Import/Publish-CsLisConfiguration,
Set/Get-CsConfigurationStoreLocation, Enable-CsTopology, Publish-CsTopology, Get-CsTopology,
Invoke-CsManagementStoreReplication, Get-CsManagementStoreReplicationStatus,
Invoke-CsManagementServerFailover and Set-CsEdgeServer. The configuration lives in the ``xds``
database the SCP points at, so every rule of §6.2 falls out of the state: no SCP or an
unreachable instance means no CMS; a freshly installed xds is empty until Import-CsConfiguration
and not enabled until Enable-CsTopology.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from typing import Any

from lab import topologydoc
from lab.backupset import (
    BackupFormatError,
    config_zip,
    lis_zip,
    read_config_zip,
    read_lis_zip,
)
from lab.cmdlets.base import (
    LyncCmdlet,
    P,
    obj,
    pool_arg,
    read_file,
    require_cms,
    strip_prefix,
    write_file,
)
from lab.model import CmsPointer, LabDeployment
from lab.powershell.binding import Invocation


def _bytes_arg(inv: Invocation, name: str) -> bytes:
    value = inv.get(name)
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, list) and all(isinstance(b, int) for b in value):
        return bytes(value)
    raise inv.error(f"Cannot convert the value of parameter '{name}' to System.Byte[].",
                    "InvalidArgument", "InvalidByteInput")


def export_configuration(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any] | None:
    if inv.get("LocalStore"):
        srv = dep.server(host)
        cfg = dep.cms_config() if srv.replica_version else None
        if cfg is None:
            raise inv.error("The local configuration store is not available.",
                            "ResourceUnavailable", "LocalStoreUnavailable")
    else:
        require_cms(dep, inv)
        cfg = dep.cms_config()
    assert cfg is not None
    # T§3: the zip holds the topology as published now (the CMS where it runs, Topology Builder's changes)
    data = config_zip(dict(cfg, topology=topologydoc.published_topology(dep) or cfg.get("topology", {})))
    if inv.get("AsBytes"):
        return [data]
    write_file(dep, host, inv, str(inv.get("FileName")), data, overwrite=bool(inv.get("Force"))
               or True)
    return None


def import_configuration(dep: LabDeployment, host: str, inv: Invocation) -> None:
    data = read_file(dep, host, inv, str(inv.get("FileName"))) if inv.bound("FileName") \
        else _bytes_arg(inv, "ByteInput")
    try:
        cfg = read_config_zip(data)
    except BackupFormatError as exc:
        raise inv.error(f"Import-CsConfiguration failed: {exc}", "InvalidData",
                        "InvalidConfigurationFile") from None
    if inv.get("LocalStore"):
        srv = dep.server(host)
        srv.replica_version = int(cfg.get("version", 1))
        # seeded from a file: the Master Replicator learns of it only when replication reaches it (§6.7 step 3, T2)
        srv.replica_reported = False
        srv.last_update_creation = dep.now
        agent = srv.service("REPLICA")
        if srv.lync_installed and agent is not None and agent.status == "Running" and dep.cms_functional():
            dep.replicate(srv.fqdn)  # a running replica agent is reached by replication at once
        dep.log(srv.fqdn, "local configuration store seeded from a file")
        return
    if dep.scp is None:
        raise inv.error("Active Directory has no Central Management store location. Run "
                        "Set-CsConfigurationStoreLocation first.", "ResourceUnavailable",
                        "NoStoreLocation")
    inst = dep.cms_instance()
    xds = inst.database("xds") if inst is not None else None
    if inst is None or xds is None or xds.state != "ONLINE":
        raise inv.error(f"Cannot open the Central Management store database xds on {dep.scp}.",
                        "ResourceUnavailable", "CmsDatabaseUnavailable")
    old = xds.content.get("config")
    new = copy.deepcopy(cfg)
    base = int(old["version"]) if isinstance(old, dict) else 0
    new["version"] = max(base, int(cfg.get("version", 1))) + 1
    new["imported_from"] = cfg.get("as_of")
    xds.content["config"] = new
    xds.content["enabled"] = bool(old) and bool(xds.content.get("enabled"))
    dep.log(host, f"Import-CsConfiguration loaded configuration version {cfg.get('version')}")


def export_lis(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any] | None:
    require_cms(dep, inv)
    inst = dep.cms_instance()
    assert inst is not None
    lis_db = inst.database("lis")
    lis = lis_db.content.get("lis", {}) if lis_db is not None else {}
    data = lis_zip(lis)
    if inv.get("AsBytes"):
        return [data]
    write_file(dep, host, inv, str(inv.get("FileName")), data, overwrite=False)
    return None


def import_lis(dep: LabDeployment, host: str, inv: Invocation) -> None:
    require_cms(dep, inv)
    data = read_file(dep, host, inv, str(inv.get("FileName"))) if inv.bound("FileName") \
        else _bytes_arg(inv, "ByteInput")
    try:
        lis = read_lis_zip(data)
    except BackupFormatError as exc:
        raise inv.error(f"Import-CsLisConfiguration failed: {exc}", "InvalidData",
                        "InvalidLisFile") from None
    inst = dep.cms_instance()
    assert inst is not None
    lis_db = inst.database("lis")
    assert lis_db is not None
    current = lis_db.content.setdefault("lis", {"locations": {}, "subnets": []})
    # merge, not replace (§11.24): records added since the backup stay (orphans)
    current.setdefault("locations", {}).update(lis.get("locations", {}))
    current["subnets"] = sorted(set(current.get("subnets", [])) | set(lis.get("subnets", [])))
    lis_db.content["published"] = False


def publish_lis(dep: LabDeployment, host: str, inv: Invocation) -> None:
    require_cms(dep, inv)
    if not inv.should_process("LIS configuration", "Publish-CsLisConfiguration"):
        return
    inst = dep.cms_instance()
    assert inst is not None
    lis_db = inst.database("lis")
    assert lis_db is not None
    lis_db.content["published"] = True
    dep.bump_config()


def set_store_location(dep: LabDeployment, host: str, inv: Invocation) -> None:
    server = dep.paths.fqdn(str(inv.get("SqlServerFqdn")))
    instance = inv.get("SqlInstanceName")
    if not inv.get("SkipLookup"):
        inst = dep.instance(server, str(instance) if instance else None)
        if inst is None or not dep.sql_up(inst):
            where = f"{server}\\{instance}" if instance else server
            raise inv.error(f"Cannot connect to SQL Server instance \"{where}\". The service "
                            "control point was not changed. Verify the SQL Server and instance "
                            "names, or use -SkipLookup.", "ConnectionError",
                            "SqlInstanceUnreachable", target=where)
        if inst.database("xds") is None:
            raise inv.error(f"The Central Management store database xds does not exist on "
                            f"{inst.data_source}. Run Install-CsDatabase "
                            "-CentralManagementDatabase first.", "ObjectNotFound",
                            "CmsDatabaseMissing")
    mirror = inv.get("MirrorSqlServerFqdn")
    dep.scp = CmsPointer(server, str(instance).lower() if instance else None,
                         dep.paths.fqdn(str(mirror)) if mirror else None,
                         str(inv.get("MirrorSqlInstanceName")).lower()
                         if inv.get("MirrorSqlInstanceName") else None)
    dep.log(host, f"AD service control point set to {dep.scp}")


def get_store_location(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
    if dep.scp is None:
        return []
    return [f"{dep.scp.sql_server}\\{dep.scp.sql_instance}" if dep.scp.sql_instance
            else dep.scp.sql_server]


def enable_topology(dep: LabDeployment, host: str, inv: Invocation) -> None:
    inst = dep.cms_instance()
    xds = inst.database("xds") if inst is not None else None
    if xds is None or "config" not in xds.content:
        raise inv.error("Enable-CsTopology failed: the Central Management store holds no "
                        "topology. Import the configuration first.", "InvalidOperation",
                        "NoTopology")
    xds.content["enabled"] = True
    xds.content["active"] = True
    cfg = xds.content["config"]
    cfg["version"] = int(cfg["version"]) + 1
    for fs in dep.plan.topology.file_stores:
        srv = dep.servers.get(fs.server.lower())
        if srv is not None and srv.reachable and dep.paths.unc(fs.server, fs.share).is_dir():
            dep.file_store_acls[fs.id] = True
    dep.log(host, "Enable-CsTopology")


def _published(dep: LabDeployment) -> dict[str, Any]:
    topo = topologydoc.published_topology(dep)
    assert topo is not None  # callers checked the CMS (require_cms)
    return topo


def get_topology(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
    """Get-CsTopology; ``-AsXml``: the published document (T§2.1), rendered from what the CMS holds."""
    require_cms(dep, inv)
    topo = _published(dep)
    if inv.get("AsXml"):
        return [topologydoc.render(topo, dep.cms_pool)]
    return [obj("Microsoft.Rtc.Management.Xds.DisplayTopology",
                Sites=[s["name"] for s in topo.get("sites", [])],
                Clusters=[p["fqdn"] for p in topo.get("pools", [])],
                Machines=[s.fqdn for s in dep.lync_servers()])]


def publish_topology(dep: LabDeployment, host: str, inv: Invocation) -> None:
    """Publish-CsTopology -FileName/-Document: a document in the published format (T§2.1: what
    Publish-CsTopology -FileName accepts; UTF-16 with a BOM when PowerShell wrote it, else UTF-8) becomes
    the CMS's topology. What the document does not describe (T§2: federation, media association) is kept
    as the store holds it, and so is the CMS location: only Move-CsManagementServer and
    Invoke-CsManagementServerFailover move the CMS (§6.15)."""
    require_cms(dep, inv)
    if inv.get("FinalizeUninstall"):
        return
    if inv.bound("FileName"):
        text = topologydoc.decode(read_file(dep, host, inv, str(inv.get("FileName"))))
    else:
        text = str(inv.get("Document"))
    try:
        topology = topologydoc.parse(text)
    except topologydoc.TopologyDocumentError as exc:
        raise inv.error(f"Publish-CsTopology failed: {exc}.", "InvalidData", "InvalidTopologyDocument") from None
    cfg = dep.cms_config()
    assert cfg is not None
    held = cfg.get("topology", {})
    kept = {k: held[k] for k in topologydoc.NOT_IN_DOCUMENT if k in held}
    topology.update(kept, central_management=dep.cms_pool, signature=str(uuid.uuid4()))
    dep.bump_config({"topology": topology})


def invoke_replication(dep: LabDeployment, host: str, inv: Invocation) -> None:
    require_cms(dep, inv)
    replica = inv.get("ReplicaFqdn")
    done = dep.replicate(str(replica) if replica else None)
    for fqdn in done:
        inv.write_verbose(f"Replication to {fqdn} was triggered.")


def replication_status(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
    if inv.get("CentralManagementStoreStatus"):
        ok = dep.cms_functional()
        masters = [s.fqdn for s in dep.running_front_ends(dep.cms_pool)] if ok else []
        return [obj("Microsoft.Rtc.Management.ManagementStore.CentralManagementStoreStatusResult",
                    ActiveMasterFqdn=masters[0] if masters else None,
                    ActiveFileTransferAgents=masters,
                    ActiveReplicas=[s.fqdn for s in dep.lync_servers()
                                    if dep.replica_up_to_date(s)] if ok else [],
                    ActiveCentralManagementPool=dep.cms_pool if ok else None)]
    require_cms(dep, inv)
    wanted = inv.get("ReplicaFqdn")
    out = []
    for srv in dep.lync_servers():
        if wanted and dep.paths.fqdn(str(wanted)) != srv.fqdn:
            continue
        out.append(obj("Microsoft.Rtc.Management.ManagementStore.ReplicaState",
                       UpToDate=dep.replica_up_to_date(srv), ReplicaFqdn=srv.fqdn,
                       LastStatusReport=srv.last_update_creation if srv.reachable else None,
                       LastUpdateCreation=srv.last_update_creation,
                       ProductVersion="5.0.8308.0"))
    return out


def cms_failover(dep: LabDeployment, host: str, inv: Invocation) -> None:
    cms_pool = dep.pool(dep.cms_pool)
    backup_pool = (cms_pool.spec.paired_with or "").lower()
    if inv.common.get("WhatIf"):
        inv.write_host(f'What if: Performing the operation "Invoke-CsManagementServerFailover" '
                       f'on target "CMS_Pool: {dep.cms_pool}; Backup_Pool: '
                       f'{backup_pool or "(none)"}".')
        return
    if not backup_pool:
        raise inv.error(f"The pool {dep.cms_pool} hosting the Central Management Server has no "
                        "backup pool.", "InvalidOperation", "NoBackupPool")
    here = dep.pool_of(host)
    if here is None or here.fqdn != backup_pool:
        raise inv.error("Invoke-CsManagementServerFailover must run on a server of the pool "
                        f"the Central Management Server fails over to ({backup_pool}).",
                        "InvalidOperation", "WrongComputer")
    target = dep.pool_sql(backup_pool)
    if inv.bound("BackupSqlServerFqdn"):
        server = dep.paths.fqdn(str(inv.get("BackupSqlServerFqdn")))
        instance = inv.get("BackupSqlInstanceName")
        if target is None or target.server != server or (
                (str(instance).lower() if instance else None) != (target.instance or None)):
            raise inv.error("You can only fail over to the Central Management database defined "
                            f"in the topology for {backup_pool}.", "InvalidArgument",
                            "NotTopologyDatabase")
    else:
        # planned failover: the source must still work, it is made read-only first
        require_cms(dep, inv)
    if target is None or not dep.sql_up(target) or target.database("xds") is None:
        raise inv.error(f"The Central Management database of {backup_pool} is not available.",
                        "ResourceUnavailable", "StandbyUnavailable")
    fail_over_cms(dep, host, backup_pool)


def fail_over_cms(dep: LabDeployment, host: str, backup_pool: str) -> None:
    """What a successful Invoke-CsManagementServerFailover leaves behind (§6.15): the backup
    pool's CMS database active, AD pointing at it, the master there."""
    target = dep.pool_sql(backup_pool)
    target_mirror = dep.mirror_sql(backup_pool)
    xds = target.database("xds") if target is not None else None
    assert target is not None and xds is not None
    xds.state = "ONLINE"
    xds.content["active"] = True
    xds.content["enabled"] = True
    if "config" in xds.content:
        xds.content["config"]["version"] = int(xds.content["config"]["version"]) + 1
    dep.scp = CmsPointer(target.server, target.instance,
                         target_mirror.server if target_mirror else None,
                         target_mirror.instance if target_mirror else None)
    dep.cms_pool = backup_pool
    for key in list(dep.backup_service):
        modules = dep.backup_service[key]
        modules["CentralMgmt.CMSMaster"] = ("SteadyState" if key[0] == backup_pool
                                            else "NotInitialized", "NormalState")
    dep.log(host, f"Central Management Server failed over to {backup_pool}")


def set_edge_server(dep: LabDeployment, host: str, inv: Invocation) -> None:
    require_cms(dep, inv)
    edge = strip_prefix(str(inv.get("Identity")), "EdgeServer:")
    if edge not in dep.pools or dep.pools[edge].spec.role != "edge":
        raise inv.error(f'Cannot find "EdgeServer:{edge}" in the topology.', "ObjectNotFound",
                        "EdgeNotFound")
    if inv.bound("Registrar"):
        registrar = pool_arg(dep, inv, strip_prefix(str(inv.get("Registrar")), "Registrar:"))
        cfg = dep.cms_config()
        assert cfg is not None
        hops = dict(cfg["topology"].get("edge_next_hop", {}))
        hops[edge] = registrar
        topology = dict(cfg["topology"], edge_next_hop=hops)
        dep.bump_config({"topology": topology})


CMDLETS = (
    LyncCmdlet("Export-CsConfiguration", (
        P("FileName", set="File", mandatory=True), P("AsBytes", "switch", set="Bytes",
                                                     mandatory=True),
        P("LocalStore", "switch"), P("Force", "switch"),
    ), export_configuration, duration=15.0),
    LyncCmdlet("Import-CsConfiguration", (
        P("FileName", set="File", mandatory=True),
        P("ByteInput", "object", set="Bytes", mandatory=True, pipeline="value"),
        P("LocalStore", "switch"), P("Force", "switch"),
    ), import_configuration, duration=60.0),
    LyncCmdlet("Export-CsLisConfiguration", (
        P("FileName", set="File", mandatory=True), P("AsBytes", "switch", set="Bytes",
                                                     mandatory=True),
    ), export_lis, duration=5.0),
    LyncCmdlet("Import-CsLisConfiguration", (
        P("FileName", set="File", mandatory=True),
        P("ByteInput", "object", set="Bytes", mandatory=True, pipeline="value"),
    ), import_lis, duration=10.0),
    LyncCmdlet("Publish-CsLisConfiguration", (P("Force", "switch"),), publish_lis,
               should_process=True, duration=5.0),
    LyncCmdlet("Set-CsConfigurationStoreLocation", (
        P("SqlServerFqdn", mandatory=True), P("SqlInstanceName"), P("MirrorSqlServerFqdn"),
        P("MirrorSqlInstanceName"), P("SkipLookup", "switch"),
        P("GlobalSettingsDomainController"), P("Report"), P("Force", "switch"),
    ), set_store_location, duration=5.0),
    LyncCmdlet("Get-CsConfigurationStoreLocation", (
        P("GlobalSettingsDomainController"), P("Report"),
    ), get_store_location),
    LyncCmdlet("Enable-CsTopology", (
        P("Force", "switch"), P("Report"), P("SkipPrepareCheck", "bool"), P("GlobalCatalog"),
        P("GlobalSettingsDomainController"),
    ), enable_topology, duration=30.0),
    LyncCmdlet("Publish-CsTopology", (
        P("FileName", set="File", mandatory=True), P("Document", "object", set="Document",
                                                     mandatory=True),
        P("FinalizeUninstall", "switch", set="Finalize", mandatory=True), P("BackupFileName"),
    ), publish_topology, duration=30.0),
    LyncCmdlet("Get-CsTopology", (P("AsXml", "switch"),), get_topology),
    LyncCmdlet("Invoke-CsManagementStoreReplication", (P("ReplicaFqdn"), P("Force", "switch")),
               invoke_replication, duration=150.0),
    LyncCmdlet("Get-CsManagementStoreReplicationStatus", (
        P("ReplicaFqdn"), P("CentralManagementStoreStatus", "switch"),
    ), replication_status),
    LyncCmdlet("Invoke-CsManagementServerFailover", (
        P("BackupSqlServerFqdn", set="Disaster", mandatory=True),
        P("BackupSqlInstanceName", set="Disaster"), P("BackupMirrorSqlServerFqdn", set="Disaster"),
        P("BackupMirrorSqlInstanceName", set="Disaster"),
        P("Force", "switch", set="Disaster", mandatory=True),
        P("Restore", "switch", set="Normal"), P("Report"),
    ), cms_failover, duration=120.0, should_process=True, default_set="Normal"),
    LyncCmdlet("Set-CsEdgeServer", (
        P("Identity", mandatory=True, position=0), P("Registrar"),
    ), set_edge_server, duration=5.0),
)
