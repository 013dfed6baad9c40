"""Central Management store steps: restore (§6.2), failover to the paired pool (§6.15) and the
manual DR move (§6.15b).

The CMS comes first in every path that touches it (§11.2): a Back End restore publishes the
topology and a pool failover needs a working CMS, so these steps carry the ``cms-available`` tag
that :mod:`wizard.procedures.compose` requires before those steps.
"""

from __future__ import annotations

from wizard.plan.model import Pool
from wizard.procedures.library.common import (
    ON,
    Ctx,
    cms_database_check,
    cms_master_check,
    database_exists_check,
    file_check,
    ps,
    replicas_check,
    sql_reachable_check,
)
from wizard.procedures.model import Blank, Check, Contains, Manual, NonEmpty, OneOf, PsCommand, Step
from wizard.remote.psbuild import Cmd, Pipeline, Switch, Value


def cms_restore_steps(ctx: Ctx, pool: Pool, *, pool_lost: bool) -> list[Step]:
    """§6.2 steps 6–9: recreate an empty CMS store, point AD at it, import, enable."""
    sql_fqdn, inst = ctx.sql_fqdn(pool)
    host = ctx.management_host(pool, pool_lost and pool.edition == "enterprise")
    scope = pool.fqdn
    loc: dict[str, Value] = {"SqlServerFqdn": sql_fqdn}
    if inst:
        loc["SqlInstanceName"] = inst
    install = Cmd("Install-CsDatabase", {"CentralManagementDatabase": ON, "Clean": ON, **loc, "Verbose": ON})
    set_loc = Cmd("Set-CsConfigurationStoreLocation", {**loc, "Verbose": ON})
    config_zip = ctx.backup_file("config")
    where = f"{sql_fqdn}\\{inst}" if inst else sql_fqdn
    enable_commands: tuple[PsCommand, ...] = (ps(host, Cmd("Enable-CsTopology", {"Verbose": ON}),
                                                 Cmd("Invoke-CsManagementStoreReplication")),)
    cms_service = Check("the CMS store holds a topology with a CMS service",
                        ps(host, json=Pipeline(Cmd("Get-CsService", {"CentralManagement": ON}),
                                               Cmd("Select-Object", {"Property": ["Identity"]}))),
                        NonEmpty("Identity"))
    enable_checks: tuple[Check, ...] = (cms_database_check(host, sql_fqdn, inst), cms_service,
                                        cms_master_check(host, pool, wait_s=300),
                                        *replicas_check(host, list(pool.servers), wait_s=600))
    if pool.edition == "standard" or pool_lost:
        # The CMS master runs on the pool's own servers: an SE's start with its Deployment Wizard
        # Steps 1-4 (§6.2 step 11), a lost EE pool's with its Front Ends, rebuilt after the Back
        # End (§6.8). Until then no master can be active and nothing replicates: the store and the
        # imported topology are what can be proved now; §7.2 checks master and replicas at the end.
        enable_commands = (ps(host, Cmd("Enable-CsTopology", {"Verbose": ON})),)
        enable_checks = (cms_database_check(host, sql_fqdn, inst),)
        if pool.edition == "enterprise":  # read from a Front End of another pool, which runs
            enable_checks += (cms_service,)
    steps = [
        Step(
            id="cms-install-database",
            title=f"Recreate an empty CMS store (xds, lis) on {where}",
            section="6.2",
            why="The CMS store must exist, empty, with the original instance name before the "
                "configuration can be imported; -Clean drops whatever is there (§6.2 step 6, §9)." + (
                    " If the mirror still carries the CMS, back up that surviving copy first with the "
                    "organisation's backup job and restore both nodes from it (§5.3 C, S20): it is newer "
                    "than any set, and the wizard cannot take a set in the middle of a path." if
                    (be := ctx.back_end(pool)) is not None and be.mirror else ""),
            phase="cms",
            commands=(ps(host, install, timeout_s=1800),),
            applies="the CMS pool's store is lost and the pool is not paired (or not failed over)",
            requires=(sql_reachable_check((sql_fqdn, inst)),),
            already_done=cms_database_check(host, sql_fqdn, inst),
            post_checks=(database_exists_check((sql_fqdn, inst), "xds"),
                         database_exists_check((sql_fqdn, inst), "lis")),
            destructive=True, confirm_text="xds", second_operator=True,
            undo="None: -Clean deletes and reinstalls the CMS databases; only a SQL backup brings "
                 "back what was there.",
            duration_s=300,
            tags=frozenset({f"cms-database@{scope}"}),
        ),
        Step(
            id="cms-set-location",
            title=f"Point Active Directory at the CMS store on {where}",
            section="6.2",
            why="AD's service control point tells every server where the CMS is; it must name the "
                "recreated store (§6.2 step 7, §1).",
            phase="cms",
            commands=(ps(host, set_loc),),
            applies="after the CMS store was recreated",
            already_done=Check("AD points at the CMS store",
                               ps(host, json=Cmd("Get-CsConfigurationStoreLocation")),
                               Contains(".", sql_fqdn)),
            post_checks=(Check("AD points at the CMS store",
                               ps(host, json=Cmd("Get-CsConfigurationStoreLocation")),
                               Contains(".", sql_fqdn)),),
            destructive=True, confirm_text=sql_fqdn,
            undo="Rerun Set-CsConfigurationStoreLocation with the previous SQL Server (§8: rerunnable).",
            duration_s=60,
            needs=(f"cms-database@{scope}",),
            tags=frozenset({f"cms-location@{scope}"}),
        ),
        Step(
            id="cms-import-configuration",
            title="Import the configuration backup into the CMS store",
            section="6.2",
            why="Config.zip holds the topology, policies and settings; the empty store needs them "
                "back (§6.2 step 8, §2.1).",
            phase="cms",
            commands=(ps(host, Cmd("Import-CsConfiguration", {"FileName": config_zip})),),
            applies="after AD points at the recreated CMS store",
            requires=(file_check(host, config_zip),),
            already_done=cms_service,
            # Until Enable-CsTopology (next step) the imported topology is not active, so the CMS
            # service cannot be read yet: the store must still be sound; the next step proves it.
            post_checks=(cms_database_check(host, sql_fqdn, inst),),
            destructive=True, confirm_text="xds",
            undo="Import an older configuration export; every change since that export is lost.",
            duration_s=300,
            needs=(f"cms-location@{scope}",),
            tags=frozenset({f"cms-config@{scope}"}),
        ),
        Step(
            id="cms-enable-topology",
            title="Enable the imported topology",
            section="6.2",
            why="Enable-CsTopology activates the topology document now in the database and sets "
                "file-store ACLs (§6.2 step 9, §6.9).",
            phase="cms",
            commands=enable_commands,
            applies="after the configuration import",
            post_checks=enable_checks,
            undo="Nothing to undo: enabling the same topology again is harmless.",
            duration_s=300,
            needs=(f"cms-config@{scope}",),
            tags=frozenset({"cms-available", f"cms-available@{scope}", "topology-enabled"}),
        ),
    ]
    return steps


