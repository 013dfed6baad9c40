"""``lync-restore validate`` and ``lync-restore check``: plan commands for people and schedulers."""

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
        lines.append(f"Backup:  {loc.unc} ({how})")
    lines.append(f"Targets: RPO {plan.objectives.rpo}, RTO {plan.objectives.rto}; "
                 f"{len(plan.custom_steps)} custom steps; {len(plan.contacts)} contacts")
    return lines


def validate_command(args: argparse.Namespace) -> int:
    loaded = load_plan(args.plan)
    print("\n".join(summary(loaded.plan, args.plan)))
    return ExitCode.OK


def check_command(args: argparse.Namespace) -> int:
    """Readiness for schedulers: the plan is valid and its newest backup set is within the RPO.

    Locations mounted on this machine (``local_path``) are listed; a location read only through a
    host (``read_via``) needs credentials and a WinRM session, which a scheduler's check does not
    open: it is reported as not checked. Exit 0 when ready, 1 when a set is missing or too old.
    """
    import datetime as dt

    from wizard.catalog.discover import CatalogError, list_sets

    loaded = load_plan(args.plan)
    plan = loaded.plan
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # set folder names are UTC, naive
    print(f"{args.plan}: plan valid for {plan.organisation.name}")
    problems = 0
    for loc in plan.backup.locations:
        if not loc.local_path:
            print(f"{loc.unc}: not checked (listed through {loc.read_via or 'no host'}; needs a session)")
            continue
        try:
            listing = list_sets(loc.local_path, plan.backup.layout, loc.unc)
        except CatalogError as exc:
            print(f"{loc.unc}: NOT READY: {exc.message}")
            problems += 1
            continue
        if not listing.sets:
            print(f"{loc.unc}: NOT READY: no backup set in {loc.local_path}")
            problems += 1
            continue
        newest = listing.sets[0]
        age_s = (now - newest.created).total_seconds()
        hours = age_s / 3600
        if age_s > plan.objectives.rpo.seconds:
            print(f"{loc.unc}: NOT READY: the newest set {newest.name} is {hours:.1f} h old, over the "
                  f"RPO of {plan.objectives.rpo}")
            problems += 1
        else:
            print(f"{loc.unc}: newest set {newest.name}, {hours:.1f} h old (RPO {plan.objectives.rpo}); "
                  f"{len(listing.sets)} sets")
    return ExitCode.FAILED if problems else ExitCode.OK
