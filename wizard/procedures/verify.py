"""§7 verification: the checks that prove service is back, as steps of the ``verify`` phase.

Order follows §7.1 (inferred there): services, CMS location and replication, databases, fabric,
Backup Service, synthetic transactions, functional spot checks. Each check is a read-only step
whose post-check is the §7.2 "healthy looks like" column; the last one is a manual confirmation
of the Control Panel and an end-user sign-in (§7.2 last rows, §T19).
"""

from __future__ import annotations

from collections.abc import Sequence

from wizard.plan.model import Pool
from wizard.procedures.library.common import (
    ON,
    Ctx,
    cms_database_check,
    cms_master_check,
    edge_pool_of,
    ps,
    replicas_check,
    services_check,
)
from wizard.procedures.library.data import backup_service_check, rgs_identity
from wizard.procedures.library.failover import registration_check
from wizard.procedures.model import AllEqual, AnyEqual, Check, Contains, Manual, NonEmpty, Step
from wizard.remote.psbuild import Cmd, Pipeline

SYNTHETIC = ("Test-CsIM", "Test-CsPresence", "Test-CsAddressBookService", "Test-CsAVConference",
             "Test-CsDataConference")


def _check_step(step_id: str, title: str, check: Check, why: str, *, section: str = "7.2") -> Step:
    return Step(id=step_id, title=title, section=section, why=why, phase="verify",
                applies="verification", post_checks=(check,), duration_s=max(30, int(check.wait_s) or 30),
                tags=frozenset({"verify"}))


def synthetic_check(host: str, cmdlet: str, pool: str, *, wait_s: float = 0) -> Check:
    return Check(f"{cmdlet} against {pool}",
                 ps(host, json=Pipeline(Cmd(cmdlet, {"TargetFqdn": pool}),
                                        Cmd("Select-Object", {"Property": ["TargetFqdn", "Result"]}))),
                 AllEqual("Result", "Success"), wait_s=wait_s, poll_s=30)


def synthetic_steps(host: str, serving: Pool) -> list[Step]:
    """§7.2 sign-in and synthetic transactions. Without arguments they use the pool's health-monitoring
    test users; a pool the plan says has none would fail them all for that reason alone, so the check is
    the operator's, with a user's credentials the wizard never holds (DESIGN: no password in the plan)."""
    if not serving.test_users:
        return [Step(
            id=f"verify-synthetic-{serving.fqdn}", title=f"Sign-in and IM through {serving.fqdn} (no test users)",
            section="7.2",
            why="Test-Cs* synthetic transactions without arguments use the pool's health-monitoring test users "
                "(New-CsHealthMonitoringConfiguration, §7.2); the plan says this pool has none, so the wizard "
                "does not run them and does not call the pool unhealthy: the operator runs them with a test "
                "user's SIP address and credential.",
            phase="verify",
            manual=Manual("Lync Server Management Shell", host, (
                f"{serving.fqdn} has no health-monitoring test users (plan: test_users: false).",
                f"Test-CsRegistration -TargetFqdn {serving.fqdn} -UserSipAddress sip:<test user> "
                "-UserCredential (Get-Credential): Result : Success.",
                f"Test-CsIM -TargetFqdn {serving.fqdn} -SenderSipAddress sip:<user 1> -SenderCredential "
                "(Get-Credential) -ReceiverSipAddress sip:<user 2> -ReceiverCredential (Get-Credential): "
                "Result : Success.")),
            applies="verification", duration_s=600, tags=frozenset({"verify"}))]
    steps = [_check_step(f"verify-registration-{serving.fqdn}", f"Sign-in to {serving.fqdn}",
                         registration_check(host, serving.fqdn, wait_s=300),
                         "Test-CsRegistration returns Result : Success (§7.2 Sign-in).")]
    for cmdlet in SYNTHETIC:
        steps.append(_check_step(f"verify-{cmdlet.lower()}-{serving.fqdn}", f"{cmdlet} against {serving.fqdn}",
                                 synthetic_check(host, cmdlet, serving.fqdn),
                                 f"Synthetic transaction {cmdlet} returns Result : Success (§7.2, §7.1 step 6)."))
    return steps


