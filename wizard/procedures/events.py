"""What running a step tells its watchers: one vocabulary for the procedure engine, the incident
facade and the screens.

The engine (:mod:`wizard.procedures.engine`) yields these while it runs a procedure; the incident
facade (:mod:`wizard.incident`) hands the same classes to the UI for one step at a time, adding
what only it knows (the remaining time of a :class:`Progress`, the step's commands as the operator
saw them). Small frozen dataclasses: a thread worker posts them to the UI as they come.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class StepStarted:
    step_id: str
    host: str = ""  # where the step's commands run (its first command's host)
    command: str = ""  # the step's commands, one per line
    title: str = ""
    index: int = 0  # 1-based position in its procedure (0: not known to the sender)
    total: int = 0


@dataclass(frozen=True)
class OutputLine:
    step_id: str
    text: str
    host: str = ""  # the host that wrote it, where known


@dataclass(frozen=True)
class Progress:
    step_id: str
    percent: float
    eta_s: float | None = None  # seconds left at the pace so far (None: not known yet)
    text: str = ""  # the server's own words (SQL Server's "40 percent processed.")


@dataclass(frozen=True)
class StepDone:
    step_id: str
    exit_code: int = 0
    duration_s: float = 0.0


@dataclass(frozen=True)
class StepFailed:
    step_id: str
    message: str
    exit_code: int | None = None


@dataclass(frozen=True)
class StepSkipped:
    """The step did not run: done earlier in this incident, or found already done (the offer was taken)."""

    step_id: str
    reason: str
    status: Literal["skipped", "already_done"] = "skipped"  # already_done: the pre-check found the work done


QuestionKind = Literal["proceed", "skip_done", "confirm", "second_operator", "manual"]


@dataclass(frozen=True)
class StepQuestion:
    """What the engine asks before or during a step (run or skip, typed confirmation, second
    operator, "done" for manual work, skipping work found already done)."""

    step_id: str
    kind: QuestionKind
    prompt: str
    expected: str | None = None  # typed confirmation text
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    step_id: str
    title: str
    role: Literal["only_if", "already_done", "requires", "post"]
    ok: bool
    detail: str


@dataclass(frozen=True)
class ProcedureFinished:
    restored: bool  # every step done or knowingly skipped, and every verification passed
    failed_step: str | None
    skipped: tuple[str, ...]
    failed_checks: tuple[str, ...]


#: What the facade hands the UI for one step.
StepEvent = StepStarted | OutputLine | Progress | StepDone | StepFailed | StepSkipped
#: What the engine yields for a whole procedure.
EngineEvent = StepEvent | StepQuestion | CheckResult | ProcedureFinished
