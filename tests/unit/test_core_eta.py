"""Time left for a step that reports percentages: the pace since the first report."""

from __future__ import annotations

import pytest

from wizard import core_backend


def test_eta_from_the_pace_since_the_first_report(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(core_backend.time, "monotonic", lambda: now[0])
    eta = core_backend._Eta()
    assert eta.remaining_s(10) is None  # one report says nothing about the pace
    now[0] = 110.0
    assert eta.remaining_s(30) == pytest.approx(10 / 20 * 70)  # 20 points in 10 s, 70 to go
    now[0] = 115.0
    assert eta.remaining_s(10) is None  # no progress past the first report: unknown
    assert eta.remaining_s(100) == 0.0
