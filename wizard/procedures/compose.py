"""Composition: a recovery path and a plan become an ordered :class:`Procedure`.

The documented ordering rules (§11 "Ordering", §5.1 rule 7, §6.8, §6.16) are *enforced*: a
:class:`Procedure` validates itself when it is built, so a composition that would run a Back End
restore before the CMS, a pool failover before the CMS failover or the Edge next-hop move,
``Import-CsUserData`` with services running, LIS before the pool failover, Front Ends before their
Back End, or anything after verification, raises :class:`OrderingError` and never exists.

Two mechanisms: each step's ``needs`` (tags that must appear on an earlier step, decided when the
step is built from the topology, e.g. "the CMS lived in the failed pool") and the global
:data:`RULES` (a step tagged ``first`` may never come after one tagged ``then``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from wizard.errors import UsageError
from wizard.plan.model import CustomStep, Plan, Pool
from wizard.procedures.library.cms import cms_failover_steps, cms_move_steps, cms_restore_steps
from wizard.procedures.library.common import (
    Ctx,
    prepare_rebuild,
    ps,
    replication_check,
    server_down_check,
    sql_reachable_check,
)
from wizard.procedures.library.data import (
    conference_sync_step,
    file_store_steps,
    lis_import_step,
    mon_arch_steps,
    pchat_restore_step,
    rgs_import_step,
    user_data_steps,
)
from wizard.procedures.library.failover import (
    abc_steps,
    edge_dr_steps,
    edge_next_hop_step,
    pchat_failover_steps,
    pool_failback_step,
    pool_failover_step,
    quorum_steps,
    rgs_move_home_step,
)
from wizard.procedures.library.servers import (
    be_databases_step,
    be_mirror_create_step,
    deployment_wizard_step,
    edge_export_step,
    fe_restart_step,
    mirror_failover_step,
    mirror_topology_step,
    mirror_uninstall_step,
)
from wizard.procedures.model import AllEqual, Check, Manual, Omitted, PsCommand, Step
from wizard.procedures.verify import synthetic_check, verification_steps
from wizard.recovery_paths import RecoveryPath
from wizard.recovery_paths import get as get_path
from wizard.remote.psbuild import Cmd, Raw


class OrderingError(UsageError):
    """A composition breaks a documented ordering rule; it cannot be built."""

    title = "Procedure order"


class CompositionError(UsageError):
    """The path cannot be composed for this plan and target (wrong pool, no partner...)."""

    title = "Cannot compose the procedure"


@dataclass(frozen=True)
class OrderingRule:
    id: str
    first: str  # tag name (scope after '@' ignored unless same_scope)
    then: str
    section: str
    reason: str
    same_scope: bool = False
    required: bool = False  # a `then` step needs a `first` step before it
    closes: bool = False  # a `first` step needs a `then` step after it


RULES: tuple[OrderingRule, ...] = (
    OrderingRule("cms-before-back-end", "cms-available", "backend-restored", "§11.2",
                 "the CMS comes before a Back End restore (it publishes the topology)", required=True),
    OrderingRule("cms-before-publish", "cms-available", "topology-publish", "§11.2",
                 "the CMS comes before anything that publishes the topology", required=True),
    OrderingRule("cms-before-pool-failover", "cms-available", "pool-failover", "§5.1 rule 7",
                 "the CMS must be functional before a pool failover", required=True),
    OrderingRule("cms-failover-before-pool-failover", "cms-failover", "pool-failover", "§6.16 step 1",
                 "the CMS failover comes before the pool failover"),
    OrderingRule("edge-next-hop-before-failover", "edge-next-hop", "pool-failover", "§11.4",
                 "the Edge next hop moves off the failed pool before Invoke-CsPoolFailover"),
    OrderingRule("stop-before-import", "services-stopped", "userdata-import", "§11.5",
                 "services are stopped before Import-CsUserData", same_scope=True, required=True),
    OrderingRule("start-after-import", "userdata-import", "services-started", "§11.5",
                 "services are started after Import-CsUserData", same_scope=True, closes=True),
    OrderingRule("lis-after-failover", "pool-failover", "lis-import", "§6.16 step 4",
                 "LIS is imported after the pool failover (it is not replicated)"),
    OrderingRule("back-end-before-front-ends", "backend-restored", "frontend-rebuilt", "§11.3",
                 "a pool's Back End is restored before its Front Ends", same_scope=True),
    OrderingRule("back-end-before-user-data", "backend-restored", "userdata-import", "§6.4",
                 "user data goes into a recreated Back End", same_scope=True),
    OrderingRule("front-ends-before-user-data", "frontend-rebuilt", "userdata-import", "§6.8",
                 "in a whole-pool restore the import waits for the rebuilt Front Ends (inferred order)",
                 same_scope=True),
    OrderingRule("file-store-before-front-ends", "filestore", "frontend-rebuilt", "§6.8",
                 "file store before Front Ends in a whole-pool restore (inferred order)"),
    OrderingRule("failback-before-failover", "pool-failback", "pool-failover", "§11.6",
                 "reversing roles: fail back P1's users before failing over P2's"),
    OrderingRule("abc-move-before-start", "abc-moved", "abc-start", "§11.7",
                 "pool C's services start only after users, directories and content moved",
                 same_scope=True, required=True),
)


def _split(tag: str) -> tuple[str, str]:
    name, _, scope = tag.partition("@")
    return name, scope


def _has(step: Step, name: str, scope: str | None) -> bool:
    for tag in step.tags:
        n, s = _split(tag)
        if n == name and (scope is None or s == scope):
            return True
    return False


def _scopes(step: Step, name: str) -> list[str]:
    return [_split(t)[1] for t in step.tags if _split(t)[0] == name]


def validate_order(steps: tuple[Step, ...], given: frozenset[str] = frozenset()) -> None:
    """Raise :class:`OrderingError` for the first broken rule (needs, :data:`RULES`, verify last).

    ``given`` holds tags true before the first step (e.g. ``cms-available`` when the CMS is not
    part of the outage)."""
    _check_needs(steps, given)
    for rule in RULES:
        _check_precedence(rule, steps, given)
        if rule.closes:
            _check_closed(rule, steps)
    _check_verify_last(steps)


def _check_needs(steps: tuple[Step, ...], given: frozenset[str]) -> None:
    """Step ids are unique and every need is provided by an earlier step (or given)."""
    seen: set[str] = set(given)
    ids: set[str] = set()
    for step in steps:
        if step.id in ids:
            raise OrderingError(f"Step {step.id} appears twice in the procedure.")
        ids.add(step.id)
        for need in step.needs:
            if need not in seen:
                raise OrderingError(f"Step {step.id} needs an earlier step providing '{need}' "
                                    "and none comes before it.")
        seen.update(step.tags)


def _check_precedence(rule: OrderingRule, steps: tuple[Step, ...], given: frozenset[str]) -> None:
    """No ``rule.first`` step comes after a ``rule.then`` step (and one comes before if required)."""
    for j, later in enumerate(steps):
        for scope in _scopes(later, rule.then):
            sc = scope if rule.same_scope else None
            before = any(_has(s, rule.first, sc) for s in steps[:j])
            after = [s for s in steps[j + 1:] if _has(s, rule.first, sc)]
            if after:
                raise OrderingError(f"Step {after[0].id} must come before {later.id}: "
                                    f"{rule.reason} ({rule.section}).")
            if rule.required and not before and not any(_split(g)[0] == rule.first for g in given):
                raise OrderingError(f"Step {later.id} has no step before it for '{rule.first}': {rule.reason} "
                                    f"({rule.section}).")


def _check_closed(rule: OrderingRule, steps: tuple[Step, ...]) -> None:
    """Every ``rule.first`` step is followed by a ``rule.then`` step."""
    for i, first in enumerate(steps):
        for scope in _scopes(first, rule.first):
            sc = scope if rule.same_scope else None
            if not any(_has(s, rule.then, sc) for s in steps[i + 1:]):
                raise OrderingError(f"Step {first.id} has no step after it for '{rule.then}': {rule.reason} "
                                    f"({rule.section}).")


def _check_verify_last(steps: tuple[Step, ...]) -> None:
    """Once verification starts, only the organisation's own steps may follow (§7.1)."""
    in_verify = False
    for step in steps:
        if step.phase == "verify":
            in_verify = True
        elif in_verify and not step.custom:
            raise OrderingError(f"Step {step.id} comes after verification started: verification is last (§7.1).")


