"""Character-level scanning for the PowerShell subset.

PowerShell's tokens depend on the mode the parser is in (``-Name`` is a parameter in argument
mode and an operator in expression mode; ``5`` is a number but ``5abc`` a bareword), so the
parser drives this :class:`Scanner` directly instead of consuming a fixed token stream. This
module owns the character classes PowerShell's own tokenizer uses: every kind of single quote
(``' ‘ ’ ‚ ‛``), double quote (``" “ ” „``), dash (``- – — ―``) and the Unicode spaces, and the
rules of the two string literal kinds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SINGLE_QUOTES = frozenset("'\u2018\u2019\u201a\u201b")
DOUBLE_QUOTES = frozenset('"\u201c\u201d\u201e')
DASHES = frozenset("-\u2013\u2014\u2015")
NEWLINES = frozenset("\r\n")

#: Characters that end a bareword (generic token) in argument mode.
ARG_DELIMITERS = frozenset(" \t\f\v\r\n;|(){},\u00a0\u0085") | SINGLE_QUOTES | DOUBLE_QUOTES


def is_space(char: str) -> bool:
    """PowerShell whitespace: blanks and every Unicode separator, but not the line breaks."""
    if not char:
        return False
    if char in " \t\f\v\u00a0\u0085":
        return True
    return char not in NEWLINES and char != "" and (char.isspace() and ord(char) > 127)


def one_of(char: str, chars: str) -> bool:
    """``char in chars`` where the end of input (``""``) is never a member."""
    return char != "" and char in chars


def is_name_char(char: str) -> bool:
    return char != "" and (char.isalnum() or char in "_?")


_NUMBER = re.compile(
    r"""^(?:
        0[xX][0-9a-fA-F]+[lL]?
      | (?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[dDlL]?
    )(?P<mult>[kKmMgGtTpP][bB])?$""",
    re.VERBOSE,
)
_MULTIPLIERS = {"kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4, "pb": 1024**5}


def parse_number(text: str) -> int | float | None:
    """A PowerShell numeric literal (``42``, ``-5``, ``0x1F``, ``1.5``, ``2kb``) or None."""
    sign = 1
    body = text
    if body[:1] in DASHES:
        sign, body = -1, body[1:]
    elif body[:1] == "+":
        body = body[1:]
    match = _NUMBER.match(body)
    if not match or body == ".":
        return None
    mult_text = match.group("mult")
    core = body[: len(body) - len(mult_text)] if mult_text else body
    value: int | float
    if core[:2].lower() == "0x":
        value = int(core[2:].rstrip("lL"), 16)
    else:
        stripped = core.rstrip("dDlL")
        if core[-1:] in "dD" and not core[:1].isdigit() and core[:1] != ".":
            return None
        if re.fullmatch(r"\d+", stripped):
            value = int(stripped)
        else:
            value = float(stripped)
            if core[-1:] in "lL":
                value = round(value)
    if mult_text:
        value = value * _MULTIPLIERS[mult_text.lower()]
    return sign * value


@dataclass
class ScanError(Exception):
    """A syntax error at an offset of the source text."""

    message: str
    pos: int

    def __str__(self) -> str:
        return self.message


class Scanner:
    """A cursor over the source text with the low-level reads the parser needs."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # -- basics ---------------------------------------------------------------------------

    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if 0 <= index < len(self.text) else ""

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def advance(self, count: int = 1) -> str:
        chunk = self.text[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def startswith(self, prefix: str) -> bool:
        return self.text.startswith(prefix, self.pos)

    def error(self, message: str, pos: int | None = None) -> ScanError:
        return ScanError(message, self.pos if pos is None else pos)

    # -- trivia ---------------------------------------------------------------------------

    def skip_block_comment(self) -> None:
        end = self.text.find("#>", self.pos + 2)
        if end < 0:
            raise self.error("Missing the terminator '#>' of a block comment.")
        self.pos = end + 2

    def skip_space(self, newlines: bool = False) -> None:
        """Skip blanks, comments and line continuations (and line breaks when asked)."""
        while not self.at_end():
            char = self.peek()
            if is_space(char):
                self.pos += 1
            elif char == "`" and self.peek(1) in NEWLINES and self.peek(1) != "":
                self.pos += 2
                if self.text[self.pos - 1] == "\r" and self.peek() == "\n":
                    self.pos += 1
            elif char == "#":
                while not self.at_end() and self.peek() not in NEWLINES:
                    self.pos += 1
            elif char == "<" and self.peek(1) == "#":
                self.skip_block_comment()
            elif newlines and char in NEWLINES:
                self.pos += 1
            else:
                return

    def skip_separators(self) -> None:
        """Skip blanks, comments, line breaks and ``;`` between statements."""
        while True:
            self.skip_space(newlines=True)
            if self.peek() == ";":
                self.pos += 1
                continue
            return

    def at_statement_end(self) -> bool:
        char = self.peek()
        return char == "" or char in NEWLINES or char in ";)}"

    # -- literals -------------------------------------------------------------------------

    def read_single_quoted(self) -> str:
        """A single-quoted string (any single-quote char opens/closes; doubled means one)."""
        start = self.pos
        self.pos += 1
        out: list[str] = []
        text, length = self.text, len(self.text)
        while True:
            if self.pos >= length:
                raise self.error(
                    "The string is missing the terminator: '.", start
                )
            char = text[self.pos]
            self.pos += 1
            if char in SINGLE_QUOTES:
                if self.pos < length and text[self.pos] in SINGLE_QUOTES:
                    out.append(text[self.pos])
                    self.pos += 1
                    continue
                return "".join(out)
            out.append(char)

    def read_word(self) -> str:
        """Letters, digits, ``_`` and ``-`` (keywords, operator and parameter names)."""
        start = self.pos
        while not self.at_end() and (self.peek().isalnum() or self.peek() in "_"):
            self.pos += 1
        return self.text[start : self.pos]

    def read_type_name(self) -> str:
        """After ``[``: the type name up to the matching ``]`` (consumed)."""
        depth = 0
        start = self.pos
        while not self.at_end():
            char = self.peek()
            if char == "[":
                depth += 1
            elif char == "]":
                if depth == 0:
                    name = self.text[start : self.pos].strip()
                    self.pos += 1
                    return name
                depth -= 1
            elif char in NEWLINES:
                break
            self.pos += 1
        raise self.error("Missing ] at end of type token.", start)


ESCAPES = {
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}
