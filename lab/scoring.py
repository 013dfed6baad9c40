"""A drill's score (#19 item 1): what the trainee did, read from the incident's journal, held
against what the instructor's scenario expects.

Components and their default weights (a scenario's ``weights`` may change any of them; the total
is their sum, 100 by default). Each deduction names its reason and the section to read:

``path`` (20)
    The plan of action chosen (recovery paths with the pool or server each acts on) against the
    scenario's ``expected_plan`` (§5.1, §5.2 and the path's own sections).
``set`` (15)
    The backup set restored from against the scenario's ``expected_set`` (a location and the n-th
    newest set there), resolved among the sets the catalogue listed (§3).
``order`` (15)
    Steps in the documented order: a step started while an earlier step of the composed procedure
    was still open, and a needed step the trainee skipped, cost ``PER_ITEM`` each (the step's §).
``confirmation`` (10)
    Destructive steps confirmed properly: each one that ran without a person's typed
    confirmation journaled before it (and a second operator where the step needs one) costs
    ``PER_ITEM`` (§12: X-class cmdlets need an explicit confirmation).
``rto`` (10)
    Time to restore against the plan's RTO. The lab plays its long operations faster than life;
    the time is scaled back: the real time from the incident's opening to its score, minus the
    real time the lab's operations waited, plus what those waits would have taken for real
    (:meth:`lab.clock.LabClock.work_s`). A person's thinking is not sped up (§7.4).
``rpo`` (10)
    The data-loss window (the chosen set's age when it was chosen) against the plan's RPO (§3).
``hints`` (10)
    ``PER_ITEM`` per hint taken.
``restored`` (10)
    Service restored, as the scenario's own checks find the lab (not as the trainee says).

A component never loses more than its weight. The score is computed by the drill's backend as
the incident closes; the session journals it (``drill_score``) and writes ``score.md``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wizard import recovery_paths
from wizard.incident import StepView
from wizard.journal import Entry, Kind

DEFAULT_WEIGHTS: dict[str, int] = {"path": 20, "set": 15, "order": 15, "confirmation": 10, "rto": 10, "rpo": 10,
                                   "hints": 10, "restored": 10}
#: what one out-of-order or skipped step, one unconfirmed destructive step or one hint costs
PER_ITEM = 5

#: step outcomes that close a step (anything but failed and running)
CLOSED = frozenset({"done", "skipped", "already_done", "done_by_hand", "not_needed"})


@dataclass
class Deduction:
    component: str
    points: int
    reason: str
    section: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"component": self.component, "points": self.points, "reason": self.reason, "section": self.section}


@dataclass(frozen=True)
class DrillFacts:
    """What the drill knows besides the journal: the scenario's expectations, the procedure as
    composed, the plan's objectives, the lab's clock and the lab's own verdict."""

    scenario: str
    expected_plan: tuple[tuple[str, str | None], ...]
    expected_set: tuple[str | None, int] | None
    composed: tuple[StepView, ...]
    rto_s: int
    rpo_s: int
    busy_real_s: float  # real seconds the lab's operations waited on its clock
    work_s: float  # what those operations would have taken for real
    problems: tuple[str, ...]  # the scenario's checks: empty when service is restored
    weights: Mapping[str, int] = field(default_factory=dict)
    outage_class: str = ""  # §5.3 letter (drill history groups by it)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def _decision(entries: Sequence[Entry], question: str) -> dict[str, Any] | None:
    found = [e.payload for e in entries if e.kind == Kind.DECISION and e.payload.get("question") == question]
    return found[-1] if found else None


def _plan_text(plan: Sequence[tuple[str, str | None]]) -> str:
    return ", ".join(f"{p}({t})" if t else p for p, t in plan) or "none"


def _sections(paths: Sequence[str]) -> str:
    out: list[str] = []
    for path in paths:
        try:
            out += [s for s in recovery_paths.get(path).sections if s not in out]
        except KeyError:
            continue
    return ", ".join(out[:4])


