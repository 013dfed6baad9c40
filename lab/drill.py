"""Drills: a lab scenario served on loopback, played through the same session and core as a real
incident, in the UI or headless.

:class:`LabDrill` starts a :class:`~lab.runtime.LabRuntime` for a scenario and wires a
:class:`~wizard.core_backend.CoreBackend` to it: credentials through a
:class:`~wizard.remote.credentials.CredentialStore` fed the lab's passwords as its environment,
drill isolation (any endpoint that is not loopback is refused, DESIGN decision 5), and the
trainee's hands for the manual steps the lab can play (a "prepare" step, §6.1: the lab rebuilds
the machine with the same FQDN; its runners are reopened on the new listener).

:func:`run_headless` plays a whole drill without Textual - assess, accept the recommendation,
pick the recommended set, compose, run every step (answers from a file, or the drill defaults:
confirm everything, second operator "drill-partner"), verify, close - printing one line per
event. Service is restored when the scenario's own scoring finds nothing wrong and every §7
check passed; the exit code says which.
"""

from __future__ import annotations

import argparse
import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from lab.defaults import DEFAULT_SCENARIO, DEFAULT_TIME_FACTOR
from lab.runtime import LabRuntime
from lab.scenarios import Scenario, scenario
from lab.scoring import DrillFacts
from lab.scoring import score as drill_score
from wizard.core_backend import BackendOptions, CoreBackend, check_isolation
from wizard.errors import ExitCode, UsageError, WizardError
from wizard.incident import (
    IncidentSession,
    OutputLine,
    Progress,
    StepDone,
    StepEvent,
    StepFailed,
    StepSkipped,
    StepStarted,
    StepView,
)
from wizard.journal import Entry
from wizard.plan import LoadedPlan, load_plan
from wizard.plan.model import Plan
from wizard.procedures.engine import AnswersFile, read_answers
from wizard.procedures.events import StepQuestion
from wizard.remote.credentials import CredentialStore
from wizard.report import score_lines

DRILL_PARTNER = "drill-partner"

#: What the trainee is told in a scenario's briefing (answers to the assessment's questions).
BRIEFINGS: dict[str, dict[str, str]] = {"bad-config-change": {"bad_change": "yes"}}


@dataclass(frozen=True)
class DrillAnswers:
    """The headless drill's answers: the engine's :class:`AnswersFile` plus the assessment's."""

    steps: AnswersFile
    assessment: Mapping[str, str] = field(default_factory=dict)
    #: a trainee's own choices (a headless drill that does not take the recommendation, #19):
    #: the recovery path and the backup set, each with the reason the wizard asks for
    path: str | None = None
    backup_set: str | None = None
    reason: str = "the trainee's own choice (answers file)"
    #: where the trainee asks for a hint: a stage (assessment, backup_set, verify) or a step id
    hints: tuple[str, ...] = ()

    @classmethod
    def defaults(cls, operator: str, scenario_name: str) -> DrillAnswers:
        return cls(AnswersFile(operator=operator, second_operator=DRILL_PARTNER, confirm_all=True),
                   dict(BRIEFINGS.get(scenario_name, {})))

    @classmethod
    def load(cls, path: str | Path, operator: str | None, scenario_name: str) -> DrillAnswers:
        """YAML/JSON: the keys of :class:`AnswersFile` plus ``assessment: {question id: yes|no}``."""
        p = Path(path)
        data = read_answers(p)
        assessment = data.pop("assessment", None) or dict(BRIEFINGS.get(scenario_name, {}))
        own = {k: data.pop(k) for k in ("path", "backup_set", "reason", "hints") if k in data}
        if operator and "operator" not in data:
            data["operator"] = operator
        data.setdefault("second_operator", DRILL_PARTNER)
        hints = own.get("hints") or []
        if not isinstance(hints, list) or not all(isinstance(h, str) for h in hints):
            raise UsageError(f"{p}: hints must be a list of stages or step ids.")
        return cls(AnswersFile.from_mapping(data, where=str(p)), {str(k): str(v) for k, v in assessment.items()},
                   path=str(own["path"]) if own.get("path") else None,
                   backup_set=str(own["backup_set"]) if own.get("backup_set") else None,
                   reason=str(own.get("reason") or cls.reason), hints=tuple(hints))


