"""The trainee's hands (lab.hands), in-process: each manual step does to the lab what the
real tool does, follows the step's own instructions, and never makes up for a skipped step."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.hands import LabHands
from lab.runtime import LabRuntime
from lab.scenarios import scenario
from wizard.procedures.compose import compose
from wizard.procedures.library.common import edge_export_path
from wizard.procedures.model import Step

P1 = "pool1.fabrikam.lab"


class Lab:
    """A scenario's deployment (no listeners) and hands on it."""

    def __init__(self, name: str, tmp: Path) -> None:
        self.lab = LabRuntime(scenario(name), state_dir=tmp, time_factor=float("inf"))
        self.dep = self.lab.dep
        self.listened: list[str] = []
        self.hands = LabHands(self.dep, self.lab.powershell, self.dep.rebuild_server, self.listened.append)

    def ps(self, host: str, script: str) -> str:
        out: list[str] = []
        err: list[str] = []
        code = self.lab.powershell(host).run_script(script, out.append, err.append, clixml_errors=False)
        assert code == 0, "".join(err)
        return "".join(out)

    def step(self, path: str, step_id: str, **target: str) -> Step:
        return compose(self.lab.plan, path, backup_set="2026-11-24_0200", **target).step(step_id)

    def play(self, step: Step) -> str | None:
        assert step.manual is not None
        return self.hands.perform(step.id, "\n".join(step.manual.instructions))

    def problems(self) -> list[str]:
        assert self.lab.scenario is not None
        return self.lab.scenario.service_restored(self.dep)


def _fail_the_cms_over(lab: Lab) -> None:
    """§6.15, run on a Front End of the paired pool: the CMS moves to pool2 and stays there."""
    lab.ps("fe11.fabrikam.lab", "Invoke-CsManagementServerFailover -BackupSqlServerFqdn 'sql11.fabrikam.lab' "
                                  "-BackupSqlInstanceName 'rtc' -Force")
    assert lab.dep.cms_pool == "pool2.fabrikam.lab" and lab.dep.publish_problem() is None


@pytest.fixture
def lab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lab]:
    yield Lab(request.param, tmp_path)


@pytest.mark.parametrize("lab", ["fe-lost"], indirect=True)
def test_prepare_then_deployment_wizard_brings_a_front_end_back(lab: Lab) -> None:
    fe = "fe02.fabrikam.lab"
    assert lab.problems()
    note = lab.play(lab.step("member-rebuild", f"prepare-{fe}", server=fe))
    assert note is not None and "rebuilt" in note
    assert not lab.dep.server(fe).lync_installed
    note = lab.play(lab.step("member-rebuild", f"deploy-{fe}", server=fe))
    assert note is not None and "RTCSRV Running" in note
    srv = lab.dep.server(fe)
    assert all(s.status == "Running" for s in srv.services.values())
    assert lab.dep.replica_up_to_date(srv)
    assert lab.problems() == []


@pytest.mark.parametrize("lab", ["fe-lost"], indirect=True)
def test_deployment_wizard_on_a_server_never_prepared_does_nothing(lab: Lab) -> None:
    fe = "fe02.fabrikam.lab"
    note = lab.play(lab.step("member-rebuild", f"deploy-{fe}", server=fe))
    assert note is not None and "not running" in note and "§6.1" in note
    assert not lab.dep.server(fe).reachable
    assert not any(e.host == fe and "Deployment Wizard" in e.what for e in lab.dep.events)


@pytest.mark.parametrize("lab", ["edge-lost"], indirect=True)
def test_edge_needs_the_exported_zip(lab: Lab) -> None:
    edge = "edge01.fabrikam.lab"
    lab.play(lab.step("member-rebuild", f"prepare-{edge}", server=edge))
    deploy = lab.step("member-rebuild", f"deploy-{edge}", server=edge)
    note = lab.play(deploy)
    assert note is not None and "No configuration zip" in note
    assert not lab.dep.server(edge).lync_installed
    export = edge_export_path(lab.lab.plan, "edge.fabrikam.lab")
    lab.ps("fe01.fabrikam.lab", f"Export-CsConfiguration -FileName '{export}'")
    note = lab.play(deploy)
    assert note is not None and "imported from the exported zip" in note
    assert lab.problems() == []


@pytest.mark.parametrize("lab", ["be-primary-lost-no-witness"], indirect=True)
def test_topology_builder_cannot_publish_without_the_cms(lab: Lab) -> None:
    # no database failover yet: the CMS (xds on the lost primary) is out of reach (§11.2)
    note = lab.play(lab.step("be-mirror-primary", f"be-mirror-topology-{P1}", pool=P1))
    assert note is not None and "could not reach the Central Management store" in note
    assert lab.dep.store_override == {} and lab.dep.mirror_override == {}


