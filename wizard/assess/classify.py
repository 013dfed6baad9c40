"""Outage classification: findings + the operator's answers -> §5.3 classes A-I and paths.

Rules follow the domain reference: §5.2 (what failed -> which procedure), §5.3 (the outage
taxonomy A-I), §5.4 (Front End quorum) and §5.1 (governing rules: troubleshoot first, paired
pools fail over when users need service quickly, the CMS path before any pool failover).
Several failures at once are all reported, ordered so that the CMS comes first (§5.1 rule 7,
§5.3 B "If this BE hosts the CMS store -> CMS path first").

Questions the probes cannot answer are data (:data:`QUESTIONS`), so the screen asks them and
the journal records the answers beside the probe evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from wizard.assess.findings import FIRST_OF, Evidence, Findings, running_quorum, start_quorum
from wizard.plan.model import Plan, Pool

Answer = Literal["yes", "no", "unknown"]
OutageClass = Literal["A", "B", "C", "D", "E", "F", "G", "H", "I"]

#: Order in which failures are worked on: the CMS first (§5.1 rule 7), then whole pools and
#: Back Ends (service), members, file stores, Edge, Persistent Chat, Monitoring, configuration.
CLASS_ORDER: dict[str, int] = {"C": 0, "E": 1, "B": 2, "A": 3, "D": 4, "F": 5, "H": 6, "G": 7,
                               "I": 8}


@dataclass(frozen=True)
class AssessmentQuestion:
    id: str
    text: str
    why: str  # the rule it feeds, with its domain reference


QUESTIONS: tuple[AssessmentQuestion, ...] = (
    AssessmentQuestion("recoverable", "Can the failed servers be repaired in place (is troubleshooting "
             "still an option)?", "§5.1 rules 1 and 3: restore only when troubleshooting fails; "
             "an unrecoverable paired pool is failed over, then rebuilt or replaced (ABC)."),
    AssessmentQuestion("urgent", "Do users need service back sooner than a restore from backup can give "
             "it (within the RTO)?", "§5.1 rule 2: paired pools fail over when users need "
             "service quickly (30 min RTO/RPO, §6.16)."),
    AssessmentQuestion("bad_change", "Did the trouble start right after a configuration or topology "
             "change?", "§5.3 I: roll the configuration back from the export taken before it."),
    AssessmentQuestion("routing_group_quorum", "Does Get-CsPoolFabricState show routing groups without "
             "a primary or a secondary?", "§5.3 A and §5.4: QuorumLossRecovery when routing "
             "groups lost quorum but the pool did not."),
    AssessmentQuestion("pchat_log_shipping", "Is the Persistent Chat database log-shipped to a backup "
             "instance (stretched pool)?", "§5.3 H and §6.20: then fail Persistent Chat over."),
)

Answers = Mapping[str, Answer]


def answer(answers: Answers, qid: str) -> Answer:
    return answers.get(qid, "unknown")


@dataclass(frozen=True)
class Failure:
    """One thing that failed, its §5.3 class, the path for it and the alternatives."""

    outage_class: OutageClass
    subject: str
    title: str
    path: str
    alternatives: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    notes: tuple[str, ...] = ()

    @property
    def order(self) -> int:
        return CLASS_ORDER[self.outage_class]


@dataclass(frozen=True)
class PoolHealth:
    pool: str
    size: int
    down: tuple[str, ...]  # servers lost (unreachable)
    serving: tuple[str, ...]  # servers with the Front End service running
    quorum_needed: int
    evidence: tuple[Evidence, ...]
    first: tuple[str, ...] = ()  # the servers that count for quorum: the first N started (§5.4), else all

    @property
    def all_down(self) -> bool:
        return len(self.down) == self.size

    @property
    def serving_first(self) -> tuple[str, ...]:
        return tuple(s for s in self.serving if not self.first or s in self.first)

    @property
    def quorum_lost(self) -> bool:
        """§5.4 pool-level quorum loss: fewer than the needed Front Ends run, counting only the
        first 7 (8-9 Front Ends) or first 9 (10-12) started, in the plan's first-start order."""
        return len(self.serving_first) < self.quorum_needed

    def quorum_words(self) -> str:
        of = f" of the first {len(self.first)}" if self.first else ""
        return f"any {self.quorum_needed}{of}"


