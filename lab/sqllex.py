"""Tokens and a token cursor for the lab's T-SQL engine.

The engine (:mod:`lab.sqlengine`) understands a small, documented subset of T-SQL; this
module turns a batch into tokens the way SQL Server reads them (``[bracketed]`` names with ``]]``,
``N'...'`` strings with ``''``, ``--`` and ``/* */`` comments, ``?`` parameters replaced by the
values the TDS server decoded) and offers the cursor every statement parser walks with. Anything
it cannot read is reported as SQL Server does: error 102 "Incorrect syntax near '...'." (or 105
for an unclosed quote), so a drill with a typo fails like production would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .tds.api import SqlError

TokKind = Literal["word", "qident", "string", "number", "op", "var", "null", "end"]


@dataclass(frozen=True)
class Token:
    """``word`` is a plain identifier or keyword; ``qident`` a bracketed or quoted one."""

    kind: TokKind
    text: str  # identifier/keyword/operator text, or the decoded string value
    pos: int  # offset in the batch (statement text and error messages)
    value: object = None  # number value, or a parameter's value

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words

    def is_op(self, *ops: str) -> bool:
        return self.kind == "op" and self.text in ops


def syntax_error(near: str) -> SqlError:
    return SqlError(102, f"Incorrect syntax near '{near}'.", 15)


_OPS2 = ("<=", ">=", "<>", "!=", "!<", "!>", "+=")
_OPS1 = ",().=*;<>+-/%"


def tokenize(sql: str, params: Sequence[object] = ()) -> list[Token]:
    """Tokens of ``sql``; each ``?`` becomes a string/number/null token holding its parameter."""
    out: list[Token] = []
    i, n, p = 0, len(sql), 0
    while i < n:
        ch = sql[i]
        if ch.isspace():
            i += 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            if j < 0:
                raise SqlError(113, "Missing end comment mark '*/'.", 15)
            i = j + 2
        elif ch == "[":
            text, i2 = _bracketed(sql, i)
            out.append(Token("qident", text, i))
            i = i2
        elif ch == '"':
            j = sql.find('"', i + 1)
            if j < 0:
                raise SqlError(105, f"Unclosed quotation mark after the character string '{sql[i + 1:]}'.", 15)
            out.append(Token("qident", sql[i + 1:j], i))
            i = j + 1
        elif ch == "'" or (ch in "Nn" and sql.startswith("'", i + 1)):
            start = i
            i = i + 1 if ch == "'" else i + 2
            text, i = _string(sql, i)
            out.append(Token("string", text, start))
        elif ch == "?":
            if p >= len(params):
                raise SqlError(8178, "The parameterized query expects a parameter which was not supplied.", 16)
            out.append(_param_token(params[p], i))
            p += 1
            i += 1
        elif ch.isdigit() or (ch == "." and i + 1 < n and sql[i + 1].isdigit()):
            j = i
            while j < n and (sql[j].isdigit() or sql[j] == "."):
                j += 1
            text = sql[i:j]
            value: object = float(text) if "." in text else int(text)
            out.append(Token("number", text, i, value))
            i = j
        elif ch == "@":
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] in "_@#$"):
                j += 1
            out.append(Token("var", sql[i:j], i))
            i = j
        elif ch.isalpha() or ch in "_#":
            j = i
            while j < n and (sql[j].isalnum() or sql[j] in "_#$@"):
                j += 1
            word = sql[i:j]
            out.append(Token("null", word, i) if word.upper() == "NULL" else Token("word", word, i))
            i = j
        elif sql[i:i + 2] in _OPS2:
            out.append(Token("op", sql[i:i + 2], i))
            i += 2
        elif ch in _OPS1:
            out.append(Token("op", ch, i))
            i += 1
        else:
            raise syntax_error(ch)
    out.append(Token("end", "", n))
    return out


def _param_token(value: object, pos: int) -> Token:
    if value is None:
        return Token("null", "NULL", pos)
    if isinstance(value, bool):
        return Token("number", str(int(value)), pos, int(value))
    if isinstance(value, int | float):
        return Token("number", str(value), pos, value)
    return Token("string", str(value), pos)


def _bracketed(sql: str, pos: int) -> tuple[str, int]:
    out: list[str] = []
    i = pos + 1
    while i < len(sql):
        if sql[i] == "]":
            if sql.startswith("]]", i):
                out.append("]")
                i += 2
                continue
            return "".join(out), i + 1
        out.append(sql[i])
        i += 1
    raise SqlError(105, f"Unclosed quotation mark after the character string '{sql[pos + 1:]}'.", 15)


def _string(sql: str, i: int) -> tuple[str, int]:
    out: list[str] = []
    start = i
    while i < len(sql):
        if sql[i] == "'":
            if sql.startswith("''", i):
                out.append("'")
                i += 2
                continue
            return "".join(out), i + 1
        out.append(sql[i])
        i += 1
    raise SqlError(105, f"Unclosed quotation mark after the character string '{sql[start:]}'.", 15)


class Cursor:
    """Walks the tokens of one batch; parsers consume with ``take``/``expect``/``accept``."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        #: local variables (``@name``, case-folded) and table variables declared so far in the
        #: batch: SQL Server compiles a batch before running it, so a name used before its
        #: DECLARE fails the whole batch (137 / 1087)
        self.variables: set[str] = set()
        self.table_variables: set[str] = set()

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def at_end(self) -> bool:
        return self.tok.kind == "end"

    def at_statement_end(self) -> bool:
        return self.tok.kind == "end" or self.tok.is_op(";")

    def take(self) -> Token:
        tok = self.tok
        if tok.kind != "end":
            self.i += 1
        return tok

    def fail(self) -> SqlError:
        """Error 102 near the current token (as SQL Server words it)."""
        tok = self.tok
        if tok.kind == "end":
            prev = self.tokens[self.i - 1] if self.i else tok
            return syntax_error(prev.text)
        return syntax_error(tok.text)

    def accept_word(self, *words: str) -> str | None:
        if self.tok.is_word(*words):
            return self.take().text.upper()
        return None

    def expect_word(self, *words: str) -> str:
        got = self.accept_word(*words)
        if got is None:
            raise self.fail()
        return got

    def accept_op(self, *ops: str) -> bool:
        if self.tok.is_op(*ops):
            self.take()
            return True
        return False

    def expect_op(self, op: str) -> None:
        if not self.accept_op(op):
            raise self.fail()

    def name(self) -> str:
        """An identifier: plain word or ``[bracketed]``."""
        if self.tok.kind in ("word", "qident"):
            return self.take().text
        raise self.fail()

    def name_or_string(self) -> str:
        """A database/user name written as an identifier or a string (``N'mgc'``)."""
        if self.tok.kind == "string":
            return self.take().text
        return self.name()

    def string(self) -> str:
        if self.tok.kind == "string":
            return self.take().text
        raise self.fail()

    def integer(self) -> int:
        tok = self.tok
        if tok.kind == "number" and isinstance(tok.value, int):
            self.take()
            return tok.value
        raise self.fail()

    def dotted(self) -> list[str]:
        """``a.b.c`` (each part plain or bracketed; ``msdb..backupset`` keeps an empty part)."""
        parts = [self.name()]
        while self.tok.is_op("."):
            self.take()
            if self.tok.is_op("."):
                parts.append("")
                continue
            parts.append(self.name())
        return parts
