"""The incident session: the one object the UI talks to.

The screens never touch the journal, the plan loader or the remote runners directly; they call
an :class:`IncidentSession`, which

- opens a plan and starts an incident (operator, incident id, drill or live; live mode needs the
  organisation's name typed back), or resumes an unfinished one (:func:`unfinished_incidents`
  lists them for a plan, with where they stopped and which steps are in doubt);
- journals every decision *before* it takes effect (DESIGN decision 3), every stage change
  (checked with :func:`wizard.incident_state.check_transition`), notes, errors, interruptions and the
  close;
- wraps the assessment, catalogue, procedure and verification work behind one small port,
  :class:`Backend`, whose results are the frozen view dataclasses below. The real backend is
  :class:`wizard.core_backend.CoreBackend` (the default, loaded on first use); a backend that
  wants the session's decisions (plan of action, confirmations) implements
  :class:`SessionAware` and is attached when the session opens.

Everything blocking here is meant to be called from a thread worker; nothing here imports
Textual.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from wizard.driver import DriverInfo, lock_state
from wizard.errors import JournalError, UsageError, WizardError
from wizard.incident_state import IncidentState, Stage, check_transition, replay
from wizard.journal import INCIDENT_ID, Entry, Journal, Kind, installation_key, read_journal, write_private
from wizard.journal import incidents as incident_folders
from wizard.plan import LoadedPlan, load_plan
from wizard.procedures.events import (
    OutputLine,
    Progress,
    StepDone,
    StepEvent,
    StepFailed,
    StepSkipped,
    StepStarted,
)

#: The facade's vocabulary: what the screens (and drills) may use. The step events are the
#: procedure engine's own (:mod:`wizard.procedures.events`), handed on unchanged.
__all__ = [
    "Backend",
    "BackupChoice",
    "BackupEvent",
    "BackupSetView",
    "CatalogueStreaming",
    "CheckView",
    "Health",
    "Hinting",
    "IncidentSession",
    "LiveConfirmationError",
    "Mode",
    "OperatorQuestion",
    "OutputLine",
    "PathChoice",
    "PathOption",
    "PlannedPath",
    "PreCheckView",
    "PreflightFailed",
    "PreflightView",
    "Preflighting",
    "ProbeView",
    "Progress",
    "Scoring",
    "SessionAware",
    "SetIntegrity",
    "SetsListed",
    "SetsSettled",
    "StepCancelled",
    "StepDone",
    "StepEvent",
    "StepFailed",
    "StepGrant",
    "StepSkipped",
    "StepStarted",
    "StepView",
    "UnfinishedIncident",
    "new_incident_id",
    "parse_time",
    "plan_sha256",
    "unfinished_incidents",
    "utcnow",
]

Mode = Literal["drill", "live"]
Health = Literal["ok", "warn", "fail", "unknown"]

# --------------------------------------------------------------------------- view dataclasses


@dataclass(frozen=True)
class ProbeView:
    """One cell of the health matrix: a check on one host."""

    host: str
    check: str
    status: Health
    detail: str = ""


@dataclass(frozen=True)
class OperatorQuestion:
    """Something only the operator can tell (what they see), asked during assessment."""

    id: str
    text: str
    choices: tuple[str, ...]
    asked: bool = True  # False: its answer cannot change anything for what the probes found
    why_not: str = ""  # why it is not asked


@dataclass(frozen=True)
class PlannedPath:
    """One entry of a plan of action: a recovery path and the pool or server it acts on."""

    path_id: str
    pool: str | None = None
    server: str | None = None
    #: the pool hosting the CMS when this path starts, when not the plan's (failed over before,
    #: seen by the assessment, or by an earlier path of the plan of action: §6.15 step 7)
    cms_at: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        out = {"path": self.path_id, "pool": self.pool, "server": self.server}
        return {**out, "cms_at": self.cms_at} if self.cms_at else out


@dataclass(frozen=True)
class PathOption:
    """A recovery path offered to the operator, with why and what it costs.

    ``plan`` is the plan of action choosing it means: every failure's path and target in working
    order (e.g. cms-failover then pool-failover); empty means just ``path_id``."""

    path_id: str
    title: str
    reason: str
    evidence: tuple[str, ...] = ()
    rto_note: str = ""
    rpo_note: str = ""
    plan: tuple[PlannedPath, ...] = ()
    needs_backup_set: bool | None = None  # None: when a path of the plan restores from backup


@dataclass(frozen=True)
class PathChoice:
    recommended: PathOption
    alternatives: tuple[PathOption, ...] = ()


@dataclass(frozen=True)
class BackupSetView:
    """One backup set as the picker shows it."""

    name: str
    taken_at: str  # ISO 8601, UTC
    complete: bool  # has every component the chosen path needs
    missing: tuple[str, ...] = ()
    integrity: Literal["ok", "bad", "unchecked"] = "unchecked"
    detail: str = ""

    def age_s(self, now: dt.datetime) -> float:
        return (now - parse_time(self.taken_at)).total_seconds()


@dataclass(frozen=True)
class BackupChoice:
    sets: tuple[BackupSetView, ...]
    recommended: str | None
    reason: str
    #: ISO 8601 UTC time the backend judged the sets' ages against (in a drill, the lab's clock);
    #: empty: the wall clock. The picker and the journal use it, so they agree with ``reason``.
    as_of: str = ""

    def judged_at(self) -> dt.datetime:
        return parse_time(self.as_of) if self.as_of else utcnow()


@dataclass(frozen=True)
class SetsListed:
    """Every set with its age and completeness, integrity not yet known (``recommended`` None):
    the table the backup-set screen shows while the candidates are checked."""

    choice: BackupChoice


@dataclass(frozen=True)
class SetIntegrity:
    """One candidate set whose checks (hashes, RESTORE VERIFYONLY) just finished."""

    view: BackupSetView


@dataclass(frozen=True)
class SetsSettled:
    """The recommendation, once settled or once the checks were cancelled (``cancelled``: the
    sets not checked stay "unchecked" and none is recommended unless one was found intact)."""

    choice: BackupChoice
    cancelled: bool = False


#: What the catalogue streams to the backup-set screen, in order: one SetsListed, a SetIntegrity
#: per set checked (newest first), one SetsSettled.
BackupEvent = SetsListed | SetIntegrity | SetsSettled


@dataclass(frozen=True)
class StepView:
    """A composed restore step: what it does, why, and the exact commands."""

    step_id: str
    title: str
    why: str
    section: str
    host: str
    commands: tuple[str, ...]
    destructive: bool = False
    second_operator: bool = False
    estimate_s: int = 0
    confirm_text: str | None = None  # what a destructive step makes the operator type (§6: the database or pool)
    manual: str | None = None  # the tool of work done by hand (Deployment Wizard, Topology Builder...), if any
    confirm_full: str | None = None  # the target's full name when ``confirm_text`` is its short form (se01)

    @property
    def confirmation(self) -> str:
        """The text to type to run this destructive step: its database, server or pool name (the
        short form of a name when the plan has no other name with that first label), else its id."""
        return self.confirm_text or self.step_id

    def accepts(self, typed: str) -> bool:
        """Does ``typed`` name this step's target: the confirmation, or the full name it shortens
        (host names compare without case, as DNS does)?"""
        said = typed.strip()
        if said == self.confirmation:
            return True
        return self.confirm_full is not None and said.lower() in (self.confirm_full.lower(), self.confirmation.lower())




@dataclass(frozen=True)
class StepGrant:
    """What the operator already granted for a step, read from the journal by the backend."""

    confirmed: bool = False  # the typed confirmation was journaled
    second_operator: str | None = None
    skip_done_work: bool = True  # take the offer to skip work a pre-check finds already done
    manual_done: bool = False  # the operator said the step's work by hand is done


@dataclass(frozen=True)
class PreCheckView:
    """A step's "already done" pre-check, re-run (a step in doubt after a restart)."""

    step_id: str
    already_done: bool | None  # None: no pre-check, or it could not run (``detail`` says which)
    detail: str
    #: why the step is not needed now (its condition does not hold), else empty: the wizard
    #: closes such a step as skipped before anyone is asked for anything
    not_needed: str = ""