@dataclass(frozen=True)
class Procedure:
    """An ordered, validated list of steps for one recovery path, plan and target."""

    organisation: str
    path: RecoveryPath
    pool: str | None
    server: str | None
    backup_set: str | None
    steps: tuple[Step, ...]
    omitted: tuple[Omitted, ...] = ()
    given: frozenset[str] = frozenset()  # true before the first step (e.g. cms-available)
    #: the backup location this path reads (name, UNC, site); None: it reads no backup
    reads_from: str | None = None

    def __post_init__(self) -> None:
        validate_order(self.steps, self.given)

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)


# ------------------------------------------------------------------------------ custom steps

_HOOK_SKIPPED = {"before_assessment": "runs during assessment, before any procedure",
                 "after_assessment": "runs during assessment, before any procedure"}


def custom_step(cs: CustomStep) -> Step:
    commands: tuple[PsCommand, ...] = ()
    manual = None
    if cs.kind == "powershell" and cs.script and cs.host:
        # The organisation's own script, from its plan: passed verbatim, as written.
        commands = (PsCommand(cs.host, (Raw(cs.script),)),)
    else:
        manual = Manual("Organisation procedure", cs.host or "-", (cs.instructions or cs.title,))
    return Step(id=f"custom-{cs.id}", title=cs.title, section="plan", why=f"{cs.why} (plan step, hook {cs.hook})",
                phase="custom", commands=commands, manual=manual, applies=f"plan hook {cs.hook}",
                destructive=cs.destructive, confirm_text=cs.id if cs.destructive else None,
                undo="See the organisation's procedure.", duration_s=600, custom=True)


