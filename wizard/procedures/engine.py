"""The headless engine: runs a composed procedure against any PowerShell and SQL runners.

It is a generator of small frozen events (StepStarted, OutputLine, Progress, StepQuestion, CheckResult,
StepDone, StepFailed, StepSkipped, ProcedureFinished) so the Textual UI can iterate it in a thread
worker and a drill or test can run it without a UI. Questions (run or skip, typed confirmation,
second operator, "done" for manual work, skipping work found already done) are answered by an
:class:`Answerer`; :class:`AnswersFile` answers them from YAML/JSON for scripted drills.

Every decision is journaled *before* it takes effect, every action with host, command text,
start, end and status (DESIGN decision 3). The runners are ports (:class:`PsPort`,
:class:`SqlPort`) that :class:`wizard.remote.winrm.PowerShellRunner` and
:class:`wizard.remote.sql.SqlRunner` satisfy; unit tests pass fakes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml

from wizard.errors import InputFileError, WizardError
from wizard.journal import Kind
from wizard.procedures.compose import Procedure
from wizard.procedures.events import (
    CheckResult,
    EngineEvent,
    OutputLine,
    ProcedureFinished,
    Progress,
    StepDone,
    StepFailed,
    StepQuestion,
    StepSkipped,
    StepStarted,
)
from wizard.procedures.model import Check, Command, PsCommand, Step, evaluate
from wizard.remote import psbuild
from wizard.remote.errors import ConnectionLostError, RemoteTimeoutError
from wizard.remote.ports import PsOutcome, SqlQuery
from wizard.remote.secondhop import denied_unc, hop_sentence
from wizard.remote.sql import quote_identifier

_ALREADY = "work already done: "  # the reason of a step closed because its pre-check found the work done

# ---------------------------------------------------------------------------------- ports



#: how the console prefixes the streams that are not errors (warning, verbose, debug)
_STREAMS = ("WARNING: ", "VERBOSE: ", "DEBUG: ")

class PsPort(Protocol):
    """Runs one PowerShell script on one host. Raises a RemoteError subclass on failure."""

    def run(self, script: str, *, deadline_s: float, on_event: Callable[[Any], None] | None = None,
            cancel: threading.Event | None = None) -> PsOutcome: ...


class SqlPort(SqlQuery, Protocol):
    """One SQL instance that also runs long statements with progress. Raises a WizardError subclass on failure."""

    def execute_with_progress(self, sql: str, *, on_event: Callable[[Any], None],
                              cancel: threading.Event | None = None,
                              deadline_s: float | None = None) -> object: ...


class Runners(Protocol):
    def powershell(self, host: str) -> PsPort: ...

    def sql(self, server: str, instance: str | None) -> SqlPort: ...


class JournalPort(Protocol):
    def append(self, kind: str, payload: Mapping[str, Any] | None = None) -> object: ...


# ---------------------------------------------------------------------------------- answers


class Answerer(Protocol):
    def answer(self, question: StepQuestion) -> str: ...


def read_answers(path: str | Path) -> dict[str, Any]:
    """The mapping in an answers file (YAML, or JSON by its suffix); one-sentence errors."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(f"The answers file {p} cannot be read ({exc.strerror}).") from None
    try:
        data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        fmt = "JSON" if p.suffix == ".json" else "YAML"
        raise InputFileError(f"The answers file {p} is not valid {fmt}.") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputFileError(f"The answers file {p} must be a mapping of keys to answers.")
    return data