def edge_checks(host: str, edge: Pool, media: Sequence[Pool], *, federates: bool) -> list[Step]:
    """§7.1 step 6 (Edge/federation), §7.2: Edge media for each Front End pool using ``edge``, then
    federation. Test-CsFederatedPartner needs the partner domain (-Domain, §8), which the plan does
    not hold: that check is the operator's, and the step says why instead of failing."""
    steps = [_check_step(f"verify-edge-media-{pool.fqdn}", f"Edge media for {pool.fqdn} through {edge.fqdn}",
                         synthetic_check(host, "Test-CsAVEdgeConnectivity", pool.fqdn, wait_s=300),
                         "Test-CsAVEdgeConnectivity -TargetFqdn <pool> returns Result : Success (§7.2 Edge "
                         "media, §7.1 step 6).")
             for pool in media]
    which = (f"{edge.fqdn} now carries federation (§6.21)." if federates else
             f"If {edge.fqdn} carries federation (Topology Builder: its 'Enable federation for this Edge pool "
             "(Port 5061)' is ticked), run the check below; otherwise confirm.")
    steps.append(Step(
        id=f"verify-federation-{edge.fqdn}", title=f"Federation through {edge.fqdn}", section="7.2",
        why="Test-CsFederatedPartner -TargetFqdn <the internal Edge FQDN that carries federated SIP> -Domain "
            "<partner domain> returns Result : Success; the partner must be on the allowed-domains list (§7.2 "
            "Federation, §8). The plan names no federated partner domain, so the wizard cannot run it and "
            "does not call federation unhealthy: the operator runs it (§7.1 step 6).",
        phase="verify",
        manual=Manual("Lync Server Management Shell", host, (
            which,
            "The plan names no federated partner domain, so the wizard cannot run this check itself "
            "(it needs -Domain <partner domain>, §7.2).",
            f"Test-CsFederatedPartner -TargetFqdn {edge.fqdn} -Domain <a partner domain on the allowed-domains list>",
            "Healthy: Result : Success. Answer 'failed' if it is not.")),
        applies="verification of an Edge pool", duration_s=300, tags=frozenset({"verify"})))
    return steps


