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
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if not time_factor > 0:
            raise ValueError("time_factor must be positive")
        self.time_factor = float(time_factor)
        self._monotonic = monotonic
        self._origin = monotonic()
        self._start = start if start is not None else dt.datetime.now().replace(microsecond=0)
        self._lock = threading.Lock()
        self._skipped = 0.0  # simulated seconds added by advance()

    def real_seconds(self, sim_seconds: float) -> float:
        """How long ``sim_seconds`` of simulated time lasts in real time."""
        if sim_seconds <= 0 or self.time_factor == float("inf"):
            return 0.0
        return sim_seconds / self.time_factor

    def sleep(self, sim_seconds: float, cancelled: threading.Event | None = None) -> bool:
        """Let ``sim_seconds`` of simulated time pass. Returns True when it did, False when
        ``cancelled`` was set first (the caller stops and leaves things as a cancel would)."""
        real = self.real_seconds(sim_seconds)
        if cancelled is None:
            if real > 0:
                time.sleep(real)
            return True
        if real <= 0:
            return not cancelled.is_set()
        return not cancelled.wait(real)

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
