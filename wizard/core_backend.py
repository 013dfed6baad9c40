"""The real core behind :class:`wizard.incident.Backend`: assessment, catalogue, procedures, §7.

:mod:`wizard.incident` defines the port and the view dataclasses the screens show; this module
fills them from the real modules: probes (:mod:`wizard.assess`) streamed as health-matrix cells,
the classifier's questions and recommendation (with its *plan of action*: every failure's path
and target in working order, e.g. cms-failover then pool-failover), the catalogue
(:mod:`wizard.catalog`, .bak files verified through the SQL runner), the procedure library
(one :func:`~wizard.procedures.compose.compose` per path of the plan of action, in order) and the
headless engine, which runs ONE step at a time here (the other steps are handed to it as
finished, so pre-checks, confirmations and post-checks are the engine's own machinery).

The backend reads what the session decided (plan of action, backup set, typed confirmations)
through :class:`SessionContext`, which :class:`wizard.incident.IncidentSession` implements and
attaches when it opens. Runners come from the plan's endpoints and a
:class:`~wizard.remote.credentials.CredentialStore`; a drill adds a guard that refuses any
endpoint that is not loopback (DESIGN decision 5) and the trainee's hands for manual steps.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, cast

from wizard import recovery_paths
from wizard.assess import classify as assess_classify
from wizard.assess.events import AssessmentFinished, ProbeFinished, ProbeResult
from wizard.assess.findings import build_findings, unreachable_from_here
from wizard.assess.probes import ProbeTimeouts, plan_probes
from wizard.assess.recommend import Consequence
from wizard.assess.recommend import recommend as assess_recommend
from wizard.assess.runner import ProbeRunner, workers_for
from wizard.assess.transports import RealTransports
from wizard.catalog.components import scan_set
from wizard.catalog.discover import Listing, list_store_sets, local_root, merge_listings
from wizard.catalog.integrity import SqlBakVerifier
from wizard.catalog.recommend import SetExamined, SetVerdict, examine, overview
from wizard.errors import RemoteError, UsageError, WizardError
from wizard.incident import (
    BackupChoice,
    BackupEvent,
    BackupSetView,
    CheckView,
    Health,
    OperatorQuestion,
    PathChoice,
    PathOption,
    PlannedPath,
    PreCheckView,
    PreflightView,
    ProbeView,
    SetIntegrity,
    SetsListed,
    SetsSettled,
    StepGrant,
    StepView,
)
from wizard.plan import LoadedPlan
from wizard.plan.model import BackupLocation, Plan
from wizard.preflight import commands_used, denied_shares, preflight_command, shares_used
from wizard.preflight import findings as preflight_findings
from wizard.procedures import engine as eng
from wizard.procedures.compose import Procedure, cms_after, compose
from wizard.procedures.events import (
    CheckResult,
    EngineEvent,
    OutputLine,
    Progress,
    StepDone,
    StepEvent,
    StepFailed,
    StepQuestion,
    StepSkipped,
    StepStarted,
)
from wizard.procedures.library.data import sql_literal
from wizard.procedures.model import Check, PsCommand, Step, evaluate
from wizard.remote import psbuild
from wizard.remote.backup_store import (
    BackupStore,
    LocalBackupStore,
    RemoteBackupStore,
    SecondHopDenied,
    runner_stdout,
)
from wizard.remote.credentials import CredentialStore
from wizard.remote.endpoints import server_sql_endpoint, sql_endpoint, winrm_endpoint
from wizard.remote.secondhop import hops_sentence
from wizard.remote.sql import SqlRunner, quote_identifier
from wizard.remote.sqlerrors import SqlServerError, SqlTimeoutError, SqlUnreachableError
from wizard.remote.winrm import PowerShellRunner

ANSWER_CHOICES = ("unknown", "yes", "no")  # Enter on the first keeps "unknown" (no assumption)


class UnreachableFromHere(RemoteError):
    """The machine running the wizard sees (almost) none of the deployment: its VPN or DNS, not an
    outage; nothing is recommended that would change production."""

    title = "Unreachable from here"


class DrillIsolationError(RemoteError):
    """A drill was about to reach something that is not this machine (DESIGN decision 5)."""

    title = "Drill isolation"


def check_isolation(plan: Plan) -> None:
    """A drill reaches this machine only (DESIGN decision 5): every address the plan gives must be
    loopback. Called before anything is resolved or connected, whichever command starts the
    drill; a host without an address is then refused by :class:`IsolatedTransports` and
    :class:`PlanRunners` (no DNS look-up), as a lost host would be."""
    for name, hc in plan.connections.hosts.items():
        if hc.address is not None and not is_loopback(hc.address):
            raise DrillIsolationError(f"The drill plan points {name} at {hc.address}, which is not loopback; "
                                      "a drill never leaves this machine.")


class SessionContext(Protocol):
    """What the backend reads from the incident session (journal-first decisions)."""

    def plan_of_action(self) -> tuple[PlannedPath, ...]: ...

    def grant(self, step_id: str) -> StepGrant: ...

    def journal_decision(self, payload: Mapping[str, Any]) -> None: ...


#: Plays a manual step in a drill (the trainee's hands); returns "done" or "failed".
Hands = Callable[[StepQuestion], str]


# ------------------------------------------------------------------------------ endpoints


def is_loopback(address: str | None) -> bool:
    if not address:
        return False
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class PlanRunners:
    """:class:`wizard.procedures.engine.Runners` over the plan's endpoints and credentials.

    ``plan`` is a callable so a drill can hand in the lab's rewritten plan after a rebuild (a
    rebuilt host listens on a new loopback port); :meth:`forget` drops a host's runner."""

    def __init__(self, plan: Callable[[], Plan], credentials: CredentialStore, *,
                 loopback_only: bool = False) -> None:
        self._plan = plan
        self.credentials = credentials
        self.loopback_only = loopback_only
        self._lock = threading.Lock()
        self._ps: dict[str, PowerShellRunner] = {}
        self._sql: dict[str, SqlRunner] = {}

    def _guard(self, what: str, address: str | None) -> None:
        if self.loopback_only and not is_loopback(address):
            raise DrillIsolationError(f"{what} has no loopback endpoint, and a drill reaches loopback only.")

    def powershell(self, host: str) -> PowerShellRunner:
        key = host.lower()
        with self._lock:
            if key in self._ps:
                return self._ps[key]
        endpoint = winrm_endpoint(self._plan(), host)
        self._guard(f"WinRM on {host}", endpoint.address or endpoint.host)
        cred = self.credentials.for_host(host)
        runner = PowerShellRunner(endpoint, cred.username, cred.password.reveal())
        with self._lock:
            return self._ps.setdefault(key, runner)

    def sql(self, server: str, instance: str | None) -> SqlRunner:
        key = f"{server}\\{instance}".lower() if instance else server.lower()
        with self._lock:
            if key in self._sql:
                return self._sql[key]
        sql_id, endpoint = server_sql_endpoint(self._plan(), server, instance, 30)
        self._guard(f"SQL Server {endpoint.display}", endpoint.address or endpoint.server)
        cred = self.credentials.for_sql(sql_id)
        runner = SqlRunner(endpoint, cred.username, cred.password.reveal())
        with self._lock:
            return self._sql.setdefault(key, runner)

    def forget(self, host: str) -> None:
        """Drop the runners of ``host`` (it was rebuilt); the next use opens new ones."""
        with self._lock:
            ps = self._ps.pop(host.lower(), None)
            sqls = [k for k in self._sql if k.split("\\")[0] == host.lower()]
            sql = [self._sql.pop(k) for k in sqls]
        for r in ([ps] if ps else []):
            _quiet_close(r.close)
        for s in sql:
            _quiet_close(s.close)

    def close(self) -> None:
        with self._lock:
            ps, sql = list(self._ps.values()), list(self._sql.values())
            self._ps.clear()
            self._sql.clear()
        for r in ps:
            _quiet_close(r.close)
        for s in sql:
            _quiet_close(s.close)


