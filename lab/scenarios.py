"""Named outages for drills: each breaks the lab the way a real incident would, says which
documented recovery path fixes it, and scores the result.

A :class:`Scenario` has a name, a one-line summary, the §5.3 outage class (A-I), the plan it
runs on, ``apply(dep)`` (writes the backup sets while the deployment is still healthy, then
breaks it), optional :class:`Faults` (a corrupt newest set, a set without E911Config.zip, a
broken log chain, a host dropping one WinRM request in five, a slow restore, a full disk, an
account missing a §10 membership, a share one host cannot reach, a backup job that stopped,
servers that are off), the expected recovery path as §5.2/§6 section ids, and
``service_restored(dep)`` - an empty list when service is back, else one sentence per thing
still wrong - so a drill can be scored.

:data:`SCENARIOS` are the drills. :data:`CALM` is no drill: the organisation's ordinary day with
nothing broken, for readiness checks and ``lync-restore lab serve --scenario calm`` (with faults
added by :meth:`Scenario.with_faults`); :func:`scenario` finds it, :func:`drill_scenario` does not.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lab.backupset import SetFaults, write_backup_sets
from lab.directory import short_name
from lab.identity import unc_server
from lab.model import FILE_STORE_FILES, LabDeployment
from lab.sqlstate import LYNC_SERVICES_GROUP


@dataclass(frozen=True)
class Faults:
    """Extra trouble a drill may add on top of the outage."""

    corrupt_newest_set: bool = False
    missing_e911: bool = False
    broken_log_chain: bool = False
    #: FQDN of a host whose WinRM listener drops one request in five
    flaky_host: str | None = None
    #: SQL restores run at 2 MB/s (simulated) instead of 150 MB/s
    slow_restore: bool = False
    #: the SQL Server disks fill up during a restore (error 3257)
    full_disk: bool = False
    #: no computer account is trusted for delegation: a forwarded Kerberos ticket never reaches a
    #: host, so only CredSSP (or reading where the share is local) makes the second hop
    no_delegation: bool = False
    #: the wizard's machine has the backup shares mounted (the plan copy gives each location's
    #: local_path): the catalogue reads them without WinRM
    backups_mounted: bool = False
    #: (host, cmdlet, parameter): that server's Lync cmdlet lacks the parameter, as on a server
    #: missing a cumulative update (binding fails as PowerShell's does; Get-Command does not list it)
    missing_parameter: tuple[str, str, str] | None = None
    #: (account short name, group): the account lacks that membership (§10). A domain group
    #: (``RTCUniversalServerAdmins``, ``CsPersistentChatAdministrator``, ...) is taken from the
    #: account; ``Administrators``: it is in no host's local Administrators group; ``sysadmin``:
    #: that login (``lyncsql``, or the Windows account) is in no instance's sysadmin role
    missing_membership: tuple[str, str] | None = None
    #: (host FQDN, share root ``\\server\share``): SMB from that host to the share's server is
    #: dropped (a firewall between them): from that host the server's shares are not found, from
    #: every other host they answer
    share_unreachable: tuple[str, str] | None = None
    #: the nightly backup job stopped this many hours ago: no set was written since (the newest
    #: set is the last 02:00 run before then)
    backups_stopped_hours: int = 0
    #: servers that are off (unreachable, their SQL instances down), as a lost server
    servers_down: tuple[str, ...] = ()

    def names(self) -> list[str]:
        return [k for k, v in self.__dict__.items() if v]


Check = Callable[[LabDeployment], list[str]]


@dataclass(frozen=True)
class Scenario:
    """One drill."""

    name: str
    summary: str
    outage_class: str
    expected_path: tuple[str, ...]
    damage: Callable[[LabDeployment], None]
    check: Check
    plan: str = "lab.yaml"
    #: changes merged into ``plan`` for this scenario (e.g. the CMS in another pool)
    plan_changes: Mapping[str, Any] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    #: an order the doc warns against, as (description, §) for drill briefings
    forbidden: tuple[str, ...] = ()
    #: what the instructor expects (#19 scoring): the plan of action, as (recovery path id, the
    #: pool or server it acts on), in order
    expected_plan: tuple[tuple[str, str | None], ...] = ()
    #: the backup set the trainee should restore from: (location name, or None when the plan has
    #: one location; 0 = the newest set there, 1 = the one before, ...); None when no set is needed
    expected_set: tuple[str | None, int] | None = None

    def with_faults(self, **kwargs: Any) -> Scenario:
        return replace(self, faults=replace(self.faults, **kwargs))

    def apply(self, dep: LabDeployment) -> None:
        """Take the backup sets (healthy), then break the deployment, then add the faults."""
        f = self.faults
        with dep.lock:
            write_backup_sets(dep, faults=SetFaults(corrupt_newest=f.corrupt_newest_set,
                                                    missing_e911_in_newest=f.missing_e911,
                                                    broken_log_chain=f.broken_log_chain,
                                                    stopped_hours=f.backups_stopped_hours))
            self.damage(dep)
            if f.servers_down:
                _lose(*f.servers_down)(dep)
            if f.missing_membership is not None:
                _remove_membership(dep, *f.missing_membership)
            if f.share_unreachable is not None:
                host, share = f.share_unreachable
                server = unc_server(share)
                if server is None:
                    raise ValueError(f"share_unreachable needs a UNC share root, not {share!r}")
                dep.smb_blocked.add((dep.paths.fqdn(host), dep.paths.fqdn(server)))
            for inst in dep.instances.values():
                if f.slow_restore:
                    inst.throughput_bytes_per_sec = 2 * 1024 * 1024
                if f.full_disk:
                    inst.fault_disk_full = True
            dep.log("lab", f"scenario {self.name} applied")

    def service_restored(self, dep: LabDeployment) -> list[str]:
        with dep.lock:
            return self.check(dep)


def _remove_membership(dep: LabDeployment, account: str, group: str) -> None:
    """The ``missing_membership`` fault: ``account`` (a short name) out of ``group``."""
    if group.casefold() == "sysadmin":
        for inst in dep.instances.values():
            inst.sysadmins = {n for n in inst.sysadmins if short_name(n).casefold() != account.casefold()}
        return
    dep.directory.remove_membership(account, group)


# ------------------------------------------------------------------------ checks
def _pool_ok(pool: str) -> Check:
    def check(dep: LabDeployment) -> list[str]:
        return dep.pool_problems(pool)
    return check


def _served(pool: str) -> Check:
    def check(dep: LabDeployment) -> list[str]:
        if dep.users_served_by(pool) is None:
            return [f"nobody serves the users of {pool}"]
        return []
    return check


def _cms_ok(pool: str | None = None) -> Check:
    def check(dep: LabDeployment) -> list[str]:
        problem = dep.cms_problem()
        out = [f"the CMS does not work: {problem}"] if problem else []
        if pool is not None and dep.cms_pool != pool:
            out.append(f"the CMS is on {dep.cms_pool}, expected {pool}")
        return out
    return check


def _replicas_current(dep: LabDeployment) -> list[str]:
    return [f"the CMS replica on {s.fqdn} is not up to date" for s in dep.lync_servers()
            if s.reachable and s.lync_installed and not dep.replica_up_to_date(s)]


def _user_data_restored(pool: str) -> Check:
    def check(dep: LabDeployment) -> list[str]:
        inst = dep.principal_sql(pool)
        db = inst.database("rtcxds") if inst is not None else None
        data = db.content.get("user_data") if db is not None else None
        if not isinstance(data, dict) or not data.get("backup_set"):
            return [f"the user data of {pool} was not imported from a backup"]
        return []
    return check


def _lis_present(dep: LabDeployment) -> list[str]:
    inst = dep.cms_instance()
    db = inst.database("lis") if inst is not None else None
    lis = db.content.get("lis") if db is not None else None
    if not isinstance(lis, dict) or not lis.get("locations"):
        return ["the CMS holds no E9-1-1 (LIS) locations"]
    if not db.content.get("published"):  # type: ignore[union-attr]
        return ["the LIS configuration was imported but not published"]
    return []


def _db_online(sql_id: str, names: tuple[str, ...], *, from_backup: bool) -> Check:
    def check(dep: LabDeployment) -> list[str]:
        inst = dep.instance_by_id(sql_id)
        out: list[str] = []
        for name in names:
            db = inst.database(name) if inst is not None else None
            if db is None or db.state != "ONLINE":
                out.append(f"database {name} is not online")
            elif from_backup and not db.content.get("backup_set"):
                out.append(f"database {name} holds no data restored from a backup")
            elif not any(LYNC_SERVICES_GROUP.lower() in m.lower()
                         for m in db.role_members.get("ServerRole", set())):
                out.append(f"{LYNC_SERVICES_GROUP} is not in ServerRole of {name}")
        return out
    return check


def _all(*checks: Check) -> Check:
    def check(dep: LabDeployment) -> list[str]:
        return [p for c in checks for p in c(dep)]
    return check


def _mirror_rebuilt(pool: str) -> Check:
    def check(dep: LabDeployment) -> list[str]:
        store, mirror = dep.pool_sql(pool), dep.mirror_sql(pool)
        if store is None or mirror is None or not dep.sql_up(mirror):
            return [f"the mirror of {pool}'s Back End is not rebuilt"]
        db = mirror.database("rtcxds")
        if db is None or db.mirroring_role != "MIRROR":
            return [f"mirroring of {pool}'s Back End is not re-established"]
        problems = []
        spec = dep.pool(pool).spec
        if spec.back_end and dep.plan.sql(spec.back_end).witness and dep.witness_sql(pool) is None:
            problems.append(f"mirroring of {pool}'s Back End was re-established without its witness")
        changed = dep.mirroring_changed.get(pool.lower(), 0)
        stale = [s.fqdn for s in dep.lync_servers(pool) if s.reachable and s.started_at < changed]
        if stale:  # T15 (§6.6): any change to a mirroring relationship needs every Front End restarted
            problems.append(f"Front Ends of {pool} not restarted since its mirroring changed: {', '.join(stale)}")
        return problems
    return check


def _file_store(fs_id: str) -> Check:
    def check(dep: LabDeployment) -> list[str]:
        fs = dep.plan.file_store(fs_id)
        root = dep.paths.unc(fs.server, fs.share)
        out = [f"{rel} is missing from \\\\{fs.server}\\{fs.share}" for rel, _ in FILE_STORE_FILES
               if not rel.endswith("Meeting.Active") and not root.joinpath(*rel.split("\\")).is_file()]
        if not dep.file_store_acls.get(fs_id):
            out.append(f"the ACLs of file store {fs_id} are not reset (Enable-CsTopology)")
        return out
    return check


def _server_back(fqdn: str) -> Check:
    def check(dep: LabDeployment) -> list[str]:
        srv = dep.server(fqdn)
        if not srv.reachable or not srv.lync_installed:
            return [f"{fqdn} is not rebuilt"]
        out = [f"{svc.name} is {svc.status} on {fqdn}" for svc in srv.services.values()
               if svc.status != "Running"]
        if not dep.replica_up_to_date(srv):
            out.append(f"the CMS replica on {fqdn} is not up to date")
        return out
    return check


def _policies_reverted(dep: LabDeployment) -> list[str]:
    cfg = dep.cms_config() or {}
    if cfg.get("policies", {}).get("ExternalAccessPolicy:Global", {}).get(
            "EnableFederationAccess") is not True:
        return ["the bad policy change is still in the CMS"]
    return []


def _rgs_in(pool: str, owner: str) -> Check:
    def check(dep: LabDeployment) -> list[str]:
        inst = dep.principal_sql(pool)
        db = inst.database("rgsconfig") if inst is not None else None
        owners = (db.content.get("rgs") or {}).get("owners", {}) if db is not None else {}
        if owner in owners:
            return []
        taken = ", ".join(sorted(owners)) or "nobody"
        # T13: imported without -OverwriteOwner, the failed pool's groups stay its own (§6.16 step 5)
        return [f"the Response Groups of {owner} are not in {pool} owned by {owner} (owners there: {taken})"]
    return check


# ------------------------------------------------------------------------ damage
def _lose(*fqdns: str) -> Callable[[LabDeployment], None]:
    def damage(dep: LabDeployment) -> None:
        for fqdn in fqdns:
            dep.lose_server(fqdn)
        for pool in dep.pools:
            from lab.cmdlets.services import settle_pool

            settle_pool(dep, pool)
    return damage


def _auto_failover(dep: LabDeployment) -> None:
    """The witness moved every database of be1 to the mirror (§5.3 B)."""
    _lose("sql01.fabrikam.lab")(dep)
    mirror = dep.instance_by_id("be1-mirror")
    assert mirror is not None
    for db in dep.lync_databases(mirror):
        db.state, db.mirroring_role = "ONLINE", "PRINCIPAL"
    from lab.cmdlets.services import settle_pool

    settle_pool(dep, POOL1)


POOL1_ALL = ("fe01.fabrikam.lab", "fe02.fabrikam.lab", "fe03.fabrikam.lab", "sql01.fabrikam.lab",
             "sql02.fabrikam.lab", "sqlwit.fabrikam.lab")


def _cms_failed_over_then_pool1_lost(dep: LabDeployment) -> None:
    """Last week the CMS was failed over to pool2 (a planned §6.15 failover) and stayed there, as
    it may (§6.15 step 7: no CMS failback is required); now the whole of pool1 is lost."""
    from lab.cmdlets.cms import fail_over_cms

    fail_over_cms(dep, "fe11.fabrikam.lab", "pool2.fabrikam.lab")
    dep.replicate()
    _lose(*POOL1_ALL)(dep)


#: what pool2 wrote to the shared DR file store after the last backup
NEWER_FILES = {"1-WebServices-1\\CollabContent\\meeting-002\\handout.pdf": "handout v2, edited after the backup",
               "1-WebServices-1\\CollabContent\\meeting-003\\agenda.docx": "agenda of a meeting after the backup"}


def _pool3_lost_shared_store_newer(dep: LabDeployment) -> None:
    """pool2 kept writing to fs-dr, which it shares with pool3, after the last backup; then the
    whole of pool3 is lost (the shared file server is not)."""
    from lab.model import set_mtime

    fs = dep.plan.file_store("fs-dr")
    root = dep.paths.unc(fs.server, fs.share)
    for rel, text in NEWER_FILES.items():
        target = root.joinpath(*rel.split("\\"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text + "\n", encoding="utf-8")
        set_mtime(target, dep.now)
    _lose("fe21.fabrikam.lab", "fe22.fabrikam.lab", "fe23.fabrikam.lab", "sql21.fabrikam.lab")(dep)


def _newer_files_kept(fs_id: str) -> Check:
    def check(dep: LabDeployment) -> list[str]:
        fs = dep.plan.file_store(fs_id)
        root = dep.paths.unc(fs.server, fs.share)
        out = []
        for rel, text in NEWER_FILES.items():
            target = root.joinpath(*rel.split("\\"))
            if not target.is_file() or target.read_text(encoding="utf-8") != text + "\n":
                out.append(f"{rel} on {fs_id}, written after the backup, was overwritten or deleted")
        return out
    return check


def _scp_at(pool: str) -> Check:
    """AD's service control point still names ``pool``'s store (nothing pulled it back)."""
    def check(dep: LabDeployment) -> list[str]:
        inst = dep.pool_sql(pool)
        scp = dep.scp.sql_server if dep.scp is not None else "nothing"
        if inst is None or scp != inst.server:
            return [f"Active Directory points the CMS at {scp}, not at {pool}'s store"]
        return []
    return check


def _file_store_lost(dep: LabDeployment) -> None:
    fs = dep.plan.file_store("fs-hq")
    dep.rebuild_server(fs.server)
    dep.file_store_acls["fs-hq"] = False


def _monitoring_lost(dep: LabDeployment) -> None:
    inst = dep.instance_by_id("mon")
    assert inst is not None
    for name in ("LcsCDR", "QoEMetrics", "LcsLog"):
        inst.drop_database(name)


def _mgc_suspect(dep: LabDeployment) -> None:
    inst = dep.instance_by_id("pchat-sql")
    db = inst.database("mgc") if inst is not None else None
    assert db is not None
    db.state = "SUSPECT"
    db.content["damaged"] = True


def _monitoring_damaged_in_use(dep: LabDeployment) -> None:
    """A storage fault on sqlmon: recovery marked LcsCDR SUSPECT; QoEMetrics and LcsLog stay online
    with damaged pages (DBCC CHECKDB reports them) while pool1's Front Ends keep their sessions in
    them. Nothing is dropped: the restore replaces each database over what is there."""
    inst = dep.instance_by_id("mon")
    assert inst is not None
    for name in ("LcsCDR", "QoEMetrics", "LcsLog"):
        db = inst.database(name)
        assert db is not None
        db.content["damaged"] = True
        db.damaged_pages = 3
    cdr = inst.database("LcsCDR")
    assert cdr is not None
    cdr.state = "SUSPECT"


def _monitoring_clean_and_open(sql_id: str, names: tuple[str, ...]) -> Check:
    """Restored from a backup, nothing damaged, open to the Lync services again (MULTI_USER)."""
    def check(dep: LabDeployment) -> list[str]:
        inst = dep.instance_by_id(sql_id)
        out = _db_online(sql_id, names, from_backup=True)(dep)
        for name in names:
            db = inst.database(name) if inst is not None else None
            if db is None or db.state != "ONLINE":
                continue
            if db.damaged_pages or db.content.get("damaged"):
                out.append(f"database {name} is still damaged")
            if db.user_access != "MULTI_USER":
                out.append(f"database {name} is {db.user_access}: the Lync services cannot use it")
        return out
    return check


def _bad_change(dep: LabDeployment) -> None:
    dep.bump_config({"policies": {"ExternalAccessPolicy:Global": {"EnableFederationAccess": False},
                                  "ConferencingPolicy:Global": {"MaxMeetingSize": 2}}})
    dep.replicate()


POOL1 = "pool1.fabrikam.lab"
POOL2 = "pool2.fabrikam.lab"
POOL3 = "pool3.fabrikam.lab"
SE01 = "se01.fabrikam.lab"

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("fe-lost", "Front End fe02 of the paired CMS pool pool1 is lost (hardware).", "A",
             ("6.7",), _lose("fe02.fabrikam.lab"),
             _all(_server_back("fe02.fabrikam.lab"), _pool_ok(POOL1)),
             expected_plan=(('member-rebuild', 'fe02.fabrikam.lab'),), expected_set=None),
    Scenario("be-primary-lost-witness", "Mirrored Back End primary sql01 of pool1 is lost; "
             "the witness failed the databases over to sql02.", "B", ("6.15", "6.5"), _auto_failover,
             _all(_pool_ok(POOL1), _cms_ok(), _mirror_rebuilt(POOL1)),
             expected_plan=(('cms-failover', 'pool1.fabrikam.lab'), ('be-mirror-primary', 'pool1.fabrikam.lab')),
             expected_set=('dr-vault', 0)),
    Scenario("be-primary-lost-no-witness", "sql01 and the witness are lost; pool1's databases "
             "sit unserved on the mirror sql02 until an admin fails them over.", "B",
             ("6.15", "6.18", "6.5"), _lose("sql01.fabrikam.lab", "sqlwit.fabrikam.lab"),
             _all(_pool_ok(POOL1), _cms_ok()),
             expected_plan=(('cms-failover', 'pool1.fabrikam.lab'), ('be-mirror-primary', 'pool1.fabrikam.lab')),
             expected_set=('dr-vault', 0)),
    Scenario("be-lost-unpaired", "The unmirrored Back End sql21 of the unpaired pool3 is lost.",
             "B", ("6.4",), _lose("sql21.fabrikam.lab"),
             _all(_pool_ok(POOL3), _user_data_restored(POOL3)),
             forbidden=("importing user data with services running (§11.5)",),
             expected_plan=(('be-restore', 'pool3.fabrikam.lab'),), expected_set=('hq-vault', 0)),
    Scenario("cms-lost-paired", "Both Back End nodes of pool1 (CMS host) are lost; pool1 is "
             "paired with pool2, which holds the standby CMS.", "C", ("6.15", "6.16"),
             _lose("sql01.fabrikam.lab", "sql02.fabrikam.lab"),
             _all(_cms_ok(POOL2), _served(POOL1), _lis_present, _replicas_current),
             forbidden=("pool failover before CMS failover (§5.1.7)",
                        "pool failover while the Edge next hop is the failed pool (§6.16)"),
             expected_plan=(('cms-failover', 'pool1.fabrikam.lab'), ('pool-failover', 'pool1.fabrikam.lab')),
             expected_set=('dr-vault', 0)),
    Scenario("cms-se-lost-unpaired", "The Standard Edition server se01 hosting the CMS is "
             "lost; no pairing.", "C", ("6.2",), _lose(SE01),
             _all(_cms_ok(SE01), _pool_ok(SE01), _user_data_restored(SE01), _lis_present,
                  _replicas_current),
             plan="lab-se-cms.yaml",
             forbidden=("Back End before CMS when the CMS was lost (§11.2)",),
             expected_plan=(('cms-restore', 'se01.fabrikam.lab'),), expected_set=(None, 0)),
    Scenario("file-store-lost", "The file server fs01 of the HQ file store was rebuilt empty.",
             "D", ("6.9",), _file_store_lost, _file_store("fs-hq"),
             expected_plan=(('file-store-restore', 'pool1.fabrikam.lab'),), expected_set=('dr-vault', 0)),
    Scenario("pool-lost-paired", "The whole paired pool pool2 (Front Ends and Back End) is "
             "lost; the CMS is elsewhere.", "E", ("6.16",),
             _lose("fe11.fabrikam.lab", "fe12.fabrikam.lab", "fe13.fabrikam.lab",
                   "sql11.fabrikam.lab"),
             _all(_served(POOL2), _rgs_in(POOL1, POOL2)),
             expected_plan=(('pool-failover', 'pool2.fabrikam.lab'),), expected_set=('hq-vault', 0)),
    Scenario("pool-lost-unpaired", "The whole unpaired pool pool3 (Front Ends and Back End) "
             "is lost.", "E", ("6.8",),
             _lose("fe21.fabrikam.lab", "fe22.fabrikam.lab", "fe23.fabrikam.lab",
                   "sql21.fabrikam.lab"),
             _all(_pool_ok(POOL3), _user_data_restored(POOL3)),
             expected_plan=(('pool-restore', 'pool3.fabrikam.lab'),), expected_set=('hq-vault', 0)),
    Scenario("edge-lost", "The Edge server edge01 is lost.", "F", ("6.7",),
             _lose("edge01.fabrikam.lab"), _server_back("edge01.fabrikam.lab"),
             expected_plan=(('member-rebuild', 'edge01.fabrikam.lab'),), expected_set=None),
    Scenario("monitoring-db-lost", "The Monitoring and Archiving databases on sqlmon are "
             "lost (disk failure).", "G", ("6.10",), _monitoring_lost,
             _db_online("mon", ("LcsCDR", "QoEMetrics", "LcsLog"), from_backup=False),
             expected_plan=(('monitoring-archiving-restore', 'pool1.fabrikam.lab'),), expected_set=('dr-vault', 0)),
    Scenario("pchat-db-lost", "The Persistent Chat database mgc is SUSPECT.", "H", ("6.11",),
             _mgc_suspect, _db_online("pchat-sql", ("mgc",), from_backup=True),
             expected_plan=(('pchat-restore', 'pchat.fabrikam.lab'),), expected_set=('dr-vault', 0)),
    Scenario("bad-config-change", "A bad policy change disabled federation and shrank "
             "meetings; roll the configuration back.", "I", ("5.3.I",), _bad_change,
             _all(_policies_reverted, _replicas_current),
             expected_plan=(('config-rollback', None),), expected_set=('hq-vault', 0)),
    Scenario("hq-room-lost", "A fire in HQ's second server room: the Standard Edition server se01, "
             "the file server fs01 and the HQ backup vault bk01 are lost; the sets survive only in "
             "the DR vault.", "D", ("6.3", "6.9"),
             _lose("se01.fabrikam.lab", "fs01.fabrikam.lab", "bk01.fabrikam.lab"),
             _all(_pool_ok(SE01), _user_data_restored(SE01), _file_store("fs-hq")),
             expected_plan=(('se-restore', 'se01.fabrikam.lab'), ('file-store-restore', 'pool1.fabrikam.lab')),
             expected_set=('dr-vault', 0)),
    Scenario("pool-lost-shared-store", "The whole unpaired pool pool3 is lost; its file store "
             "fs-dr is shared with pool2, which wrote newer files after the last backup.", "E", ("6.8", "6.9"),
             _pool3_lost_shared_store_newer,
             _all(_pool_ok(POOL3), _user_data_restored(POOL3), _file_store("fs-dr"), _newer_files_kept("fs-dr")),
             forbidden=("overwriting a healthy shared store with older backup copies (§6.9)",),
             expected_plan=(('pool-restore', 'pool3.fabrikam.lab'),), expected_set=('hq-vault', 0)),
    Scenario("cms-pool-lost-paired", "The whole CMS pool pool1 (Front Ends, both Back End nodes "
             "and the witness) is lost; pool2 holds the standby CMS.", "E", ("6.15", "6.16"),
             _lose(*POOL1_ALL), _all(_cms_ok(POOL2), _served(POOL1), _lis_present, _replicas_current),
             forbidden=("pool failover before CMS failover (§5.1.7)",),
             expected_plan=(('cms-failover', 'pool1.fabrikam.lab'), ('pool-failover', 'pool1.fabrikam.lab')),
             expected_set=('dr-vault', 0)),
    Scenario("cms-pool-lost-failed-over", "The CMS was failed over to pool2 last week and stayed "
             "there; now the whole of pool1 is lost.", "E", ("6.15", "6.16"),
             _cms_failed_over_then_pool1_lost,
             _all(_cms_ok(POOL2), _scp_at(POOL2), _served(POOL1), _replicas_current),
             forbidden=("pulling the CMS back to a restored store (§6.15 step 7)",),
             expected_plan=(('pool-failover', 'pool1.fabrikam.lab'),), expected_set=('dr-vault', 0)),
    Scenario("cms-pool-lost-unpaired", "The unpaired pool pool3, which hosts the CMS in this "
             "variant of the lab, is lost whole (Front Ends and Back End).", "C", ("6.8", "6.2"),
             _lose("fe21.fabrikam.lab", "fe22.fabrikam.lab", "fe23.fabrikam.lab", "sql21.fabrikam.lab"),
             _all(_cms_ok(POOL3), _pool_ok(POOL3), _user_data_restored(POOL3), _lis_present,
                  _replicas_current),
             plan_changes={"topology": {"central_management": {"pool": "pool3.fabrikam.lab"}}},
             forbidden=("Front Ends before the Back End that holds the CMS (§6.8, §11.2)",),
             expected_plan=(('pool-restore', 'pool3.fabrikam.lab'),), expected_set=('hq-vault', 0)),
    Scenario("edge-site-lost", "The HQ Edge pool edge.fabrikam.lab (edge01, published for "
             "federation) is lost; the DR site's Edge pool edge2 runs.", "F", ("6.21",),
             _lose("edge01.fabrikam.lab"),
             _all(lambda dep: dep.edge_dr_problems("edge.fabrikam.lab"), _replicas_current),
             plan_changes={"topology": {"pools": [  # a second Edge pool in the DR site
                 {"fqdn": "edge2.fabrikam.lab", "role": "edge", "site": "DR", "servers": ["edge11.fabrikam.lab"],
                  "next_hop": "pool2.fabrikam.lab"}]}},
             forbidden=("running setup again on edge11 before the published federation route reached "
                        "its replica (§6.21, §6.7 step 3)",),
             expected_plan=(('edge-dr', 'edge.fabrikam.lab'),), expected_set=None),
    # the estate's transports: the same outages where the second hop fails (no host is trusted
    # for delegation: CredSSP is the way) and on an NTLM-only jump host (no Kerberos realm to
    # join: the backups are read from a mount, the databases restored by SQL Server itself)
    Scenario("be-lost-no-delegation", "The unmirrored Back End sql21 of pool3 is lost, and no server "
             "is trusted for delegation: a Kerberos ticket is never forwarded, so reading the backup "
             "shares through a Front End (the second hop) needs CredSSP.", "B", ("6.4",),
             _lose("sql21.fabrikam.lab"), _all(_pool_ok(POOL3), _user_data_restored(POOL3)),
             faults=Faults(no_delegation=True),
             expected_plan=(('be-restore', 'pool3.fabrikam.lab'),), expected_set=('hq-vault', 0)),
    Scenario("pchat-db-lost-ntlm", "The Persistent Chat database mgc is SUSPECT, and the jump host "
             "is outside the domain: WinRM with NTLM, the backup shares mounted on it.", "H", ("6.11",),
             _mgc_suspect, _db_online("pchat-sql", ("mgc",), from_backup=True),
             plan_changes={"connections": {"winrm": {"auth": "ntlm", "delegate": False}}},
             faults=Faults(backups_mounted=True),
             expected_plan=(('pchat-restore', 'pchat.fabrikam.lab'),), expected_set=('dr-vault', 0)),
    Scenario("monitoring-db-damaged-held", "A storage fault on sqlmon: LcsCDR is SUSPECT, QoEMetrics and "
             "LcsLog are damaged but online, and pool1's running Front Ends hold sessions in them.", "G",
             ("6.10",), _monitoring_damaged_in_use,
             _all(_monitoring_clean_and_open("mon", ("LcsCDR", "QoEMetrics", "LcsLog")), _pool_ok(POOL1)),
             forbidden=("restoring over a database the Lync services still use (SQL Server error 3101)",
                        "stopping pool1 to free its Monitoring databases (§6.10 step 3, §11.1)"),
             expected_plan=(('monitoring-archiving-restore', 'pool1.fabrikam.lab'),), expected_set=('dr-vault', 0)),
)


#: not a drill: nothing is broken (readiness checks, ``lab serve --scenario calm``)
CALM = Scenario("calm", "Nothing is broken: the organisation's ordinary day.", "", (),
                lambda dep: None, lambda dep: [])


def scenario(name: str) -> Scenario:
    """A drill of :data:`SCENARIOS` or :data:`CALM` by name."""
    for s in (*SCENARIOS, CALM):
        if s.name == name:
            return s
    raise KeyError(name)


def drill_scenario(name: str) -> Scenario:
    """A drill by name (:data:`CALM` is none: nothing to recover)."""
    for s in SCENARIOS:
        if s.name == name:
            return s
    raise KeyError(name)


def scenarios_command(args: argparse.Namespace) -> int:
    """``lync-restore scenarios``: one line per scenario."""
    import sys

    width = max(len(s.name) for s in SCENARIOS)
    sections = max(len(",".join(s.expected_path)) for s in SCENARIOS)
    for s in SCENARIOS:
        path = ",".join(s.expected_path)
        sys.stdout.write(f"{s.name:<{width}}  {s.outage_class}  {path:<{sections}} {s.summary}\n")
    return 0