def verification_steps(ctx: Ctx, serving: Pool, rebuilt: list[str], *, failed_over_from: Pool | None = None,
                       cms_pool: Pool | None = None, cms_or_in: Pool | None = None, edge: Pool | None = None,
                       edge_media: Sequence[Pool] = (), edge_federates: bool = False) -> list[Step]:
    """§7 checks for the pool now serving users, the servers rebuilt and the CMS (in ``cms_pool``,
    or in ``cms_or_in`` too where either is right). With ``edge``, the Edge checks of §7.1 step 6
    follow the synthetic transactions: media for the Front End pools in ``edge_media``, federation
    (``edge_federates``: the Edge pool is known to carry it)."""
    host = ctx.fe(serving)
    cms = cms_pool or ctx.cms_pool
    steps: list[Step] = []
    for server in rebuilt or list(serving.servers):
        # an Edge is outside the domain: its services are read on the Edge itself (§6.7 steps 2-3)
        on_edge = edge_pool_of(ctx.plan, server) is not None
        steps.append(_check_step(f"verify-services-{server}", f"Lync services running on {server}",
                                 services_check(server, wait_s=300) if on_edge
                                 else services_check(host, server, wait_s=300),
                                 "Every Lync service on a rebuilt or restarted server is Running (§7.2, §7.1 step 1)"
                                 + ("; on an Edge, read on the Edge itself (§6.7 step 3)." if on_edge else ".")))
    cms_sql, cms_inst = ctx.sql_fqdn(cms)
    where_cms = f"{cms_sql}\\{cms_inst}" if cms_inst else cms_sql
    location = ps(host, json=Cmd("Get-CsConfigurationStoreLocation"))
    steps.append(Step(
        id="verify-cms-location", title=f"AD points at the CMS store on {where_cms}", section="7.2",
        why="The CMS pointer returns the expected SQL Server and instance (§7.2 CMS pointer).", phase="verify",
        applies="verification",
        post_checks=(Check(f"Get-CsConfigurationStoreLocation names {cms_sql}", location, Contains(".", cms_sql)),
                     *((Check(f"Get-CsConfigurationStoreLocation names the instance {cms_inst}", location,
                              Contains(".", cms_inst)),) if cms_inst else ())),
        duration_s=30, tags=frozenset({"verify"})))
    where = f"{cms.fqdn} or {cms_or_in.fqdn}" if cms_or_in is not None else cms.fqdn
    steps.append(_check_step("verify-cms-master", f"CMS master active in {where}",
                             cms_master_check(host, cms, wait_s=300, or_in=cms_or_in),
                             "ActiveMasterFqdn names the CMS pool; empty means the CMS is down (§7.2)."))
    running = list(dict.fromkeys([*serving.servers, *rebuilt]))
    steps.append(Step(
        id="verify-replication", title="Every running server's CMS replica up to date", section="7.2",
        why="Every replica reports UpToDate : True; a full push is forced first and takes 2–3 minutes "
            "(§7.2, §11.14).", phase="verify",
        commands=(ps(host, Cmd("Invoke-CsManagementStoreReplication")),),
        applies="verification", post_checks=tuple(replicas_check(host, running, wait_s=600)),
        undo="Nothing to undo: replication only copies the configuration.", duration_s=300,
        tags=frozenset({"verify"})))
    steps.append(_check_step("verify-cms-databases", "CMS databases pass Test-CsDatabase",
                             cms_database_check(host, None, None),
                             "Test-CsDatabase -CentralManagementDatabase shows Succeed : True for xds and lis (§7.2)."))
    if serving.edition == "enterprise":
        steps.append(_check_step(f"verify-fabric-{serving.fqdn}", f"Routing groups of {serving.fqdn}",
                                 Check("Get-CsPoolFabricState",
                                       ps(host, json=Cmd("Get-CsPoolFabricState", {"PoolFqdn": serving.fqdn})),
                                       NonEmpty()),
                                 "Every routing group has a primary and at least one secondary (§7.2, §5.4)."))
    partner = ctx.partner(serving)
    if partner is not None and failed_over_from is None:
        steps.append(_check_step(f"verify-pairing-{serving.fqdn}", f"{serving.fqdn} is paired with {partner.fqdn}",
                                 Check("Get-CsPoolBackupRelationship",
                                       ps(host, json=Cmd("Get-CsPoolBackupRelationship", {"PoolFqdn": serving.fqdn})),
                                       Contains("BackupPoolFqdn", partner.fqdn)),
                                 "The pool shows its expected partner (§7.2 Backup pairing)."))
        for pool in (serving, partner):  # both directions: P1->P2 and P2->P1 differ (§7.2, T3)
            for i, check in enumerate(backup_service_check(host, pool.fqdn)):
                steps.append(_check_step(f"verify-backup-service-{i}-{pool.fqdn}", check.title, check,
                                         "The Backup Service keeps up in both directions (§7.2, §11.15)."))
    steps += synthetic_steps(host, serving)
    if edge is not None:
        steps += edge_checks(host, edge, edge_media, federates=edge_federates)
    if failed_over_from is not None:
        steps.append(_check_step(f"verify-lis-{serving.fqdn}", "LIS answers in the backup pool",
                                 synthetic_check(host, "Test-CsLisConfiguration", serving.fqdn),
                                 "LIS was imported into the backup pool (§7.3, §6.16 step 4).", section="7.3"))
    home = failed_over_from or serving
    if home.response_group:
        listing = ps(host, json=Pipeline(
            Cmd("Get-CsRgsWorkflow", {"Identity": rgs_identity(serving.fqdn), "ShowAll": ON}),
            Cmd("Select-Object", {"Property": ["Name", "OwnerPool"]})))
        # after a failover the imported groups keep their home pool as owner (§7.3, §6.16 step 5)
        expect = AnyEqual("OwnerPool", home.fqdn) if failed_over_from is not None else NonEmpty("Name")
        steps.append(_check_step(f"verify-rgs-{serving.fqdn}", f"Response Group workflows of {home.fqdn} present",
                                 Check("Get-CsRgsWorkflow -ShowAll", listing, expect),
                                 "All workflows are present, then a test call is routed (§7.2 Response Group, "
                                 "§7.3).", section="7.2"))
    steps.append(Step(
        id="verify-by-hand", title="Control Panel and an end-user sign-in", section="7.2",
        why="Green status and replication in the Control Panel topology page, and two users signing in "
            "and exchanging IM, are the last proof (§7.2, §7.1 step 7).",
        phase="verify",
        manual=Manual("Lync Server Control Panel / Lync 2013 client", host, (
            "Control Panel > Topology: every role shows a green arrow and a green replication check.",
            "Two domain users sign in with the Lync 2013 client and exchange an IM.")),
        applies="verification", duration_s=600, tags=frozenset({"verify"})))
    return steps