def _quiet_close(close: Callable[[], None]) -> None:
    try:
        close()
    except WizardError:  # closing a shell on a host that went away: nothing left to release
        return


class IsolatedTransports(RealTransports):
    """Assessment transports for a drill: DNS is never consulted and only loopback is reached."""

    def resolve(self, host: str, timeout_s: float) -> list[str]:
        raise OSError(f"{host} has no loopback address in the drill plan (drill isolation: no DNS)")

    def tcp_connect(self, address: str, port: int, timeout_s: float) -> None:
        if not is_loopback(address):
            raise OSError(f"{address} is not loopback (drill isolation)")
        super().tcp_connect(address, port, timeout_s)

    def powershell(self, host: str, timeout_s: float) -> Any:
        ep = winrm_endpoint(self.plan, host)
        if not is_loopback(ep.address):
            raise DrillIsolationError(f"WinRM on {host} has no loopback endpoint, and a drill reaches loopback only.")
        return super().powershell(host, timeout_s)

    def sql(self, sql_id: str, timeout_s: float) -> Any:
        ep = sql_endpoint(self.plan, sql_id, timeout_s)
        if not is_loopback(ep.address):
            raise DrillIsolationError(f"SQL Server {ep.display} has no loopback endpoint, and a drill reaches "
                                      "loopback only.")
        return super().sql(sql_id, timeout_s)


# ------------------------------------------------------------------------------ helpers


def needs_backup_set(path_id: str) -> bool:
    """A path restores from backup, or takes a component from one (LIS and RGS exports after a
    pool failover, §6.16 steps 4-5)."""
    p = recovery_paths.get(path_id)
    return p.restores_from_backup or bool(p.components)


_STATUS: dict[str, Health] = {"ok": "ok", "failed": "fail", "timeout": "fail", "error": "warn", "skipped": "unknown"}


def probe_view(r: ProbeResult) -> ProbeView:
    """One health-matrix cell from a probe result (check = the probe id's prefix)."""
    return ProbeView(r.subject, r.probe_id.split(":")[0], _STATUS.get(r.status, "unknown"), r.summary)


