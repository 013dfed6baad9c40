"""Which backup set to restore: the newest one that is complete for the path and intact.

Sets are examined newest first. A set missing a part the path needs (§3, e.g. no
``E911Config.zip`` for a CMS restore) is passed over without opening anything; a complete set is
tested (:mod:`wizard.catalog.integrity`) and passed over when a part is damaged. The first set
that passes is recommended, with the reason each newer set was rejected and its age against
the plan's RPO (§5.1 rule 4: the RPO of a restore is the age of the set). Examination streams
:class:`SetExamined` events so the screen can show progress on a slow share, and stops when its
``cancel`` is set (before the next set, or the next part of the set in hand, which then stays
unchecked): the choice says so and names the sets that were checked.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from wizard.catalog.components import (
    Requirement,
    SetContents,
    aliases,
    missing,
    requirements,
    scan_set,
)
from wizard.catalog.discover import Listing
from wizard.catalog.integrity import BakVerifier, IntegrityReport, check_parts
from wizard.plan.model import Plan


@dataclass(frozen=True)
class SetVerdict:
    name: str
    created: dt.datetime
    age: dt.timedelta
    within_rpo: bool
    missing: tuple[Requirement, ...]
    integrity: IntegrityReport | None  # None: not tested (incomplete, or not a candidate)
    usable: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class SetExamined:
    verdict: SetVerdict


@dataclass(frozen=True)
class SetChoice:
    path: str
    chosen: SetVerdict | None
    passed_over: tuple[SetVerdict, ...]  # newer sets, newest first, with why
    listed: int
    summary: str
    #: the checks were cancelled before a set was settled on (``chosen`` is then None)
    cancelled: bool = False


def _age_text(age: dt.timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h"


def _naive_utc(when: dt.datetime) -> dt.datetime:
    """Set times come from folder names (naive, UTC by convention); clocks may be aware."""
    return when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when


def overview(plan: Plan, listing: Listing, path_id: str, now: dt.datetime,
             pools: Sequence[str] | None = None) -> list[SetVerdict]:
    """Every set with completeness and age, no integrity test (fast: for the set table)."""
    reqs = requirements(plan, path_id, pools)
    return [_verdict(plan, scan_set(e, plan.backup.layout), reqs, now, None)
            for e in listing.sets]


def _verdict(plan: Plan, contents: SetContents, reqs: Sequence[Requirement], now: dt.datetime,
             integrity: IntegrityReport | None) -> SetVerdict:
    age = _naive_utc(now) - _naive_utc(contents.created)
    rpo = plan.objectives.rpo.seconds
    lacking = tuple(missing(plan, contents, reqs))
    reasons: list[str] = []
    if lacking:
        reasons.append("incomplete: no " + ", ".join(r.label for r in lacking))
    if integrity is not None:
        reasons += [p.detail for p in integrity.problems]
    within = age.total_seconds() <= rpo
    usable = not lacking and (integrity is not None and integrity.intact)
    return SetVerdict(contents.entry.key, contents.created, age, within, lacking, integrity,
                      usable, tuple(reasons))


def examine(plan: Plan, listing: Listing, path_id: str, *, now: dt.datetime,
            verifier: BakVerifier | None, pools: Sequence[str] | None = None,
            cancel: threading.Event | None = None) -> Iterator[SetExamined | SetChoice]:
    """Examine sets newest first until one is complete and intact; yield each verdict, then
    the :class:`SetChoice` (``cancelled`` when ``cancel`` was set before one was found)."""
    reqs = requirements(plan, path_id, pools)
    passed: list[SetVerdict] = []
    chosen: SetVerdict | None = None
    cancelled = False
    for entry in listing.sets:
        contents = scan_set(entry, plan.backup.layout)
        if missing(plan, contents, reqs):
            verdict = _verdict(plan, contents, reqs, now, None)
        else:
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            parts = [p for r in reqs for p in contents.find(r.component, r.key, aliases(plan, r))]
            parts += [p for p in contents.parts if p.kind == "log"
                      and any(p.component == r.component for r in reqs)]
            report = check_parts(contents, parts, verifier, cancel=cancel)
            if report is None:  # cancelled part way: this set stays unchecked
                cancelled = True
                break
            verdict = _verdict(plan, contents, reqs, now, report)
        yield SetExamined(verdict)
        if verdict.usable:
            chosen = verdict
            break
        passed.append(verdict)
    summary = _summary(plan, chosen, passed, len(listing.sets))
    if cancelled:
        summary = _cancelled(passed, len(listing.sets))
    yield SetChoice(path_id, chosen, tuple(passed), len(listing.sets), summary, cancelled)


def _cancelled(passed: Sequence[SetVerdict], listed: int) -> str:
    checked = [v for v in passed if v.integrity is not None]
    said = "".join(f" {v.name}: {'; '.join(v.reasons)}." for v in checked)
    return (f"Integrity checks cancelled: {len(checked)} of the {listed} sets checked, none intact; "
            f"the others are unchecked and none is recommended.{said}")


def _summary(plan: Plan, chosen: SetVerdict | None, passed: Sequence[SetVerdict],
             listed: int) -> str:
    if listed == 0:
        return "No backup set was found at any readable backup location."
    skipped = "".join(f" Passed over {v.name}: {'; '.join(v.reasons)}." for v in passed)
    if chosen is None:
        return f"None of the {listed} backup sets is complete and intact for this path." + skipped
    rpo = plan.objectives.rpo.text
    age = (f"{_age_text(chosen.age)} old, within the RPO of {rpo}" if chosen.within_rpo else
           f"{_age_text(chosen.age)} old, OVER the RPO of {rpo}")
    newest = "the newest set" if not passed else "the newest complete and intact set"
    return f"Restore {chosen.name}: {newest}, {age}." + skipped


def choose_set(plan: Plan, listing: Listing, path_id: str, *, now: dt.datetime,
               verifier: BakVerifier | None, pools: Sequence[str] | None = None,
               on_event: Callable[[SetExamined], None] | None = None) -> SetChoice:
    for event in examine(plan, listing, path_id, now=now, verifier=verifier, pools=pools):
        if isinstance(event, SetChoice):
            return event
        if on_event is not None:
            on_event(event)
    raise AssertionError("examine() ends with a SetChoice")  # pragma: no cover


def set_decision_payload(choice: SetChoice, picked: str, reason: str | None = None
                         ) -> dict[str, object]:
    """Journal payload of the backup-set decision (question ``backup_set``); picking another
    set than the recommended one needs a reason."""
    from wizard.errors import UsageError

    recommended = choice.chosen.name if choice.chosen else None
    if picked != recommended and not (reason and reason.strip()):
        raise UsageError(f"Choosing set {picked} instead of the recommended {recommended} "
                         "needs a reason.")
    return {
        "question": "backup_set", "choice": picked, "recommended": recommended,
        "accepted": picked == recommended, "reason": (reason or "").strip() or None,
        "path": choice.path, "summary": choice.summary,
        "passed_over": [{"set": v.name, "reasons": list(v.reasons)} for v in choice.passed_over],
        "evidence": [c.detail for c in (choice.chosen.integrity.checks
                                        if choice.chosen and choice.chosen.integrity else ())],
    }
