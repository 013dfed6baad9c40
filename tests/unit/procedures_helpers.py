"""Shared helpers of the procedure tests: every composable procedure over the shipped plans."""

from __future__ import annotations

from collections.abc import Iterator

from tests.conftest import REPO
from wizard.plan import load_plan
from wizard.plan.model import Plan
from wizard.procedures.compose import CompositionError, Procedure, compose
from wizard.recovery_paths import PATHS

#: every plan shipped in plans/ (the examples and the lab's)
SHIPPED = tuple(sorted(p.name for p in (REPO / "plans").glob("*.yaml")))


def shipped_plans() -> Iterator[tuple[str, Plan]]:
    for name in SHIPPED:
        yield name, load_plan(REPO / "plans" / name).plan


def every_procedure() -> Iterator[Procedure]:
    """Every path for every pool (and every server for member-rebuild) that composes."""
    for _, plan in shipped_plans():
        pools = [p.fqdn for p in plan.topology.pools]
        for path in PATHS:
            if path.id == "member-rebuild":
                targets = [dict(server=s) for s in plan.all_servers()]
            elif path.id in ("abc-failover", "cms-move"):
                targets = [dict(pool=a, new_pool=c) for a in [None, *pools] for c in pools if c != a]
            else:
                targets = [dict(pool=p) for p in [None, *pools]]
            # and with the CMS already failed over to the CMS pool's partner (§6.15 step 7)
            moved = plan.cms_pool.paired_with
            targets += [dict(t, cms_at=moved) for t in targets] if moved else []
            for kw in targets:
                try:
                    yield compose(plan, path.id, backup_set="2026-11-24_0100", **kw)  # type: ignore[arg-type]
                except CompositionError:
                    continue