def _where_cms_is(plan: Plan, order: Sequence[PlannedPath], cms_now: str | None) -> tuple[PlannedPath, ...]:
    """The plan of action with where the CMS is when each path starts: where the assessment saw
    its master, then wherever an earlier path moves it (:func:`cms_after`)."""
    out, cms_at = [], cms_now
    for p in order:
        out.append(replace(p, cms_at=cms_at))
        cms_at = cms_after(plan, p.path_id, p.pool, cms_at)
    return tuple(out)


def _failed_site(plan: Plan, paths: Sequence[PlannedPath]) -> str | None:
    """The site the first path needing a backup set acts on (its server's, else its pool's)."""
    for p in paths:
        if p.server:
            return plan.site_of_host(p.server)
        if p.pool:
            return plan.pool(p.pool).site
    return None


def target_of(plan: Plan, subject: str) -> tuple[str | None, str | None]:
    """(pool, server) a failure's subject means for composition."""
    s = subject.lower()
    for pool in plan.topology.pools:
        if pool.fqdn.lower() == s:
            return pool.fqdn, None
    for pool in plan.topology.pools:
        if s in (x.lower() for x in pool.servers):
            return None, subject
    for pool in plan.topology.pools:
        stores = (pool.file_store, pool.monitoring_store, pool.archiving_store, pool.persistent_chat_store)
        if subject in stores and (pool.role != "edge"):
            if subject == pool.persistent_chat_store or pool.role == "front_end":
                return pool.fqdn, None
    return None, None


def _option(plan: Plan, c: Consequence, reason: str, evidence: Sequence[str],
            plan_of_action: tuple[PlannedPath, ...]) -> PathOption:
    return PathOption(c.path, c.title, reason, tuple(evidence), f"RTO {c.rto}", f"RPO {c.rpo}", plan_of_action,
                      any(needs_backup_set(p.path_id) for p in plan_of_action))


def short_names(plan: Plan) -> dict[str, str]:
    """FQDN (lower case) -> its first label, for every name of the topology whose first label no
    other name shares: what a confirmation asks the operator to type (``se01`` for
    ``se01.fabrikam.lab``; the full name is accepted too)."""
    t = plan.topology
    names = {n.lower() for n in [*(p.fqdn for p in t.pools), *plan.all_servers(),
                                 *(q.server for q in t.sql_instances), *(f.server for f in t.file_stores)]}
    labels: dict[str, list[str]] = {}
    for n in names:
        labels.setdefault(n.split(".", 1)[0], []).append(n)
    return {full[0]: label for label, full in labels.items() if len(full) == 1 and "." in full[0]}


def step_view(step: Step, short: Mapping[str, str] | None = None) -> StepView:
    typed, full = step.confirm_text, None
    if typed and short and typed.lower() in short:
        typed, full = short[typed.lower()], typed
    return StepView(step.id, step.title, step.why, step.section, step.shown_host, step.shown_lines(),
                    destructive=step.destructive, second_operator=step.second_operator, estimate_s=step.duration_s,
                    confirm_text=typed, manual=step.manual.tool if step.manual else None, confirm_full=full)


def _set_view(v: SetVerdict) -> BackupSetView:
    integrity = "unchecked" if v.integrity is None else ("ok" if v.integrity.intact else "bad")
    created = v.created if v.created.tzinfo else v.created.replace(tzinfo=dt.UTC)
    detail = "; ".join(v.reasons) if v.reasons else ("usable" if v.usable else "")
    return BackupSetView(v.name, created.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"), not v.missing,
                         tuple(r.component if hasattr(r, "component") else str(r) for r in v.missing),
                         integrity, detail)  # type: ignore[arg-type]


class _StepAnswers:
    """Answers the engine's questions for one step from what the session already granted."""

    def __init__(self, step: Step, grant: StepGrant, hands: Hands | None) -> None:
        self.step, self.grant, self.hands = step, grant, hands

    def answer(self, q: StepQuestion) -> str:
        if q.kind == "proceed":
            return "run"
        if q.kind == "skip_done":
            return "skip" if self.grant.skip_done_work else "run"
        if q.kind == "confirm":
            return (q.expected or "") if self.grant.confirmed else ""
        if q.kind == "second_operator":
            return self.grant.second_operator or ""
        # manual: in a drill the trainee's hands play it; live, only what the operator said is done
        if self.hands is not None:
            return self.hands(q)
        return "done" if self.grant.manual_done else ""


#: the engine's answers that only apply what a person already said (journaled by the session
#: before the step started: ``confirm_step``, ``manual_work``): journaling them again, after the
#: step's start, would read as a second confirmation nobody gave (#16 item 12)
_ECHOES = {"confirm": "confirmed", "manual": "done"}