def pool_health(plan: Plan, findings: Findings, pool: Pool) -> PoolHealth:
    size = len(pool.servers)
    down: list[str] = []
    serving: list[str] = []
    ev: list[Evidence] = []
    for server in pool.servers:
        host = findings.host(server)
        if host.state == "down":
            down.append(server.lower())
            ev += host.evidence
        elif host.state == "up" and host.front_end_running:
            serving.append(server.lower())
        elif host.state == "up":
            ev += host.evidence
    first = tuple(s.lower() for s in pool.servers[:FIRST_OF[size]]) if size in FIRST_OF else ()
    return PoolHealth(pool.fqdn.lower(), size, tuple(down), tuple(serving),
                      running_quorum(size), tuple(ev), first)


def _pool_sql_ok(findings: Findings, plan: Plan, pool: Pool) -> bool:
    if pool.edition == "standard" or not pool.back_end:
        return findings.host(pool.servers[0]).state != "down"
    primary = findings.instance(pool.back_end)
    if primary.state == "up" and primary.db_online("rtcxds") is not False:
        return True
    mirror_id = plan.sql(pool.back_end).mirror
    return mirror_id is not None and findings.instance(mirror_id).db_online("rtcxds") is True


def partner_ok(plan: Plan, findings: Findings, pool: Pool) -> tuple[bool, tuple[Evidence, ...]]:
    """Whether the paired pool can take this pool's users: running quorum and its Back End up,
    and the Backup Service relationship confirmed when it was probed."""
    if not pool.paired_with:
        return False, ()
    try:
        partner = plan.pool(pool.paired_with)
    except KeyError:
        return False, (Evidence(f"The plan pairs {pool.fqdn} with {pool.paired_with}, which it "
                                "does not describe.", "plan"),)
    health = pool_health(plan, findings, partner)
    ev: list[Evidence] = []
    ok = not health.quorum_lost and _pool_sql_ok(findings, plan, partner)
    ev.append(Evidence(
        f"Paired pool {partner.fqdn.lower()}: {len(health.serving)} of {health.size} Front Ends "
        f"running (quorum {health.quorum_needed}), Back End "
        + ("up." if _pool_sql_ok(findings, plan, partner) else "down."), "plan"))
    rel = findings.result(f"pair:{pool.fqdn.lower()}")
    if rel is not None and rel.ok:
        ev.append(Evidence(rel.summary, rel.probe_id))
        if rel.data.get("relationship_ok") is False:
            ok = False
    return ok, tuple(ev)


def _cms_sql(plan: Plan) -> tuple[str | None, str | None]:
    """(sql id of the CMS store, its mirror id) — (None, None) for a Standard Edition CMS."""
    cms = plan.cms_pool
    if cms.edition == "standard" or not cms.back_end:
        return None, None
    return cms.back_end, plan.sql(cms.back_end).mirror


def cms_pool_now(plan: Plan, findings: Findings) -> str | None:
    """The pool whose CMS master is active, when that is not the plan's CMS pool (the CMS was
    failed over before this assessment and stays there: no CMS failback is required, §6.15
    step 7, §6.17 step 5); None when the master is where the plan puts it, or none answers."""
    repl = findings.result("cms-replication")
    active = str(repl.data.get("active_master") or "").lower() if repl is not None and repl.ok else ""
    if not active:
        return None
    for pool in plan.front_end_pools():
        if active == pool.fqdn.lower() or active in (s.lower() for s in pool.servers):
            return None if pool.fqdn.lower() == plan.cms_pool.fqdn.lower() else pool.fqdn
    return None