class DrillBackend(CoreBackend):
    """The core, plus what only a drill has: a score from the journal as the incident closes, and
    hints pointing the trainee to the § to read (#19 items 1 and 3)."""

    def __init__(self, options: BackendOptions, drill: DrillWiring) -> None:
        super().__init__(options)
        self.drill = drill

    def score(self, loaded: LoadedPlan, entries: Sequence[Entry], outcome: str) -> Mapping[str, Any]:
        plan = loaded.plan
        sc = self.drill.scenario
        busy, work = self.drill.work()
        facts = DrillFacts(sc.name, sc.expected_plan, sc.expected_set, self.composed, plan.objectives.rto.seconds,
                           plan.objectives.rpo.seconds, busy, work, tuple(self.drill.problems()),
                           dict(getattr(sc, "weights", None) or {}), sc.outage_class)
        return drill_score(entries, facts)

    def hint(self, loaded: LoadedPlan, stage: str, step_id: str | None) -> str:
        sc = self.drill.scenario
        if stage == "restore" and step_id is not None:
            view = next((v for v in self.composed if v.step_id == step_id), None)
            if view is not None:
                extra = (f" It is destructive: you will type {view.confirmation}." if view.destructive else "")
                return f"Read §{view.section} for {view.title}: {view.why}{extra}"
        if stage in ("start", "assessment"):
            sections = ", ".join(f"§{s}" for s in sc.expected_path)
            return (f"Read §5.3 (the outage taxonomy) and §5.1 (the governing rules: troubleshoot first, a paired "
                    f"pool fails over); this outage is treated in {sections}.")
        if stage == "backup_set":
            return ("Read §3: restore from the newest set that holds everything the path needs, read from a "
                    "location outside the site that failed; an older set loses more data.")
        if stage == "verify":
            return "Read §7.2: each check's healthy output; a check only you can make waits for you to say you saw it."
        return "Read §6: the steps of the chosen path, in the documented order."


class DrillWiring:
    """What every drill shares, wherever its lab runs: the core wired to the lab
    (:class:`~wizard.core_backend.CoreBackend`, loopback only), the lab's plan as it is now (a
    rebuilt host listens on a new port), the trainee's hands. Subclasses say where the lab is:
    :class:`LabDrill` in this process, :class:`lab.attach.KeptDrill` in a keeper process."""

    def __init__(self, name: str, *, time_factor: float, answers: AnswersFile | None) -> None:
        try:
            # a built-in drill or an instructor's (lab.scenarios.scenario_dirs)
            self.scenario: Scenario = scenario(name)
            if not self.scenario.drill:
                raise KeyError(name)  # the calm lab is no drill: nothing to recover
        except KeyError:
            raise UsageError(f"There is no drill scenario '{name}' (see 'lync-restore scenarios').") from None
        self.answers = answers or AnswersFile(operator="trainee", second_operator=DRILL_PARTNER, confirm_all=True)
        self.time_factor = time_factor
        self._plan: Plan | None = None
        self.loaded: LoadedPlan | None = None
        self._backend: CoreBackend | None = None

    def _options(self, plan: Plan, passwords: Mapping[str, str], now: Callable[[], dt.datetime]) -> BackendOptions:
        """The backend's options: the lab's passwords as the environment the plan names
        (``passwords``: ``winrm`` and ``sql``; a mapping read when a credential is first needed)."""
        return BackendOptions(CredentialStore(plan, env=_LabEnv(plan, passwords)), loopback_only=True,
                              hands=self.hands, now=now, plan=self.plan,
                              wait_scale=min(1.0, 6.0 / self.time_factor))

    @property
    def backend(self) -> CoreBackend:
        """The core wired to the lab (after :meth:`start`)."""
        if self._backend is None:
            raise UsageError("The drill has not started.")
        return self._backend

    def plan(self) -> Plan:
        """The drill plan as the lab last wrote it (a rebuilt host listens on a new port)."""
        if self._plan is None:
            raise UsageError("The drill has not started.")
        return self._plan

    def _perform_manual(self, step_id: str, prompt: str) -> str | None:
        raise NotImplementedError

    def _live_plan(self) -> Path:
        raise NotImplementedError

    def _reload_plan(self) -> None:
        """Read the lab's plan copy again; the runners of a host whose listener moved are dropped."""
        before = self._endpoints() if self._plan is not None else {}
        plan = load_plan(self._live_plan()).plan
        check_isolation(plan)
        self._plan = plan
        after = self._endpoints()
        if self._backend is not None and self._backend.runners is not None:
            for host in before.keys() | after.keys():
                if before.get(host) != after.get(host):
                    self._backend.runners.forget(host)

    def hands(self, q: StepQuestion) -> str:
        """The trainee's hands for a manual step: the lab does what the real tool would
        (:meth:`lab.runtime.LabRuntime.perform_manual`: §6.1 rebuilds, the Deployment
        Wizard, Topology Builder...), then the answers file answers the question. A host whose
        listener moved (a rebuilt machine) gets fresh runners."""
        if q.kind == "manual" and self._perform_manual(q.step_id, q.prompt) is not None:
            self._reload_plan()
        return self.answers.answer(q)

    def _endpoints(self) -> dict[str, object]:
        return {h.lower(): hc for h, hc in self.plan().connections.hosts.items()}

    def now(self) -> dt.datetime:
        """The lab's clock, as an aware UTC time."""
        raise NotImplementedError

    def problems(self) -> list[str]:
        """The scenario's own scoring: empty when service is restored."""
        raise NotImplementedError

    def work(self) -> tuple[float, float]:
        """(real seconds the lab's operations waited, what they would have taken for real)."""
        raise NotImplementedError


