"""The lab's powershell.exe: runs scripts and the command lines a WinRM shell receives.

:class:`PowerShellHost` is configured once per simulated server (its cmdlets, native
executables, virtual file system, host name and environment). Every :meth:`run_script` or
:meth:`run_command_line` is a fresh process: new variables, same files. A command line is
decoded the way cmd.exe and powershell.exe would: ``powershell.exe -NoProfile -NonInteractive
-EncodedCommand <base64 UTF-16LE>`` (options in any case, abbreviated as powershell.exe allows,
``/`` or ``-``), ``powershell -Command <text>``, ``cmd /c ...`` or a native executable such as
``robocopy``. Streams: output to stdout with CRLF line ends; errors, warnings and verbose
messages to stderr as CLIXML, as powershell.exe does when its streams are redirected.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from lab.powershell.binding import CmdletSpec
from lab.powershell.builtins import ALIASES, builtin_cmdlets
from lab.powershell.evaluator import NativeContext, NativeHandler, Session
from lab.powershell.formatting import ErrorSink
from lab.powershell.parser import ParseError, parse_script
from lab.powershell.records import (
    BreakSignal,
    CancelledSignal,
    ContinueSignal,
    ErrorRecord,
    ExitSignal,
    Position,
    PSRuntimeError,
    ReturnSignal,
)
from lab.powershell.versions import available, version_info
from lab.powershell.vfs import VirtualFS

if TYPE_CHECKING:  # the WS-Management server hands each command its streams
    from lab.wsman.server import CommandIO

#: STATUS_CONTROL_C_EXIT: what powershell.exe returns when it is stopped by Ctrl+C.
CANCELLED_EXIT_CODE = -1073741510
#: cmd.exe's exit code for an unknown program.
NOT_FOUND_EXIT_CODE = 9009


def split_command_line(line: str) -> list[str]:
    """Split like CommandLineToArgvW: blanks separate, ``"`` groups, ``\\"`` is a quote."""
    args: list[str] = []
    current: list[str] = []
    in_quotes = False
    has_token = False
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\":
            run = 0
            while index < len(line) and line[index] == "\\":
                run += 1
                index += 1
            if index < len(line) and line[index] == '"':
                current.append("\\" * (run // 2))
                if run % 2:
                    current.append('"')
                    index += 1
                has_token = True
                continue
            current.append("\\" * run)
            has_token = True
            continue
        if char == '"':
            if in_quotes and index + 1 < len(line) and line[index + 1] == '"':
                current.append('"')
                index += 2
                continue
            in_quotes = not in_quotes
            has_token = True
        elif char in " \t" and not in_quotes:
            if has_token:
                args.append("".join(current))
                current, has_token = [], False
        else:
            current.append(char)
            has_token = True
        index += 1
    if has_token:
        args.append("".join(current))
    return args


_VALUE_OPTIONS = ("executionpolicy", "inputformat", "outputformat", "windowstyle", "version",
                  "configurationname", "psconsolefile")
_FLAG_OPTIONS = ("noprofile", "noninteractive", "nologo", "noexit", "sta", "mta")


def _powershell_option(name: str) -> str:
    """The powershell.exe option an abbreviation designates ('' when unknown)."""
    lowered = name.lower()
    if lowered in ("e", "ec") or (len(lowered) >= 2 and "encodedcommand".startswith(lowered)
                                  and lowered.startswith("en")):
        return "encodedcommand"
    if lowered == "ep" or (lowered.startswith("ex") and "executionpolicy".startswith(lowered)):
        return "executionpolicy"
    if lowered in ("c",) or (len(lowered) >= 2 and "command".startswith(lowered)):
        return "command"
    if lowered in ("f",) or (len(lowered) >= 2 and "file".startswith(lowered)):
        return "file"
    if lowered in ("nop",):
        return "noprofile"
    if lowered in ("noni",):
        return "noninteractive"
    if lowered in ("w",):
        return "windowstyle"
    for option in (*_VALUE_OPTIONS, *_FLAG_OPTIONS):
        if len(lowered) >= 3 and option.startswith(lowered):
            return option
    return ""


class PowerShellHost:
    """A simulated Windows PowerShell on one lab server (5.1 unless ``ps_version`` says 3.0 or 4.0:
    see :mod:`lab.powershell.versions` for what an older version lacks)."""

    def __init__(
        self,
        cmdlets: Iterable[CmdletSpec] = (),
        natives: Mapping[str, NativeHandler] | None = None,
        fs: VirtualFS | None = None,
        host_name: str = "lab01.lab.test",
        env: Mapping[str, str] | None = None,
        modules: Sequence[str] = ("Lync",),
        clock: Callable[[], datetime] | None = None,
        state_dir: Path | str | None = None,
        ps_version: str = "5.1",
    ) -> None:
        self.version = version_info(ps_version)
        if fs is None:
            if state_dir is None:
                raise ValueError("PowerShellHost needs a VirtualFS or a state_dir")
            fs = VirtualFS(Path(state_dir) / "fs")
        self.fs = fs
        self.host_name = host_name
        self.modules = tuple(modules)
        self.clock = clock
        short = host_name.split(".", maxsplit=1)[0].upper()
        self.env: dict[str, str] = {
            "TEMP": "C:\\Users\\Administrator\\AppData\\Local\\Temp",
            "TMP": "C:\\Users\\Administrator\\AppData\\Local\\Temp",
            "COMPUTERNAME": short,
            "USERNAME": "Administrator",
            "USERPROFILE": "C:\\Users\\Administrator",
            "SystemRoot": "C:\\Windows",
            "windir": "C:\\Windows",
            "ProgramFiles": "C:\\Program Files",
        }
        self.env.update(env or {})
        self.natives: dict[str, NativeHandler] = {
            k.lower().removesuffix(".exe"): v for k, v in (natives or {}).items()
        }
        self.commands: dict[str, CmdletSpec] = {}
        for spec in available(builtin_cmdlets(), self.version):
            self.register(spec)
        for alias, target in ALIASES.items():
            if target.lower() in self.commands:
                self.commands[alias] = self.commands[target.lower()]
        for spec in cmdlets:
            self.register(spec)
        for temp in ("TEMP",):
            with contextlib.suppress(OSError):
                self.fs.mkdir(self.env[temp])

    def register(self, spec: CmdletSpec) -> None:
        """Add (or replace) a cmdlet and its aliases."""
        self.commands[spec.name.lower()] = spec
        for alias in spec.aliases:
            self.commands[alias.lower()] = spec

    def _session(
        self, out: Callable[[str], None], errors: ErrorSink, cancelled: threading.Event | None
    ) -> Session:
        return Session(
            commands=self.commands,
            natives=self.natives,
            fs=self.fs,
            host_name=self.host_name,
            env=self.env,
            modules=self.modules,
            out=out,
            errors=errors,
            cancelled=cancelled,
            clock=self.clock,
            version=self.version,
        )

    # -- scripts ------------------------------------------------------------------------------

    def run_script(
        self,
        script: str,
        out: Callable[[str], None],
        err: Callable[[str], None],
        cancelled: threading.Event | None = None,
        clixml_errors: bool = True,
    ) -> int:
        """Run a script as ``powershell.exe -NonInteractive``; returns the exit code."""
        errors = ErrorSink(err, clixml_errors)
        try:
            return self._run(script, out, errors, cancelled)
        finally:
            errors.close()

    def _run(
        self,
        script: str,
        out: Callable[[str], None],
        errors: ErrorSink,
        cancelled: threading.Event | None,
    ) -> int:
        try:
            block = parse_script(script)
        except ParseError as exc:
            errors.error(
                ErrorRecord(
                    exc.message,
                    "ParserError",
                    "ParseException",
                    exception="ParentContainsErrorRecordException",
                    position=Position(script, exc.pos, exc.pos + 1),
                )
            )
            return 1
        session = self._session(out, errors, cancelled)
        try:
            session.run_block(block.body, session.out_default.write)
            session.out_default.flush()
            return 0 if session.scopes[0]["?"] is True else 1
        except ExitSignal as signal:
            session.out_default.flush()
            return signal.code
        except PSRuntimeError as exc:
            session.report(exc.record)
            return 1
        except CancelledSignal:
            session.out_default.flush()
            errors.raw_error("The pipeline has been stopped.")
            return CANCELLED_EXIT_CODE
        except (BreakSignal, ContinueSignal, ReturnSignal):
            session.out_default.flush()
            return 0

    # -- command lines ---------------------------------------------------------------------------

    def run_command_line(self, command: str, arguments: Sequence[str], io: CommandIO) -> int:
        """Run what a WinRM shell received as Command + Arguments; returns the exit code."""
        line = " ".join([command, *arguments]).strip()
        tokens = split_command_line(line)
        if not tokens:
            return 0
        program = tokens[0].replace("/", "\\").rsplit("\\", 1)[-1].lower()
        program = program.removesuffix(".exe")
        if program in ("powershell", "pwsh"):
            return self._powershell(tokens[1:], io)
        if program == "cmd" and len(tokens) > 1 and tokens[1].lower() in ("/c", "/k"):
            rest = line.split(None, 2)[2] if len(line.split(None, 2)) > 2 else ""
            return self.run_command_line(rest, [], io)
        return self._native(tokens[0], tokens[1:], io)

    def _powershell(self, tokens: list[str], io: CommandIO) -> int:
        index = 0
        script: str | None = None
        while index < len(tokens):
            token = tokens[index]
            if not token.startswith(("-", "/")) or len(token) < 2:
                script = " ".join(tokens[index:])
                break
            option = _powershell_option(token[1:])
            if option == "encodedcommand":
                if index + 1 >= len(tokens):
                    io.write_stderr("Cannot process the command because of a missing parameter. "
                                    "A command must follow -EncodedCommand.\r\n")
                    return 1
                try:
                    script = base64.b64decode(tokens[index + 1], validate=True).decode(
                        "utf-16-le"
                    )
                except (binascii.Error, UnicodeDecodeError, ValueError):
                    io.write_stderr(
                        "Cannot process the command because the value specified with "
                        "-EncodedCommand is not properly encoded. The value must be Base64 "
                        "encoded.\r\n"
                    )
                    return 1
                break
            if option == "command":
                script = " ".join(tokens[index + 1 :])
                break
            if option == "file":
                io.write_stderr("The lab does not run script files (-File).\r\n")
                return 1
            if option in _VALUE_OPTIONS:
                index += 2
                continue
            if option in _FLAG_OPTIONS:
                index += 1
                continue
            io.write_stderr(f"-{token[1:]} : The term '-{token[1:]}' is not recognized as a "
                            "valid powershell.exe parameter.\r\n")
            return 1
        if script is None:
            io.write_stderr("The lab's powershell.exe cannot start an interactive session.\r\n")
            return 1
        return self.run_script(script, io.write_stdout, io.write_stderr, io.cancelled)

    def _native(self, name: str, args: list[str], io: CommandIO) -> int:
        key = name.replace("/", "\\").rsplit("\\", 1)[-1].lower().removesuffix(".exe")
        handler = self.natives.get(key)
        if handler is None:
            io.write_stderr(
                f"'{name}' is not recognized as an internal or external command,\r\n"
                "operable program or batch file.\r\n"
            )
            return NOT_FOUND_EXIT_CODE
        errors = ErrorSink(io.write_stderr, clixml=False)
        session = self._session(io.write_stdout, errors, io.cancelled)
        code = handler(NativeContext(name, args, session))
        for line in session.native_output:
            io.write_stdout(line + "\r\n")
        return code
