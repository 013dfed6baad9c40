# ruff: noqa: RUF009  (``spec`` builds each field with its docstring, as in wizard/plan/model.py)
"""The words a scenario file is written in: what breaks the lab (``broken:``, :class:`Broken`)
and what says service is back (``restored_when:``, :class:`RestoredWhen`).

Each action and each check is a small frozen dataclass read from the file by the plan's
typed-schema layer (:mod:`wizard.plan.schema`: FILE:LINE:COL on every error); its fields are its
arguments, its ``apply(dep)`` breaks the deployment (under the deployment's lock, after the
healthy backup sets were written), its ``problems(dep)`` says what is still wrong (empty: restored).
:meth:`refs` names what it refers to in the plan (pools, hosts, SQL instances, file stores,
databases) so that a file is checked against its plan before a lab is built.

What each action does is what the outage does to real servers; the checks read the state the
lab's Lync cmdlets, SQL Server and Windows keep (:mod:`lab.model`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal, Protocol

from lab.model import FILE_STORE_FILES, LabDeployment, set_mtime
from lab.sqlstate import LYNC_SERVICES_GROUP, DatabaseState, SqlInstanceState
from wizard.plan.schema import spec

#: what a reference names: a pool FQDN, any host of the lab (a server, a SQL or file server, a
#: backup vault's server), a SQL instance (plan id or Standard Edition pool FQDN), a file store
#: id, a Lync database name
RefKind = Literal["pool", "host", "sql", "file_store", "database"]
Ref = tuple[str, RefKind, str]  # (field name, kind, value)


def lose_servers(dep: LabDeployment, fqdns: Iterable[str]) -> None:
    """Machines gone (hardware): unreachable, their SQL instances down; every pool settles (a
    pool that lost quorum stops, §5.4)."""
    from lab.cmdlets.services import settle_pool

    for fqdn in fqdns:
        dep.lose_server(fqdn)
    for pool in dep.pools:
        settle_pool(dep, pool)


# ----------------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Lose:
    """Servers lost (hardware, a fire): unreachable, their SQL instances down."""

    servers: list[str] = spec("the FQDNs of the lost machines (any host of the plan, a backup vault's too)",
                              min_items=1)

    def refs(self) -> Iterator[Ref]:
        yield from (("servers", "host", s) for s in self.servers)

    def apply(self, dep: LabDeployment) -> None:
        lose_servers(dep, self.servers)


@dataclass(frozen=True)
class WitnessFailover:
    """The pool's mirrored Back End primary is lost and the witness failed every database over
    to the mirror (§5.3 B): the mirror's databases are ONLINE principals."""

    pool: str = spec("the pool whose Back End primary is lost (its back_end has a mirror and a witness)")

    def refs(self) -> Iterator[Ref]:
        yield ("pool", "pool", self.pool)

    def apply(self, dep: LabDeployment) -> None:
        from lab.cmdlets.services import settle_pool

        back_end = dep.plan.sql(dep.pool(self.pool).spec.back_end or "")
        lose_servers(dep, [back_end.server])
        mirror = dep.instance_by_id(back_end.mirror or "")
        if mirror is None:
            raise ValueError(f"witness_failover: the Back End of {self.pool} has no mirror")
        for db in dep.lync_databases(mirror):
            db.state, db.mirroring_role = "ONLINE", "PRINCIPAL"
        settle_pool(dep, self.pool.lower())


@dataclass(frozen=True)
class CmsFailedOver:
    """Some time ago the CMS was failed over to the paired pool ``to`` (a planned §6.15
    failover, run on its first Front End) and stayed there, as it may (§6.15 step 7)."""

    to: str = spec("the pool now holding the CMS master (paired with the CMS pool)")

    def refs(self) -> Iterator[Ref]:
        yield ("to", "pool", self.to)

    def apply(self, dep: LabDeployment) -> None:
        from lab.cmdlets.cms import fail_over_cms

        pool = dep.pool(self.to).spec
        fail_over_cms(dep, pool.servers[0].lower(), pool.fqdn.lower())
        dep.replicate()


