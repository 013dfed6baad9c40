"""The incident session facade: journal first, stage rules, resume, unfinished listing."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

from tests.ui.scripted_backend import BE_STEPS, ScriptedBackend
from wizard.errors import UsageError
from wizard.incident import (
    IncidentSession,
    LiveConfirmationError,
    StepDone,
    StepFailed,
    new_incident_id,
    unfinished_incidents,
)
from wizard.incident_state import replay
from wizard.journal import Kind, read_journal
from wizard.plan import load_plan

PLAN = Path(__file__).resolve().parents[2] / "plans" / "lab.yaml"


def _start(tmp_path: Path, incident: str = "INC-1", backend: ScriptedBackend | None = None) -> IncidentSession:
    return IncidentSession.start(PLAN, operator="alice", incident=incident, mode="drill", journal_dir=tmp_path,
                                 backend=backend or ScriptedBackend())


def test_incident_id_is_generated_from_the_clock() -> None:
    assert new_incident_id(dt.datetime(2026, 11, 25, 3, 12, tzinfo=dt.UTC)) == "INC-20261125-0312"


def test_start_journals_the_opening_with_plan_hash(tmp_path: Path) -> None:
    s = _start(tmp_path)
    first = read_journal(s.journal.path).entries[0]
    assert first.kind == Kind.OPENED
    assert first.payload["organisation"] == "Fabrikam Lab"
    assert first.payload["mode"] == "drill" and first.drill is True
    assert len(first.payload["plan_sha256"]) == 64
    s.detach()


def test_live_mode_needs_the_organisation_typed(tmp_path: Path) -> None:
    with pytest.raises(LiveConfirmationError, match="Fabrikam Lab"):
        IncidentSession.start(PLAN, operator="alice", incident="LIVE-1", mode="live", journal_dir=tmp_path,
                              confirm_organisation="fabrikam", backend=ScriptedBackend())
    assert not (tmp_path / "LIVE-1").exists()
    s = IncidentSession.start(PLAN, operator="alice", incident="LIVE-1", mode="live", journal_dir=tmp_path,
                              confirm_organisation="Fabrikam Lab", backend=ScriptedBackend())
    assert s.drill is False
    s.detach()


def test_bad_incident_id_and_empty_operator_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="incident id"):
        IncidentSession.start(PLAN, operator="a", incident="bad id/", mode="drill", journal_dir=tmp_path,
                              backend=ScriptedBackend())
    with pytest.raises(UsageError, match="operator"):
        IncidentSession.start(PLAN, operator="  ", incident="X1", mode="drill", journal_dir=tmp_path,
                              backend=ScriptedBackend())


def test_override_needs_a_reason_and_is_journaled_before_the_effect(tmp_path: Path) -> None:
    s = _start(tmp_path)
    rec = s.recommend([], {})
    with pytest.raises(UsageError, match="needs a reason"):
        s.choose_path(rec, "pool-failover")
    assert s.state.recovery_path is None  # nothing journaled, nothing changed
    s.choose_path(rec, "pool-failover", reason="partner pool is healthy, faster")
    last = read_journal(s.journal.path).entries[-1]
    assert last.kind == Kind.DECISION and last.payload["recommended"] == "be-restore"
    assert last.payload["alternatives"] == ["be-restore", "pool-failover"]
    assert s.state.recovery_path == "pool-failover"
    s.detach()


def test_stages_only_move_forward(tmp_path: Path) -> None:
    s = _start(tmp_path)
    s.change_stage("assessment")
    s.change_stage("restore")
    with pytest.raises(UsageError, match="cannot go back from restore to assessment"):
        s.change_stage("assessment")
    s.change_stage("summary")
    assert s.state.stage == "summary"
    s.detach()


def test_run_step_journals_start_output_batches_and_finish(tmp_path: Path) -> None:
    backend = ScriptedBackend(lines_per_step=120, fail_first={"be-stop-services"})
    s = _start(tmp_path, backend=backend)
    s.choose_path(s.recommend([], {}), "be-restore")
    events = list(s.run_step(BE_STEPS[1], threading.Event()))
    assert isinstance(events[-1], StepFailed)
    assert s.state.steps["be-stop-services"].status == "failed"
    events = list(s.run_step(BE_STEPS[1], threading.Event()))
    assert isinstance(events[-1], StepDone)
    rec = s.state.steps["be-stop-services"]
    assert (rec.status, rec.attempts) == ("done", 2)
    outputs = [e for e in read_journal(s.journal.path).entries if e.kind == Kind.OUTPUT]
    assert sum(len(e.payload["lines"]) for e in outputs) == 240
    assert max(len(e.payload["lines"]) for e in outputs) == IncidentSession.OUTPUT_BATCH
    s.detach()


def test_cancel_mid_step_journals_cancelled(tmp_path: Path) -> None:
    s = _start(tmp_path, backend=ScriptedBackend(lines_per_step=50))
    cancel = threading.Event()
    for seen, _ev in enumerate(s.run_step(BE_STEPS[2], cancel), start=1):
        if seen == 3:
            cancel.set()
    assert s.state.steps["be-import-user-data"].status == "cancelled"
    s.detach()


def test_skip_and_done_by_hand_need_reasons(tmp_path: Path) -> None:
    s = _start(tmp_path)
    with pytest.raises(UsageError):
        s.skip_step(BE_STEPS[0], " ")
    s.skip_step(BE_STEPS[0], "databases recreated from Topology Builder")
    s.done_by_hand(BE_STEPS[1], "stopped from services.msc")
    st = s.state
    assert st.steps["be-install-databases"].status == "skipped"
    assert st.steps["be-stop-services"].status == "done_by_hand"
    assert [d.payload["question"] for d in st.decisions] == ["skip_step", "done_by_hand"]
    s.detach()


def test_destructive_confirmation_and_second_operator(tmp_path: Path) -> None:
    s = _start(tmp_path)
    step = BE_STEPS[0]
    with pytest.raises(UsageError, match="exactly to confirm step"):
        s.confirm_destructive(step, "yes")
    with pytest.raises(UsageError, match="second operator"):
        s.confirm_destructive(step, step.step_id, "alice")
    e = s.confirm_destructive(step, step.step_id, "bob")
    assert e.payload["evidence"] == ["second_operator=bob"]
    s.detach()


def test_unfinished_lists_where_it_stopped_and_resume_journals(tmp_path: Path) -> None:
    s = _start(tmp_path, "INC-A")
    s.change_stage("restore")
    gen = s.run_step(BE_STEPS[2], threading.Event())
    next(gen)  # action_started written; then the process "dies"
    s.detach()
    closed = _start(tmp_path, "INC-B")
    closed.close("restored")
    loaded = load_plan(PLAN)
    found = unfinished_incidents(tmp_path, loaded)
    assert [u.incident for u in found] == ["INC-A"]
    assert found[0].stage == "restore" and found[0].in_doubt == ("be-import-user-data",)
    r = IncidentSession.resume(found[0].folder, operator="bob", backend=ScriptedBackend())
    last = read_journal(r.journal.path).entries[-1]
    assert last.kind == Kind.RESUMED and last.payload["in_doubt"] == ["be-import-user-data"]
    assert last.operator == "bob"
    r.detach()
    with pytest.raises(UsageError, match="already closed"):
        IncidentSession.resume(tmp_path / "INC-B", backend=ScriptedBackend())


def test_state_is_the_replay_of_the_journal(tmp_path: Path) -> None:
    s = _start(tmp_path)
    s.change_stage("assessment")
    s.note("bridge call opened")
    s.interrupt(None, "operator quit")
    assert replay(read_journal(s.journal.path).entries) == s.state
    s.detach()


def test_backup_set_age_is_judged_against_the_backends_clock(tmp_path: Path) -> None:
    """In a drill the backend judges ages against the lab's clock; the journal's evidence must use
    the same clock as the recommendation's reason, not the wall clock."""
    from wizard.incident import BackupChoice, BackupSetView

    s = _start(tmp_path)
    s.change_stage("assessment")
    s.choose_path(s.recommend([], {}), "be-restore")
    s.change_stage("backup_set")
    view = BackupSetView("2026-11-24_0200", "2026-11-24T02:00:00Z", True, integrity="ok")
    lab_clock = BackupChoice((view,), view.name, "the newest set, 9.3 h old", as_of="2026-11-24T11:18:00Z")
    entry = s.choose_backup_set(lab_clock, view.name)
    assert "age_s=33480" in entry.payload["evidence"]  # 9 h 18 min, not the age by the wall clock
    wall = BackupChoice((view,), view.name, "")
    assert abs((wall.judged_at() - dt.datetime.now(dt.UTC)).total_seconds()) < 5


def test_a_generated_id_taken_in_the_same_minute_gets_a_suffix_a_typed_one_is_refused(tmp_path: Path) -> None:
    """#16 item 6: two drills started in the same minute collided ("already exists")."""
    from wizard.errors import WizardError

    kw = dict(operator="alice", mode="drill", journal_dir=tmp_path, backend=ScriptedBackend())
    first = IncidentSession.start(PLAN, incident="INC-20261207-0301", generated_id=True, **kw)  # type: ignore[arg-type]
    second = IncidentSession.start(PLAN, incident="INC-20261207-0301", generated_id=True, **kw)  # type: ignore[arg-type]
    third = IncidentSession.start(PLAN, incident="INC-20261207-0301", generated_id=True, **kw)  # type: ignore[arg-type]
    assert [s.journal.path.parent.name for s in (first, second, third)] == [
        "INC-20261207-0301", "INC-20261207-0301-2", "INC-20261207-0301-3"]
    with pytest.raises(WizardError, match="already exists"):
        IncidentSession.start(PLAN, incident="INC-20261207-0301", **kw)  # type: ignore[arg-type]
    for s in (first, second, third):
        s.journal.close()
