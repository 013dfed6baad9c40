"""The probe runner: bounded pool, per-probe timeouts, streaming, probes run through a host."""

from __future__ import annotations

import threading
import time

import pytest

from wizard.assess.events import AssessmentFinished, ProbeFinished, ProbeResult, ProbeStarted
from wizard.assess.runner import Probe, ProbeRunner

pytestmark = pytest.mark.timeout(20)


def _probe(pid: str, delay: float, *, kind: str = "tcp", subject: str | None = None,
           timeout: float = 5.0, ok: bool = True, via: tuple[str, ...] = (),
           release: threading.Event | None = None) -> Probe:
    def fn(via_host: str | None, _timeout: float) -> ProbeResult:
        if release is not None:
            release.wait(delay)
        else:
            time.sleep(delay)
        return ProbeResult(pid, kind, subject or pid, "ok" if ok else "failed",  # type: ignore[arg-type]
                           f"{pid} done", {"via": via_host})
    return Probe(pid, kind, subject or pid, timeout, fn, via)  # type: ignore[arg-type]


def _run(probes: list[Probe], workers: int = 8) -> tuple[list[object], AssessmentFinished]:
    events = list(ProbeRunner(workers).run(probes))
    last = events[-1]
    assert isinstance(last, AssessmentFinished)
    return events, last


def test_probes_run_concurrently_and_stream_in_arrival_order() -> None:
    probes = [_probe(f"p{i}", 0.2) for i in range(16)] + [_probe("fast", 0.0)]
    t0 = time.monotonic()
    events, done = _run(probes, workers=17)
    elapsed = time.monotonic() - t0
    assert elapsed < 1.5, elapsed  # sequential would take 3.2 s
    finished = [e.result.probe_id for e in events if isinstance(e, ProbeFinished)]
    assert finished[0] == "fast"
    assert sorted(finished) == sorted(p.id for p in probes)
    assert [r.probe_id for r in done.results] == [p.id for p in probes]  # plan order kept
    assert all(r.status == "ok" for r in done.results)
    assert sum(isinstance(e, ProbeStarted) for e in events) == len(probes)


def test_pool_is_bounded() -> None:
    busy = 0
    peak = 0
    lock = threading.Lock()

    def fn(_via: str | None, _t: float) -> ProbeResult:
        nonlocal busy, peak
        with lock:
            busy += 1
            peak = max(peak, busy)
        time.sleep(0.05)
        with lock:
            busy -= 1
        return ProbeResult("x", "tcp", "x", "ok", "done")

    probes = [Probe(f"p{i}", "tcp", f"h{i}", 5, fn) for i in range(12)]
    _run(probes, workers=3)
    assert peak == 3


def test_a_hung_probe_times_out_on_its_own_clock_and_does_not_stall_others() -> None:
    never = threading.Event()
    probes = [_probe("hung", 30, timeout=0.4, release=never)]
    probes += [_probe(f"p{i}", 0.1) for i in range(6)]
    t0 = time.monotonic()
    _events, done = _run(probes, workers=2)
    elapsed = time.monotonic() - t0
    never.set()
    hung = next(r for r in done.results if r.probe_id == "hung")
    assert hung.status == "timeout"
    assert "0.4 s" in hung.summary
    assert 0.35 < elapsed < 1.5, elapsed
    # the 6 others still ran two at a time though one worker was stuck: a replacement joined
    assert all(r.status == "ok" for r in done.results if r.probe_id != "hung")
    assert done.abandoned == 1


def test_deployment_probe_runs_through_the_first_host_that_answers() -> None:
    probes = [
        _probe("lync:slow", 0.5, kind="lync_host", subject="slow.example"),
        _probe("lync:quick", 0.05, kind="lync_host", subject="quick.example"),
        _probe("cms", 0.0, kind="cms_scp", subject="cms", via=("slow.example", "quick.example")),
    ]
    events, done = _run(probes)
    cms = next(r for r in done.results if r.probe_id == "cms")
    assert cms.status == "ok" and cms.via == "quick.example"
    order = [e.result.probe_id for e in events if isinstance(e, ProbeFinished)]
    assert order.index("cms") < order.index("lync:slow")


def test_deployment_probe_is_skipped_when_no_candidate_answers() -> None:
    probes = [
        _probe("lync:a", 0.0, kind="lync_host", subject="a.example", ok=False),
        _probe("cms", 0.0, kind="cms_scp", subject="cms", via=("a.example", "b.example")),
    ]
    _events, done = _run(probes)
    cms = next(r for r in done.results if r.probe_id == "cms")
    assert cms.status == "skipped"
    assert "no Front End Server answered" in cms.summary


def test_a_probe_that_breaks_is_reported_not_dropped() -> None:
    def boom(_via: str | None, _t: float) -> ProbeResult:
        raise ValueError("bad data")

    _events, done = _run([Probe("boom", "sql", "be1", 5, boom)])
    assert done.results[0].status == "error"
    assert "ValueError: bad data" in done.results[0].summary


def test_cancel_skips_what_is_left() -> None:
    cancel = threading.Event()
    never = threading.Event()
    probes = [_probe(f"p{i}", 30, release=never) for i in range(4)]
    gen = ProbeRunner(2).run(probes, cancel=cancel)
    first = next(gen)
    assert isinstance(first, ProbeStarted)
    cancel.set()
    rest = list(gen)
    never.set()
    done = rest[-1]
    assert isinstance(done, AssessmentFinished)
    assert {r.status for r in done.results} == {"skipped"}


def test_slow_probes_start_first_and_deadlines_run_from_dispatch() -> None:
    """A WinRM session probe is queued before quick TCP probes, so with a pool of one the
    hung session probe starts at t=0 and times out at its own timeout, not after the others."""
    hang = threading.Event()
    probes = [_probe(f"tcp{i}", 0.05) for i in range(6)] + [
        _probe("lync:hung", 5.0, kind="lync_host", subject="hung", timeout=0.3, release=hang)]
    t0 = time.monotonic()
    events = []
    timed_out_at = None
    for event in ProbeRunner(1).run(probes):
        events.append(event)
        if isinstance(event, ProbeFinished) and event.result.probe_id == "lync:hung":
            timed_out_at = time.monotonic() - t0
    hang.set()
    started = [e.probe_id for e in events if isinstance(e, ProbeStarted)]
    assert started[0] == "lync:hung"
    assert timed_out_at is not None and 0.25 <= timed_out_at < 0.6, timed_out_at
    done = events[-1]
    assert isinstance(done, AssessmentFinished)
    assert {r.probe_id: r.status for r in done.results}["lync:hung"] == "timeout"
    assert [r.probe_id for r in done.results] == [p.id for p in probes]


def test_the_pool_is_sized_to_the_estate() -> None:
    """#20 item 4: every slow probe (a WinRM session, a SQL login) its own worker, the quick ones a
    quarter as many, between 8 and 256: 200 hosts' sessions all start at once."""
    from wizard.assess.runner import MAX_WORKERS, workers_for

    def probes(slow: int, quick: int) -> list[Probe]:
        return ([Probe(f"s{i}", "lync_host", f"h{i}", 1.0, lambda via, t: None) for i in range(slow)]  # type: ignore[arg-type, return-value]
                + [Probe(f"q{i}", "tcp", f"h{i}", 1.0, lambda via, t: None) for i in range(quick)])  # type: ignore[arg-type, return-value]

    assert workers_for(probes(200, 200)) == 250
    assert workers_for(probes(2, 3)) == 8
    assert workers_for(probes(300, 400)) == MAX_WORKERS == 256
    assert workers_for(probes(40, 9)) == 43
