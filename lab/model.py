"""The state of a simulated Lync Server 2013 deployment, built from any restore plan.

Everything the lab's cmdlets read or change lives here: per server, whether it answers and its
Windows services as ``Get-CsWindowsService`` reports them; its local CMS replica; per SQL
instance a :class:`~lab.sqlstate.SqlInstanceState` holding the §9 databases (the same
objects the lab's SQL servers serve, so a RESTORE through TDS and an Import-CsUserData through
WinRM see one world); where Active Directory's service control point says the CMS lives; the
fabric of each Front End pool (routing groups and quorum, §5.4); pool pairing and the Backup
Service per direction (§7.2); the file stores and the backup location as real folders.

The CMS content itself is kept *in the databases*: ``xds.content`` holds the configuration
(a version, the topology, policies), ``lis.content`` the E9-1-1 data, ``rtcxds.content`` a
pool's user data and ``rgsconfig.content`` its Response Group configuration. Dropping or
restoring a database therefore loses or brings back exactly what Lync would.

One re-entrant lock (:attr:`LabDeployment.lock`) guards every mutation: the WinRM and TDS
threads both change this state. Domain references (§n) point at
``shared/domain/lync2013-backup-restore.md``.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from lab.directory import Directory
from lab.paths import LabPaths
from lab.sqlstate import DatabaseState, SqlInstanceState, store_of
from lab.topologydoc import topology_of_plan
from wizard.plan.model import Plan, Pool

ServiceStatus = Literal["Running", "Stopped", "StartPending", "StopPending"]
ModuleState = Literal["FinalState", "SteadyState", "NonSteadyState", "ErrorState",
                      "NotInitialized", "NormalState"]

#: Backup Service modules (§7.2).
BACKUP_MODULES = ("UserServices.PresenceFocus", "ConfServices.DataConf", "CentralMgmt.CMSMaster")

#: Pool-level quorum loss: FEs that must be running, by pool size (§5.4). For 8-12 the doc
#: adds "of the first 7/9"; the lab counts any running FE (simplification).
RUNNING_QUORUM = {1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3, 7: 4, 8: 4, 9: 4, 10: 5, 11: 5, 12: 5}
#: FEs that must be up to start a pool for the first time (§5.4).
START_QUORUM = {1: 1, 2: 1, 3: 3, 4: 3, 5: 4, 6: 5, 7: 5, 8: 6, 9: 7, 10: 8, 11: 9, 12: 10}

#: The fixed "now" of a freshly built lab (backup sets are dated before it).
LAB_EPOCH = dt.datetime(2026, 11, 24, 9, 0, 0)


class Clock(Protocol):
    """Simulated time (``lab.clock.LabClock`` satisfies it)."""

    def sleep(self, sim_seconds: float, cancelled: threading.Event | None = None) -> bool:
        """Let ``sim_seconds`` of simulated time pass; False when cancelled."""
        ...


class InstantClock:
    """A clock that never waits (unit tests)."""

    def sleep(self, sim_seconds: float, cancelled: threading.Event | None = None) -> bool:
        return not (cancelled is not None and cancelled.is_set())


class LabStateError(Exception):
    """The deployment has no such server, pool or instance (a lab or plan mismatch)."""


# --------------------------------------------------------------------------------- services

#: (name, display name) per role. The §8 names are documented; the others are marked.
_FE_SERVICES = (
    ("FabricHostSvc", "Windows Fabric Host Service"),
    ("RTCSRV", "Lync Server Front-End"),
    ("RTCASMCU", "Lync Server Application Sharing"),
    ("RTCCAA", "Lync Server Conferencing Attendant"),
    ("RTCCPS", "Lync Server Call Park"),
    ("W3SVC", "World Wide Web Publishing Service"),
    ("REPLICA", "Lync Server Replica Replicator Agent"),  # name inferred
    ("RTCCLSAGT", "Lync Server Centralized Logging Service Agent"),  # name inferred
)
_RGS_SERVICE = ("RTCRGS", "Lync Server Response Group")
_BACKUP_SERVICE = ("LYNCBACKUP", "Lync Server Backup Service")
_EDGE_SERVICES = (  # all names inferred: the docs name no Edge service
    ("RTCSRV", "Lync Server Access Edge"),
    ("RTCDATAPROXY", "Lync Server Web Conferencing Edge"),
    ("RTCMRAUTH", "Lync Server Audio/Video Authentication"),
    ("RTCMEDIARELAY", "Lync Server Audio/Video Edge"),
    ("REPLICA", "Lync Server Replica Replicator Agent"),
)
_PCHAT_SERVICES = (  # names inferred
    ("RTCCHAT", "Lync Server Persistent Chat"),
    ("REPLICA", "Lync Server Replica Replicator Agent"),
)
_OTHER_SERVICES = (  # director / mediation, names inferred except RTCSRV
    ("RTCSRV", "Lync Server Front-End"),
    ("REPLICA", "Lync Server Replica Replicator Agent"),
)


@dataclass
class WindowsService:
    """One row of Get-CsWindowsService."""

    name: str
    display_name: str
    status: ServiceStatus = "Running"


@dataclass
class LabServer:
    """A simulated Windows machine."""

    fqdn: str
    site: str
    kind: Literal["lync", "sql", "file", "backup"]
    pool: str | None = None
    role: str | None = None
    reachable: bool = True
    #: Deployment Wizard steps 1-2 done (local store + components installed).
    lync_installed: bool = False
    services: dict[str, WindowsService] = field(default_factory=dict)
    #: CMS configuration version held by the local replica (0 = no local replica).
    replica_version: int = 0
    #: the replica's agent has reported to the Master Replicator since its store was seeded (§1, T2); a
    #: store imported from a file (an Edge, §6.7 step 3) is unknown to the master until replication reaches it
    replica_reported: bool = True
    #: the deployment's change counter when the Front End service last started (LabDeployment.tick)
    started_at: int = 0
    last_update_creation: dt.datetime | None = None

    def service(self, name: str) -> WindowsService | None:
        return self.services.get(name.upper())

    @property
    def front_end_running(self) -> bool:
        svc = self.service("RTCSRV")
        return self.reachable and self.lync_installed and svc is not None and svc.status == "Running"


@dataclass
class RoutingGroup:
    """A user routing group: three replicas on different FEs, the first is primary (§1)."""

    id: str
    replicas: list[str]


@dataclass
class LabPool:
    """A pool's runtime state (its static description is the plan's :class:`Pool`)."""

    spec: Pool
    routing_groups: list[RoutingGroup] = field(default_factory=list)
    #: the pool now serving this pool's users after Invoke-CsPoolFailover (None = at home).
    failed_over_to: str | None = None
    #: Persistent Chat pool state (Set-CsPersistentChatState).
    pchat_state: Literal["Normal", "FailedOver"] = "Normal"
    #: Persistent Chat active servers (Set-CsPersistentChatActiveServer); None = all members.
    pchat_active: list[str] | None = None

    @property
    def fqdn(self) -> str:
        return self.spec.fqdn


@dataclass
class CmsPointer:
    """The AD service control point of the CMS store (Set-CsConfigurationStoreLocation)."""

    sql_server: str
    sql_instance: str | None
    mirror_server: str | None = None
    mirror_instance: str | None = None

    def __str__(self) -> str:
        return f"{self.sql_server}\\{self.sql_instance}" if self.sql_instance else self.sql_server


@dataclass
class LabEvent:
    """Something the lab did that a drill report may show (never holds a secret)."""

    at: dt.datetime
    host: str
    what: str


def _stores_by_instance(plan: Plan) -> dict[str, list[str]]:
    """The Lync stores each SQL instance of the plan holds (the CMS also on the paired pool's
    Back End: the standby CMS, §6.15)."""
    stores: dict[str, list[str]] = {s.id: [] for s in plan.topology.sql_instances}
    cms_pool = plan.cms_pool
    for pool in plan.topology.pools:
        if pool.back_end:
            stores[pool.back_end] += ["BackendStore", "ABSStore", "ApplicationStore"]
            if pool.fqdn.lower() == cms_pool.fqdn.lower():
                stores[pool.back_end].append("CentralMgmtStore")
            elif cms_pool.paired_with and cms_pool.paired_with.lower() == pool.fqdn.lower():
                stores[pool.back_end].append("CentralMgmtStore")  # standby CMS (§6.15)
        if pool.monitoring_store:
            stores[pool.monitoring_store].append("MonitoringStore")
        if pool.archiving_store:
            stores[pool.archiving_store].append("ArchivingStore")
        if pool.persistent_chat_store:
            stores[pool.persistent_chat_store] += ["PersistentChatStore", "PersistentChatComplianceStore"]
    return stores


class LabDeployment:
    """A whole simulated deployment. Build it with :meth:`from_plan`."""

    def __init__(self, plan: Plan, state_dir: Path, clock: Clock, now: dt.datetime | None = None) -> None:
        self.plan = plan
        self.state_dir = Path(state_dir)
        self.clock = clock
        self.lock = threading.RLock()
        self.servers: dict[str, LabServer] = {}
        self.pools: dict[str, LabPool] = {}
        #: SQL instances keyed by ``server\instance`` (lower case; default instance: server).
        self.instances: dict[str, SqlInstanceState] = {}
        #: plan SQL id -> instance key (SE instances get the id ``<se fqdn>``).
        self.sql_ids: dict[str, str] = {}
        self.scp: CmsPointer | None = None
        #: the pool whose servers run the CMS master (Invoke-CsManagementServerFailover moves it)
        self.cms_pool: str = plan.topology.central_management.pool.lower()
        #: (source pool, destination pool) -> module -> (export state, import state)
        self.backup_service: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}
        #: pool -> instance key of its SQL store after a mirror removal (Topology Builder change)
        self.store_override: dict[str, str] = {}
        #: pool -> instance key of its mirroring SQL store as Topology Builder last published it
        #: (None: mirroring cleared, §6.5 step 3); pools not listed use the plan's mirror
        self.mirror_override: dict[str, str | None] = {}
        #: pool -> the witness instance key Topology Builder set with the mirror (None: no witness);
        #: a pool absent here has the plan's witness (§6.5 step 8, §5.3 B).
        self.witness_override: dict[str, str | None] = {}
        #: a counter of changes, and per pool the change at which its mirroring last changed: every
        #: Front End must restart after that (T15, §6.6, §11.33)
        self.change_counter = 0
        self.mirroring_changed: dict[str, int] = {}
        #: file store id -> whether its ACLs are set (Enable-CsTopology / Topology Builder)
        self.file_store_acls: dict[str, bool] = {f.id: True for f in plan.topology.file_stores}
        #: pools whose Response Group contact objects exist in AD
        self.rgs_contacts: set[str] = {p.fqdn.lower() for p in plan.topology.pools
                                       if p.response_group}
        self.events: list[LabEvent] = []
        #: Set-CsBackupServiceConfiguration (the global Backup Service settings, §8)
        self.backup_service_config: dict[str, Any] = {
            "SyncInterval": dt.timedelta(minutes=2), "AuthorizedUniversalGroups": [],
            "AuthorizedLocalAccounts": []}
        #: ABC moves (§6.19): user SIP address / conference directory id / endpoint URI -> pool
        self.user_moves: dict[str, str] = {}
        self.conference_directory_moves: dict[str, str] = {}
        self.application_endpoint_moves: dict[str, str] = {}
        #: Edge servers whose components were last set up (Deployment Wizard 'Setup or Remove Lync Server
        #: Components') from a topology that publishes their pool for federation (§6.21)
        self.federation_setup: set[str] = set()
        #: every Lync cmdlet invocation: (host, command name, sorted parameter names)
        self.cmdlet_log: list[tuple[str, str, tuple[str, ...]]] = []
        #: the domain's accounts and groups, each host's local Administrators (§10; filled by _build)
        self.directory = Directory.build(plan.organisation.ad_domain or "fabrikam.lab", (), ())
        #: (host, server): SMB from host to server is dropped (a firewall between them): every share
        #: of server answers from host as a server that is not there ("The network path was not found")
        self.smb_blocked: set[tuple[str, str]] = set()
        #: timed faults (a scenario's ``connection_drops``): (host FQDN, cmdlet, case-folded) whose next
        #: run loses the WinRM connection to that host; each is taken when it strikes (once)
        self.connection_drops: list[tuple[str, str]] = []
        self.now = now or LAB_EPOCH
        self.paths = self._paths()

    def _paths(self) -> LabPaths:
        plan = self.plan
        all_hosts = [s for p in plan.topology.pools for s in p.servers]
        all_hosts += [s.server for s in plan.topology.sql_instances]
        all_hosts += [f.server for f in plan.topology.file_stores]
        all_hosts += [_unc_server(loc.unc) for loc in plan.backup.locations]
        paths = LabPaths(self.state_dir, all_hosts)
        paths.is_down = lambda fqdn: (srv := self.servers.get(fqdn)) is not None and not srv.reachable
        paths.is_blocked = lambda host, server: (host, server) in self.smb_blocked
        return paths

    # ------------------------------------------------------------------ kept across a restart
    def __getstate__(self) -> dict[str, Any]:
        """The deployment's state, without what is rebuilt on :meth:`revive` (a lock, the clock,
        the path resolver): a kept lab saves it so its servers outlive the jump host's restart,
        as real servers do (#16)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("lock", "clock", "paths")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def revive(self, clock: Clock) -> None:
        """After unpickling: the lock, the clock and the wiring of paths and instances."""
        self.clock = clock
        self.lock = threading.RLock()
        if "directory" not in self.__dict__:  # saved before the lab kept a directory
            self.directory = self._directory()
            self.smb_blocked = set()
            self._grant_sysadmin()
        self.__dict__.setdefault("connection_drops", [])  # saved before timed faults
        self.paths = self._paths()
        for inst in self.instances.values():
            inst.__dict__.setdefault("restore_faults", [])
            inst.app_sessions = lambda database, inst=inst: self.lync_sessions(inst, database)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_plan(cls, plan: Plan, state_dir: Path, clock: Clock | None = None,
                  now: dt.datetime | None = None) -> LabDeployment:
        """A healthy deployment matching ``plan``: every server up, services running,
        replicas current, databases ONLINE with content, file stores filled; at ``now``
        (default :data:`LAB_EPOCH`)."""
        dep = cls(plan, state_dir, clock or InstantClock(), now)
        dep._build()
        return dep

    def _build(self) -> None:
        plan = self.plan
        domain = (plan.organisation.ad_domain or "fabrikam.lab").split(".")[0].upper()
        config = self._initial_config()
        for pool in plan.topology.pools:
            self.pools[pool.fqdn.lower()] = LabPool(spec=pool)
            for fqdn in pool.servers:
                server = LabServer(fqdn=fqdn.lower(), site=pool.site, kind="lync",
                                   pool=pool.fqdn.lower(), role=pool.role, lync_installed=True,
                                   replica_version=config["version"],
                                   last_update_creation=self.now - dt.timedelta(minutes=3))
                server.services = self._services_for(pool)
                self.servers[server.fqdn] = server
        federation = config["topology"]["federation_edge"]
        self.federation_setup = {s.lower() for p in plan.topology.pools if p.fqdn.lower() == federation
                                 for s in p.servers}
        # SQL instances from the plan, with the stores each one holds.
        stores = _stores_by_instance(plan)
        cms_pool = plan.cms_pool
        for sql in plan.topology.sql_instances:
            mirror_of = next((s for s in plan.topology.sql_instances if s.mirror == sql.id), None)
            own = stores[sql.id] if mirror_of is None else stores[mirror_of.id]
            inst = SqlInstanceState.for_lync(sql.server.lower(), sql.instance, own, domain=domain)
            inst.version = sql.version or "2012"
            self._add_instance(sql.id, inst)
            if mirror_of is not None:
                for db in _lync_dbs(inst):
                    db.mirroring_role = "MIRROR"
                    db.state = "RESTORING"
            elif sql.mirror:
                for db in _lync_dbs(inst):
                    db.mirroring_role = "PRINCIPAL"
            if sql.server.lower() not in self.servers:
                self.servers[sql.server.lower()] = LabServer(
                    fqdn=sql.server.lower(), site=sql.site, kind="sql")
        for pool in plan.front_end_pools():
            if pool.edition == "standard":
                se_stores = ["BackendStore", "ABSStore", "ApplicationStore"]
                if pool.fqdn.lower() == cms_pool.fqdn.lower():
                    se_stores.append("CentralMgmtStore")
                inst = SqlInstanceState.for_lync(pool.fqdn.lower(), "rtc", se_stores, domain=domain)
                self._add_instance(pool.fqdn.lower(), inst)
        for fs in plan.topology.file_stores:
            if fs.server.lower() not in self.servers:
                self.servers[fs.server.lower()] = LabServer(fqdn=fs.server.lower(), site=fs.site,
                                                            kind="file")
        for loc in plan.backup.locations:
            host = _unc_server(loc.unc)
            if host not in self.servers:
                self.servers[host] = LabServer(fqdn=host, site=plan.location_site(loc) or plan.topology.sites[0].name,
                                               kind="backup")
        # Content: CMS, LIS, user data, RGS, others.
        primary = self.pool_sql(cms_pool.fqdn)
        if primary is None:
            raise LabStateError(f"the CMS pool {cms_pool.fqdn} has no SQL store")
        self._fill_cms(primary, config, active=True)
        if cms_pool.paired_with:  # the standby CMS: config via the Backup Service, no LIS
            standby = self.pool_sql(cms_pool.paired_with)
            if standby is not None and standby.database("xds") is not None:
                self._fill_cms(standby, config, active=False)
                lis_db = standby.database("lis")
                if lis_db is not None:
                    lis_db.content = {"database": "lis", "filled": True}
        for pool in plan.front_end_pools():
            store = self.pool_sql(pool.fqdn)
            if store is not None:
                self._fill_pool_dbs(pool, store)
            self.pools[pool.fqdn.lower()].routing_groups = _routing_groups(pool)
        for inst in self.instances.values():
            for db in _lync_dbs(inst):
                if not db.content.get("filled"):
                    db.content.update({"filled": True, "rows": 1000, "as_of": self.now.isoformat()})
        for sql in plan.topology.sql_instances:  # a mirror holds what its principal holds
            principal, mirror = self.instance_by_id(sql.id), (
                self.instance_by_id(sql.mirror) if sql.mirror else None)
            if principal is None or mirror is None:
                continue
            for db in _lync_dbs(mirror):
                source = principal.database(db.name)
                if source is not None:
                    db.content = copy.deepcopy(source.content)
        self.scp = CmsPointer(primary.server, primary.instance)
        mirror = self.mirror_sql(cms_pool.fqdn)
        if mirror is not None:
            self.scp.mirror_server, self.scp.mirror_instance = mirror.server, mirror.instance
        self._init_backup_service()
        for fs in plan.topology.file_stores:
            _fill_file_store(self.paths.unc(fs.server, fs.share), fs.id, self.now - dt.timedelta(days=7))
        for loc in plan.backup.locations:
            self.paths.resolve(loc.unc).mkdir(parents=True, exist_ok=True)
        for fqdn in self.servers:  # every Windows machine has its system drive (C$ answers)
            self.paths.resolve("C:\\", fqdn).mkdir(parents=True, exist_ok=True)
        self.directory = self._directory()
        self._grant_sysadmin()

    def _grant_sysadmin(self) -> None:
        """§10: the organisation's Windows admin and SQL login are sysadmin on every instance."""
        windows, sql_login = self.admin_accounts()
        for inst in self.instances.values():
            inst.windows_logins.add(windows)
            inst.sysadmins.update({sql_login, windows})

    def admin_accounts(self) -> tuple[str, str]:
        """The plan's Windows account (its WinRM default) and SQL login (its SQL default): the
        organisation's administrators, the accounts a drill or a readiness check acts as."""
        creds = {c.id: c for c in self.plan.credentials.entries}
        win = creds[self.plan.credentials.winrm_default]
        sql = creds[self.plan.credentials.sql_default or self.plan.credentials.winrm_default]
        return win.username, sql.username

    def _directory(self) -> Directory:
        """The domain: each Windows account of the plan in the default groups and in the local
        Administrators of every host (lab/directory.py)."""
        accounts = [c.username for c in self.plan.credentials.entries if c.kind == "windows"]
        return Directory.build(self.plan.organisation.ad_domain or "fabrikam.lab", accounts, self.servers)

    def _add_instance(self, sql_id: str, inst: SqlInstanceState) -> None:
        key = instance_key(inst.server, inst.instance)
        self.instances[key] = inst
        self.sql_ids[sql_id] = key
        inst.app_sessions = lambda database: self.lync_sessions(inst, database)

    def lync_sessions(self, inst: SqlInstanceState, database: str) -> int:
        """Sessions the running Lync services keep open in ``database`` of ``inst`` (which service
        holds which store is inferred: the docs name none). The Front End service of every Front End
        of a pool whose Monitoring or Archiving store is ``inst`` writes to LcsCDR/QoEMetrics or
        LcsLog; the Persistent Chat service of every server of a Persistent Chat pool to mgc. Each
        holds one session per database while it runs. Read without the deployment lock: the SQL
        engine asks while it holds the instance's lock."""
        store = store_of(database)
        count = 0
        for pool in self.plan.topology.pools:
            if store == "MonitoringStore":
                sql_id, service = pool.monitoring_store, "RTCSRV"
            elif store == "ArchivingStore":
                sql_id, service = pool.archiving_store, "RTCSRV"
            elif store == "PersistentChatStore":
                sql_id, service = pool.persistent_chat_store, "RTCCHAT"
            else:
                return 0
            if not sql_id or self.instance_by_id(sql_id) is not inst:
                continue
            for fqdn in pool.servers:
                srv = self.servers.get(fqdn.lower())
                svc = srv.service(service) if srv is not None else None
                if srv is not None and srv.reachable and srv.lync_installed and svc is not None \
                        and svc.status == "Running":
                    count += 1
        return count

    def _services_for(self, pool: Pool) -> dict[str, WindowsService]:
        if pool.role == "front_end":
            names = list(_FE_SERVICES)
            if pool.response_group:
                names.insert(2, _RGS_SERVICE)
            if pool.paired_with:
                names.append(_BACKUP_SERVICE)
        elif pool.role == "edge":
            names = list(_EDGE_SERVICES)
        elif pool.role == "persistent_chat":
            names = list(_PCHAT_SERVICES)
        else:
            names = list(_OTHER_SERVICES)
        return {n.upper(): WindowsService(n, d) for n, d in names}

    def _initial_config(self) -> dict[str, Any]:
        plan = self.plan
        edges = {p.fqdn.lower(): (p.next_hop or "").lower() for p in plan.topology.pools
                 if p.role == "edge"}
        # §6.21: one Edge pool is published for federation (here the plan's first) and routes XMPP for its
        # site; each Front End pool sends media through the Edge pool of its site (else that one)
        edge_pools = [p for p in plan.topology.pools if p.role == "edge"]
        federation = edge_pools[0] if edge_pools else None
        media = {fe.fqdn.lower(): next((e.fqdn.lower() for e in edge_pools if e.site == fe.site),
                                       federation.fqdn.lower() if federation else "")
                 for fe in plan.front_end_pools()}
        return {
            "version": 42,
            "topology": {  # the published topology (lab/topologydoc.py renders it as T§2 describes)
                **topology_of_plan(plan),
                "central_management": plan.topology.central_management.pool.lower(),
                "edge_next_hop": edges,
                "federation_edge": federation.fqdn.lower() if federation else None,
                "edge_media": {fe: edge for fe, edge in media.items() if edge},
                "enabled": True,
            },
            "sites": {federation.site: {"xmpp_route": federation.fqdn.lower()}} if federation else {},
            "policies": {"ExternalAccessPolicy:Global": {"EnableFederationAccess": True},
                         "ConferencingPolicy:Global": {"MaxMeetingSize": 250}},
            "as_of": self.now.isoformat(),
        }

    def _fill_cms(self, inst: SqlInstanceState, config: dict[str, Any], *, active: bool) -> None:
        xds, lis = inst.database("xds"), inst.database("lis")
        if xds is None or lis is None:
            raise LabStateError(f"{inst.data_source} has no CMS databases")
        xds.content.update({"filled": True, "config": copy.deepcopy(config), "enabled": True,
                            "active": active})
        lis.content.update({"filled": True, "lis": _initial_lis(), "published": True})

    def _fill_pool_dbs(self, pool: Pool, inst: SqlInstanceState) -> None:
        rtcxds = inst.database("rtcxds")
        if rtcxds is not None:
            rtcxds.content.update({"filled": True, "user_data": _initial_user_data(pool.fqdn, self.now)})
        rgs = inst.database("rgsconfig")
        if rgs is not None:
            rgs.content.update({"filled": True, "rgs": _initial_rgs(pool.fqdn)
                                if pool.response_group else {"workflows": []}})

    def _init_backup_service(self) -> None:
        for pool in self.plan.front_end_pools():
            if not pool.paired_with:
                continue
            src, dst = pool.fqdn.lower(), pool.paired_with.lower()
            cms_master = src == self.cms_pool
            self.backup_service[(src, dst)] = {
                "UserServices.PresenceFocus": ("SteadyState", "NormalState"),
                "ConfServices.DataConf": ("SteadyState", "NormalState"),
                "CentralMgmt.CMSMaster": ("SteadyState" if cms_master else "NotInitialized",
                                          "NormalState"),
            }

    # ------------------------------------------------------------------ look-ups
    def server(self, name: str) -> LabServer:
        fqdn = self.paths.fqdn(name)
        try:
            return self.servers[fqdn]
        except KeyError:
            raise LabStateError(f"no server {name} in the lab") from None

    def pool(self, fqdn: str) -> LabPool:
        try:
            return self.pools[fqdn.lower()]
        except KeyError:
            raise LabStateError(f"no pool {fqdn} in the lab") from None

    def pool_of(self, server: str) -> LabPool | None:
        srv = self.servers.get(self.paths.fqdn(server))
        return self.pools.get(srv.pool) if srv is not None and srv.pool else None

    def lync_servers(self, pool: str | None = None) -> list[LabServer]:
        return [s for s in self.servers.values()
                if s.kind == "lync" and (pool is None or s.pool == pool.lower())]

    def instance(self, server: str, instance: str | None) -> SqlInstanceState | None:
        return self.instances.get(instance_key(self.paths.fqdn(server), instance))

    def instance_by_id(self, sql_id: str) -> SqlInstanceState | None:
        key = self.sql_ids.get(sql_id)
        return self.instances.get(key) if key else None

    def instances_on(self, server: str) -> list[SqlInstanceState]:
        fqdn = self.paths.fqdn(server)
        return [i for i in self.instances.values() if i.server == fqdn]

    def pool_sql(self, pool_fqdn: str) -> SqlInstanceState | None:
        """The pool's SQL store as the topology defines it (SE: its own instance)."""
        spec = self.pool(pool_fqdn).spec
        override = self.store_override.get(spec.fqdn.lower())
        if override is not None:
            return self.instances.get(override)
        if spec.edition == "standard" and spec.role == "front_end":
            return self.instance_by_id(spec.fqdn.lower())
        return self.instance_by_id(spec.back_end) if spec.back_end else None

    def tick(self) -> int:
        self.change_counter += 1
        return self.change_counter

    def mirroring_changed_now(self, pool_fqdn: str) -> None:
        """Mirroring of a pool changed (enabled, cleared, re-created): each of its Front Ends reads the
        new topology only after a restart (T15, §6.6, §11.33)."""
        self.mirroring_changed[pool_fqdn.lower()] = self.tick()

    def witness_sql(self, pool_fqdn: str) -> SqlInstanceState | None:
        spec = self.pool(pool_fqdn).spec
        if spec.fqdn.lower() in self.witness_override:
            key = self.witness_override[spec.fqdn.lower()]
            return self.instances.get(key) if key is not None else None
        witness = self.plan.sql(spec.back_end).witness if spec.back_end else None
        return self.instance_by_id(witness) if witness else None

    def mirror_sql(self, pool_fqdn: str) -> SqlInstanceState | None:
        spec = self.pool(pool_fqdn).spec
        if spec.fqdn.lower() in self.mirror_override:
            key = self.mirror_override[spec.fqdn.lower()]
            return self.instances.get(key) if key is not None else None
        if not spec.back_end:
            return None
        mirror = self.plan.sql(spec.back_end).mirror
        if not mirror:
            return None
        pair = [self.instance_by_id(spec.back_end), self.instance_by_id(mirror)]
        store = self.pool_sql(pool_fqdn)
        others = [i for i in pair if i is not None and i is not store]
        return others[0] if others else None

    def principal_sql(self, pool_fqdn: str) -> SqlInstanceState | None:
        """The instance currently serving the pool's user database (mirror after failover)."""
        for inst in (self.pool_sql(pool_fqdn), self.mirror_sql(pool_fqdn)):
            if inst is None or not self.sql_up(inst):
                continue
            db = inst.database("rtcxds")
            if db is not None and db.state == "ONLINE":
                return inst
        return None

    def sql_up(self, inst: SqlInstanceState) -> bool:
        host = self.servers.get(inst.server)
        return inst.up and (host is None or host.reachable)

    # ------------------------------------------------------------------ CMS
    def cms_instance(self) -> SqlInstanceState | None:
        """The SQL instance the SCP points at, if it is reachable."""
        if self.scp is None:
            return None
        inst = self.instance(self.scp.sql_server, self.scp.sql_instance)
        if inst is None or not self.sql_up(inst):
            if self.scp.mirror_server:
                mirror = self.instance(self.scp.mirror_server, self.scp.mirror_instance)
                if mirror is not None and self.sql_up(mirror):
                    xds = mirror.database("xds")
                    if xds is not None and xds.state == "ONLINE":
                        return mirror
            return None
        xds = inst.database("xds")
        if (xds is None or xds.state != "ONLINE") and self.scp.mirror_server:
            mirror = self.instance(self.scp.mirror_server, self.scp.mirror_instance)
            if mirror is not None and self.sql_up(mirror):
                return mirror
        return inst

    def cms_problem(self, *, master: bool = True) -> str | None:
        """None when the CMS works; else why not (used in error messages). With ``master=False``
        only the store is judged: the management cmdlets read and write the CMS database that
        Active Directory names, whether or not a server of the CMS pool runs the master (a
        topology is published before any Front End of a new pool exists); replication needs the
        master (§1)."""
        if self.scp is None:
            return "Active Directory has no Central Management store location"
        inst = self.cms_instance()
        if inst is None:
            return f"the Central Management store SQL instance {self.scp} cannot be reached"
        xds, lis = inst.database("xds"), inst.database("lis")
        if xds is None or lis is None:
            return f"the Central Management store databases are missing on {inst.data_source}"
        if xds.state != "ONLINE" or lis.state != "ONLINE":
            return f"the Central Management store databases on {inst.data_source} are not online"
        if "config" not in xds.content:
            return f"the Central Management store on {inst.data_source} holds no configuration"
        if not xds.content.get("enabled"):
            return f"the topology in the Central Management store on {inst.data_source} is not enabled"
        if master and not any(s.reachable and s.lync_installed for s in self.lync_servers(self.cms_pool)):
            return f"no server of {self.cms_pool} runs the Central Management Server"
        return None

    def cms_functional(self) -> bool:
        return self.cms_problem() is None

    def publish_problem(self) -> str | None:
        """None when Topology Builder can publish; else why not. A publish writes the topology to
        the CMS store where Active Directory says it is: its primary database must be online there,
        the mirror carrying it after a database failover is not enough (§5.3 C, S20: a publish
        needs the primary CMS database online; primary and mirror roles cannot be swapped without
        publishing)."""
        problem = self.cms_problem()
        if problem is not None or self.scp is None:
            return problem
        primary = self.instance(self.scp.sql_server, self.scp.sql_instance)
        xds = primary.database("xds") if primary is not None and self.sql_up(primary) else None
        if xds is None or xds.state != "ONLINE":
            where = f"{self.scp.sql_server}\\{self.scp.sql_instance}" if self.scp.sql_instance else self.scp.sql_server
            return (f"the primary Central Management store database on {where} is not online (the mirror "
                    "carries the CMS, but a publish needs the primary; fail the CMS over or restore it, §5.3 C)")
        return None

    def cms_config(self) -> dict[str, Any] | None:
        inst = self.cms_instance()
        xds = inst.database("xds") if inst is not None else None
        if xds is None or xds.state != "ONLINE":
            return None
        cfg = xds.content.get("config")
        return cfg if isinstance(cfg, dict) else None

    def config_version(self) -> int:
        cfg = self.cms_config()
        return int(cfg["version"]) if cfg else 0

    def bump_config(self, mutate: dict[str, Any] | None = None) -> int:
        """Record a configuration change in xds (caller checks the CMS works)."""
        with self.lock:
            cfg = self.cms_config()
            if cfg is None:
                raise LabStateError("no Central Management store configuration")
            cfg["version"] = int(cfg["version"]) + 1
            for key, value in (mutate or {}).items():
                cfg[key] = value
            return int(cfg["version"])

    # ------------------------------------------------------------------ Edge (§6.21)
    def federation_edge(self) -> str | None:
        """The Edge pool the published topology enables for federation (port 5061)."""
        cfg = self.cms_config()
        if cfg is None:
            return None
        edge = cfg["topology"].get("federation_edge")
        return str(edge) if edge else None

    def media_edge(self, fe_pool: str) -> str | None:
        """The Edge pool a Front End pool is associated with for media (Topology Builder)."""
        cfg = self.cms_config()
        edge = cfg["topology"].get("edge_media", {}).get(fe_pool.lower()) if cfg is not None else None
        return str(edge) if edge else None

    def federation_problems(self, target: str | None = None) -> list[str]:
        """Why federated SIP does not get through ``target`` (the Edge pool published for federation
        when None): the pool published for it, its servers running and set up again after it was
        published there, and a next hop that serves users (§6.21, §6.16 step 2)."""
        edge = self.federation_edge()
        if edge is None:
            return ["no Edge pool is published for federation"]
        spec = self.pool(edge).spec
        names = {edge, *(s.lower() for s in spec.servers)}
        if target is not None and self.paths.fqdn(target) not in names:
            return [f"{target} does not carry federation: {edge} is published for it"]
        problems = list(self.pool_problems(edge))
        problems += [f"setup was not run again on {srv.fqdn} after federation was published for {edge} (§6.21)"
                     for srv in self.lync_servers(edge)
                     if srv.reachable and srv.lync_installed and srv.fqdn not in self.federation_setup]
        hop = self.edge_next_hop(edge)
        if not hop or self.users_served_by(hop) is None:
            problems.append(f"the next hop of {edge} ({hop or 'none'}) does not serve users")
        return problems

    def media_problems(self, fe_pool: str) -> list[str]:
        """Why the Front End pool's media cannot use an Edge (Test-CsAVEdgeConnectivity, §7.2)."""
        edge = self.media_edge(fe_pool)
        if edge is None:
            return [f"{fe_pool} is associated with no Edge pool for media"]
        return [f"media of {fe_pool} goes through {edge}: {p}" for p in self.pool_problems(edge)]

    def edge_dr_problems(self, lost: str) -> list[str]:
        """§6.21 with the Edge pool ``lost`` gone: federation, the XMPP routes and the media of the
        Front End pools go through another Edge pool that works."""
        lost = lost.lower()
        names = {lost, *(s.lower() for s in self.pool(lost).spec.servers)}
        cfg = self.cms_config() or {}
        out = ([f"federation is still published on the lost Edge pool {lost}"] if self.federation_edge() == lost
               else self.federation_problems())
        for site, props in sorted(cfg.get("sites", {}).items()):
            route = str(props.get("xmpp_route") or "").lower()
            if route in names:
                out.append(f"the XMPP federation route of site {site} still names {route}")
        for fe in self.plan.front_end_pools():
            if self.media_edge(fe.fqdn) == lost:
                out.append(f"{fe.fqdn.lower()} still uses the lost Edge pool {lost} for media")
            elif self.users_served_by(fe.fqdn) is not None:
                out += self.media_problems(fe.fqdn)
        return out

    def edge_next_hop(self, edge_pool: str) -> str | None:
        cfg = self.cms_config()
        if cfg is not None:
            hop = cfg["topology"].get("edge_next_hop", {}).get(edge_pool.lower())
            return str(hop) if hop else None
        spec = self.pool(edge_pool).spec
        return spec.next_hop.lower() if spec.next_hop else None

    # ------------------------------------------------------------------ pools and fabric
    def running_front_ends(self, pool_fqdn: str) -> list[LabServer]:
        return [s for s in self.lync_servers(pool_fqdn) if s.front_end_running]

    def pool_quorum_lost(self, pool_fqdn: str) -> bool:
        pool = self.pool(pool_fqdn)
        size = len(pool.spec.servers)
        need = RUNNING_QUORUM.get(size, (size // 2) + 1)
        return len(self.running_front_ends(pool_fqdn)) < need

    def pool_problems(self, pool_fqdn: str) -> list[str]:
        """Why the pool does not serve its users itself (empty = it does)."""
        pool = self.pool(pool_fqdn)
        problems: list[str] = []
        if pool.spec.role != "front_end":
            for srv in self.lync_servers(pool_fqdn):
                if not srv.reachable or not srv.lync_installed:
                    problems.append(f"{srv.fqdn} is not rebuilt")
                elif any(s.status != "Running" for s in srv.services.values()):
                    problems.append(f"Lync services are not all running on {srv.fqdn}")
            return problems
        inst = self.principal_sql(pool_fqdn)
        if inst is None:
            problems.append(f"the Back End of {pool_fqdn} has no online user database")
        if self.pool_quorum_lost(pool_fqdn):
            problems.append(f"{pool_fqdn} has too few Front End Servers running (quorum, §5.4)")
        for srv in self.lync_servers(pool_fqdn):
            if not srv.reachable or not srv.lync_installed:
                problems.append(f"{srv.fqdn} is not rebuilt")
            elif any(s.status != "Running" for s in srv.services.values()):
                problems.append(f"Lync services are not all running on {srv.fqdn}")
        return problems

    def users_served_by(self, pool_fqdn: str) -> str | None:
        """The pool now serving ``pool_fqdn``'s users, or None when nobody serves them."""
        pool = self.pool(pool_fqdn)
        if pool.failed_over_to:
            target = pool.failed_over_to
            return target if not self.pool_problems(target) else None
        return pool.fqdn if not self.pool_problems(pool.fqdn) else None

    # ------------------------------------------------------------------ replicas
    def replica_up_to_date(self, server: LabServer) -> bool:
        version = self.config_version()
        return server.reachable and server.lync_installed and version > 0 \
            and server.replica_version == version and server.replica_reported

    def replicate(self, only: str | None = None) -> list[str]:
        """Push the CMS configuration to every reachable replica (or one); returns FQDNs."""
        with self.lock:
            version = self.config_version()
            done: list[str] = []
            for srv in self.lync_servers():
                if only is not None and srv.fqdn != self.paths.fqdn(only):
                    continue
                if srv.reachable and srv.lync_installed and version:
                    srv.replica_version = version
                    srv.replica_reported = True
                    srv.last_update_creation = self.now
                    done.append(srv.fqdn)
            return done

    # ------------------------------------------------------------------ rebuild & events
    def take_connection_drop(self, host: str, cmdlet: str) -> bool:
        """A ``connection_drops`` timed fault for ``cmdlet`` starting on ``host``: True once (taken)."""
        key = (self.paths.fqdn(host), cmdlet.casefold())
        with self.lock:
            if key in self.connection_drops:
                self.connection_drops.remove(key)
                return True
        return False

    def lose_server(self, fqdn: str) -> None:
        """The machine is gone (hardware loss): unreachable; its SQL instances are down."""
        with self.lock:
            srv = self.server(fqdn)
            srv.reachable = False
            for inst in self.instances_on(srv.fqdn):
                inst.up = False

    def rebuild_server(self, fqdn: str) -> None:
        """§6.1: a clean machine with the same FQDN (OS, certificates and, for SQL hosts, SQL
        Server with the same instance names and logins, but no Lync databases)."""
        with self.lock:
            srv = self.server(fqdn)
            srv.reachable = True
            srv.lync_installed = False
            srv.replica_version = 0
            srv.replica_reported = False
            srv.last_update_creation = None
            self.federation_setup.discard(srv.fqdn)
            for svc in srv.services.values():
                svc.status = "Stopped"
            for inst in self.instances_on(srv.fqdn):
                inst.up = True
                for db in list(_lync_dbs(inst)):
                    inst.drop_database(db.name)
                inst.kept_folders.clear()  # a clean disk: Install-CsDatabase makes the Lync folders again
                inst.backup_history.clear()
            if srv.kind == "file":
                for fs in self.plan.topology.file_stores:
                    if fs.server.lower() == srv.fqdn:
                        share = self.paths.unc(fs.server, fs.share)
                        _empty_dir(share)
                        share.rmdir()  # a clean machine has neither the folder nor the share (§6.9 step 1)
                        self.file_store_acls[fs.id] = False  # nor Lync's ACLs (§6.9 step 2)
            self.log(srv.fqdn, "rebuilt as a clean server with the same FQDN")

    def instance_key_of(self, inst: SqlInstanceState) -> str:
        """The ``server\\instance`` key of an instance of this deployment."""
        for key, value in self.instances.items():
            if value is inst:
                return key
        raise LabStateError(f"{inst.data_source} is not an instance of the lab")

    def log(self, host: str, what: str) -> None:
        with self.lock:
            self.events.append(LabEvent(self.now, host, what))

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += dt.timedelta(seconds=seconds)

    # ------------------------------------------------------------------ helpers for scoring
    def lync_databases(self, inst: SqlInstanceState) -> Iterator[DatabaseState]:
        return _lync_dbs(inst)


def instance_key(server: str, instance: str | None) -> str:
    return f"{server.lower()}\\{instance.lower()}" if instance else server.lower()


def _unc_server(unc: str) -> str:
    return unc.lstrip("\\").split("\\", 1)[0].lower()


def _lync_dbs(inst: SqlInstanceState) -> Iterator[DatabaseState]:
    system = {"master", "tempdb", "model", "msdb"}
    return iter([db for db in list(inst.databases.values()) if db.name.lower() not in system])


def _routing_groups(pool: Pool) -> list[RoutingGroup]:
    servers = [s.lower() for s in pool.servers]
    groups: list[RoutingGroup] = []
    count = 6 if len(servers) > 1 else 1
    for i in range(count):
        replicas = [servers[(i + k) % len(servers)] for k in range(min(3, len(servers)))]
        groups.append(RoutingGroup(f"{i + 1:08X}-{pool.fqdn.split('.')[0]}", replicas))
    return groups


def _initial_user_data(pool: str, as_of: dt.datetime) -> dict[str, Any]:
    name = pool.split(".", maxsplit=1)[0]
    return {"pool": pool.lower(), "users": 1200 if name != "se01" else 150,
            "contacts": 18000, "conferences": 240, "as_of": as_of.isoformat()}


def _initial_rgs(pool: str) -> dict[str, Any]:
    name = pool.split(".", maxsplit=1)[0]
    return {"pool": pool.lower(), "owner": pool.lower(),
            "workflows": [f"{name}-helpdesk", f"{name}-reception"],
            "queues": [f"{name}-helpdesk-q"], "agent_groups": [f"{name}-agents"]}


def _initial_lis() -> dict[str, Any]:
    return {"locations": {"HQ-Floor1": "1 Main St, Reading", "HQ-Floor2": "1 Main St, Reading",
                          "DR-Hall": "2 Quay Rd, Dublin"}, "subnets": ["10.1.0.0", "10.2.0.0"]}


#: Files of a healthy file store (relative paths, content): meeting content, app audio, and a
#: Meeting.Active lock file that a backup must skip.
FILE_STORE_FILES = (
    ("1-WebServices-1\\CollabContent\\meeting-001\\slides.pptx", "slides for meeting 001"),
    ("1-WebServices-1\\CollabContent\\meeting-002\\handout.pdf", "handout for meeting 002"),
    ("1-WebServices-1\\CollabContent\\meeting-002\\Meeting.Active", "locked"),
    ("1-ApplicationServer-1\\AppServerFiles\\RGS\\AS\\welcome.wma", "rgs welcome audio"),
    ("1-ApplicationServer-1\\AppServerFiles\\CPS\\hold.wma", "call park music"),
    ("1-WebServices-1\\DeviceUpdateStore\\UCPhone\\firmware.cab", "device update"),
)


def _fill_file_store(root: Path, fs_id: str, written: dt.datetime) -> None:
    """The store's files, last written at ``written`` (lab time: robocopy compares it)."""
    for rel, text in FILE_STORE_FILES:
        target = root.joinpath(*rel.split("\\"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"{text} ({fs_id})\n", encoding="utf-8")
        set_mtime(target, written)


def set_mtime(path: Path, when: dt.datetime) -> None:
    """A file's last-write time in lab time (naive means UTC, like the lab's clock)."""
    stamp = (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()
    os.utime(path, (stamp, stamp))


def _empty_dir(root: Path) -> None:
    import shutil

    if root.is_dir():
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
