"""#20 items 3 and 5: ``bench --only stages --only memory`` prints the requests and wall time of
each stage at 0 and 50 ms, and the peak memory figures, as numbers (never a figure judged)."""

from __future__ import annotations

import re
import subprocess
import sys

from lab.bench import memory, stages
from lab.bench.table import all_benchmarks
from tests.conftest import REPO

_ROW = re.compile(r"^(?P<name>.{64}) +(?P<value>[0-9][0-9,]*(?:\.[0-9]+)?) (?P<unit>\S+)")


def test_bench_only_stages_and_memory_prints_every_row_as_a_number() -> None:
    assert ("stages", stages.bench_rows) in all_benchmarks() and ("memory", memory.bench_rows) in all_benchmarks()
    proc = subprocess.run([sys.executable, "-m", "wizard", "bench", "--quick", "--only", "stages", "--only", "memory"],
                          capture_output=True, text=True, cwd=REPO, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {}
    for line in proc.stdout.splitlines()[2:]:
        m = _ROW.match(line)
        if m:
            rows[m["name"].rstrip()] = (float(m["value"].replace(",", "")), m["unit"])
    for stage in stages.STAGES:
        for ms in (0, 50):
            where = f"stage {stage}, {ms} ms"
            winrm, tds = rows[f"{where}: WinRM requests"], rows[f"{where}: TDS requests"]
            wall = rows[f"{where}: wall time"]
            assert winrm[1] == tds[1] == "requests" and wall[1] == "ms"
            assert wall[0] > 0
            assert winrm[0] + tds[0] > 0, where  # every stage asks the lab something
    assert rows["stage assessment, 50 ms: TDS requests"][0] > 0  # the probes reach SQL Server too
    for name in ("memory: Python interpreter alone (for scale), peak",
                 "memory: `lync-restore run` start screen complete, peak",
                 "memory: catalogue of 1,100 local sets, peak",
                 "memory: journal of 10,000 entries read + replayed, peak"):
        assert rows[name][1] == "MB" and rows[name][0] > 0, name
    assert "Per stage, be-lost-unpaired through the real core" in proc.stdout
    assert "Peak resident memory, each in its own process" in proc.stdout