@dataclass(frozen=True)
class FileServerRebuiltEmpty:
    """The file store's server was rebuilt: a clean machine, no share, no Lync ACLs (§6.9)."""

    file_store: str = spec("the plan id of the file store")

    def refs(self) -> Iterator[Ref]:
        yield ("file_store", "file_store", self.file_store)

    def apply(self, dep: LabDeployment) -> None:
        fs = dep.plan.file_store(self.file_store)
        dep.rebuild_server(fs.server)
        dep.file_store_acls[self.file_store] = False


@dataclass(frozen=True)
class DatabasesDropped:
    """Databases gone from their instance (a lost data disk)."""

    instance: str = spec("the SQL instance (a plan SQL id, or a Standard Edition pool FQDN)")
    databases: list[str] = spec("database names (§9)", min_items=1)

    def refs(self) -> Iterator[Ref]:
        yield ("instance", "sql", self.instance)
        yield from (("databases", "database", d) for d in self.databases)

    def apply(self, dep: LabDeployment) -> None:
        inst = _instance(dep, self.instance)
        for name in self.databases:
            inst.drop_database(name)


@dataclass(frozen=True)
class DatabasesDamaged:
    """A storage fault: the databases stay online with damaged pages (DBCC CHECKDB reports them);
    the Lync services keep their sessions in them."""

    instance: str = spec("the SQL instance (a plan SQL id, or a Standard Edition pool FQDN)")
    databases: list[str] = spec("database names (§9)", min_items=1)
    pages: int = spec("damaged pages per database", default=3, minimum=1)

    def refs(self) -> Iterator[Ref]:
        yield ("instance", "sql", self.instance)
        yield from (("databases", "database", d) for d in self.databases)

    def apply(self, dep: LabDeployment) -> None:
        inst = _instance(dep, self.instance)
        for name in self.databases:
            db = _database(inst, name, self.instance)
            db.content["damaged"] = True
            db.damaged_pages = self.pages


@dataclass(frozen=True)
class DatabasesSuspect:
    """Recovery marked the databases SUSPECT (damaged; nothing can use them)."""

    instance: str = spec("the SQL instance (a plan SQL id, or a Standard Edition pool FQDN)")
    databases: list[str] = spec("database names (§9)", min_items=1)

    def refs(self) -> Iterator[Ref]:
        yield ("instance", "sql", self.instance)
        yield from (("databases", "database", d) for d in self.databases)

    def apply(self, dep: LabDeployment) -> None:
        inst = _instance(dep, self.instance)
        for name in self.databases:
            db = _database(inst, name, self.instance)
            db.state = "SUSPECT"
            db.content["damaged"] = True


#: the bad change ``bad_policy_change`` makes (and ``policies_reverted`` looks for)
BAD_POLICIES: dict[str, dict[str, Any]] = {"ExternalAccessPolicy:Global": {"EnableFederationAccess": False},
                                           "ConferencingPolicy:Global": {"MaxMeetingSize": 2}}


@dataclass(frozen=True)
class BadPolicyChange:
    """A bad configuration change, published and replicated: federation disabled, meetings
    shrunk to two people (§5.3 I)."""

    def refs(self) -> Iterator[Ref]:
        return iter(())

    def apply(self, dep: LabDeployment) -> None:
        dep.bump_config({"policies": {k: dict(v) for k, v in BAD_POLICIES.items()}})
        dep.replicate()


#: what ``newer_files_on_store`` writes after the last backup (and ``newer_files_kept`` looks for)
NEWER_FILES = {"1-WebServices-1\\CollabContent\\meeting-002\\handout.pdf": "handout v2, edited after the backup",
               "1-WebServices-1\\CollabContent\\meeting-003\\agenda.docx": "agenda of a meeting after the backup"}