class _DecisionsOnly:
    """The engine's journal port: its decisions go to the session's journal (actions are the
    session's own entries), marked as the wizard's; echoes of a person's grant are left out."""

    def __init__(self, ctx: SessionContext | None) -> None:
        self.ctx = ctx

    def append(self, kind: str, payload: Mapping[str, Any] | None = None) -> object:
        if self.ctx is None or kind != "decision" or payload is None:
            return None
        question, choice = payload.get("question"), payload.get("choice")
        if _ECHOES.get(str(question)) == choice or (question == "second_operator" and choice != "missing"):
            return None
        self.ctx.journal_decision({**payload, "by": "wizard"})
        return None


# ------------------------------------------------------------------------------ the backend


@dataclass
class BackendOptions:
    """How a backend reaches the deployment."""

    credentials: CredentialStore
    loopback_only: bool = False  # drill isolation
    hands: Hands | None = None  # drill: the trainee's hands for manual steps
    backup_root: Callable[[BackupLocation], Path] | None = None  # override: a local copy of the sets
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    plan: Callable[[], Plan] | None = None  # current plan (a drill rewrites endpoints on rebuild)
    probe_workers: int | None = None  # None: sized to the estate (assess.runner.workers_for)
    timeouts: ProbeTimeouts = field(default_factory=lambda: ProbeTimeouts(session=15, sql=10, deployment=15))
    wait_scale: float = 1.0  # engine polling scale (drills at a high lab time factor use less)