@dataclass(frozen=True)
class PreflightView:
    """Pre-flight of the composed procedure (#18 item 2): what the servers lack, one sentence each."""

    findings: tuple[str, ...]  # empty: every server has every cmdlet and parameter it will be asked for
    checked: tuple[str, ...]  # the servers asked
    unchecked: tuple[str, ...] = ()  # servers not reachable now (lost, rebuilt by an earlier step), and why

    @property
    def ok(self) -> bool:
        return not self.findings

    def sentence(self) -> str:
        return ("Pre-flight stopped the run before any change: " + " ".join(self.findings)
                + " Fix it, then run the step again: pre-flight runs again first.")


class PreflightFailed(UsageError):
    title = "Pre-flight failed"


@runtime_checkable
class CatalogueStreaming(Protocol):
    """A backend that streams the backup-set catalogue: the sets at once, then each candidate's
    integrity as it finishes, stopping when ``cancel`` is set."""

    def backup_set_events(self, loaded: LoadedPlan, path_id: str,
                          cancel: threading.Event) -> Iterator[BackupEvent]: ...


@runtime_checkable
class Preflighting(Protocol):
    """A backend that can check the composed procedure against the servers before it runs."""

    def preflight(self, loaded: LoadedPlan) -> PreflightView: ...


@dataclass(frozen=True)
class CheckView:
    """One §7 verification check with what healthy means and the step that fixes a failure."""

    check_id: str
    title: str
    target: str
    command: str
    healthy: str
    status: Health = "unknown"
    detail: str = ""
    fixed_by: str | None = None


@dataclass(frozen=True)
class UnfinishedIncident:
    """A journal for this plan that was never closed, as the start screen offers it."""

    folder: Path
    incident: str
    operator: str
    drill: bool
    stage: Stage
    started_at: str
    last_at: str
    in_doubt: tuple[str, ...]
    torn_tail: bool
    plan_changed: bool = False  # the plan file differs from the one the incident was opened with
    driven_by: str | None = None  # the operator of a live wizard driving it now (resuming follows)


# --------------------------------------------------------------------------- errors


class LiveConfirmationError(UsageError):
    title = "Live mode not confirmed"


class StepCancelled(WizardError):
    title = "Step cancelled"


# --------------------------------------------------------------------------- the backend port


