"""Pre-flight before the first change (#18 item 2), against the lab with the real clients.

A lab server whose Lync cmdlet lacks one parameter (as a server missing a cumulative update):
the wizard asks every server the composed procedure will use, through WinRM, for every cmdlet and
parameter (Get-Command there), and stops before the first step with one sentence naming the
server, the cmdlet and the parameter; the journal holds the pre-flight's findings and no
``action_started``. Without the fault the same drill passes pre-flight and restores service
(test_drill_headless.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import lab.drill
from lab.drill import run_headless
from lab.scenarios import Scenario, scenario
from wizard.journal import Kind, read_journal

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

LACKING = ("fe21.fabrikam.lab", "Import-CsUserData", "FileName")


def _with_faults(monkeypatch: pytest.MonkeyPatch, wanted: str, **faults: object) -> None:
    """The drill of scenario ``wanted`` runs with these lab faults added (other scenarios as they are)."""
    def patched(name: str) -> Scenario:
        found = scenario(name)
        return found.with_faults(**faults) if name == wanted else found

    monkeypatch.setattr(lab.drill, "scenario", patched)


def test_a_server_lacking_a_cmdlet_parameter_stops_the_run_before_any_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _with_faults(monkeypatch, "be-lost-unpaired", missing_parameter=LACKING)
    out = io.StringIO()
    result = run_headless("be-lost-unpaired", answers_file=None, journal_dir=tmp_path, time_factor=600,
                          operator="alice", out=out)
    text = out.getvalue()
    assert not result.restored
    expected = ("fe21.fabrikam.lab: Import-CsUserData has no parameter -FileName (needed by "
                "userdata-import-pool3.fabrikam.lab")
    assert "Pre-flight stopped the run before any change: " + expected in text, text[-2000:]
    entries = read_journal(result.folder).entries
    kinds = [e.kind for e in entries]
    assert Kind.ACTION_STARTED not in kinds
    preflight = next(e for e in entries if e.kind == Kind.PREFLIGHT)
    assert preflight.payload["status"] == "failed"
    assert any(f.startswith(expected) for f in preflight.payload["findings"])
    assert len(preflight.payload["findings"]) == 1, "only what the server lacks, nothing else"
    assert "fe21.fabrikam.lab" in preflight.payload["checked"]
    # sql21 (lost, rebuilt by the first step) cannot be asked now: named, not a failure
    assert all("sql21" not in h for h in preflight.payload["checked"])


def test_without_the_fault_pre_flight_passes_and_is_journaled(tmp_path: Path) -> None:
    out = io.StringIO()
    result = run_headless("be-lost-unpaired", answers_file=None, journal_dir=tmp_path, time_factor=600,
                          operator="alice", out=out)
    assert result.restored, out.getvalue()[-2000:]
    entries = read_journal(result.folder).entries
    preflights = [e for e in entries if e.kind == Kind.PREFLIGHT]
    assert [p.payload["status"] for p in preflights] == ["ok"]
    first_action = next(i for i, e in enumerate(entries) if e.kind == Kind.ACTION_STARTED)
    assert entries.index(preflights[0]) < first_action
    assert preflights[0].payload["checked"] == ["fe21.fabrikam.lab"]  # every cmdlet of §6.4 runs there
    assert preflights[0].payload["findings"] == []


def test_the_instance_that_restores_must_read_the_backup_file_itself(tmp_path: Path) -> None:
    """RESTORE HEADERONLY by the instance that will restore (its service account reads the share,
    not this machine): the chosen set's mgc.bak gone from the vault stops the run before any
    change, naming the instance and the file; put back, the next attempt passes pre-flight."""
    import threading

    from lab.drill import LabDrill
    from wizard.incident import IncidentSession, PreflightFailed

    with LabDrill("pchat-db-lost", time_factor=600) as drill:
        assert drill.loaded is not None and drill.backend is not None
        s = IncidentSession.start(drill.lab.plan_path, operator="alice", incident="INC-PF", mode="drill",
                                  journal_dir=tmp_path, backend=drill.backend, loaded=drill.loaded)
        s.change_stage("assessment")
        rec = s.recommend(list(s.probe(threading.Event())), {})
        s.choose_path(rec, rec.recommended.path_id)
        s.change_stage("backup_set")
        choice = s.backup_sets()
        assert choice.recommended is not None
        s.choose_backup_set(choice, choice.recommended, now=drill.now())
        s.change_stage("restore")
        steps = s.compose()
        restore = next(v for v in steps if v.step_id.startswith("sql-restore-mgc"))
        location, name = drill.loaded.plan.resolve_set(choice.recommended)
        assert location is not None
        bak = next(drill.lab.dep.paths.resolve(f"{location.unc}\\{name}").rglob("mgc.bak"))
        hidden = bak.with_name("mgc.bak.away")
        bak.rename(hidden)
        with pytest.raises(PreflightFailed) as stopped:
            list(s.run_step(steps[0], threading.Event()))
        text = str(stopped.value)
        assert "sqlpc.fabrikam.lab\\pchat cannot read the backup file" in text and "mgc.bak" in text, text
        assert "Pre-flight stopped the run before any change" in text
        hidden.rename(bak)
        events = list(s.run_step(steps[0], threading.Event()))  # pre-flight runs again first, then the step
        assert events
        entries = read_journal(s.journal.path).entries
        flights = [e for e in entries if e.kind == Kind.PREFLIGHT]
        assert [f.payload["status"] for f in flights] == ["failed", "ok"]
        assert "sqlpc.fabrikam.lab\\pchat" in flights[-1].payload["checked"]
        first_action = next(i for i, e in enumerate(entries) if e.kind == Kind.ACTION_STARTED)
        assert entries.index(flights[-1]) < first_action
        assert restore.step_id not in {e.payload.get("step") for e in entries if e.kind == Kind.ACTION_STARTED}
        s.detach()


def test_a_step_host_that_cannot_make_the_second_hop_stops_before_any_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No server is trusted for delegation, but the backups are mounted on this machine, so the
    catalogue reads them: the restore's Front End still has to read the vault itself (the user
    data import), and pre-flight asks it first. The denial is the second-hop sentence, before the
    first step; nothing is started."""
    _with_faults(monkeypatch, "be-lost-no-delegation", backups_mounted=True)
    out = io.StringIO()
    result = run_headless("be-lost-no-delegation", answers_file=None, journal_dir=tmp_path, time_factor=600,
                          operator="alice", out=out)
    text = out.getvalue()
    assert not result.restored
    assert "backup set chosen" in text, "the catalogue read the mounted vault"
    assert "Pre-flight stopped the run before any change: fe21.fabrikam.lab was denied access to " in text, text[-2000:]
    assert "second hop" in text and "CredSSP for fe21.fabrikam.lab" in text
    entries = read_journal(result.folder).entries
    assert Kind.ACTION_STARTED not in [e.kind for e in entries]
    flight = next(e for e in entries if e.kind == Kind.PREFLIGHT)
    assert flight.payload["status"] == "failed" and all("second hop" in f for f in flight.payload["findings"])
