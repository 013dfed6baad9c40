"""Runs probes concurrently on a bounded pool of threads, each with its own timeout.

Why not ``concurrent.futures``: a probe blocked in a socket read cannot be interrupted, and an
executor joins its threads at interpreter exit, so one hung host would hold the wizard (and its
exit) hostage. Here each probe's deadline is watched by the caller's loop: when it passes, a
``timeout`` result is emitted at once, the busy worker is *abandoned* (a daemon thread, its
late answer ignored, it exits when its call returns) and a fresh worker takes its place, so
the pool keeps its size and the other hosts are not slowed. A probe is handed to a worker only
when one is idle, and its timeout runs from that moment: a busy prober (hundreds of threads
sharing one interpreter lock) may take a while to *schedule* the worker, but a hung host's
probe still ends at its timeout, not at its timeout plus the time the others kept the CPU.
Results stream out as events in the order they arrive (:mod:`wizard.assess.events`).

Deployment-wide probes (the CMS, file stores, pairing) run *through* a Front End whose WinRM
session works; they wait until the first of their candidate hosts has answered its own host
probe and then start on it, without waiting for the slower or hung hosts.
"""

from __future__ import annotations

import dataclasses
import heapq
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from wizard.assess.events import (
    AssessEvent,
    AssessmentFinished,
    ProbeFinished,
    ProbeKind,
    ProbeResult,
    ProbeStarted,
)

#: A probe body: (host to run through or None, the probe's timeout in seconds) -> result.
ProbeFn = Callable[[str | None, float], ProbeResult]

DEFAULT_WORKERS = 64

#: Probe kinds that take several network round trips; they are started before the others.
SLOW_KINDS = frozenset({"lync_host", "sql"})


#: The most threads an assessment uses, however large the estate.
MAX_WORKERS = 256


