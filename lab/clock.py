"""The lab's sense of time: simulated durations played back faster than real time.

A restore of a 3 GB Archiving database takes minutes on a real SQL Server; a drill or a test
wants the same sequence of events (progress every 10 percent, then success) in a second. Every
long operation of the lab asks this clock to ``sleep(sim_seconds, cancelled)``: the clock waits
``sim_seconds / time_factor`` real seconds, waking early when the operation is cancelled.
``now()`` is the simulated wall clock, so backup dates advance consistently with the drill.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable


class LabClock:
    """Simulated time running ``time_factor`` times faster than real time.

    ``time_factor`` must be positive; ``float('inf')`` makes every sleep instant (unit tests).
    ``start`` anchors ``now()``: the simulated time at the clock's creation (default: real now).
    """

    def __init__(self, time_factor: float = 1.0, *, start: dt.datetime | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 carried: tuple[float, float] = (0.0, 0.0)) -> None:
        if not time_factor > 0:
            raise ValueError("time_factor must be positive")
        self.time_factor = float(time_factor)
        self._monotonic = monotonic
        self._origin = monotonic()
        self._start = start if start is not None else dt.datetime.now().replace(microsecond=0)
        self._lock = threading.Lock()
        self._skipped = 0.0  # simulated seconds added by advance()
        self._sleepers = 0  # operations waiting on the clock now
        self._busy_since = 0.0
        self._busy_real = 0.0  # real seconds with at least one operation waiting
        # a revived lab's clock (lab/runtime.py): the busy real seconds and the work seconds of
        # the lab before it was saved, so a drill's time to restore counts the whole incident
        self._carried_busy, self._carried_work = (max(float(v), 0.0) for v in carried)

    def real_seconds(self, sim_seconds: float) -> float:
        """How long ``sim_seconds`` of simulated time lasts in real time."""
        if sim_seconds <= 0 or self.time_factor == float("inf"):
            return 0.0
        return sim_seconds / self.time_factor

    def sleep(self, sim_seconds: float, cancelled: threading.Event | None = None) -> bool:
        """Let ``sim_seconds`` of simulated time pass. Returns True when it did, False when
        ``cancelled`` was set first (the caller stops and leaves things as a cancel would)."""
        real = self.real_seconds(sim_seconds)
        if real <= 0:
            return cancelled is None or not cancelled.is_set()
        self._busy(+1)
        try:
            if cancelled is None:
                time.sleep(real)
                return True
            return not cancelled.wait(real)
        finally:
            self._busy(-1)

    def _busy(self, delta: int) -> None:
        """Count the operations waiting on the clock; the real time during which at least one
        waits is the lab's work, played faster than life (overlapping waits count once)."""
        with self._lock:
            if delta > 0 and self._sleepers == 0:
                self._busy_since = self._monotonic()
            self._sleepers += delta
            if delta < 0 and self._sleepers == 0:
                self._busy_real += self._monotonic() - self._busy_since

    def busy_real_s(self) -> float:
        """Real seconds during which some operation of the lab was waiting on the clock."""
        with self._lock:
            running = self._monotonic() - self._busy_since if self._sleepers else 0.0
            return self._carried_busy + self._busy_real + running

    def work_s(self) -> float:
        """What the lab's operations would have taken for real: the busy real time scaled back by
        the time factor, plus the time jumped by :meth:`advance` (#19: time to restore)."""
        factor = self.time_factor if self.time_factor != float("inf") else 1.0
        with self._lock:
            skipped = self._skipped
        return (self.busy_real_s() - self._carried_busy) * factor + skipped + self._carried_work

    def advance(self, sim_seconds: float) -> None:
        """Jump simulated time forward without waiting (scenarios: "three hours later")."""
        with self._lock:
            self._skipped += max(sim_seconds, 0.0)

    def now(self) -> dt.datetime:
        """The simulated wall clock."""
        elapsed = self._monotonic() - self._origin
        factor = self.time_factor if self.time_factor != float("inf") else 1.0
        with self._lock:
            skipped = self._skipped
        return self._start + dt.timedelta(seconds=elapsed * factor + skipped)
