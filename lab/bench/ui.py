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
- The same first frame measured from outside, as a person sees it (issue 16): the command a person
  types (``lync-restore run plans/lab.yaml``, and the hello world as a script run by the same
  Python) is started in a new 80x24 pseudo-terminal, and the clock runs from just before the fork
  until the terminal has received the first frame's text (the start form: its labels and the
  incident id field with its value; the hello world's "hello"). Runs alternate. This counts what
  the figures inside the child leave out: the interpreter's start, the console script, the terminal
  driver and frames drawn incomplete.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
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


def run_child(code: str, *args: str, timeout: float = 120, what: str = "UI") -> str:
    """Run ``code`` in a fresh interpreter from the repository; its last line of output."""
    # Byte-code is cached as an installed package has it (pip compiles at install): with
    # PYTHONDONTWRITEBYTECODE set (some CI images), every child would compile our modules from
    # source while Textual's came precompiled, and the ratio would measure the compiler.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                         check=False, cwd=str(Path(__file__).resolve().parents[2]), env=env)
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-1:] or ["no output"]
        raise WizardError(f"A {what} benchmark child process failed: {tail[0]}")
    return out.stdout.strip().splitlines()[-1]


def _child(code: str, *args: str) -> list[float]:
    return [float(x) for x in run_child(code, *args).split()]


@dataclass(frozen=True)
class Latency:
    median_ms: float
    p95_ms: float
    presses: int
    lines_per_s: float


def key_latency(rate: int = 1000, seconds: float = 5.0) -> Latency:
    """Key press to handler while a restore step streams ``rate`` lines a second (one child)."""
    with tempfile.TemporaryDirectory() as tmp:
        data = json.loads(run_child(_LATENCY, tmp, str(rate), str(seconds)))
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


#: The bare Textual hello world as a person would write it, run as a script by the same Python.
HELLO_SCRIPT = """from textual.app import App
from textual.widgets import Static


class Hello(App):
    def compose(self):
        yield Static("hello")


Hello().run()
"""
HELLO_MARKERS = (b"hello",)
#: On the terminal only once the start form is drawn: its labels and the incident id field with its
#: value (Textual's first refresh can draw the labels before the input fields).
WIZARD_MARKERS = (b"Operator", b"Incident id", b"INC-")
#: Textual's terminal queries (DECRQM: synchronized output 2026, in-band resize 2048). Textual 8
#: does not wait for the answers before drawing; both apps get the same one, "not recognised".
_DECRQM = re.compile(rb"\x1b\[\?(\d+)\$p")
ROWS, COLUMNS = 24, 80


def outside_env() -> dict[str, str]:
    """The children's environment: this one, as a terminal emulator gives it (TERM set, no size
    variables: the size comes from the pseudo-terminal), byte-code caching on (see :func:`_run`)."""
    drop = {"PYTHONDONTWRITEBYTECODE", "COLUMNS", "LINES"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("TEXTUAL")}
    env["TERM"] = "xterm-256color"
    return env


def _spawn(argv: Sequence[str], slave: int, master: int, cwd: str | None, env: Mapping[str, str]) -> int:
    """Fork ``argv`` in its own session with the pseudo-terminal as its controlling terminal (what
    a terminal emulator or tmux does for the shell); returns its process id."""
    pid = os.fork()
    if pid == 0:  # the child: only system calls until exec
        try:
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            os.close(master)
            if slave > 2:
                os.close(slave)
            if cwd is not None:
                os.chdir(cwd)
            os.execve(argv[0], list(argv), dict(env))  # noqa: S606 (the benchmarked command, no shell)
        finally:
            os._exit(127)
    return pid


def _stop(pid: int) -> None:
    """Kill the child's whole session (it is its own process group) and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _exited(pid: int) -> int | None:
    """The child's exit code if it has exited (reaped), else None."""
    done, status = os.waitpid(pid, os.WNOHANG)
    return os.waitstatus_to_exitcode(status) if done else None


