"""PowerShell builder: quoting, script composition, delivery, result parsing.

STUB with the agreed signatures; the full builder replaces it (same signatures).
"""

from __future__ import annotations

import base64

#: cmd.exe's command-line limit: WinRM commands pass through it.
CMD_LINE_LIMIT = 8191

POWERSHELL_EXE = "powershell.exe"
POWERSHELL_ARGS = ("-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand")


def encode_command_line(script: str) -> str:
    """The cmd.exe command line that runs ``script`` with powershell.exe, never prompting."""
    encoded = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
    return " ".join((POWERSHELL_EXE, *POWERSHELL_ARGS, encoded))


def command_lines(script: str, stage_id: str) -> list[str]:
    """Command lines to run, in order, so that ``script`` runs once on the far side.

    One line when it fits under :data:`CMD_LINE_LIMIT`; otherwise the script is staged in a
    temporary file named after ``stage_id`` by several short lines and then run by a last one.
    Only the last line's output and exit code belong to the script.
    """
    line = encode_command_line(script)
    if len(line) <= CMD_LINE_LIMIT:
        return [line]
    raise NotImplementedError("staging of long scripts")
