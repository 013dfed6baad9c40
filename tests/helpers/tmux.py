"""The real program in an 80x24 tmux pane (TERM=linux), played by ``send-keys`` and read by
``capture-pane``, for the tests that drive ``lync-restore`` as a person does. The tmux server is
private to the test (its own socket), so ``kill-server`` kills only it: what a dropped SSH link
does to the program (SIGHUP)."""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from wizard.incident_state import replay
from wizard.journal import Entry, Kind, read_journal

SLOW = 30.0  # probes, a step, the §7 checks against the lab on 2 cores: bounded, generous
FOCUS_S = 0.5  # a focus change is applied by the app after the key that asked for it
#: the text a confirmation asks for, shown as its input's placeholder (a database, pool or step id)
TYPED = re.compile(r"type: ([A-Za-z0-9][A-Za-z0-9._-]*)")  # the confirmation box's hint


class Pane:
    """A private tmux server with one 80x24 pane running ``command``; every capture is kept."""

    def __init__(self, socket: Path, conf: Path, env: dict[str, str]) -> None:
        self.socket, self.conf, self.env = socket, conf, env
        self.seen: list[str] = []
        self.pid = 0
        self.keys_sent = 0

    @classmethod
    def private(cls, folder: Path, env: dict[str, str]) -> Pane:
        conf = folder / "tmux.conf"
        conf.write_text("set -g status off\nset -g remain-on-exit on\n", encoding="utf-8")
        return cls(folder / "tmux.sock", conf, env)

    def tmux(self, *args: str, check: bool = True) -> str:
        out = subprocess.run(["tmux", "-S", str(self.socket), "-f", str(self.conf), *args], env=self.env,
                             capture_output=True, text=True, timeout=10)
        if check and out.returncode != 0:
            raise AssertionError(f"tmux {args[0]} failed: {out.stderr.strip()}")
        return out.stdout

    def start(self, command: list[str]) -> None:
        self.tmux("new-session", "-d", "-x", "80", "-y", "24", "exec env TERM=linux " + shlex.join(command))
        self.pid = int(self.tmux("display-message", "-p", "#{pane_pid}").strip())
        size = self.tmux("display-message", "-p", "#{pane_width}x#{pane_height}").strip()
        assert size == "80x24", size

    def screen(self) -> str:
        text = self.tmux("capture-pane", "-p")
        self.seen.append(text)
        return text

    def keys(self, *keys: str) -> None:
        self.keys_sent += len(keys)
        self.tmux("send-keys", *keys)

    def type(self, text: str) -> None:
        self.keys_sent += len(text)
        self.tmux("send-keys", "-l", text)

    def wait(self, predicate: Callable[[str], bool], what: str, timeout: float = SLOW) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if predicate(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; the screen:\n{text}")
            time.sleep(0.1)

    def wait_for(self, needle: str, timeout: float = SLOW) -> str:
        return self.wait(lambda s: needle in s, repr(needle), timeout)

    def kill_server(self) -> None:
        self.tmux("kill-server", check=False)


def process_gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")  # a zombie has ended


def wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not process_gone(pid):
        if time.monotonic() > deadline:
            raise AssertionError(f"process {pid} still runs after {timeout}s")
        time.sleep(0.05)


# ------------------------------------------------------------------------------ the journal


def entries(folder: Path) -> list[Entry]:
    return read_journal(folder).entries if (folder / "journal.jsonl").exists() else []


def finished(folder: Path) -> int:
    return sum(e.kind == Kind.ACTION_FINISHED for e in entries(folder))


def running_step(folder: Path) -> str | None:
    doubt = replay(entries(folder)).in_doubt
    return doubt[0] if doubt else None


# ------------------------------------------------------------------------------ playing


def answer_questions(pane: Pane) -> None:
    """Enter on each question keeps "unknown"; done when the recommendation shows."""
    answered: set[str] = set()
    deadline = time.monotonic() + SLOW
    while True:
        text = pane.screen()
        if "Recommended:" in text and "┏" not in text:
            return
        lines = text.splitlines()
        top = next((i for i, line in enumerate(lines) if "┏" in line), None)
        if top is not None and top + 1 < len(lines) and "unknown" in text:
            question = lines[top + 1]
            if question not in answered:
                answered.add(question)
                pane.keys("Enter")
        if time.monotonic() > deadline:
            raise AssertionError(f"the assessment did not come to a recommendation:\n{text}")
        time.sleep(0.1)


def answer_dialog(pane: Pane) -> str | None:
    """Answer the dialog a step shows, as a trainee would: type the confirmation text (and a
    second operator), say yes to "is the manual work done?", take the first answer of a choice
    (skip work a pre-check found done), give a reason when one is asked.
    What was answered, or None when no dialog shows."""
    text = pane.screen()
    if "Destructive step" in text:
        found = TYPED.search(text)
        assert found, text
        pane.type(found.group(1))
        pane.keys("Enter")
        pane.wait(lambda s: "Destructive step" not in s, "the confirmation to close", 5)
        return found.group(1)
    if "Second operator required" in text:
        found = TYPED.search(text)
        assert found, text
        pane.type("bob")
        pane.wait(lambda s: "┃  bob " in s, "the second operator's name", 5)
        pane.keys("Enter")
        time.sleep(FOCUS_S)  # Enter moves the focus to the next field; keys sent sooner land in this one
        pane.type(found.group(1))
        pane.keys("Enter")
        pane.wait(lambda s: "Second operator required" not in s, "the second operator to close", 5)
        return found.group(1)
    if "┏" in text and "y = yes" in text and "Quit the wizard" not in text:
        pane.keys("y")
        pane.wait(lambda s: "y = yes" not in s, "the question to close", 5)
        return "y"
    if "┏" in text and "Enter answers" in text:  # a choice: the first answer (skip work found done)
        pane.keys("Enter")
        pane.wait(lambda s: "Enter answers" not in s, "the choice to close", 5)
        return "Enter"
    if "┏" in text and "reason" in text.lower():
        pane.type("the pre-check found the work done on the lab")
        pane.keys("Enter")
        pane.wait(lambda s: "┏" not in s, "the reason to be taken", 5)
        return "reason"
    return None


def run_steps(pane: Pane, folder: Path, stop_in: str | None) -> str | None:
    """Run every open step with r. With ``stop_in``: return as soon as a step whose id contains it
    is running (action_started journaled, no finish), leaving it mid-flight."""
    deadline = time.monotonic() + 6 * SLOW
    while time.monotonic() < deadline:
        text = pane.wait(lambda s: "All steps resolved" in s or ("[>]" not in s and "┏" not in s
                                                                  and "Composing" not in s),
                         "the restore screen to be idle")
        if "All steps resolved" in text:
            return None
        before = finished(folder)
        pane.keys("r")
        step_deadline = time.monotonic() + SLOW
        while finished(folder) == before:
            answer_dialog(pane)
            running = running_step(folder)
            if stop_in and running and stop_in in running and "[>]" in pane.screen():
                return running
            if time.monotonic() > step_deadline:
                raise AssertionError(f"a step did not finish in {SLOW}s:\n{pane.screen()}")
            time.sleep(0.1)
        last = next(e for e in reversed(entries(folder)) if e.kind == Kind.ACTION_FINISHED)
        resolved = ("done", "skipped", "done_by_hand", "already_done")
        assert last.payload["status"] in resolved, (last.payload, pane.screen())
    raise AssertionError("the restore did not finish in time")


def confirm_person_checks(pane: Pane) -> str:
    """On the verify screen: a check only a person can make (the Control Panel row, the last one)
    stays UNKNOWN until the operator says they saw it: go to it, y, y. The screen after."""
    text = pane.wait(lambda s: "All checks healthy" in s or "check(s)" in s, "the §7 checks")
    if "check(s) UNKNOWN" not in text:
        return text
    for _ in range(40):  # the person's check is the last row; extra presses stay there
        pane.keys("Down")
    pane.keys("y")
    pane.wait_for("Did you see it yourself", 5)
    pane.keys("y")
    return pane.wait(lambda s: "All checks healthy" in s or "check(s) failed" in s, "the checks again")
