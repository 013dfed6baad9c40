"""The lab's Edge, in-process: what Lync does with a rebuilt Edge's replica (§6.7 step 3) and with
federation, XMPP and media when an Edge pool is lost (§6.21)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.runtime import LabRuntime
from lab.scenarios import scenario
from wizard.procedures.compose import compose

BOOTSTRAPPER = r"& 'C:\Program Files\Microsoft Lync Server 2013\Deployment\Bootstrapper.exe'"
FE1, FE11 = "fe01.fabrikam.lab", "fe11.fabrikam.lab"
EDGE1, EDGE11 = "edge01.fabrikam.lab", "edge11.fabrikam.lab"
LOST, NEW = "edge.fabrikam.lab", "edge2.fabrikam.lab"


class Lab:
    def __init__(self, name: str, tmp: Path) -> None:
        self.lab = LabRuntime(scenario(name), state_dir=tmp, time_factor=float("inf"))
        self.dep = self.lab.dep

    def ps(self, host: str, script: str) -> str:
        out: list[str] = []
        err: list[str] = []
        code = self.lab.powershell(host).run_script(script, out.append, err.append, clixml_errors=False)
        assert code == 0, "".join(err)
        return "".join(out)

    def up_to_date(self, replica: str) -> bool:
        text = self.ps(FE1, f"Get-CsManagementStoreReplicationStatus -ReplicaFqdn {replica} | "
                            "Select-Object -ExpandProperty UpToDate")
        return text.strip() == "True"

    def result(self, host: str, script: str) -> str:
        return self.ps(host, script + " | Select-Object -ExpandProperty Result").strip()

    def manual(self, path: str, step_id: str, **target: str) -> str | None:
        step = compose(self.lab.plan, path, **target).step(step_id)
        assert step.manual is not None
        return self.lab.perform_manual(step.id, "\n".join(step.manual.instructions))

    def problems(self) -> list[str]:
        assert self.lab.scenario is not None
        return self.lab.scenario.service_restored(self.dep)


@pytest.fixture
def lab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lab]:
    yield Lab(request.param, tmp_path)


# ----------------------------------------------------------------------------- §6.7 step 3


@pytest.mark.parametrize("lab", ["edge-lost"], indirect=True)
def test_rebuilt_edge_replica_is_stale_until_replication_reaches_it(lab: Lab) -> None:
    """The Edge's store is seeded from a zip (-LocalStore); the Master Replicator learns of it only when
    replication reaches it: after install, when its replica agent starts, Edge config replicates on its
    own (§6.7 step 3, §1); Get-CsManagementStoreReplicationStatus reports UpToDate : False until then."""
    export = r"\\bk01.fabrikam.lab\LyncBackup\edge-config.zip"
    lab.ps(FE1, f"Export-CsConfiguration -FileName '{export}'")
    lab.lab.rebuild(EDGE1)
    assert not lab.up_to_date(EDGE1)
    lab.ps(EDGE1, f"Import-CsConfiguration -LocalStore -FileName '{export}'")
    lab.ps(EDGE1, BOOTSTRAPPER)
    assert not lab.up_to_date(EDGE1), "a store imported from a file is not a replica the master knows"
    assert "the CMS replica on edge01.fabrikam.lab is not up to date" in lab.problems()
    lab.ps(EDGE1, "Start-CsWindowsService")
    assert lab.up_to_date(EDGE1)
    assert lab.problems() == []


@pytest.mark.parametrize("lab", ["edge-lost"], indirect=True)
def test_forced_replication_brings_a_seeded_edge_up_to_date(lab: Lab) -> None:
    export = r"\\bk01.fabrikam.lab\LyncBackup\edge-config.zip"
    lab.ps(FE1, f"Export-CsConfiguration -FileName '{export}'")
    lab.lab.rebuild(EDGE1)
    lab.ps(EDGE1, f"Import-CsConfiguration -LocalStore -FileName '{export}'")
    lab.ps(EDGE1, BOOTSTRAPPER)
    assert not lab.up_to_date(EDGE1)
    lab.ps(FE1, f"Invoke-CsManagementStoreReplication -ReplicaFqdn {EDGE1}")  # §7.2: not up to date -> force
    assert lab.up_to_date(EDGE1)  # its services are still stopped: the push did it


# ----------------------------------------------------------------------------- §6.21


def _federation(lab: Lab, target: str) -> str:
    return lab.result(FE11, f"Test-CsFederatedPartner -TargetFqdn {target} -Domain litwareinc.com")


@pytest.mark.parametrize("lab", ["edge-site-lost"], indirect=True)
def test_federation_follows_the_published_route_and_setup_run_again(lab: Lab) -> None:
    """Only one Edge pool is published for federation; its servers take it up when setup runs again from
    a local store that holds the published topology, and federation works once their services run."""
    assert _federation(lab, LOST) == "Failure"  # the pool is lost
    assert _federation(lab, NEW) == "Failure"  # not published for federation
    note = lab.manual("edge-dr", f"edge-federation-route-{LOST}", pool=LOST)
    assert note is not None and "published" in note
    # Run Again at once: the Edge reads its replica, which the publish has not reached yet
    note = lab.manual("edge-dr", f"edge-setup-again-{NEW}", pool=LOST)
    assert note is not None and "without federation" in note
    lab.ps(EDGE11, "Start-CsWindowsService")
    assert _federation(lab, NEW) == "Failure"
    assert any("setup was not run again on edge11.fabrikam.lab" in p for p in lab.dep.federation_problems())
    lab.ps(FE11, f"Invoke-CsManagementStoreReplication -ReplicaFqdn {EDGE11}")
    lab.manual("edge-dr", f"edge-setup-again-{NEW}", pool=LOST)
    assert _federation(lab, NEW) == "Failure"  # setup leaves the services stopped
    lab.ps(EDGE11, "Start-CsWindowsService")
    assert _federation(lab, NEW) == "Success"
    assert _federation(lab, EDGE11) == "Success" and _federation(lab, LOST) == "Failure"


@pytest.mark.parametrize("lab", ["edge-site-lost"], indirect=True)
def test_federation_needs_a_next_hop_that_serves(lab: Lab) -> None:
    lab.manual("edge-dr", f"edge-federation-route-{LOST}", pool=LOST)
    lab.ps(FE11, f"Invoke-CsManagementStoreReplication -ReplicaFqdn {EDGE11}")
    lab.manual("edge-dr", f"edge-setup-again-{NEW}", pool=LOST)
    lab.ps(EDGE11, "Start-CsWindowsService")
    assert _federation(lab, NEW) == "Success"
    for fe in ("fe11.fabrikam.lab", "fe12.fabrikam.lab", "fe13.fabrikam.lab"):
        lab.dep.lose_server(fe)
    assert _federation(lab, NEW) == "Failure"
    assert any("next hop of edge2.fabrikam.lab" in p for p in lab.dep.federation_problems())


@pytest.mark.parametrize("lab", ["edge-site-lost"], indirect=True)
def test_topology_builder_publishes_one_federation_pool_only(lab: Lab) -> None:
    step = compose(lab.lab.plan, "edge-dr", pool=LOST).step(f"edge-federation-route-{LOST}")
    assert step.manual is not None
    tick_only = "\n".join(line for line in step.manual.instructions if "clear" not in line)
    note = lab.lab.perform_manual(step.id, tick_only)
    assert note is not None and "refused" in note
    assert lab.dep.federation_edge() == LOST


@pytest.mark.parametrize("lab", ["edge-site-lost"], indirect=True)
def test_media_of_the_lost_site_needs_the_association(lab: Lab) -> None:
    assert lab.result(FE1, "Test-CsAVEdgeConnectivity -TargetFqdn pool1.fabrikam.lab") == "Failure"
    assert lab.result(FE11, "Test-CsAVEdgeConnectivity -TargetFqdn pool2.fabrikam.lab") == "Success"
    note = lab.manual("edge-dr", f"edge-media-{LOST}", pool=LOST)
    assert note is not None and "pool1.fabrikam.lab uses edge2.fabrikam.lab" in note
    assert lab.result(FE1, "Test-CsAVEdgeConnectivity -TargetFqdn pool1.fabrikam.lab") == "Success"
    assert not any("media" in p for p in lab.problems())


@pytest.mark.parametrize("lab", ["edge-site-lost"], indirect=True)
def test_the_documented_procedure_brings_federation_xmpp_and_media_back(lab: Lab) -> None:
    """§6.21 by hand: federation route, XMPP route (services stopped, Set-CsSite, started), media."""
    problems = lab.problems()
    assert any("federation is still published" in p for p in problems)
    assert any("XMPP federation route of site HQ" in p for p in problems)
    lab.manual("edge-dr", f"edge-federation-route-{LOST}", pool=LOST)
    lab.ps(FE11, f"Invoke-CsManagementStoreReplication -ReplicaFqdn {EDGE11}")
    lab.manual("edge-dr", f"edge-setup-again-{NEW}", pool=LOST)
    lab.ps(EDGE11, "Stop-CsWindowsService")
    lab.ps(FE11, f"Set-CsSite HQ -XmppExternalFederationRoute {NEW}")
    lab.ps(EDGE11, "Start-CsWindowsService")
    lab.manual("edge-dr", f"edge-media-{LOST}", pool=LOST)
    lab.ps(FE11, "Invoke-CsManagementStoreReplication")
    assert lab.problems() == []
    # the federation route has no element in the published document (T§2): it is in what the CMS holds
    assert lab.dep.cms_config()["topology"]["federation_edge"] == NEW  # type: ignore[index]