def insert_custom(plan: Plan, steps: list[Step], omitted: list[Omitted]) -> list[Step]:
    out = list(steps)

    def last(pred: object) -> int | None:
        idx = [i for i, s in enumerate(out) if pred(s)]  # type: ignore[operator]
        return idx[-1] + 1 if idx else None

    for cs in plan.custom_steps:
        if cs.hook in _HOOK_SKIPPED:
            omitted.append(Omitted(f"custom-{cs.id}", cs.title, _HOOK_SKIPPED[cs.hook]))
            continue
        at: int | None
        if cs.hook == "before_restore":
            at = 0
        elif cs.hook == "after_cms":
            at = last(lambda s: s.phase == "cms" or "cms-failover" in s.tags)
        elif cs.hook == "after_back_end":
            at = last(lambda s: s.phase == "back_end")
        elif cs.hook == "after_file_store":
            at = last(lambda s: s.phase == "file_store")
        elif cs.hook == "after_front_ends":
            at = last(lambda s: s.phase == "front_end")
        elif cs.hook == "after_failover":
            at = last(lambda s: "pool-failover" in s.tags or "pool-failback" in s.tags)
        elif cs.hook == "before_verify":
            firsts = [i for i, s in enumerate(out) if s.phase == "verify"]
            at = firsts[0] if firsts else len(out)
        else:  # after_verify
            at = len(out)
        if at is None:
            omitted.append(Omitted(f"custom-{cs.id}", cs.title, f"this path has no point '{cs.hook}'"))
            continue
        out.insert(at, custom_step(cs))
    return out


# ------------------------------------------------------------------------------ composition


def _front_end(ctx: Ctx, fqdn: str | None, what: str) -> Pool:
    if not fqdn:
        standard = "Standard Edition" in what
        pools = [p for p in ctx.plan.front_end_pools() if (p.edition == "standard") == standard]
        cms = ctx.cms_pool.fqdn.lower()
        named = ", ".join(p.fqdn + (" (hosts the CMS: path cms-restore)" if standard and p.fqdn.lower() == cms
                                    else "") for p in pools) or "none in this plan"
        raise CompositionError(f"The path needs --pool: {what} (in this plan: {named}).")
    try:
        pool = ctx.plan.pool(fqdn)
    except KeyError:
        raise CompositionError(f"The plan has no pool {fqdn}.") from None
    return pool


def _pool_of_server(plan: Plan, server: str) -> Pool:
    for p in plan.topology.pools:
        if server.lower() in (s.lower() for s in p.servers):
            return p
    raise CompositionError(f"The plan has no server {server}.")


def compose(plan: Plan, path_id: str, *, pool: str | None = None, server: str | None = None,
            backup_set: str | None = None, new_pool: str | None = None, cms_at: str | None = None,
            sql_logs: Mapping[str, tuple[str, ...]] | None = None) -> Procedure:
    """The ordered steps of ``path_id`` for ``plan``: ``pool`` is the failed (or target) pool,
    ``server`` the failed server, ``new_pool`` pool C (ABC) or the CMS move target, ``cms_at`` the
    pool hosting the CMS when the path starts, when an earlier path moved it (:func:`cms_after`)."""
    try:
        path = get_path(path_id)
    except KeyError as exc:
        raise CompositionError(str(exc.args[0])) from None
    if server and not pool:
        pool = _pool_of_server(plan, server).fqdn
    if pool is None and path_id in ("cms-restore", "cms-failover", "cms-move", "config-rollback"):
        pool = Ctx(plan, cms_at=cms_at).cms_pool.fqdn
    ctx = Ctx(plan, backup_set, pool, server, cms_at, dict(sql_logs or {}))
    omitted: list[Omitted] = []
    builder = _BUILDERS[path_id]
    steps = builder(ctx, omitted, new_pool)
    steps = insert_custom(plan, steps, omitted)
    return Procedure(plan.organisation.name, path, pool, server, backup_set, tuple(steps), tuple(omitted),
                     given=_given(ctx.cms_pool.fqdn, path_id, pool), reads_from=_reads_from(ctx, path))


def _reads_from(ctx: Ctx, path: RecoveryPath) -> str | None:
    """Which backup location the path's commands read, and why that one (§3)."""
    if not (path.restores_from_backup or path.components):
        return None
    loc = ctx.backup_location()
    site = ctx.plan.location_site(loc)
    where = f"site {site}" if site else "off-site"
    why = ""
    if ctx.failed_site and len(ctx.plan.backup.locations) > 1:
        why = ("; the chosen set is kept there" if ctx.backup_set and "/" in ctx.backup_set else
               f"; the first location outside {ctx.failed_site}, the site this path acts on (§3)"
               if (site or "").lower() != ctx.failed_site.lower() else
               f"; no location outside {ctx.failed_site} is named in the plan")
    return f"{loc.name} ({loc.unc}, {where}){why}"


_CMS_PATHS = ("cms-restore", "cms-failover", "cms-move")
_LOSES_CMS_WITH_POOL = ("pool-failover", "pool-restore", "abc-failover", "be-mirror-primary", "be-restore",
                        "se-restore")