class CoreBackend:
    """The real core (see the module docstring). One backend serves one session at a time."""

    def __init__(self, options: BackendOptions) -> None:
        self.options = options
        self.ctx: SessionContext | None = None
        self._plan_fn: Callable[[], Plan] | None = options.plan
        self.runners: PlanRunners | None = None
        self._raw: list[ProbeResult] = []
        self._procedures: list[Procedure] = []
        self._where: dict[str, int] = {}  # step id -> index of its procedure
        self._composed_for: tuple[tuple[PlannedPath, ...], str | None] | None = None
        #: the steps of the last composition, in the documented order (a drill scores against it)
        self.composed: tuple[StepView, ...] = ()

    # ------------------------------------------------------------------ wiring
    def attach(self, ctx: SessionContext) -> None:
        self.ctx = ctx

    def _plan(self, loaded: LoadedPlan) -> Plan:
        return self._plan_fn() if self._plan_fn is not None else loaded.plan

    def _runners(self, loaded: LoadedPlan) -> PlanRunners:
        if self.runners is None:
            plan_fn = self._plan_fn or (lambda: loaded.plan)
            self.runners = PlanRunners(plan_fn, self.options.credentials, loopback_only=self.options.loopback_only)
        return self.runners

    def close(self) -> None:
        if self.runners is not None:
            self.runners.close()

    # ------------------------------------------------------------------ assessment
    def probe(self, loaded: LoadedPlan, cancel: threading.Event) -> Iterator[ProbeView]:
        plan = self._plan(loaded)
        cls = IsolatedTransports if self.options.loopback_only else RealTransports
        self.options.credentials.forget_refusals()  # each probe run asks once for a declined credential
        transports = cls(plan, self.options.credentials)
        self._raw = []
        try:
            probes = plan_probes(plan, transports, self.options.timeouts)
            workers = self.options.probe_workers or workers_for(probes)
            for event in ProbeRunner(workers).run(probes, cancel=cancel):
                if isinstance(event, ProbeFinished):
                    yield probe_view(event.result)
                elif isinstance(event, AssessmentFinished):
                    self._raw = list(event.results)
        finally:
            transports.close()

    def questions(self, loaded: LoadedPlan) -> Sequence[OperatorQuestion]:
        """The §5 questions; once the probes have answered, those whose answer cannot change the
        recommendation for what they found are marked not to be asked."""
        if not self._raw:
            return tuple(OperatorQuestion(q.id, q.text, ANSWER_CHOICES) for q in assess_classify.QUESTIONS)
        plan = self._plan(loaded)
        findings = build_findings(plan, self._raw)
        if unreachable_from_here(findings) is not None:  # nothing to ask about: the jump host sees nothing
            return tuple(OperatorQuestion(q.id, q.text, ANSWER_CHOICES, asked=False,
                                          why_not="the hosts are unreachable from here")
                         for q in assess_classify.QUESTIONS)
        def decided(failures: list[assess_classify.Failure], answers: assess_classify.Answers) -> object:
            rec = assess_recommend(plan, failures, answers)  # what it decides, not the answers it echoes
            return rec.path, [(s.failure, s.consequence) for s in rec.steps], rec.alternatives

        matter = assess_classify.questions_that_matter(plan, findings, decided)
        return tuple(OperatorQuestion(q.id, q.text, ANSWER_CHOICES, asked=needed,
                                      why_not="" if needed else "its answer cannot change the recommendation "
                                                                "for what the probes found")
                     for q, needed in matter)

    def recommend(self, loaded: LoadedPlan, probes: Sequence[ProbeView],
                  answers: dict[str, str]) -> PathChoice:
        plan = self._plan(loaded)
        if not self._raw:
            for _ in self.probe(loaded, threading.Event()):
                pass
        clean: dict[str, Any] = {k: v for k, v in answers.items() if v in ANSWER_CHOICES}
        findings = build_findings(plan, self._raw)
        blind = unreachable_from_here(findings)
        if blind is not None:
            raise UnreachableFromHere(blind)
        failures = assess_classify.classify(plan, findings, clean)
        cms_now = assess_classify.cms_pool_now(plan, findings)
        rec = assess_recommend(plan, failures, clean)
        reasons = rec.reasons
        if rec.path is None or not rec.steps:
            raise UsageError("The assessment found no outage a recovery path answers; "
                             "troubleshoot first (§5.1 rule 1).")
        order = _where_cms_is(plan, [PlannedPath(s.failure.path, *target_of(plan, s.failure.subject))
                                     for s in rec.steps], cms_now)
        first = rec.steps[0]
        recommended = _option(plan, first.consequence, rec.summary, reasons, order)
        alts = []
        for c in rec.alternatives:
            alt_plan = _where_cms_is(plan, [PlannedPath(c.path, order[0].pool, order[0].server), *order[1:]],
                                     cms_now)
            alts.append(_option(plan, c, f"instead of {first.failure.path}: {c.source}",
                                [e.text for e in first.failure.evidence], alt_plan))
        return PathChoice(recommended, tuple(alts))

    # ------------------------------------------------------------------ catalogue
    def backup_sets(self, loaded: LoadedPlan, path_id: str) -> BackupChoice:
        settled: BackupChoice | None = None
        for event in self.backup_set_events(loaded, path_id, threading.Event()):
            if isinstance(event, SetsSettled):
                settled = event.choice
        assert settled is not None, "backup_set_events ends with SetsSettled"
        return settled

    def backup_set_events(self, loaded: LoadedPlan, path_id: str,
                          cancel: threading.Event) -> Iterator[BackupEvent]:
        """The catalogue (every location read whole: a few WinRM requests per location), then
        the candidates' integrity newest first, each as it finishes, until one is intact or
        ``cancel`` is set."""
        plan = self._plan(loaded)
        order = self.ctx.plan_of_action() if self.ctx is not None else ()
        needing = [p.path_id for p in order if needs_backup_set(p.path_id)] or [path_id]
        # the set must hold what every path needs: check it against the most demanding one
        chosen_path = max(needing, key=lambda pid: len(recovery_paths.get(pid).components))
        listing = self._listing(loaded, _failed_site(plan, [p for p in order if needs_backup_set(p.path_id)]))
        now = self._servers_now(loaded)
        as_of = (now if now.tzinfo else now.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).isoformat().replace(
            "+00:00", "Z")
        verdicts = {v.name: v for v in overview(plan, listing, chosen_path, now)}
        unreadable = "".join(f" {u}" for u in listing.unreadable)

        def views() -> tuple[BackupSetView, ...]:
            return tuple(sorted((_set_view(v) for v in verdicts.values()), key=lambda s: s.taken_at, reverse=True))

        yield SetsListed(BackupChoice(views(), None, "Checking the integrity of the newest complete sets..."
                                      + unreadable, as_of=as_of))
        verifier = self._verifier(loaded)
        for event in examine(plan, listing, chosen_path, now=now, verifier=verifier, cancel=cancel):
            if isinstance(event, SetExamined):
                verdicts[event.verdict.name] = event.verdict
                if event.verdict.integrity is not None:
                    yield SetIntegrity(_set_view(event.verdict))
                continue
            yield SetsSettled(BackupChoice(views(), event.chosen.name if event.chosen else None,
                                           event.summary + unreadable, as_of=as_of), cancelled=event.cancelled)

    def _listing(self, loaded: LoadedPlan, failed_site: str | None) -> Listing:
        """Every backup location the plan names, listed where it can be read: the catalogue is
        the union, a path acting on a failed site prefers sets outside it (§3), and a location
        that cannot be read (its site is down) is named, not fatal while another answers."""
        plan = self._plan(loaded)
        listings, unreadable, errors = [], [], []
        for loc in plan.backup.locations:
            try:
                listings.append((loc, list_store_sets(self._store(loaded, loc), plan.backup.layout, loc.unc)))
            except WizardError as exc:
                site = plan.location_site(loc)
                errors.append(exc)
                unreadable.append(f"Backup location {loc.name}{f' (site {site})' if site else ''} could not "
                                  f"be read: {str(exc).rstrip('.')}.")
        if not listings:
            if len(errors) == 1:
                raise errors[0]
            hops = [e for e in errors if isinstance(e, SecondHopDenied)]
            if len(hops) == len(errors):  # one cause, one sentence: not the same advice twice
                raise SecondHopDenied(hops_sentence([(e.host, e.unc) for e in hops]))
            raise RemoteError(" ".join(unreadable))
        return merge_listings(plan, listings, unreadable, failed_site)

    def _servers_now(self, loaded: LoadedPlan) -> dt.datetime:
        """The time the backup sets' ages are judged by: the clock of the server that lists a
        location (``read_via``: the servers dated the backups, and a drill's servers run on the
        lab's clock, #16 item 12), else this machine's (``BackendOptions.now``)."""
        plan = self._plan(loaded)
        if self.options.backup_root is None:
            for loc in plan.backup.locations:
                if loc.read_via and not loc.local_path:
                    try:
                        res = self._runners(loaded).powershell(loc.read_via).run(
                            "[DateTime]::UtcNow.ToString('u')", deadline_s=30)
                        said = res.stdout.strip().replace(" ", "T").replace("Z", "+00:00")
                        return dt.datetime.fromisoformat(said) if res.exit_code == 0 else self.options.now()
                    except (WizardError, ValueError):
                        continue
        return self.options.now()

    def _store(self, loaded: LoadedPlan, loc: BackupLocation) -> BackupStore:
        """The location as the plan configures it: ``local_path`` (mounted share) first, else
        listed through PowerShell on its ``read_via`` host (the plan's runners, so a drill's
        loopback guard applies). ``backup_root`` overrides both (a local copy)."""
        if self.options.backup_root is not None:
            return LocalBackupStore(self.options.backup_root(loc), loc.unc)
        if loc.local_path:
            return LocalBackupStore(loc.local_path, loc.unc)
        if loc.read_via:
            runner = self._runners(loaded).powershell(loc.read_via)
            return RemoteBackupStore(runner_stdout(runner), loc.unc, loc.read_via, modules=())
        return LocalBackupStore(local_root(self._plan(loaded), loc), loc.unc)  # raises CatalogError

    def _verifier(self, loaded: LoadedPlan) -> SqlBakVerifier | None:
        """A SQL instance that answers reads the .bak files (RESTORE HEADERONLY/VERIFYONLY)."""
        plan = self._plan(loaded)
        runners = self._runners(loaded)
        for inst in plan.topology.sql_instances:
            try:
                runner = runners.sql(inst.server, inst.instance)
                runner.query("SELECT 1 AS ok")
            except WizardError:
                continue
            return SqlBakVerifier(runner)
        return None

    # ------------------------------------------------------------------ procedures
    def compose(self, loaded: LoadedPlan, path_id: str, backup_set: str | None) -> Sequence[StepView]:
        plan = self._plan(loaded)
        order = (self.ctx.plan_of_action() if self.ctx is not None else ()) or (PlannedPath(path_id),)
        procedures, cms_at = [], order[0].cms_at
        logs = self._sql_logs(loaded, backup_set) if any(
            recovery_paths.get(p.path_id).restores_from_backup for p in order) else {}
        for p in order:  # a CMS failed over by an earlier path stays where it went (§6.15 step 7)
            procedures.append(compose(plan, p.path_id, pool=p.pool, server=p.server, backup_set=backup_set,
                                      cms_at=cms_at, sql_logs=logs))
            cms_at = cms_after(plan, p.path_id, p.pool, cms_at)
        self._procedures, self._where = procedures, {}
        views: list[StepView] = []
        short = short_names(plan)
        for i, proc in enumerate(procedures):
            for step in proc.steps:
                if step.id in self._where:
                    continue
                self._where[step.id] = i
                if step.phase != "verify":
                    views.append(step_view(step, short))
        self._composed_for = (order, backup_set)
        self.composed = tuple(views)
        return views

    def _sql_logs(self, loaded: LoadedPlan, backup_set: str | None) -> dict[str, tuple[str, ...]]:
        """The chosen set's SQL log backups per database (lower-case name), as the SQL Server reads
        them (UNC), oldest first by name; SQL Server itself refuses a log out of sequence (4305).
        Empty when no set is chosen or the set cannot be read now (the restore is then full only,
        and the step says so)."""
        if not backup_set:
            return {}
        plan = self._plan(loaded)
        location, name = plan.resolve_set(backup_set)
        loc = location or plan.backup.locations[0]
        try:
            listing = list_store_sets(self._store(loaded, loc), plan.backup.layout, loc.unc, contents=False)
            entry = next((e for e in listing.sets if e.name == name), None)
            parts = scan_set(entry, plan.backup.layout).parts if entry is not None else ()
        except WizardError:
            return {}
        logs: dict[str, list[str]] = {}
        for part in parts:
            if part.kind == "log" and part.key and entry is not None:
                logs.setdefault(part.key.removesuffix("-log"), []).append(entry.unc + "\\" + part.rel)
        return {db: tuple(sorted(files)) for db, files in logs.items()}

    def preflight(self, loaded: LoadedPlan) -> PreflightView:
        """Ask every server the composed procedure sends cmdlets to whether it has them, with
        every parameter used (#18 item 2). A server that cannot be reached now (lost, or rebuilt
        by an earlier step) is named as not checked: its commands run after it is back."""
        self._ensure(loaded)
        plan = self._plan(loaded)
        steps = [step for proc in self._procedures for step in proc.steps]
        found: list[str] = []
        checked: list[str] = []
        unchecked: list[str] = []
        cmdlets, shares = commands_used(steps), shares_used(steps)
        for host in sorted(set(cmdlets) | set(shares)):
            used, reads = cmdlets.get(host, {}), shares.get(host, {})
            script = preflight_command(host, used, plan.connections.powershell_modules, reads)
            try:
                result = self._runners(loaded).powershell(host).run(script, deadline_s=60)
                rows = list(psbuild.parse_envelope(result.stdout).values)
            except WizardError as exc:
                unchecked.append(f"{host}: {exc.message}")
                continue
            checked.append(host)
            found += [f.sentence() for f in preflight_findings(host, used, rows)]
            found += denied_shares(host, reads, rows)  # the second hop, where a step needs it
        for server, instance, path in dict.fromkeys(r for step in steps for r in step.sql_reads):
            where, problem = self._can_read(loaded, server, instance, path)
            if problem is None:
                checked.append(where)
            elif problem.startswith("unchecked: "):
                unchecked.append(f"{where}: {problem.removeprefix('unchecked: ')}")
            else:
                found.append(problem)
        return PreflightView(tuple(found), tuple(checked), tuple(dict.fromkeys(unchecked)))

    def _can_read(self, loaded: LoadedPlan, server: str, instance: str | None, path: str) -> tuple[str, str | None]:
        """Does the SQL Server service itself read ``path`` (RESTORE HEADERONLY by the instance that
        will restore it: its service account, not this machine, reads the share)? (where, None) when
        it does; a sentence when it cannot; ``unchecked: why`` when the instance cannot be asked now
        (lost, rebuilt by an earlier step)."""
        where = f"{server}\\{instance}" if instance else server
        try:
            runner = self._runners(loaded).sql(server, instance)
            runner.query(f"RESTORE HEADERONLY FROM DISK = {sql_literal(path)}")
        except (SqlUnreachableError, SqlTimeoutError, DrillIsolationError) as exc:
            return where, f"unchecked: {exc.message}"
        except SqlServerError as exc:
            return where, (f"{where} cannot read the backup file {path} it is to restore from: "
                           f"{exc.message.rstrip('.')}.")
        return where, None

    def _ensure(self, loaded: LoadedPlan) -> None:
        if not self._procedures:
            state_set = None
            if self.ctx is not None:
                state_set = getattr(self.ctx, "backup_set", None)
            order = self.ctx.plan_of_action() if self.ctx is not None else ()
            if not order:
                raise UsageError("No recovery path has been chosen yet; finish the assessment first.")
            self.compose(loaded, order[0].path_id, state_set if isinstance(state_set, str) else None)

    def _engine(self, loaded: LoadedPlan, index: int, only: set[str], answers: eng.Answerer,
                cancel: threading.Event | None) -> eng.Engine:
        proc = self._procedures[index]
        finished = {s.id: "done" for s in proc.steps if s.id not in only}
        return eng.Engine(proc, cast(eng.Runners, self._runners(loaded)), answers, journal=_DecisionsOnly(self.ctx),
                          operator=self._operator(), finished=finished, wait_scale=self.options.wait_scale,
                          cancel=cancel)

    def _operator(self) -> str:
        return str(getattr(self.ctx, "operator", "operator"))

    def _step(self, loaded: LoadedPlan, step_id: str) -> tuple[int, Step]:
        self._ensure(loaded)
        index = self._where.get(step_id)
        if index is None:
            raise UsageError(f"Step {step_id} is not part of the composed procedure.")
        return index, self._procedures[index].step(step_id)

    def run_step(self, loaded: LoadedPlan, step: StepView, cancel: threading.Event) -> Iterator[StepEvent]:
        index, real = self._step(loaded, step.step_id)
        grant = self.ctx.grant(step.step_id) if self.ctx is not None else StepGrant()
        engine = self._engine(loaded, index, {real.id}, _StepAnswers(real, grant, self.options.hands), cancel)
        eta = _Eta()
        for event in engine.run():
            if getattr(event, "step_id", real.id) != real.id:
                continue
            if isinstance(event, StepStarted):
                eta = _Eta()
            out = _convert(event)
            if isinstance(out, Progress):
                out = replace(out, eta_s=eta.remaining_s(out.percent))
            if out is not None:
                yield out

    def by_hand(self, loaded: LoadedPlan, step: StepView) -> None:
        """A drill's "done by hand" on work by hand (the Deployment Wizard...): the trainee's hands
        do it in the lab, as a person would have (#16 item 4: the lab stayed unchanged)."""
        if self.options.hands is None:
            return
        _index, real = self._step(loaded, step.step_id)
        if real.manual is not None:
            self.options.hands(StepQuestion(real.id, "manual", "\n".join(real.manual.instructions),
                                            choices=("done", "failed")))

    def precheck(self, loaded: LoadedPlan, step: StepView) -> PreCheckView:
        """A step's pre-checks, before anyone is asked anything: is it needed now (its ``only_if``),
        and is its work already done? Also re-run for a step in doubt after a restart."""
        _index, real = self._step(loaded, step.step_id)
        if real.only_if is not None:
            needed, said = self._evaluate(loaded, real.only_if)
            if needed is False:
                return PreCheckView(step.step_id, None, said, not_needed=f"{real.only_if.title} does not hold ({said})")
        check = real.already_done
        if check is None:
            look = "; ".join(c.title for c in real.post_checks) or (
                " / ".join(real.manual.instructions) if real.manual else real.title)
            return PreCheckView(step.step_id, None, f"this step has no pre-check; check by hand whether it took "
                                                    f"effect: {look}")
        ok, detail = self._evaluate(loaded, check)
        return PreCheckView(step.step_id, ok, detail if ok is None else f"{check.describe()}: {detail}")

    def _evaluate(self, loaded: LoadedPlan, check: Check) -> tuple[bool | None, str]:
        """Run one check's command once and judge it (None: it could not run, and why)."""
        runners = self._runners(loaded)
        cmd = check.command
        try:
            if isinstance(cmd, PsCommand):
                res = runners.powershell(cmd.host).run(cmd.script(), deadline_s=cmd.timeout_s)
                rows: list[object] = list(psbuild.parse_envelope(res.stdout).values) if res.exit_code == 0 else []
            else:
                text = cmd.sql if cmd.database == "master" else f"USE {quote_identifier(cmd.database)}; {cmd.sql}"
                rows = list(runners.sql(cmd.server, cmd.instance).query(text, cmd.params))
            return evaluate(check.expect, rows)
        except WizardError as exc:
            return None, f"the pre-check could not run: {exc.message}"

    # ------------------------------------------------------------------ verification
    def verify(self, loaded: LoadedPlan, path_id: str) -> Iterator[CheckView]:
        self._ensure(loaded)
        seen: set[str] = set()
        last = len(self._procedures) - 1
        for i, proc in enumerate(self._procedures):
            # a later path on the same pool changes what healthy means (a CMS failover then the
            # pool's failover): only the last path's checks for that pool describe the end state
            later = {(p.pool or "").lower() for p in self._procedures[i + 1:]}
            if i < last and (proc.pool or "").lower() in later:
                continue
            wanted = {s.id for s in proc.steps if s.phase == "verify" and s.id not in seen}
            seen |= wanted
            if not wanted:
                continue
            steps = {s.id: s for s in proc.steps}
            runnable = set(wanted)
            for sid in sorted(wanted):  # a person's check (Control Panel, a sign-in) stays theirs,
                if steps[sid].manual is not None:  # in a drill too: no hands answer it for them
                    runnable.discard(sid)
            results: dict[str, list[CheckResult]] = {}
            engine = self._engine(loaded, i, runnable, _StepAnswers(steps[next(iter(wanted))], StepGrant(),
                                                                   self.options.hands), None)
            for event in engine.run():
                if isinstance(event, CheckResult):
                    results.setdefault(event.step_id, []).append(event)
                elif isinstance(event, (StepDone, StepFailed)) and event.step_id in runnable:
                    yield _check_view(steps[event.step_id], results.get(event.step_id, []),
                                      "ok" if isinstance(event, StepDone) else "fail",
                                      getattr(event, "message", ""))
            for sid in [s.id for s in proc.steps if s.id in wanted - runnable]:
                manual = steps[sid].manual
                yield _check_view(steps[sid], [], "unknown",
                                  "confirm by hand: " + " ".join(manual.instructions if manual else ()))


