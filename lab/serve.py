"""``lync-restore lab serve``: run a scenario in the foreground until interrupted.

With ``--wall-clock`` the lab starts at the real time (UTC, naive, as backup set folder names are)
instead of its epoch, so the sets are dated from the last nights, and its clock runs at real
speed unless ``--time-factor`` says otherwise (a readiness check ages sets against the wall clock).

``--latency-ms N`` delays every WinRM and SQL answer by N ms (one way: a round trip costs it once,
:mod:`lab.latency`); ``--latency-ms HOST=N`` sets one host's own (repeatable). Given, it replaces
the scenario's ``network:`` block.

With ``--json`` it prints exactly one line, a JSON object with the WinRM URLs, the SQL
endpoints, the user names and passwords and the plan to use, so a script or a test can start
the lab as a subprocess and read how to reach it. SIGINT and SIGTERM stop it cleanly.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from wizard.errors import UsageError

if TYPE_CHECKING:
    from lab.latency import Latency


def parse_latency(values: Sequence[str]) -> Latency:
    """``--latency-ms`` values: ``N`` (every host) and ``HOST=N`` (one host), in milliseconds."""
    from lab.latency import Latency

    default = 0.0
    hosts: dict[str, float] = {}
    for value in values:
        host, _, ms = value.rpartition("=")
        try:
            number = float(ms)
        except ValueError:
            number = -1.0
        if not number >= 0 or (host == "" and "=" in value):
            raise UsageError(f"--latency-ms {value}: give milliseconds (N, at least 0) or HOST=N.")
        if host:
            hosts[host] = number
        else:
            default = number
    return Latency.ms(default, hosts)


def serve_command(args: argparse.Namespace) -> int:
    from lab.runtime import LabRuntime
    from lab.scenarios import scenario

    try:
        chosen = scenario(args.scenario)
    except KeyError:
        raise UsageError(f"There is no lab scenario named {args.scenario!r}; "
                         "'lync-restore scenarios' lists them.") from None
    wall_clock = bool(getattr(args, "wall_clock", False))
    factor = float(getattr(args, "time_factor", None) or (1.0 if wall_clock else 60.0))
    if not factor > 0:
        raise UsageError("The time factor must be a positive number.")
    given = getattr(args, "latency_ms", None)
    latency = parse_latency(given) if given else None
    state_dir = Path(args.state_dir) if getattr(args, "state_dir", None) else None
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with LabRuntime(chosen, state_dir=state_dir, time_factor=factor, wall_clock=wall_clock,
                        latency=latency) as lab:
            if getattr(args, "json", False):
                sys.stdout.write(json.dumps(lab.info(), sort_keys=True) + "\n")
            else:
                sys.stdout.write(f"Lab scenario {chosen.name}: {chosen.summary}\n"
                                 f"Plan: {lab.plan_path}\n"
                                 f"{len(lab.wsman)} WinRM hosts, {len(lab.tds)} SQL instances "
                                 "on 127.0.0.1"
                                 + (f", answers delayed {lab.latency.describe()}" if lab.latency else "")
                                 + ". Ctrl+C stops.\n")
            sys.stdout.flush()
            while not stop.wait(0.2):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