def questions_that_matter(plan: Plan, findings: Findings,
                          then: Callable[[list[Failure], Answers], object] | None = None
                          ) -> tuple[tuple[AssessmentQuestion, bool], ...]:
    """Each question with whether its answer can change anything for what the probes found: the
    failures classified (and ``then``: what is recommended from them) with the answer yes, no and
    unknown. A question that cannot change anything is not asked (#16 item 9: the Persistent
    Chat question for a Standard Edition CMS loss); it stays unknown, as an unanswered one does."""
    out = []
    for q in QUESTIONS:
        seen = []
        for value in ("unknown", "yes", "no"):
            given: Answers = {q.id: value}
            failures = classify(plan, findings, given)
            seen.append(repr((failures, then(failures, given) if then is not None else None)))
        out.append((q, len(set(seen)) > 1))
    return tuple(out)


def classify(plan: Plan, findings: Findings, answers: Answers) -> list[Failure]:
    """Every failure found, in the order to work on them."""
    out: list[Failure] = []
    cms_lost = _classify_cms(plan, findings, out)
    for pool in plan.front_end_pools():
        _classify_front_end_pool(plan, findings, answers, pool, cms_lost, out)
    for pool in plan.topology.pools:
        if pool.role != "front_end":
            _classify_other_pool(plan, findings, pool, out)
    _classify_file_stores(plan, findings, out)
    _classify_data_stores(plan, findings, answers, out)
    if answer(answers, "bad_change") == "yes":
        out.append(Failure("I", "configuration", "Configuration broken by a recent change",
                           "config-rollback", (),
                           (Evidence("The operator says the trouble began right after a "
                                     "configuration or topology change.", "answer:bad_change"),)))
    out = _restore_the_cms_with_its_pool(out)
    out.sort(key=lambda f: f.order)
    return out


def _restore_the_cms_with_its_pool(out: list[Failure]) -> list[Failure]:
    """An unpaired CMS pool lost whole is one restore: §6.8 restores its Back End first by §6.2
    (the CMS), then each Front End. A separate cms-restore before it would run the Management
    Shell on, and import user data into, Front Ends that do not exist yet."""
    whole = {f.subject: f for f in out if f.path == "pool-restore"}
    cms = next((f for f in out if f.path == "cms-restore" and f.subject in whole), None)
    if cms is None:
        return out
    pool = whole[cms.subject]
    merged = replace(pool, outage_class="C", title=f"{pool.title}, with the Central Management store it hosts",
                     evidence=cms.evidence + pool.evidence,
                     notes=(*cms.notes, "The pool restore recreates the CMS on its Back End first (§6.8, §6.2), "
                                        "then rebuilds the Front Ends.", *pool.notes))
    return [merged if f is pool else f for f in out if f is not cms]


def _classify_cms(plan: Plan, findings: Findings, out: list[Failure]) -> bool:
    cms = plan.cms_pool
    if cms_pool_now(plan, findings) is not None:
        return False  # already failed over: the CMS works where it went (§6.15 step 7)
    ev: list[Evidence] = []
    sql_id, mirror_id = _cms_sql(plan)
    lost = False
    mirror_takes_over = False
    if sql_id is None:
        host = findings.host(cms.servers[0])
        lost = host.state == "down"
        ev += host.evidence
    else:
        primary = findings.instance(sql_id)
        mirror = findings.instance(mirror_id) if mirror_id else None
        primary_ok = primary.state == "up" and primary.db_online("xds") and primary.db_online("lis")
        mirror_ok = mirror is not None and bool(mirror.db_online("xds"))
        if primary.state == "up" and not primary_ok:
            bad = [f"{n} {primary.databases.get(n, 'missing')}" for n in ("xds", "lis")
                   if primary.databases.get(n) != "ONLINE"]
            ev.append(Evidence(f"The CMS databases on {sql_id} are not online: {', '.join(bad)}.",
                               f"sql:{sql_id}"))
        ev += primary.evidence
        lost = primary.state in ("down", "up") and not primary_ok and not mirror_ok
        if mirror is not None and not primary_ok:
            ev += mirror.evidence
            if mirror.state == "up":
                # the mirror carries the CMS databases for now (a witness, or §6.18 by hand), but a
                # publish needs the primary CMS database online and the roles cannot be swapped
                # without publishing: the CMS procedures come first (§5.3 C, S20, S22)
                mirror_takes_over = True
                ev.append(Evidence(f"The primary CMS database on {sql_id} is lost; its mirror {mirror_id} "
                                   "carries the CMS, but no topology can be published until the CMS is "
                                   "failed over or restored (§5.3 C).", f"sql:{sql_id}"))
    repl = findings.result("cms-replication")
    if repl is not None and repl.ok:
        ev.append(Evidence(repl.summary, repl.probe_id))
        if repl.data.get("active_master") and not mirror_takes_over:
            lost = False  # a master is active: the CMS works (perhaps already failed over)
        elif not repl.data.get("error") and not mirror_takes_over and (sql_id is None or
                                             findings.instance(sql_id).state != "refused"):
            lost = True
    scp = findings.result("cms-scp")
    if scp is not None and scp.ok and scp.data.get("matches") is False:
        ev.append(Evidence(scp.summary, scp.probe_id))
    if not (lost or mirror_takes_over):
        return False
    paired_ok, pev = partner_ok(plan, findings, cms)
    alts: tuple[str, ...]
    if paired_ok:
        path, alts = "cms-failover", ("cms-restore",)
    else:
        path, alts = "cms-restore", ()
    notes: tuple[str, ...] = ("Service continues while the CMS is lost, but no configuration change is "
                              "possible until it is back (§5.1 rule 6).",)
    if mirror_takes_over and not paired_ok:
        notes += ("The mirror still holds the CMS: back up that surviving copy and restore both the "
                  "primary and the mirror from it (§5.3 C, S20).",)
    out.append(Failure("C", cms.fqdn.lower(), f"Central Management store of {cms.fqdn.lower()} "
                       "lost", path, alts, tuple(ev) + pev, notes))
    return True


