"""A step in doubt after a crash gets its pre-check re-run before anything is offered (DESIGN
decision 3), against the lab through the real clients; and drill isolation refuses endpoints that
are not loopback."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from lab.drill import LabDrill
from wizard.core_backend import DrillIsolationError, check_isolation
from wizard.incident import IncidentSession, StepDone
from wizard.journal import Kind, read_journal
from wizard.plan.model import HostConnection

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def test_in_doubt_step_is_prechecked_on_resume(tmp_path: Path) -> None:
    with LabDrill("be-lost-unpaired", time_factor=600) as drill:
        assert drill.loaded is not None and drill.backend is not None
        s = IncidentSession.start(drill.lab.plan_path, operator="alice", incident="INC-DOUBT", mode="drill",
                                  journal_dir=tmp_path, backend=drill.backend, loaded=drill.loaded)
        s.change_stage("assessment")
        probes = list(s.probe(threading.Event()))
        rec = s.recommend(probes, {})
        s.choose_path(rec, rec.recommended.path_id)
        s.change_stage("backup_set")
        choice = s.backup_sets()
        assert choice.recommended is not None
        s.choose_backup_set(choice, choice.recommended, now=drill.now())
        s.change_stage("restore")
        steps = {v.step_id: v for v in s.compose()}
        db = steps["be-databases-pool3.fabrikam.lab"]
        stop = steps["userdata-stop-pool3.fabrikam.lab"]
        for sid in ("prepare-sql21.fabrikam.lab", db.step_id):
            if steps[sid].destructive:
                s.confirm_destructive(steps[sid], sid, "drill-partner")
            events = list(s.run_step(steps[sid], threading.Event()))
            assert any(isinstance(e, StepDone) for e in events), events
        # the terminal dies while the databases step runs a second time, and before the next ends
        s.journal.append(Kind.ACTION_STARTED, {"step": db.step_id, "host": db.host, "command": "", "attempt": 2})
        s.journal.append(Kind.ACTION_STARTED, {"step": stop.step_id, "host": stop.host, "command": "",
                                               "attempt": 1})
        s.detach()

        r = IncidentSession.resume(tmp_path / "INC-DOUBT", operator="bob", backend=drill.backend,
                                   loaded=drill.loaded)
        assert sorted(r.state.in_doubt) == sorted([db.step_id, stop.step_id])
        r.compose()
        done = r.precheck(db)
        assert done.already_done is True, done
        assert "Test-CsDatabase" in done.detail or "Succeed" in done.detail
        not_yet = r.precheck(stop)
        assert not_yet.already_done is None and "no pre-check" in not_yet.detail
        r.detach()
    notes = [e.payload["text"] for e in read_journal(tmp_path / "INC-DOUBT").entries if e.kind == Kind.NOTE]
    assert any(n.startswith(f"pre-check of {db.step_id} (in doubt): the work is already done") for n in notes)


def test_drill_isolation_refuses_anything_but_loopback() -> None:
    with LabDrill("pchat-db-lost", time_factor=600) as drill:
        plan = drill.plan()
        check_isolation(plan)  # the lab's own plan copy: loopback only
        host = next(iter(plan.connections.hosts))
        hosts = dict(plan.connections.hosts)
        hosts[host] = replace(hosts[host], address="10.1.2.3")
        bad = replace(plan, connections=replace(plan.connections, hosts=hosts))
        with pytest.raises(DrillIsolationError, match=r"10\.1\.2\.3.*not loopback"):
            check_isolation(bad)
        assert drill.backend is not None
        runners = drill.backend._runners(drill.loaded)  # type: ignore[arg-type]
        drill._plan = bad  # as if a rebuild had pointed the host elsewhere
        runners.forget(host)
        with pytest.raises(DrillIsolationError, match="loopback"):
            runners.powershell(host)
        assert isinstance(hosts[host], HostConnection)


def test_backup_ages_in_a_drill_are_judged_by_the_lab_clock(tmp_path: Path) -> None:
    """The lab lives at its own time; the picker's ages and the journal's evidence follow the same
    clock as the recommendation's reason (found in a tmux walkthrough: the table said 1d16h OVER
    while the reason said 9.3 h old, within the RPO)."""
    from wizard.incident import parse_time

    with LabDrill("be-lost-unpaired", time_factor=600) as drill:
        assert drill.loaded is not None and drill.backend is not None
        before = drill.now()
        choice = drill.backend.backup_sets(drill.loaded, "be-restore")
        after = drill.now()
    assert choice.as_of and before <= parse_time(choice.as_of) <= after  # the lab's clock, not the wall's
    newest = next(s for s in choice.sets if s.name == choice.recommended)
    hours = newest.age_s(choice.judged_at()) / 3600
    assert f"{hours:.1f} h old" in choice.reason, (hours, choice.reason)
