"""Data cmdlets: user data, Response Group, Persistent Chat (§6.11-§6.13, §6.20, §8).

Import-CsUserData refuses to run while the Front-End service runs on a Front End Server of the
target pool (the doc's "stop services before, start after", §11.5; that every FE must be
stopped is the doc's (unverified) reading, which the lab enforces). Import-CsRgsConfiguration
into a freshly created database needs ``-OverwriteOwner`` because the contact objects are still
in AD (§6.12).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from lab.backupset import (
    BackupFormatError,
    pchat_zip,
    read_pchat_zip,
    read_rgs_zip,
    read_user_data_zip,
    rgs_zip,
    user_data_zip,
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
from lab.model import LabDeployment
from lab.powershell.binding import Invocation
from lab.sqlstate import DatabaseState, SqlInstanceState


def _user_db(dep: LabDeployment, inv: Invocation) -> tuple[str, SqlInstanceState, DatabaseState]:
    if inv.bound("PoolFqdn"):
        pool = pool_arg(dep, inv, str(inv.get("PoolFqdn")))
        inst = dep.principal_sql(pool)
    else:
        server = strip_prefix(str(inv.get("Identity")), "UserDatabase:")
        pool = next((p.fqdn.lower() for p in dep.plan.front_end_pools()
                     if (i := dep.pool_sql(p.fqdn)) is not None and i.server == server), "")
        if not pool:
            raise inv.error(f'Cannot find user database "{server}" in the topology.',
                            "ObjectNotFound", "UserDatabaseNotFound")
        inst = dep.principal_sql(pool)
    if inst is None:
        raise inv.error(f"Cannot connect to the user database of {pool}: the Back End is not "
                        "available.", "ResourceUnavailable", "BackEndUnavailable")
    db = inst.database("rtcxds")
    assert db is not None
    return pool, inst, db


def export_user_data(dep: LabDeployment, host: str, inv: Invocation) -> None:
    require_cms(dep, inv)
    pool, _inst, db = _user_db(dep, inv)
    data = dict(db.content.get("user_data") or {"pool": pool, "users": 0})
    write_file(dep, host, inv, str(inv.get("FileName")), user_data_zip(data))


def _load_user_zip(dep: LabDeployment, host: str, inv: Invocation) -> dict[str, Any]:
    raw = read_file(dep, host, inv, str(inv.get("FileName")))
    try:
        return read_user_data_zip(raw)
    except BackupFormatError as exc:
        raise inv.error(f"{inv.name} failed: {exc}", "InvalidData", "InvalidUserDataFile") \
            from None


def import_user_data(dep: LabDeployment, host: str, inv: Invocation) -> None:
    require_cms(dep, inv)
    pool, _inst, db = _user_db(dep, inv)
    running = [s.fqdn for s in dep.lync_servers(pool)
               if s.reachable and s.service("RTCSRV") is not None
               and s.services["RTCSRV"].status in ("Running", "StartPending")]
    if running and not inv.get("UserFilter"):
        raise inv.error(
            f"Import-CsUserData cannot import into {pool} while the Front-End service (RTCSRV) "
            f"is running on {running[0]}. Stop the Lync services with Stop-CsWindowsService "
            "first, then start them again after the import.", "InvalidOperation",
            "FrontEndRunning")
    data = _load_user_zip(dep, host, inv)
    if inv.get("UserFilter"):
        current = db.content.setdefault("user_data", {})
        current.setdefault("restored_users", []).append(str(inv.get("UserFilter")))
        return
    db.content["user_data"] = copy.deepcopy(data)
    db.content.pop("empty", None)
    dep.log(host, f"user data of {pool} imported from backup set {data.get('backup_set')}")


def update_user_data(dep: LabDeployment, host: str, inv: Invocation) -> None:
    require_cms(dep, inv)
    data = _load_user_zip(dep, host, inv)
    if not inv.should_process(str(inv.get("FileName")), "Update-CsUserData"):
        return
    pool = str(data.get("pool") or "")
    inst = dep.principal_sql(pool) if pool in dep.pools else None
    db = inst.database("rtcxds") if inst is not None else None
    if db is None:
        raise inv.error(f"Cannot connect to the user database of {pool}.", "ResourceUnavailable",
                        "BackEndUnavailable")
    current = db.content.setdefault("user_data", {})
    current.setdefault("updated_users", []).append(str(inv.get("UserFilter") or "*"))


def _rgs_db(dep: LabDeployment, inv: Invocation, identity: str) -> tuple[str, DatabaseState]:
    pool = strip_prefix(identity, "service:", "ApplicationServer:")
    pool = pool_arg(dep, inv, pool)
    inst = dep.principal_sql(pool)
    db = inst.database("rgsconfig") if inst is not None else None
    if db is None or db.state != "ONLINE":
        raise inv.error(f"Cannot connect to the Response Group database of {pool}.",
                        "ResourceUnavailable", "RgsDatabaseUnavailable")
    return pool, db


def export_rgs(dep: LabDeployment, host: str, inv: Invocation) -> None:
    """``-Owner`` exports only the groups that pool owns (§6.17 step 4: the home pool's groups,
    imported into the backup pool during a failover, taken home); ``-RemoveExportedConfiguration``
    removes what was exported, nothing else."""
    require_cms(dep, inv)
    pool, db = _rgs_db(dep, inv, str(inv.get("Source")))
    current = dict(db.content.get("rgs") or {"workflows": []})
    owner = strip_prefix(str(inv.get("Owner") or ""), "service:", "ApplicationServer:").lower() or None
    owners = _rgs_owners(current, pool)
    flows = sorted(owners.get(owner, [])) if owner else sorted(current.get("workflows", []))
    rgs = {"pool": pool, "owner": owner or pool, "workflows": flows}
    write_file(dep, host, inv, str(inv.get("FileName")), rgs_zip(rgs), overwrite=False)
    if inv.get("RemoveExportedConfiguration"):
        kept = [w for w in current.get("workflows", []) if w not in flows]
        left = {k: [w for w in v if w not in flows] for k, v in owners.items()}
        db.content["rgs"] = {**current, "workflows": kept, "owners": {k: v for k, v in left.items() if v}}


def import_rgs(dep: LabDeployment, host: str, inv: Invocation) -> None:
    """Ownership as T13 and §6.12 describe it: without ``-OverwriteOwner`` the imported groups keep
    their owner (the pool they were exported from); the paired backup pool may hold them that way
    during a failover (§6.16 step 5). Any other pool, or a newly deployed one with the same FQDN,
    fails while the owner's contact objects exist in AD, unless ``-OverwriteOwner`` makes the
    destination their owner."""
    require_cms(dep, inv)
    pool, db = _rgs_db(dep, inv, str(inv.get("Destination")))
    raw = read_file(dep, host, inv, str(inv.get("FileName")))
    try:
        rgs = read_rgs_zip(raw)
    except BackupFormatError as exc:
        raise inv.error(f"Import-CsRgsConfiguration failed: {exc}", "InvalidData",
                        "InvalidRgsFile") from None
    owner = str(rgs.get("owner") or pool).lower()
    current = db.content.get("rgs") or {}
    fresh = not current.get("workflows")
    overwrite = bool(inv.get("OverwriteOwner"))
    spec = dep.pools[owner].spec if owner in dep.pools else None
    backup_of_owner = owner != pool and spec is not None and (spec.paired_with or "").lower() == pool
    if not overwrite and owner in dep.rgs_contacts and not backup_of_owner and (fresh or owner != pool):
        raise inv.error(
            f"The Response Group contact objects of {owner} already exist in Active Directory "
            f"and belong to another service. Use -OverwriteOwner to import them into {pool}.",
            "ResourceExists", "ContactObjectsExist")
    names = set(current.get("workflows", []))
    incoming = list(rgs.get("workflows", []))
    clash = [w for w in incoming if w in names]
    if clash and owner != pool and not inv.get("ResolveNameConflicts"):
        raise inv.error(f'A workflow named "{clash[0]}" already exists in {pool}. Rename it or '
                        "use -ResolveNameConflicts.", "ResourceExists", "NameConflict")
    new_owner = pool if overwrite else owner
    owners = _rgs_owners(current, pool) if not fresh else {}
    owners[new_owner] = sorted(set(owners.get(new_owner, [])) | set(incoming))
    db.content["rgs"] = {"pool": pool, "workflows": sorted(names | set(incoming)), "owners": owners}
    dep.rgs_contacts.add(new_owner)
    dep.log(host, f"Response Group configuration of {owner} imported into {pool}, owned by {new_owner}")


def _rgs_owners(rgs: dict[str, Any], pool: str) -> dict[str, list[str]]:
    """Workflows per owner pool; the pool's own are those no imported owner brought."""
    owners = {str(k): list(v) for k, v in (rgs.get("owners") or {}).items()}
    imported = {w for k, flows in owners.items() if k != pool for w in flows}
    own = [w for w in rgs.get("workflows", []) if w not in imported]
    if own:
        owners[pool] = sorted(set(owners.get(pool, [])) | set(own))
    return owners


