"""Failover steps: pool failover (§6.16), failback (§6.17), ABC (§6.19), Persistent Chat
failover (§6.20), Edge pool DR (§6.21), and routing-group quorum recovery (§5.3 A, §5.4).

``Invoke-CsPoolFailover`` needs a working CMS (§5.1 rule 7) and the Edge next hop moved off the
failed pool (§6.16 step 2): the failover step *needs* those tags, so a procedure that would run
it first cannot be built.
"""

from __future__ import annotations

from wizard.plan.model import Pool
from wizard.procedures.library.common import (
    ON,
    Ctx,
    ps,
    replication_check,
    services_check,
    services_stopped_check,
)
from wizard.procedures.library.data import rgs_identity
from wizard.procedures.library.servers import edge_internal_host
from wizard.procedures.model import AllEqual, Check, Contains, Manual, NonEmpty, Step
from wizard.remote.psbuild import Cmd, Pipeline, Switch


def registration_check(host: str, pool: str, *, wait_s: float = 600) -> Check:
    """§7.2: Test-CsRegistration against the pool returns Result : Success."""
    return Check(f"users can sign in to {pool}",
                 ps(host, json=Pipeline(Cmd("Test-CsRegistration", {"TargetFqdn": pool}),
                                        Cmd("Select-Object", {"Property": ["TargetFqdn", "Result"]}))),
                 AllEqual("Result", "Success"), wait_s=wait_s, poll_s=30)


def av_edge_check(host: str, pool: str, *, wait_s: float = 600) -> Check:
    """§7.2 Edge media: Test-CsAVEdgeConnectivity against the Front End pool returns Result : Success."""
    return Check(f"Edge media for {pool}",
                 ps(host, json=Pipeline(Cmd("Test-CsAVEdgeConnectivity", {"TargetFqdn": pool}),
                                        Cmd("Select-Object", {"Property": ["TargetFqdn", "Result"]}))),
                 AllEqual("Result", "Success"), wait_s=wait_s, poll_s=30)


def edge_next_hop_step(ctx: Ctx, edge: Pool, failed: Pool, backup: Pool) -> Step:
    host = ctx.fe(backup)
    same_site = edge.site == backup.site
    base = dict(
        id=f"edge-next-hop-{edge.fqdn}",
        title=f"Point the Edge pool {edge.fqdn} at {backup.fqdn} as next hop",
        section="6.16",
        why="Invoke-CsPoolFailover refuses while an Edge pool names the failed pool as next hop; both "
            "ways of changing it write to the CMS, so this comes after the CMS is available "
            "(§6.16 step 2, §11.4, §14 item 1).",
        phase="failover",
        applies=f"an Edge pool uses {failed.fqdn} as its next hop",
        undo=f"Point the next hop back at {failed.fqdn} after failback.",
        duration_s=300,
        needs=("cms-available",),
        tags=frozenset({f"edge-next-hop@{edge.fqdn}"}),
    )
    if same_site:
        return Step(**base, manual=Manual("Topology Builder", host, (  # type: ignore[arg-type]
            f"Edit Properties of the Edge pool {edge.fqdn} > Next Hop: choose {backup.fqdn}; OK.",
            "Publish the topology.")))
    return Step(**base, commands=(ps(host, Cmd("Set-CsEdgeServer", {  # type: ignore[arg-type]
        "Identity": f"EdgeServer:{edge.fqdn}", "Registrar": f"Registrar:{backup.fqdn}"})),))


