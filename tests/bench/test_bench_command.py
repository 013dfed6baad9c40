"""The benchmark command prints its table (figures, not pass/fail on speed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lab.bench.table import generated_plan
from tests.conftest import REPO


def test_generated_plan_is_valid_and_has_500_servers(tmp_path: object) -> None:
    from pathlib import Path

    from wizard.plan import load_plan

    path = Path(str(tmp_path)) / "p.yaml"
    path.write_text(generated_plan(500))
    plan = load_plan(path).plan
    assert len(plan.all_servers()) == 500
    assert all(p.paired_with for p in plan.topology.pools)


@pytest.mark.slow
def test_bench_quick_prints_a_table() -> None:
    proc = subprocess.run([sys.executable, "-m", "wizard", "bench", "--quick"], capture_output=True,
                          text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:3] == ["benchmark", "value", "unit"]
    names = "\n".join(lines)
    for expected in ("plan load + validation, 500 servers", "journal append, fsync per entry",
                     "journal verify + replay, 10,000 entries"):
        assert expected in names
