"""Server and Back End steps: Standard Edition (§6.3), EE Back End (§6.4), mirrored Back End
(§6.5, §6.6, §6.18), member servers (§6.7) and the Deployment Wizard work of a whole pool (§6.8).

Topology Builder and Deployment Wizard work cannot be scripted: those steps are
:class:`~wizard.procedures.model.Manual` with exact instructions, and their post-checks (services
running, replica up to date, databases pass Test-CsDatabase) prove the operator's work.
"""

from __future__ import annotations

from wizard.plan.model import Pool, SqlInstance
from wizard.procedures.library.common import (
    ON,
    Ctx,
    cms_master_check,
    configured_databases_check,
    database_exists_check,
    edge_export_path,
    ps,
    replication_check,
    services_check,
)
from wizard.procedures.model import AllEqual, Check, Empty, Manual, NoneEqual, SqlCommand, Step
from wizard.remote.psbuild import Cmd, Pipeline, Value


def db_types(ctx: Ctx, pool: Pool) -> list[str]:
    """Database types configured on a pool's Back End (§8 -DatabaseType; §6.18: every type)."""
    types = ["User", "Application"]
    if ctx.cms_pool.fqdn.lower() == pool.fqdn.lower():
        types.append("CentralMgmt")
    return types


def be_databases_step(ctx: Ctx, pool: Pool, host: str) -> Step:
    """§6.4 step 3: recreate the pool's Back End databases (Install-CsDatabase alternative)."""
    sql_fqdn, inst = ctx.sql_fqdn(pool)
    return Step(
        id=f"be-databases-{pool.fqdn}",
        title=f"Recreate the Back End databases of {pool.fqdn} on {sql_fqdn}",
        section="6.4",
        why="The rebuilt SQL instance is empty; the configured databases are recreated from the "
            "topology, which needs a working CMS (§6.4 step 3 and prerequisite, §11.2).",
        phase="back_end",
        commands=(ps(host, Cmd("Install-CsDatabase", {"ConfiguredDatabases": ON, "SqlServerFqdn": sql_fqdn}),
                     timeout_s=1800),),
        applies="the pool's Back End SQL instance was rebuilt",
        already_done=configured_databases_check(host, sql_fqdn),
        post_checks=(configured_databases_check(host, sql_fqdn), database_exists_check((sql_fqdn, inst), "rtcxds")),
        undo="Nothing to undo: the databases are new and empty.",
        duration_s=900,
        needs=("cms-available",),
        tags=frozenset({f"backend-restored@{pool.fqdn}", "backend-restored"}),
    )


def be_mirror_create_step(ctx: Ctx, pool: Pool, primary: SqlInstance, mirror: SqlInstance,
                          section: str) -> Step:
    """§6.4 step 3 / §6.5 step 8 / §6.6 step 3: Topology Builder creates the mirror databases, with
    the plan's witness when the Back End has one (so automatic failover comes back, §5.3 B)."""
    be = ctx.back_end(pool)
    witness = ctx.plan.sql(be.witness) if be is not None and be.witness else None
    with_witness = (f" Tick 'Use SQL Server mirroring witness to enable automatic failover' and set the witness to "
                    f"{witness.server}\\{witness.instance or 'default'}." if witness is not None else "")
    return Step(
        id=f"be-mirror-create-{pool.fqdn}",
        title=f"Create the mirror databases on {mirror.server}",
        section=section,
        why=f"Mirroring is set up by Topology Builder's Install Database wizard (Create Mirror "
            f"Database); any change to mirroring requires restarting the pool's Front Ends (§{section}, §11.33).",
        phase="back_end",
        manual=Manual("Topology Builder", ctx.fe(pool), (
            "Topology Builder: Download Topology from existing deployment and save it.",
            f"Edit the properties of {pool.fqdn}: tick 'Enable SQL Server store mirroring' and set the "
            f"mirroring SQL Server store to {mirror.server}\\{mirror.instance or 'default'}.{with_witness} OK.",
            "Right-click the pool > Topology > Install Database, select the databases and continue to "
            "'Create Mirror Database'; Finish.",
        )),
        applies="the pool's Back End is mirrored",
        post_checks=(Check(f"rtcxds on {mirror.server} is the mirror",
                           SqlCommand(mirror.server, mirror.instance,
                                      "SELECT mirroring_role_desc FROM sys.database_mirroring "
                                      "WHERE database_id = DB_ID(?)", ("rtcxds",)),
                           AllEqual("mirroring_role_desc", "MIRROR")),),
        undo="Uninstall-CsMirrorDatabase for each database type.",
        duration_s=1800,
        needs=("cms-available",),
        tags=frozenset({"topology-publish", f"mirror-created@{pool.fqdn}"}),
    )