def cms_after(plan: Plan, path_id: str, pool: str | None, cms_at: str | None = None) -> str | None:
    """Where the CMS is after ``path_id`` ran (None: where the plan puts it): a CMS failover moves
    it to the paired pool, and it stays there (§6.15 step 7, §6.17 step 5)."""
    current = cms_at or plan.cms_pool.fqdn
    moving = path_id == "cms-failover" or (path_id == "pool-failover" and (pool or "").lower() == current.lower())
    if moving and plan.pool(current).paired_with:
        return plan.pool(current).paired_with
    return cms_at


def _given(cms_fqdn: str, path_id: str, pool: str | None) -> frozenset[str]:
    """``cms-available`` unless this path's outage includes the CMS (§5.1 rule 6)."""
    hit = pool is not None and pool.lower() == cms_fqdn.lower()
    if path_id in _CMS_PATHS or (hit and path_id in _LOSES_CMS_WITH_POOL):
        return frozenset()
    return frozenset({"cms-available"})


def _member(ctx: Ctx, om: list[Omitted], _: str | None) -> list[Step]:
    if not ctx.server:
        raise CompositionError("The member-rebuild path needs --server.")
    pool = _pool_of_server(ctx.plan, ctx.server)
    steps = [prepare_rebuild(ctx, ctx.server)]
    if pool.role == "edge":
        steps.append(edge_export_step(ctx, pool))
    else:
        om.append(Omitted("edge-export", "Export the configuration for the Edge", "the server is not an Edge"))
    steps.append(deployment_wizard_step(ctx, ctx.server, pool))
    serving = pool if pool.role == "front_end" else ctx.cms_pool
    if pool.role != "edge":
        return steps + verification_steps(ctx, serving, [ctx.server])
    # §6.7 step 4: the Edge's services (read on the Edge), its replica (read inside), then the Edge checks
    return steps + verification_steps(ctx, serving, [ctx.server], edge=pool, edge_media=_media_pools(ctx, pool.site))


def _media_pools(ctx: Ctx, site: str) -> list[Pool]:
    """The Front End pools of ``site``: an Edge pool carries the media of the Front End pools of its
    site, and those are the ones moved to another Edge pool when it is lost (§6.21 Media association)."""
    return [p for p in ctx.plan.front_end_pools() if p.site == site]


def _quorum(ctx: Ctx, om: list[Omitted], _: str | None) -> list[Step]:
    pool = _front_end(ctx, ctx.pool, "the pool in quorum loss")
    return quorum_steps(ctx, pool) + verification_steps(ctx, pool, [])


def _se(ctx: Ctx, om: list[Omitted], _: str | None) -> list[Step]:
    pool = _front_end(ctx, ctx.pool, "the Standard Edition server")
    if pool.edition != "standard":
        raise CompositionError(f"{pool.fqdn} is not a Standard Edition server.")
    if ctx.cms_pool.fqdn == pool.fqdn:
        raise CompositionError(f"{pool.fqdn} hosts the CMS: use the cms-restore path (§5.2).")
    se = pool.servers[0]
    steps = [prepare_rebuild(ctx, se)]
    if pool.file_store:
        steps += file_store_steps(ctx, ctx.plan.file_store(pool.file_store), enable_topology=False)
        om.append(Omitted(f"filestore-acl-{pool.file_store}", "Reset file store ACLs",
                          "Topology Builder runs in this recovery (§6.9 step 2)"))
    dw = deployment_wizard_step(ctx, se, pool, section="6.3")
    steps.append(dw)
    steps += _data(ctx, om, pool, rgs_new=True)
    return steps + verification_steps(ctx, pool, [se])


def _data(ctx: Ctx, om: list[Omitted], pool: Pool, *, rgs_new: bool) -> list[Step]:
    steps = user_data_steps(ctx, pool)
    if pool.response_group:
        steps.append(rgs_import_step(ctx, pool, pool, new_pool=rgs_new))
    else:
        om.append(Omitted(f"rgs-import-{pool.fqdn}", "Import Response Group", f"{pool.fqdn} runs no Response Group"))
    return steps


