"""Shared builders of the step library: where commands run, backup file paths, common checks.

Every step builder receives a :class:`Ctx` (the plan, the chosen backup set, the failed pool or
server) so no builder reaches for globals, and every plan value enters PowerShell only as a
:class:`~wizard.remote.psbuild.Cmd` parameter value (quoted by psbuild) or T-SQL only as a ``?``
parameter or through :func:`~wizard.remote.sql.quote_identifier`. §6.1 (common preparation of a
rebuilt server) lives here because every rebuild path starts with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from wizard.plan.model import BackupLocation, Plan, Pool, SqlInstance
from wizard.procedures.model import (
    AllEqual,
    Check,
    Empty,
    Manual,
    NonEmpty,
    OneOf,
    PsCommand,
    SqlCommand,
    Step,
)
from wizard.remote.psbuild import Assign, Cmd, Pipeline, Raw, Statement, Switch, Var

BACKUP_SET_PLACEHOLDER = "<backup-set>"


@dataclass(frozen=True)
class Ctx:
    """What every step builder needs: the plan and the targets chosen for this procedure."""

    plan: Plan
    backup_set: str | None = None
    pool: str | None = None  # the failed / target pool FQDN
    server: str | None = None  # the failed server FQDN (member, SE)
    cms_at: str | None = None  # the pool hosting the CMS when this path starts (None: the plan's)
    #: the chosen set's SQL log backups per database (UNC paths, oldest first), for §6.10 restores
    sql_logs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def cms_pool(self) -> Pool:
        """Where the CMS is when this path starts: the plan's CMS pool, unless an earlier path of
        the plan of action failed it over (§6.15: no CMS failback is required)."""
        return self.plan.pool(self.cms_at) if self.cms_at else self.plan.cms_pool

    # ----------------------------------------------------------------- topology helpers
    def pool_of(self, fqdn: str) -> Pool:
        return self.plan.pool(fqdn)

    @property
    def target_pool(self) -> Pool:
        if self.pool is None:
            raise ValueError("this path needs a target pool")
        return self.plan.pool(self.pool)

    def fe(self, pool: Pool) -> str:
        """The Front End (or SE server) a pool's Management Shell commands run on (§6.2 step 5)."""
        return pool.servers[0]

    def partner(self, pool: Pool) -> Pool | None:
        return self.plan.pool(pool.paired_with) if pool.paired_with else None

    def back_end(self, pool: Pool) -> SqlInstance | None:
        return self.plan.sql(pool.back_end) if pool.back_end else None

    def sql_fqdn(self, pool: Pool) -> tuple[str, str | None]:
        """(SQL Server FQDN, instance) of a pool's store; SE: the server itself, rtc (§9)."""
        be = self.back_end(pool)
        if be is None:
            return pool.servers[0], "rtc"
        return be.server, be.instance

    def mirror_of(self, sql: SqlInstance) -> SqlInstance | None:
        return self.plan.sql(sql.mirror) if sql.mirror else None

    def management_host(self, pool: Pool, pool_lost: bool) -> str:
        """Where to open the Management Shell for work on ``pool``: its own FE when it runs,
        otherwise a FE of another front_end pool (its partner first)."""
        if not pool_lost:
            return self.fe(pool)
        partner = self.partner(pool)
        if partner is not None:
            return self.fe(partner)
        others = [p for p in self.plan.front_end_pools() if p.fqdn != pool.fqdn]
        return self.fe(others[0]) if others else self.fe(pool)

    def edges_using(self, pool: Pool) -> list[Pool]:
        return [p for p in self.plan.topology.pools
                if p.role == "edge" and p.next_hop and p.next_hop.lower() == pool.fqdn.lower()]

    # ----------------------------------------------------------------- backup set paths
    @property
    def failed_site(self) -> str | None:
        """The site this path acts on: the failed server's, else the target pool's."""
        if self.server:
            return self.plan.site_of_host(self.server)
        if self.pool:
            return self.target_pool.site
        return None

    def backup_location(self) -> BackupLocation:
        """Where this path reads its backup set: the chosen set's own location, else the first
        location outside the failed site (§3: keep backups where they will be available; a
        site's own vault is usually lost with it)."""
        location, _ = self.plan.resolve_set(self.backup_set) if self.backup_set else (None, "")
        return location or self.plan.locations_for(self.failed_site)[0]

    def backup_root(self) -> str:
        _, name = self.plan.resolve_set(self.backup_set) if self.backup_set else (None, BACKUP_SET_PLACEHOLDER)
        return self.backup_location().unc.rstrip("\\") + "\\" + name

    def backup_file(self, component: str, pool: str | None = None) -> str:
        layout = self.plan.backup.layout
        name = {
            "config": layout.config,
            "lis": layout.lis,
            "user_data": layout.user_data,
            "rgs": layout.rgs,
            "persistent_chat": layout.persistent_chat_export,
        }[component]
        if pool is not None:
            name = name.replace("{pool}", pool)
        return self.backup_root() + "\\" + name

    def sql_backup(self, database: str) -> str:
        return f"{self.backup_root()}\\{self.plan.backup.layout.sql_folder}\\{database}.bak"

    def filestore_backup(self, store_id: str) -> str:
        """$Backup\\filestore\\<store id> (share names repeat across sites, ids do not)."""
        return f"{self.backup_root()}\\{self.plan.backup.layout.filestore_folder}\\{store_id}"