def fe_restart_step(ctx: Ctx, pool: Pool, section: str, why: str, *, after: str = "") -> Step:
    """Restart every Front End of the pool, one at a time (``after`` names a second restart in the
    same procedure, e.g. after the mirror is re-created)."""
    host = ctx.fe(pool)
    cmds = []
    for fe in pool.servers:
        cmds.append(ps(host, Cmd("Stop-CsWindowsService", {"ComputerName": fe}),
                       Cmd("Start-CsWindowsService", {"ComputerName": fe}), timeout_s=1200))
    return Step(
        id=f"fe-restart-{pool.fqdn}" + (f"-after-{after}" if after else ""),
        title=f"Restart the Lync services on each Front End of {pool.fqdn}, one at a time",
        section=section,
        why=why,
        phase="back_end",
        commands=tuple(cmds),
        applies="the pool's mirroring relationship changed",
        post_checks=tuple(services_check(host, fe) for fe in pool.servers),
        destructive=True, confirm_text=pool.fqdn,
        undo="Nothing to undo; start any service still stopped.",
        duration_s=300 * len(pool.servers),
    )


def mirror_failover_step(ctx: Ctx, pool: Pool, new_principal: str) -> Step:
    """§6.18 / §6.5 step 2: fail every configured database type over (mirror <-> primary)."""
    host = ctx.fe(pool)
    be = ctx.back_end(pool)
    survivor = ctx.mirror_of(be) if be and new_principal == "Mirror" else be
    cmds = tuple(ps(host, Cmd("Invoke-CsDatabaseFailover", {"PoolFqdn": pool.fqdn, "DatabaseType": t,
                                                            "NewPrincipal": new_principal, "Force": ON, "Verbose": ON}))
                 for t in db_types(ctx, pool))
    already = None
    if survivor is not None:
        already = Check(f"rtcxds is principal on {survivor.server}",
                        SqlCommand(survivor.server, survivor.instance,
                                   "SELECT mirroring_role_desc FROM sys.database_mirroring "
                                   "WHERE database_id = DB_ID(?)", ("rtcxds",)),
                        AllEqual("mirroring_role_desc", "PRINCIPAL"))
    return Step(
        id=f"db-failover-{pool.fqdn}",
        title=f"Fail every Back End database of {pool.fqdn} over to the {new_principal.lower()}",
        section="6.18",
        why="Without a witness nobody fails the databases over; fail over every configured type, "
            "not only User and CentralMgmt, with -Force because the principal is unreachable "
            "(§6.18, §6.5 step 2, §5.3 B).",
        phase="back_end",
        commands=cmds,
        applies="mirrored Back End whose principal is lost (skip when the witness already failed over)",
        already_done=already,
        post_checks=((already,) if already else ()),
        destructive=True, confirm_text=pool.fqdn,
        undo="Fail back with -NewPrincipal " + ("Primary" if new_principal == "Mirror" else "Mirror") + ".",
        duration_s=300,
        tags=frozenset({f"db-failover@{pool.fqdn}", "cms-available"} if "CentralMgmt" in db_types(ctx, pool)
                       else {f"db-failover@{pool.fqdn}"}),
    )