def _cms_restore(ctx: Ctx, om: list[Omitted], _: str | None, *, pool_lost: bool = False) -> list[Step]:
    pool = ctx.cms_pool
    steps: list[Step] = []
    if pool.edition == "standard":
        se = pool.servers[0]
        steps.append(prepare_rebuild(ctx, se))
        if pool.file_store:
            steps += file_store_steps(ctx, ctx.plan.file_store(pool.file_store), enable_topology=False)
        steps.append(Step(
            id=f"prepare-first-se-{se}", title=f"Prepare first Standard Edition server on {se}", section="6.2",
            why="On Standard Edition the Deployment Wizard installs the CMS store locally first (§6.2 step 4).",
            phase="cms", manual=Manual("Deployment Wizard", se, (
                "Run Setup.exe from \\setup\\amd64 and choose 'Prepare first Standard Edition server'.",)),
            applies="Standard Edition server hosting the CMS",
            post_checks=(sql_reachable_check((se, "rtc")),),
            undo="Reinstall the server.", duration_s=1800, needs=(f"prepared@{se}",)))
        steps += cms_restore_steps(ctx, pool, pool_lost=False)
        dw = deployment_wizard_step(ctx, se, pool, section="6.2")
        steps.append(replace(dw, tags=dw.tags | {f"backend-restored@{pool.fqdn}", "backend-restored"}))
    else:
        be = ctx.back_end(pool)
        assert be is not None
        steps.append(prepare_rebuild(ctx, be.server, hosts_database=True, sql_instance=be))
        steps += cms_restore_steps(ctx, pool, pool_lost=pool_lost)
        host = ctx.management_host(pool, pool_lost)
        steps.append(be_databases_step(ctx, pool, host))
        steps += _mirror_rebuild(ctx, pool, host, "6.2")
    if pool_lost:
        return steps
    steps += user_data_steps(ctx, pool)
    host = ctx.fe(pool)
    steps.append(lis_import_step(ctx, host, pool.fqdn, section="6.2"))
    if pool.response_group:
        steps.append(rgs_import_step(ctx, pool, pool, new_pool=True))
    be = ctx.back_end(pool)
    if be and be.id in (pool.monitoring_store, pool.archiving_store):
        steps += mon_arch_steps(ctx, pool, host, logs=ctx.sql_logs)
    else:
        om.append(Omitted("monarch", "Monitoring/Archiving data", "not on this Back End (§6.2 step 15)"))
    return steps + verification_steps(ctx, pool, list(pool.servers))


def _cms_restore_path(ctx: Ctx, om: list[Omitted], new_pool: str | None) -> list[Step]:
    """The cms-restore path; for a paired CMS pool it starts with the §5.2 warning the operator
    must acknowledge: paired means CMS failover, a restore rolls the CMS back to the set's age."""
    pool = ctx.cms_pool
    steps = _cms_restore(ctx, om, new_pool)
    if not pool.paired_with:
        return steps
    host = ctx.fe(ctx.plan.pool(pool.paired_with))
    gate = Step(
        id="cms-restore-not-failover", title=f"Confirm the CMS cannot fail over to {pool.paired_with} instead",
        section="5.2",
        why=f"{pool.fqdn} is paired with {pool.paired_with}: §5.2 sends a lost CMS there (CMS failover, §6.15), "
            "which is faster and keeps every configuration change; a restore brings the CMS back as it was "
            "when the backup set was taken. Restore only when the standby CMS cannot be used.",
        phase="prepare",
        manual=Manual("Decision", host, (
            f"Check that the standby CMS in {pool.paired_with} cannot be used (its Back End lost, or the "
            "pairing broken); otherwise stop here and choose the CMS failover (§5.2, §6.15).",
            "Confirm here only if the restore is the right path.")),
        applies="cms-restore chosen for a paired CMS pool",
        undo="Nothing to undo: a decision.", duration_s=300)
    return [gate, *steps]


def _cms_failover(ctx: Ctx, om: list[Omitted], _: str | None) -> list[Step]:
    pool = ctx.cms_pool
    backup = ctx.partner(pool)
    if backup is None:
        raise CompositionError(f"{pool.fqdn} is not paired: use cms-restore (§5.2).")
    steps = cms_failover_steps(ctx, pool)
    steps.append(lis_import_step(ctx, ctx.fe(backup), backup.fqdn, section="6.15"))
    # the CMS pool is the one in trouble: the Backup Service between the two cannot be healthy, so
    # its checks would never pass; the LIS imported by §6.15 step 8 is checked instead
    return steps + verification_steps(ctx, backup, [], cms_pool=backup, failed_over_from=pool)


def _be_restore(ctx: Ctx, om: list[Omitted], _: str | None) -> list[Step]:
    pool = _front_end(ctx, ctx.pool, "the pool whose Back End was lost")
    be = ctx.back_end(pool)
    if be is None:
        raise CompositionError(f"{pool.fqdn} has no Back End SQL instance in the plan.")
    if ctx.cms_pool.fqdn == pool.fqdn:
        raise CompositionError(f"{pool.fqdn}'s Back End hosts the CMS: use cms-restore (§6.4 prerequisite).")
    host = ctx.fe(pool)
    steps = [prepare_rebuild(ctx, be.server, hosts_database=True, sql_instance=be), be_databases_step(ctx, pool, host)]
    mirror = ctx.mirror_of(be)
    if mirror is not None:
        steps.insert(1, prepare_rebuild(ctx, mirror.server, hosts_database=True, sql_instance=mirror))
        steps.append(be_mirror_create_step(ctx, pool, be, mirror, "6.4"))
    steps += _data(ctx, om, pool, rgs_new=True)
    if be.id in (pool.monitoring_store, pool.archiving_store):
        steps += mon_arch_steps(ctx, pool, host, logs=ctx.sql_logs)
    return steps + verification_steps(ctx, pool, list(pool.servers))