def _check_view(step: Step, results: Sequence[CheckResult], status: Health, message: str) -> CheckView:
    checks = step.post_checks
    healthy = "; ".join(c.expect.describe() for c in checks) or "the operator confirms it"
    command = "\n".join(line for c in checks for line in c.command.lines()) or "\n".join(
        step.manual.instructions if step.manual else ())
    target = ", ".join(dict.fromkeys(c.command.where for c in checks)) or (step.manual.where if step.manual else "")
    detail = "; ".join(f"{r.title}: {r.detail}" for r in results) or message
    return CheckView(step.id, step.title, target, command, healthy, status, detail)


class _Eta:
    """Time left for a step reporting percentages (SQL RESTORE STATS, file copies): the pace so
    far, measured from the first report so that connect and pre-checks do not skew it."""

    def __init__(self) -> None:
        self._first: tuple[float, float] | None = None

    def remaining_s(self, percent: float) -> float | None:
        now = time.monotonic()
        if self._first is None:
            self._first = (now, percent)
            return None
        t0, p0 = self._first
        if percent <= p0 or percent >= 100:
            return 0.0 if percent >= 100 else None
        return (now - t0) / (percent - p0) * (100 - percent)


def _convert(event: EngineEvent) -> StepEvent | None:
    """What the UI is shown of an engine event for one step: step events as they are, a check's
    verdict and manual work as output lines, the engine's other questions not at all (the facade
    asked them before the step ran)."""
    if isinstance(event, StepStarted | OutputLine | Progress | StepDone | StepFailed | StepSkipped):
        return event
    if isinstance(event, CheckResult):
        verdict = "holds" if event.ok else ("does not hold" if event.role in ("only_if", "already_done") else "FAILED")
        return OutputLine(event.step_id, f"check ({event.role.replace('_', ' ')}): {event.title} {verdict}: "
                          f"{event.detail}")
    if isinstance(event, StepQuestion) and event.kind == "manual":
        return OutputLine(event.step_id, "by hand: " + event.prompt.replace("\n", " / "))
    return None