def pool_failover_step(ctx: Ctx, failed: Pool, backup: Pool) -> Step:
    host = ctx.fe(backup)
    needs = ["cms-available", *(f"edge-next-hop@{e.fqdn}" for e in ctx.edges_using(failed))]
    if ctx.cms_pool.fqdn.lower() == failed.fqdn.lower():
        needs.insert(0, "cms-failover")  # the CMS lived in the failed pool (§5.1 rule 7)
    return Step(
        id=f"pool-failover-{failed.fqdn}",
        title=f"Fail the users of {failed.fqdn} over to {backup.fqdn}",
        section="6.16",
        why="-PoolFqdn is always the pool hit by the disaster; -DisasterMode because it is down. "
            "Run on a Front End of the backup pool (our choice, §6.16 step 3 unverified); needs a "
            "functional CMS (§5.1 rule 7).",
        phase="failover",
        commands=(ps(host, Cmd("Invoke-CsPoolFailover", {"PoolFqdn": failed.fqdn, "DisasterMode": ON,
                                                          "Verbose": ON}), timeout_s=3600),),
        applies="a paired Front End pool is down and users need service",
        requires=(Check(f"{failed.fqdn} has {backup.fqdn} as backup pool",
                        ps(host, json=Cmd("Get-CsPoolBackupRelationship", {"PoolFqdn": failed.fqdn})),
                        Contains("BackupPoolFqdn", backup.fqdn)),),
        post_checks=(registration_check(host, backup.fqdn),),
        destructive=True, confirm_text=failed.fqdn, second_operator=True,
        undo=f"Invoke-CsPoolFailback -PoolFqdn {failed.fqdn} once the pool is rebuilt (§6.17).",
        duration_s=1800,
        needs=tuple(needs),
        tags=frozenset({f"pool-failover@{failed.fqdn}", "pool-failover"}),
    )


def pool_failback_step(ctx: Ctx, home: Pool, backup: Pool) -> Step:
    host = ctx.fe(home)
    return Step(
        id=f"pool-failback-{home.fqdn}",
        title=f"Fail the users of {home.fqdn} back from {backup.fqdn}",
        section="6.17",
        why="The home pool is repaired; failback uses the same FQDN as the failover and may take up to "
            "an hour for 20,000 users; never -DisasterMode while the backup pool runs (§6.17, §11.30).",
        phase="failover",
        commands=(ps(host, Cmd("Invoke-CsPoolFailback", {"PoolFqdn": home.fqdn, "Verbose": ON}), timeout_s=7200),),
        applies="the home pool is running again",
        requires=(services_check(host, wait_s=0),),
        post_checks=(registration_check(host, home.fqdn, wait_s=3600),),
        destructive=True, confirm_text=home.fqdn, second_operator=True,
        undo=f"Invoke-CsPoolFailover -PoolFqdn {home.fqdn} again.",
        duration_s=3600,
        tags=frozenset({f"pool-failback@{home.fqdn}", "pool-failback"}),
    )


def rgs_move_home_step(ctx: Ctx, home: Pool, backup: Pool) -> Step:
    host = ctx.fe(home)
    path = f"C:\\lync-restore\\Rgs-failback-{home.fqdn}.zip"
    return Step(
        id=f"rgs-move-home-{home.fqdn}",
        title=f"Move {home.fqdn}'s Response Groups home from {backup.fqdn}",
        section="6.17",
        why="Export the home pool's groups from the backup pool (-Owner) and import them home with "
            "-OverwriteOwner (always safe) (§6.17 step 4, §6.12).",
        phase="data",
        commands=(ps(host,
                     Cmd("Export-CsRgsConfiguration", {"Source": rgs_identity(backup.fqdn),
                                                       "Owner": rgs_identity(home.fqdn), "FileName": path}),
                     Cmd("Import-CsRgsConfiguration", {"Destination": rgs_identity(home.fqdn),
                                                       "OverwriteOwner": ON, "FileName": path})),),
        applies="the home pool runs Response Group",
        requires=(Check(f"no earlier export file {path}", ps(host, json=Cmd("Test-Path", {"LiteralPath": path})),
                        AllEqual(".", False)),),
        post_checks=(Check("Response Group workflows are home",
                           ps(host, json=Pipeline(Cmd("Get-CsRgsWorkflow", {"Identity": rgs_identity(home.fqdn),
                                                                             "ShowAll": ON}),
                                                  Cmd("Select-Object", {"Property": ["Name"]}))),
                           NonEmpty("Name")),),
        undo="Import the same zip into the backup pool again.",
        duration_s=600,
        needs=(f"pool-failback@{home.fqdn}",),
    )