@pytest.mark.parametrize("lab", ["be-primary-lost-witness"], indirect=True)
def test_mirrored_primary_lost_played_by_hand(lab: Lab) -> None:
    fe = "fe01.fabrikam.lab"
    # the mirror carries the CMS, but Topology Builder publishes to the primary CMS database (§5.3 C, S20)
    note = lab.play(lab.step("be-mirror-primary", f"be-mirror-topology-{P1}", pool=P1))
    assert note is not None and "primary Central Management store database on sql01.fabrikam.lab\\rtc is not " \
        "online" in note and "nothing was published" in note
    _fail_the_cms_over(lab)
    version = lab.dep.config_version()
    note = lab.play(lab.step("be-mirror-primary", f"be-mirror-topology-{P1}", pool=P1))
    assert note is not None and "sql02.fabrikam.lab\\rtc" in note
    assert lab.dep.config_version() == version + 2  # published twice (§6.5 steps 3-4)
    assert lab.dep.pool_sql(P1) is lab.dep.instance_by_id("be1-mirror")
    assert lab.dep.mirror_sql(P1) is None
    for t in ("User", "Application"):  # the CMS lives in pool2 now
        lab.ps(fe, f"Uninstall-CsMirrorDatabase -DatabaseType {t} -SqlServerFqdn sql02.fabrikam.lab "
                   "-SqlInstanceName rtc")
    create = lab.step("be-mirror-primary", f"be-mirror-create-{P1}", pool=P1)
    note = lab.play(create)  # the old primary is not rebuilt yet
    assert note is not None and "could not connect" in note
    lab.play(lab.step("be-mirror-primary", "prepare-sql01.fabrikam.lab", pool=P1))
    note = lab.play(create)
    assert note is not None and "mirror database(s) created" in note
    mirror = lab.dep.instance_by_id("be1")
    assert mirror is not None and lab.dep.mirror_sql(P1) is mirror
    rtcxds = mirror.database("rtcxds")
    assert rtcxds is not None and (rtcxds.state, rtcxds.mirroring_role) == ("RESTORING", "MIRROR")
    assert "sql01.fabrikam.lab" in lab.listened
    assert lab.dep.witness_sql(P1) is lab.dep.instance_by_id("be1-witness")  # the step names the witness
    for fe_ in ("fe01.fabrikam.lab", "fe02.fabrikam.lab", "fe03.fabrikam.lab"):  # T15, §6.6: mirroring changed
        lab.ps(fe, f"Stop-CsWindowsService -ComputerName {fe_}; Start-CsWindowsService -ComputerName {fe_}")
    assert lab.problems() == []


@pytest.mark.parametrize("lab", ["be-primary-lost-witness"], indirect=True)
def test_a_mirror_on_the_store_itself_is_refused(lab: Lab) -> None:
    _fail_the_cms_over(lab)
    text = "Edit the properties: set the mirroring SQL Server store to sql01.fabrikam.lab\\rtc; OK."
    note = lab.hands.perform(f"be-mirror-create-{P1}", text)  # sql01 is still the pool's store
    assert note is not None and "cannot be its own mirror" in note
    assert lab.dep.mirror_override == {}


@pytest.mark.parametrize("lab", ["cms-se-lost-unpaired"], indirect=True)
def test_prepare_first_standard_edition_server_installs_an_empty_cms_store(lab: Lab) -> None:
    se = "se01.fabrikam.lab"
    lab.play(lab.step("cms-restore", f"prepare-{se}"))
    note = lab.play(lab.step("cms-restore", f"prepare-first-se-{se}"))
    assert note is not None and "Central Management store" in note
    inst = lab.dep.instance(se, "rtc")
    xds = inst.database("xds") if inst is not None else None
    assert xds is not None and "config" not in xds.content  # empty: the import comes later
    assert lab.dep.cms_problem() is not None


@pytest.mark.parametrize("lab", ["file-store-lost"], indirect=True)
def test_share_made_by_hand_and_steps_without_hands(lab: Lab) -> None:
    fs = lab.lab.plan.file_store("fs-hq")
    root = lab.dep.paths.unc(fs.server, fs.share)
    assert not root.exists()  # the rebuilt file server has no share yet (§6.9 step 1)
    note = lab.hands.perform("filestore-share-fs-hq", "create the share")
    assert note is not None and "is now shared" in note and root.is_dir()
    assert lab.hands.perform("custom-tell-service-desk", "Tell the service desk.") is None
    assert lab.hands.perform("verify-by-hand", "Sign in with a Lync 2013 client.") is None


@pytest.mark.parametrize("lab", ["bad-config-change"], indirect=True)
def test_bootstrapper_on_the_cms_pool_after_a_move(lab: Lab) -> None:
    lab.dep.server("fe03.fabrikam.lab").replica_version = 0  # a Front End without the service yet
    note = lab.hands.perform("cms-move-bootstrap", "Run Bootstrapper.exe /Setup on each listed Front End.")
    assert note is not None and "fe03.fabrikam.lab" in note
    assert lab.dep.replica_up_to_date(lab.dep.server("fe03.fabrikam.lab"))
