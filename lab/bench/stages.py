"""Requests and wall time per stage of an incident, at the latency of a real network (#20 item 3).

On loopback every round trip is free, so time alone hides how the wizard's cost grows with the
network. This benchmark plays one drill (:data:`SCENARIO`) through the real core, as the wizard
does (:class:`~lab.drill.LabDrill`: :class:`~wizard.incident.IncidentSession` over
:class:`~wizard.core_backend.CoreBackend`, pywinrm and pyodbc to the lab's listeners), once with
no delay and once with every answer delayed :data:`LATENCIES_MS` (:mod:`lab.latency`), on a fresh
lab each time. For each stage it reports the requests that arrived at the lab's listeners (WinRM
HTTP requests and TDS client messages, counted where they arrive: ``LabRuntime.requests``) and the
wall time:

- the assessment of the lab (``probe``, the questions answered as the briefing says, ``recommend``);
- the catalogue of the backup locations the path reads (``backup_sets``);
- the pre-flight before the first step (Get-Command and share reads on every server, RESTORE
  HEADERONLY by each restoring instance);
- one restore step: the first composed step that is not work by hand (the ones before it done by
  the lab's hands, as in a drill, unmeasured);
- one §7 check: the first check ``verify`` reports, after the rest of the procedure ran unmeasured.

Whatever the core does at the time it runs is what is measured: figures, never a goal asserted.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from lab.bench.table import Row

#: the drill measured: a lost Back End of an unpaired pool (§6.4): the catalogue, a rebuilt SQL
#: Server, Install-CsDatabase, the user data imported, then the §7 checks of the pool
SCENARIO = "be-lost-unpaired"
LATENCIES_MS = (0, 50)
STAGES = ("assessment", "catalogue", "pre-flight", "one restore step", "one §7 check")
TIME_FACTOR = 600.0

T = TypeVar("T")


@dataclass(frozen=True)
class Measured:
    stage: str
    winrm: int
    tds: int
    seconds: float
    what: str = ""  # which step or check, for the closing note


def play(latency_ms: float, journal_dir: Path) -> list[Measured]:
    """One drill of :data:`SCENARIO` with every answer delayed ``latency_ms``; each stage measured."""
    from lab.drill import BRIEFINGS, DRILL_PARTNER, LabDrill
    from lab.latency import Latency
    from wizard.incident import IncidentSession, PathChoice, StepFailed

    drill = LabDrill(SCENARIO, time_factor=TIME_FACTOR)
    drill.lab.set_latency(Latency.ms(latency_ms))  # before the listeners start: every one delayed
    out: list[Measured] = []
    with drill:
        lab = drill.lab
        assert drill.loaded is not None

        def measure(stage: str, fn: Callable[[], T], what: str = "") -> T:
            winrm0, tds0 = lab.requests()
            t0 = time.perf_counter()
            result = fn()
            seconds = time.perf_counter() - t0
            winrm1, tds1 = lab.requests()
            out.append(Measured(stage, winrm1 - winrm0, tds1 - tds0, seconds, what))
            return result

        session = IncidentSession.start(lab.plan_path, operator="bench", incident=f"BENCH-{latency_ms:g}ms",
                                        mode="drill", journal_dir=journal_dir, backend=drill.backend,
                                        loaded=drill.loaded)
        cancel = threading.Event()
        try:
            session.change_stage("assessment")
            briefing = BRIEFINGS.get(SCENARIO, {})

            def assess() -> PathChoice:
                probes = list(session.probe(cancel))
                given = {}
                for q in session.questions():
                    given[q.id] = briefing.get(q.id, "unknown")
                    session.answer(q, given[q.id])
                return session.recommend(probes, given)

            rec = measure("assessment", assess)
            session.choose_path(rec, rec.recommended.path_id)
            session.change_stage("backup_set")
            choice = measure("catalogue", session.backup_sets)
            if choice.recommended is None:
                raise AssertionError(f"{SCENARIO}: the catalogue recommends no set ({choice.reason})")
            session.choose_backup_set(choice, choice.recommended, now=drill.now())
            session.change_stage("restore")
            steps = list(session.compose())
            first = next(i for i, s in enumerate(steps) if s.manual is None)
            measure("pre-flight", session.preflight)

            def run(index: int) -> None:  # work by hand: the drill's hands do it (lab/hands.py)
                step = steps[index]
                if step.destructive:
                    session.confirm_destructive(step, step.confirmation,
                                                DRILL_PARTNER if step.second_operator else None)
                for event in session.run_step(step, cancel):
                    if isinstance(event, StepFailed):
                        raise AssertionError(f"{SCENARIO}: step {step.step_id} failed: {event.message}")

            for index in range(first):  # unmeasured: the organisation's and the trainee's work by hand
                run(index)
            measure("one restore step", lambda: run(first), steps[first].step_id)
            for index in range(first + 1, len(steps)):  # the rest of the procedure, unmeasured
                run(index)
            session.change_stage("verify")
            checks = session.verify()
            check = measure("one §7 check", lambda: next(checks))
            getattr(checks, "close", lambda: None)()  # a generator: the other checks are not run
            out[-1] = Measured(out[-1].stage, out[-1].winrm, out[-1].tds, out[-1].seconds, check.check_id)
        finally:
            session.detach()
    return out


def bench_rows(quick: bool) -> Iterable[Row]:
    """The rows, stage by stage: WinRM requests, TDS requests and wall time at each latency."""
    runs: dict[float, list[Measured]] = {}
    with tempfile.TemporaryDirectory(prefix="lync-bench-stages-") as tmp:
        for ms in LATENCIES_MS:
            runs[ms] = play(ms, Path(tmp) / f"{ms:g}ms")
    notes = []
    last = len(STAGES) * len(LATENCIES_MS) * 3
    for i, stage in enumerate(STAGES):
        parts = [f"{runs[ms][i].winrm} WinRM + {runs[ms][i].tds} TDS requests, "
                 f"{runs[ms][i].seconds * 1000:,.0f} ms at {ms:g} ms" for ms in LATENCIES_MS]
        what = f" ({runs[LATENCIES_MS[0]][i].what})" if runs[LATENCIES_MS[0]][i].what else ""
        notes.append(f"  {stage}{what}: " + "; ".join(parts))
    note = (f"Per stage, {SCENARIO} through the real core, every answer delayed "
            f"{' and then '.join(f'{ms:g}' for ms in LATENCIES_MS)} ms (one way, once per answer):\n"
            + "\n".join(notes))
    n = 0
    for i, stage in enumerate(STAGES):
        for ms in LATENCIES_MS:
            m = runs[ms][i]
            where = f"stage {stage}, {ms:g} ms"
            yield Row(f"{where}: WinRM requests", m.winrm, "requests")
            yield Row(f"{where}: TDS requests", m.tds, "requests")
            n += 3
            yield Row(f"{where}: wall time", m.seconds * 1000, "ms", note=note if n == last else "")
