"""Composed procedures run headless against the lab, over the real pywinrm and pyodbc clients.

For each scenario whose path has no Deployment Wizard / Topology Builder work (the lab cannot
yet play those manual steps from an answers file), the procedure reaches "service restored"
(every §7 check passes) and the scenario's own scoring agrees; with one step skipped, a
post-check or the verification catches it.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from wizard.errors import RemoteError
from wizard.lab.runtime import LabRuntime
from wizard.lab.scenarios import scenario
from wizard.procedures.compose import compose
from wizard.procedures.engine import AnswersFile, Engine, ProcedureFinished, Question, StepDone, StepFailed, StepSkipped
from wizard.remote.sql import SqlRunner

pytestmark = pytest.mark.integration

CASES = [
    ("pool-lost-paired", "pool-failover", "pool2.fabrikam.lab"),
    ("cms-lost-paired", "pool-failover", "pool1.fabrikam.lab"),
    ("be-lost-unpaired", "be-restore", "pool3.fabrikam.lab"),
    ("file-store-lost", "file-store-restore", "pool1.fabrikam.lab"),
    ("monitoring-db-lost", "monitoring-archiving-restore", "pool1.fabrikam.lab"),
    ("pchat-db-lost", "pchat-restore", "pchat.fabrikam.lab"),
    ("bad-config-change", "config-rollback", None),
]


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
            self.sq[key] = SqlRunner(self.lab.sql_endpoint(key), self.lab.sql_user, self.lab.sql_password)
        return self.sq[key]

    def close(self) -> None:
        for r in self.ps.values():
            r.close()
        for s in self.sq.values():
            s.close()


class DrillAnswers:
    """The answers file, plus the trainee's hands: a "prepare" step (§6.1, OS + SQL rebuilt with
    the same FQDN) is played by the lab's own rebuild action before answering "done"."""

    def __init__(self, lab: LabRuntime, base: AnswersFile) -> None:
        self.lab, self.base = lab, base

    def answer(self, q: Question) -> str:
        if q.kind == "manual" and q.step_id.startswith("prepare-"):
            self.lab.rebuild(q.step_id.removeprefix("prepare-"))
        return self.base.answer(q)


def _drill(name: str, path: str, pool: str | None, skip: tuple[str, ...] = ()) -> tuple[list[Any], list[str]]:
    with LabRuntime(scenario(name), time_factor=600) as lab:
        root = lab.dep.paths.resolve(lab.plan.backup.locations[0].unc)
        newest = sorted(p.name for p in root.iterdir() if p.is_dir())[-1]
        proc = compose(lab.plan, path, pool=pool, backup_set=newest)
        runners = LabRunners(lab)
        answers = DrillAnswers(lab, AnswersFile(operator="alice", second_operator="bob", confirm_all=True,
                                                skip=skip))
        try:
            events = list(Engine(proc, runners, answers, operator="alice", wait_scale=0.01, sleep=time.sleep).run())
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
@pytest.mark.parametrize(("name", "path", "pool", "skipped"), [
    ("pool-lost-paired", "pool-failover", "pool2.fabrikam.lab", "rgs-import-pool2.fabrikam.lab-to-pool1.fabrikam.lab"),
    ("cms-lost-paired", "pool-failover", "pool1.fabrikam.lab", "cms-failover"),
    ("be-lost-unpaired", "be-restore", "pool3.fabrikam.lab", "be-databases-pool3.fabrikam.lab"),
])
def test_a_skipped_step_is_caught(name: str, path: str, pool: str, skipped: str) -> None:
    events, problems = _drill(name, path, pool, skip=(skipped,))
    end = events[-1]
    assert isinstance(end, ProcedureFinished)
    assert any(isinstance(e, StepSkipped) and e.step_id == skipped for e in events)
    assert not end.restored, "the skipped step went unnoticed"
    assert end.failed_step or end.failed_checks
    assert problems, "the lab agrees service is not fully restored"
