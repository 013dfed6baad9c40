"""``lync-restore validate``: the plan checked and summarised on one screen (``check``, the
scheduler's readiness check, is :mod:`wizard.readiness`)."""

from __future__ import annotations

import argparse

from wizard.errors import ExitCode
from wizard.plan.loader import load_plan
from wizard.plan.model import Plan, Pool, SqlInstance

_ROLE_WORD: dict[str, str] = {
    "front_end": "FE",
    "director": "Dir",
    "edge": "Edge",
    "mediation": "Med",
    "persistent_chat": "PChat",
}


def sql_label(s: SqlInstance) -> str:
    return f"{s.server}\\{s.instance}" if s.instance else s.server


_KIND_SHORT = {"director": "Dir", "edge": "Edge", "mediation": "Med", "persistent_chat": "PChat"}


def _short(fqdn: str) -> str:
    return fqdn.split(".", 1)[0]


def _pool_line(plan: Plan, p: Pool, width: int) -> str:
    """One line per pool, short host names so that it fits 80 columns."""
    kind = ("SE" if p.edition == "standard" else "EE") if p.role == "front_end" else _KIND_SHORT[p.role]
    parts = [f"  {p.fqdn:<{width}} {kind:<5} {p.site[:9]:<9} {len(p.servers):>2}"]
    if p.back_end:
        be = plan.sql(p.back_end)
        label = _short(be.server) + (f"\\{be.instance}" if be.instance else "")
        label += "+mirror" if be.mirror else ""
        label += "+wit" if be.witness else ""
        parts.append(label)
    if p.paired_with:
        parts.append(f"<->{_short(p.paired_with)}")
    if p.next_hop:
        parts.append(f"hop {_short(p.next_hop)}")
    return " ".join(parts)


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
    lines.append(f"Pools:   {len(topo.pools)}, {n_servers} servers, {len(topo.sql_instances)} SQL instances "
                 f"({', '.join(f'{n} {k}' for k, n in counts.items())})")
    width = max(len(p.fqdn) for p in topo.pools)
    lines.append(f"  {'pool':<{width}} {'kind':<5} {'site':<9} srv back end / pairing / next hop")
    lines.extend(_pool_line(plan, p, width) for p in topo.pools)
    cms = plan.cms_pool
    where = sql_label(plan.sql(cms.back_end)) if cms.back_end else "SQL Express on the server"
    lines.append(f"CMS:     on {cms.fqdn}, store in {where}")
    pairs = sorted({tuple(sorted((p.fqdn, p.paired_with))) for p in topo.pools if p.paired_with})
    lines.append("Pairing: " + (", ".join(f"{a} <-> {b}" for a, b in pairs) if pairs else "none"))
    for fs in topo.file_stores:
        lines.append(f"Files:   \\\\{fs.server}\\{fs.share} ({fs.site})")
    for loc in plan.backup.locations:
        how = f"at {loc.local_path}" if loc.local_path else (
            f"via {_short(loc.read_via)}" if loc.read_via else "no reader")
        site = plan.location_site(loc)
        server, _, share = loc.unc.lstrip("\\").partition("\\")
        lines.append(f"Backup:  \\\\{_short(server)}\\{share} ({how}; {f'site {site}' if site else 'off-site'})")
    lines.append(f"Targets: RPO {plan.objectives.rpo}, RTO {plan.objectives.rto}; "
                 f"{len(plan.custom_steps)} custom steps; {len(plan.contacts)} contacts")
    return lines


def validate_command(args: argparse.Namespace) -> int:
    loaded = load_plan(args.plan)
    print("\n".join(summary(loaded.plan, args.plan)))
    return ExitCode.OK