class Backend(Protocol):
    """The core work behind the stages. Every method may raise WizardError (RemoteError for hosts)."""

    def probe(self, loaded: LoadedPlan, cancel: threading.Event) -> Iterator[ProbeView]:
        """Probe every host; yields results as they arrive."""
        ...

    def questions(self, loaded: LoadedPlan) -> Sequence[OperatorQuestion]:
        """What to ask the operator during assessment."""
        ...

    def recommend(self, loaded: LoadedPlan, probes: Sequence[ProbeView],
                  answers: dict[str, str]) -> PathChoice:
        """Classify and recommend a recovery path with its evidence and alternatives."""
        ...

    def backup_sets(self, loaded: LoadedPlan, path_id: str) -> BackupChoice:
        """Sets at the plan's backup location, checked for the chosen path."""
        ...

    def compose(self, loaded: LoadedPlan, path_id: str, backup_set: str | None) -> Sequence[StepView]:
        """The ordered steps of the chosen path."""
        ...

    def run_step(self, loaded: LoadedPlan, step: StepView, cancel: threading.Event) -> Iterator[StepEvent]:
        """Run one step; yields its events and ends with StepDone or StepFailed."""
        ...

    def verify(self, loaded: LoadedPlan, path_id: str) -> Iterator[CheckView]:
        """Run the §7 checks for the path; yields each check with its status."""
        ...


@runtime_checkable
class Scoring(Protocol):
    """A drill's backend: it scores the incident from its journal before it closes (#19 item 1)."""

    def score(self, loaded: LoadedPlan, entries: Sequence[Entry], outcome: str) -> Mapping[str, Any]: ...


@runtime_checkable
class Hinting(Protocol):
    """A drill's backend: a hint for where the trainee is, pointing to the § to read (#19 item 3)."""

    def hint(self, loaded: LoadedPlan, stage: str, step_id: str | None) -> str: ...


@runtime_checkable
class SessionAware(Protocol):
    """A backend that reads the session's decisions (plan of action, grants)."""

    def attach(self, ctx: Any) -> None: ...


# --------------------------------------------------------------------------- helpers


def utcnow() -> dt.datetime:
    """The session's clock (one place, so tests and snapshots can pin it)."""
    return dt.datetime.now(dt.UTC)


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def new_incident_id(now: dt.datetime | None = None) -> str:
    """A readable, sortable id, e.g. ``INC-20261125-0312`` (the operator may edit it)."""
    now = now or utcnow()
    return now.strftime("INC-%Y%m%d-%H%M")


def plan_sha256(loaded: LoadedPlan) -> str:
    return hashlib.sha256(loaded.text.encode("utf-8")).hexdigest()


#: beside each journal: the plan as it was when the incident was opened (0600), so a plan edited
#: since is shown as a difference when the incident is resumed (#16)
PLAN_COPY = "plan-at-open.yaml"


def unfinished_incidents(journal_dir: Path, loaded: LoadedPlan | None = None) -> list[UnfinishedIncident]:
    """Journals never closed (of this plan when given: the same file, or the same text), newest
    first; an incident whose plan file changed since it was opened is listed, marked changed.
    Unreadable ones are skipped."""
    wanted = plan_sha256(loaded) if loaded is not None else None
    where = str(loaded.path.resolve()) if loaded is not None else None
    found: list[UnfinishedIncident] = []
    for folder in incident_folders(journal_dir):
        try:
            result = read_journal(folder)
        except WizardError:
            continue
        st = replay(result.entries)
        if st.closed or not result.entries:
            continue
        if wanted is not None and st.plan_sha256 != wanted and st.plan_path != where:
            continue  # another plan's incident
        held, holder = lock_state(folder)
        found.append(UnfinishedIncident(folder, st.incident, st.operator, st.drill, st.stage, st.started_at,
                                        st.last_at, tuple(st.in_doubt), result.torn is not None,
                                        plan_changed=wanted is not None and st.plan_sha256 != wanted,
                                        driven_by=(holder.operator if holder else "another wizard") if held else None))
    return found


def plan_change(folder: Path, loaded: LoadedPlan, limit: int = 60) -> list[str]:
    """How the plan differs from the one the incident was opened with: a unified diff of the copy
    kept beside the journal and the plan now (empty: unchanged). Without the copy (a journal from
    before it was kept) one line says only that it changed."""
    import difflib

    copy = folder / PLAN_COPY
    if not copy.is_file():
        st = replay(read_journal(folder).entries)
        return [] if st.plan_sha256 == plan_sha256(loaded) else [
            "The plan changed since the incident was opened (no copy of the earlier plan was kept)."]
    before = copy.read_text(encoding="utf-8")
    if before == loaded.text:
        return []
    lines = list(difflib.unified_diff(before.splitlines(), loaded.text.splitlines(), "plan when opened",
                                      "plan now", n=1, lineterm=""))
    return lines if len(lines) <= limit else [*lines[:limit], f"... {len(lines) - limit} more line(s)"]


def _digest(lines: Sequence[str]) -> str:
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode("utf-8", "replace") + b"\n")
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------- one driver


def _journal_new_driver(journal: Journal, entries: Sequence[Entry]) -> None:
    """A new driver of an incident says whom it took it from: a driver that died holding it (the
    operator confirmed the take-over), or the one that handed over."""
    lock = journal.driver
    if lock is not None and lock.previous is not None:
        gone = lock.previous
        seen = "no such process any more" if gone.liveness() == "gone" else "its lock was free"
        journal.append(Kind.TOOK_OVER, {
            "from": gone.operator, "why": "the driving wizard was gone",
            "evidence": [f"{gone.describe()}: {seen}",
                         f"host {gone.host}, boot {gone.boot or '?'}, process start {gone.started or '?'}"],
            "confirmed_by": journal.operator})
        return
    last = next((e for e in reversed(entries) if e.kind in (Kind.HANDED_OVER, Kind.TOOK_OVER, Kind.RESUMED)), None)
    if last is not None and last.kind == Kind.HANDED_OVER:
        journal.append(Kind.TOOK_OVER, {"from": last.payload.get("by", last.operator), "why": "handed over",
                                        "confirmed_by": journal.operator})