def _classify_front_end_pool(plan: Plan, findings: Findings, answers: Answers, pool: Pool,
                             cms_lost: bool, out: list[Failure]) -> None:
    fqdn = pool.fqdn.lower()
    health = pool_health(plan, findings, pool)
    moved_to = cms_pool_now(plan, findings)
    hosts_cms = pool.fqdn.lower() == (moved_to or plan.cms_pool.fqdn).lower()
    paired_ok, pev = partner_ok(plan, findings, pool)
    urgent = answer(answers, "urgent")
    alts: tuple[str, ...]
    if pool.edition == "standard":
        if health.all_down and not (hosts_cms and cms_lost):
            path = "pool-failover" if paired_ok and urgent != "no" else "se-restore"
            alts = ("se-restore",) if path == "pool-failover" else (
                ("pool-failover",) if paired_ok else ())
            out.append(Failure("B", fqdn, f"Standard Edition server {fqdn} lost", path, alts,
                               health.evidence + pev))
        return
    be_failure = not health.all_down and _classify_back_end(plan, findings, answers, pool,
                                                            paired_ok, pev, out)
    if health.all_down:
        path = "pool-failover" if paired_ok and urgent != "no" else "pool-restore"
        alts = ("pool-restore",) if path == "pool-failover" else (
            ("pool-failover",) if paired_ok else ())
        notes: list[str] = []
        if path == "pool-failover" and hosts_cms:
            notes.append("The CMS lives in this pool: fail it over first (§6.16 step 1).")
        if moved_to and pool.fqdn.lower() == plan.cms_pool.fqdn.lower():
            notes.append(f"The CMS was already failed over to {moved_to} and stays there: no CMS failover, "
                         "restore or failback is needed for this pool (§6.15 step 7, §6.17 step 5).")
        if answer(answers, "recoverable") == "no" and paired_ok:
            notes.append("The pool is unrecoverable: after failover rebuild it with the same "
                         "FQDN and fail back, or build a new pool with the ABC procedure "
                         "(§5.1 rule 3, §6.19).")
        out.append(Failure("E", fqdn, f"Whole pool {fqdn} lost ({health.size} of "
                           f"{health.size} Front Ends unreachable)", path, alts,
                           health.evidence + pev, tuple(notes)))
        return
    if be_failure:
        return
    if health.down and health.quorum_lost:
        path = "pool-failover" if paired_ok and urgent != "no" else "member-rebuild"
        alts = ("member-rebuild",) if path == "pool-failover" else (
            ("pool-failover",) if paired_ok else ())
        counted = f" ({len(health.serving_first)} of the first {len(health.first)})" if health.first else ""
        ev = (*health.evidence, Evidence(
            f"Only {len(health.serving)} of {health.size} Front Ends of {fqdn} run{counted}; the pool "
            f"needs {health.quorum_words()} to keep running (§5.4 pool-level quorum loss).",
            "rule:5.4"), *pev)
        qnotes = (f"Bring back at least {start_quorum(health.size)} Front Ends to start the "
                  "pool, in reverse shutdown order (§5.4); Lync 2013 has no Start-CsPool: start "
                  "services per server. Reset-CsPoolRegistrarState -ResetType QuorumLossRecovery "
                  "does not work while the pool is in pool-level quorum loss (§11.31).",)
        out.append(Failure("E", fqdn, f"Pool {fqdn} lost quorum", path, alts, ev, qnotes))
        return
    if health.down:
        ev = (*health.evidence, Evidence(
            f"{len(health.serving)} of {health.size} Front Ends of {fqdn} still run; the pool "
            f"keeps quorum (needs {health.quorum_words()}, §5.4).", "rule:5.4"))
        if answer(answers, "routing_group_quorum") == "yes":
            out.append(Failure("A", fqdn, f"Routing groups of {fqdn} in quorum loss",
                               "quorum-recovery", ("member-rebuild",),
                               (*ev, Evidence("The operator says Get-CsPoolFabricState "
                                              "shows routing groups without a primary or "
                                              "secondary.", "answer:routing_group_quorum"))))
        for server in health.down:
            out.append(Failure("A", server, f"Front End {server} of {fqdn} lost",
                               "member-rebuild", (), ev))