def _replication_status(host: str) -> PsCommand:
    return ps(host, json=Pipeline(
        Cmd("Get-CsManagementStoreReplicationStatus", {"CentralManagementStoreStatus": ON}),
        Cmd("Select-Object", {"Property": ["ActiveMasterFqdn", "ActiveFileTransferAgents"]})))


def _master_in(host: str, pool: Pool, title: str) -> Check:
    return Check(f"{title} {pool.fqdn}", _replication_status(host),
                 OneOf("ActiveMasterFqdn", (pool.fqdn, *pool.servers)))


def cms_failover_steps(ctx: Ctx, cms_pool: Pool) -> list[Step]:
    """§6.15: fail the CMS over to the paired pool's standby store (disaster mode)."""
    backup = ctx.partner(cms_pool)
    if backup is None:
        raise ValueError(f"{cms_pool.fqdn} has no paired pool: the CMS cannot fail over (§6.15)")
    host = ctx.fe(backup)  # run on a server of the pool we fail over TO (P1)
    be = ctx.back_end(backup)
    sql_fqdn, inst = ctx.sql_fqdn(backup)
    params: dict[str, Value] = {"BackupSqlServerFqdn": sql_fqdn}
    if inst:
        params["BackupSqlInstanceName"] = inst
    mirror = ctx.mirror_of(be) if be else None
    if mirror is not None:
        params["BackupMirrorSqlServerFqdn"] = mirror.server
        if mirror.instance:
            params["BackupMirrorSqlInstanceName"] = mirror.instance
    params["Force"] = ON
    params["Verbose"] = ON
    assess = [
        ps(host, json=Cmd("Get-CsPoolBackupRelationship", {"PoolFqdn": cms_pool.fqdn})),
        ps(host, json=Pipeline(
            Cmd("Get-CsManagementStoreReplicationStatus", {"CentralManagementStoreStatus": ON}),
            Cmd("Select-Object", {"Property": ["ActiveMasterFqdn", "ActiveFileTransferAgents"]}))),
        ps(host, json=Cmd("Get-CsDatabaseMirrorState", {"DatabaseType": "CentralMgmt",
                                                         "PoolFqdn": backup.fqdn})),
    ]

    def failover_step(step_id: str, title: str, why: str, command: Cmd, applies: str, only_if: Check) -> Step:
        """One way to fail the CMS over; the two differ in their command and when they apply."""
        return Step(
            id=step_id, title=title, section="6.15", why=why, phase="failover",
            commands=(ps(host, command, timeout_s=1800),), applies=applies, only_if=only_if,
            already_done=cms_master_check(host, backup),
            post_checks=(cms_master_check(host, backup, wait_s=600),),
            destructive=True, confirm_text=backup.fqdn,
            undo="No failback of the CMS is needed (§6.15 step 7); to move it again use "
                 "Move-CsManagementServer once the old pool is healthy.",
            duration_s=600, needs=("cms-assessed",),
            tags=frozenset({"cms-failover", "cms-available", f"cms-available@{backup.fqdn}"}))

    return [
        Step(
            id="cms-failover-assess",
            title=f"Confirm {backup.fqdn} is the CMS backup pool and find its principal",
            section="6.15",
            why="Before a CMS failover, confirm the pairing and that the CMS master is really gone "
                "(empty ActiveMasterFqdn), and see which Back End is principal (§6.15 steps 2–4).",
            phase="failover",
            commands=tuple(assess),
            applies="the CMS pool is paired and its CMS is unavailable",
            post_checks=(Check(f"{cms_pool.fqdn} is backed up by {backup.fqdn}",
                               ps(host, json=Cmd("Get-CsPoolBackupRelationship", {"PoolFqdn": cms_pool.fqdn})),
                               Contains("BackupPoolFqdn", backup.fqdn)),),
            duration_s=60,
            tags=frozenset({"cms-assessed"}),
        ),
        failover_step(
            "cms-failover-planned", f"Fail the CMS over to {backup.fqdn} (planned: its master still runs)",
            "A CMS master is still active (for instance on the mirror of a lost primary), so the planned failover "
            "is the one to use: no target parameters and no -Force; it waits for replication and makes the "
            "source read-only first. Never use -Force outside disaster recovery (§6.15 steps 3 and 5, P1).",
            Cmd("Invoke-CsManagementServerFailover", {"Confirm": Switch(False), "Verbose": ON}),
            "a CMS master is still active in the CMS pool",
            _master_in(host, cms_pool, "a CMS master is still active in")),
        failover_step(
            "cms-failover", f"Fail the CMS over to {backup.fqdn} (disaster recovery)",
            "With no CMS master active (empty ActiveMasterFqdn) no configuration change is possible and a pool "
            "failover cannot run; -Force is the disaster-recovery set and is mandatory there (§6.15 steps 3 "
            "and 5, §5.1 rule 7, §11.29).",
            Cmd("Invoke-CsManagementServerFailover", params),
            "paired CMS pool lost: no CMS master active",
            Check("no CMS master is active", _replication_status(host), Blank("ActiveMasterFqdn"))),
    ]


