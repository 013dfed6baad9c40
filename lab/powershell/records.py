"""PowerShell error records and the control-flow signals of the interpreter.

An :class:`ErrorRecord` carries what PowerShell prints for an error (message, category,
FullyQualifiedErrorId, target, the command and the source position); :class:`PSRuntimeError`
is how it travels as a terminating error. ``throw`` and errors under
``$ErrorActionPreference = 'Stop'`` are script-terminating; binding errors, unknown commands and
a cmdlet's ThrowTerminatingError only end the current statement, as in PowerShell.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Position:
    """Where an error happened: the source text and the extent of the failing element."""

    src: str
    start: int
    end: int


@dataclass(frozen=True)
class ErrorRecord:
    """One PowerShell error record."""

    message: str
    category: str = "NotSpecified"
    error_id: str = "RuntimeException"
    target: Any = None
    exception: str = "RuntimeException"  # short .NET exception type name
    activity: str = ""  # the command shown in CategoryInfo "[Get-Foo]"
    command: str = ""  # "Get-Foo : message" prefix; empty for throw
    qualifier: str = ""  # FullyQualifiedErrorId suffix after the comma
    position: Position | None = None

    @property
    def fully_qualified_error_id(self) -> str:
        return f"{self.error_id},{self.qualifier}" if self.qualifier else self.error_id

    def at(self, position: Position | None) -> ErrorRecord:
        """This record with a position, unless it has one already."""
        if self.position is not None or position is None:
            return self
        return replace(self, position=position)

    def __str__(self) -> str:
        return self.message


class PSRuntimeError(Exception):
    """A terminating error carrying its record."""

    def __init__(self, record: ErrorRecord, *, script_terminating: bool = False) -> None:
        super().__init__(record.message)
        self.record = record
        self.script_terminating = script_terminating


class ExitSignal(Exception):
    """``exit N``."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class BreakSignal(Exception):
    """``break``."""


class ContinueSignal(Exception):
    """``continue``."""


class ReturnSignal(Exception):
    """``return [value]``."""

    def __init__(self, values: list[Any]) -> None:
        super().__init__()
        self.values = values


class CancelledSignal(Exception):
    """The run was cancelled (Ctrl+C / WinRM Signal): PowerShell's PipelineStoppedException."""