def _classify_back_end(plan: Plan, findings: Findings, answers: Answers, pool: Pool,
                       paired_ok: bool, pev: tuple[Evidence, ...], out: list[Failure]) -> bool:
    if not pool.back_end:
        return False
    fqdn = pool.fqdn.lower()
    spec = plan.sql(pool.back_end)
    primary = findings.instance(spec.id)
    mirror = findings.instance(spec.mirror) if spec.mirror is not None else None
    p_lost = primary.state == "down" or primary.db_online("rtcxds") is False
    m_lost = mirror is not None and mirror.state == "down"
    ev = primary.evidence + (mirror.evidence if mirror is not None else ())
    if primary.state == "up" and primary.db_online("rtcxds") is False:
        ev += (Evidence(f"rtcxds on {spec.id} is {primary.databases.get('rtcxds', 'missing')}.",
                        f"sql:{spec.id}"),)
    if not p_lost and not m_lost:
        return False
    if mirror is not None and p_lost and not m_lost:
        if pool.fqdn.lower() == plan.cms_pool.fqdn.lower() and not paired_ok:
            return True  # the CMS restore restores primary and mirror from the surviving copy (§5.3 C, S20)
        witness = spec.witness is not None and findings.instance(spec.witness).state == "up"
        note = ("The witness is up: SQL Server fails over automatically (RTO/RPO 5 min, §5.3 B)."
                if witness else "No working witness: fail every database type over to the mirror "
                "by hand (Invoke-CsDatabaseFailover, §6.18) before users drop to resiliency mode.")
        out.append(Failure("B", fqdn, f"Back End primary {spec.id} of {fqdn} lost",
                           "be-mirror-primary", (), ev, (note,)))
        return True
    if mirror is not None and m_lost and not p_lost:
        out.append(Failure("B", fqdn, f"Back End mirror {spec.mirror} of {fqdn} lost",
                           "be-mirror-mirror", (), ev))
        return True
    urgent = answer(answers, "urgent")
    path = "pool-failover" if paired_ok and urgent != "no" else "be-restore"
    alts = ("be-restore",) if path == "pool-failover" else (("pool-failover",) if paired_ok else ())
    notes = ("Fail the pool over to restore service, then restore the Back End (§6.4) and fail "
             "back (§6.17).",) if path == "pool-failover" else ()
    what = "both Back End nodes" if mirror is not None else "the Back End"
    out.append(Failure("B", fqdn, f"{what[0].upper()}{what[1:]} of {fqdn} lost", path, alts,
                       ev + pev, notes))
    return True