#: where the wizard puts files it copies to a server before using them there (§6.2 step 12)
LOCAL_COPY = "C:\\lync-restore"


# --------------------------------------------------------------------- command helpers


def ps(host: str, *statements: Statement, json: Cmd | Pipeline | None = None,
       timeout_s: float = 600.0) -> PsCommand:
    return PsCommand(host, tuple(statements), json, timeout_s)


def edge_export_path(plan: Plan, edge_pool: str) -> str:
    """Where Export-CsConfiguration writes an Edge pool's configuration for its rebuild: a backup
    location outside the Edge's site when there is one, a share reachable from the internal
    network and, for the copy, from the Edge (§6.7 step 3). The zip holds the whole
    configuration, like Config.zip beside it."""
    location = plan.locations_for(plan.pool(edge_pool).site)[0]
    return location.unc.rstrip("\\") + f"\\EdgeConfig-{edge_pool}.zip"


def edge_pool_of(plan: Plan, server: str) -> Pool | None:
    """The Edge pool ``server`` belongs to, or None when it is not an Edge server."""
    return next((p for p in plan.topology.pools
                 if p.role == "edge" and server.lower() in (s.lower() for s in p.servers)), None)


def cmd(name: str, **params: str | bool | int | Switch | list[str] | Var | Raw) -> Cmd:
    """A command whose parameters keep the keyword order (Python keeps it)."""
    return Cmd(name, dict(params))


ON = Switch()


def sql(instance: SqlInstance | tuple[str, str | None], text: str, *params: str | int,
        long_running: bool = False) -> SqlCommand:
    server, inst = (instance.server, instance.instance) if isinstance(instance, SqlInstance) else instance
    return SqlCommand(server, inst, text, tuple(params), long_running)


def services_check(host: str, computer: str | None = None, *, wait_s: float = 300) -> Check:
    """§7.2: no Lync service on ``computer`` is anything but Running."""
    params: dict[str, str] = {"ComputerName": computer} if computer else {}
    return Check(
        f"Lync services on {computer or host} are running",
        ps(host, json=Pipeline(Cmd("Get-CsWindowsService", params),
                               Cmd("Select-Object", {"Property": ["Name", "Status"]}))),
        AllEqual("Status", "Running"), wait_s=wait_s, poll_s=15)


def services_stopped_check(host: str, computer: str | None = None) -> Check:
    params: dict[str, str] = {"ComputerName": computer} if computer else {}
    return Check(
        f"Lync services on {computer or host} are stopped",
        ps(host, json=Pipeline(Cmd("Get-CsWindowsService", params),
                               Cmd("Select-Object", {"Property": ["Name", "Status"]}))),
        AllEqual("Status", "Stopped"), wait_s=120, poll_s=10)