def cms_move_steps(ctx: Ctx, cms_pool: Pool, target: Pool) -> list[Step]:
    """§6.15b (inferred for a 2013-hosted CMS): recreate the CMS store in ``target`` and move."""
    sql_fqdn, inst = ctx.sql_fqdn(target)
    host = ctx.fe(target)
    install: dict[str, Value] = {"CentralManagementDatabase": ON, "Clean": ON, "SqlServerFqdn": sql_fqdn}
    if inst:
        install["SqlInstanceName"] = inst
    config_zip = ctx.backup_file("config")
    lis_zip = ctx.backup_file("lis")
    others = target.servers[1:]
    return [
        Step(
            id="cms-move-install-database",
            title=f"Create the CMS store in {target.fqdn}",
            section="6.15b",
            why="Move-CsManagementServer needs an existing CMS database in the target pool "
                "(§6.15b; S33 gives this path for a CMS on Lync 2010, other uses are inferred).",
            phase="cms",
            commands=(ps(host, Cmd("Install-CsDatabase", install)),),
            applies="manual DR move of the CMS to another pool",
            requires=(sql_reachable_check((sql_fqdn, inst)),),
            post_checks=(database_exists_check((sql_fqdn, inst), "xds"),),
            destructive=True, confirm_text="xds", second_operator=True,
            undo="None: -Clean drops and recreates the target CMS databases.",
            duration_s=300,
            tags=frozenset({f"cms-database@{target.fqdn}"}),
        ),
        Step(
            id="cms-move",
            title=f"Move the Central Management Server to {target.fqdn}",
            section="6.15b",
            why="Run locally on a Front End of the target pool; -Force because the source is "
                "offline. A failure can leave no working CMS: fix and rerun (§6.15b, §11.28).",
            phase="cms",
            commands=(ps(host, Cmd("Move-CsManagementServer", {
                "ConfigurationFileName": config_zip, "LisConfigurationFileName": lis_zip, "Force": ON})),),
            applies="manual DR move of the CMS to another pool",
            requires=(file_check(host, config_zip), file_check(host, lis_zip)),
            already_done=cms_master_check(host, target),
            post_checks=(cms_master_check(host, target, wait_s=600),),
            destructive=True, confirm_text=target.fqdn,
            undo="Rerun Move-CsManagementServer on the old pool to cancel the move (§6.15b).",
            duration_s=900,
            needs=(f"cms-database@{target.fqdn}",),
            tags=frozenset({"cms-available", f"cms-available@{target.fqdn}", "cms-failover"}),
        ),
        Step(
            id="cms-move-bootstrap",
            title=f"Install the CMS service on the other Front Ends of {target.fqdn}",
            section="6.15b",
            why="Move-CsManagementServer lists computers that need local setup; the other Front "
                "Ends of the new CMS pool get the service by running Bootstrapper (§6.15b).",
            phase="cms",
            manual=Manual("Bootstrapper", ", ".join(others) or host, (
                "On each listed Front End run '<system drive>\\Program Files\\Microsoft Lync Server "
                "2013\\Deployment\\Bootstrapper.exe /Setup' (path per §11.45).",
                "Confirm here when it finished on every server.")),
            applies="after a CMS move",
            post_checks=tuple(replicas_check(host, list(target.servers), wait_s=600)),
            undo="Nothing to undo.",
            duration_s=900,
            needs=("cms-available",),
        ),
    ]