class _LabEnv(Mapping[str, str]):
    """The environment a lab plan's credentials name (``env`` sources), filled with the lab's
    passwords: WinRM for a ``winrm`` credential, SQL for a ``sql`` one."""

    def __init__(self, plan: Plan, passwords: Mapping[str, str]) -> None:
        self._names = {e.env: e.kind for e in plan.credentials.entries if e.source == "env" and e.env}
        self._passwords = passwords

    def __getitem__(self, name: str) -> str:
        kind = self._names[name]
        return self._passwords["sql" if kind == "sql" else "winrm"]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class LabDrill(DrillWiring):
    """A scenario on loopback in this process and the core wired to it (``drill --headless``,
    tests). Use ``with LabDrill(...) as drill:``."""

    def __init__(self, name: str = DEFAULT_SCENARIO, *, time_factor: float = DEFAULT_TIME_FACTOR,
                 answers: AnswersFile | None = None, state_dir: Path | None = None,
                 auth: str | None = None) -> None:
        super().__init__(name, time_factor=time_factor, answers=answers)
        self.lab = LabRuntime(self.scenario, time_factor=time_factor, state_dir=state_dir, client_auth=auth)

    def __enter__(self) -> LabDrill:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> LabDrill:
        self.lab.start()
        try:
            loaded = self.loaded = load_plan(self.lab.plan_path)
            check_isolation(loaded.plan)
            self._plan = loaded.plan
            passwords = {"winrm": self.lab.win_password, "sql": self.lab.sql_password}
            self._backend = DrillBackend(self._options(loaded.plan, passwords, self.lab.clock.now), self)
        except BaseException:
            self.lab.stop()
            raise
        return self

    def stop(self) -> None:
        if self._backend is not None:
            self._backend.close()
        self.lab.stop()

    def _perform_manual(self, step_id: str, prompt: str) -> str | None:
        return self.lab.perform_manual(step_id, prompt)

    def _live_plan(self) -> Path:
        return self.lab.plan_path

    def now(self) -> dt.datetime:
        """The lab's clock, as an aware UTC time."""
        now = self.lab.clock.now()
        return now if now.tzinfo else now.replace(tzinfo=dt.UTC)

    def problems(self) -> list[str]:
        """The scenario's own scoring: empty when service is restored."""
        return self.scenario.service_restored(self.lab.dep)

    def work(self) -> tuple[float, float]:
        return self.lab.clock.busy_real_s(), self.lab.clock.work_s()


# ------------------------------------------------------------------------------ headless