def time_to_markers(argv: Sequence[str], markers: Sequence[bytes], *, what: str, timeout: float = 30.0,
                    cwd: str | None = None, env: Mapping[str, str] | None = None,
                    at_markers: Callable[[int], object] | None = None) -> float:
    """Milliseconds from just before ``argv`` is started in a new 80x24 pseudo-terminal until every
    one of ``markers`` is among the bytes it has written to that terminal. The child is killed
    afterwards (``at_markers`` is first called with its process id: the memory benchmark reads
    it then). Raises :class:`WizardError` when it exits first or the markers do not all come
    within ``timeout`` seconds."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    seen = bytearray()
    answered = 0  # the offset in ``seen`` up to which queries were answered
    try:
        t0 = time.perf_counter()
        pid = _spawn(argv, slave, master, cwd, outside_env() if env is None else env)
        os.close(slave)
        slave = -1
        try:
            while True:
                left = t0 + timeout - time.perf_counter()
                if left <= 0:
                    raise WizardError(f"{what} did not draw its first frame within {timeout:g} seconds")
                readable, _, _ = select.select([master], [], [], min(left, 0.25))
                try:
                    chunk = os.read(master, 65536) if readable else b""
                except OSError:  # EIO: nothing holds the terminal any more, the child has gone
                    chunk = b""
                now = time.perf_counter()
                if chunk:
                    seen += chunk
                    if all(marker in seen for marker in markers):
                        if at_markers is not None:
                            at_markers(pid)
                        return (now - t0) * 1000
                    for query in _DECRQM.finditer(seen, max(answered, len(seen) - len(chunk) - 16)):
                        if query.end() > answered:
                            os.write(master, b"\x1b[?%s;0$y" % query.group(1))
                            answered = query.end()
                elif (code := _exited(pid)) is not None:
                    pid = -1
                    raise WizardError(f"{what} exited with code {code} before drawing its first frame")
        finally:
            if pid > 0:
                _stop(pid)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)


def wizard_command() -> list[str]:
    """What a person types: the installed console script, next to this interpreter."""
    script = Path(sys.executable).with_name("lync-restore")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "wizard"]


@dataclass(frozen=True)
class Outside:
    hello_ms: float  # median: fork to the hello world's "hello" on the terminal
    wizard_ms: float  # median: fork to the start form (labels, incident id field) on the terminal
    runs: int


def first_frame_outside(repeat: int) -> Outside:
    """Medians over ``repeat`` alternating runs of each, after one unmeasured run of each."""
    repo = str(Path(__file__).resolve().parents[2])
    hello: list[float] = []
    wizard: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "hello.py"
        script.write_text(HELLO_SCRIPT, encoding="utf-8")
        journals = Path(tmp) / "journals"
        run = [*wizard_command(), "--journal-dir", str(journals), "run", "plans/lab.yaml"]

        def one_hello() -> float:
            return time_to_markers([sys.executable, str(script)], HELLO_MARKERS, what="The Textual hello world",
                                   cwd=repo)

        def one_wizard() -> float:
            return time_to_markers(run, WIZARD_MARKERS, what="lync-restore run", cwd=repo)

        one_hello()
        one_wizard()
        for _ in range(repeat):
            hello.append(one_hello())
            wizard.append(one_wizard())
    return Outside(statistics.median(hello), statistics.median(wizard), repeat)


def outside_rows(repeat: int) -> Iterable[Row]:
    out = first_frame_outside(repeat)
    ratio = out.wizard_ms / out.hello_ms
    where = f"pty {COLUMNS}x{ROWS}"
    yield Row(f"UI: first frame from outside ({where}), bare Textual", out.hello_ms, "ms")
    yield Row(f"UI: first frame from outside ({where}), `lync-restore run`", out.wizard_ms, "ms")
    yield Row(f"UI: first frame from outside ({where}), wizard / Textual", ratio, "ratio", "<= 1.25",
              note=f"First frame from outside ({where}, {out.runs} alternating runs each, medians): "
                   f"lync-restore run {out.wizard_ms:.0f} ms, bare Textual {out.hello_ms:.0f} ms, "
                   f"ratio {ratio:.2f} (goal <= 1.25).")


def bench_rows(quick: bool) -> Iterable[Row]:
    ff = first_frame_ms(3 if quick else 9)
    yield Row("UI: first frame inside the child, bare Textual hello world", ff.hello_ms, "ms")
    yield Row("UI: first frame inside the child, `run` start screen taking keys", ff.wizard_ms, "ms")
    yield Row("UI: first frame inside the child, wizard / hello world", ff.wizard_ms / ff.hello_ms, "ratio",
              "<= 1.25")
    yield Row("UI: start screen complete (plan read, backend built)", ff.ready_ms, "ms")
    yield from outside_rows(3 if quick else 9)
    lat = key_latency(1000, 3.0 if quick else 6.0)
    yield Row("UI: restore output streamed (lines a second, goal rate 1,000)", lat.lines_per_s, "lines/s")
    yield Row(f"UI: key press to handler while streaming, median of {lat.presses}", lat.median_ms, "ms", "< 100")
    yield Row(f"UI: key press to handler while streaming, p95 of {lat.presses}", lat.p95_ms, "ms", "< 100")