def quorum_steps(ctx: Ctx, pool: Pool) -> list[Step]:
    host = ctx.fe(pool)
    fabric = Check(f"routing groups of {pool.fqdn} have replicas",
                   ps(host, json=Cmd("Get-CsPoolFabricState", {"PoolFqdn": pool.fqdn, "Type": "Routing"})),
                   NonEmpty())
    return [
        Step(
            id=f"fabric-state-{pool.fqdn}",
            title=f"Read the fabric state of {pool.fqdn}",
            section="5.3",
            why="Confirm routing groups are in quorum loss without pool-level quorum loss before any "
                "reset; never restart the whole pool first (§5.3 A, §5.4).",
            phase="front_end",
            commands=(ps(host, Cmd("Get-CsPoolFabricState", {"PoolFqdn": pool.fqdn, "Type": "All", "Verbose": ON})),),
            applies="routing groups in quorum loss",
            post_checks=(fabric,),
            duration_s=60,
        ),
        Step(
            id=f"quorum-loss-recovery-{pool.fqdn}",
            title=f"Reset registrar state of {pool.fqdn} (QuorumLossRecovery)",
            section="5.3",
            why="QuorumLossRecovery does not affect users but may lose data not yet written; it only works "
                "without pool-level quorum loss (§5.3 A, §11.31, §12).",
            phase="front_end",
            commands=(ps(host, Cmd("Reset-CsPoolRegistrarState", {"PoolFqdn": pool.fqdn,
                                                                    "ResetType": "QuorumLossRecovery",
                                                                    "Confirm": Switch(False)})),),
            applies="routing-group quorum loss only",
            post_checks=(*(services_check(host, fe) for fe in pool.servers), fabric),
            destructive=True, confirm_text=pool.fqdn,
            undo="None; if the pool does not recover call Microsoft support before any FullReset (§11.31).",
            duration_s=900,
        ),
    ]


