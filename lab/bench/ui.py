"""UI benchmarks, each in fresh subprocesses (the core never imports Textual: the children do).

- Time to the first interactive frame of the wizard against a bare Textual hello world, in the
  same run (issue 7 goal: at most 1.25 times). Each child starts a clock before importing
  anything, runs its app headless (``run_test``) at 80x24, and prints the milliseconds from start
  to the first refresh after its first screen's ``on_mount`` (the hello world: the app's; the
  wizard: the start screen's, with the operator field focused). The wizard child builds what
  ``lync-restore run PLAN`` builds (:class:`~wizard.app_entry.PlanReader`: the plan is read and
  the real backend built by the app's worker after that frame) and also reports when the start
  screen is complete (plan summary and unfinished incidents shown).
- Key-press latency while a restore streams 1,000 lines a second (goal: under 100 ms). The child
  opens a real :class:`~wizard.incident.IncidentSession` (journaled, fsync per entry) on a
  Backend double defined in the child, whose ``run_step`` streams 1,000 ``OutputLine`` events a
  second; the restore screen runs the step with ``r``; meanwhile a key with a no-op binding is
  posted to the app the way the terminal driver posts it, every 20-40 ms, and the time from the
  post to the binding's handler is recorded.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lab.bench.table import Row
from wizard.errors import WizardError

_HELLO = """
import time; t0 = time.perf_counter()
import asyncio
from textual.app import App
from textual.widgets import Static
class Hello(App):
    def compose(self):
        yield Static("hello")
    def on_mount(self):
        self.call_after_refresh(lambda: DONE.append(time.perf_counter() - t0))
DONE = []
async def main():
    app = Hello()
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(1000):
            if DONE:
                break
            await asyncio.sleep(0.005)
    print(DONE[0] * 1000)
asyncio.run(main())
"""

_WIZARD = """
import time; t0 = time.perf_counter()
import asyncio, sys
from pathlib import Path
import wizard.cli  # what the lync-restore console script imports first
from wizard.app_entry import PlanReader, build_app, bundled_plan
from wizard.opening import Opening
from wizard.remote.prompt import PromptBridge
from screens.start import StartScreen
FIRST, READY = [], []
# The same hook as the hello world's: the screen's mount handler, then its next refresh.
shown, mounted = StartScreen.show_ready, StartScreen.on_mount
def on_mount(self):
    mounted(self)
    self.call_after_refresh(lambda: FIRST.append(time.perf_counter() - t0))
async def show_ready(self, ready):
    await shown(self, ready)
    self.call_after_refresh(lambda: READY.append(time.perf_counter() - t0))
StartScreen.on_mount, StartScreen.show_ready = on_mount, show_ready
async def main():
    # what `lync-restore run PLAN` builds: the app's worker reads the plan and builds the real
    # backend after the first frame
    bridge = PromptBridge()
    reader = PlanReader(bundled_plan(), bridge)
    app = build_app(Opening(reader, "lab.yaml", Path(sys.argv[1]), "bench", "INC-BENCH", "drill"), bridge)
    async with app.run_test(size=(80, 24)):
        for _ in range(6000):
            if READY:
                break
            await asyncio.sleep(0.005)
        assert app.focused is not None and app.focused.id == "operator", "the operator field has no focus"
    reader.close()
    print(FIRST[0] * 1000, READY[0] * 1000)
asyncio.run(main())
"""


_LATENCY = r"""
import asyncio, datetime as dt, json, random, statistics, sys, threading, time
from pathlib import Path
from textual import events
from textual.binding import Binding
from screens.app import WizardApp, screen_for
from wizard.app_entry import bundled_plan
from wizard.incident import (BackupChoice, IncidentSession, OutputLine, PathOption, PathChoice, StepDone,
                             StepView)
from wizard.opening import Opening, loaded_source
from wizard.plan import load_plan

RATE, SECONDS, BATCH = int(sys.argv[2]), float(sys.argv[3]), 10
STREAMED = []

class StreamingBackend:
    # A Backend double: one composed step whose run_step streams RATE lines a second.
    def probe(self, loaded, cancel):
        return iter(())
    def questions(self, loaded):
        return ()
    def recommend(self, loaded, probes, answers):
        return PathChoice(PathOption("be-restore", "Restore the back end", "bench"))
    def backup_sets(self, loaded, path_id):
        return BackupChoice((), None, "none")
    def compose(self, loaded, path_id, backup_set):
        return [StepView("bench-stream", "Stream output", "bench", "6.4", "bench01", ("Write-Output 1..n",))]
    def run_step(self, loaded, step, cancel):
        start = time.perf_counter()
        n = 0
        while not cancel.is_set() and n < RATE * SECONDS:
            due = start + n / RATE
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            for _ in range(BATCH):
                n += 1
                yield OutputLine(step.step_id, f"line {n:07d} of the restore output, streamed at {RATE}/s")
        STREAMED.append((n, time.perf_counter() - start))
        yield StepDone(step.step_id)
    def verify(self, loaded, path_id):
        return iter(())

class LatencyApp(WizardApp):
    BINDINGS = [*WizardApp.BINDINGS, Binding("f12", "ping", "Ping", show=False)]
    pressed = 0.0
    waits: list = []
    def on_mount(self, event):
        event.prevent_default()  # not WizardApp.on_mount: straight to the restore screen
        self.session = SESSION
        self.push_screen(screen_for("restore"))
    def action_ping(self):
        self.waits.append(time.perf_counter() - self.pressed)

