"""Named outages for drills: each breaks the lab the way a real incident would, says which
documented recovery path fixes it, and scores the result.

A :class:`Scenario` has a name, a one-line summary, the §5.3 outage class (A-I), the plan it
runs on, ``apply(dep)`` (writes the backup sets while the deployment is still healthy, then
breaks it), optional :class:`Faults` (a corrupt newest set, a set without E911Config.zip, a
broken log chain, a host dropping one WinRM request in five, a slow restore, a full disk), the
expected recovery path as §5.2/§6 section ids, and ``service_restored(dep)`` - an empty list
when service is back, else one sentence per thing still wrong - so a drill can be scored.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from lab.backupset import SetFaults, write_backup_sets
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
    faults: Faults = field(default_factory=Faults)
    #: an order the doc warns against, as (description, §) for drill briefings
    forbidden: tuple[str, ...] = ()

    def with_faults(self, **kwargs: Any) -> Scenario:
        return replace(self, faults=replace(self.faults, **kwargs))

    def apply(self, dep: LabDeployment) -> None:
        """Take the backup sets (healthy), then break the deployment, then add the faults."""
        f = self.faults
        with dep.lock:
            write_backup_sets(dep, faults=SetFaults(corrupt_newest=f.corrupt_newest_set,
                                                    missing_e911_in_newest=f.missing_e911,
                                                    broken_log_chain=f.broken_log_chain))
            self.damage(dep)
            for inst in dep.instances.values():
                if f.slow_restore:
                    inst.throughput_bytes_per_sec = 2 * 1024 * 1024
                if f.full_disk:
                    inst.fault_disk_full = True
            dep.log("lab", f"scenario {self.name} applied")

    def service_restored(self, dep: LabDeployment) -> list[str]:
        with dep.lock:
            return self.check(dep)


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
             _all(_server_back("fe02.fabrikam.lab"), _pool_ok(POOL1))),
    Scenario("be-primary-lost-witness", "Mirrored Back End primary sql01 of pool1 is lost; "
             "the witness failed the databases over to sql02.", "B", ("6.15", "6.5"), _auto_failover,
             _all(_pool_ok(POOL1), _cms_ok(), _mirror_rebuilt(POOL1))),
    Scenario("be-primary-lost-no-witness", "sql01 and the witness are lost; pool1's databases "
             "sit unserved on the mirror sql02 until an admin fails them over.", "B",
             ("6.15", "6.18", "6.5"), _lose("sql01.fabrikam.lab", "sqlwit.fabrikam.lab"),
             _all(_pool_ok(POOL1), _cms_ok())),
    Scenario("be-lost-unpaired", "The unmirrored Back End sql21 of the unpaired pool3 is lost.",
             "B", ("6.4",), _lose("sql21.fabrikam.lab"),
             _all(_pool_ok(POOL3), _user_data_restored(POOL3)),
             forbidden=("importing user data with services running (§11.5)",)),
    Scenario("cms-lost-paired", "Both Back End nodes of pool1 (CMS host) are lost; pool1 is "
             "paired with pool2, which holds the standby CMS.", "C", ("6.15", "6.16"),
             _lose("sql01.fabrikam.lab", "sql02.fabrikam.lab"),
             _all(_cms_ok(POOL2), _served(POOL1), _lis_present, _replicas_current),
             forbidden=("pool failover before CMS failover (§5.1.7)",
                        "pool failover while the Edge next hop is the failed pool (§6.16)")),
    Scenario("cms-se-lost-unpaired", "The Standard Edition server se01 hosting the CMS is "
             "lost; no pairing.", "C", ("6.2",), _lose(SE01),
             _all(_cms_ok(SE01), _pool_ok(SE01), _user_data_restored(SE01), _lis_present,
                  _replicas_current),
             plan="lab-se-cms.yaml",
             forbidden=("Back End before CMS when the CMS was lost (§11.2)",)),
    Scenario("file-store-lost", "The file server fs01 of the HQ file store was rebuilt empty.",
             "D", ("6.9",), _file_store_lost, _file_store("fs-hq")),
    Scenario("pool-lost-paired", "The whole paired pool pool2 (Front Ends and Back End) is "
             "lost; the CMS is elsewhere.", "E", ("6.16",),
             _lose("fe11.fabrikam.lab", "fe12.fabrikam.lab", "fe13.fabrikam.lab",
                   "sql11.fabrikam.lab"),
             _all(_served(POOL2), _rgs_in(POOL1, POOL2))),
    Scenario("pool-lost-unpaired", "The whole unpaired pool pool3 (Front Ends and Back End) "
             "is lost.", "E", ("6.8",),
             _lose("fe21.fabrikam.lab", "fe22.fabrikam.lab", "fe23.fabrikam.lab",
                   "sql21.fabrikam.lab"),
             _all(_pool_ok(POOL3), _user_data_restored(POOL3))),
    Scenario("edge-lost", "The Edge server edge01 is lost.", "F", ("6.7",),
             _lose("edge01.fabrikam.lab"), _server_back("edge01.fabrikam.lab")),
    Scenario("monitoring-db-lost", "The Monitoring and Archiving databases on sqlmon are "
             "lost (disk failure).", "G", ("6.10",), _monitoring_lost,
             _db_online("mon", ("LcsCDR", "QoEMetrics", "LcsLog"), from_backup=False)),
    Scenario("pchat-db-lost", "The Persistent Chat database mgc is SUSPECT.", "H", ("6.11",),
             _mgc_suspect, _db_online("pchat-sql", ("mgc",), from_backup=True)),
    Scenario("bad-config-change", "A bad policy change disabled federation and shrank "
             "meetings; roll the configuration back.", "I", ("5.3.I",), _bad_change,
             _all(_policies_reverted, _replicas_current)),
)


def scenario(name: str) -> Scenario:
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
