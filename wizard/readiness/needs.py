"""What the plan's recovery paths will ask of each server: the cmdlets and parameters it must
have, whether it reads the backup locations, the other servers' shares it names (the second
hop), and which accounts log on to it.

Every path of :mod:`wizard.recovery_paths` is composed for every pool and server of the plan it
applies to (the same composition an incident uses, so the audit checks exactly the commands a
restore will send). A composition picks one host per role (the first Front End of a pool, say),
but on the night that host may be the one that is lost and another member runs the step; so
what any member of a pool is asked is asked of every member of that pool.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from wizard.errors import WizardError
from wizard.plan.model import Plan
from wizard.preflight import commands_used, shares_used
from wizard.procedures.compose import compose
from wizard.procedures.model import Step
from wizard.recovery_paths import PATHS


@dataclass
class HostNeeds:
    host: str  # lower case FQDN
    pool: str | None  # the pool it serves (lower case), None for a file server or jump host
    role: str | None  # the pool's role (front_end, edge, ...)
    #: cmdlet -> (parameters used, the steps that use it)
    cmdlets: dict[str, tuple[set[str], list[str]]] = field(default_factory=dict)
    #: backup location shares (\\server\share) it reads in some path
    reads_backups: bool = False
    #: other servers' shares (not backup locations) its commands name -> steps
    shares: dict[str, list[str]] = field(default_factory=dict)

    @property
    def domain_member(self) -> bool:
        """Edge servers sit in the perimeter network, outside the domain (§6.21): no domain
        groups there."""
        return self.role != "edge"


def all_steps(plan: Plan) -> list[Step]:
    """The steps of every path the plan can compose, for every pool and server it applies to."""
    steps: list[Step] = []
    pools: list[tuple[str | None, list[str]]] = [(None, [])] + [(p.fqdn, list(p.servers)) for p in plan.topology.pools]
    for path in PATHS:
        for pool, servers in pools:
            for server in [None, *servers]:
                try:
                    steps += compose(plan, path.id, pool=pool, server=server).steps
                except WizardError:  # the path does not apply to this pool or server
                    continue
    return steps


def _share_root(unc: str) -> str:
    parts = unc.strip("\\").split("\\")
    return ("\\\\" + "\\".join(parts[:2])).lower()


def _merge(target: HostNeeds, cmdlets: dict[str, tuple[set[str], list[str]]], shares: dict[str, list[str]],
           backup_roots: set[str]) -> None:
    for cmdlet, (params, users) in cmdlets.items():
        have_params, have_users = target.cmdlets.setdefault(cmdlet, (set(), []))
        have_params.update(params)
        have_users += [u for u in users if u not in have_users]
    for share, users in shares.items():
        if share.lower() in backup_roots:
            target.reads_backups = True
        else:
            have = target.shares.setdefault(share, [])
            have += [u for u in users if u not in have]


def host_needs(plan: Plan, steps: Iterable[Step] | None = None) -> dict[str, HostNeeds]:
    """Every server the audit asks something of, by lower-case FQDN: each pool's servers (with
    their pool's union of needs), each file server and each ``read_via`` host."""
    steps = list(all_steps(plan) if steps is None else steps)
    cmdlets, shares = commands_used(steps), shares_used(steps)
    backup_roots = {_share_root(loc.unc) for loc in plan.backup.locations}
    out: dict[str, HostNeeds] = {}

    def need(host: str, pool: str | None = None, role: str | None = None) -> HostNeeds:
        return out.setdefault(host.lower(), HostNeeds(host.lower(), pool, role))

    def add(target: HostNeeds, source: str) -> None:
        _merge(target, cmdlets.get(source, {}), shares.get(source, {}), backup_roots)

    for pool in plan.topology.pools:
        members = [s.lower() for s in pool.servers]
        for member in members:
            target = need(member, pool.fqdn.lower(), pool.role)
            for source in members:
                add(target, source)
    for fs in plan.topology.file_stores:
        add(need(fs.server), fs.server.lower())
    for loc in plan.backup.locations:
        if loc.read_via:
            need(loc.read_via).reads_backups = True
    for host in set(cmdlets) | set(shares):  # any other host a step runs on
        if host not in out:
            add(need(host), host)
    for item in out.values():  # a share on the host itself is no second hop
        item.shares = {s: u for s, u in item.shares.items()
                       if s[2:].split("\\")[0].split(".")[0].lower() != item.host.split(".")[0]}
    return out
