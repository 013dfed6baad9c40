"""One exception hierarchy for the whole core.

Every failure an operator can meet is a :class:`WizardError` with a short title and one plain
sentence. The command line prints ``message`` (never a traceback) and exits with
``exit_code``; the UI shows ``title`` and ``message`` in a dialog and journals both.
Messages must never contain a secret: build them from names, hosts and paths only.
"""

from __future__ import annotations


class ExitCode:
    """Process exit codes, documented in the README."""

    OK = 0
    FAILED = 1  # the operation ran and found a problem (check failed, drill not restored)
    INVALID_INPUT = 2  # bad command line, invalid plan, unreadable file
    REMOTE = 3  # a host or SQL instance could not be reached or refused us
    JOURNAL = 4  # a journal is damaged (broken chain) or cannot be written
    INTERRUPTED = 130  # Ctrl+C


class WizardError(Exception):
    """Base of every error the operator may see."""

    title = "Error"
    exit_code = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} {self.hint}"


class UsageError(WizardError):
    title = "Invalid command"
    exit_code = ExitCode.INVALID_INPUT


class InputFileError(WizardError):
    """A file given on the command line cannot be read (missing, a directory, not text...)."""

    title = "Cannot read file"
    exit_code = ExitCode.INVALID_INPUT


class PlanError(WizardError):
    """The plan is invalid; ``errors`` holds every ``FILE:LINE:COL: message`` line."""

    title = "Invalid plan"
    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, errors: list[str]) -> None:
        noun = "error" if len(errors) == 1 else "errors"
        super().__init__(f"{len(errors)} {noun} in the plan")
        self.errors = errors


class JournalError(WizardError):
    title = "Journal problem"
    exit_code = ExitCode.JOURNAL


class RemoteError(WizardError):
    """A remote host, WinRM endpoint or SQL instance failed. Subclassed in wizard.remote."""

    title = "Remote failure"
    exit_code = ExitCode.REMOTE


