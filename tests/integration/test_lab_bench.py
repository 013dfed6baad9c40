"""The lab benchmarks run end to end (real clients) and report every figure they promise."""

from __future__ import annotations

import pytest

from lab.bench.runtime import bench_rows
from lab.bench.table import all_benchmarks

pytestmark = pytest.mark.integration


def test_lab_bench_rows_are_measured() -> None:
    rows = list(bench_rows(quick=True))
    names = [r.name for r in rows]
    assert [n.split(" (")[0] for n in names[:2]] == ["lab: Get-CsWindowsService on a reused shell"] * 2
    assert any("connect" in n for n in names) and any("sys.databases" in n for n in names)
    assert names[-1] == "lab: scenario be-lost-unpaired procedure at time factor 600"
    assert all(r.value > 0 for r in rows)
    assert [r.unit for r in rows] == ["ms", "ms", "ms", "ms", "s"]
    assert bench_rows in [fn for _, fn in all_benchmarks()]
