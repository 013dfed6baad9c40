"""The headless engine with fake runners (pure logic): questions, journal, idempotence, gates."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from wizard.errors import InputFileError
from wizard.journal import Kind
from wizard.plan import load_plan
from wizard.procedures.compose import Procedure, compose
from wizard.procedures.engine import AnswersFile, Engine
from wizard.procedures.events import ProcedureFinished, StepDone, StepFailed, StepQuestion, StepSkipped
from wizard.remote.psbuild import JSON_BEGIN, JSON_END

BACKUP = "amspool.corp.contoso.com"


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str = ""


@dataclass
class FakeLync:
    """A two-site deployment in a dict: just enough state for the pool-failover procedure."""

    master: str = ""
    failed_over: bool = False
    scripts: list[str] = field(default_factory=list)

    def rows(self, script: str) -> list[Any]:
        if "Test-Path" in script:
            return [True]
        if "CentralManagementStoreStatus" in script:
            return [{"ActiveMasterFqdn": self.master, "ActiveFileTransferAgents": self.master}]
        if "Get-CsConfigurationStoreLocation" in script:  # where the CMS is: the backup pool's once failed over
            return ["amssql01.corp.contoso.com\\rtc" if self.master else "lonsql01.corp.contoso.com\\rtc"]
        if "Get-CsPoolBackupRelationship" in script:
            return [{"BackupPoolFqdn": BACKUP}]
        if "Get-CsWindowsService" in script:
            return [{"Name": "RTCSRV", "Status": 4}]
        if "Test-Cs" in script and "TargetFqdn" in script:
            return [{"TargetFqdn": BACKUP, "Result": "Success" if self.failed_over else "Failure"}]
        return [{"ReplicaFqdn": "x", "UpToDate": True, "Succeed": True, "Name": "wf", "Identity": "x",
                 "DatabaseName": "xds", "ExportStatus": "SteadyState", "OwnerPool": "lonpool.corp.contoso.com"}]

    def run(self, script: str, *, deadline_s: float, on_event: Any = None, cancel: Any = None) -> Result:
        self.scripts.append(script)
        if "Invoke-CsManagementServerFailover" in script:
            self.master = BACKUP
        if "Invoke-CsPoolFailover" in script:
            self.failed_over = True
        out = ""
        if JSON_BEGIN in script:
            out = f"{JSON_BEGIN}\n{json.dumps(self.rows(script))}\n{JSON_END}\n"
        return Result(0, out)


@dataclass
class FakeRunners:
    lync: FakeLync

    def powershell(self, host: str) -> FakeLync:
        return self.lync

    def sql(self, server: str, instance: str | None) -> Any:
        raise AssertionError("no SQL in this procedure")


@dataclass
class Log:
    entries: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def append(self, kind: str, payload: Any = None) -> None:
        self.entries.append((kind, dict(payload or {})))


def _proc() -> Procedure:
    plan = load_plan(REPO / "plans" / "example-two-site.yaml").plan
    return compose(plan, "pool-failover", pool="lonpool.corp.contoso.com", backup_set="S")


ANSWERS = AnswersFile(operator="alice", second_operator="bob", confirm_all=True)


def _run(lync: FakeLync, answers: AnswersFile = ANSWERS, **kw: Any) -> tuple[list[Any], Log]:
    log = Log()
    engine = Engine(_proc(), FakeRunners(lync), answers, journal=log, operator="alice", wait_scale=0,
                    sleep=lambda s: None, **kw)
    return list(engine.run()), log


def test_full_run_restores_service_and_journals_every_decision() -> None:
    events, log = _run(FakeLync())
    end = events[-1]
    assert isinstance(end, ProcedureFinished) and end.restored, end
    done = [e.step_id for e in events if isinstance(e, StepDone)]
    assert done.index("cms-failover") < done.index("pool-failover-lonpool.corp.contoso.com")
    kinds = [k for k, _ in log.entries]
    assert kinds.count(Kind.ACTION_STARTED) == kinds.count(Kind.ACTION_FINISHED) == len(_proc().steps)
    confirmations = [p for k, p in log.entries if k == Kind.DECISION and p["question"] == "second_operator"]
    assert confirmations and all(p["choice"] == "bob" for p in confirmations)
    started = next(p for k, p in log.entries if k == Kind.ACTION_STARTED and p["step"] == "cms-failover")
    assert "Invoke-CsManagementServerFailover" in started["command"]


def test_work_already_done_is_offered_as_skip_with_the_reason_journaled() -> None:
    lync = FakeLync(master=BACKUP)
    events, log = _run(lync)
    skipped = {e.step_id: e.reason for e in events if isinstance(e, StepSkipped)}
    assert "CMS master is active" in skipped["cms-failover"]
    assert any(p.get("question") == "skip_done_work" and p["step"] == "cms-failover" for _, p in log.entries)
    assert lync.scripts and not any("Invoke-CsManagementServerFailover" in s for s in lync.scripts)


def test_destructive_step_without_confirmation_does_not_run() -> None:
    lync = FakeLync()
    events, _ = _run(lync, AnswersFile(operator="alice", second_operator="bob"))
    failed = [e for e in events if isinstance(e, StepFailed)]
    assert failed[0].step_id == "cms-failover" and "confirmation" in failed[0].message
    assert not any("Invoke-CsManagementServerFailover" in s for s in lync.scripts)
    assert isinstance(events[-1], ProcedureFinished) and not events[-1].restored


def test_second_operator_must_be_someone_else() -> None:
    lync = FakeLync(master=BACKUP)
    events, _ = _run(lync, AnswersFile(operator="alice", second_operator="alice", confirm_all=True))
    failed = [e for e in events if isinstance(e, StepFailed)]
    assert failed[0].step_id == "pool-failover-lonpool.corp.contoso.com"
    assert not lync.failed_over


def test_skipping_the_pool_failover_is_caught_by_verification() -> None:
    answers = AnswersFile(operator="alice", second_operator="bob", confirm_all=True,
                          skip=("pool-failover-lonpool.corp.contoso.com",))
    events, _ = _run(FakeLync(), answers)
    end = events[-1]
    assert isinstance(end, ProcedureFinished) and not end.restored
    # the next step's post-check (LIS synthetic transaction) or verification fails
    assert end.failed_step == "lis-import-amspool.corp.contoso.com" or end.failed_checks


def test_resume_skips_finished_steps_and_rechecks_in_doubt() -> None:
    lync = FakeLync(master=BACKUP)
    events, _ = _run(lync, finished={"custom-change-freeze": "done", "cms-failover": "running"})
    skipped = {e.step_id: e.reason for e in events if isinstance(e, StepSkipped)}
    assert "journal" in skipped["custom-change-freeze"]
    assert "already holds" not in skipped["cms-failover"] and "CMS master" in skipped["cms-failover"]


def test_questions_are_yielded_for_the_ui() -> None:
    events, _ = _run(FakeLync())
    kinds = {e.kind for e in events if isinstance(e, StepQuestion)}
    assert kinds == {"proceed", "confirm", "second_operator", "manual"}


def test_answers_file_yaml_json_and_errors(tmp_path: Path) -> None:
    y = tmp_path / "a.yaml"
    y.write_text("operator: alice\nsecond_operator: bob\nconfirm_all: true\nskip: [x]\nsteps:\n  s1: {confirm: xds}\n")
    a = AnswersFile.load(y)
    assert a.answer(StepQuestion("s1", "confirm", "p", expected="other")) == "xds"
    assert a.answer(StepQuestion("s2", "confirm", "p", expected="pool")) == "pool"
    assert a.answer(StepQuestion("x", "proceed", "p")) == "skip"
    j = tmp_path / "a.json"
    j.write_text(json.dumps({"manual": "failed"}))
    assert AnswersFile.load(j).answer(StepQuestion("s", "manual", "p")) == "failed"
    bad = tmp_path / "b.yaml"
    bad.write_text("nonsense_key: 1\n")
    with pytest.raises(InputFileError, match="unknown keys"):
        AnswersFile.load(bad)
    with pytest.raises(InputFileError, match="cannot be read"):
        AnswersFile.load(tmp_path / "missing.yaml")


def test_the_cms_fails_over_planned_while_its_master_runs_and_with_force_only_when_it_is_gone() -> None:
    """#14, §6.15 steps 3 and 5, P1: with an active master (e.g. on the mirror of a lost primary) the
    planned failover runs (no target, no -Force); the disaster set with -Force only runs when
    ActiveMasterFqdn is empty. The step that is not needed is skipped by the wizard, saying why."""
    gone = FakeLync(master="")
    events, _ = _run(gone)
    skipped = {e.step_id: e.reason for e in events if isinstance(e, StepSkipped)}
    assert skipped["cms-failover-planned"].startswith("not needed: a CMS master is still active in lonpool")
    failovers = [s for s in gone.scripts if "Invoke-CsManagementServerFailover" in s]
    assert len(failovers) == 1 and "-Force" in failovers[0] and "-BackupSqlServerFqdn" in failovers[0]

    running = FakeLync(master="lonfe01.corp.contoso.com")
    events, _ = _run(running)
    skipped = {e.step_id: e.reason for e in events if isinstance(e, StepSkipped)}
    assert "cms-failover-planned" not in skipped
    assert "CMS master is active in amspool" in skipped["cms-failover"]  # already done by the planned one
    failovers = [s for s in running.scripts if "Invoke-CsManagementServerFailover" in s]
    assert len(failovers) == 1 and "-Force" not in failovers[0] and "-BackupSqlServerFqdn" not in failovers[0]
    assert isinstance(events[-1], ProcedureFinished) and events[-1].restored


class VerboseLync(FakeLync):
    """Answers like powershell.exe under WinRM: verbose and warning messages arrive on stderr."""

    def __init__(self, stderr: str) -> None:
        super().__init__()
        self.stderr = stderr

    def run(self, script: str, *, deadline_s: float, on_event: Any = None, cancel: Any = None) -> Result:
        result = super().run(script, deadline_s=deadline_s, on_event=on_event, cancel=cancel)
        return Result(result.exit_code, result.stdout, "" if JSON_BEGIN in script else self.stderr)


def test_verbose_and_warning_messages_on_stderr_are_not_failures() -> None:
    """Install-CsDatabase -Verbose (§6.2 step 6) failed the step on its own VERBOSE lines."""
    events, _ = _run(VerboseLync("VERBOSE: Created database xds on sql01\\rtc.\nWARNING: a warning\n"))
    assert isinstance(events[-1], ProcedureFinished) and events[-1].restored, events[-1]


def test_an_error_line_on_stderr_still_fails_the_step() -> None:
    events, _ = _run(VerboseLync("VERBOSE: starting\nImport-CsConfiguration : The file is damaged.\n"))
    failed = [e for e in events if isinstance(e, StepFailed)]
    assert failed and "The file is damaged." in failed[0].message


@dataclass
class DroppingLync(FakeLync):
    """The connection drops while the CMS failover runs: the request was sent, no answer came."""

    def run(self, script: str, *, deadline_s: float, on_event: Any = None, cancel: Any = None) -> Result:
        if "Invoke-CsManagementServerFailover" in script:
            from wizard.remote.errors import ConnectionLostError

            self.scripts.append(script)
            raise ConnectionLostError("lonfe01.corp.contoso.com:5986 closed the connection unexpectedly.")
        return super().run(script, deadline_s=deadline_s, on_event=on_event, cancel=cancel)


def test_a_connection_dropped_mid_command_says_the_command_may_have_run() -> None:
    events, log = _run(DroppingLync())
    failed = next(e for e in events if isinstance(e, StepFailed))
    assert failed.step_id == "cms-failover"
    assert failed.message.startswith("lonfe01.corp.contoso.com:5986 closed the connection unexpectedly. The command "
                                     "may have run on the server before the connection dropped")
    finished = next(p for k, p in log.entries if k == Kind.ACTION_FINISHED and p["step"] == "cms-failover")
    assert finished["status"] == "failed" and finished["reason"] == failed.message
