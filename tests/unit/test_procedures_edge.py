"""Edge paths as composed (#14): the member rebuild of an Edge server follows §6.7 to its step 4
(services read on the Edge, its CMS replica, the Edge checks of §7.1 step 6), and edge-dr follows
§6.21 in its order, the DNS work by hand, then verification of media and federation."""

from __future__ import annotations

import pytest

from tests.conftest import REPO
from wizard.plan import load_plan
from wizard.plan.model import Plan
from wizard.procedures.compose import OrderingError, Procedure, compose
from wizard.procedures.model import Check, PsCommand, Step

EDGE = "edge01.fabrikam.lab"
LON_EDGE, AMS_EDGE = "lonedge.corp.contoso.com", "amsedge.corp.contoso.com"


def _plan(name: str) -> Plan:
    return load_plan(REPO / "plans" / name).plan


def _script(check: Check) -> tuple[str, str]:
    """(host, rendered command) of a PowerShell check."""
    assert isinstance(check.command, PsCommand)
    return check.command.host, "\n".join(check.command.lines())


def _replica_checks(step: Step, replica: str) -> list[tuple[str, str]]:
    return [_script(c) for c in step.post_checks
            if f"-ReplicaFqdn '{replica}'" in _script(c)[1]
            and _script(c)[1].startswith("Get-CsManagementStoreReplicationStatus")]


@pytest.fixture(scope="module")
def member() -> Procedure:
    return compose(_plan("lab.yaml"), "member-rebuild", server=EDGE, backup_set="S")


@pytest.fixture(scope="module")
def edge_dr() -> Procedure:
    return compose(_plan("example-two-site.yaml"), "edge-dr", pool=LON_EDGE, backup_set="S")


# ----------------------------------------------------------------------------- §6.7, Edge


def test_edge_preparation_is_for_a_server_outside_the_domain(member: Procedure) -> None:
    """§6.7 step 2: an Edge is not domain-joined; the §6.1 text about its AD computer account and
    RTCUniversalServerAdmins does not apply to it."""
    lines = " ".join(member.step(f"prepare-{EDGE}").manual.instructions)  # type: ignore[union-attr]
    assert "RTCUniversalServerAdmins" not in lines and "group memberships" not in lines
    assert "local Administrator" in lines and "§6.7 step 2" in lines
    fe = compose(_plan("lab.yaml"), "member-rebuild", server="fe02.fabrikam.lab")
    assert "RTCUniversalServerAdmins" in " ".join(fe.step("prepare-fe02.fabrikam.lab").manual.instructions)  # type: ignore[union-attr]


def test_edge_deployment_wizard_names_the_zip_and_waits_for_the_replica(member: Procedure) -> None:
    """§6.7 step 3: Step 1 imports the zip exported on the internal network; after install the Edge's
    configuration replicates automatically, read from inside (the Edge cannot read the CMS)."""
    deploy = member.step(f"deploy-{EDGE}")
    export = member.step("edge-export-edge.fabrikam.lab")
    zip_path = _script(export.post_checks[0])[1].split("'")[1]
    assert any(zip_path in line for line in deploy.manual.instructions)  # type: ignore[union-attr]
    assert _replica_checks(deploy, EDGE) == [
        ("fe01.fabrikam.lab", f"Get-CsManagementStoreReplicationStatus -ReplicaFqdn '{EDGE}' | "
                              "Select-Object -Property 'ReplicaFqdn','UpToDate'")]


def test_edge_verification_reads_services_replica_and_edge_checks(member: Procedure) -> None:
    """§6.7 step 4: services running (read on the Edge itself), replica up to date, synthetic
    transactions - for an Edge: Edge media, then federation (§7.1 step 6)."""
    ids = [s.id for s in member.steps]
    services = member.step(f"verify-services-{EDGE}")
    assert _script(services.post_checks[0]) == (EDGE, "Get-CsWindowsService | Select-Object -Property 'Name','Status'")
    replication = member.step("verify-replication")
    assert replication.commands and "Invoke-CsManagementStoreReplication" in replication.commands[0].lines()[0]
    assert _replica_checks(replication, EDGE) and _replica_checks(replication, EDGE)[0][0] == "fe01.fabrikam.lab"
    media = [i for i in ids if i.startswith("verify-edge-media-")]
    assert media == ["verify-edge-media-pool1.fabrikam.lab", "verify-edge-media-se01.fabrikam.lab"]
    assert "Test-CsAVEdgeConnectivity -TargetFqdn 'pool1.fabrikam.lab'" in _script(
        member.step(media[0]).post_checks[0])[1]
    last_synthetic = ids.index("verify-test-csdataconference-pool1.fabrikam.lab")
    assert last_synthetic < ids.index(media[0]) < ids.index("verify-federation-edge.fabrikam.lab") \
        < ids.index("verify-by-hand")


def test_federation_check_says_the_plan_lacks_a_partner_domain(member: Procedure, edge_dr: Procedure) -> None:
    """§7.2: Test-CsFederatedPartner needs -Domain, a partner on the allowed-domains list; the plan names
    none, so the step says so and is the operator's, never a failed check."""
    for proc, edge in ((member, "edge.fabrikam.lab"), (edge_dr, AMS_EDGE)):
        step = proc.step(f"verify-federation-{edge}")
        assert step.phase == "verify" and not step.post_checks and not step.commands and step.manual is not None
        text = "\n".join(step.manual.instructions)
        assert "names no federated partner domain" in text
        assert f"Test-CsFederatedPartner -TargetFqdn {edge} -Domain <" in text
        assert "Result : Success" in text


