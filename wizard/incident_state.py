"""The incident state machine, rebuilt from the journal.

The journal is the source of truth: the session state is a pure function of its entries
(:func:`replay`), so resuming after a dropped SSH link or a killed process is "read the journal,
replay, carry on". A step that was started and never finished is *in doubt*: on resume the
wizard re-runs its pre-check before offering anything (DESIGN decision 3).

Stages, in order (a stage may be skipped when the recovery path does not need it)::

    start -> assessment -> backup_set -> restore -> verify -> summary -> closed
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from wizard.journal import Entry, Kind

Stage = Literal["start", "assessment", "backup_set", "restore", "verify", "summary", "closed"]
STAGES: tuple[Stage, ...] = ("start", "assessment", "backup_set", "restore", "verify", "summary", "closed")
StepStatus = Literal["running", "done", "failed", "skipped", "done_by_hand", "already_done", "cancelled"]


class TransitionError(ValueError):
    """A stage change the flow does not allow (e.g. restore before a path was chosen)."""


def check_transition(current: Stage, target: Stage) -> None:
    """Stages only move forward (skipping allowed); the summary and closing are always reachable."""
    if target in ("summary", "closed"):
        return
    if STAGES.index(target) <= STAGES.index(current):
        raise TransitionError(f"cannot go back from {current} to {target}")


@dataclass
class StepRecord:
    step_id: str
    status: StepStatus
    attempts: int = 1
    started_seq: int = 0
    finished_seq: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class IncidentState:
    incident: str = ""
    operator: str = ""
    drill: bool = True
    organisation: str = ""
    plan_path: str = ""
    rto_s: int | None = None  # the objectives journaled at the opening (journals before 0.1: None)
    rpo_s: int | None = None
    plan_sha256: str = ""
    stage: Stage = "start"
    recovery_path: str | None = None
    backup_set: str | None = None
    decisions: list[Entry] = field(default_factory=list)
    steps: dict[str, StepRecord] = field(default_factory=dict)
    interruptions: int = 0
    torn_tails: int = 0
    resumes: int = 0
    closed: bool = False
    last_seq: int = 0
    started_at: str = ""
    last_at: str = ""
    hints: int = 0  # a drill's hints taken (#19 item 3)
    score: dict[str, Any] | None = None  # a drill's score, journaled before it closed (#19 item 1)

    @property
    def in_doubt(self) -> list[str]:
        """Steps started and never finished: their outcome is unknown."""
        return [s.step_id for s in self.steps.values() if s.status == "running"]


def replay(entries: Iterable[Entry]) -> IncidentState:
    """Rebuild the session from journal entries (pure; the UI and resume both use it)."""
    st = IncidentState()
    for e in entries:
        st.last_seq = e.seq
        st.last_at = e.time
        p = e.payload
        if e.kind == Kind.OPENED:
            st.incident, st.operator, st.drill, st.started_at = e.incident, e.operator, e.drill, e.time
            st.organisation = str(p.get("organisation", ""))
            st.plan_path = str(p.get("plan", ""))
            st.plan_sha256 = str(p.get("plan_sha256", ""))
            st.rto_s = int(p["rto_s"]) if isinstance(p.get("rto_s"), int) else None
            st.rpo_s = int(p["rpo_s"]) if isinstance(p.get("rpo_s"), int) else None
        elif e.kind == Kind.STAGE:
            st.stage = p["to"]
        elif e.kind == Kind.DECISION:
            st.decisions.append(e)
            if p.get("question") == "recovery_path":
                st.recovery_path = str(p.get("choice"))
            elif p.get("question") == "backup_set":
                st.backup_set = str(p.get("choice"))
        elif e.kind == Kind.ACTION_STARTED:
            sid = str(p["step"])
            prev = st.steps.get(sid)
            st.steps[sid] = StepRecord(sid, "running", attempts=(prev.attempts + 1 if prev else 1),
                                       started_seq=e.seq)
        elif e.kind == Kind.ACTION_FINISHED:
            sid = str(p["step"])
            rec = st.steps.get(sid) or StepRecord(sid, "running", started_seq=e.seq)
            rec.status = p["status"]
            rec.finished_seq = e.seq
            rec.detail = {k: v for k, v in p.items() if k not in ("step", "status")}
            st.steps[sid] = rec
        elif e.kind == Kind.INTERRUPTED:
            st.interruptions += 1
        elif e.kind == Kind.TORN_TAIL:
            st.torn_tails += 1
        elif e.kind == Kind.RESUMED:
            st.resumes += 1
        elif e.kind == Kind.HINT:
            st.hints += 1
        elif e.kind == Kind.SCORE:
            st.score = dict(p)
        elif e.kind == Kind.CLOSED:
            st.closed = True
            st.stage = "closed"
    return st