def _rgs_listed(inv: Invocation, owner: str, pool: str) -> bool:
    """What ``Get-CsRgs* -Identity service:ApplicationServer:<pool>`` lists (§6.12): the pool's own
    groups; with ``-Owner`` only that owner's; with ``-ShowAll`` every group the pool holds."""
    if inv.get("ShowAll"):
        return True
    wanted = strip_prefix(str(inv.get("Owner") or ""), "service:", "ApplicationServer:").lower()
    return owner == wanted if wanted else owner == pool


def get_rgs_workflow(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
    pool, db = _rgs_db(dep, inv, str(inv.get("Identity")))
    rgs = db.content.get("rgs") or {}
    out = []
    for owner, flows in _rgs_owners(rgs, pool).items():
        if not _rgs_listed(inv, owner, pool):
            continue
        for flow in flows:
            out.append(obj("Microsoft.Rtc.Rgs.Management.WritableSettings.Workflow",
                           Identity=f"service:ApplicationServer:{pool}/{flow}", Name=flow,
                           OwnerPool=owner, Active=True))
    return out


#: Get-CsRgs* verbs beside Get-CsRgsWorkflow (§6.12): (cmdlet, object type, name suffixes)
_RGS_ITEMS = (
    ("Get-CsRgsQueue", "Queue", ("helpdesk-q",)),
    ("Get-CsRgsAgentGroup", "AgentGroup", ("agents",)),
    ("Get-CsRgsHoursOfBusiness", "HoursOfBusiness", ("business-hours",)),
    ("Get-CsRgsHolidaySet", "HolidaySet", ("holidays",)),
)


def _rgs_item_getter(kind: str, suffixes: tuple[str, ...]) -> Any:
    """Items of one owner exist when its workflows do; named after the owner pool."""

    def run(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
        pool, db = _rgs_db(dep, inv, str(inv.get("Identity")))
        rgs = db.content.get("rgs") or {}
        out = []
        for owner, flows in _rgs_owners(rgs, pool).items():
            if not flows or not _rgs_listed(inv, owner, pool):
                continue
            short = str(owner).split(".", 1)[0]
            for suffix in suffixes:
                name = f"{short}-{suffix}"
                out.append(obj(f"Microsoft.Rtc.Rgs.Management.WritableSettings.{kind}",
                               Identity=f"service:ApplicationServer:{pool}/{name}", Name=name,
                               OwnerPool=owner))
        return out

    return run


def _pchat_db(dep: LabDeployment, inv: Invocation) -> DatabaseState:
    text = str(inv.get("DBInstance"))
    server, _, instance = text.partition("\\")
    inst = dep.instance(server, instance.lower() or None)
    db = inst.database("mgc") if inst is not None and dep.sql_up(inst) else None
    if db is None or db.state != "ONLINE":
        raise inv.error(f"Cannot open the Persistent Chat database mgc on {text}.",
                        "ResourceUnavailable", "PersistentChatDatabaseUnavailable")
    return db


def export_pchat(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any] | None:
    db = _pchat_db(dep, inv)
    data = pchat_zip(dict(db.content))
    if inv.get("AsBytes"):
        return [data]
    write_file(dep, host, inv, str(inv.get("FileName")), data)
    return None


def import_pchat(dep: LabDeployment, host: str, inv: Invocation) -> None:
    db = _pchat_db(dep, inv)
    raw = read_file(dep, host, inv, str(inv.get("FileName")))
    try:
        content = read_pchat_zip(raw)
    except BackupFormatError as exc:
        raise inv.error(f"Import-CsPersistentChatData failed: {exc}", "InvalidData",
                        "InvalidPersistentChatFile") from None
    db.content = dict(content)


def set_pchat_state(dep: LabDeployment, host: str, inv: Invocation) -> None:
    require_cms(dep, inv)
    pool = pool_arg(dep, inv, strip_prefix(str(inv.get("Identity")), "service:",
                                          "PersistentChatServer:"))
    dep.pool(pool).pchat_state = "FailedOver" if str(inv.get("PoolState")).lower() == \
        "failedover" else "Normal"


CMDLETS = (
    LyncCmdlet("Export-CsUserData", (
        P("PoolFqdn", set="Pool", mandatory=True), P("Identity", set="Identity", mandatory=True),
        P("FileName", mandatory=True), P("UserFilter"), P("ConfDirectoryFilter"),
        P("LegacyFormat", "switch"), P("DomainController"), P("Force", "switch"),
    ), export_user_data, duration=60.0),
    LyncCmdlet("Import-CsUserData", (
        P("PoolFqdn", set="Pool", mandatory=True), P("Identity", set="Identity", mandatory=True),
        P("FileName", mandatory=True), P("UserFilter"), P("RoutingGroupFilter"),
        P("ConfDirectoryFilter"), P("LegacyFormat", "switch"), P("DomainController"),
        P("Force", "switch"),
    ), import_user_data, duration=120.0),
    LyncCmdlet("Update-CsUserData", (
        P("FileName", mandatory=True), P("UserFilter"), P("RoutingGroupFilter"),
        P("DomainController"),
    ), update_user_data, duration=30.0, should_process=True),
    LyncCmdlet("Export-CsRgsConfiguration", (
        P("Source", mandatory=True, position=0), P("FileName", mandatory=True), P("Owner"),
        P("RemoveExportedConfiguration", "switch"), P("Force", "switch"),
    ), export_rgs, duration=20.0),
    LyncCmdlet("Import-CsRgsConfiguration", (
        P("Destination", mandatory=True, position=0), P("FileName", mandatory=True),
        P("OverwriteOwner", "switch"), P("ReplaceExistingRgsSettings", "switch"),
        P("ResolveNameConflicts", "switch"), P("Force", "switch"),
    ), import_rgs, duration=30.0),
    LyncCmdlet("Get-CsRgsWorkflow", (
        P("Identity", position=0, mandatory=True), P("Owner"), P("ShowAll", "switch"),
    ), get_rgs_workflow),
    *(LyncCmdlet(name, (P("Identity", position=0, mandatory=True), P("Owner"),
                        P("ShowAll", "switch")), _rgs_item_getter(kind, suffixes))
      for name, kind, suffixes in _RGS_ITEMS),
    LyncCmdlet("Export-CsPersistentChatData", (
        P("DBInstance", mandatory=True), P("FileName", set="File", mandatory=True),
        P("AsBytes", "switch", set="Bytes", mandatory=True),
        P("Level", choices=("All", "User", "Category", "RoomDirectory", "Content")),
        P("Scope"), P("StartDate", "object"), P("DisableExportedNodes", "switch"),
    ), export_pchat, duration=60.0),
    LyncCmdlet("Import-CsPersistentChatData", (
        P("DBInstance", mandatory=True), P("FileName", set="File", mandatory=True),
        P("ByteInput", "object", set="Bytes", mandatory=True), P("Report"),
    ), import_pchat, duration=90.0),
    LyncCmdlet("Set-CsPersistentChatState", (
        P("Identity", mandatory=True, position=0),
        P("PoolState", mandatory=True, choices=("FailedOver", "Normal")),
    ), set_pchat_state, duration=10.0),
)