def abc_steps(ctx: Ctx, a: Pool, b: Pool, c: Pool) -> list[Step]:
    """§6.19 condensed: A lost for good, B its partner, new pool C (after failover to B)."""
    host_b, host_c = ctx.fe(b), ctx.fe(c)
    moved = f"abc-moved@{c.fqdn}"
    export = f"C:\\lync-restore\\UserData-{b.fqdn}.zip"
    return [
        Step(
            id=f"abc-build-{c.fqdn}", title=f"Build pool {c.fqdn} without starting its services",
            section="6.19",
            why="Pool C is built and published but its services stay stopped until users, conference "
                "directory and endpoints are moved (§6.19 step 5, §11.7).",
            phase="front_end",
            manual=Manual("Topology Builder / Deployment Wizard", host_c, (
                f"Define {c.fqdn} in Topology Builder, publish, install every server (Deployment Wizard "
                "steps 1–3 only).", "Do NOT run Step 4 (Start Services).")),
            applies="ABC: pool A is lost for good",
            post_checks=(Check(f"{c.fqdn} services are not started yet",
                               ps(host_b, json=Pipeline(Cmd("Get-CsWindowsService", {"ComputerName": host_c,
                                                                                      "Name": "RTCSRV"}),
                                                        Cmd("Select-Object", {"Property": ["Name", "Status"]}))),
                               AllEqual("Status", "Stopped")),),
            undo="Remove pool C from the topology.", duration_s=4 * 3600,
            needs=(f"pool-failover@{a.fqdn}",),
        ),
        Step(
            id=f"abc-move-users-{a.fqdn}", title=f"Move {a.fqdn}'s users to {c.fqdn} (forced)",
            section="6.19",
            why="Users of A are homed on C with -Force; they are out of service until C starts "
                "(§6.19 step 6, §11.7).",
            phase="failover",
            commands=(ps(host_b, Pipeline(Cmd("Get-CsUser", {"Filter": f"RegistrarPool -eq '{a.fqdn}'"}),
                                          Cmd("Move-CsUser", {"Target": c.fqdn, "Force": ON})), timeout_s=7200),),
            applies="ABC", destructive=True, confirm_text=a.fqdn, second_operator=True,
            undo="Move the users again (forced) to another pool.", duration_s=3600,
            needs=(f"pool-failover@{a.fqdn}",),
            tags=frozenset({moved}),
        ),
        Step(
            id=f"abc-move-directories-{a.fqdn}", title="Move A's conference directories and endpoints to C",
            section="6.19",
            why="Conference directories and Conferencing Attendant endpoints must be on C before its "
                "services start (§6.19 step 7).",
            phase="failover",
            manual=Manual("Management Shell", host_b, (
                f"Move-CsConferenceDirectory -Identity <A's directory id> -TargetPool {c.fqdn} -Force",
                f"Move-CsApplicationEndpoint -Identity <A's CAA uri> -TargetApplicationPool {c.fqdn} -Force")),
            applies="ABC", undo="Move them again.", duration_s=900,
            needs=(moved,), tags=frozenset({moved}),
        ),
        Step(
            id=f"abc-user-data-{c.fqdn}", title=f"Copy user data from {b.fqdn} into {c.fqdn}",
            section="6.19",
            why="Export-CsUserData from B then Import-CsUserData into C carries A's contacts and "
                "conferences (§6.19 step 8).",
            phase="data",
            commands=(ps(host_b, Cmd("Export-CsUserData", {"PoolFqdn": b.fqdn, "FileName": export, "Force": ON}),
                         Cmd("Import-CsUserData", {"PoolFqdn": c.fqdn, "FileName": export}), timeout_s=7200),),
            applies="ABC", destructive=True, confirm_text=c.fqdn,
            undo="Import again from a new export.", duration_s=3600,
            needs=(moved,), tags=frozenset({moved}),
        ),
        Step(
            id=f"abc-start-{c.fqdn}", title=f"Start the services of {c.fqdn}",
            section="6.19",
            why="Only now may C start: the outage for A's users ends here (§6.19 step 10, §11.7).",
            phase="front_end",
            commands=tuple(ps(host_c, Cmd("Start-CsWindowsService", {"ComputerName": fe})) for fe in c.servers),
            applies="ABC", post_checks=(*(services_check(host_c, fe) for fe in c.servers),
                                        registration_check(host_c, c.fqdn)),
            destructive=True, confirm_text=c.fqdn,
            undo="Stop-CsWindowsService on C's servers.", duration_s=1200,
            needs=(moved,), tags=frozenset({f"services-started@{c.fqdn}", f"abc-start@{c.fqdn}"}),
        ),
        Step(
            id=f"abc-repair-{b.fqdn}", title=f"Re-pair {b.fqdn} with {c.fqdn} and clean up",
            section="6.19",
            why="A's stale backup data is removed from B, B is paired with C in Topology Builder, the "
                "Backup Service restarted and synced both ways (§6.19 steps 12–15, §11.35).",
            phase="failover",
            commands=(ps(host_b, Cmd("Remove-CsUserStoreBackupData", {"PoolFqdn": b.fqdn, "Verbose": ON})),),
            manual=Manual("Topology Builder / Bootstrapper", host_c, (
                f"Topology Builder: {b.fqdn} > Resiliency > Associated Backup Pool = {c.fqdn}; delete A; publish.",
                "On every server of C run Bootstrapper.exe and Start-CsWindowsService -Name LYNCBACKUP; "
                "restart LYNCBACKUP on B.",
                f"Invoke-CsBackupServiceSync -PoolFqdn {c.fqdn} and -PoolFqdn {b.fqdn}.")),
            applies="ABC", destructive=True, confirm_text=b.fqdn,
            undo="None: the removed backup data belonged to the deleted pool A.", duration_s=3600,
            needs=(f"services-started@{c.fqdn}",),
        ),
    ]


