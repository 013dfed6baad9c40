"""``lync-restore validate`` and ``lync-restore check``: plan commands for people and schedulers."""

from __future__ import annotations

import argparse
import sys

from wizard.errors import ExitCode
from wizard.plan.loader import load_plan
from wizard.plan.model import Plan, Pool, SqlInstance

_ROLE_WORD = {
    "front_end": "Front End",
    "director": "Director",
    "edge": "Edge",
    "mediation": "Mediation",
    "persistent_chat": "Persistent Chat",
}


def sql_label(s: SqlInstance) -> str:
    return f"{s.server}\\{s.instance}" if s.instance else s.server


def _pool_line(plan: Plan, p: Pool) -> str:
    kind = _ROLE_WORD[p.role]
    if p.role == "front_end":
        kind = "Standard Edition" if p.edition == "standard" else "Enterprise"
    parts = [f"  {p.fqdn:<32} {kind:<16} {p.site:<10} {len(p.servers)} server"
             + ("s" if len(p.servers) != 1 else "")]
    if p.back_end:
        be = plan.sql(p.back_end)
        extra = f", mirror {plan.sql(be.mirror).server}" if be.mirror else ""
        extra += ", witness" if be.witness else ""
        parts.append(f"BE {sql_label(be)}{extra}")
    if p.paired_with:
        parts.append(f"paired with {p.paired_with}")
    if p.next_hop:
        parts.append(f"next hop {p.next_hop}")
    return "; ".join(parts)


def summary(plan: Plan, path: str) -> list[str]:
    """The one-screen summary printed by ``validate`` (fits 80 columns by 24 lines for most plans)."""
    topo = plan.topology
    lines = [f"{path}: valid plan for {plan.organisation.name}"]
    lines.append("Sites:   " + ", ".join(
        f"{s.name}" + (f" ({s.city})" if s.city else "") for s in topo.sites))
    counts: dict[str, int] = {}
    for p in topo.pools:
        counts[_ROLE_WORD[p.role]] = counts.get(_ROLE_WORD[p.role], 0) + 1
    n_servers = len(plan.all_servers())
    lines.append(f"Pools:   {len(topo.pools)} ({', '.join(f'{n} {k}' for k, n in counts.items())}); "
                 f"{n_servers} servers; {len(topo.sql_instances)} SQL instances")
    lines.extend(_pool_line(plan, p) for p in topo.pools)
    cms = plan.cms_pool
    where = sql_label(plan.sql(cms.back_end)) if cms.back_end else f"{cms.fqdn} (SQL Express)"
    lines.append(f"CMS:     on {cms.fqdn}, store in {where}")
    pairs = sorted({tuple(sorted((p.fqdn, p.paired_with))) for p in topo.pools if p.paired_with})
    lines.append("Pairing: " + (", ".join(f"{a} <-> {b}" for a, b in pairs) if pairs else "none"))
    for fs in topo.file_stores:
        lines.append(f"Files:   \\\\{fs.server}\\{fs.share} ({fs.site})")
    for loc in plan.backup.locations:
        how = f"mounted at {loc.local_path}" if loc.local_path else (
            f"listed via {loc.read_via}" if loc.read_via else "no reader configured")
        lines.append(f"Backup:  {loc.unc} ({how})")
    lines.append(f"Targets: RPO {plan.objectives.rpo}, RTO {plan.objectives.rto}; "
                 f"{len(plan.custom_steps)} custom steps; {len(plan.contacts)} contacts")
    return lines


def validate_command(args: argparse.Namespace) -> int:
    loaded = load_plan(args.plan)
    print("\n".join(summary(loaded.plan, args.plan)))
    return ExitCode.OK


def check_command(args: argparse.Namespace) -> int:
    """Readiness for schedulers: the plan is valid (backup freshness joins with the catalogue)."""
    loaded = load_plan(args.plan)
    print(f"{args.plan}: plan valid for {loaded.plan.organisation.name}", file=sys.stdout)
    return ExitCode.OK