@dataclass(frozen=True)
class NewerFilesOnStore:
    """Another pool sharing the file store kept writing to it after the last backup: files newer
    than the backup's copies (§6.9: a restore must not overwrite them)."""

    file_store: str = spec("the plan id of the shared file store")

    def refs(self) -> Iterator[Ref]:
        yield ("file_store", "file_store", self.file_store)

    def apply(self, dep: LabDeployment) -> None:
        fs = dep.plan.file_store(self.file_store)
        root = dep.paths.unc(fs.server, fs.share)
        for rel, text in NEWER_FILES.items():
            target = root.joinpath(*rel.split("\\"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text + "\n", encoding="utf-8")
            set_mtime(target, dep.now)


@dataclass(frozen=True)
class Broken:
    """One entry of ``broken:``: exactly one action, with its arguments (``{}`` when it has none)."""

    lose: Lose | None = spec("servers lost", default=None)
    witness_failover: WitnessFailover | None = spec(
        "a mirrored Back End primary lost, the witness failed over to the mirror", default=None)
    cms_failed_over: CmsFailedOver | None = spec("the CMS failed over to the paired pool earlier", default=None)
    file_server_rebuilt_empty: FileServerRebuiltEmpty | None = spec(
        "a file store's server rebuilt empty", default=None)
    databases_dropped: DatabasesDropped | None = spec("databases gone", default=None)
    databases_damaged: DatabasesDamaged | None = spec("databases online with damaged pages", default=None)
    databases_suspect: DatabasesSuspect | None = spec("databases SUSPECT", default=None)
    bad_policy_change: BadPolicyChange | None = spec("a bad policy change, published", default=None)
    newer_files_on_store: NewerFilesOnStore | None = spec(
        "files newer than the last backup on a shared file store", default=None)


# ----------------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class PoolOk:
    """The pool works: its Back End online, quorum, every Front End rebuilt and running."""

    pool: str = spec("a pool FQDN")

    def refs(self) -> Iterator[Ref]:
        yield ("pool", "pool", self.pool)

    def problems(self, dep: LabDeployment) -> list[str]:
        return dep.pool_problems(self.pool)


@dataclass(frozen=True)
class Served:
    """Somebody serves the pool's users (the pool itself, or its pair after a failover)."""

    pool: str = spec("a pool FQDN")

    def refs(self) -> Iterator[Ref]:
        yield ("pool", "pool", self.pool)

    def problems(self, dep: LabDeployment) -> list[str]:
        if dep.users_served_by(self.pool) is None:
            return [f"nobody serves the users of {self.pool}"]
        return []


@dataclass(frozen=True)
class CmsOk:
    """The CMS works (and, with ``pool``, its master is there)."""

    pool: str | None = spec("the pool the CMS master must be on (any when absent)", default=None)

    def refs(self) -> Iterator[Ref]:
        if self.pool is not None:
            yield ("pool", "pool", self.pool)

    def problems(self, dep: LabDeployment) -> list[str]:
        problem = dep.cms_problem()
        out = [f"the CMS does not work: {problem}"] if problem else []
        if self.pool is not None and dep.cms_pool != self.pool:
            out.append(f"the CMS is on {dep.cms_pool}, expected {self.pool}")
        return out


@dataclass(frozen=True)
class ReplicasCurrent:
    """Every reachable Lync server's CMS replica is up to date (§7)."""

    def refs(self) -> Iterator[Ref]:
        return iter(())

    def problems(self, dep: LabDeployment) -> list[str]:
        return [f"the CMS replica on {s.fqdn} is not up to date" for s in dep.lync_servers()
                if s.reachable and s.lync_installed and not dep.replica_up_to_date(s)]


@dataclass(frozen=True)
class UserDataRestored:
    """The pool's user data was imported from a backup set (Import-CsUserData)."""

    pool: str = spec("a pool FQDN")

    def refs(self) -> Iterator[Ref]:
        yield ("pool", "pool", self.pool)

    def problems(self, dep: LabDeployment) -> list[str]:
        inst = dep.principal_sql(self.pool)
        db = inst.database("rtcxds") if inst is not None else None
        data = db.content.get("user_data") if db is not None else None
        if not isinstance(data, dict) or not data.get("backup_set"):
            return [f"the user data of {self.pool} was not imported from a backup"]
        return []


@dataclass(frozen=True)
class LisPresent:
    """The CMS holds E9-1-1 locations, published."""

    def refs(self) -> Iterator[Ref]:
        return iter(())

    def problems(self, dep: LabDeployment) -> list[str]:
        inst = dep.cms_instance()
        db = inst.database("lis") if inst is not None else None
        lis = db.content.get("lis") if db is not None else None
        if db is None or not isinstance(lis, dict) or not lis.get("locations"):
            return ["the CMS holds no E9-1-1 (LIS) locations"]
        if not db.content.get("published"):
            return ["the LIS configuration was imported but not published"]
        return []


@dataclass(frozen=True)
class DbOnline:
    """The databases are ONLINE with RTCComponentUniversalServices in ServerRole (and, with
    ``from_backup``, hold data restored from a backup)."""

    instance: str = spec("the SQL instance (a plan SQL id, or a Standard Edition pool FQDN)")
    databases: list[str] = spec("database names (§9)", min_items=1)
    from_backup: bool = spec("the data must come from a backup (not a new empty database)", default=False)

    def refs(self) -> Iterator[Ref]:
        yield ("instance", "sql", self.instance)
        yield from (("databases", "database", d) for d in self.databases)

    def problems(self, dep: LabDeployment) -> list[str]:
        inst = dep.instance_by_id(self.instance)
        out: list[str] = []
        for name in self.databases:
            db = inst.database(name) if inst is not None else None
            if db is None or db.state != "ONLINE":
                out.append(f"database {name} is not online")
            elif self.from_backup and not db.content.get("backup_set"):
                out.append(f"database {name} holds no data restored from a backup")
            elif not any(LYNC_SERVICES_GROUP.lower() in m.lower()
                         for m in db.role_members.get("ServerRole", set())):
                out.append(f"{LYNC_SERVICES_GROUP} is not in ServerRole of {name}")
        return out


@dataclass(frozen=True)
class DatabasesCleanAndOpen:
    """Restored from a backup, nothing damaged, open to the Lync services again (MULTI_USER),
    as :class:`DbOnline` with ``from_backup``."""

    instance: str = spec("the SQL instance (a plan SQL id, or a Standard Edition pool FQDN)")
    databases: list[str] = spec("database names (§9)", min_items=1)

    def refs(self) -> Iterator[Ref]:
        yield ("instance", "sql", self.instance)
        yield from (("databases", "database", d) for d in self.databases)

    def problems(self, dep: LabDeployment) -> list[str]:
        inst = dep.instance_by_id(self.instance)
        out = DbOnline(self.instance, self.databases, from_backup=True).problems(dep)
        for name in self.databases:
            db = inst.database(name) if inst is not None else None
            if db is None or db.state != "ONLINE":
                continue
            if db.damaged_pages or db.content.get("damaged"):
                out.append(f"database {name} is still damaged")
            if db.user_access != "MULTI_USER":
                out.append(f"database {name} is {db.user_access}: the Lync services cannot use it")
        return out


@dataclass(frozen=True)
class MirrorRebuilt:
    """The pool's Back End mirror is rebuilt and mirroring re-established (with its witness), and
    every Front End restarted since (T15, §6.6)."""

    pool: str = spec("a pool FQDN")

    def refs(self) -> Iterator[Ref]:
        yield ("pool", "pool", self.pool)

    def problems(self, dep: LabDeployment) -> list[str]:
        pool = self.pool
        store, mirror = dep.pool_sql(pool), dep.mirror_sql(pool)
        if store is None or mirror is None or not dep.sql_up(mirror):
            return [f"the mirror of {pool}'s Back End is not rebuilt"]
        db = mirror.database("rtcxds")
        if db is None or db.mirroring_role != "MIRROR":
            return [f"mirroring of {pool}'s Back End is not re-established"]
        problems = []
        spec_ = dep.pool(pool).spec
        if spec_.back_end and dep.plan.sql(spec_.back_end).witness and dep.witness_sql(pool) is None:
            problems.append(f"mirroring of {pool}'s Back End was re-established without its witness")
        changed = dep.mirroring_changed.get(pool.lower(), 0)
        stale = [s.fqdn for s in dep.lync_servers(pool) if s.reachable and s.started_at < changed]
        if stale:  # T15 (§6.6): any change to a mirroring relationship needs every Front End restarted
            problems.append(f"Front Ends of {pool} not restarted since its mirroring changed: {', '.join(stale)}")
        return problems


@dataclass(frozen=True)
class FileStoreRestored:
    """The file store's files are back (Meeting.Active aside) and its ACLs reset (Enable-CsTopology)."""

    file_store: str = spec("the plan id of the file store")

    def refs(self) -> Iterator[Ref]:
        yield ("file_store", "file_store", self.file_store)

    def problems(self, dep: LabDeployment) -> list[str]:
        fs = dep.plan.file_store(self.file_store)
        root = dep.paths.unc(fs.server, fs.share)
        out = [f"{rel} is missing from \\\\{fs.server}\\{fs.share}" for rel, _ in FILE_STORE_FILES
               if not rel.endswith("Meeting.Active") and not root.joinpath(*rel.split("\\")).is_file()]
        if not dep.file_store_acls.get(self.file_store):
            out.append(f"the ACLs of file store {self.file_store} are not reset (Enable-CsTopology)")
        return out


@dataclass(frozen=True)
class ServerBack:
    """The server is rebuilt: reachable, Lync installed, every service running, its replica current."""

    server: str = spec("the FQDN of a Lync server")

    def refs(self) -> Iterator[Ref]:
        yield ("server", "host", self.server)

    def problems(self, dep: LabDeployment) -> list[str]:
        fqdn = self.server
        srv = dep.server(fqdn)
        if not srv.reachable or not srv.lync_installed:
            return [f"{fqdn} is not rebuilt"]
        out = [f"{svc.name} is {svc.status} on {fqdn}" for svc in srv.services.values()
               if svc.status != "Running"]
        if not dep.replica_up_to_date(srv):
            out.append(f"the CMS replica on {fqdn} is not up to date")
        return out


@dataclass(frozen=True)
class PoliciesReverted:
    """The ``bad_policy_change`` is gone from the CMS (federation enabled again)."""

    def refs(self) -> Iterator[Ref]:
        return iter(())

    def problems(self, dep: LabDeployment) -> list[str]:
        cfg = dep.cms_config() or {}
        if cfg.get("policies", {}).get("ExternalAccessPolicy:Global", {}).get(
                "EnableFederationAccess") is not True:
            return ["the bad policy change is still in the CMS"]
        return []


@dataclass(frozen=True)
class RgsIn:
    """The Response Groups of ``owner`` are in ``pool``, still owned by ``owner`` (§6.16 step 5:
    imported without -OverwriteOwner)."""

    pool: str = spec("the pool the Response Groups were imported into")
    owner: str = spec("the pool that owns them")

    def refs(self) -> Iterator[Ref]:
        yield ("pool", "pool", self.pool)
        yield ("owner", "pool", self.owner)

    def problems(self, dep: LabDeployment) -> list[str]:
        inst = dep.principal_sql(self.pool)
        db = inst.database("rgsconfig") if inst is not None else None
        owners = (db.content.get("rgs") or {}).get("owners", {}) if db is not None else {}
        if self.owner in owners:
            return []
        taken = ", ".join(sorted(owners)) or "nobody"
        return [f"the Response Groups of {self.owner} are not in {self.pool} owned by {self.owner} "
                f"(owners there: {taken})"]


@dataclass(frozen=True)
class NewerFilesKept:
    """The files ``newer_files_on_store`` wrote after the backup are still there, unchanged."""

    file_store: str = spec("the plan id of the file store")

    def refs(self) -> Iterator[Ref]:
        yield ("file_store", "file_store", self.file_store)

    def problems(self, dep: LabDeployment) -> list[str]:
        fs = dep.plan.file_store(self.file_store)
        root = dep.paths.unc(fs.server, fs.share)
        out = []
        for rel, text in NEWER_FILES.items():
            target = root.joinpath(*rel.split("\\"))
            if not target.is_file() or target.read_text(encoding="utf-8") != text + "\n":
                out.append(f"{rel} on {self.file_store}, written after the backup, was overwritten or deleted")
        return out


@dataclass(frozen=True)
class ScpAt:
    """AD's service control point names ``pool``'s store (nothing pulled the CMS back)."""

    pool: str = spec("a pool FQDN")

    def refs(self) -> Iterator[Ref]:
        yield ("pool", "pool", self.pool)

    def problems(self, dep: LabDeployment) -> list[str]:
        inst = dep.pool_sql(self.pool)
        scp = dep.scp.sql_server if dep.scp is not None else "nothing"
        if inst is None or scp != inst.server:
            return [f"Active Directory points the CMS at {scp}, not at {self.pool}'s store"]
        return []


@dataclass(frozen=True)
class EdgeDr:
    """§6.21 with the Edge pool ``lost`` gone: federation, XMPP and media go through another Edge pool."""

    lost: str = spec("the lost Edge pool's FQDN")

    def refs(self) -> Iterator[Ref]:
        yield ("lost", "pool", self.lost)

    def problems(self, dep: LabDeployment) -> list[str]:
        return dep.edge_dr_problems(self.lost)


@dataclass(frozen=True)
class RestoredWhen:
    """One entry of ``restored_when:``: exactly one check, with its arguments (``{}`` when it has none)."""

    pool_ok: PoolOk | None = spec("the pool works", default=None)
    served: Served | None = spec("somebody serves the pool's users", default=None)
    cms_ok: CmsOk | None = spec("the CMS works (on a given pool)", default=None)
    replicas_current: ReplicasCurrent | None = spec("every CMS replica up to date", default=None)
    user_data_restored: UserDataRestored | None = spec("the pool's user data imported from a backup", default=None)
    lis_present: LisPresent | None = spec("E9-1-1 locations in the CMS, published", default=None)
    db_online: DbOnline | None = spec("databases online, open to the Lync services", default=None)
    databases_clean_and_open: DatabasesCleanAndOpen | None = spec(
        "databases restored, undamaged, MULTI_USER", default=None)
    mirror_rebuilt: MirrorRebuilt | None = spec("the Back End mirror rebuilt", default=None)
    file_store_restored: FileStoreRestored | None = spec("the file store's files and ACLs back", default=None)
    server_back: ServerBack | None = spec("a server rebuilt and running", default=None)
    policies_reverted: PoliciesReverted | None = spec("the bad policy change gone", default=None)
    rgs_in: RgsIn | None = spec("Response Groups imported, owner kept", default=None)
    newer_files_kept: NewerFilesKept | None = spec("newer files on a shared store kept", default=None)
    scp_at: ScpAt | None = spec("AD's CMS pointer on a pool's store", default=None)
    edge_dr: EdgeDr | None = spec("an Edge pool's work taken over by another (§6.21)", default=None)


def chosen(entry: Broken | RestoredWhen) -> list[tuple[str, Any]]:
    """The (name, arguments) an entry of ``broken:`` or ``restored_when:`` gives."""
    return [(f.name, v) for f in fields(entry) if (v := getattr(entry, f.name)) is not None]


def names(kind: type[Broken] | type[RestoredWhen]) -> list[str]:
    """The vocabulary of ``broken:`` or ``restored_when:``."""
    return [f.name for f in fields(kind)]


class Action(Protocol):
    """An entry of ``broken:`` once read."""

    def refs(self) -> Iterator[Ref]: ...
    def apply(self, dep: LabDeployment) -> None: ...


class Condition(Protocol):
    """An entry of ``restored_when:`` once read."""

    def refs(self) -> Iterator[Ref]: ...
    def problems(self, dep: LabDeployment) -> list[str]: ...


def _instance(dep: LabDeployment, sql_id: str) -> SqlInstanceState:
    inst = dep.instance_by_id(sql_id)
    if inst is None:
        raise ValueError(f"the lab has no SQL instance {sql_id}")
    return inst


def _database(inst: SqlInstanceState, name: str, sql_id: str) -> DatabaseState:
    db = inst.database(name)
    if db is None:
        raise ValueError(f"the SQL instance {sql_id} has no database {name}")
    return db


def run_actions(actions: Sequence[Action]) -> Callable[[LabDeployment], None]:
    """The damage of a scenario: its actions, in order."""
    def damage(dep: LabDeployment) -> None:
        for action in actions:
            action.apply(dep)
    return damage


def all_checks(checks: Sequence[Condition]) -> Callable[[LabDeployment], list[str]]:
    """The check of a scenario: every check's problems, in order."""
    def check(dep: LabDeployment) -> list[str]:
        return [p for c in checks for p in c.problems(dep)]
    return check