def pchat_failover_steps(ctx: Ctx, pool: Pool) -> list[Step]:
    host = ctx.fe(ctx.cms_pool)
    ident = f"service:{pool.fqdn}"
    state = Check("Persistent Chat pool is failed over",
                  ps(host, json=Pipeline(Cmd("Get-CsPersistentChatState", {"Identity": ident}),
                                         Cmd("Select-Object", {"Property": ["PoolState"]}))),
                  AllEqual("PoolState", "FailedOver"))
    return [
        Step(
            id=f"pchat-bring-online-{pool.fqdn}", title="Bring the log-shipped mgc online on the backup instance",
            section="6.20",
            why="The backup mgc must leave log shipping and be recovered before the pool is failed over "
                "(§6.20 steps 1–3).",
            phase="failover",
            manual=Manual("SQL Server Management Studio", "backup mgc instance", (
                "exec sp_delete_log_shipping_secondary_database mgc",
                "Copy uncopied log backups to the secondary's copy folder and apply them in order.",
                "exec sp_who2; kill <spid> for every connection to mgc; restore database mgc with recovery")),
            applies="stretched Persistent Chat pool with log shipping", undo="Re-establish log shipping.",
            duration_s=1800, tags=frozenset({f"pchat-db-online@{pool.fqdn}"}),
        ),
        Step(
            id=f"pchat-state-{pool.fqdn}", title=f"Set {pool.fqdn} to FailedOver",
            section="6.20", why="The Persistent Chat pool is told to use the backup database (§6.20 step 4).",
            phase="failover",
            commands=(ps(host, Cmd("Set-CsPersistentChatState", {"Identity": ident, "PoolState": "FailedOver"})),),
            applies="stretched Persistent Chat pool", already_done=state, post_checks=(state,),
            destructive=True, confirm_text=pool.fqdn,
            undo=f"Set-CsPersistentChatState -Identity {ident} -PoolState Normal after failback.",
            duration_s=120, needs=(f"pchat-db-online@{pool.fqdn}",),
        ),
        Step(
            id=f"pchat-active-{pool.fqdn}", title="Mirror the new primary and set the active servers",
            section="6.20",
            why="Install-CsMirrorDatabase mirrors the new primary; active servers must be in the new "
                "primary's data centre (§6.20 steps 5–6). mgccomp is not failed over (§11.21).",
            phase="failover",
            manual=Manual("Management Shell", host, (
                "Install-CsMirrorDatabase for the new primary (a new mirror pair).",
                f"Set-CsPersistentChatActiveServer -Identity {ident} -ActiveServers @{{Replace=...}} with "
                "servers in the new primary's data centre.")),
            applies="stretched Persistent Chat pool", post_checks=(state,),
            undo="Set the active servers back.", duration_s=900,
            needs=(f"pchat-db-online@{pool.fqdn}",),
        ),
    ]


