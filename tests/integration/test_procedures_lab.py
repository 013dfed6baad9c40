"""Composed procedures run headless against the lab, over the real pywinrm and pyodbc clients.

Every lab scenario's procedure reaches "service restored" (every §7 check passes) and the
scenario's own scoring agrees. Manual steps (§6.1 rebuild, Deployment Wizard, Topology Builder,
a share) are played by the lab's hands (:meth:`LabRuntime.perform_manual`) before the trainee's
"done"; with one step skipped - a command, a Deployment Wizard run or a server never prepared -
a post-check or the verification catches it, and the lab agrees service is not back.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from lab.runtime import LabRuntime
from lab.scenarios import scenario
from wizard.errors import RemoteError
from wizard.procedures.compose import cms_after, compose
from wizard.procedures.engine import AnswersFile, Engine
from wizard.procedures.events import ProcedureFinished, StepDone, StepFailed, StepQuestion, StepSkipped
from wizard.remote.sql import SqlRunner

pytestmark = pytest.mark.integration

CASES = [
    # the CMS lives on pool1's mirrored Back End: CMS failover first (§5.3 C, S20, S22)
    ("be-primary-lost-witness", "cms-failover+be-mirror-primary", "pool1.fabrikam.lab"),
    ("be-primary-lost-no-witness", "cms-failover+be-mirror-primary", "pool1.fabrikam.lab"),
    ("pool-lost-paired", "pool-failover", "pool2.fabrikam.lab"),
    ("cms-lost-paired", "pool-failover", "pool1.fabrikam.lab"),
    ("be-lost-unpaired", "be-restore", "pool3.fabrikam.lab"),
    ("file-store-lost", "file-store-restore", "pool1.fabrikam.lab"),
    ("monitoring-db-lost", "monitoring-archiving-restore", "pool1.fabrikam.lab"),
    ("pchat-db-lost", "pchat-restore", "pchat.fabrikam.lab"),
    ("bad-config-change", "config-rollback", None),
    ("fe-lost", "member-rebuild", "fe02.fabrikam.lab"),
    ("edge-lost", "member-rebuild", "edge01.fabrikam.lab"),
    ("edge-site-lost", "edge-dr", "edge.fabrikam.lab"),
    ("pool-lost-unpaired", "pool-restore", "pool3.fabrikam.lab"),
    ("cms-se-lost-unpaired", "cms-restore", "se01.fabrikam.lab"),
]
#: paths whose target is a server, not a pool
SERVER_PATHS = {"member-rebuild"}


class LabRunners:
    """The wizard's real runners on the lab's loopback endpoints."""

    def __init__(self, lab: LabRuntime) -> None:
        self.lab = lab
        self.ps: dict[str, Any] = {}
        self.sq: dict[str, SqlRunner] = {}

    def powershell(self, host: str) -> Any:
        if host not in self.ps:
            try:
                self.ps[host] = self.lab.runner(host, "basic")
            except KeyError:
                raise RemoteError(f"{host} does not answer on WinRM.") from None
        return self.ps[host]

    def sql(self, server: str, instance: str | None) -> SqlRunner:
        key = f"{server}\\{instance}" if instance else server
        if key not in self.sq:
            try:
                endpoint = self.lab.sql_endpoint(key)
            except KeyError:
                raise RemoteError(f"{key} does not answer on SQL.") from None
            self.sq[key] = SqlRunner(endpoint, self.lab.sql_user, self.lab.sql_password)
        return self.sq[key]

    def close(self) -> None:
        for r in self.ps.values():
            r.close()
        for s in self.sq.values():
            s.close()


class DrillAnswers:
    """The answers file, plus the trainee's hands: every manual step (§6.1 rebuild, Deployment
    Wizard, Topology Builder, a share) is played by the lab before answering "done"."""

    def __init__(self, lab: LabRuntime, base: AnswersFile) -> None:
        self.lab, self.base = lab, base
        self.notes: dict[str, str] = {}

    def answer(self, q: StepQuestion) -> str:
        if q.kind == "manual":
            note = self.lab.perform_manual(q.step_id, q.prompt)
            if note is not None:
                self.notes[q.step_id] = note
        return self.base.answer(q)


def _drill(name: str, path: str, target: str | None, skip: tuple[str, ...] = ()) -> tuple[list[Any], list[str]]:
    with LabRuntime(scenario(name), time_factor=600) as lab:
        root = lab.dep.paths.resolve(lab.plan.backup.locations[0].unc)
        newest = sorted(p.name for p in root.iterdir() if p.is_dir())[-1]
        runners = LabRunners(lab)
        answers = DrillAnswers(lab, AnswersFile(operator="alice", second_operator="bob", confirm_all=True,
                                                skip=skip))
        events: list[Any] = []
        cms_at = None
        try:
            paths = path.split("+")
            for i, one in enumerate(paths):  # a plan of action: in order, the CMS where earlier paths left it
                where = {"server": target} if one in SERVER_PATHS else {"pool": target}
                proc = compose(lab.plan, one, backup_set=newest, cms_at=cms_at, **where)
                cms_at = cms_after(lab.plan, one, target, cms_at)
                # as the wizard verifies: only the last path on a pool describes its end state
                later = {s.id: "done" for s in proc.steps if s.phase == "verify"} if i < len(paths) - 1 else {}
                events += Engine(proc, runners, answers, operator="alice", wait_scale=0.01, sleep=time.sleep,
                                 finished=later).run()
                if not events[-1].restored:
                    break
        finally:
            runners.close()
        return events, scenario(name).check(lab.dep)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("name", "path", "pool"), CASES)
def test_procedure_restores_service(name: str, path: str, pool: str | None) -> None:
    events, problems = _drill(name, path, pool)
    end = events[-1]
    assert isinstance(end, ProcedureFinished)
    assert end.restored, end
    assert not problems, problems
    assert not any(isinstance(e, StepFailed) for e in events)
    assert any(isinstance(e, StepDone) for e in events)


@pytest.mark.timeout(60)
@pytest.mark.timeout(60)
@pytest.mark.parametrize(("name", "path", "pool", "skipped"), [
    ("pool-lost-paired", "pool-failover", "pool2.fabrikam.lab", "rgs-import-pool2.fabrikam.lab-to-pool1.fabrikam.lab"),
    ("cms-lost-paired", "pool-failover", "pool1.fabrikam.lab", "cms-failover"),
    ("be-lost-unpaired", "be-restore", "pool3.fabrikam.lab", "be-databases-pool3.fabrikam.lab"),
    # Deployment Wizard not run: the hands never install what the trainee skipped
    ("fe-lost", "member-rebuild", "fe02.fabrikam.lab", "deploy-fe02.fabrikam.lab"),
    ("pool-lost-unpaired", "pool-restore", "pool3.fabrikam.lab", "deploy-fe22.fabrikam.lab"),
    # no exported zip: the Edge's Deployment Wizard Step 1 (import from a file) cannot be done
    ("edge-lost", "member-rebuild", "edge01.fabrikam.lab", "edge-export-edge.fabrikam.lab"),
    # §6.21 XMPP: the new Edge's services are never started again after the route moved
    ("edge-site-lost", "edge-dr", "edge.fabrikam.lab", "edge-xmpp-start-edge2.fabrikam.lab"),
    # the old primary never rebuilt: Topology Builder cannot create the mirror databases there
    ("be-primary-lost-witness", "cms-failover+be-mirror-primary", "pool1.fabrikam.lab", "prepare-sql01.fabrikam.lab"),
    # no database failover: Topology Builder cannot reach the CMS to publish (§11.2)
    ("be-primary-lost-no-witness", "cms-failover+be-mirror-primary", "pool1.fabrikam.lab",
     "db-failover-pool1.fabrikam.lab"),
    # §6.5 steps 3-4 not done: the topology still names the dead primary as the pool's SQL store
    ("be-primary-lost-witness", "cms-failover+be-mirror-primary", "pool1.fabrikam.lab",
     "be-mirror-topology-pool1.fabrikam.lab"),
])
def test_a_skipped_step_is_caught(name: str, path: str, pool: str, skipped: str) -> None:
    events, problems = _drill(name, path, pool, skip=(skipped,))
    end = events[-1]
    assert isinstance(end, ProcedureFinished)
    assert any(isinstance(e, StepSkipped) and e.step_id == skipped for e in events)
    assert not end.restored, "the skipped step went unnoticed"
    assert end.failed_step or end.failed_checks
    assert problems, "the lab agrees service is not fully restored"


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("name", "path", "pool", "ran", "other", "why_not"), [
    # the witness moved the CMS databases to the mirror: a master still runs, the planned failover (§6.15, P1);
    # the disaster step then finds the work done
    ("be-primary-lost-witness", "cms-failover+be-mirror-primary", "pool1.fabrikam.lab",
     "cms-failover-planned", "cms-failover", "work already done: CMS master is active in pool2"),
    # both Back End nodes lost: no master (empty ActiveMasterFqdn), the disaster set with -Force (§6.15 step 3)
    ("cms-lost-paired", "pool-failover", "pool1.fabrikam.lab", "cms-failover", "cms-failover-planned",
     "not needed: a CMS master is still active in pool1"),
])
def test_the_cms_failover_the_lab_gets_is_the_one_its_state_needs(name: str, path: str, pool: str, ran: str,
                                                                  other: str, why_not: str) -> None:
    events, problems = _drill(name, path, pool)
    assert not problems and events[-1].restored, events[-1]
    assert ran in {e.step_id for e in events if isinstance(e, StepDone)}
    skipped = {e.step_id: e.reason for e in events if isinstance(e, StepSkipped)}
    assert skipped[other].startswith(why_not), skipped
