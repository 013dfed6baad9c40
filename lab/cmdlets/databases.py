"""Database cmdlets: Install-CsDatabase, Install/Uninstall-CsMirrorDatabase, Test-CsDatabase,
Invoke-CsDatabaseFailover, Get-CsDatabaseMirrorState (§6.2, §6.4-§6.6, §6.18, §7.2, §8).

They act on the same :class:`~lab.sqlstate.SqlInstanceState` objects the lab's SQL
servers serve. Rules from the doc: ``-Clean`` drops and recreates; an omitted
``-SqlInstanceName`` means the SQL *default* instance; ``-ConfiguredDatabases`` reads the
topology, so it needs a working CMS (a Back End cannot be rebuilt before the CMS, §11.2).
The ``-DatabaseType`` -> database mapping of §8 is inferred there and here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lab.cmdlets.base import LyncCmdlet, P, obj, pool_arg, require_cms
from lab.model import LabDeployment
from lab.powershell.binding import Invocation
from lab.sqlstate import (
    LYNC_SERVICES_GROUP,
    STORE_DATABASES,
    DatabaseState,
    SqlInstanceState,
    lync_files,
    store_of,
)

DATABASE_TYPES = ("Application", "Archiving", "CentralAdmin", "CentralMgmt", "Edge", "Lyss",
                  "Monitoring", "PersistentChat", "PersistentChatCompliance", "Provision",
                  "Registrar", "User")
#: §8 mapping (inferred there); rtcab goes with User (lab choice).
TYPE_STORES = {
    "user": ("BackendStore", "ABSStore"), "application": ("ApplicationStore",),
    "centralmgmt": ("CentralMgmtStore",), "archiving": ("ArchivingStore",),
    "monitoring": ("MonitoringStore",), "persistentchat": ("PersistentChatStore",),
    "persistentchatcompliance": ("PersistentChatComplianceStore",),
}
EXPECTED_VERSION = "10.13.2"  # schema version string (inferred)


def _instance(dep: LabDeployment, inv: Invocation, server: str, instance: str | None,
              ) -> SqlInstanceState:
    inst = dep.instance(server, instance)
    where = f"{server}\\{instance}" if instance else f"{server} (default instance)"
    if inst is None or not dep.sql_up(inst):
        raise inv.error(f"Cannot connect to SQL Server instance {where}. Verify the SQL "
                        "Server FQDN and instance name; an omitted -SqlInstanceName means the "
                        "default instance.", "ConnectionError", "SqlInstanceUnreachable",
                        target=where)
    return inst


def create_databases(dep: LabDeployment, inst: SqlInstanceState, stores: Iterable[str], clean: bool,
            inv: Invocation) -> list[str]:
    domain = (dep.plan.organisation.ad_domain or "fabrikam").split(".")[0].upper()
    group = f"{domain}\\{LYNC_SERVICES_GROUP}"
    made: list[str] = []
    for store in stores:
        for name in STORE_DATABASES[store]:
            existing = inst.database(name)
            if existing is not None and not clean:
                inv.write_verbose(f"Database {name} already exists on {inst.data_source}.")
                continue
            if existing is not None and existing.mirroring_role is not None and clean:
                raise inv.error(f"Database {name} on {inst.data_source} is mirrored. Remove "
                                "mirroring with Uninstall-CsMirrorDatabase first.",
                                "InvalidOperation", "DatabaseMirrored")
            db = DatabaseState(name=name, recovery_model="FULL" if name.lower() in (
                "rtcxds", "xds", "lis", "rgsconfig", "lcscdr", "qoemetrics", "lcslog", "mgc")
                else "SIMPLE", files=lync_files(inst.data_dir, store, inst.instance, name),
                content={"database": name, "empty": True}, users={group: group},
                role_members={"ServerRole": {group}})
            inst.add_database(db)
            made.append(name)
            inv.write_verbose(f"Created database {name} on {inst.data_source}.")
    return made


def topology_stores(dep: LabDeployment, inst: SqlInstanceState) -> list[str]:
    """The stores the topology places on ``inst`` (its primary role only)."""
    stores: list[str] = []
    for pool in dep.plan.topology.pools:
        if dep.pools[pool.fqdn.lower()].spec.role == "front_end" and dep.pool_sql(pool.fqdn) is inst:
            stores += ["BackendStore", "ABSStore", "ApplicationStore"]
            cms = dep.pool_sql(dep.cms_pool)
            if cms is inst:
                stores.append("CentralMgmtStore")
            cms_spec = dep.pool(dep.plan.topology.central_management.pool).spec
            if cms_spec.paired_with and cms_spec.paired_with.lower() == pool.fqdn.lower():
                stores.append("CentralMgmtStore")
        for sql_id, names in ((pool.monitoring_store, ["MonitoringStore"]),
                              (pool.archiving_store, ["ArchivingStore"]),
                              (pool.persistent_chat_store, ["PersistentChatStore",
                                                            "PersistentChatComplianceStore"])):
            if sql_id and dep.instance_by_id(sql_id) is inst:
                stores += names
    return list(dict.fromkeys(stores))


def install_database(dep: LabDeployment, host: str, inv: Invocation) -> None:
    clean = bool(inv.get("Clean"))
    if clean and inv.get("Update"):
        raise inv.error("The -Clean and -Update parameters cannot be used together.",
                        "InvalidArgument", "CleanAndUpdate")
    server = inv.get("SqlServerFqdn")
    instance = inv.get("SqlInstanceName")
    if inv.get("CentralManagementDatabase"):
        if server is None:
            raise inv.error("Cannot process command because of one or more missing mandatory "
                            "parameters: SqlServerFqdn.", "InvalidArgument",
                            "MissingMandatoryParameter")
        inst = _instance(dep, inv, dep.paths.fqdn(str(server)),
                         str(instance).lower() if instance else None)
        create_databases(dep, inst, ["CentralMgmtStore"], clean, inv)
        dep.log(host, f"Install-CsDatabase -CentralManagementDatabase on {inst.data_source}")
        return
    if inv.get("LocalDatabases"):
        srv = dep.server(host)
        if srv.kind != "lync":
            raise inv.error("Local databases can only be installed on a Lync Server computer.",
                            "InvalidOperation", "NotLyncServer")
        inv.write_verbose(f"Local databases installed on {srv.fqdn}.")
        return
    if server is None:
        raise inv.error("Cannot process command because of one or more missing mandatory "
                        "parameters: SqlServerFqdn.", "InvalidArgument", "MissingMandatoryParameter")
    require_cms(dep, inv)  # the topology says which databases go where
    fqdn = dep.paths.fqdn(str(server))
    if inv.get("ConfiguredDatabases"):
        targets = [i for i in dep.instances_on(fqdn)
                   if not inv.get("ForInstance") or (i.instance or "") == str(inv.get("ForInstance")).lower()]
        if inv.get("ForDefaultInstance"):
            targets = [i for i in targets if i.instance is None]
        if not targets:
            raise inv.error(f"The topology defines no SQL Server store on {fqdn}.",
                            "ObjectNotFound", "NoConfiguredStore")
        for inst in targets:
            if not dep.sql_up(inst):
                _instance(dep, inv, inst.server, inst.instance)
            stores = topology_stores(dep, inst)
            create_databases(dep, inst, stores, clean, inv)
        dep.log(host, f"Install-CsDatabase -ConfiguredDatabases on {fqdn}")
        return
    db_type = str(inv.get("DatabaseType") or "").lower()
    inst = _instance(dep, inv, fqdn, str(instance).lower() if instance else None)
    create_databases(dep, inst, TYPE_STORES.get(db_type, ()), clean, inv)


def _types(inv: Invocation) -> list[str]:
    value = inv.get("DatabaseType")
    if value is None or inv.get("ConfiguredDatabases"):
        return list(TYPE_STORES)
    return [str(value).lower()]


def _db_names(types: list[str]) -> list[str]:
    return [n for t in types for s in TYPE_STORES.get(t, ()) for n in STORE_DATABASES[s]]


def install_mirror(dep: LabDeployment, host: str, inv: Invocation) -> None:
    require_cms(dep, inv)
    primary = _instance(dep, inv, dep.paths.fqdn(str(inv.get("SqlServerFqdn"))),
                        _pool_instance_name(dep, str(inv.get("SqlServerFqdn"))))
    pool = _pool_of_instance(dep, primary)
    if pool is None:
        raise inv.error(f"{primary.data_source} is not the SQL store of a pool in the topology.",
                        "ObjectNotFound", "NotPoolStore")
    mirror = dep.mirror_sql(pool)
    if mirror is None:
        raise inv.error(f"The topology defines no mirror for the SQL store of {pool}.",
                        "InvalidOperation", "NoMirrorDefined")
    _instance(dep, inv, mirror.server, mirror.instance)
    excluded = {n.lower() for n in (inv.get("ExcludeDatabaseList") or [])}
    for name in _db_names(_types(inv)):
        src = primary.database(name)
        if src is None or name.lower() in excluded:
            continue
        if mirror.database(name) is not None and not inv.get("DropExistingDatabasesOnMirror"):
            raise inv.error(f"Database {name} already exists on the mirror {mirror.data_source}. "
                            "Use -DropExistingDatabasesOnMirror.", "ResourceExists",
                            "MirrorDatabaseExists")
        copy_db = src.snapshot()
        copy_db.state = "RESTORING"
        copy_db.mirroring_role = "MIRROR"
        mirror.add_database(copy_db)
        src.mirroring_role = "PRINCIPAL"
        src.recovery_model = "FULL"
        inv.write_verbose(f"Mirroring of {name} established: {primary.data_source} -> "
                          f"{mirror.data_source}.")


def uninstall_mirror(dep: LabDeployment, host: str, inv: Invocation) -> None:
    require_cms(dep, inv)
    instance = inv.get("SqlInstanceName")
    inst = _instance(dep, inv, dep.paths.fqdn(str(inv.get("SqlServerFqdn"))),
                     str(instance).lower() if instance else None)
    pool = _pool_of_instance(dep, inst)
    for name in _db_names(_types(inv)):
        db = inst.database(name)
        if db is None:
            continue
        if db.mirroring_role == "MIRROR" and db.state == "RESTORING":
            raise inv.error(f"Database {name} on {inst.data_source} is the mirror, not the "
                            "principal. Fail over first.", "InvalidOperation", "NotPrincipal")
        db.mirroring_role = None
        if inv.get("DropExistingDatabasesOnMirror"):
            other = dep.mirror_sql(pool) if pool else None
            if other is not None and other is not inst and dep.sql_up(other):
                other.drop_database(name)
    # The pool's SQL Server store is Topology Builder's to change (§6.5 steps 3-4, the hands'
    # clear_mirroring), not this cmdlet's: skipping those steps leaves the topology pointing at
    # the dead server, and the §7 checks see it.
    if pool is not None:
        if pool == dep.cms_pool and "centralmgmt" in _types(inv) and inst.database("xds"):
            from lab.model import CmsPointer

            dep.scp = CmsPointer(inst.server, inst.instance)  # the CMS now lives there alone
    dep.log(host, f"mirroring removed on {inst.data_source}")


def _pool_instance_name(dep: LabDeployment, server: str) -> str | None:
    insts = dep.instances_on(server)
    return insts[0].instance if len(insts) == 1 else None


def _pool_of_instance(dep: LabDeployment, inst: SqlInstanceState) -> str | None:
    for pool in dep.plan.front_end_pools():
        if dep.pool_sql(pool.fqdn) is inst or dep.mirror_sql(pool.fqdn) is inst:
            return pool.fqdn.lower()
    return None


def _test_row(dep: LabDeployment, inst: SqlInstanceState, name: str) -> Any:
    db = inst.database(name) if dep.sql_up(inst) else None
    ok = db is not None and db.state == "ONLINE" and not db.content.get("damaged")
    mirror = None
    pool = _pool_of_instance(dep, inst)
    if pool is not None:
        mirror = dep.mirror_sql(pool)
    return obj("Microsoft.Rtc.Management.Deployment.DatabaseInfo",
               SqlServerFqdn=inst.server, SqlInstanceName=inst.instance,
               MirrorSqlServerFqdn=mirror.server if mirror else None,
               MirrorSqlInstanceName=mirror.instance if mirror else None,
               DatabaseName=name, DataSource=inst.data_source,
               SQLServerVersion="11.0.5058" if inst.version == "2012" else "10.50.6000",
               ExpectedVersion=EXPECTED_VERSION,
               InstalledVersion=EXPECTED_VERSION if db is not None else None, Succeed=ok)


def test_database(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
    rows: list[Any] = []
    if inv.get("LocalService"):
        srv = dep.server(host)
        ok = srv.kind == "lync" and srv.lync_installed
        for name in ("rtc", "lyss", "xds"):
            rows.append(obj("Microsoft.Rtc.Management.Deployment.DatabaseInfo",
                            SqlServerFqdn=srv.fqdn, SqlInstanceName="rtclocal",
                            MirrorSqlServerFqdn=None, MirrorSqlInstanceName=None,
                            DatabaseName=name, DataSource=f"{srv.fqdn}\\rtclocal",
                            SQLServerVersion="11.0.5058", ExpectedVersion=EXPECTED_VERSION,
                            InstalledVersion=EXPECTED_VERSION if ok else None, Succeed=ok))
    elif inv.get("CentralManagementDatabase"):
        server = inv.get("SqlServerFqdn")
        if server is not None:
            instance = inv.get("SqlInstanceName")
            inst = dep.instance(str(server), str(instance).lower() if instance else None)
        else:
            inst = dep.cms_instance()
        if inst is None:
            raise inv.error("Cannot find the Central Management store.", "ObjectNotFound",
                            "CmsNotFound")
        rows = [_test_row(dep, inst, n) for n in ("xds", "lis")]
    else:
        require_cms(dep, inv)
        server = dep.paths.fqdn(str(inv.get("SqlServerFqdn")))
        instance = inv.get("SqlInstanceName")
        insts = [i for i in dep.instances_on(server)
                 if instance is None or (i.instance or "") == str(instance).lower()]
        if not insts:
            raise inv.error(f"The topology defines no SQL Server store on {server}.",
                            "ObjectNotFound", "NoConfiguredStore")
        for inst in insts:
            stores = topology_stores(dep, inst)
            if inv.get("DatabaseType"):
                wanted = set(TYPE_STORES.get(str(inv.get("DatabaseType")).lower(), ()))
                stores = [s for s in stores if s in wanted]
            rows += [_test_row(dep, inst, n) for s in stores for n in STORE_DATABASES[s]]
    failed = sum(1 for r in rows if not r.get("Succeed"))
    if failed:
        report = inv.get("Report") or "C:\\Users\\Administrator\\AppData\\Local\\Temp\\Test-CsDatabase.html"
        inv.write_warning("Test-CsDatabase encountered errors. Consult the log file for a "
                          f"detailed analysis, and to ensure that all errors ({failed}) and "
                          "warnings (0) are addressed before continuing.")
        inv.write_warning(f'Detailed results can be found at "{report}".')
    return rows


def database_failover(dep: LabDeployment, host: str, inv: Invocation) -> None:
    pool = pool_arg(dep, inv, str(inv.get("PoolFqdn")))
    spec = dep.pool(pool).spec
    if not spec.back_end or not dep.plan.sql(spec.back_end).mirror:
        raise inv.error(f"The pool {pool} does not have both a primary and a mirror SQL store "
                        "configured.", "InvalidOperation", "MirrorNotConfigured")
    primary = dep.instance_by_id(spec.back_end)
    mirror = dep.instance_by_id(dep.plan.sql(spec.back_end).mirror or "")
    assert primary is not None and mirror is not None
    new, old = (mirror, primary) if str(inv.get("NewPrincipal")).lower() == "mirror" \
        else (primary, mirror)
    if not dep.sql_up(new):
        raise inv.error(f"The new principal {new.data_source} cannot be reached.",
                        "ConnectionError", "NewPrincipalUnreachable")
    if not dep.sql_up(old) and not inv.get("Force"):
        raise inv.error(f"The current principal {old.data_source} cannot be reached. Use -Force "
                        "to fail over without it.", "ConnectionError", "PrincipalUnreachable")
    excluded = {n.lower() for n in (inv.get("ExcludeDatabaseList") or [])}
    for name in _db_names([str(inv.get("DatabaseType")).lower()]):
        if name.lower() in excluded:
            continue
        db_new = new.database(name)
        if db_new is None:
            continue
        db_new.state = "ONLINE"
        db_new.mirroring_role = "PRINCIPAL"
        db_old = old.database(name) if dep.sql_up(old) else None
        if db_old is not None:
            db_old.state = "RESTORING"
            db_old.mirroring_role = "MIRROR"
    from lab.cmdlets.services import settle_pool

    settle_pool(dep, pool)
    dep.log(host, f"{inv.get('DatabaseType')} databases of {pool} failed over to "
                  f"{new.data_source}")


def mirror_state(dep: LabDeployment, host: str, inv: Invocation) -> Iterable[Any]:
    pool = pool_arg(dep, inv, str(inv.get("PoolFqdn")))
    spec = dep.pool(pool).spec
    primary = dep.instance_by_id(spec.back_end) if spec.back_end else dep.pool_sql(pool)
    mirror_id = dep.plan.sql(spec.back_end).mirror if spec.back_end else None
    mirror = dep.instance_by_id(mirror_id) if mirror_id else None
    out = []
    for name in _db_names(_types(inv)):
        p = primary.database(name) if primary is not None and dep.sql_up(primary) else None
        m = mirror.database(name) if mirror is not None and dep.sql_up(mirror) else None
        if p is None and m is None and primary is not None and dep.sql_up(primary):
            continue

        def role(db: DatabaseState | None) -> str:
            if db is None or db.mirroring_role is None:
                return "DatabaseInaccessibleOrMirroringNotEnabled"
            return db.mirroring_role.capitalize()

        def status(db: DatabaseState | None, other: DatabaseState | None) -> str:
            if db is None or db.mirroring_role is None:
                return "DatabaseInaccessibleOrMirroringNotEnabled"
            return "Synchronized" if other is not None and other.mirroring_role else "Disconnected"

        out.append(obj("Microsoft.Rtc.Management.Deployment.DatabaseMirrorState",
                       DatabaseName=name, StateOnPrimary=role(p), StateOnMirror=role(m),
                       MirroringStatusOnPrimary=status(p, m),
                       MirroringStatusOnSecondary=status(m, p)))
    return out


_DBTYPE = P("DatabaseType", choices=DATABASE_TYPES)

CMDLETS = (
    LyncCmdlet("Install-CsDatabase", (
        P("CentralManagementDatabase", "switch", set="CentralManagement", mandatory=True),
        P("Backup", "switch", set="CentralManagement"),
        P("ConfiguredDatabases", "switch", set="Configured", mandatory=True),
        P("ExcludeCollocatedStores", "switch", set="Configured"),
        P("DatabaseType", set="DatabaseType", mandatory=True, choices=DATABASE_TYPES),
        P("LocalDatabases", "switch", set="Local", mandatory=True),
        P("SqlServerFqdn"), P("SqlInstanceName"), P("Collocated", "switch"),
        P("ForInstance"), P("ForDefaultInstance", "switch"),
        P("Clean", "switch"), P("Update", "switch"), P("NoReindex", "switch"),
        P("DatabasePaths", "string[]"), P("DatabasePathMap", "object"),
        P("UseDefaultSqlPaths", "switch"), P("SkipPrepareCheck", "bool"), P("GlobalCatalog"),
        P("GlobalSettingsDomainController"), P("Report"), P("Force", "switch"),
    ), install_database, duration=90.0),
    LyncCmdlet("Install-CsMirrorDatabase", (
        P("ConfiguredDatabases", "switch", set="Configured", mandatory=True),
        P("DatabaseType", set="DatabaseType", mandatory=True, choices=DATABASE_TYPES),
        P("SqlServerFqdn", mandatory=True), P("FileShare", mandatory=True),
        P("DropExistingDatabasesOnMirror", "switch"), P("ExcludeDatabaseList", "string[]"),
    ), install_mirror, duration=120.0),
    LyncCmdlet("Uninstall-CsMirrorDatabase", (
        _DBTYPE, P("SqlServerFqdn", mandatory=True), P("SqlInstanceName"),
        P("DropExistingDatabasesOnMirror", "switch"), P("Report"),
    ), uninstall_mirror, duration=30.0),
    LyncCmdlet("Test-CsDatabase", (
        P("CentralManagementDatabase", "switch", set="CentralManagement", mandatory=True),
        P("ConfiguredDatabases", "switch", set="Configured", mandatory=True),
        P("DatabaseType", set="DatabaseType", mandatory=True, choices=DATABASE_TYPES),
        P("LocalService", "switch", set="Local", mandatory=True),
        P("SqlServerFqdn"), P("SqlInstanceName"), P("Report"),
    ), test_database, duration=5.0),
    LyncCmdlet("Invoke-CsDatabaseFailover", (
        P("PoolFqdn", mandatory=True), P("DatabaseType", mandatory=True,
                                          choices=(*DATABASE_TYPES, "Cls")),
        P("NewPrincipal", mandatory=True, choices=("Primary", "Mirror")),
        P("ExcludeDatabaseList", "string[]"), P("Force", "switch"), P("LocalStore", "switch"),
    ), database_failover, duration=60.0),
    LyncCmdlet("Get-CsDatabaseMirrorState", (
        P("PoolFqdn", mandatory=True), _DBTYPE, P("LocalStore", "switch"),
    ), mirror_state),
)

__all__ = ["CMDLETS", "TYPE_STORES", "store_of"]