class IncidentFollower:
    """A read-only view of an incident another wizard drives: the journal as it grows and who
    drives it. It never writes; :meth:`driver` tells when the incident may be taken."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._seen = 0

    def new_entries(self) -> list[Entry]:
        """The entries appended since the last call (all of them the first time)."""
        entries = read_journal(self.folder).entries
        fresh = [e for e in entries if e.seq > self._seen]
        if fresh:
            self._seen = fresh[-1].seq
        return fresh

    def driver(self) -> tuple[bool, DriverInfo | None]:
        """(is a live wizard driving it now, who drives or last drove it)."""
        return lock_state(self.folder)


# --------------------------------------------------------------------------- the session


@dataclass
class _Cache:
    entries: list[Entry] = field(default_factory=list)
    state: IncidentState | None = None


class IncidentSession:
    """One incident, journaled. Use :meth:`start` or :meth:`resume`."""

    OUTPUT_BATCH = 50  # streamed lines per journal ``output`` entry

    def __init__(self, loaded: LoadedPlan, journal: Journal, entries: list[Entry], backend: Backend) -> None:
        self.loaded = loaded
        self.journal = journal
        self.backend = backend
        self._cache = _Cache(list(entries))
        self._lock = threading.Lock()
        self.skip_done_work = True  # take the offer to skip work a pre-check finds already done
        self._preflight_ok = False  # set by a pre-flight that found nothing missing
        if isinstance(self.backend, SessionAware):
            self.backend.attach(self)

    # ------------------------------------------------------------------ opening
    @classmethod
    def start(cls, plan_path: str | Path, *, operator: str, incident: str, mode: Mode, journal_dir: Path,
              backend: Backend, confirm_organisation: str | None = None,
              loaded: LoadedPlan | None = None, generated_id: bool = False) -> IncidentSession:
        """Start a new incident. Live mode needs the organisation's name typed back exactly. A
        ``generated_id`` (the clock's, not typed by the operator) that is taken already, e.g. by a
        second drill started in the same minute, becomes ``<id>-2``, ``<id>-3``... (the folder is
        created atomically, so two wizards never share one)."""
        loaded = loaded or load_plan(plan_path)
        org = loaded.plan.organisation.name
        if not operator.strip():
            raise UsageError("The operator name is empty; type who is at the keyboard.")
        if not INCIDENT_ID.match(incident):
            raise UsageError(f"'{incident}' is not a usable incident id (letters, digits, . _ - only).")
        if mode == "live" and (confirm_organisation or "").strip() != org:
            raise LiveConfirmationError(f"Live mode needs the organisation name typed exactly as '{org}'.")
        payload = {"plan": str(Path(plan_path).resolve()), "plan_sha256": plan_sha256(loaded),
                   "organisation": org, "mode": mode,
                   # the objectives in force, so a report needs no plan later
                   "rto_s": loaded.plan.objectives.rto.seconds, "rpo_s": loaded.plan.objectives.rpo.seconds}
        candidates = [incident, *(f"{incident}-{n}" for n in range(2, 100))] if generated_id else [incident]
        for i, name in enumerate(candidates):
            try:
                journal = Journal.create(journal_dir, incident=name, operator=operator.strip(),
                                         drill=mode == "drill", key=installation_key(), payload=payload)
                break
            except JournalError:
                if i + 1 == len(candidates) or not (Path(journal_dir) / name).exists():
                    raise
        write_private(journal.path.parent / PLAN_COPY, loaded.text.encode("utf-8"))
        entries = read_journal(journal.path).entries
        return cls(loaded, journal, entries, backend)

    @classmethod
    def resume(cls, folder: Path, *, backend: Backend, operator: str | None = None,
               loaded: LoadedPlan | None = None, plan_change_accepted: bool = False,
               take_over: bool = False) -> IncidentSession:
        """Reopen an unfinished incident; a torn tail is set aside and the resume is journaled.
        A plan changed since the incident was opened is journaled: as the operator's decision
        when they saw the difference and accepted it (``plan_change_accepted``), else as a warning.
        Only one wizard drives an incident (wizard/driver.py): :class:`DriverBusy` while another
        does, :class:`TakeOverNeeded` when the last driver died holding it until the operator
        confirms (``take_over``); a take-over and the end of a hand-over are journaled."""
        if replay(read_journal(folder).entries).closed:
            raise UsageError(f"Incident {folder.name} is already closed; open its report instead.")
        journal, result = Journal.open(folder, operator=operator, take_over=take_over)
        try:
            _journal_new_driver(journal, result.entries)
            st = replay(result.entries)
            if st.closed:
                raise UsageError(f"Incident {st.incident} is already closed; open its report instead.")
            if loaded is None:
                loaded = load_plan(st.plan_path)
            if plan_sha256(loaded) != st.plan_sha256:
                diff = plan_change(folder, loaded)
                if plan_change_accepted:
                    journal.append(Kind.DECISION, {
                        "question": "plan_changed", "choice": "resume with the plan as it is now",
                        "alternatives": ["resume with the plan as it is now", "do not resume"],
                        "reason": f"{journal.operator} saw how the plan differs from the one the incident was "
                                  "opened with and resumed with it",
                        "evidence": [f"plan_sha256 {st.plan_sha256[:12]} -> {plan_sha256(loaded)[:12]}",
                                     *diff[:40]]})
                else:
                    journal.append(Kind.WARNING, {"message": "the plan changed since the incident was opened",
                                                  "difference": diff[:40]})
            journal.append(Kind.RESUMED, {"after": result.entries[-1].seq, "in_doubt": st.in_doubt})
        except BaseException:
            journal.close()
            raise
        entries = read_journal(journal.path).entries
        return cls(loaded, journal, entries, backend)

    # ------------------------------------------------------------------ state
    def _append(self, kind: str, payload: dict[str, Any]) -> Entry:
        with self._lock:
            entry = self.journal.append(kind, payload)
            self._cache.entries.append(entry)
            self._cache.state = None
            return entry

    @property
    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._cache.entries)

    @property
    def state(self) -> IncidentState:
        with self._lock:
            if self._cache.state is None:
                self._cache.state = replay(self._cache.entries)
            return self._cache.state

    @property
    def organisation(self) -> str:
        return self.loaded.plan.organisation.name

    @property
    def drill(self) -> bool:
        return self.journal.drill

    @property
    def rto_s(self) -> int:
        return self.loaded.plan.objectives.rto.seconds

    @property
    def rpo_s(self) -> int:
        return self.loaded.plan.objectives.rpo.seconds

    def now(self) -> dt.datetime:
        return utcnow()

    def elapsed_s(self, now: dt.datetime | None = None) -> float:
        """Seconds since the incident was opened (the RTO clock)."""
        now = now or utcnow()
        return (now - parse_time(self.state.started_at)).total_seconds()

    # ------------------------------------------------------------------ journaled acts
    def decide(self, question: str, choice: str, *, alternatives: Sequence[str] = (), reason: str = "",
               evidence: Sequence[str] = (), recommended: str | None = None,
               extra: Mapping[str, Any] | None = None) -> Entry:
        """Journal a decision (before its effect). Overriding a recommendation needs a reason."""
        if recommended is not None and choice != recommended and not reason.strip():
            raise UsageError(f"Choosing {choice} over the recommended {recommended} needs a reason.")
        return self._append(Kind.DECISION, {"question": question, "choice": choice,
                                            "alternatives": list(alternatives), "reason": reason.strip(),
                                            "evidence": list(evidence), "recommended": recommended,
                                            **dict(extra or {})})

    def change_stage(self, target: Stage) -> Entry:
        current = self.state.stage
        try:
            check_transition(current, target)
        except ValueError as exc:
            raise UsageError(f"The incident cannot {exc}.") from None
        return self._append(Kind.STAGE, {"from": current, "to": target})

    def note(self, text: str) -> Entry:
        return self._append(Kind.NOTE, {"text": text})

    def record_error(self, err: WizardError) -> Entry:
        return self._append(Kind.ERROR, {"title": err.title, "message": err.message})

    def interrupt(self, step_id: str | None, reason: str) -> Entry:
        return self._append(Kind.INTERRUPTED, {"step": step_id, "reason": reason})

    @property
    def can_hint(self) -> bool:
        """A drill whose backend gives hints (never a live incident)."""
        return self.state.drill and isinstance(self.backend, Hinting)

    def hint(self, step_id: str | None = None) -> str:
        """A hint for the current stage (or step), journaled: it costs the trainee points (#19)."""
        if not self.can_hint:
            raise UsageError("Hints are for drills.")
        assert isinstance(self.backend, Hinting)
        text = self.backend.hint(self.loaded, self.state.stage, step_id)
        self._append(Kind.HINT, {"stage": self.state.stage, "step": step_id, "text": text})
        return text

    def _score(self, outcome: str) -> None:
        """A drill is scored from its journal as it closes; the score is journaled (so the chain
        covers it) and written as ``score.md`` beside the journal."""
        if not (self.state.drill and isinstance(self.backend, Scoring)):
            return
        score = dict(self.backend.score(self.loaded, self.entries, outcome))
        self._append(Kind.SCORE, score)
        from wizard.report import score_markdown

        target = self.journal.path.parent / "score.md"
        tmp = target.with_suffix(".md.tmp")
        tmp.write_text(score_markdown(score, self.state.incident), encoding="utf-8")
        os.replace(tmp, target)

    @property
    def score(self) -> dict[str, Any] | None:
        """The drill's score once it closed (journaled), else None."""
        return self.state.score

    def close(self, outcome: str) -> str | None:
        """Close the incident and seal its journal; returns the final hash (None when it was
        already closed). A drill is scored first."""
        final = None
        if not self.state.closed:
            if self.state.score is None:
                self._score(outcome)
            self._append(Kind.CLOSED, {"outcome": outcome})
            with self._lock:
                final = self.journal.seal()
        self.journal.close()
        return final

    def detach(self) -> None:
        """Close the journal file without closing the incident (quit; resumable)."""
        self.journal.close()

    def hand_over(self, note: str = "") -> Entry:
        """Let another wizard drive: journaled, then the journal and the driver lock are let go;
        this session only follows from now on (:class:`IncidentFollower`)."""
        entry = self._append(Kind.HANDED_OVER, {"by": self.journal.operator, "note": note.strip()})
        self.journal.close()
        return entry

    # ------------------------------------------------------------------ stages
    def probe(self, cancel: threading.Event) -> Iterator[ProbeView]:
        return self.backend.probe(self.loaded, cancel)

    def questions(self) -> Sequence[OperatorQuestion]:
        """The questions to ask; those the backend says not to ask are journaled as not asked, and
        why (an unasked question counts as unknown)."""
        questions = tuple(self.backend.questions(self.loaded))
        for q in questions:
            if not q.asked:
                self.decide(f"observation:{q.id}", "not asked", alternatives=q.choices,
                            reason=f"the wizard did not ask '{q.text}': {q.why_not}; it counts as unknown")
        return tuple(q for q in questions if q.asked)

    def answer(self, question: OperatorQuestion, choice: str | None) -> Entry:
        """The operator's answer; None: left unanswered (Esc), journaled as such (counts as unknown)."""
        if choice is None:
            return self.decide(f"observation:{question.id}", "unanswered", alternatives=question.choices,
                               reason=f"{self.journal.operator} left '{question.text}' unanswered; "
                                      "it counts as unknown")
        return self.decide(f"observation:{question.id}", choice, alternatives=question.choices)

    def recommend(self, probes: Sequence[ProbeView], answers: dict[str, str]) -> PathChoice:
        return self.backend.recommend(self.loaded, probes, answers)

    def choose_path(self, rec: PathChoice, path_id: str, reason: str = "") -> Entry:
        options = [rec.recommended, *rec.alternatives]
        chosen = next((o for o in options if o.path_id == path_id), None)
        if chosen is None:
            raise UsageError(f"{path_id} is not one of the recovery paths offered.")
        plan = chosen.plan or (PlannedPath(path_id),)
        return self.decide("recovery_path", path_id, alternatives=[o.path_id for o in options], reason=reason,
                           evidence=list(chosen.evidence), recommended=rec.recommended.path_id,
                           extra={"plan_of_action": [p.as_dict() for p in plan],
                                  "needs_backup_set": chosen.needs_backup_set})

    def plan_of_action(self) -> tuple[PlannedPath, ...]:
        """The journaled plan of action of the latest recovery-path decision (empty before it)."""
        for e in reversed(self.state.decisions):
            if e.payload.get("question") == "recovery_path":
                items = e.payload.get("plan_of_action") or [{"path": e.payload.get("choice")}]
                return tuple(PlannedPath(str(i["path"]), i.get("pool"), i.get("server"), i.get("cms_at"))
                             for i in items)
        return ()

    def needs_backup_set(self) -> bool:
        """Does any path of the plan of action restore from, or read, a backup set?"""
        from wizard.recovery_paths import get as get_path

        for e in reversed(self.state.decisions):
            if e.payload.get("question") == "recovery_path" and e.payload.get("needs_backup_set") is not None:
                return bool(e.payload["needs_backup_set"])
            if e.payload.get("question") == "recovery_path":
                break
        return any(get_path(p.path_id).restores_from_backup for p in self.plan_of_action())

    @property
    def backup_set(self) -> str | None:
        return self.state.backup_set

    @property
    def operator(self) -> str:
        return self.journal.operator

    def grant(self, step_id: str) -> StepGrant:
        """The typed confirmation and second operator journaled for ``step_id`` since it last ended;
        an operator who chose to run a step its pre-check found done is not offered the skip again."""
        confirmed, second, skip_done, manual = False, None, self.skip_done_work, False
        for e in self.entries:
            p = e.payload
            if e.kind == Kind.ACTION_FINISHED and p.get("step") == step_id:
                confirmed, second, skip_done, manual = False, None, self.skip_done_work, False
            elif e.kind == Kind.DECISION and p.get("question") == "manual_work" and \
                    p.get("choice") == f"done:{step_id}":
                manual = True
            elif e.kind == Kind.DECISION and p.get("question") == "confirm_step" and p.get("choice") == step_id:
                confirmed = True
                second = next((str(x).split("=", 1)[1] for x in p.get("evidence") or []
                               if str(x).startswith("second_operator=")), None)
            elif e.kind == Kind.DECISION and p.get("question") == "found_done" and p.get("choice") == f"run:{step_id}":
                skip_done = False
        return StepGrant(confirmed, second, skip_done, manual)

    def report_manual(self, step: StepView) -> Entry:
        """The operator says the step's work by hand is done (asked, never assumed: #16 item 4); the
        step's post-checks then prove it where they can."""
        how = " (a drill: the lab plays the hands)" if self.drill else ""
        return self.decide("manual_work", f"done:{step.step_id}", alternatives=[f"done:{step.step_id}", "not yet"],
                           reason=f"{self.journal.operator} says the {step.manual or 'manual'} work of "
                                  f"'{step.title}' is done{how}")

    def check_before(self, step: StepView) -> PreCheckView:
        """The step's "already done" pre-check, run BEFORE any confirmation is asked (#16: the
        operator typed the name, a colleague confirmed, then the step was skipped as done).
        Pre-flight comes first, so a procedure the servers cannot run stops before anyone is asked
        anything about its first step."""
        self._require_preflight()
        fn = getattr(self.backend, "precheck", None)
        return PreCheckView(step.step_id, None, "no pre-check") if fn is None else fn(self.loaded, step)

    def found_done(self, step: StepView, view: PreCheckView, choice: Literal["skip", "run"],
                   by_wizard: bool = False) -> None:
        """A pre-check found the work done: the step is closed as ``already_done`` (its own state,
        with the evidence) or, on the operator's word, run anyway. ``by_wizard``: nobody was asked
        (the operator had asked the wizard to run on through the steps); the decision says so."""
        who = ("the wizard (run on through the steps), not a person" if by_wizard
               else f"{self.journal.operator}")
        self.decide("found_done", f"{choice}:{step.step_id}",
                    alternatives=[f"skip:{step.step_id}", f"run:{step.step_id}"],
                    reason=f"the pre-check found the work done: {view.detail}; decided by {who}")
        if choice == "skip":
            self._append(Kind.ACTION_FINISHED, {"step": step.step_id, "status": "already_done", "exit_code": None,
                                                "duration_s": 0, "output_digest": "",
                                                "reason": f"work already done: {view.detail}"})

    def not_needed(self, step: StepView, view: PreCheckView) -> None:
        """The step's condition does not hold now (e.g. its server answers, so nothing to rebuild):
        the wizard closes it as skipped with the reason; nobody is asked to confirm anything."""
        self._append(Kind.ACTION_FINISHED, {"step": step.step_id, "status": "skipped", "exit_code": None,
                                            "duration_s": 0, "output_digest": "",
                                            "reason": f"not needed: {view.not_needed}"})

    def journal_decision(self, payload: Mapping[str, Any]) -> None:
        """A decision the procedure engine took while running a step (journaled as it is)."""
        self._append(Kind.DECISION, dict(payload))

    def precheck(self, step: StepView) -> PreCheckView:
        """Re-run the step's pre-check and journal what it says (DESIGN decision 3: before a step
        in doubt is offered again)."""
        fn = getattr(self.backend, "precheck", None)
        if fn is None:
            view = PreCheckView(step.step_id, None, "this backend has no pre-checks; check the step's effect by hand")
        else:
            view = fn(self.loaded, step)
        said = {True: "the work is already done", False: "the work is not done", None: "unknown"}[view.already_done]
        self.note(f"pre-check of {step.step_id} (in doubt): {said}; {view.detail}")
        return view

    def backup_sets(self) -> BackupChoice:
        return self.backend.backup_sets(self.loaded, self._path())

    def backup_set_events(self, cancel: threading.Event) -> Iterator[BackupEvent]:
        """The catalogue as it is read: :class:`SetsListed`, a :class:`SetIntegrity` per set
        checked, :class:`SetsSettled`. Checks cancelled by ``cancel`` are journaled (a note naming
        the sets checked and how many were not). A backend that cannot stream gives the settled
        choice alone."""
        if not isinstance(self.backend, CatalogueStreaming):
            yield SetsSettled(self.backend.backup_sets(self.loaded, self._path()))
            return
        checked: list[BackupSetView] = []
        for event in self.backend.backup_set_events(self.loaded, self._path(), cancel):
            if isinstance(event, SetIntegrity):
                checked.append(event.view)
            elif isinstance(event, SetsSettled) and event.cancelled:
                said = "; ".join(f"{v.name} {v.integrity}" + (f" ({v.detail})" if v.integrity == "bad" else "")
                                 for v in checked) or "none"
                unchecked = sum(s.integrity == "unchecked" for s in event.choice.sets)
                self.note(f"backup-set integrity checks cancelled by the operator: checked {said}; "
                          f"{unchecked} sets left unchecked")
            yield event

    def choose_backup_set(self, choice: BackupChoice, name: str, reason: str = "",
                          now: dt.datetime | None = None) -> Entry:
        chosen = next((s for s in choice.sets if s.name == name), None)
        if chosen is None:
            raise UsageError(f"{name} is not one of the backup sets found.")
        age = chosen.age_s(now or choice.judged_at())
        evidence = [f"taken_at={chosen.taken_at}", f"age_s={int(age)}", f"integrity={chosen.integrity}",
                    "complete" if chosen.complete else "missing " + ", ".join(chosen.missing)]
        return self.decide("backup_set", name, alternatives=[s.name for s in choice.sets], reason=reason,
                           evidence=evidence, recommended=choice.recommended)

    def compose(self) -> Sequence[StepView]:
        self._preflight_ok = False  # a new procedure: checked again before its first step
        return self.backend.compose(self.loaded, self._path(), self.state.backup_set)

    def preflight(self) -> PreflightView | None:
        """Check the composed procedure against the servers (journaled); None when the backend
        cannot (a scripted test backend)."""
        if not isinstance(self.backend, Preflighting):
            self._preflight_ok = True
            return None
        view = self.backend.preflight(self.loaded)
        self._append(Kind.PREFLIGHT, {"status": "ok" if view.ok else "failed", "findings": list(view.findings),
                                      "checked": list(view.checked), "unchecked": list(view.unchecked)})
        self._preflight_ok = view.ok
        return view

    def _require_preflight(self) -> None:
        """Run pre-flight until it finds nothing missing; PreflightFailed while it does."""
        if not self._preflight_ok:
            view = self.preflight()
            if view is not None and not view.ok:
                raise PreflightFailed(view.sentence())

    def run_step(self, step: StepView, cancel: threading.Event) -> Iterator[StepEvent]:
        """Run a step, journaling its start, output (batched) and end; yields its events. The first
        step of a procedure waits for a pre-flight that finds nothing missing (run again until it
        does: the operator fixes the server and runs the step again)."""
        self._require_preflight()
        attempt = (self.state.steps[step.step_id].attempts + 1) if step.step_id in self.state.steps else 1
        self._append(Kind.ACTION_STARTED, {"step": step.step_id, "host": step.host,
                                           "command": "\n".join(step.commands), "attempt": attempt})
        started = utcnow()
        lines: list[str] = []
        batch: list[str] = []
        status, exit_code = "failed", None
        reason: str | None = None  # why a step the backend skipped by itself was not run, or why it failed

        def flush() -> None:
            if batch:
                self._append(Kind.OUTPUT, {"step": step.step_id, "lines": list(batch)})
                batch.clear()

        try:
            for event in self.backend.run_step(self.loaded, step, cancel):
                if isinstance(event, OutputLine):
                    lines.append(event.text)
                    batch.append(event.text)
                    if len(batch) >= self.OUTPUT_BATCH:
                        flush()
                elif isinstance(event, StepDone):
                    status, exit_code = "done", event.exit_code
                elif isinstance(event, StepFailed):  # why it failed reaches the journal too (#19)
                    status, exit_code, reason = "failed", event.exit_code, event.message
                elif isinstance(event, StepSkipped):
                    status, exit_code, reason = event.status, None, event.reason
                yield event
                if cancel.is_set() and status not in ("done", "skipped", "already_done"):
                    status = "cancelled"
                    break
        except WizardError as err:
            flush()
            self._finish(step.step_id, "failed", None, started, lines)
            self.record_error(err)
            raise
        flush()
        self._finish(step.step_id, status, exit_code, started, lines, reason)

    def _finish(self, step_id: str, status: str, exit_code: int | None, started: dt.datetime,
                lines: Sequence[str], reason: str | None = None) -> None:
        duration = (utcnow() - started).total_seconds()
        payload = {"step": step_id, "status": status, "exit_code": exit_code,
                   "duration_s": round(duration, 3), "output_digest": _digest(lines)}
        if reason is not None:
            payload["reason"] = reason
        self._append(Kind.ACTION_FINISHED, payload)

    def skip_step(self, step: StepView, reason: str) -> None:
        if not reason.strip():
            raise UsageError(f"Skipping {step.step_id} needs a reason.")
        self.decide("skip_step", step.step_id, reason=reason, alternatives=["run", "skip", "done_by_hand"])
        self._append(Kind.ACTION_FINISHED, {"step": step.step_id, "status": "skipped", "exit_code": None,
                                            "duration_s": 0, "output_digest": ""})

    def done_by_hand(self, step: StepView, note: str) -> None:
        if not note.strip():
            raise UsageError(f"Marking {step.step_id} done by hand needs a note of what was done.")
        hands = getattr(self.backend, "by_hand", None)
        if hands is not None:  # a drill: the lab's hands do what the trainee says was done by hand
            hands(self.loaded, step)
        self.decide("done_by_hand", step.step_id, reason=note, alternatives=["run", "skip", "done_by_hand"])
        self._append(Kind.ACTION_FINISHED, {"step": step.step_id, "status": "done_by_hand", "exit_code": None,
                                            "duration_s": 0, "output_digest": ""})

    def confirm_destructive(self, step: StepView, typed: str, second_operator: str | None = None,
                            group: Sequence[StepView] = ()) -> Entry:
        """Journal the typed confirmation (and second operator) a destructive step needs.

        ``group``: the consecutive destructive steps on the same target that one confirmation
        listed with all their commands (``step`` first); each is journaled as confirmed by it."""
        steps = [step, *(g for g in group if g.step_id != step.step_id)]
        for s in steps:
            if not s.accepts(typed):
                raise UsageError(f"Type {s.confirmation} exactly to confirm step {s.step_id}.")
            if s.second_operator:
                other = (second_operator or "").strip()
                if not other or other == self.journal.operator:
                    raise UsageError(f"Step {s.step_id} needs a second operator other than {self.journal.operator}.")
        together = [f"one confirmation for: {', '.join(s.step_id for s in steps)}"] if len(steps) > 1 else []
        entry: Entry | None = None
        for s in steps:
            e = self.decide("confirm_step", s.step_id, reason=f"typed confirmation: {typed.strip()}",
                            evidence=([f"second_operator={second_operator}"] if second_operator else []) + together)
            entry = entry or e
        assert entry is not None
        return entry

    def verify(self) -> Iterator[CheckView]:
        """The §7 checks, each journaled as shown. A check only a person can make (Control Panel, a
        client sign-in) stays UNKNOWN until the operator confirms it (:meth:`confirm_check`)."""
        confirmed = self.confirmed_checks()
        for measured in self.backend.verify(self.loaded, self._path()):
            seen = measured.status == "unknown" and measured.check_id in confirmed
            check = replace(measured, status="ok", detail=confirmed[measured.check_id]) if seen else measured
            self._append(Kind.CHECK, {"check": check.check_id, "title": check.title, "status": check.status,
                                      "detail": check.detail})
            yield check

    def confirmed_checks(self) -> dict[str, str]:
        """Checks a person confirmed in this incident: check id -> what they said they saw."""
        return {str(d.payload["choice"]): str(d.payload.get("reason") or "") for d in self.state.decisions
                if d.payload.get("question") == "check_confirmed"}

    def confirm_check(self, check: CheckView, how: str = "") -> Entry:
        """The operator saw the check hold themself (a check no command can make, §7.2)."""
        said = how.strip() or f"{self.journal.operator} confirmed by hand: {check.title} ({check.healthy})"
        return self.decide("check_confirmed", check.check_id, reason=said)

    def _path(self) -> str:
        path = self.state.recovery_path
        if path is None:
            raise UsageError("No recovery path has been chosen yet; finish the assessment first.")
        return path