def _path(entries: Sequence[Entry], facts: DrillFacts) -> list[Deduction]:
    if not facts.expected_plan:
        return []
    chose = _decision(entries, "recovery_path")
    expected = [(p, t.lower() if t else None) for p, t in facts.expected_plan]
    where = _sections([p for p, _ in facts.expected_plan])
    if chose is None:
        return [Deduction("path", 0, f"no recovery path was chosen; the scenario needed {_plan_text(expected)}", where)]
    plan = [(str(p.get("path")), (p.get("pool") or p.get("server") or None)) for p in chose.get("plan_of_action") or []]
    plan = [(p, str(t).lower() if t else None) for p, t in plan] or [(str(chose.get("choice")), None)]
    if plan == expected:
        return []
    return [Deduction("path", 0, f"the plan of action was {_plan_text(plan)}; the scenario needed "
                                 f"{_plan_text(expected)}", where)]


def _set_name(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def expected_set_key(alternatives: Sequence[str], expected: tuple[str | None, int]) -> str | None:
    """The set the instructor meant, among the sets the catalogue listed: the n-th newest of the
    location (set names sort by their date, §3 layout)."""
    location, nth = expected
    there = [a for a in alternatives if location is None or ("/" in a and a.split("/", 1)[0] == location)]
    there.sort(key=_set_name, reverse=True)
    return there[nth] if 0 <= nth < len(there) else None


def _set(entries: Sequence[Entry], facts: DrillFacts) -> list[Deduction]:
    if facts.expected_set is None:
        return []
    chose = _decision(entries, "backup_set")
    if chose is None:
        return [Deduction("set", 0, "no backup set was chosen; the scenario restores from one", "3")]
    wanted = expected_set_key([str(a) for a in chose.get("alternatives") or []], facts.expected_set)
    picked = str(chose.get("choice"))
    if wanted is None or picked == wanted:
        return []
    if _set_name(picked) < _set_name(wanted):
        how = "an older set than needed (more data lost)"
    elif _set_name(picked) > _set_name(wanted):
        how = "a newer set than the scenario allows"
    else:
        how = "the same date from another location"
    return [Deduction("set", 0, f"restored from {picked}, {how}; the set to use was {wanted}", "3")]


def _order(entries: Sequence[Entry], facts: DrillFacts) -> list[Deduction]:
    order = [v.step_id for v in facts.composed]
    section = {v.step_id: v.section for v in facts.composed}
    closed: set[str] = set()
    started: set[str] = set()
    out: list[Deduction] = []
    skipped_by_trainee = {str(e.payload.get("choice")) for e in entries
                          if e.kind == Kind.DECISION and e.payload.get("question") == "skip_step"}
    for e in entries:
        step = str(e.payload.get("step") or "")
        if e.kind == Kind.ACTION_STARTED and step in order and step not in started:
            started.add(step)
            open_before = [s for s in order[:order.index(step)] if s not in closed]
            if open_before:
                out.append(Deduction("order", 0, f"{step} was started while {open_before[0]}, which comes before "
                                                 "it, was still open", section.get(step, "")))
        elif e.kind == Kind.ACTION_FINISHED and e.payload.get("status") in CLOSED:
            closed.add(step)
    for step in order:
        if step in skipped_by_trainee:
            out.append(Deduction("order", 0, f"{step} was skipped; the procedure needs it", section.get(step, "")))
    return out


def _confirmation(entries: Sequence[Entry], facts: DrillFacts) -> list[Deduction]:
    views = {v.step_id: v for v in facts.composed if v.destructive}
    confirmed: dict[str, dict[str, Any]] = {}
    out: list[Deduction] = []
    seen: set[str] = set()
    for e in entries:  # a destructive step whose work was done (not one refused before it acted)
        p = e.payload
        if e.kind == Kind.DECISION and p.get("question") == "confirm_step" and p.get("by") != "wizard":
            confirmed[str(p.get("choice"))] = p
        elif (e.kind == Kind.ACTION_FINISHED and p.get("status") == "done" and str(p.get("step")) in views
              and str(p.get("step")) not in seen):
            step = str(p.get("step"))
            seen.add(step)
            view = views[step]
            got = confirmed.get(step)
            if got is None:
                out.append(Deduction("confirmation", 0, f"destructive step {step} ran without a typed confirmation",
                                     view.section))
            elif view.second_operator and not any(str(x).startswith("second_operator=")
                                                  for x in got.get("evidence") or []):
                out.append(Deduction("confirmation", 0, f"destructive step {step} ran without its second operator",
                                     view.section))
    return out


def restore_time(entries: Sequence[Entry], facts: DrillFacts, now: dt.datetime) -> float:
    """Seconds from the incident's opening to ``now``, the lab's waits scaled back to real life."""
    opened = next((e for e in entries if e.kind == Kind.OPENED), None)
    if opened is None:
        return 0.0
    start = dt.datetime.fromisoformat(opened.time.replace("Z", "+00:00"))
    elapsed = (now - start).total_seconds()
    return max(elapsed - facts.busy_real_s, 0.0) + facts.work_s


def _rto(seconds: float, facts: DrillFacts) -> list[Deduction]:
    if seconds <= facts.rto_s:
        return []
    return [Deduction("rto", 0, f"service took {_hours(seconds)} (the lab's operations at their real length), "
                                f"over the RTO of {_hours(facts.rto_s)}", "7.4")]


def _age(entries: Sequence[Entry]) -> float | None:
    chose = _decision(entries, "backup_set")
    for item in (chose or {}).get("evidence") or []:
        if str(item).startswith("age_s="):
            try:
                return float(str(item).split("=", 1)[1])
            except ValueError:
                return None
    return None


def _rpo(entries: Sequence[Entry], facts: DrillFacts) -> list[Deduction]:
    age = _age(entries)
    if age is None or age <= facts.rpo_s:
        return []
    return [Deduction("rpo", 0, f"the restored data was {_hours(age)} old when chosen: {_hours(age)} of data lost, "
                                f"over the RPO of {_hours(facts.rpo_s)}", "3")]


def _hints(entries: Sequence[Entry], facts: DrillFacts) -> list[Deduction]:
    out = []
    for e in entries:
        if e.kind == Kind.HINT:
            pointed = re.search(r"§([0-9][0-9.]*[A-Z]?)", str(e.payload.get("text") or ""))
            out.append(Deduction("hints", 0, f"hint taken at {e.payload.get('step') or e.payload.get('stage')}",
                                 pointed.group(1).rstrip(".") if pointed else ""))
    return out


def _restored(facts: DrillFacts) -> list[Deduction]:
    if not facts.problems:
        return []
    more = f" (and {len(facts.problems) - 1} more)" if len(facts.problems) > 1 else ""
    return [Deduction("restored", 0, f"service is not restored: {facts.problems[0]}{more}", "7")]


def score(entries: Sequence[Entry], facts: DrillFacts, now: dt.datetime | None = None) -> dict[str, Any]:
    """The journal payload of a drill's score: total, of, weights, deductions, facts."""
    now = now or dt.datetime.now(dt.UTC)
    weights = {**DEFAULT_WEIGHTS, **{k: int(v) for k, v in facts.weights.items()}}
    seconds = restore_time(entries, facts, now)
    found = (_path(entries, facts) + _set(entries, facts) + _order(entries, facts) + _confirmation(entries, facts)
             + _rto(seconds, facts) + _rpo(entries, facts) + _hints(entries, facts) + _restored(facts))
    whole = {"path", "set", "rto", "rpo", "restored"}  # all or nothing; the others cost PER_ITEM each
    left = dict(weights)
    deductions: list[Deduction] = []
    for d in found:
        cost = left.get(d.component, 0) if d.component in whole else min(PER_ITEM, left.get(d.component, 0))
        left[d.component] = left.get(d.component, 0) - cost
        d.points = cost
        deductions.append(d)
    total = sum(weights.values())
    age = _age(entries)
    return {
        "scenario": facts.scenario,
        "outage_class": facts.outage_class,
        "total": total - sum(d.points for d in deductions),
        "of": total,
        "weights": weights,
        "deductions": [d.as_dict() for d in deductions if d.points > 0],
        "facts": {
            "time to restore (estimated for real)": _hours(seconds),
            "RTO": _hours(facts.rto_s),
            "data-loss window": _hours(age) if age is not None else "no data restored from a backup",
            "RPO": _hours(facts.rpo_s),
            "hints": sum(1 for e in entries if e.kind == Kind.HINT),
            "service restored (the lab's checks)": "yes" if not facts.problems else "no",
        },
        "restore_s": round(seconds),
    }