def mirror_uninstall_step(ctx: Ctx, pool: Pool, survivor: SqlInstance, section: str) -> Step:
    host = ctx.fe(pool)
    cmds = []
    for t in db_types(ctx, pool):
        params: dict[str, Value] = {"DatabaseType": t, "SqlServerFqdn": survivor.server}
        if survivor.instance:
            params["SqlInstanceName"] = survivor.instance
        params["Verbose"] = ON
        cmds.append(ps(host, Cmd("Uninstall-CsMirrorDatabase", params)))
    return Step(
        id=f"be-mirror-uninstall-{pool.fqdn}",
        title=f"Remove mirroring of every database type, keeping {survivor.server}",
        section=section,
        why=f"The dead node cannot stay a mirror; -SqlServerFqdn is the surviving server and "
            f"-SqlInstanceName is always passed (omitted = default instance) (§{section}, §6.5 step 6).",
        phase="back_end",
        commands=tuple(cmds),
        applies="mirrored Back End with one node lost",
        post_checks=(Check(f"rtcxds on {survivor.server} is no longer mirrored",
                           SqlCommand(survivor.server, survivor.instance,
                                      "SELECT mirroring_role_desc FROM sys.database_mirroring "
                                      "WHERE database_id = DB_ID(?) AND mirroring_role_desc IS NOT NULL",
                                      ("rtcxds",)),
                           Empty()),),
        destructive=True, confirm_text=pool.fqdn,
        undo="Recreate the mirror with Topology Builder (Create Mirror Database).",
        duration_s=600,
        needs=("cms-available",),
        tags=frozenset({"topology-publish", f"mirror-removed@{pool.fqdn}"}),
    )


def mirror_topology_step(ctx: Ctx, pool: Pool, survivor: SqlInstance) -> Step:
    """§6.5 steps 3–4: Topology Builder clears mirroring and points the pool at the survivor."""
    return Step(
        id=f"be-mirror-topology-{pool.fqdn}",
        title=f"Topology Builder: point {pool.fqdn} at {survivor.server} without mirroring",
        section="6.5",
        why="The topology must name the surviving server as the SQL store before mirroring is removed "
            "(§6.5 steps 3–4); publishing needs the CMS (§11.2).",
        phase="back_end",
        manual=Manual("Topology Builder", ctx.fe(pool), (
            f"Edit Properties of {pool.fqdn} > General > Associations: clear 'Enable SQL Server store "
            "mirroring' (also for Archiving/Monitoring if mirrored); OK; Publish.",
            f"Set 'SQL Server store' to {survivor.server}\\{survivor.instance or 'default'}; OK; Publish again.",
        )),
        applies="mirrored Back End whose primary is lost",
        post_checks=(configured_databases_check(ctx.fe(pool), survivor.server),),
        undo="Republish the previous topology with Topology Builder.",
        duration_s=900,
        needs=("cms-available", f"db-failover@{pool.fqdn}"),
        tags=frozenset({"topology-publish"}),
    )