async def main():
    global SESSION
    loaded = load_plan(bundled_plan())
    backend = StreamingBackend()
    SESSION = IncidentSession.start(loaded.path, operator="bench", incident="INC-LATENCY", mode="drill",
                                    journal_dir=Path(sys.argv[1]), backend=backend, loaded=loaded)
    SESSION.change_stage("assessment")
    SESSION.choose_path(backend.recommend(loaded, (), {}), "be-restore")
    SESSION.change_stage("restore")
    app = LatencyApp(Opening(loaded_source(loaded, backend), "lab.yaml", Path(sys.argv[1]), "bench",
                             "INC-LATENCY", "drill"))
    async with app.run_test(size=(80, 24)) as pilot:
        deadline = time.monotonic() + 30
        while getattr(app.screen, "_checklist", None) is None:
            assert time.monotonic() < deadline, "the restore screen never composed"
            await asyncio.sleep(0.01)
        await pilot.press("r")
        while not [e for e in SESSION.entries if e.kind == "output"]:
            assert time.monotonic() < deadline, "the step never streamed"
            await asyncio.sleep(0.01)
        rng = random.Random(7)
        while app.screen.running is not None and time.monotonic() < deadline + SECONDS:
            done = len(app.waits)
            app.pressed = time.perf_counter()
            app.post_message(events.Key("f12", None))  # what the driver does with a key from the terminal
            while len(app.waits) == done and time.monotonic() < deadline + SECONDS:
                await asyncio.sleep(0.001)
            await asyncio.sleep(rng.uniform(0.02, 0.04))
        waits = sorted(w * 1000 for w in app.waits)
        shown = app.screen.query_one("#output").line_count
    n, elapsed = STREAMED[0] if STREAMED else (0, 1.0)
    print(json.dumps({"median": statistics.median(waits), "p95": waits[int(0.95 * (len(waits) - 1))],
                      "presses": len(waits), "lines_per_s": n / elapsed, "shown": shown, "streamed": n}))
asyncio.run(main())
"""


def _run(code: str, *args: str) -> str:
    # Byte-code is cached as an installed package has it (pip compiles at install): with
    # PYTHONDONTWRITEBYTECODE set (some CI images), every child would compile our modules from
    # source while Textual's came precompiled, and the ratio would measure the compiler.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120,
                         check=False, cwd=str(Path(__file__).resolve().parents[2]), env=env)
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-1:] or ["no output"]
        raise WizardError(f"A UI benchmark child process failed: {tail[0]}")
    return out.stdout.strip().splitlines()[-1]


def _child(code: str, *args: str) -> list[float]:
    return [float(x) for x in _run(code, *args).split()]


@dataclass(frozen=True)
class Latency:
    median_ms: float
    p95_ms: float
    presses: int
    lines_per_s: float


def key_latency(rate: int = 1000, seconds: float = 5.0) -> Latency:
    """Key press to handler while a restore step streams ``rate`` lines a second (one child)."""
    with tempfile.TemporaryDirectory() as tmp:
        data = json.loads(_run(_LATENCY, tmp, str(rate), str(seconds)))
    if int(data["shown"]) < min(int(data["streamed"]), 5000):  # the log keeps its last 5,000 lines
        raise WizardError(f"The restore log showed {data['shown']} of {data['streamed']} streamed lines")
    return Latency(float(data["median"]), float(data["p95"]), int(data["presses"]), float(data["lines_per_s"]))


@dataclass(frozen=True)
class FirstFrame:
    hello_ms: float  # bare Textual hello world: start of the process to its first frame
    wizard_ms: float  # `lync-restore run`: start to the start screen's first frame (form takes keys)
    ready_ms: float  # start to the start screen showing the plan summary and unfinished incidents


def first_frame_ms(repeat: int) -> FirstFrame:
    """Medians over ``repeat`` interleaved runs of each child."""
    hello: list[float] = []
    wizard: list[float] = []
    ready: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        _child(_HELLO)  # one unmeasured run of each: byte-code compiled and files cached for both
        _child(_WIZARD, tmp)
        for _ in range(repeat):  # interleaved so both see the same machine load
            hello.append(_child(_HELLO)[0])
            first, done = _child(_WIZARD, tmp)
            wizard.append(first)
            ready.append(done)
    return FirstFrame(statistics.median(hello), statistics.median(wizard), statistics.median(ready))


def bench_rows(quick: bool) -> Iterable[Row]:
    ff = first_frame_ms(3 if quick else 9)
    yield Row("UI: first frame, bare Textual hello world (subprocess)", ff.hello_ms, "ms")
    yield Row("UI: first frame, `run` start screen taking keys (subprocess)", ff.wizard_ms, "ms")
    yield Row("UI: wizard / hello world first frame", ff.wizard_ms / ff.hello_ms, "ratio", "<= 1.25")
    yield Row("UI: start screen complete (plan read, backend built)", ff.ready_ms, "ms")
    lat = key_latency(1000, 3.0 if quick else 6.0)
    yield Row("UI: restore output streamed (lines a second, goal rate 1,000)", lat.lines_per_s, "lines/s")
    yield Row(f"UI: key press to handler while streaming, median of {lat.presses}", lat.median_ms, "ms", "< 100")
    yield Row(f"UI: key press to handler while streaming, p95 of {lat.presses}", lat.p95_ms, "ms", "< 100")