def workers_for(probes: Sequence[Probe], ceiling: int = MAX_WORKERS) -> int:
    """A pool sized to the estate: every slow probe (several round trips: a WinRM session, a SQL
    login) gets a worker of its own, so each host's latency is paid once and in parallel with the
    others; the quick probes (DNS, TCP) share a quarter as many. Between 8 and ``ceiling``: 200
    hosts at 150 ms an answer are assessed in about the time of one host (#20 item 4)."""
    slow = sum(1 for p in probes if p.kind in SLOW_KINDS)
    quick = len(probes) - slow
    return max(8, min(ceiling, slow + -(-quick // 4)))


@dataclass(frozen=True)
class Probe:
    """One check to run. ``via_candidates`` (host FQDNs, preferred first) makes it a
    deployment probe that runs through the first candidate with a working WinRM session."""

    id: str
    kind: ProbeKind
    subject: str
    timeout_s: float
    fn: ProbeFn
    via_candidates: tuple[str, ...] = ()


def session_host(result: ProbeResult) -> str | None:
    """The host a result proves reachable over WinRM (a successful ``lync_host`` probe)."""
    return result.subject if result.kind == "lync_host" and result.ok else None


class ProbeRunner:
    """Runs probes with at most ``workers`` threads busy on live probes."""

    def __init__(self, workers: int = DEFAULT_WORKERS, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if workers < 1:
            raise ValueError("a probe pool needs at least one worker")
        self.workers = workers
        self._clock = clock

    def run(self, probes: Iterable[Probe], *,
            cancel: threading.Event | None = None) -> Iterator[AssessEvent]:
        """Yield :class:`ProbeStarted`/:class:`ProbeFinished` as they happen, then one
        :class:`AssessmentFinished`. Setting ``cancel`` ends the run: probes without a result
        are reported ``skipped``."""
        run = _Run(list(probes), self.workers, self._clock, cancel)
        yield from run.events()


class _Run:
    def __init__(self, probes: Sequence[Probe], workers: int, clock: Callable[[], float],
                 cancel: threading.Event | None) -> None:
        ids = [p.id for p in probes]
        if len(set(ids)) != len(ids):
            raise ValueError("probe ids must be unique")
        self.probes = {p.id: p for p in probes}
        self.order = ids
        self.workers = workers
        self.clock = clock
        self.cancel = cancel
        self.jobs: queue.SimpleQueue[tuple[Probe, str | None] | None] = queue.SimpleQueue()
        self.inbox: queue.SimpleQueue[tuple[str, str, float, ProbeResult | None]] = (
            queue.SimpleQueue())
        self.abandoned: set[str] = set()
        self.closed = threading.Event()
        self.lock = threading.Lock()
        self.live_workers = 0
        self.idle = 0  # workers waiting for a job (only the main loop changes it)
        self.pending: deque[tuple[Probe, str | None]] = deque()
        self.results: dict[str, ProbeResult] = {}
        self.deadlines: dict[str, float] = {}
        #: (deadline, probe id), soonest first; entries of finished probes are dropped lazily, so
        #: the main loop does O(log n) per event instead of sorting every deadline (it shares the
        #: interpreter lock with hundreds of probing threads)
        self.due: list[tuple[float, str]] = []
        self.vias: dict[str, str | None] = {}
        self.waiting: list[Probe] = [p for p in probes if p.via_candidates]
        self.usable: list[str] = []
        self.session_probe = {p.subject.lower(): p.id for p in probes if p.kind == "lync_host"}

    # -- workers -----------------------------------------------------------------------------
    def _spawn(self) -> None:
        with self.lock:
            self.live_workers += 1
        threading.Thread(target=self._work, name="assess-probe", daemon=True).start()

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                break
            probe, via = job
            if self.closed.is_set():
                continue  # the run ended (cancelled) before this probe started
            started = self.clock()
            self.inbox.put(("started", probe.id, started, None))
            try:
                result = probe.fn(via, probe.timeout_s)
            except Exception as exc:  # reported as an "error" result, never dropped
                result = ProbeResult(
                    probe.id, probe.kind, probe.subject, "error",
                    f"The {probe.kind} probe of {probe.subject} failed inside the wizard "
                    f"({type(exc).__name__}: {exc}).")
            result = dataclasses.replace(result, probe_id=probe.id,
                                         duration_s=self.clock() - started, via=via)
            self.inbox.put(("done", probe.id, self.clock(), result))
            with self.lock:
                if probe.id in self.abandoned:
                    break  # a replacement took this worker's place
        with self.lock:
            self.live_workers -= 1

    def _submit(self, probe: Probe, via: str | None) -> None:
        self.vias[probe.id] = via
        self.pending.append((probe, via))
        self._dispatch()

    def _dispatch(self) -> None:
        """Hand pending probes to idle workers; each probe's deadline starts now."""
        while self.idle > 0 and self.pending:
            probe, via = self.pending.popleft()
            self.idle -= 1
            deadline = self.clock() + probe.timeout_s
            self.deadlines[probe.id] = deadline
            heapq.heappush(self.due, (deadline, probe.id))
            self.jobs.put((probe, via))

    # -- main loop ---------------------------------------------------------------------------
    def events(self) -> Iterator[AssessEvent]:
        t0 = self.clock()
        # The slow probes (a WinRM session, a SQL login: several round trips each) are queued
        # first, so every host's slow probe starts at once and a hung host's timeout runs from
        # t=0 instead of after the quick TCP and DNS probes have saturated the pool.
        direct = sorted((self.probes[i] for i in self.order if not self.probes[i].via_candidates),
                        key=lambda p: p.kind not in SLOW_KINDS)
        for _ in range(min(self.workers, max(1, len(self.probes)))):
            self._spawn()
            self.idle += 1
        for probe in direct:
            self._submit(probe, None)
        try:
            yield from self._release_waiting()
            while len(self.results) < len(self.probes):
                if self.cancel is not None and self.cancel.is_set():
                    yield from self._cancel_rest()
                    break
                wait = self._next_wait()
                try:
                    kind, pid, _at, result = self.inbox.get(timeout=wait)
                except queue.Empty:
                    yield from self._expire()
                    continue
                if kind == "done" and pid not in self.abandoned:
                    self.idle += 1  # its worker waits for the next job
                if pid in self.results:
                    continue  # a late answer from an abandoned probe
                probe = self.probes[pid]
                if kind == "started":
                    yield ProbeStarted(pid, probe.kind, probe.subject, self.vias.get(pid))
                elif result is not None:
                    yield from self._finish(result)
                yield from self._expire()
                self._dispatch()
        finally:
            self.closed.set()
            with self.lock:
                live = self.live_workers
            for _ in range(live):
                self.jobs.put(None)
        ordered = tuple(self.results[i] for i in self.order)
        yield AssessmentFinished(ordered, self.clock() - t0, len(self.abandoned))

    def _soonest(self) -> float | None:
        """The nearest deadline of a probe still running (finished ones are dropped here)."""
        while self.due and self.due[0][1] not in self.deadlines:
            heapq.heappop(self.due)
        return self.due[0][0] if self.due else None

    def _next_wait(self) -> float | None:
        waits: list[float] = []
        soonest = self._soonest()
        if soonest is not None:
            waits.append(max(0.0, soonest - self.clock()))
        if self.cancel is not None:
            waits.append(0.05)
        return min(waits) if waits else None

    def _finish(self, result: ProbeResult) -> Iterator[AssessEvent]:
        self.results[result.probe_id] = result
        self.deadlines.pop(result.probe_id, None)
        yield ProbeFinished(result)
        host = session_host(result)
        if host is not None:
            self.usable.append(host.lower())
        if result.kind == "lync_host":
            yield from self._release_waiting()

    def _release_waiting(self) -> Iterator[AssessEvent]:
        still: list[Probe] = []
        for probe in self.waiting:
            candidates = [c.lower() for c in probe.via_candidates]
            usable = [c for c in candidates if c in self.usable]
            if usable:
                self._submit(probe, usable[0])
                continue
            open_ = [c for c in candidates
                     if c in self.session_probe and self.session_probe[c] not in self.results]
            if open_:
                still.append(probe)
                continue
            yield from self._finish(ProbeResult(
                probe.id, probe.kind, probe.subject, "skipped",
                f"The {probe.kind.replace('_', ' ')} check of {probe.subject} did not run: no "
                "Front End Server answered over WinRM to run it on."))
        self.waiting = still

    def _expire(self) -> Iterator[AssessEvent]:
        now = self.clock()
        while (soonest := self._soonest()) is not None and soonest <= now:
            _, pid = heapq.heappop(self.due)
            if pid in self.results:
                continue
            probe = self.probes[pid]
            with self.lock:
                self.abandoned.add(pid)
            self._spawn()  # keep the pool at full strength
            self.idle += 1
            via = self.vias.get(pid)
            through = f" (through {via})" if via else ""
            yield from self._finish(ProbeResult(
                pid, probe.kind, probe.subject, "timeout",
                f"The {probe.kind.replace('_', ' ')} check of {probe.subject}{through} gave no "
                f"answer within {probe.timeout_s:g} s.",
                duration_s=probe.timeout_s, via=via))
        self._dispatch()

    def _cancel_rest(self) -> Iterator[AssessEvent]:
        for pid in self.order:
            if pid in self.results:
                continue
            probe = self.probes[pid]
            with self.lock:
                self.abandoned.add(pid)
            yield from self._finish(ProbeResult(
                pid, probe.kind, probe.subject, "skipped",
                f"The {probe.kind.replace('_', ' ')} check of {probe.subject} was cancelled."))
        self.waiting = []
        self.pending.clear()