def _mirror_primary(ctx: Ctx, om: list[Omitted], _: str | None) -> list[Step]:
    pool = _front_end(ctx, ctx.pool, "the pool whose mirrored Back End lost its primary")
    be = ctx.back_end(pool)
    mirror = ctx.mirror_of(be) if be else None
    if be is None or mirror is None:
        raise CompositionError(f"{pool.fqdn}'s Back End is not mirrored in the plan.")
    steps = [mirror_failover_step(ctx, pool, "Mirror"), mirror_topology_step(ctx, pool, mirror),
             fe_restart_step(ctx, pool, "6.5", "Each Front End must read the new topology; any change to a "
                             "mirroring relationship needs a restart of all the pool's Front Ends "
                             "(§6.5 step 5, §11.33)."),
             mirror_uninstall_step(ctx, pool, mirror, "6.5"),
             prepare_rebuild(ctx, be.server, hosts_database=True, sql_instance=be),
             be_mirror_create_step(ctx, pool, mirror, be, "6.5"),
             fe_restart_step(ctx, pool, "6.6", "The mirror was re-created: any change to a mirroring relationship "
                             "needs a restart of all the pool's Front Ends (§6.6, T15, §11.33).", after="mirror")]
    return steps + verification_steps(ctx, pool, [])


def _mirror_mirror(ctx: Ctx, om: list[Omitted], _: str | None) -> list[Step]:
    pool = _front_end(ctx, ctx.pool, "the pool whose Back End mirror was lost")
    be = ctx.back_end(pool)
    mirror = ctx.mirror_of(be) if be else None
    if be is None or mirror is None:
        raise CompositionError(f"{pool.fqdn}'s Back End is not mirrored in the plan.")
    steps = [mirror_uninstall_step(ctx, pool, be, "6.6"),
             prepare_rebuild(ctx, mirror.server, hosts_database=True, sql_instance=mirror),
             be_mirror_create_step(ctx, pool, be, mirror, "6.6"),
             fe_restart_step(ctx, pool, "6.6", "Any change to a mirroring relationship requires restarting "
                             "all Front Ends of the pool (§6.6, §11.33).")]
    return steps + verification_steps(ctx, pool, [])


def _failover_head(ctx: Ctx, om: list[Omitted], failed: Pool) -> tuple[Pool, list[Step], Pool]:
    backup = ctx.partner(failed)
    if backup is None:
        raise CompositionError(f"{failed.fqdn} has no paired pool: use pool-restore (§5.1).")
    steps: list[Step] = []
    cms_pool = ctx.cms_pool
    if cms_pool.fqdn == failed.fqdn:
        steps += cms_failover_steps(ctx, failed)
        cms_pool = backup
    else:
        om.append(Omitted("cms-failover", "Fail the CMS over",
                          f"the CMS lives in {cms_pool.fqdn}, not in the failed pool"))
    edges = ctx.edges_using(failed)
    for edge in edges:
        steps.append(edge_next_hop_step(ctx, edge, failed, backup))
    if not edges:
        om.append(Omitted("edge-next-hop", "Move the Edge next hop", f"no Edge pool uses {failed.fqdn} as next hop"))
    steps.append(pool_failover_step(ctx, failed, backup))
    return backup, steps, cms_pool


def _pool_failover(ctx: Ctx, om: list[Omitted], _: str | None) -> list[Step]:
    failed = _front_end(ctx, ctx.pool, "the failed pool")
    backup, steps, cms_pool = _failover_head(ctx, om, failed)
    steps.append(lis_import_step(ctx, ctx.fe(backup), backup.fqdn, after_failover_of=failed.fqdn, section="6.16"))
    if failed.response_group:
        # no -OverwriteOwner (§6.16 step 5): the imported groups stay owned by the failed pool (T13),
        # so failback can export them with -Owner and take them home (§6.17 step 4)
        steps.append(rgs_import_step(ctx, failed, backup, new_pool=False, after_failover=True))
    else:
        om.append(Omitted("rgs-import", "Import Response Group", f"{failed.fqdn} runs no Response Group"))
    return steps + verification_steps(ctx, backup, [], failed_over_from=failed, cms_pool=cms_pool)


def _pool_failback(ctx: Ctx, om: list[Omitted], _: str | None) -> list[Step]:
    home = _front_end(ctx, ctx.pool, "the home pool")
    backup = ctx.partner(home)
    if backup is None:
        raise CompositionError(f"{home.fqdn} has no paired pool.")
    steps = [pool_failback_step(ctx, home, backup), conference_sync_step(ctx, home, backup)]
    if home.response_group:
        steps.append(rgs_move_home_step(ctx, home, backup))
    # §6.17 step 5: a CMS failed over with the home pool may stay in the backup pool
    return steps + verification_steps(ctx, home, [], cms_or_in=backup if ctx.cms_pool.fqdn == home.fqdn else None)


