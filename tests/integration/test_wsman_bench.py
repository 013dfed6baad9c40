"""The benchmark functions run end to end and report sane figures (small n: speed is not tested)."""

from __future__ import annotations

import pytest

from lab.bench.winrm import bench_cmdlet_reused_shell, bench_runner_vs_run_ps

pytestmark = pytest.mark.integration


def test_bench_runner_vs_run_ps_reports_both_timings() -> None:
    figures = bench_runner_vs_run_ps(n=3)
    assert set(figures) == {"runner_3_cmds_ms", "run_ps_3_cmds_ms", "runner_over_run_ps_ratio"}
    assert figures["runner_3_cmds_ms"] > 0 and figures["run_ps_3_cmds_ms"] > 0
    # Reusing one shell must beat a new shell + connection per command, even with n=3.
    assert figures["runner_over_run_ps_ratio"] < 1


def test_bench_cmdlet_reused_shell_reports_median() -> None:
    figures = bench_cmdlet_reused_shell(repeats=5, auth="ntlm")
    median = figures["cmdlet_reused_shell_ntlm_median_ms"]
    assert 0 < median <= figures["cmdlet_reused_shell_ntlm_p90_ms"] < 1000