def edge_dr_steps(ctx: Ctx, lost: Pool, surviving: Pool, media: list[Pool]) -> list[Step]:
    """§6.21 in its order. Federation route: Topology Builder moves 'Enable federation' to the
    surviving pool and publishes; its Edge servers run setup again (once the publish has reached
    their replica: they read the topology from it). XMPP route: services stopped on each new Edge,
    Set-CsSite, external DNS and port 5269 (by hand), services started. Media: the Front End pools
    of the failed Edge's site (``media``) are associated with the surviving pool."""
    host = edge_internal_host(ctx, surviving)
    edges = surviving.servers
    published, replicated = f"edge-federation@{surviving.fqdn}", f"edge-replica@{surviving.fqdn}"
    set_up, stopped = f"edge-setup@{surviving.fqdn}", f"edge-stopped@{surviving.fqdn}"
    routed, dns = f"edge-xmpp-route@{surviving.fqdn}", f"edge-xmpp-dns@{surviving.fqdn}"
    domains = ctx.plan.organisation.sip_domains
    steps = [
        Step(
            id=f"edge-federation-route-{lost.fqdn}",
            title=f"Publish federation on {surviving.fqdn} instead of {lost.fqdn}",
            section="6.21",
            why="Only one Edge pool is published for federation: Topology Builder clears it on the lost pool, "
                "ticks it on the surviving one and publishes, which writes to the CMS (§6.21 Federation route, "
                "§11.2).",
            phase="edge",
            manual=Manual("Topology Builder", host, (
                "Topology Builder: Download Topology from existing deployment.",
                f"Edit Properties of the Edge pool {lost.fqdn} > General: clear 'Enable federation for this Edge "
                "pool (Port 5061)'; OK.",
                f"Edit Properties of the Edge pool {surviving.fqdn} > General: tick 'Enable federation for this "
                "Edge pool (Port 5061)'; OK.",
                "Publish the topology.")),
            applies="the Edge pool carrying federation is lost and another site's Edge pool runs",
            undo=f"Failback: tick the box on {lost.fqdn} again, clear it on {surviving.fqdn}, publish (§6.21).",
            duration_s=900, needs=("cms-available",), tags=frozenset({published, "topology-publish"}),
        ),
        Step(
            id=f"edge-replicate-{surviving.fqdn}",
            title=f"Push the published topology to the servers of {surviving.fqdn}",
            section="6.21",
            why="Setup on an Edge reads the topology from its local replica, which the CMS fills by "
                "replication (§6.7 step 3); a forced push takes 2-3 minutes, so wait for UpToDate before "
                "running setup again (§6.21, §7.2, §11.14; the wait is inferred).",
            phase="edge",
            commands=tuple(ps(host, Cmd("Invoke-CsManagementStoreReplication", {"ReplicaFqdn": e})) for e in edges),
            applies="the federation route was published",
            post_checks=tuple(replication_check(host, e, wait_s=600) for e in edges),
            undo="Nothing to undo: replication only copies the configuration.", duration_s=300,
            needs=(published,), tags=frozenset({replicated}),
        ),
        Step(
            id=f"edge-setup-again-{surviving.fqdn}", title=f"Run setup again on the servers of {surviving.fqdn}",
            section="6.21",
            why="The Edge servers of the newly published pool take up federation when the Deployment Wizard's "
                "'Setup or Remove Lync Server Components' runs again there, on the Edge itself (§6.21, §6.7 "
                "steps 2-3).",
            phase="edge",
            manual=Manual("Deployment Wizard", edges[0], tuple(
                f"On {e}, as a local Administrator: Deployment Wizard > 'Setup or Remove Lync Server Components' > "
                "Run Again; Finish." for e in edges)),
            applies="the federation route moved to this Edge pool",
            undo="Run setup again after the failback publish.", duration_s=1800,
            needs=(replicated,), tags=frozenset({set_up}),
        ),
        Step(
            id=f"edge-xmpp-stop-{surviving.fqdn}", title=f"Stop the Lync services on each server of {surviving.fqdn}",
            section="6.21",
            why="XMPP: the services of each Edge of the new pool are stopped before its route moves; external "
                "access through this pool stops until they start again (§6.21 XMPP, §8 Stop-CsWindowsService).",
            phase="edge",
            commands=tuple(ps(e, Cmd("Stop-CsWindowsService")) for e in edges),
            applies="XMPP federation moves with the federation route",
            post_checks=tuple(services_stopped_check(e) for e in edges),
            destructive=True, confirm_text=surviving.fqdn,
            undo="Start-CsWindowsService on each of them.", duration_s=300,
            needs=(set_up,), tags=frozenset({stopped}),
        ),
        Step(
            id=f"edge-xmpp-route-{lost.fqdn}",
            title=f"Route the XMPP federation of {lost.site} through {surviving.fqdn}",
            section="6.21",
            why=f"Set-CsSite <site> -XmppExternalFederationRoute <edge fqdn> moves the XMPP route of {lost.site}, "
                f"whose Edge pool was lost; it writes to the CMS (§6.21 XMPP, §5.3 F, §8).",
            phase="edge",
            commands=(ps(host, Cmd("Set-CsSite", {"XmppExternalFederationRoute": surviving.fqdn},
                                   positional=[lost.site])),),
            applies="XMPP federation is used",
            undo=f"Set-CsSite {lost.site} -XmppExternalFederationRoute {lost.fqdn} after failback.", duration_s=120,
            needs=("cms-available", stopped), tags=frozenset({routed}),
        ),
        Step(
            id=f"edge-xmpp-dns-{lost.fqdn}", title=f"External DNS and firewall for XMPP through {surviving.fqdn}",
            section="6.21",
            why="The external DNS records and the firewall are outside Lync: the wizard cannot change them "
                "(§6.21 XMPP: A record, SRV _xmpp-server._tcp on port 5269, port 5269 open).",
            phase="edge",
            manual=Manual("External DNS / firewall", "external DNS", (
                f"External DNS: point the A record that XMPP federation uses at the external Access Edge address "
                f"of {surviving.fqdn} (it pointed at {lost.fqdn}).",
                *(f"External DNS: SRV _xmpp-server._tcp.{d} on port 5269 to the external Access Edge FQDN of "
                  f"{surviving.fqdn} (where SRV records for every Edge pool were made in advance with different "
                  "priorities, check this one answers)." for d in domains),
                f"Firewall: open TCP 5269 from the Internet to the external Access Edge address of {surviving.fqdn}.")),
            applies="XMPP federation is used",
            undo=f"Point the records back at {lost.fqdn} after failback.", duration_s=1800,
            needs=(routed,), tags=frozenset({dns}),
        ),
        Step(
            id=f"edge-xmpp-start-{surviving.fqdn}", title=f"Start the Lync services on each server of {surviving.fqdn}",
            section="6.21",
            why="XMPP: the services start again once the route and DNS point at this pool; external access "
                "through it resumes (§6.21 XMPP, §8 Start-CsWindowsService, on the Edge itself, §6.7 step 3).",
            phase="edge",
            commands=tuple(ps(e, Cmd("Start-CsWindowsService")) for e in edges),
            applies="the services of the new Edge pool were stopped",
            post_checks=tuple(services_check(e, wait_s=600) for e in edges),
            destructive=True, confirm_text=surviving.fqdn,
            undo="Stop-CsWindowsService on each of them.", duration_s=600,
            needs=(dns,), tags=frozenset({f"edge-started@{surviving.fqdn}"}),
        ),
    ]
    if media:
        steps.append(Step(
            id=f"edge-media-{lost.fqdn}", title=f"Associate the Front End pools of {lost.site} with {surviving.fqdn}",
            section="6.21",
            why="Front End pools still running in the failed Edge's site need a surviving Edge pool for media; "
                "Topology Builder publishes it to the CMS (§6.21 Media association, §11.2).",
            phase="edge",
            manual=Manual("Topology Builder", host, (
                "Topology Builder: Download Topology from existing deployment.",
                *(f"Edit Properties of the Front End pool {p.fqdn} > Associations: 'Associate Edge pool (for media "
                  f"components)' = {surviving.fqdn}; OK." for p in media),
                "Publish the topology.",
                f"Check the firewall lets the Front End servers of every pool reach every server of {surviving.fqdn} "
                "(§6.21).")),
            applies=f"Front End pools of {lost.site} used the lost Edge pool for media",
            post_checks=tuple(av_edge_check(host, p.fqdn) for p in media),
            undo=f"Associate them with {lost.fqdn} again after failback.", duration_s=900,
            needs=("cms-available",), tags=frozenset({"topology-publish", f"edge-media@{surviving.fqdn}"}),
        ))
    return steps