def _line(event: StepEvent) -> str:
    if isinstance(event, StepStarted):
        return f"step {event.step_id} started on {event.host}"
    if isinstance(event, OutputLine):
        return f"  {event.step_id}: {event.text}"
    if isinstance(event, Progress):
        return f"  {event.step_id}: {event.percent:.0f}%"
    if isinstance(event, StepDone):
        return f"step {event.step_id} done"
    if isinstance(event, StepSkipped):
        return f"step {event.step_id} skipped: {event.reason}"
    return f"step {event.step_id} FAILED: {event.message}"


@dataclass
class DrillResult:
    restored: bool
    folder: Path
    failed_step: str | None = None
    failed_checks: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


def play(session: IncidentSession, drill: LabDrill, answers: DrillAnswers, out: TextIO) -> DrillResult:
    """One drill, start to close, through the session (every decision journaled first)."""

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    cancel = threading.Event()
    session.change_stage("assessment")
    probes = []
    for r in session.probe(cancel):
        probes.append(r)
        say(f"probe {r.host} {r.check}: {r.status}" + (f" ({r.detail})" if r.status != "ok" else ""))
    given: dict[str, str] = {}
    for q in session.questions():
        picked = answers.assessment.get(q.id, "unknown")
        session.answer(q, picked)
        given[q.id] = picked
        say(f"question {q.id}: {picked}")
    _hint(session, answers, "assessment", say)
    rec = session.recommend(probes, given)
    chosen = rec.recommended
    say(f"recommended {chosen.path_id}: {chosen.reason}")
    for ev in chosen.evidence:
        say(f"  evidence: {ev}")
    if answers.path and answers.path != chosen.path_id:
        other = next((o for o in rec.alternatives if o.path_id == answers.path), None)
        if other is None:
            offered = ", ".join(o.path_id for o in rec.alternatives) or "none"
            raise UsageError(f"The answers file chooses {answers.path}, which is not one of the paths offered "
                             f"(recommended {chosen.path_id}; alternatives: {offered}).")
        chosen = other
        say(f"the trainee chose {chosen.path_id} instead")
    say("plan of action: " + ", ".join(f"{p.path_id}({p.pool or p.server or '-'})" for p in chosen.plan))
    session.choose_path(rec, chosen.path_id, "" if chosen is rec.recommended else answers.reason)
    if session.needs_backup_set():
        session.change_stage("backup_set")
        try:
            choice = session.backup_sets()
        except WizardError as exc:  # no location can be read (the second hop, a share gone): stop here
            say(f"catalogue FAILED: {exc.message}")
            _close(session, "stopped: no backup location could be read", say)
            return DrillResult(False, session.journal.path, problems=tuple(drill.problems()))
        for s in choice.sets:
            say(f"backup set {s.name}: complete={s.complete} integrity={s.integrity}")
        say(f"catalogue: {choice.reason}")
        if choice.recommended is None:
            _close(session, "no usable backup set", say)
            return DrillResult(False, session.journal.path, problems=tuple(drill.problems()))
        _hint(session, answers, "backup_set", say)
        picked = answers.backup_set or choice.recommended
        session.choose_backup_set(choice, picked, "" if picked == choice.recommended else answers.reason,
                                  now=drill.now())
        say(f"backup set chosen: {picked}")
    session.change_stage("restore")
    steps = list(session.compose())
    say(f"composed {len(steps)} steps: " + ", ".join(s.step_id for s in steps))
    for step in steps:
        _hint(session, answers, step.step_id, say, step=step.step_id)
    failed = _run_steps(session, steps, answers.steps, cancel, say)
    if failed is not None:
        _close(session, f"stopped: step {failed} failed", say)
        return DrillResult(False, session.journal.path, failed, problems=tuple(drill.problems()))
    session.change_stage("verify")
    _hint(session, answers, "verify", say)
    bad: list[str] = []
    for check in session.verify():
        say(f"check {check.check_id}: {check.status}" + (f" ({check.detail})" if check.status != "ok" else ""))
        if check.status == "unknown" and answers.steps.confirm_all:  # a person's check: the answers file says
            session.confirm_check(check, f"confirmed by the answers file of a headless drill: {check.title}")
            say(f"check {check.check_id}: confirmed by the answers file")
        elif check.status != "ok":
            bad.append(check.check_id)
    problems = tuple(drill.problems())
    for p in problems:
        say(f"lab: {p}")
    restored = not bad and not problems
    session.change_stage("summary")
    _close(session, "service restored" if restored else "verification failed", say)
    say("service restored" if restored else "service NOT restored")
    return DrillResult(restored, session.journal.path, None, tuple(bad), problems)