# ----------------------------------------------------------------------------- §6.21


def test_edge_dr_follows_section_6_21_in_order(edge_dr: Procedure) -> None:
    ids = [s.id for s in edge_dr.steps if not s.custom]
    assert ids[:8] == [
        f"edge-federation-route-{LON_EDGE}",  # Topology Builder: clear on the old pool, tick on the new, publish
        f"edge-replicate-{AMS_EDGE}",  # the publish reaches the new Edge's replica
        f"edge-setup-again-{AMS_EDGE}",  # Setup or Remove Lync Server Components: Run Again
        f"edge-xmpp-stop-{AMS_EDGE}",  # XMPP: Stop-CsWindowsService on each Edge of the new pool
        f"edge-xmpp-route-{LON_EDGE}",  # Set-CsSite <site> -XmppExternalFederationRoute
        f"edge-xmpp-dns-{LON_EDGE}",  # A record, SRV _xmpp-server._tcp port 5269, open 5269
        f"edge-xmpp-start-{AMS_EDGE}",  # Start-CsWindowsService
        f"edge-media-{LON_EDGE}",  # Associate Edge pool (for media components)
    ]
    own = [s for s in edge_dr.steps if not s.custom]
    assert own[8:] and all(s.phase == "verify" for s in own[8:])


def test_edge_dr_commands_run_where_the_doc_says(edge_dr: Procedure) -> None:
    stop, start = edge_dr.step(f"edge-xmpp-stop-{AMS_EDGE}"), edge_dr.step(f"edge-xmpp-start-{AMS_EDGE}")
    assert [(c.where, c.lines()) for c in stop.commands] == [("amsedge01.corp.contoso.com", ["Stop-CsWindowsService"])]
    assert [(c.where, c.lines()) for c in start.commands] == [
        ("amsedge01.corp.contoso.com", ["Start-CsWindowsService"])]
    assert stop.destructive and start.destructive
    route = edge_dr.step(f"edge-xmpp-route-{LON_EDGE}")
    assert route.commands[0].lines() == [f"Set-CsSite -XmppExternalFederationRoute '{AMS_EDGE}' 'London'"]
    replicate = edge_dr.step(f"edge-replicate-{AMS_EDGE}")
    assert replicate.commands[0].lines() == [
        "Invoke-CsManagementStoreReplication -ReplicaFqdn 'amsedge01.corp.contoso.com'"]
    assert _replica_checks(replicate, "amsedge01.corp.contoso.com")


def test_dns_is_a_step_by_hand_of_its_own(edge_dr: Procedure) -> None:
    """The wizard cannot change external DNS: the XMPP records and port 5269 are one manual step, between
    the route and the start of the services (§6.21 XMPP); nothing else carries DNS work."""
    dns = edge_dr.step(f"edge-xmpp-dns-{LON_EDGE}")
    assert dns.manual is not None and not dns.commands
    text = "\n".join(dns.manual.instructions)
    for domain in ("contoso.com", "contoso.eu"):
        assert f"_xmpp-server._tcp.{domain} on port 5269" in text
    assert "A record" in text and "open TCP 5269" in text
    others = [s.manual for s in edge_dr.steps if s.id != dns.id and s.manual is not None]
    assert not any("DNS" in line for manual in others for line in manual.instructions)


def test_edge_media_is_checked_for_the_front_end_pools_of_the_lost_site(edge_dr: Procedure) -> None:
    media = edge_dr.step(f"edge-media-{LON_EDGE}")
    assert media.manual is not None
    assert any(f"Front End pool lonpool.corp.contoso.com > Associations: 'Associate Edge pool (for media "
               f"components)' = {AMS_EDGE};" in line for line in media.manual.instructions)
    assert [_script(c)[1].split(" |")[0] for c in media.post_checks] == [
        "Test-CsAVEdgeConnectivity -TargetFqdn 'lonpool.corp.contoso.com'"]
    ids = [s.id for s in edge_dr.steps]
    assert "verify-edge-media-lonpool.corp.contoso.com" in ids and f"verify-federation-{AMS_EDGE}" in ids
    services = edge_dr.step("verify-services-amsedge01.corp.contoso.com")
    assert _script(services.post_checks[0])[0] == "amsedge01.corp.contoso.com"


@pytest.mark.parametrize(("moving", "before"), [
    (f"edge-setup-again-{AMS_EDGE}", f"edge-replicate-{AMS_EDGE}"),
    (f"edge-xmpp-route-{LON_EDGE}", f"edge-xmpp-stop-{AMS_EDGE}"),
    (f"edge-xmpp-start-{AMS_EDGE}", f"edge-xmpp-dns-{LON_EDGE}"),
])
def test_edge_dr_order_is_enforced(edge_dr: Procedure, moving: str, before: str) -> None:
    steps = [s for s in edge_dr.steps if s.id != moving]
    at = next(i for i, s in enumerate(steps) if s.id == before)
    with pytest.raises(OrderingError, match="needs an earlier step"):
        Procedure(edge_dr.organisation, edge_dr.path, edge_dr.pool, None, None,
                  (*steps[:at], edge_dr.step(moving), *steps[at:]), given=edge_dr.given)
