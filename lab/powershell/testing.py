"""Helpers to run scripts and command lines against a host and look at what came out.

Used by the interpreter's tests and handy for the lab's: :class:`Capture` is a ready
:class:`~lab.wsman.server.CommandIO`, :func:`run` returns exit code, stdout and
stderr of one script, :func:`clixml_errors` decodes the CLIXML error lines the way pywinrm does.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from xml.etree import ElementTree

from lab.powershell.formatting import CLIXML_HEADER
from lab.powershell.host import PowerShellHost


@dataclass
class Capture:
    """Collects stdout and stderr; ``cancelled`` can be set to stop the run."""

    cancelled: threading.Event = field(default_factory=threading.Event)
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)

    def write_stdout(self, text: str) -> None:
        self.out.append(text)

    def write_stderr(self, text: str) -> None:
        self.err.append(text)

    @property
    def stdout(self) -> str:
        return "".join(self.out)

    @property
    def stderr(self) -> str:
        return "".join(self.err)


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def run(
    host: PowerShellHost, script: str, clixml: bool = False, cancelled: threading.Event | None = None
) -> Result:
    """Run ``script`` and capture everything (plain-text errors unless ``clixml``)."""
    capture = Capture(cancelled=cancelled or threading.Event())
    code = host.run_script(
        script, capture.write_stdout, capture.write_stderr, cancelled, clixml_errors=clixml
    )
    return Result(code, capture.stdout, capture.stderr)


def run_lines(host: PowerShellHost, lines: list[str]) -> list[Result]:
    """Run command lines in order, as a WinRM client would, one process each."""
    results = []
    for line in lines:
        capture = Capture()
        code = host.run_command_line(line, [], capture)
        results.append(Result(code, capture.stdout, capture.stderr))
    return results


def clixml_errors(stderr: str) -> str:
    """The text of the ``<S S="Error">`` elements, with ``_xHHHH_`` escapes decoded."""
    if not stderr.startswith(CLIXML_HEADER):
        raise ValueError("stderr is not CLIXML")
    # Our own interpreter wrote it: trusted input.
    root = ElementTree.fromstring(stderr[len(CLIXML_HEADER) :])  # noqa: S314
    texts = []
    for element in root:
        if element.get("S") == "Error":
            texts.append(element.text or "")
    joined = "".join(texts)
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), joined)