def _pool_restore(ctx: Ctx, om: list[Omitted], _: str | None) -> list[Step]:
    pool = _front_end(ctx, ctx.pool, "the lost pool")
    steps: list[Step] = []
    if pool.role != "front_end":
        for s in pool.servers:
            steps += [prepare_rebuild(ctx, s), deployment_wizard_step(ctx, s, pool, section="6.8")]
        return steps + verification_steps(ctx, ctx.cms_pool, [])
    if pool.edition == "standard":
        return _cms_restore(ctx, om, None) if ctx.cms_pool.fqdn == pool.fqdn else _se(ctx, om, None)
    host = ctx.management_host(pool, True)
    hosts_cms = ctx.cms_pool.fqdn == pool.fqdn
    if hosts_cms:
        steps += _cms_restore(ctx, om, None, pool_lost=True)
    else:
        be = ctx.back_end(pool)
        assert be is not None
        steps += [prepare_rebuild(ctx, be.server, hosts_database=True, sql_instance=be),
                  be_databases_step(ctx, pool, host), *_mirror_rebuild(ctx, pool, host, "6.4")]
    if pool.file_store:
        # the topology was enabled or published above, before this share existed: its ACLs are
        # reset once it is back (§6.9 step 2, §8 Enable-CsTopology sets file-store ACLs)
        steps += file_store_steps(ctx, ctx.plan.file_store(pool.file_store), enable_topology=True, host=host)
    for fe in pool.servers:
        steps += [prepare_rebuild(ctx, fe), deployment_wizard_step(ctx, fe, pool, section="6.8")]
    steps += _data(ctx, om, pool, rgs_new=True)
    if hosts_cms:
        steps.append(lis_import_step(ctx, ctx.fe(pool), pool.fqdn, section="6.2"))
    be = ctx.back_end(pool)
    if be and be.id in (pool.monitoring_store, pool.archiving_store):
        steps += mon_arch_steps(ctx, pool, ctx.fe(pool), logs=ctx.sql_logs)
    if ctx.partner(pool) is not None:
        om.append(Omitted("pool-failover", "Fail over first",
                          "the pool is paired: pool-failover restores service faster (§5.1 rule 2)"))
    return steps + verification_steps(ctx, pool, list(pool.servers))


def _mirror_rebuild(ctx: Ctx, pool: Pool, host: str, section: str) -> list[Step]:
    """A mirrored Back End lost with its pool: the mirror machine is rebuilt too (§6.1, when it
    does not answer), then Topology Builder creates the mirror databases on it (§6.4 step 3)."""
    be = ctx.back_end(pool)
    mirror = ctx.mirror_of(be) if be is not None else None
    if be is None or mirror is None:
        return []
    prepare = replace(prepare_rebuild(ctx, mirror.server, hosts_database=True, sql_instance=mirror),
                      only_if=server_down_check(host, mirror.server),
                      applies="the mirror's machine was lost with the pool")
    return [prepare, be_mirror_create_step(ctx, pool, be, mirror, section)]


def _file_store(ctx: Ctx, om: list[Omitted], _: str | None) -> list[Step]:
    pool = _front_end(ctx, ctx.pool, "the pool whose file store was lost")
    if not pool.file_store:
        raise CompositionError(f"{pool.fqdn} names no file store.")
    return file_store_steps(ctx, ctx.plan.file_store(pool.file_store), enable_topology=True) + \
        verification_steps(ctx, pool, [])


def _conference(ctx: Ctx, om: list[Omitted], _: str | None) -> list[Step]:
    pool = _front_end(ctx, ctx.pool, "the pool that lost conference content")
    partner = ctx.partner(pool)
    if partner is None:
        raise CompositionError(f"{pool.fqdn} has no paired pool (§6.14).")
    return [conference_sync_step(ctx, pool, partner), *verification_steps(ctx, pool, [])]


def _mon_arch(ctx: Ctx, om: list[Omitted], _: str | None) -> list[Step]:
    pool = _front_end(ctx, ctx.pool, "the pool whose Monitoring/Archiving store was lost")
    if not (pool.monitoring_store or pool.archiving_store):
        raise CompositionError(f"{pool.fqdn} names no Monitoring or Archiving store.")
    return mon_arch_steps(ctx, pool, ctx.fe(pool), logs=ctx.sql_logs)


def _pchat_pool(ctx: Ctx) -> Pool:
    pool = _front_end(ctx, ctx.pool, "the Persistent Chat pool")
    if pool.role != "persistent_chat":
        raise CompositionError(f"{pool.fqdn} is not a Persistent Chat pool.")
    return pool


def _pchat_restore(ctx: Ctx, om: list[Omitted], _: str | None) -> list[Step]:
    pool = _pchat_pool(ctx)
    host = ctx.fe(ctx.cms_pool)
    check = synthetic_check(host, "Test-CsPersistentChatMessage", ctx.cms_pool.fqdn, wait_s=300)
    verify = Step(id="verify-pchat", title="Persistent Chat message test", section="7.2",
                  why="Test-CsPersistentChatMessage returns Result : Success (§7.2).", phase="verify",
                  post_checks=(check,), tags=frozenset({"verify"}))
    return [pchat_restore_step(ctx, pool, host), verify]


def _pchat_failover(ctx: Ctx, om: list[Omitted], _: str | None) -> list[Step]:
    return pchat_failover_steps(ctx, _pchat_pool(ctx))


