"""Composition: every ordering rule is enforced (a violating composition cannot be built),
plan custom steps land at their hooks, steps left out carry a reason."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.conftest import REPO
from tests.unit.procedures_helpers import every_procedure
from wizard.plan import load_plan
from wizard.plan.model import Plan
from wizard.procedures.compose import RULES, OrderingError, Procedure, compose
from wizard.procedures.library.common import Ctx
from wizard.procedures.library.failover import pool_failback_step, pool_failover_step
from wizard.procedures.model import AnyEqual, Contains, OneOf, PsCommand, Step

TWO_SITE = "lonpool.corp.contoso.com"


def _plan(name: str) -> Plan:
    return load_plan(REPO / "plans" / name).plan


def _rebuild(proc: Procedure, steps: list[Step]) -> Procedure:
    return replace(proc, steps=tuple(steps))


def _move(proc: Procedure, step_id: str, before: str) -> Procedure:
    steps = [s for s in proc.steps if s.id != step_id]
    moving = proc.step(step_id)
    at = next(i for i, s in enumerate(steps) if s.id == before)
    return _rebuild(proc, [*steps[:at], moving, *steps[at:]])


def _move_many(proc: Procedure, step_ids: list[str], before: str) -> Procedure:
    """Move several steps (in this order) just before ``before``; the result is validated."""
    moving = [proc.step(i) for i in step_ids]
    steps = [s for s in proc.steps if s.id not in step_ids]
    at = next(i for i, s in enumerate(steps) if s.id == before)
    return _rebuild(proc, [*steps[:at], *moving, *steps[at:]])


def _drop(proc: Procedure, step_id: str) -> Procedure:
    proc.step(step_id)  # exists
    return _rebuild(proc, [s for s in proc.steps if s.id != step_id])


@pytest.fixture(scope="module")
def failover() -> Procedure:
    return compose(_plan("example-two-site.yaml"), "pool-failover", pool=TWO_SITE, backup_set="S")


@pytest.fixture(scope="module")
def cms_restore() -> Procedure:
    return compose(_plan("lab.yaml"), "cms-restore", backup_set="S")


@pytest.fixture(scope="module")
def pool_restore() -> Procedure:
    return compose(_plan("lab.yaml"), "pool-restore", pool="pool3.fabrikam.lab", backup_set="S")


def test_every_shipped_composition_builds() -> None:
    procs = list(every_procedure())
    assert len(procs) > 150
    assert {p.path.id for p in procs} >= {"pool-failover", "cms-restore", "be-restore", "se-restore", "pool-restore",
                                          "member-rebuild", "edge-dr", "abc-failover", "pchat-failover"}


def test_cms_before_back_end(cms_restore: Procedure) -> None:
    with pytest.raises(OrderingError, match="cms"):
        _move(cms_restore, "be-databases-pool1.fabrikam.lab", before="cms-install-database")


def test_cms_restore_internal_order(cms_restore: Procedure) -> None:
    with pytest.raises(OrderingError, match="cms-location"):
        _move(cms_restore, "cms-import-configuration", before="cms-set-location")


def test_cms_failover_before_pool_failover(failover: Procedure) -> None:
    with pytest.raises(OrderingError):
        _move(failover, f"pool-failover-{TWO_SITE}", before="cms-failover")
    with pytest.raises(OrderingError, match="cms-"):
        _rebuild(failover, [s for s in failover.steps if not s.id.startswith("cms-failover")])
    without_edge_and_cms = [s for s in failover.steps if not s.id.startswith(("cms-failover", "edge-"))]
    with pytest.raises(OrderingError, match="cms-failover"):
        _rebuild(failover, without_edge_and_cms)


def test_edge_next_hop_before_pool_failover(failover: Procedure) -> None:
    edge = "edge-next-hop-lonedge.corp.contoso.com"
    with pytest.raises(OrderingError, match="edge-next-hop"):
        _move(failover, f"pool-failover-{TWO_SITE}", before=edge)
    with pytest.raises(OrderingError, match="edge-next-hop"):
        _drop(failover, edge)


def test_lis_after_pool_failover(failover: Procedure) -> None:
    with pytest.raises(OrderingError, match="pool-failover"):
        _move(failover, "lis-import-amspool.corp.contoso.com", before=f"pool-failover-{TWO_SITE}")


def test_services_stopped_before_import(cms_restore: Procedure) -> None:
    with pytest.raises(OrderingError, match="services"):
        _drop(cms_restore, "userdata-stop-pool1.fabrikam.lab")
    with pytest.raises(OrderingError):
        _move(cms_restore, "userdata-import-pool1.fabrikam.lab", before="userdata-stop-pool1.fabrikam.lab")


def test_services_started_after_import(cms_restore: Procedure) -> None:
    with pytest.raises(OrderingError, match="started after"):
        _drop(cms_restore, "userdata-start-pool1.fabrikam.lab")
    with pytest.raises(OrderingError):
        _move(cms_restore, "userdata-start-pool1.fabrikam.lab", before="userdata-import-pool1.fabrikam.lab")


def test_back_end_before_front_ends(pool_restore: Procedure) -> None:
    with pytest.raises(OrderingError, match="Back End"):
        _move_many(pool_restore, ["prepare-fe21.fabrikam.lab", "deploy-fe21.fabrikam.lab"],
                   before="be-databases-pool3.fabrikam.lab")


def test_file_store_before_front_ends(pool_restore: Procedure) -> None:
    with pytest.raises(OrderingError, match="file store"):
        _move_many(pool_restore, ["prepare-fe21.fabrikam.lab", "deploy-fe21.fabrikam.lab"],
                   before="filestore-share-fs-dr")


def test_front_ends_before_user_data(pool_restore: Procedure) -> None:
    with pytest.raises(OrderingError, match="Front Ends"):
        _move_many(pool_restore, ["userdata-stop-pool3.fabrikam.lab", "userdata-import-pool3.fabrikam.lab"],
                   before="deploy-fe23.fabrikam.lab")


def test_failback_before_failover_when_reversing_roles() -> None:
    plan = _plan("lab.yaml")
    ctx = Ctx(plan)
    p1, p2 = plan.pool("pool1.fabrikam.lab"), plan.pool("pool2.fabrikam.lab")
    base = compose(plan, "pool-failback", pool=p1.fqdn)
    good = _rebuild(base, [pool_failback_step(ctx, p1, p2), pool_failover_step(ctx, p2, p1)])
    assert next(s.id for s in good.steps).startswith("pool-failback")
    with pytest.raises(OrderingError, match="fail back"):
        _rebuild(base, [pool_failover_step(ctx, p2, p1), pool_failback_step(ctx, p1, p2)])


def test_abc_pool_c_starts_after_the_moves() -> None:
    proc = compose(_plan("lab.yaml"), "abc-failover", pool="pool1.fabrikam.lab", new_pool="pool3.fabrikam.lab")
    with pytest.raises(OrderingError):
        _move(proc, "abc-start-pool3.fabrikam.lab", before="abc-move-users-pool1.fabrikam.lab")


def test_verification_is_last(failover: Procedure) -> None:
    with pytest.raises(OrderingError, match="verification"):
        _move(failover, "verify-cms-master", before=f"pool-failover-{TWO_SITE}")


def test_duplicate_steps_refused(failover: Procedure) -> None:
    with pytest.raises(OrderingError, match="twice"):
        _rebuild(failover, [*failover.steps[:3], failover.steps[0]])


def test_every_rule_has_a_test() -> None:
    source = (REPO / "tests" / "unit" / "test_procedures_compose.py").read_text()
    covered = {"cms-before-back-end": "test_cms_before_back_end", "cms-before-publish": "test_cms_before_publish",
               "cms-before-pool-failover": "test_cms_failover_before_pool_failover",
               "cms-failover-before-pool-failover": "test_cms_failover_before_pool_failover",
               "edge-next-hop-before-failover": "test_edge_next_hop_before_pool_failover",
               "stop-before-import": "test_services_stopped_before_import",
               "start-after-import": "test_services_started_after_import",
               "lis-after-failover": "test_lis_after_pool_failover",
               "back-end-before-front-ends": "test_back_end_before_front_ends",
               "back-end-before-user-data": "test_back_end_before_user_data",
               "front-ends-before-user-data": "test_front_ends_before_user_data",
               "file-store-before-front-ends": "test_file_store_before_front_ends",
               "failback-before-failover": "test_failback_before_failover_when_reversing_roles",
               "abc-move-before-start": "test_abc_pool_c_starts_after_the_moves"}
    assert {r.id for r in RULES} == set(covered)
    for name in covered.values():
        assert f"def {name}(" in source, name


def test_cms_before_publish() -> None:
    proc = compose(_plan("lab.yaml"), "be-mirror-primary", pool="pool1.fabrikam.lab")
    with pytest.raises(OrderingError):
        _move(proc, "be-mirror-topology-pool1.fabrikam.lab", before="db-failover-pool1.fabrikam.lab")


def test_back_end_before_user_data() -> None:
    proc = compose(_plan("lab.yaml"), "be-restore", pool="pool2.fabrikam.lab")
    with pytest.raises(OrderingError, match="Back End"):
        _move(proc, "be-databases-pool2.fabrikam.lab", before="userdata-start-pool2.fabrikam.lab")


def test_custom_steps_at_their_hooks(failover: Procedure) -> None:
    ids = [s.id for s in failover.steps]
    assert ids[0] == "custom-change-freeze"  # before_restore
    assert ids.index("custom-check-sbc") == min(i for i, s in enumerate(failover.steps) if s.phase == "verify") - 1


def test_left_out_steps_have_reasons() -> None:
    proc = compose(_plan("lab.yaml"), "pool-failover", pool="pool2.fabrikam.lab")
    reasons = {o.step_id: o.reason for o in proc.omitted}
    assert "CMS lives in pool1.fabrikam.lab" in reasons["cms-failover"]
    assert "no Edge pool" in reasons["edge-next-hop"]
    assert not any(s.id.startswith("cms-failover") for s in proc.steps)


def test_steps_cite_sections_and_destructive_ones_confirm() -> None:
    for proc in list(every_procedure())[:80]:
        for step in proc.steps:
            if step.custom:
                continue
            assert f"§{step.section}" in step.why
            if step.destructive:
                assert step.confirm_text
    proc = compose(_plan("example-two-site.yaml"), "pool-failover", pool=TWO_SITE)
    assert proc.step(f"pool-failover-{TWO_SITE}").second_operator
    assert compose(_plan("lab.yaml"), "cms-restore").step("cms-install-database").second_operator


def test_pool_failover_imports_response_groups_without_taking_them_over() -> None:
    """#14 wrong-today 2: pool-failover imported RGS with -OverwriteOwner; §6.16 step 5 has none and
    T13 says the imported groups stay owned by the failed pool, which failback's
    Export-CsRgsConfiguration -Owner <home> relies on (§6.17 step 4)."""
    plan = load_plan(REPO / "plans" / "example-two-site.yaml").plan
    proc = compose(plan, "pool-failover", pool="lonpool.corp.contoso.com", backup_set="2026-11-24_0100")
    step = next(s for s in proc.steps if s.id.startswith("rgs-import-"))
    command = "\n".join(step.shown_lines())
    assert "Import-CsRgsConfiguration" in command and "-OverwriteOwner" not in command
    assert any(c.expect == AnyEqual("OwnerPool", "lonpool.corp.contoso.com") for c in step.post_checks)
    assert "§6.16 step 5" in step.why


def test_pool_failback_accepts_the_cms_staying_in_the_backup_pool() -> None:
    """#14: pool-failback's verify-cms-master expected the CMS master back in the failed-back pool;
    §6.17 step 5 says it may stay where it is (and §6.15 step 7: no CMS failback is required)."""
    plan = load_plan(REPO / "plans" / "lab.yaml").plan
    proc = compose(plan, "pool-failback", pool="pool1.fabrikam.lab")
    check = proc.step("verify-cms-master").post_checks[0]
    assert isinstance(check.expect, OneOf)
    assert {"pool1.fabrikam.lab", "pool2.fabrikam.lab", "fe11.fabrikam.lab"} <= set(check.expect.values)


def test_cms_failover_does_not_check_the_backup_service_of_the_pool_that_is_down() -> None:
    """#14: cms-failover verified the Backup Service between the backup pool and the CMS pool that
    is down, which can never pass; it checks the LIS it imported (§6.15 step 8) instead."""
    plan = load_plan(REPO / "plans" / "lab.yaml").plan
    ids = [s.id for s in compose(plan, "cms-failover").steps]
    assert not [i for i in ids if i.startswith(("verify-backup-service", "verify-pairing"))], ids
    assert "verify-lis-pool2.fabrikam.lab" in ids


def test_re_creating_the_mirror_restores_the_witness_and_restarts_the_front_ends() -> None:
    """#14: be-mirror-primary re-created the mirror without the witness and restarted no Front End
    afterwards; any change to a mirroring relationship needs every Front End restarted (§6.6, T15)."""
    plan = load_plan(REPO / "plans" / "lab.yaml").plan
    ids = [s.id for s in compose(plan, "be-mirror-primary", pool="pool1.fabrikam.lab").steps]
    create = ids.index("be-mirror-create-pool1.fabrikam.lab")
    assert ids[create + 1] == "fe-restart-pool1.fabrikam.lab-after-mirror"
    step = compose(plan, "be-mirror-primary", pool="pool1.fabrikam.lab").step(ids[create])
    assert step.manual is not None
    assert any("set the witness to sqlwit.fabrikam.lab\\rtc" in line for line in step.manual.instructions)


def test_verification_reads_the_cms_location_and_both_backup_service_directions() -> None:
    """#14, §7.2: the CMS pointer must name the expected SQL Server and instance (it passed on
    anything), and the Backup Service is checked in both directions (P1->P2 and P2->P1 differ)."""
    plan = load_plan(REPO / "plans" / "lab.yaml").plan
    failover = compose(plan, "cms-failover")
    location = failover.step("verify-cms-location").post_checks
    assert [c.expect for c in location] == [Contains(".", "sql11.fabrikam.lab"), Contains(".", "rtc")]
    ids = [s.id for s in compose(plan, "member-rebuild", server="fe02.fabrikam.lab").steps]
    assert {"verify-backup-service-0-pool1.fabrikam.lab", "verify-backup-service-0-pool2.fabrikam.lab"} <= set(ids)


def test_user_data_is_copied_locally_and_every_front_end_starts_together() -> None:
    """#14: §6.2 step 12 copies the zip locally first; the Import-CsUserData correction (§6.13) stops
    every Front End and starts them all at once afterwards (-NoWait), not one by one."""
    plan = load_plan(REPO / "plans" / "lab.yaml").plan
    proc = compose(plan, "be-restore", pool="pool3.fabrikam.lab", backup_set="2026-11-24_0200")
    ids = [s.id for s in proc.steps]
    assert ids.index("userdata-copy-pool3.fabrikam.lab") < ids.index("userdata-stop-pool3.fabrikam.lab")
    imported = "\n".join(proc.step("userdata-import-pool3.fabrikam.lab").shown_lines())
    assert "-FileName 'C:\\lync-restore\\UserData_pool3.fabrikam.lab.zip'" in imported
    start = proc.step("userdata-start-pool3.fabrikam.lab").shown_lines()
    assert [line.count("-NoWait") for line in start if "Start-CsWindowsService" in line] == [1, 1, 1]


def test_cms_restore_for_a_paired_cms_pool_starts_with_the_warning_of_section_5_2() -> None:
    """#14: cms-restore was offered for a paired CMS pool without a warning (§5.2: paired -> CMS
    failover); the operator must now acknowledge that the standby CMS cannot be used."""
    plan = load_plan(REPO / "plans" / "lab.yaml").plan  # pool1 hosts the CMS, paired with pool2
    steps = [s for s in compose(plan, "cms-restore", backup_set="2026-11-24_0200").steps
             if not s.id.startswith("custom-")]  # the organisation's own steps come first
    assert steps[0].id == "cms-restore-not-failover" and steps[0].manual is not None
    assert "§5.2" in steps[0].why and "pool2.fabrikam.lab" in steps[0].why
    standard = load_plan(REPO / "plans" / "example-standard.yaml").plan  # an unpaired SE CMS: no warning
    ids = [s.id for s in compose(standard, "cms-restore", backup_set="2026-11-24_0200").steps]
    assert "cms-restore-not-failover" not in ids


# ----------------------------------------------------------------------- #14 wrong today 4: pool restore


def _ids(proc) -> list[str]:  # type: ignore[no-untyped-def]
    return [s.id for s in proc.steps]


def test_restoring_the_cms_pool_enables_the_topology_without_waiting_for_front_ends_rebuilt_later() -> None:
    """cms-enable-topology waited for an active CMS master and replicas on pool1's Front Ends,
    which are rebuilt only later in the same path: it could never pass (§6.8: Back End first)."""
    plan = load_plan(REPO / "plans" / "lab.yaml").plan
    proc = compose(plan, "pool-restore", pool="pool1.fabrikam.lab")
    ids = _ids(proc)
    enable = proc.step("cms-enable-topology")
    titles = " | ".join(c.title for c in enable.post_checks)
    assert "CMS master is active" not in titles and "replica" not in titles
    assert "CMS service" in titles  # the imported topology is there, read from pool2
    first_fe = ids.index("prepare-fe01.fabrikam.lab")
    assert ids.index("cms-enable-topology") < first_fe
    # master and replicas are proved at the end, once the Front Ends run (§7.2)
    assert any(s.id == "verify-cms-master" for s in proc.steps[first_fe:])


def test_a_cms_failed_over_before_is_not_pulled_back_by_a_pool_restore() -> None:
    """With the CMS in pool2 (§6.15 step 7: no failback required), restoring pool1 must not run
    Install-CsDatabase -Clean + Set-CsConfigurationStoreLocation, which would point AD back at an
    older store."""
    plan = load_plan(REPO / "plans" / "lab.yaml").plan
    proc = compose(plan, "pool-restore", pool="pool1.fabrikam.lab", cms_at="pool2.fabrikam.lab")
    scripts = "\n".join(c.script() for s in proc.steps for c in s.commands if isinstance(c, PsCommand))
    assert "Set-CsConfigurationStoreLocation" not in scripts
    assert "-CentralManagementDatabase -Clean" not in scripts
    assert "be-databases-pool1.fabrikam.lab" in _ids(proc)


def test_a_lost_pools_mirror_is_rebuilt_before_its_mirror_databases_are_created() -> None:
    plan = load_plan(REPO / "plans" / "lab.yaml").plan
    for cms_at in (None, "pool2.fabrikam.lab"):
        ids = _ids(compose(plan, "pool-restore", pool="pool1.fabrikam.lab", cms_at=cms_at))
        prep = ids.index("prepare-sql02.fabrikam.lab")
        assert prep < ids.index("be-mirror-create-pool1.fabrikam.lab")
    step = compose(plan, "pool-restore", pool="pool1.fabrikam.lab").step("prepare-sql02.fabrikam.lab")
    assert step.only_if is not None and "does not answer" in step.only_if.title


def test_file_store_acls_are_reset_after_the_share_is_back_in_a_pool_restore() -> None:
    """Enable-CsTopology (or Topology Builder's publish) ran before the share existed; the ACLs
    are set once it is back (§6.9 step 2, §8)."""
    plan = load_plan(REPO / "plans" / "lab.yaml").plan
    for pool in ("pool1.fabrikam.lab", "pool3.fabrikam.lab"):
        ids = _ids(compose(plan, "pool-restore", pool=pool))
        fs = plan.pool(pool).file_store
        assert ids.index(f"filestore-share-{fs}") < ids.index(f"filestore-acl-{fs}")
        assert ids.index(f"filestore-copy-{fs}") < ids.index(f"filestore-acl-{fs}")


def test_a_pool_without_health_monitoring_test_users_gets_a_manual_sign_in_check_not_a_failure() -> None:
    """§7.2: synthetic transactions without arguments use the pool's test users; without them the
    verify row says so and leaves the check to the operator instead of reporting the pool unhealthy."""
    plan = load_plan(REPO / "plans" / "lab.yaml").plan
    with_users = [s.id for s in compose(plan, "be-restore", pool="pool3.fabrikam.lab").steps]
    assert "verify-registration-pool3.fabrikam.lab" in with_users
    pools = [replace(p, test_users=False) if p.fqdn == "pool3.fabrikam.lab" else p for p in plan.topology.pools]
    bare = replace(plan, topology=replace(plan.topology, pools=pools))
    proc = compose(bare, "be-restore", pool="pool3.fabrikam.lab")
    ids = [s.id for s in proc.steps]
    assert not any(i.startswith(("verify-registration-pool3", "verify-test-cs")) for i in ids)
    manual = proc.step("verify-synthetic-pool3.fabrikam.lab")
    assert manual.manual is not None and "no health-monitoring test users" in " ".join(manual.manual.instructions)
    assert "New-CsHealthMonitoringConfiguration" in manual.why
