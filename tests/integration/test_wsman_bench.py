"""The benchmark functions run end to end and report sane figures (small n: speed is not tested)."""

from __future__ import annotations

import math

import pytest

from lab.bench.winrm import bench_cmdlet_reused_shell, bench_runner_vs_run_ps

pytestmark = pytest.mark.integration


def _sane(value: float) -> bool:
    return math.isfinite(value) and value > 0


def test_bench_runner_vs_run_ps_reports_both_timings() -> None:
    figures = bench_runner_vs_run_ps(n=3)
    assert set(figures) == {"runner_3_cmds_ms", "run_ps_3_cmds_ms", "runner_over_run_ps_ratio"}
    assert all(_sane(v) for v in figures.values()), figures
    # The ratio is the quotient of the two timings (each rounded for the table); whether the
    # runner is faster is for `lync-restore bench` to show, not for a test to assert.
    assert figures["runner_over_run_ps_ratio"] == pytest.approx(
        figures["runner_3_cmds_ms"] / figures["run_ps_3_cmds_ms"], rel=0.05)


def test_bench_cmdlet_reused_shell_reports_median() -> None:
    figures = bench_cmdlet_reused_shell(repeats=5, auth="ntlm")
    assert set(figures) == {"cmdlet_reused_shell_ntlm_median_ms", "cmdlet_reused_shell_ntlm_p90_ms"}
    median = figures["cmdlet_reused_shell_ntlm_median_ms"]
    p90 = figures["cmdlet_reused_shell_ntlm_p90_ms"]
    assert _sane(median) and _sane(p90) and median <= p90