def deployment_wizard_step(ctx: Ctx, server: str, pool: Pool, *, section: str = "6.7") -> Step:
    """§6.7 step 3 / §6.3 step 5: Deployment Wizard steps 1–4 on a rebuilt server."""
    edge = pool.role == "edge"
    who = "local Administrator" if edge else "RTCUniversalServerAdmins + local Administrators"
    lines = [f"Log on to {server} as {who}."]
    if section == "6.3":
        lines.append("Topology Builder: Download Topology from existing deployment and save it (§6.3 step 4).")
    lines += [
        "Run the Deployment Wizard from the Lync media (\\setup\\amd64\\Setup.exe).",
        "Step 1: Install Local Configuration Store" + (
            " - choose 'Import from a file (Recommended for Edge Servers)' and point to the zip exported "
            f"in the previous step, {edge_export_path(ctx.plan, pool.fqdn)} (copy it to the Edge by USB "
            "if that share cannot be reached from it)." if edge else "."),
        "Step 2: Setup or Remove Lync Server Components.",
        "Step 3: Request, Install or Assign Certificates.",
        "Step 4: Start Services.",
    ]
    waits_for_quorum = section == "6.8" and pool.role == "front_end" and len(pool.servers) > 2
    checks = [services_started_check(server, pool) if waits_for_quorum else services_check(server, wait_s=600)]
    if edge:  # §6.7 step 3: its configuration then replicates on its own; the CMS is read from inside
        checks.append(replication_check(edge_internal_host(ctx, pool), server, wait_s=600))
    else:
        checks.append(replication_check(server, server, wait_s=600))
    if section == "6.2":  # the SE hosting the CMS: its master starts with its services (§6.2 step 11)
        checks.append(cms_master_check(server, pool, wait_s=300))
    tags = {f"frontend-rebuilt@{pool.fqdn}", f"server-rebuilt@{server}"} if pool.role == "front_end" \
        else {f"server-rebuilt@{server}"}
    return Step(
        id=f"deploy-{server}",
        title=f"Run the Deployment Wizard on {server}",
        section=section,
        why=f"A rebuilt Lync server gets its local store, roles, certificates and services from the "
            f"Deployment Wizard (§{section}, §6.1)." + (
                " An Edge's store is imported from the exported zip; after install its configuration replicates "
                "automatically, so its replica must then report up to date (§6.7 step 3, §7.2)." if edge else ""),
        phase="front_end" if pool.role in ("front_end", "director", "mediation", "persistent_chat") else "edge",
        manual=Manual("Deployment Wizard", server, tuple(lines)),
        applies="the server was rebuilt with the same FQDN",
        post_checks=tuple(checks),
        undo="Reinstall the server from the system image taken at preparation.",
        duration_s=5400,
        needs=(f"prepared@{server}",),
        tags=frozenset(tags),
    )


def services_started_check(server: str, pool: Pool) -> Check:
    """§6.8 / §5.4: in a whole-pool restore the first Front Ends' Front-End service waits for pool
    quorum (StartPending); Step 4 is done when no Lync service is left Stopped. §7 later requires
    every service Running."""
    return Check(
        f"Lync services on {server} are started (the Front-End service waits for the quorum of {pool.fqdn})",
        ps(server, json=Pipeline(Cmd("Get-CsWindowsService"), Cmd("Select-Object", {"Property": ["Name", "Status"]}))),
        NoneEqual("Status", "Stopped"), wait_s=600, poll_s=15)


def edge_internal_host(ctx: Ctx, edge_pool: Pool) -> str:
    """Where the Management Shell runs for an Edge pool's work: a server of its next hop (else of the
    CMS pool). The Edge is outside the domain and cannot read the CMS itself (§6.7 steps 2-3)."""
    internal = ctx.plan.pool(edge_pool.next_hop) if edge_pool.next_hop else ctx.cms_pool
    return ctx.fe(internal)


def edge_export_step(ctx: Ctx, edge_pool: Pool) -> Step:
    """§6.7 step 3 (Edge): export the configuration on the internal network for the Edge."""
    host = edge_internal_host(ctx, edge_pool)
    path = edge_export_path(ctx.plan, edge_pool.fqdn)
    return Step(
        id=f"edge-export-{edge_pool.fqdn}",
        title=f"Export the configuration for the Edge pool {edge_pool.fqdn}",
        section="6.7",
        why="Edge servers are outside the domain: their local store is imported from a zip made on "
            "the internal network with Export-CsConfiguration (§6.7 step 3, §5.3 F).",
        phase="edge",
        commands=(ps(host, Cmd("Export-CsConfiguration", {"FileName": path, "Force": ON})),),
        applies="an Edge server is rebuilt",
        post_checks=(Check(f"{path} exists on {host}", ps(host, json=Cmd("Test-Path", {"LiteralPath": path})),
                           AllEqual(".", True)),),
        undo="Delete the zip (it holds the whole configuration: keep it safe).",
        duration_s=120,
    )
