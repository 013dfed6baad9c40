"""Peak resident memory of the wizard's work, each in a child process of its own (#20 item 5), so
each figure is of that work alone and not of the benchmarks run before it in this process:

- the start screen: ``lync-restore run plans/lab.yaml`` in an 80x24 pseudo-terminal (as
  :mod:`lab.bench.ui` starts it) until the start screen is complete (the plan read, the backend
  built, the unfinished incidents counted); its peak (``VmHWM`` of ``/proc/<pid>/status``) is read
  then, before it is killed;
- the catalogue of 1,100 local daily sets: the catalogue benchmark's own work
  (:func:`lab.bench.catalog.bench_rows`: the sets written, listed, their components recognised, a
  set chosen), in a child that reports its own peak (``VmHWM``: ``ru_maxrss`` would count the
  parent's pages the child held between fork and exec);
- a 10,000-entry journal read, verified and replayed (``replay(read_journal(...))``); the journal
  is written by this process first, so the child's peak is the replay's.

A Python interpreter alone is measured the same way, for scale. Figures in MB (10^6 bytes).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

from lab.bench import ui
from lab.bench.table import Row, write_journal
from wizard.errors import WizardError

#: the child's own peak in KiB: VmHWM belongs to the address space exec made (ru_maxrss would also
#: count the parent's pages the forked child held before exec)
_PEAK = ("import re; print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status', encoding='ascii').read())"
         ".group(1))")

_INTERPRETER = _PEAK

_CATALOGUE = f"""
from lab.bench import catalog
rows = list(catalog.bench_rows(True))  # quick: the 1,100 local sets only, no lab
assert any("1,100" in r.name for r in rows), [r.name for r in rows]
{_PEAK}
"""

_REPLAY = f"""
import sys
from wizard.incident_state import replay
from wizard.journal import read_journal
journal = read_journal(sys.argv[1])
assert len(journal.entries) == int(sys.argv[2]) and journal.intact, len(journal.entries)
replay(journal.entries)
{_PEAK}
"""

#: on the terminal once the start screen is complete (the resume list counted, in a fresh folder)
READY_MARKER = b"Unfinished incidents of this plan: 0"
_MB = 1_000_000


def _child_peak_mb(code: str, *args: str) -> float:
    """Run ``code`` in a fresh interpreter; its last line is its peak resident size in KiB."""
    return int(ui.run_child(code, *args, timeout=600, what="memory")) * 1024 / _MB


def vm_hwm_mb(pid: int) -> float:
    """The process's peak resident set so far (``VmHWM``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / _MB
    raise WizardError(f"/proc/{pid}/status has no VmHWM line")


def start_screen_mb() -> float:
    """``lync-restore run plans/lab.yaml`` up to its complete start screen: its peak, in MB."""
    repo = str(Path(__file__).resolve().parents[2])
    peaks: list[float] = []
    with tempfile.TemporaryDirectory(prefix="lync-bench-memory-") as tmp:
        argv = [*ui.wizard_command(), "--journal-dir", str(Path(tmp) / "journals"), "run", "plans/lab.yaml"]
        ui.time_to_markers(argv, [*ui.WIZARD_MARKERS, READY_MARKER], what="lync-restore run", cwd=repo,
                           timeout=60.0, at_markers=lambda pid: peaks.append(vm_hwm_mb(pid)))
    return peaks[0]


def catalogue_mb() -> float:
    return _child_peak_mb(_CATALOGUE)


def replay_mb(entries: int = 10_000) -> float:
    with tempfile.TemporaryDirectory(prefix="lync-bench-memory-") as tmp:
        path = write_journal(Path(tmp), entries)
        return _child_peak_mb(_REPLAY, str(path), str(entries))


def bench_rows(quick: bool) -> Iterable[Row]:
    base = _child_peak_mb(_INTERPRETER)
    start = start_screen_mb()
    catalogue = catalogue_mb()
    replayed = replay_mb(10_000)
    yield Row("memory: Python interpreter alone (for scale), peak", base, "MB")
    yield Row("memory: `lync-restore run` start screen complete, peak", start, "MB")
    yield Row("memory: catalogue of 1,100 local sets, peak", catalogue, "MB")
    yield Row("memory: journal of 10,000 entries read + replayed, peak", replayed, "MB",
              note=f"Peak resident memory, each in its own process: start screen {start:.1f} MB, 1,100 sets "
                   f"catalogued {catalogue:.1f} MB, 10,000-entry journal replayed {replayed:.1f} MB "
                   f"(the interpreter alone {base:.1f} MB).")