def replication_check(host: str, replica: str | None = None, *, wait_s: float = 300) -> Check:
    """§7.2: every replica (or the one named) reports UpToDate : True (converges in 2–3 min)."""
    params: dict[str, str] = {"ReplicaFqdn": replica} if replica else {}
    return Check(
        f"CMS replica{' on ' + replica if replica else 's'} up to date",
        ps(host, json=Pipeline(Cmd("Get-CsManagementStoreReplicationStatus", params),
                               Cmd("Select-Object", {"Property": ["ReplicaFqdn", "UpToDate"]}))),
        AllEqual("UpToDate", True), wait_s=wait_s, poll_s=20)


def cms_master_check(host: str, pool: Pool, *, wait_s: float = 0, or_in: Pool | None = None) -> Check:
    """§6.15 step 3 / §7.2: ActiveMasterFqdn names the CMS pool (or one of its servers); with
    ``or_in``, either pool (after a failback the CMS may stay where it went, §6.17 step 5)."""
    pools = (pool, or_in) if or_in is not None else (pool,)
    names = tuple(n for p in pools for n in (p.fqdn, *p.servers))
    return Check(
        f"CMS master is active in {' or '.join(p.fqdn for p in pools)}",
        ps(host, json=Pipeline(
            Cmd("Get-CsManagementStoreReplicationStatus", {"CentralManagementStoreStatus": ON}),
            Cmd("Select-Object", {"Property": ["ActiveMasterFqdn", "ActiveFileTransferAgents"]}))),
        OneOf("ActiveMasterFqdn", names), wait_s=wait_s, poll_s=15)


def replicas_check(host: str, servers: list[str], *, wait_s: float = 300) -> list[Check]:
    """§7.2 replication, per server expected to run (a lost server's replica cannot be current)."""
    return [replication_check(host, s, wait_s=wait_s) for s in servers]


def cms_database_check(host: str, sql_fqdn: str | None, instance: str | None, *, wait_s: float = 0) -> Check:
    """§6.2 check / §7.2: Test-CsDatabase -CentralManagementDatabase shows Succeed : True.

    Without ``sql_fqdn`` it tests the CMS wherever it is now (§7.2's form): after a mirror
    failover (§6.5) the plan's primary is no longer the CMS's principal."""
    params: dict[str, str | Switch] = {"CentralManagementDatabase": ON}
    if sql_fqdn:
        params["SqlServerFqdn"] = sql_fqdn
        if instance:
            params["SqlInstanceName"] = instance
    return Check(
        f"CMS databases on {sql_fqdn} pass Test-CsDatabase" if sql_fqdn else "CMS databases pass Test-CsDatabase",
        ps(host, json=Pipeline(Cmd("Test-CsDatabase", params),
                               Cmd("Select-Object", {"Property": ["DatabaseName", "Succeed"]}))),
        AllEqual("Succeed", True), wait_s=wait_s)


def configured_databases_check(host: str, sql_fqdn: str, *, wait_s: float = 0) -> Check:
    return Check(
        f"databases on {sql_fqdn} pass Test-CsDatabase",
        ps(host, json=Pipeline(Cmd("Test-CsDatabase", {"ConfiguredDatabases": ON, "SqlServerFqdn": sql_fqdn}),
                               Cmd("Select-Object", {"Property": ["DatabaseName", "Succeed"]}))),
        AllEqual("Succeed", True), wait_s=wait_s)


def database_exists_check(instance: SqlInstance | tuple[str, str | None], database: str) -> Check:
    return Check(
        f"database {database} exists",
        sql(instance, "SELECT name FROM sys.databases WHERE name = ? AND state_desc = 'ONLINE'", database),
        NonEmpty("name"))


def database_absent_check(instance: SqlInstance | tuple[str, str | None], database: str) -> Check:
    return Check(
        f"no database {database} exists yet",
        sql(instance, "SELECT name FROM sys.databases WHERE name = ?", database),
        Empty())


def sql_reachable_check(instance: SqlInstance | tuple[str, str | None]) -> Check:
    return Check("SQL instance answers with the same instance name",
                 sql(instance, "SELECT @@SERVERNAME AS server_name, SERVERPROPERTY('InstanceName') AS instance_name"),
                 NonEmpty("server_name"))


def fqdn_check(host: str) -> Check:
    """§11.9: the rebuilt server answers WinRM under its original FQDN (we connect by FQDN)."""
    return Check(f"{host} answers under its original FQDN",
                 ps(host, json=Cmd("Test-Path", {"LiteralPath": "C:\\"})), AllEqual(".", True))