def _edge_dr(ctx: Ctx, om: list[Omitted], _: str | None) -> list[Step]:
    lost = _front_end(ctx, ctx.pool, "the lost Edge pool")
    others = [p for p in ctx.plan.topology.pools if p.role == "edge" and p.fqdn != lost.fqdn]
    if lost.role != "edge" or not others:
        raise CompositionError(f"{lost.fqdn} is not an Edge pool with a surviving Edge pool in the plan.")
    # §5.3 F: another site's Edge pool takes over
    surviving = next((p for p in others if p.site != lost.site), others[0])
    media = _media_pools(ctx, lost.site)
    if not media:
        om.append(Omitted(f"edge-media-{lost.fqdn}", "Associate Front End pools with the surviving Edge pool",
                          f"no Front End pool in {lost.site} (§6.21 Media association)"))
    # §7.1 step 6: sign-in and the Edge checks for the Front End pools that now use the surviving Edge pool
    serving = media[0] if media else ctx.plan.pool(surviving.next_hop) if surviving.next_hop else ctx.cms_pool
    return edge_dr_steps(ctx, lost, surviving, media) + verification_steps(
        ctx, serving, list(surviving.servers), edge=surviving,
        edge_media=[*media, *(p for p in _media_pools(ctx, surviving.site) if p not in media)], edge_federates=True)


def _config_rollback(ctx: Ctx, om: list[Omitted], _: str | None) -> list[Step]:
    pool = ctx.cms_pool
    host = ctx.fe(pool)
    zip_path = ctx.backup_file("config")
    step = Step(
        id="config-rollback-import", title="Import the configuration export taken before the change",
        section="5.3", why="Import-CsConfiguration reverts everything changed since that export, then "
        "replication is forced (§5.3 I, inferred flow).", phase="cms",
        commands=(ps(host, Cmd("Import-CsConfiguration", {"FileName": zip_path}),
                     Cmd("Invoke-CsManagementStoreReplication")),),
        applies="a bad configuration change", requires=(
            Check(f"{zip_path} is readable", ps(host, json=Cmd("Test-Path", {"LiteralPath": zip_path})),
                  AllEqual(".", True)),),
        post_checks=(replication_check(host, wait_s=600),),
        destructive=True, confirm_text="xds", undo="Import a later export.", duration_s=600,
        tags=frozenset({"cms-available"}))
    return [step, *verification_steps(ctx, pool, [])]


def _abc(ctx: Ctx, om: list[Omitted], new_pool: str | None) -> list[Step]:
    a = _front_end(ctx, ctx.pool, "pool A, lost for good")
    if not new_pool:
        raise CompositionError("The abc-failover path needs the new pool C (--new-pool).")
    c = _front_end(ctx, new_pool, "the new pool C")
    if c.role != "front_end" or c.fqdn in (a.fqdn, a.paired_with):
        raise CompositionError(f"{c.fqdn} cannot be pool C: it must be another Front End pool (§6.19).")
    b, steps, cms_pool = _failover_head(ctx, om, a)
    fo = steps.pop()
    if a.response_group:
        steps.append(rgs_import_step(ctx, a, b, new_pool=True))
    steps.append(fo)
    # §6.19 step 1 imports LIS right after the CMS failover; placing it after the pool failover
    # also satisfies §6.16 step 4 (LIS is not replicated) and is never earlier than the CMS.
    steps.append(lis_import_step(ctx, ctx.fe(b), b.fqdn, after_failover_of=a.fqdn, section="6.19"))
    steps += abc_steps(ctx, a, b, c)
    return steps + verification_steps(ctx, c, list(c.servers), cms_pool=cms_pool)


def _cms_move(ctx: Ctx, om: list[Omitted], new_pool: str | None) -> list[Step]:
    src = ctx.cms_pool
    target = ctx.plan.pool(new_pool) if new_pool else ctx.partner(src)
    if target is None or target.role != "front_end" or target.fqdn == src.fqdn:
        raise CompositionError("The cms-move path needs another Front End pool as target (--new-pool).")
    return cms_move_steps(ctx, src, target) + verification_steps(ctx, target, [], cms_pool=target)


_BUILDERS = {
    "member-rebuild": _member, "quorum-recovery": _quorum, "se-restore": _se, "cms-restore": _cms_restore_path,
    "cms-failover": _cms_failover, "be-restore": _be_restore, "be-mirror-primary": _mirror_primary,
    "be-mirror-mirror": _mirror_mirror, "pool-failover": _pool_failover, "pool-failback": _pool_failback,
    "pool-restore": _pool_restore, "file-store-restore": _file_store, "conference-content-sync": _conference,
    "monitoring-archiving-restore": _mon_arch, "pchat-restore": _pchat_restore, "pchat-failover": _pchat_failover,
    "edge-dr": _edge_dr, "config-rollback": _config_rollback, "abc-failover": _abc, "cms-move": _cms_move,
}

__all__ = ["RULES", "CompositionError", "OrderingError", "OrderingRule", "Procedure", "compose", "validate_order"]
