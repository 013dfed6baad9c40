"""UI benchmark: time to the first interactive frame of the wizard against a bare Textual hello
world, both measured in fresh subprocesses in the same run (issue 7 goal: at most 1.25 times).

Each child starts a clock before importing anything, runs its app headless (``run_test``) at
80x24, and prints the milliseconds from start to the first ``on_mount`` after the first screen
is ready (after its first refresh). The core never imports Textual: the children do.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from wizard.bench import Row

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
import asyncio, importlib, sys
from pathlib import Path
from wizard.plan import load_plan
app_module = importlib.import_module("screens.app")
from wizard.app_entry import bundled_plan
class Timed(app_module.WizardApp):
    def on_mount(self):
        super().on_mount()
        self.call_after_refresh(lambda: self.call_after_refresh(lambda: DONE.append(time.perf_counter() - t0)))
DONE = []
async def main():
    loaded = load_plan(bundled_plan())
    app = Timed(loaded, plan_label="lab.yaml", journal_dir=Path(sys.argv[1]),
                defaults=app_module.Defaults("bench", "INC-BENCH", "drill"))
    async with app.run_test(size=(80, 24)):
        for _ in range(1000):
            if DONE:
                break
            await asyncio.sleep(0.005)
    print(DONE[0] * 1000)
asyncio.run(main())
"""


def _child(code: str, *args: str) -> float:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60,
                         check=True, cwd=str(Path(__file__).resolve().parent.parent))
    return float(out.stdout.strip().splitlines()[-1])


def first_frame_ms(repeat: int) -> tuple[float, float]:
    """Median ms to the first interactive frame: (bare hello world, wizard start screen)."""
    hello: list[float] = []
    wizard: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):  # interleaved so both see the same machine load
            hello.append(_child(_HELLO))
            wizard.append(_child(_WIZARD, tmp))
    return statistics.median(hello), statistics.median(wizard)


def bench_rows(quick: bool) -> Iterable[Row]:
    hello, wizard = first_frame_ms(3 if quick else 7)
    yield Row("UI: first frame, bare Textual hello world (subprocess)", hello, "ms")
    yield Row("UI: first frame, wizard start screen (subprocess)", wizard, "ms")
    yield Row("UI: wizard / hello world first frame", wizard / hello, "ratio", "<= 1.25")
