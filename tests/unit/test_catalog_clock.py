"""The catalogue compares set times (naive, from folder names) with aware or naive clocks alike
(an aware clock once made every live backup-set stage fail with a TypeError)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.conftest import REPO
from wizard.catalog.discover import list_sets
from wizard.catalog.recommend import overview
from wizard.plan import load_plan


def test_aware_and_naive_now_give_the_same_ages(tmp_path: Path) -> None:
    plan = load_plan(REPO / "plans" / "example-standard.yaml").plan
    (tmp_path / "2026-11-24_0200").mkdir()
    listing = list_sets(tmp_path, plan.backup.layout, plan.backup.locations[0].unc)
    aware = dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC)
    a = overview(plan, listing, "se-restore", aware)
    b = overview(plan, listing, "se-restore", aware.replace(tzinfo=None))
    assert [v.age for v in a] == [v.age for v in b] == [dt.timedelta(hours=25)]
