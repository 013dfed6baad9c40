"""A tiny scripted CommandHost for tests, benchmarks and smoke runs of the listener.

It understands just enough of the decoded PowerShell to exercise the protocol: lines of
``Write-Output 'text'``, ``Write-Error 'text'`` (CLIXML on stderr, as powershell.exe writes it),
``Start-Sleep -Milliseconds N`` (stops early when cancelled) and ``exit N``; any other word is
an unknown cmdlet and fails like PowerShell does. Tests may also register a Python function for
an exact script text in ``handlers``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from xml.sax.saxutils import escape

from lab.wsman.server import CommandIO
from lab.wsman.soap import decode_powershell

Handler = Callable[[CommandIO], int]

_CLIXML_HEAD = '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'


def clixml_error_block(lines: Sequence[str]) -> str:
    """The stderr text powershell.exe writes for error lines when stderr is redirected."""
    body = "".join(
        f'<S S="Error">{escape(line).replace(chr(13), "_x000D_").replace(chr(10), "_x000A_")}'
        "_x000D__x000A_</S>"
        for line in lines
    )
    return f"{_CLIXML_HEAD}{body}</Objs>"


def error_record_lines(invocation: str, message: str, category: str, fqid: str) -> list[str]:
    """The lines of one PowerShell 5.1 error record as Out-Default formats it."""
    return [
        f"{invocation} : {message}",
        "At line:1 char:1",
        f"+ {invocation}",
        "+ " + "~" * len(invocation),
        f"    + CategoryInfo          : {category}",
        f"    + FullyQualifiedErrorId : {fqid}",
        " ",
    ]


class ToyHost:
    """Runs the toy script language; ``handlers`` maps an exact script to a function."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.scripts: list[str] = []

    def run(self, command: str, arguments: Sequence[str], io: CommandIO) -> int:
        script = decode_powershell(command, arguments)
        if script is None:
            io.write_stderr(f"'{command.split(' ', 1)[0]}' is not recognized as an internal or "
                            "external command,\r\noperable program or batch file.\r\n")
            return 1
        self.scripts.append(script)
        handler = self.handlers.get(script)
        if handler is not None:
            return handler(io)
        return self._interpret(script, io)

    def _interpret(self, script: str, io: CommandIO) -> int:
        for raw in re.split(r"[;\r\n]+", script):
            line = raw.strip()
            if not line:
                continue
            words = shlex.split(line, posix=True)
            verb = words[0].lower()
            if verb == "write-output":
                io.write_stdout(" ".join(words[1:]) + "\r\n")
            elif verb == "write-error":
                text = " ".join(words[1:])
                io.write_stderr(clixml_error_block(error_record_lines(
                    line, text, "NotSpecified: (:) [Write-Error], WriteErrorException",
                    "Microsoft.PowerShell.Commands.WriteErrorException")))
            elif verb == "start-sleep":
                millis = int(words[-1])
                if io.cancelled.wait(millis / 1000):
                    return 1
            elif verb == "exit":
                return int(words[1]) if len(words) > 1 else 0
            else:
                name = words[0]
                io.write_stderr(clixml_error_block(error_record_lines(
                    name,
                    f"The term '{name}' is not recognized as the name of a cmdlet, function, "
                    "script file, or operable program. Check the spelling of the name, or if a "
                    "path was included, verify that the path is correct and try again.",
                    f"ObjectNotFound: ({name}:String) [], CommandNotFoundException",
                    "CommandNotFoundException")))
                return 1
        return 0
