"""Error records out of powershell.exe's stderr.

With ``-EncodedCommand`` and stderr redirected (always the case under WinRM), powershell.exe
writes its error stream as CLIXML: ``#< CLIXML`` then an ``<Objs>`` document whose
``<S S="Error">`` strings are the lines of each formatted error record, with control characters
escaped as ``_xHHHH_``. This module turns that (or plain-text stderr) back into readable lines
and into :class:`PsErrorRecord` values, both all at once and incrementally while a command
streams.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

CLIXML_MARKER = "#< CLIXML"
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_ERROR_STRING = re.compile(r'<S S="(Error|warning|verbose|debug)">(.*?)</S>', re.DOTALL)
#: How the console shows the other streams; such lines are never error records.
_STREAM_PREFIX = {"warning": "WARNING: ", "verbose": "VERBOSE: ", "debug": "DEBUG: "}
_CATEGORY = re.compile(r"^\s*\+\s*CategoryInfo\s*:\s*(.*)$")
_FQID = re.compile(r"^\s*\+\s*FullyQualifiedErrorId\s*:\s*(.*)$")
_POSITION = re.compile(r"^(At line:\d+|At [A-Za-z]:\\|At .+:\d+ char:\d+|\+ )")


@dataclass(frozen=True)
class PsErrorRecord:
    """One PowerShell error: its message, category, error id, target object and raw text."""

    message: str
    category: str
    fully_qualified_error_id: str
    target: str
    raw: str


def unescape(text: str) -> str:
    """Undo CLIXML's ``_xHHHH_`` escapes (surrogate pairs included)."""
    if "_x" not in text:
        return text
    replaced = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return replaced.encode("utf-16", "surrogatepass").decode("utf-16", errors="replace")


def _xml_text(fragment: str) -> str:
    """The character data of an XML-escaped fragment (``&lt;`` and friends)."""
    try:
        # Our own tiny wrapper around text the remote powershell.exe produced.
        return ET.fromstring(f"<s>{fragment}</s>").text or ""  # noqa: S314
    except ET.ParseError:
        return fragment


def clixml_to_text(stderr: str) -> str:
    """Human text of a stderr that may hold CLIXML blocks; other text is kept as is."""
    if CLIXML_MARKER not in stderr:
        return stderr
    decoder = ClixmlStreamDecoder()
    lines = decoder.feed(stderr) + decoder.flush()
    return "".join(line + "\r\n" for line in lines)


class ClixmlStreamDecoder:
    """Turns stderr text arriving in pieces into complete human lines, CLIXML or not."""

    def __init__(self) -> None:
        self._pending = ""
        self._in_clixml = False
        self._partial_line = ""

    def feed(self, text: str) -> list[str]:
        self._pending += text
        out: list[str] = []
        while True:
            if not self._in_clixml:
                marker = self._pending.find(CLIXML_MARKER)
                plain = self._pending if marker < 0 else self._pending[:marker]
                keep = ""
                if marker < 0:
                    # Keep a possible start of a marker for the next piece.
                    cut = plain.rfind("\n") + 1
                    plain, keep = plain[:cut], plain[cut:]
                out += self._plain_lines(plain)
                if marker < 0:
                    self._pending = keep
                    return out
                self._pending = self._pending[marker + len(CLIXML_MARKER) :]
                self._in_clixml = True
            end = self._pending.find("</Objs>")
            scan = self._pending if end < 0 else self._pending[:end]
            last = 0
            for match in _ERROR_STRING.finditer(scan):
                text = unescape(_xml_text(match.group(2)))
                if match.group(1) == "Error":
                    out += self._error_text(text)
                else:  # a warning/verbose message: whole lines, with the console's prefix
                    prefix = _STREAM_PREFIX[match.group(1)]
                    out += [prefix + line for line in text.replace("\r\n", "\n").rstrip("\n").split("\n")]
                last = match.end()
            if end < 0:
                self._pending = self._pending[last:]
                return out
            self._pending = self._pending[end + len("</Objs>") :].lstrip("\r\n")
            self._in_clixml = False

    def flush(self) -> list[str]:
        out: list[str] = []
        if not self._in_clixml and self._pending:
            out += self._plain_lines(self._pending + "\n")
        self._pending = ""
        if self._partial_line:
            out.append(self._partial_line)
            self._partial_line = ""
        return out

    def _plain_lines(self, text: str) -> list[str]:
        lines = text.replace("\r\n", "\n").split("\n")
        return lines[:-1]

    def _error_text(self, text: str) -> list[str]:
        self._partial_line += text.replace("\r\n", "\n")
        parts = self._partial_line.split("\n")
        self._partial_line = parts[-1]
        return parts[:-1]


def _record(lines: list[str]) -> PsErrorRecord:
    raw = "\r\n".join(lines)
    category = fqid = ""
    message_lines: list[str] = []
    in_position = False
    for line in lines:
        if m := _CATEGORY.match(line):
            category = m.group(1).strip()
            in_position = True
        elif m := _FQID.match(line):
            fqid = m.group(1).strip()
            in_position = True
        elif _POSITION.match(line.strip()) and message_lines:
            in_position = True
        elif not in_position and line.strip():
            message_lines.append(line.strip())
    message = " ".join(message_lines)
    if " : " in message and (category or fqid):
        message = message.split(" : ", 1)[1]
    target = ""
    if m := re.search(r"\(([^()]*)\)", category):
        inner = m.group(1)
        target = inner.rsplit(":", 1)[0] if ":" in inner else inner
    short_category = category.split(":", 1)[0].strip() if category else ""
    return PsErrorRecord(message, short_category, fqid, target, raw)


def parse_error_records(stderr: str) -> list[PsErrorRecord]:
    """Error records in a CLIXML or plain-text stderr, in order."""
    text = clixml_to_text(stderr)
    lines = text.replace("\r\n", "\n").split("\n")
    records: list[PsErrorRecord] = []
    current: list[str] = []
    for line in lines:
        if not current and not line.strip():
            continue
        if line.startswith(tuple(_STREAM_PREFIX.values())):
            continue  # warnings and verbose messages are not errors
        current.append(line)
        if _FQID.match(line):
            records.append(_record(current))
            current = []
    leftover = [line for line in current if line.strip()]
    if leftover:
        if any(_CATEGORY.match(line) for line in leftover):
            records.append(_record(leftover))
        else:
            message = " ".join(line.strip() for line in leftover)
            records.append(PsErrorRecord(message, "", "", "", "\r\n".join(leftover)))
    return records