def _classify_other_pool(plan: Plan, findings: Findings, pool: Pool, out: list[Failure]) -> None:
    fqdn = pool.fqdn.lower()
    down = [s.lower() for s in pool.servers if findings.host(s).state == "down"]
    if not down:
        return
    ev = tuple(e for s in down for e in findings.host(s).evidence)
    if pool.role == "edge":
        others = [p for p in plan.topology.pools if p.role == "edge" and p.fqdn.lower() != fqdn
                  and any(findings.host(s).state == "up" for s in p.servers)]
        if len(down) == len(pool.servers) and others:
            out.append(Failure("F", fqdn, f"Edge pool {fqdn} lost", "edge-dr",
                               ("member-rebuild",), ev))
        else:
            for server in down:
                out.append(Failure("F", server, f"Edge server {server} lost", "member-rebuild",
                                   (), ev))
        return
    cls: OutageClass = "H" if pool.role == "persistent_chat" else "A"
    label = {"persistent_chat": "Persistent Chat server", "director": "Director",
             "mediation": "Mediation Server"}.get(pool.role, "server")
    for server in down:
        out.append(Failure(cls, server, f"{label} {server} lost", "member-rebuild", (), ev))


def _classify_file_stores(plan: Plan, findings: Findings, out: list[Failure]) -> None:
    se_down = {p.fqdn.lower() for p in plan.front_end_pools()
               if p.edition == "standard" and findings.host(p.servers[0]).state == "down"}
    for fs in plan.topology.file_stores:
        if fs.server.lower() in se_down:
            continue  # restored with the Standard Edition server (§6.3)
        host = findings.host(fs.server)
        probe = findings.result(f"fs:{fs.id}")
        lost = host.state == "down" or (probe is not None and probe.ok and (
            probe.data.get("answers") is False or probe.data.get("empty") is True))
        if not lost:
            continue
        ev = host.evidence + findings.evidence_of(f"fs:{fs.id}")
        users = [p for p in plan.front_end_pools() if p.file_store == fs.id]
        paired = any(p.paired_with for p in users)
        out.append(Failure("D", fs.id, f"File store \\\\{fs.server}\\{fs.share} lost",
                           "file-store-restore", ("conference-content-sync",) if paired else (),
                           ev))


def _classify_data_stores(plan: Plan, findings: Findings, answers: Answers,
                          out: list[Failure]) -> None:
    seen: set[tuple[str, str]] = set()
    for pool in plan.topology.pools:
        for store, names, cls in ((pool.monitoring_store, ("lcscdr", "qoemetrics"), "G"),
                                  (pool.archiving_store, ("lcslog",), "G"),
                                  (pool.persistent_chat_store, ("mgc",), "H")):
            if not store or (store, cls) in seen:
                continue
            inst = findings.instance(store)
            bad = [n for n in names if inst.db_online(n) is False]
            if inst.state != "down" and not bad:
                continue
            if (store, cls) in seen:
                continue
            seen.add((store, cls))
            ev = inst.evidence
            if bad:
                ev += (Evidence(f"On {store}: " + ", ".join(
                    f"{n} {inst.databases.get(n, 'missing')}" for n in bad) + ".",
                    f"sql:{store}"),)
            if cls == "G":
                out.append(Failure("G", store, f"Monitoring/Archiving databases on {store} "
                                   "lost", "monitoring-archiving-restore", (), ev,
                                   ("Not needed for service: restore the data only if the "
                                    "business or regulation needs it (§5.3 G).",)))
            else:
                shipped = answer(answers, "pchat_log_shipping") == "yes"
                path = "pchat-failover" if shipped else "pchat-restore"
                alts = ("pchat-restore",) if shipped else ()
                notes = (f"Restore with the same method used to back up ({pool.persistent_chat_backup}"
                         ", §6.11).",)
                out.append(Failure("H", store, f"Persistent Chat database on {store} lost", path,
                                   alts, ev, notes))
