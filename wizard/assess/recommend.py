"""The recommendation: which recovery path, why, what else could be done and at what cost.

Built from the classified failures (:mod:`wizard.assess.classify`): the first failure in
working order gives the recommended path (the CMS first, §5.1 rule 7); every path offered
(recommended or alternative) carries its RTO/RPO consequences from the domain reference and the
plan's objectives, so the operator weighs "fail over now" against "restore from backup" on
numbers: pool failover 30 min / 30 min (§6.16, T4), CMS failover about 5 min, mirror failover
with a witness 5 min / 5 min (§5.3 B), a restore from backup loses everything since the set was
taken (RPO = age of the set, §5.1 rule 4).

:func:`record_decision` journals the operator's choice (accepted, or overridden with a reason)
with the evidence and the alternatives, before anything acts on it (DESIGN decision 3).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from wizard import recovery_paths
from wizard.assess.classify import Answers, Failure
from wizard.assess.findings import Evidence
from wizard.errors import UsageError
from wizard.plan.model import Plan


@dataclass(frozen=True)
class Consequence:
    """What choosing a path costs: time to service and data lost, against the plan."""

    path: str
    title: str
    rto: str
    rpo: str
    rto_s: int | None  # None: not known in advance
    rpo_s: int | None
    within_rto: bool | None
    within_rpo: bool | None
    restores_from_backup: bool
    source: str  # where the figures come from

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "title": self.title, "rto": self.rto, "rpo": self.rpo,
                "within_rto": self.within_rto, "within_rpo": self.within_rpo,
                "source": self.source}


@dataclass(frozen=True)
class FailureStep:
    """One failure to work on, in order, with its path."""

    failure: Failure
    consequence: Consequence


@dataclass(frozen=True)
class Recommendation:
    path: str | None  # None: nothing failed that a path answers
    steps: tuple[FailureStep, ...]
    alternatives: tuple[Consequence, ...]
    evidence: tuple[Evidence, ...]
    answers: Mapping[str, str]
    summary: str

    @property
    def reasons(self) -> list[str]:
        return [e.text for e in self.evidence]


def _fmt(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 60} min"


def backup_rpo_s(plan: Plan, path_id: str) -> int | None:
    """Worst case data loss of a restore from backup when the set's age is not known yet:
    the longest backup interval among the components the path needs."""
    needed = recovery_paths.get(path_id).components
    intervals = [d.seconds for c in needed if (d := plan.interval(c)) is not None]
    return max(intervals) if intervals else None


def consequence(plan: Plan, path_id: str, *, backup_age_s: int | None = None,
                witness: bool = False) -> Consequence:
    p = recovery_paths.get(path_id)
    rto_s: int | None
    rpo_s: int | None
    if path_id == "pool-failover":
        rto_s, rpo_s, rto, rpo = 1800, 1800, "30 min", "30 min (replication lag)"
        source = "§6.16 / §5.1 rule 2 [T4]; excludes decision time and user sign-in"
    elif path_id == "cms-failover":
        rto_s, rpo_s = 300, 120
        rto, rpo = "about 5 min", "Backup Service sync interval (default 2 min)"
        source = "§6.15; sync interval §8 Set-CsBackupServiceConfiguration"
    elif path_id == "be-mirror-primary":
        rto_s, rpo_s = (300, 300) if witness else (None, 300)
        rto = "5 min (automatic with the witness)" if witness else "a manual database failover"
        rpo = "5 min"
        source = "§5.3 B [T7]"
    elif p.restores_from_backup:
        rto_s = None
        rto = f"restore time (not known in advance; the plan's RTO is {plan.objectives.rto.text})"
        if backup_age_s is not None:
            rpo_s = backup_age_s
            rpo = f"age of the backup set ({_fmt(backup_age_s)})"
        else:
            rpo_s = backup_rpo_s(plan, path_id)
            rpo = ("up to the backup interval" + (f" ({_fmt(rpo_s)})" if rpo_s else "")
                   + ": the age of the set restored")
        source = "§5.1 rule 4: RPO = age of the backup set"
    else:
        rto_s, rpo_s = None, 0
        rto = f"rebuild time (the plan's RTO is {plan.objectives.rto.text})"
        rpo = "no data restored from backup"
        source = f"§{p.sections[0]}"
    within_rto = None if rto_s is None else rto_s <= plan.objectives.rto.seconds
    within_rpo = None if rpo_s is None else rpo_s <= plan.objectives.rpo.seconds
    return Consequence(path_id, p.title, rto, rpo, rto_s, rpo_s, within_rto, within_rpo,
                       p.restores_from_backup, source)


def recommend(plan: Plan, failures: Sequence[Failure], answers: Answers, *,
              backup_age_s: int | None = None) -> Recommendation:
    """The path to take first, the full order, alternatives and evidence."""
    if not failures:
        ev = (Evidence("Every probe answered and nothing the rules look for has failed.",
                       "rule:none"),)
        return Recommendation(None, (), (), ev, dict(answers),
                              "No outage found: troubleshoot first (§5.1 rule 1).")
    steps = []
    for f in failures:
        witness = any("witness is up" in n for n in f.notes)
        steps.append(FailureStep(f, consequence(plan, f.path, backup_age_s=backup_age_s,
                                         witness=witness)))
    first = failures[0]
    seen = {first.path}
    alternatives = []
    for alt in first.alternatives:
        if alt not in seen:
            seen.add(alt)
            alternatives.append(consequence(plan, alt, backup_age_s=backup_age_s))
    evidence: list[Evidence] = []
    for f in failures:
        for e in f.evidence:
            if e not in evidence:
                evidence.append(e)
    for qid, value in answers.items():
        if value != "unknown":
            evidence.append(Evidence(f"Operator answered '{value}' to: {qid}.", f"answer:{qid}"))
    more = f" then {', '.join(s.failure.path for s in steps[1:])}" if len(steps) > 1 else ""
    summary = (f"{first.title}: {recovery_paths.get(first.path).title.lower()} (§"
               f"{', §'.join(recovery_paths.get(first.path).sections)}){more}.")
    return Recommendation(first.path, tuple(steps), tuple(alternatives), tuple(evidence),
                          dict(answers), summary)


class DecisionJournal(Protocol):
    """The part of :class:`wizard.journal.Journal` a decision needs."""

    def append(self, kind: str, payload: Mapping[str, Any] | None = None) -> Any: ...


class OverrideWithoutReason(UsageError):
    title = "A reason is needed"


def decision_payload(rec: Recommendation, choice: str, reason: str | None = None,
                     *, at: dt.datetime | None = None) -> dict[str, Any]:
    """The journal payload of the recovery-path decision (validates the choice)."""
    if choice not in recovery_paths.BY_ID:
        raise UsageError(f"There is no recovery path '{choice}'.")
    accepted = choice == rec.path
    if not accepted and not (reason and reason.strip()):
        raise OverrideWithoutReason(
            f"Choosing {choice} instead of the recommended {rec.path} needs a reason.")
    return {
        "question": "recovery_path",
        "choice": choice,
        "recommended": rec.path,
        "accepted": accepted,
        "reason": (reason or "").strip() or None,
        "summary": rec.summary,
        "order": [s.failure.path for s in rec.steps],
        "failures": [{"class": s.failure.outage_class, "subject": s.failure.subject,
                      "title": s.failure.title, "path": s.failure.path,
                      "notes": list(s.failure.notes)} for s in rec.steps],
        "alternatives": [c.as_dict() for c in rec.alternatives],
        "consequence": next(
            (c.as_dict() for c in [s.consequence for s in rec.steps] + list(rec.alternatives)
             if c.path == choice), None),
        "evidence": [e.as_dict() for e in rec.evidence],
        "answers": dict(rec.answers),
        **({"decided_at": at.isoformat()} if at else {}),
    }


def record_decision(journal: DecisionJournal, rec: Recommendation, choice: str,
                    reason: str | None = None) -> dict[str, Any]:
    """Journal the operator's recovery-path decision (kind ``decision``) and return its
    payload. Overriding the recommendation without a reason raises OverrideWithoutReason."""
    from wizard.journal import Kind

    payload = decision_payload(rec, choice, reason)
    journal.append(Kind.DECISION, payload)
    return payload