def server_down_check(host: str, server: str) -> Check:
    """``server`` does not answer: its administrative share C$ cannot be reached from ``host``
    (restoring a file store needs local admin on the file server, §10, so C$ answers while the
    machine runs). A denial is an answer: a session that cannot make the second hop (NTLM, or
    Kerberos without delegation) is refused C$ by a server that runs, where Test-Path would say
    False as for a machine that is gone."""
    unc = f"\\\\{server}\\C$"
    return Check(f"{server} does not answer (\\\\{server}\\C$ is unreachable)",
                 ps(host, Raw("$lrAnswers = $false"), Raw("try {"),
                    Assign("lrItem", Cmd("Get-Item", {"LiteralPath": unc})), Raw("$lrAnswers = $true"),
                    Raw("} catch {"),
                    Raw("if ($_.CategoryInfo.Category -eq 'PermissionDenied') { $lrAnswers = $true }"), Raw("}"),
                    json=Cmd("Write-Output", {"InputObject": Var("lrAnswers")})),
                 AllEqual(".", False))


def file_check(host: str, path: str) -> Check:
    """``path`` can be read from ``host``. Get-Item, not Test-Path: Test-Path answers False both
    for a missing file and for a share the session may not reach (the second hop), and only the
    error tells them apart (wizard/remote/secondhop.py)."""
    return Check(f"{path} is readable from {host}",
                 ps(host, json=Pipeline(Cmd("Get-Item", {"LiteralPath": path}),
                                        Cmd("Select-Object", {"Property": ["Name"]}))), NonEmpty("Name"))


# --------------------------------------------------------------------- §6.1


def prepare_rebuild(ctx: Ctx, server: str, *, hosts_database: bool = False,
                    sql_instance: SqlInstance | None = None) -> Step:
    """§6.1: the common preparation of any rebuilt server (manual), checked by its FQDN. An Edge
    server is not domain-joined: it has no computer account and its operator is a local
    Administrator (§6.7 step 2)."""
    edge = edge_pool_of(ctx.plan, server) is not None
    lines = [
        f"Use a clean or new machine named exactly {server} (same FQDN, §11.9); " + (
            "it stays out of the domain: an Edge server has no computer account in Active Directory "
            "(§6.7 step 2)." if edge else
            "do not delete its computer account in Active Directory and check its group memberships are kept."),
        "Install Windows per the organisation's build standard and restore or re-enrol certificates"
        + (" (on the Edge itself, §6.7 step 3)." if edge else "."),
    ]
    if hosts_database and sql_instance is not None:
        lines.append(
            f"Install SQL Server {sql_instance.version or '2012 or 2008 R2'} with the instance name "
            f"'{sql_instance.instance or 'MSSQLSERVER (default)'}', the same logins and permissions (§11.10).")
    lines += [
        "Take a system image now: it is the rollback point if the restore goes wrong (§11.8).",
        "Log on as a local Administrator (the Edge is not domain-joined, §6.7 step 2)." if edge else
        "Log on as a member of RTCUniversalServerAdmins and local Administrators.",
    ]
    checks: list[Check] = []
    if hosts_database and sql_instance is not None:
        checks.append(sql_reachable_check(sql_instance))
    else:
        checks.append(fqdn_check(server))
    return Step(
        id=f"prepare-{server}",
        title=f"Prepare the rebuilt server {server}",
        section="6.1",
        why="Restores only ever target a clean server with the same FQDN, instance names and "
            "certificates, imaged before the restore (§6.1, §11.8–§11.12).",
        phase="prepare",
        manual=Manual("Windows / SQL Server setup", server, tuple(lines)),
        applies="every path that rebuilds a server",
        post_checks=tuple(checks),
        undo="Reinstall the machine; nothing in Lync has changed yet.",
        duration_s=3 * 3600,
        tags=frozenset({f"prepared@{server}", "system-image"}),
    )


__all__ = [
    "BACKUP_SET_PLACEHOLDER",
    "ON",
    "Check",
    "Ctx",
    "cmd",
    "edge_export_path",
    "edge_pool_of",
    "prepare_rebuild",
    "ps",
    "sql",
]
