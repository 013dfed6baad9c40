"""A drill's score from its journal (#19 item 1), without a lab: each component's rule, the caps,
the time scaled back by the lab's clock, and the set the instructor meant resolved among the
sets listed. Full drills scored end to end: tests/integration/test_drill_scores.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

from lab.scoring import DEFAULT_WEIGHTS, PER_ITEM, DrillFacts, expected_set_key, restore_time, score
from wizard.incident import StepView
from wizard.journal import Entry, Kind

T0 = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
STEPS = (StepView("a", "A", "why a", "6.4", "fe21", ()),
         StepView("b", "B", "why b", "6.13", "fe21", (), destructive=True),
         StepView("c", "C", "why c", "6.13", "fe21", (), destructive=True, second_operator=True))
SETS = ["hq-vault/2026-11-24_0200", "hq-vault/2026-11-23_0200", "dr-vault/2026-11-24_0200", "dr-vault/2026-11-22_0200"]


class _J:
    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def add(self, kind: str, minutes: float = 0, **payload: Any) -> None:
        when = (T0 + dt.timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
        self.entries.append(Entry(len(self.entries) + 1, when, "alice", "INC", True, kind, payload, ""))

    def decide(self, question: str, choice: str, **extra: Any) -> None:
        self.add(Kind.DECISION, question=question, choice=choice, **extra)

    def run(self, step: str, status: str = "done") -> None:
        self.add(Kind.ACTION_STARTED, step=step)
        self.add(Kind.ACTION_FINISHED, step=step, status=status)


def _perfect() -> _J:
    j = _J()
    j.add(Kind.OPENED, mode="drill")
    j.decide("recovery_path", "be-restore", plan_of_action=[{"path": "be-restore", "pool": "pool3.fabrikam.lab"}])
    j.decide("backup_set", "hq-vault/2026-11-24_0200", alternatives=SETS, evidence=["age_s=26280"])
    j.run("a")
    j.decide("confirm_step", "b")
    j.run("b")
    j.decide("confirm_step", "c", evidence=["second_operator=bob"])
    j.run("c")
    return j


def _facts(**over: Any) -> DrillFacts:
    base: dict[str, Any] = dict(scenario="be-lost-unpaired", expected_plan=(("be-restore", "pool3.fabrikam.lab"),),
                                expected_set=("hq-vault", 0), composed=STEPS, rto_s=4 * 3600, rpo_s=24 * 3600,
                                busy_real_s=60.0, work_s=3600.0, problems=())
    return DrillFacts(**{**base, **over})


def _lost(result: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in result["deductions"]:
        out[d["component"]] = out.get(d["component"], 0) + d["points"]
    return out


def test_a_perfect_drill_gets_full_marks() -> None:
    got = score(_perfect().entries, _facts(), now=T0 + dt.timedelta(minutes=30))
    assert got["total"] == got["of"] == sum(DEFAULT_WEIGHTS.values()) == 100
    assert got["deductions"] == []


def test_wrong_path_older_set_and_data_loss() -> None:
    j = _J()
    j.add(Kind.OPENED)
    j.decide("recovery_path", "pool-restore", plan_of_action=[{"path": "pool-restore", "pool": "pool3.fabrikam.lab"}])
    j.decide("backup_set", "hq-vault/2026-11-23_0200", alternatives=SETS, evidence=["age_s=112680"])
    got = score(j.entries, _facts(composed=()), now=T0 + dt.timedelta(minutes=30))
    assert _lost(got) == {"path": 20, "set": 15, "rpo": 10}
    path = next(d for d in got["deductions"] if d["component"] == "path")
    assert "pool-restore(pool3.fabrikam.lab)" in path["reason"] and "be-restore(pool3.fabrikam.lab)" in path["reason"]
    assert path["section"].startswith("6.1, 6.4")  # the expected path's own sections
    old = next(d for d in got["deductions"] if d["component"] == "set")
    assert "an older set than needed" in old["reason"] and "hq-vault/2026-11-24_0200" in old["reason"]
    assert got["total"] == 100 - 45


def test_out_of_order_skipped_and_unconfirmed_steps_cost_per_item_within_the_weight() -> None:
    j = _J()
    j.add(Kind.OPENED)
    j.decide("recovery_path", "be-restore", plan_of_action=[{"path": "be-restore", "pool": "pool3.fabrikam.lab"}])
    j.decide("backup_set", "hq-vault/2026-11-24_0200", alternatives=SETS, evidence=["age_s=3600"])
    j.decide("confirm_step", "c")  # no second operator
    j.run("c")  # before a and b: out of order
    j.decide("skip_step", "a")
    j.add(Kind.ACTION_FINISHED, step="a", status="skipped")
    j.run("b")  # destructive, never confirmed
    got = score(j.entries, _facts(), now=T0 + dt.timedelta(minutes=30))
    reasons = [(d["component"], d["reason"]) for d in got["deductions"]]
    assert ("order", "c was started while a, which comes before it, was still open") in reasons
    assert ("order", "a was skipped; the procedure needs it") in reasons
    assert ("confirmation", "destructive step c ran without its second operator") in reasons
    assert ("confirmation", "destructive step b ran without a typed confirmation") in reasons
    assert _lost(got) == {"order": 2 * PER_ITEM, "confirmation": 2 * PER_ITEM}


def test_a_destructive_step_refused_before_it_acted_is_no_deduction() -> None:
    j = _perfect()
    j.entries = [e for e in j.entries if not (e.kind == Kind.DECISION and e.payload.get("choice") == "b")]
    j.entries = [e for e in j.entries if e.payload.get("step") != "b"]
    j.add(Kind.ACTION_STARTED, step="b")
    j.add(Kind.ACTION_FINISHED, step="b", status="failed")  # the engine refused: nothing ran
    got = score(j.entries, _facts(), now=T0 + dt.timedelta(minutes=30))
    assert "confirmation" not in _lost(got)


def test_hints_cost_per_item_up_to_their_weight_and_name_the_section() -> None:
    j = _perfect()
    for _ in range(3):
        j.add(Kind.HINT, stage="restore", step="b", text="Read §6.13 for B: why b")
    got = score(j.entries, _facts(), now=T0 + dt.timedelta(minutes=30))
    hints = [d for d in got["deductions"] if d["component"] == "hints"]
    assert [d["points"] for d in hints] == [PER_ITEM, PER_ITEM]  # the third is past the weight of 10
    assert hints[0]["section"] == "6.13"
    assert got["facts"]["hints"] == 3


def test_time_to_restore_is_scaled_back_and_held_against_the_rto() -> None:
    j = _perfect()
    now = T0 + dt.timedelta(minutes=30)
    # 30 real minutes, of which 1 minute the lab's operations waited; those would have taken 1 h
    assert restore_time(j.entries, _facts(), now) == 30 * 60 - 60 + 3600
    slow = score(j.entries, _facts(work_s=5 * 3600.0), now=now)
    assert _lost(slow) == {"rto": 10}
    assert "over the RTO of 4.0 h" in slow["deductions"][0]["reason"]


def test_not_restored_per_the_lab_and_weights_from_the_scenario() -> None:
    got = score(_perfect().entries, _facts(problems=("pool3 has no Front End running", "x"),
                                           weights={"restored": 40}), now=T0)
    assert got["of"] == 130 and _lost(got) == {"restored": 40}
    assert got["deductions"][0]["reason"] == "service is not restored: pool3 has no Front End running (and 1 more)"


def test_the_set_meant_is_the_nth_newest_of_its_location() -> None:
    assert expected_set_key(SETS, ("hq-vault", 0)) == "hq-vault/2026-11-24_0200"
    assert expected_set_key(SETS, ("dr-vault", 1)) == "dr-vault/2026-11-22_0200"
    assert expected_set_key(["2026-11-24_0200", "2026-11-23_0200"], (None, 1)) == "2026-11-23_0200"
    assert expected_set_key(SETS, ("dr-vault", 5)) is None


def test_random_pick_favours_the_least_practised_class_and_a_seed_repeats_it() -> None:
    from lab.history import Drill, chart, pick_random

    by_class = {"B": ["be-lost-unpaired", "be-primary-lost-witness"], "C": ["cms-lost-paired"]}
    practised = [Drill(f"I{i}", T0, "be-lost-unpaired", "B", 100, 100, 3600, 0) for i in range(5)]
    picks = [pick_random(by_class, practised, seed) for seed in range(600)]
    # class weights 1/6 (B, practised 5 times) and 1/1 (C): C about 6 times in 7
    assert 0.78 < picks.count("cms-lost-paired") / len(picks) < 0.93
    assert pick_random(by_class, practised, 42) == pick_random(by_class, practised, 42)
    fresh = [pick_random(by_class, [], seed) for seed in range(600)]
    assert 0.4 < fresh.count("cms-lost-paired") / len(fresh) < 0.6  # no history: each class alike
    assert chart([0, 50, 100]) == "▁▅█" and chart([]) == ""
