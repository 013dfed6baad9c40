"""The plan changed since the incident was opened (#16): the incident is still offered, marked,
and resuming it shows the difference and asks; the answer is journaled as the operator's."""

from __future__ import annotations

import shutil
from pathlib import Path

from screens.app import WizardApp
from tests.ui.conftest import wait_for
from tests.ui.screen_text import screen_text
from tests.ui.scripted_backend import ScriptedBackend
from wizard.incident import PLAN_COPY, IncidentSession, plan_change, unfinished_incidents
from wizard.incident_state import replay
from wizard.journal import Kind, read_journal
from wizard.opening import Opening, loaded_source
from wizard.plan import load_plan

PLAN = Path(__file__).resolve().parents[2] / "plans" / "lab.yaml"


def _opened_then_edited(tmp_path: Path) -> tuple[Path, Path]:
    plan = tmp_path / "plan.yaml"
    shutil.copy(PLAN, plan)
    journals = tmp_path / "incidents"
    s = IncidentSession.start(plan, operator="alice", incident="INC-P", mode="drill", journal_dir=journals,
                              backend=ScriptedBackend())
    s.detach()
    text = plan.read_text(encoding="utf-8")
    assert "rto: 4h" in text
    plan.write_text(text.replace("rto: 4h", "rto: 5h"), encoding="utf-8")
    return plan, journals / "INC-P"


def test_a_changed_plan_is_listed_and_its_difference_shown(tmp_path: Path) -> None:
    plan, folder = _opened_then_edited(tmp_path)
    assert oct((folder / PLAN_COPY).stat().st_mode & 0o777) == "0o600"
    loaded = load_plan(plan)
    [u] = unfinished_incidents(tmp_path / "incidents", loaded)
    assert u.incident == "INC-P" and u.plan_changed
    diff = plan_change(folder, loaded)
    assert any(d.startswith("-") and "rto: 4h" in d for d in diff)
    assert any(d.startswith("+") and "rto: 5h" in d for d in diff)
    other = tmp_path / "other.yaml"
    other.write_text(PLAN.read_text(encoding="utf-8").replace("rto: 4h", "rto: 6h"), encoding="utf-8")
    assert unfinished_incidents(tmp_path / "incidents", load_plan(other)) == []  # another plan's file
    same = tmp_path / "same.yaml"
    shutil.copy(PLAN, same)  # another file with the text it was opened with: the same plan
    assert [u.plan_changed for u in unfinished_incidents(tmp_path / "incidents", load_plan(same))] == [False]


async def test_resuming_shows_the_difference_and_journals_the_answer(tmp_path: Path) -> None:
    plan, folder = _opened_then_edited(tmp_path)
    loaded = load_plan(plan)
    app = WizardApp(Opening(loaded_source(loaded, ScriptedBackend()), "plan.yaml", tmp_path / "incidents", "bob",
                            "INC-NEW", "drill"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "PLAN CHANGED" in screen_text(app))
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: "The plan changed since INC-P was opened" in screen_text(app))
        assert "rto: 5h" in screen_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: app.session is not None and app.session.state.resumes == 1)
    entries = read_journal(folder).entries
    decision = next(e for e in entries if e.kind == Kind.DECISION and e.payload["question"] == "plan_changed")
    assert decision.operator == "bob" and "saw how the plan differs" in decision.payload["reason"]
    assert any("rto: 5h" in line for line in decision.payload["evidence"])
    assert not [e for e in entries if e.kind == Kind.WARNING]
    assert replay(entries).resumes == 1