def _hint(session: IncidentSession, answers: DrillAnswers, where: str, say: Callable[[str], None],
          step: str | None = None) -> None:
    """The answers file asks for a hint here: journaled, it costs points (#19 item 3)."""
    if where in answers.hints and session.can_hint:
        say(f"hint: {session.hint(step)}")


def _close(session: IncidentSession, outcome: str, say: Callable[[str], None]) -> None:
    """Close the drill: it is scored first (journaled, ``score.md`` beside the journal)."""
    session.close(outcome)
    if session.score is not None:
        for line in score_lines(session.score):
            say(line)


def _run_steps(session: IncidentSession, steps: list[StepView], answers: AnswersFile,
               cancel: threading.Event, say: Callable[[str], None]) -> str | None:
    for step in steps:
        own = answers.steps.get(step.step_id, {})
        if step.step_id in answers.skip or own.get("run") == "skip":
            session.skip_step(step, "skipped as the answers file says")
            say(f"step {step.step_id} skipped by the answers file")
            continue
        if step.destructive:
            # the answers file types the confirmation as an operator would: its own text for this
            # step if it gives one (a wrong one is refused), else, with confirm_all, the expected one
            typed = own.get("confirm") or (step.confirmation if answers.confirm_all else None)
            if typed is not None:
                second = own.get("second_operator", answers.second_operator) if step.second_operator else None
                session.confirm_destructive(step, typed, second)
        status = "failed"
        try:
            for event in session.run_step(step, cancel):
                say(_line(event))
                if isinstance(event, (StepDone, StepSkipped)):
                    status = "ok"
                elif isinstance(event, StepFailed):
                    status = "failed"
        except WizardError as exc:  # refused before it ran (pre-flight) or a transport failure
            say(f"step {step.step_id} FAILED: {exc.message}")  # journaled by the session already
        if status != "ok":
            return step.step_id
    return None


def run_headless(name: str, *, answers_file: str | None, journal_dir: Path, time_factor: float,
                 operator: str | None, out: TextIO, auth: str | None = None, hidden: bool = False) -> DrillResult:
    operator = operator or "trainee"
    answers = (DrillAnswers.load(answers_file, operator, name) if answers_file
               else DrillAnswers.defaults(operator, name))
    with LabDrill(name, time_factor=time_factor, answers=answers.steps, auth=auth) as drill:
        assert drill.loaded is not None
        stamp = f"{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S-%f}"
        incident = f"RND-{stamp}" if hidden else f"DRILL-{name}-{stamp}"  # a random drill's name stays hidden
        session = IncidentSession.start(drill.lab.plan_path, operator=answers.steps.operator, incident=incident,
                                        mode="drill", journal_dir=journal_dir, backend=drill.backend,
                                        loaded=drill.loaded)
        said = "a random scenario (revealed with the score)" if hidden else f"{name}: {drill.scenario.summary}"
        print(f"drill {said} (journal {session.journal.path})", file=out, flush=True)
        try:
            result = play(session, drill, answers, out)
            if hidden:
                print(f"the scenario was {name}: {drill.scenario.summary}", file=out, flush=True)
            return result
        except BaseException:
            session.detach()
            raise


def headless_command(args: argparse.Namespace, journal_dir: Path, out: TextIO, *, hidden: bool = False) -> int:
    result = run_headless(args.scenario or DEFAULT_SCENARIO, answers_file=getattr(args, "answers", None),
                          journal_dir=journal_dir, time_factor=args.time_factor or DEFAULT_TIME_FACTOR,
                          operator=getattr(args, "operator", None), out=out, auth=getattr(args, "auth", None),
                          hidden=hidden)
    return ExitCode.OK if result.restored else 1