@dataclass(frozen=True)
class AnswersFile:
    """Answers for a headless run, from YAML or JSON::

        operator: alice            # who runs the drill
        second_operator: bob       # default second-operator name
        confirm_all: true          # type the expected confirmation text for every destructive step
        manual: done               # default answer to manual steps (done | failed)
        skip_done_work: true       # accept the offer to skip work found already done
        skip: [step-id, ...]       # steps the operator chooses not to run
        steps:                     # per-step overrides
          cms-install-database: {confirm: xds, second_operator: carol, manual: done}
    """

    operator: str = "operator"
    second_operator: str | None = None
    confirm_all: bool = False
    manual: str = "done"
    skip_done_work: bool = True
    skip: tuple[str, ...] = ()
    steps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> AnswersFile:
        return cls.from_mapping(read_answers(path), where=str(path))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "answers") -> AnswersFile:
        known = {"operator", "second_operator", "confirm_all", "manual", "skip_done_work", "skip", "steps"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputFileError(f"The answers file {where} has unknown keys: {', '.join(unknown)}.")
        steps = {str(k): {str(a): str(b) for a, b in (v or {}).items()} for k, v in (data.get("steps") or {}).items()}
        return cls(operator=str(data.get("operator", "operator")),
                   second_operator=data.get("second_operator"),
                   confirm_all=bool(data.get("confirm_all", False)),
                   manual=str(data.get("manual", "done")),
                   skip_done_work=bool(data.get("skip_done_work", True)),
                   skip=tuple(str(s) for s in data.get("skip") or ()), steps=steps)

    def answer(self, question: StepQuestion) -> str:
        own = self.steps.get(question.step_id, {})
        if question.kind == "proceed":
            return "skip" if question.step_id in self.skip or own.get("run") == "skip" else "run"
        if question.kind == "skip_done":
            return own.get("skip_done", "skip" if self.skip_done_work else "run")
        if question.kind == "confirm":
            return own.get("confirm", (question.expected or "") if self.confirm_all else "")
        if question.kind == "second_operator":
            return own.get("second_operator", self.second_operator or "")
        return own.get("manual", self.manual)


# ---------------------------------------------------------------------------------- engine


class _StepFailure(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _SecondHop(_StepFailure):
    """The host was denied another server's share: no retry or wait changes that (secondhop.py)."""


class Engine:
    """Runs ``procedure`` step by step. Iterate :meth:`run` to drive it."""

    def __init__(self, procedure: Procedure, runners: Runners, answers: Answerer, *,
                 journal: JournalPort | None = None, operator: str = "operator",
                 finished: Mapping[str, str] | None = None, wait_scale: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep, cancel: threading.Event | None = None) -> None:
        self.procedure = procedure
        self.runners = runners
        self.answers = answers
        self.journal = journal
        self.operator = operator
        self.finished = dict(finished or {})  # step id -> status from a replayed session
        self.wait_scale = wait_scale
        self.sleep = sleep
        self.cancel = cancel
        self._pending: list[EngineEvent] = []

    # ------------------------------------------------------------------ journal helpers
    def _log(self, kind: str, payload: Mapping[str, Any]) -> None:
        if self.journal is not None:
            self.journal.append(kind, payload)

    def _decide(self, step: Step, question: str, choice: str, alternatives: Sequence[str], reason: str) -> None:
        self._log(Kind.DECISION, {"question": question, "step": step.id, "choice": choice,
                                  "alternatives": list(alternatives), "reason": reason})

    def _ask(self, q: StepQuestion) -> Iterator[EngineEvent]:
        yield q
        self._answer = self.answers.answer(q).strip()

    # ------------------------------------------------------------------ commands and checks
    def _run_command(self, step: Step, command: Command, *, quiet: bool = False) -> list[object]:
        if isinstance(command, PsCommand):
            runner = self.runners.powershell(command.host)

            def on_event(ev: object) -> None:
                text = getattr(ev, "text", None)
                if isinstance(text, str) and not quiet:
                    self._pending.append(OutputLine(step.id, text, host=command.host))

            result = runner.run(command.script(), deadline_s=command.timeout_s, on_event=on_event, cancel=self.cancel)
            # powershell.exe writes warning and verbose messages to stderr too (CLIXML): they are no failure
            errors = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith(_STREAMS)]
            if result.exit_code != 0 or (errors and command.json_result is None):
                denied = denied_unc(command.host, f"{result.stdout}\n{result.stderr}")
                if denied is not None:  # the file is there; this session cannot reach it
                    raise _SecondHop(hop_sentence(command.host, denied))
                first = (errors or [f"exit code {result.exit_code}"])[0]
                raise _StepFailure(f"The command on {command.host} failed: {first}")
            if command.json_result is None:
                return []
            return list(psbuild.parse_envelope(result.stdout).values)
        sql_port = self.runners.sql(command.server, command.instance)
        text = command.sql if command.database == "master" else (
            f"USE {quote_identifier(command.database)}; {command.sql}")
        if command.long_running:
            def on_sql(ev: object) -> None:
                pct = getattr(ev, "percent", None)
                msg = getattr(ev, "message", None) or getattr(ev, "text", None) or ""
                if isinstance(pct, int):
                    self._pending.append(Progress(step.id, pct, text=str(msg)))
                elif msg and not quiet:
                    self._pending.append(OutputLine(step.id, str(msg), host=command.where))

            outcome = sql_port.execute_with_progress(text, on_event=on_sql, cancel=self.cancel,
                                                     deadline_s=command.timeout_s)
            if getattr(outcome, "cancelled", False):
                raise _StepFailure(f"The statement on {command.where} was cancelled.")
            return []
        return list(sql_port.query(text, command.params))

    def _check(self, step: Step, check: Check, role: Literal["only_if", "already_done", "requires", "post"],
               *, poll: bool) -> Iterator[EngineEvent]:
        deadline = time.monotonic() + (check.wait_s * self.wait_scale if poll else 0)
        self._hop = None
        while True:
            try:
                rows = self._run_command(step, check.command, quiet=True)
                ok, detail = evaluate(check.expect, rows)
            except _SecondHop as exc:  # waiting will not change it: say what it is at once
                ok, detail = False, exc.message
                self._hop = exc.message
            except _StepFailure as exc:
                ok, detail = False, exc.message
            except WizardError as exc:
                ok, detail = False, exc.message
            yield from self._flush()
            if ok or self._hop or time.monotonic() >= deadline or (self.cancel is not None and self.cancel.is_set()):
                break
            self.sleep(max(0.01, check.poll_s * self.wait_scale))
        self._check_ok = ok
        yield CheckResult(step.id, check.title, role, ok, detail)

    def _flush(self) -> Iterator[EngineEvent]:
        while self._pending:
            yield self._pending.pop(0)

    # ------------------------------------------------------------------ the run
    def run(self) -> Iterator[EngineEvent]:
        skipped: list[str] = []
        failed_checks: list[str] = []
        steps = self.procedure.steps
        for index, step in enumerate(steps, 1):
            prior = self.finished.get(step.id)
            if prior in ("done", "skipped", "done_by_hand", "already_done"):
                skipped.append(step.id)
                yield StepSkipped(step.id, f"already {prior.replace('_', ' ')} in this incident (journal)")
                continue
            yield StepStarted(step.id, host=step.shown_host, command="\n".join(step.shown_lines()), title=step.title,
                              index=index, total=len(steps))
            outcome = yield from self._run_step(step, in_doubt=prior == "running")
            if outcome in ("skipped", "already_done"):
                skipped.append(step.id)
                continue
            if outcome != "done":
                if step.phase == "verify":
                    failed_checks.append(step.id)
                    continue
                yield ProcedureFinished(False, step.id, tuple(skipped), tuple(failed_checks))
                return
        restored = not failed_checks
        self._log(Kind.NOTE, {"text": "service restored" if restored else "verification failed",
                              "failed_checks": failed_checks, "skipped": skipped})
        yield ProcedureFinished(restored, None, tuple(skipped), tuple(failed_checks))

    def _skip(self, step: Step, reason: str, status: Literal["skipped", "already_done"] = "skipped") -> StepSkipped:
        self._log(Kind.ACTION_FINISHED, {"step": step.id, "status": status, "reason": reason})
        return StepSkipped(step.id, reason, status)

    def _run_step(self, step: Step, *, in_doubt: bool) -> Generator[EngineEvent, None, str]:
        started = time.monotonic()
        hosts = step.hosts or ([step.manual.where] if step.manual else [])
        if step.phase != "verify":
            yield from self._ask(StepQuestion(step.id, "proceed", f"Run step '{step.title}'?", choices=("run", "skip")))
            if self._answer == "skip":
                self._decide(step, "run_step", "skip", ["run", "skip"], "the operator chose not to run it")
                self._log(Kind.ACTION_STARTED, {"step": step.id, "host": ", ".join(hosts), "command": "(skipped)"})
                yield self._skip(step, "skipped by the operator")
                return "skipped"
        self._log(Kind.ACTION_STARTED, {"step": step.id, "host": ", ".join(hosts),
                                        "command": "\n".join(line for c in step.commands for line in c.lines()),
                                        "in_doubt": in_doubt})
        try:
            skip_reason = yield from self._offer_skip_done(step)
            if skip_reason is None and step.only_if is not None:  # not needed now: skipped, with the reason
                yield from self._check(step, step.only_if, "only_if", poll=False)
                if not self._check_ok:
                    skip_reason = f"not needed: {step.only_if.title} does not hold"
            if skip_reason is not None:
                done = skip_reason.startswith(_ALREADY)
                yield self._skip(step, skip_reason, "already_done" if done else "skipped")
                return "already_done" if done else "skipped"
            yield from self._gates(step)
            yield from self._work(step)
        except (_StepFailure, WizardError) as exc:
            yield from self._flush()
            message = exc.message
            if isinstance(exc, ConnectionLostError | RemoteTimeoutError):  # sent, and no answer came back
                message = (f"{message.rstrip('.')}. The command may have run on the server before the connection "
                           "dropped: check before running it again (r runs the step's pre-checks first).")
            self._log(Kind.ACTION_FINISHED, {"step": step.id, "status": "failed", "reason": message,
                                             "duration_s": round(time.monotonic() - started, 3)})
            yield StepFailed(step.id, message)
            return "failed"
        duration = time.monotonic() - started
        self._log(Kind.ACTION_FINISHED, {"step": step.id, "status": "done", "duration_s": round(duration, 3)})
        yield StepDone(step.id, duration_s=duration)
        return "done"

    def _offer_skip_done(self, step: Step) -> Generator[EngineEvent, None, str | None]:
        """The step's "already done" pre-check; the reason to skip when it holds and the operator
        takes the offer, else None."""
        if step.already_done is None:
            return None
        yield from self._check(step, step.already_done, "already_done", poll=False)
        if not self._check_ok:
            return None
        yield from self._ask(StepQuestion(step.id, "skip_done",
                                          f"'{step.already_done.title}' already holds: skip this step?",
                                          choices=("skip", "run")))
        if self._answer == "skip":
            reason = f"{_ALREADY}{step.already_done.describe()}"
            self._decide(step, "skip_done_work", "skip", ["skip", "run"], reason)
            return reason
        self._decide(step, "skip_done_work", "run", ["skip", "run"], "the operator runs it again")
        return None

    def _gates(self, step: Step) -> Iterator[EngineEvent]:
        """What must hold before the step changes anything: its required checks, the typed
        confirmation of a destructive step, a second operator, the manual work done."""
        for check in step.requires:
            yield from self._check(step, check, "requires", poll=True)
            if not self._check_ok:
                raise _StepFailure(self._hop or f"It is not safe to run this step yet: {check.title} failed.")
        if step.destructive:
            yield from self._ask(StepQuestion(step.id, "confirm", f"Type '{step.confirm_text}' to run: {step.title}",
                                              expected=step.confirm_text))
            if self._answer != step.confirm_text:
                self._decide(step, "confirm", "refused", [str(step.confirm_text)], "confirmation text did not match")
                raise _StepFailure("The confirmation text did not match, so the step did not run.")
            self._decide(step, "confirm", "confirmed", [str(step.confirm_text)], "typed confirmation")
        if step.second_operator:
            yield from self._ask(StepQuestion(step.id, "second_operator",
                                              "A second operator must confirm: enter their name."))
            second = self._answer
            if not second or second.lower() == self.operator.lower():
                self._decide(step, "second_operator", "missing", [], "no second operator confirmed")
                raise _StepFailure("A second operator (not the one at the keyboard) must confirm this step.")
            self._decide(step, "second_operator", second, [], "second operator confirmed")
        if step.manual is not None:
            yield from self._ask(StepQuestion(step.id, "manual", "\n".join(step.manual.instructions),
                                              choices=("done", "failed")))
            if self._answer != "done":
                self._decide(step, "manual", self._answer or "not reported", ["done", "failed"],
                             "nobody reported the work done" if not self._answer else "operator report")
                raise _StepFailure(f"The {step.manual.tool} work was not reported done, so the step did not run.")
            self._decide(step, "manual", "done", ["done", "failed"],
                         f"reported done: the {step.manual.tool} work on {step.manual.where}")

    def _work(self, step: Step) -> Iterator[EngineEvent]:
        """The step's commands, then its post-checks."""
        for command in step.commands:
            self._run_command(step, command)
            yield from self._flush()
        for check in step.post_checks:
            yield from self._check(step, check, "post", poll=True)
            if not self._check_ok:
                raise _StepFailure(self._hop or f"The post-check '{check.title}' failed.")

    _answer: str = ""
    _check_ok: bool = False
    _hop: str | None = None  # the second-hop sentence of the last check, when that was its failure
