"""Recursive-descent parser for the PowerShell subset: source text -> statement nodes.

It follows PowerShell's two parsing modes: a statement that starts with a bareword is a
command parsed in *argument mode* (``-Name`` is a parameter, ``a,b`` an array argument,
``\\\\srv\\share`` a bareword string); anything else is an *expression* with PowerShell's
operator precedence (logical < bitwise < comparison < additive < multiplicative < -f < .. <
comma < unary). Every statement and command keeps its source extent for error messages
("At line:1 char:1").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from wizard.lab.powershell.lexer import (
    ARG_DELIMITERS,
    DASHES,
    DOUBLE_QUOTES,
    ESCAPES,
    NEWLINES,
    SINGLE_QUOTES,
    ScanError,
    Scanner,
    is_name_char,
    is_space,
    parse_number,
)
from wizard.lab.powershell.values import ScriptBlock


class ParseError(ScanError):
    """A syntax error (PowerShell's ParseException)."""


@dataclass
class Node:
    """Base of every syntax node; ``start``/``end`` are offsets into ``src``."""

    start: int = field(default=0, kw_only=True)
    end: int = field(default=0, kw_only=True)
    src: str = field(default="", kw_only=True, repr=False)


# -- expressions ----------------------------------------------------------------------------


@dataclass
class Const(Node):
    value: Any


@dataclass
class ExpandString(Node):
    parts: list[str | Node]


@dataclass
class VarRef(Node):
    name: str
    drive: str = ""  # "env", "global", "script", "local", "variable" or ""


@dataclass
class SubExpr(Node):
    body: list[Node]


@dataclass
class ArrayExpr(Node):
    body: list[Node]


@dataclass
class Paren(Node):
    inner: Node


@dataclass
class HashLit(Node):
    pairs: list[tuple[Node, Node]]


@dataclass
class BlockLit(Node):
    block: ScriptBlock


@dataclass
class ArrayLit(Node):
    items: list[Node]


@dataclass
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass
class Unary(Node):
    op: str
    operand: Node


@dataclass
class Cast(Node):
    type_name: str
    operand: Node


@dataclass
class TypeLit(Node):
    type_name: str


@dataclass
class Member(Node):
    target: Node
    name: str
    static: bool = False


@dataclass
class Invoke(Node):
    target: Node
    name: str
    args: list[Node]
    static: bool = False


@dataclass
class Index(Node):
    target: Node
    index: Node


@dataclass
class IncDec(Node):
    target: Node
    delta: int
    prefix: bool


# -- commands and statements ------------------------------------------------------------------


@dataclass
class Param(Node):
    """``-Name``, ``-Name:value``; ``text`` is how it was written (for error messages)."""

    name: str
    value: Node | None
    text: str


@dataclass
class Redirect(Node):
    stream: str  # "1", "2", "*"
    target: Node | None  # None with merge
    merge: bool = False
    append: bool = False


@dataclass
class Command(Node):
    name: Node  # Const(str) for a bareword name
    elements: list[Param | Node]
    call_op: str = ""  # "&" or "." or ""
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class PipelineNode(Node):
    elements: list[Node]  # first may be an expression, the others are Commands


@dataclass
class Assign(Node):
    target: Node
    op: str
    value: Node


@dataclass
class If(Node):
    clauses: list[tuple[Node, list[Node]]]
    else_body: list[Node] | None


@dataclass
class Foreach(Node):
    var: str
    iterable: Node
    body: list[Node]


@dataclass
class While(Node):
    cond: Node
    body: list[Node]


@dataclass
class For(Node):
    init: Node | None
    cond: Node | None
    step: Node | None
    body: list[Node]


@dataclass
class Try(Node):
    body: list[Node]
    catches: list[tuple[list[str], list[Node]]]
    final: list[Node] | None


@dataclass
class Throw(Node):
    value: Node | None


@dataclass
class Exit(Node):
    value: Node | None


@dataclass
class Return(Node):
    value: Node | None


@dataclass
class Break(Node):
    pass


@dataclass
class Continue(Node):
    pass


@dataclass
class FunctionDef(Node):
    name: str
    block: ScriptBlock


_COMPARISON = {
    "eq", "ne", "gt", "ge", "lt", "le", "like", "notlike", "match", "notmatch",
    "contains", "notcontains", "in", "notin", "replace", "split", "join", "is", "isnot", "as",
}
_CASE_PREFIXED = {
    "eq", "ne", "gt", "ge", "lt", "le", "like", "notlike", "match", "notmatch",
    "contains", "notcontains", "in", "notin", "replace", "split",
}
_LOGICAL = {"and", "or", "xor"}
_BITWISE = {"band", "bor", "bxor"}
_KEYWORDS = {
    "if", "foreach", "while", "for", "try", "throw", "exit", "return", "break", "continue",
    "function", "filter", "do", "switch", "param",
}
_ASSIGN_OPS = ("+=", "-=", "*=", "/=", "%=", "=")


_NUMBER_PREFIX = re.compile(
    r"0[xX][0-9a-fA-F]+[lL]?|(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?[dDlL]?(?:[kKmMgGtTpP][bB])?"
)


def _number_prefix(text: str, pos: int) -> int:
    """Length of the numeric literal starting at ``pos`` (0 if none)."""
    match = _NUMBER_PREFIX.match(text, pos)
    return match.end() - pos if match else 0


def _operator_name(word: str) -> str:
    """Normalise ``ieq``/``ceq`` to ``eq``/``ceq``; returns '' if not a binary operator."""
    lowered = word.lower()
    if lowered in _COMPARISON or lowered in _LOGICAL or lowered in _BITWISE or lowered == "f":
        return lowered
    if lowered[:1] in ("i", "c") and lowered[1:] in _CASE_PREFIXED:
        return lowered[1:] if lowered[0] == "i" else lowered
    return ""


class Parser:
    """Parses one source text. Use :func:`parse_script`."""

    def __init__(self, text: str) -> None:
        self.s = Scanner(text)
        self.text = text
        self.script_params: list[tuple[str, Node | None]] = []

    # -- helpers ----------------------------------------------------------------------------

    def error(self, message: str, pos: int | None = None) -> ParseError:
        return ParseError(message, self.s.pos if pos is None else pos)

    def mk(self, node: Node, start: int) -> Node:
        node.start, node.end, node.src = start, self.s.pos, self.text
        return node

    def expect(self, char: str, message: str) -> None:
        if self.s.peek() != char:
            raise self.error(message)
        self.s.advance()

    def peek_keyword(self) -> str:
        """The keyword at the cursor (lower case) if a bareword keyword starts here."""
        s = self.s
        index = s.pos
        while index < len(s.text) and (s.text[index].isalpha()):
            index += 1
        word = s.text[s.pos : index].lower()
        if word in _KEYWORDS:
            nxt = s.text[index] if index < len(s.text) else ""
            if nxt == "" or not (nxt.isalnum() or nxt in "-_.\\:"):
                return word
        return ""

    def is_dash(self, offset: int = 0) -> bool:
        return self.s.peek(offset) in DASHES and self.s.peek(offset) != ""

    # -- statement lists --------------------------------------------------------------------

    def parse_script(self) -> list[Node]:
        self.script_params = self.param_block()
        body = self.statements(end="")
        if not self.s.at_end():
            raise self.error(f"Unexpected token '{self.s.peek()}' in expression or statement.")
        return body

    def statements(self, end: str) -> list[Node]:
        out: list[Node] = []
        while True:
            self.s.skip_separators()
            char = self.s.peek()
            if char == "" or (end and char == end) or char in ")}":
                return out
            out.append(self.statement())
            self.s.skip_space()
            if not self.s.at_statement_end():
                raise self.error(
                    f"Unexpected token '{self._token_text()}' in expression or statement."
                )

    def _token_text(self) -> str:
        rest = self.text[self.s.pos :]
        word = rest.split(None, 1)[0] if rest.strip() else rest
        return word[:40]

    def block(self) -> list[Node]:
        self.s.skip_space(newlines=True)
        if self.s.peek() != "{":
            raise self.error("Missing statement block.")
        self.s.advance()
        body = self.statements(end="}")
        self.expect("}", "Missing closing '}' in statement block.")
        return body

    def paren_condition(self) -> Node:
        self.s.skip_space(newlines=True)
        self.expect("(", "Missing '(' after the keyword.")
        self.s.skip_space(newlines=True)
        node = self.statement()
        self.s.skip_space(newlines=True)
        self.expect(")", "Missing closing ')' after expression.")
        return node

    # -- statements -------------------------------------------------------------------------

    def statement(self) -> Node:
        start = self.s.pos
        keyword = self.peek_keyword()
        if keyword:
            return self.keyword_statement(keyword, start)
        pipeline = self.pipeline()
        self.s.skip_space()
        for op in _ASSIGN_OPS:
            if self.s.startswith(op) and not (op == "=" and self.s.peek(1) == "="):
                target = pipeline
                if isinstance(pipeline, PipelineNode) and len(pipeline.elements) == 1:
                    target = pipeline.elements[0]
                if not isinstance(target, VarRef | Member | Index | Cast):
                    raise self.error("The assignment expression is not valid.")
                self.s.advance(len(op))
                self.s.skip_space(newlines=True)
                value = self.statement()
                return self.mk(Assign(target, op, value), start)
        return pipeline

    def keyword_statement(self, keyword: str, start: int) -> Node:
        s = self.s
        s.advance(len(keyword))
        if keyword == "if":
            clauses = [(self.paren_condition(), self.block())]
            else_body: list[Node] | None = None
            while True:
                save = s.pos
                s.skip_space(newlines=True)
                word = self.peek_keyword() or s.text[s.pos : s.pos + 6].lower()
                if word.startswith("elseif"):
                    s.advance(6)
                    clauses.append((self.paren_condition(), self.block()))
                    continue
                if word.startswith("else") and not (s.peek(4).isalnum()):
                    s.advance(4)
                    else_body = self.block()
                s.pos = s.pos if else_body is not None else save
                break
            return self.mk(If(clauses, else_body), start)
        if keyword == "foreach":
            s.skip_space(newlines=True)
            self.expect("(", "Missing opening '(' after keyword 'foreach'.")
            s.skip_space(newlines=True)
            if s.peek() != "$":
                raise self.error("Missing variable name after foreach.")
            s.advance()
            var = self.variable_name()
            s.skip_space(newlines=True)
            if s.text[s.pos : s.pos + 2].lower() != "in":
                raise self.error("Missing 'in' after variable in foreach loop.")
            s.advance(2)
            s.skip_space(newlines=True)
            iterable = self.statement()
            s.skip_space(newlines=True)
            self.expect(")", "Missing closing ')' after expression in 'foreach' statement.")
            return self.mk(Foreach(var, iterable, self.block()), start)
        if keyword == "while":
            cond = self.paren_condition()
            return self.mk(While(cond, self.block()), start)
        if keyword == "for":
            s.skip_space(newlines=True)
            self.expect("(", "Missing opening '(' after keyword 'for'.")
            parts: list[Node | None] = []
            for terminator in (";", ";", ")"):
                s.skip_space(newlines=True)
                node = None if s.peek() == terminator else self.statement()
                s.skip_space(newlines=True)
                self.expect(terminator, f"Missing '{terminator}' in 'for' statement.")
                parts.append(node)
            return self.mk(For(parts[0], parts[1], parts[2], self.block()), start)
        if keyword == "try":
            body = self.block()
            catches: list[tuple[list[str], list[Node]]] = []
            final: list[Node] | None = None
            while True:
                save = s.pos
                s.skip_space(newlines=True)
                word = s.text[s.pos : s.pos + 7].lower()
                if word.startswith("catch") and not s.peek(5).isalnum():
                    s.advance(5)
                    types: list[str] = []
                    while True:
                        s.skip_space(newlines=True)
                        if s.peek() != "[":
                            break
                        s.advance()
                        types.append(s.read_type_name())
                        s.skip_space(newlines=True)
                        if s.peek() == ",":
                            s.advance()
                    catches.append((types, self.block()))
                    continue
                if word.startswith("finally") and not s.peek(7).isalnum():
                    s.advance(7)
                    final = self.block()
                    break
                s.pos = save
                break
            if not catches and final is None:
                raise self.error("The Try statement is missing its Catch or Finally block.")
            return self.mk(Try(body, catches, final), start)
        if keyword in ("throw", "exit", "return"):
            s.skip_space()
            value = None if s.at_statement_end() or s.peek() == "|" else self.statement()
            cls = {"throw": Throw, "exit": Exit, "return": Return}[keyword]
            return self.mk(cls(value), start)
        if keyword == "break":
            return self.mk(Break(), start)
        if keyword == "continue":
            return self.mk(Continue(), start)
        if keyword in ("function", "filter"):
            s.skip_space()
            name_start = s.pos
            while not s.at_end() and s.peek() not in ARG_DELIMITERS:
                s.advance()
            name = s.text[name_start : s.pos]
            if not name:
                raise self.error("Missing name after function keyword.")
            s.skip_space(newlines=True)
            params: list[tuple[str, Node | None]] = []
            if s.peek() == "(":
                s.advance()
                params = self.param_list()
            s.skip_space(newlines=True)
            block_start = s.pos
            lit = self.script_block()
            lit.block.params = params or lit.block.params
            lit.start = block_start
            return self.mk(FunctionDef(name, lit.block), start)
        raise self.error(f"The '{keyword}' keyword is not supported by the lab.", start)

    def param_block(self) -> list[tuple[str, Node | None]]:
        """An optional ``param(...)`` at the start of a script or script block."""
        s = self.s
        save = s.pos
        s.skip_separators()
        if s.text[s.pos : s.pos + 5].lower() == "param" and (
            s.peek(5) == "(" or is_space(s.peek(5))
        ):
            s.advance(5)
            s.skip_space()
            self.expect("(", "Missing '(' after param.")
            return self.param_list()
        s.pos = save
        return []

    def param_list(self) -> list[tuple[str, Node | None]]:
        """After ``(``: ``$a, [type]$b = default`` up to ``)`` (consumed)."""
        params: list[tuple[str, Node | None]] = []
        s = self.s
        while True:
            s.skip_space(newlines=True)
            if s.peek() == ")":
                s.advance()
                return params
            while s.peek() == "[":
                s.advance()
                s.read_type_name()
                s.skip_space(newlines=True)
            if s.peek() != "$":
                raise self.error("Missing parameter variable in the param block.")
            s.advance()
            name = self.variable_name()
            s.skip_space(newlines=True)
            default: Node | None = None
            if s.peek() == "=":
                s.advance()
                s.skip_space(newlines=True)
                default = self.expression(no_comma=True)
            params.append((name, default))
            s.skip_space(newlines=True)
            if s.peek() == ",":
                s.advance()

    # -- pipelines and commands -------------------------------------------------------------

    def starts_expression(self) -> bool:
        s = self.s
        char = s.peek()
        if char in "$([{@!,+" or char in SINGLE_QUOTES or char in DOUBLE_QUOTES:
            return True
        if char == "." and s.peek(1).isdigit():
            return True
        if char.isdigit():
            length = _number_prefix(s.text, s.pos)
            after = s.peek(length)
            return (
                after == ""
                or after in ARG_DELIMITERS
                or after in "+*/%,]=>"
                or after in DASHES
                or (after == "." and s.peek(length + 1) == ".")
            )
        if char in DASHES and char != "":
            nxt = s.peek(1)
            if nxt.isdigit() or nxt in {".", "$", "("}:
                return True
            word = ""
            index = s.pos + 1
            while index < len(s.text) and s.text[index].isalpha():
                word += s.text[index]
                index += 1
            return word.lower() in ("not", "bnot", "split", "join")
        return False

    def pipeline(self) -> Node:
        start = self.s.pos
        elements: list[Node] = []
        if self.starts_expression():
            elements.append(self.expression())
        else:
            elements.append(self.command())
        while True:
            self.s.skip_space()
            if self.s.peek() == "|" and self.s.peek(1) != "|":
                self.s.advance()
                self.s.skip_space(newlines=True)
                if self.s.at_end() or self.s.peek() in ")};|":
                    raise self.error("An empty pipe element is not allowed.")
                elements.append(self.command())
                continue
            break
        if len(elements) == 1 and not isinstance(elements[0], Command):
            return elements[0]
        return self.mk(PipelineNode(elements), start)

    def command(self) -> Command:
        s = self.s
        start = s.pos
        call_op = ""
        if s.peek() in "&." and (s.peek() == "&" or is_space(s.peek(1))):
            call_op = s.advance()
            s.skip_space()
            name: Node = self.postfix(self.primary())
        else:
            name_start = s.pos
            name = self.generic_token()
            if isinstance(name, Const) and name.value == "":
                raise self.error(f"Unexpected token '{s.peek()}' in expression or statement.")
            name.start = name_start
        elements: list[Param | Node] = []
        redirects: list[Redirect] = []
        params_ended = False
        while True:
            s.skip_space()
            char = s.peek()
            if char == "" or char in NEWLINES or char in ";|)}":
                break
            elem_start = s.pos
            if redirect := self.try_redirect():
                redirects.append(redirect)
                continue
            if (
                not params_ended
                and self.is_dash()
                and (s.peek(1).isalpha() or s.peek(1) in "_?")
            ):
                s.advance()
                name_begin = s.pos
                while not s.at_end() and s.peek() not in ARG_DELIMITERS and s.peek() != ":":
                    s.advance()
                pname = s.text[name_begin : s.pos]
                value: Node | None = None
                if s.peek() == ":":
                    s.advance()
                    s.skip_space()
                    value = self.argument_list()
                text = s.text[elem_start : s.pos]
                elements.append(self.mk(Param(pname, value, text), elem_start))
                continue
            if not params_ended and self.is_dash() and self.is_dash(1) and (
                s.peek(2) == "" or s.peek(2) in ARG_DELIMITERS
            ):
                s.advance(2)
                params_ended = True
                continue
            elements.append(self.argument_list())
        node = Command(name, elements, call_op, redirects)
        self.mk(node, start)
        return node

    def try_redirect(self) -> Redirect | None:
        s = self.s
        start = s.pos
        stream = "1"
        if s.peek() in "123456*" and s.peek(1) == ">":
            stream = s.advance()
        elif s.peek() != ">":
            return None
        s.advance()
        append = False
        if s.peek() == ">":
            s.advance()
            append = True
        if s.peek() == "&" and s.peek(1) in "12":
            s.advance(2)
            return Redirect(stream, None, merge=True, start=start, end=s.pos, src=self.text)
        s.skip_space()
        target = self.argument()
        return Redirect(stream, target, append=append, start=start, end=s.pos, src=self.text)

    def argument_list(self) -> Node:
        start = self.s.pos
        first = self.argument()
        items = [first]
        while True:
            save = self.s.pos
            self.s.skip_space()
            if self.s.peek() == ",":
                self.s.advance()
                self.s.skip_space(newlines=True)
                items.append(self.argument())
                continue
            self.s.pos = save
            break
        if len(items) == 1:
            return first
        return self.mk(ArrayLit(items), start)

    def argument(self) -> Node:
        s = self.s
        char = s.peek()
        start = s.pos
        if char in SINGLE_QUOTES or char in DOUBLE_QUOTES:
            return self.string_literal()
        if char == "$" or char in "(@{":
            if char == "@" and s.peek(1) not in "({'\"" and s.peek(1) not in SINGLE_QUOTES:
                return self.generic_token()
            node = self.postfix(self.primary())
            return node
        node = self.generic_token()
        if isinstance(node, Const) and isinstance(node.value, str):
            number = parse_number(node.value)
            if number is not None:
                return self.mk(Const(number), start)
        return node

    def generic_token(self) -> Node:
        """A bareword in argument mode; ``$var`` inside it expands, backtick escapes."""
        s = self.s
        start = s.pos
        parts: list[str | Node] = []
        buf: list[str] = []
        while not s.at_end():
            char = s.peek()
            if char in ARG_DELIMITERS:
                break
            if char == "`":
                nxt = s.peek(1)
                if nxt == "" or nxt in NEWLINES:
                    break
                s.advance(2)
                buf.append(ESCAPES.get(nxt, nxt))
                continue
            if char == "$" and (is_name_char(s.peek(1)) or s.peek(1) in "{($"):
                if buf:
                    parts.append("".join(buf))
                    buf = []
                parts.append(self.embedded_variable())
                continue
            buf.append(char)
            s.advance()
        if buf:
            parts.append("".join(buf))
        if not parts:
            return self.mk(Const(""), start)
        if all(isinstance(p, str) for p in parts):
            return self.mk(Const("".join(p for p in parts if isinstance(p, str))), start)
        return self.mk(ExpandString(parts), start)

    # -- expressions ------------------------------------------------------------------------

    def expression(self, no_comma: bool = False) -> Node:
        return self.binary_level(0, no_comma)

    _LEVELS: tuple[frozenset[str], ...] = (
        frozenset(_LOGICAL),
        frozenset(_BITWISE),
        frozenset(_COMPARISON | {"c" + op for op in _CASE_PREFIXED}),
        frozenset({"+", "-"}),
        frozenset({"*", "/", "%"}),
        frozenset({"f"}),
        frozenset({".."}),
    )

    def peek_operator(self) -> tuple[str, int]:
        """The binary operator at the cursor (after blanks) and its length, or ('', 0)."""
        s = self.s
        char = s.peek()
        if char in DASHES and char != "" and s.peek(1).isalpha():
            index = s.pos + 1
            while index < len(s.text) and s.text[index].isalpha():
                index += 1
            op = _operator_name(s.text[s.pos + 1 : index])
            if op:
                return op, index - s.pos
            return "", 0
        if s.startswith(".."):
            return "..", 2
        if char in DASHES and char != "" and not s.startswith("-=") and s.peek(1) not in "-":
            return "-", 1
        if char in "+*/%" and s.peek(1) != "=" and not (char == "+" and s.peek(1) == "+"):
            return char, 1
        return "", 0

    def binary_level(self, level: int, no_comma: bool) -> Node:
        if level == len(self._LEVELS):
            return self.comma_level(no_comma)
        start = self.s.pos
        left = self.binary_level(level + 1, no_comma)
        while True:
            save = self.s.pos
            self.s.skip_space()
            op, length = self.peek_operator()
            if not op or op not in self._LEVELS[level]:
                self.s.pos = save
                return left
            self.s.advance(length)
            self.s.skip_space(newlines=True)
            right = self.binary_level(level + 1, no_comma)
            left = self.mk(Binary(op, left, right), start)

    def comma_level(self, no_comma: bool) -> Node:
        start = self.s.pos
        first = self.unary()
        if no_comma:
            return first
        items = [first]
        while True:
            save = self.s.pos
            self.s.skip_space()
            if self.s.peek() == ",":
                self.s.advance()
                self.s.skip_space(newlines=True)
                items.append(self.unary())
                continue
            self.s.pos = save
            break
        if len(items) == 1:
            return first
        return self.mk(ArrayLit(items), start)

    def unary(self) -> Node:
        s = self.s
        start = s.pos
        char = s.peek()
        if char == "!":
            s.advance()
            s.skip_space()
            return self.mk(Unary("not", self.unary()), start)
        if char == ",":
            s.advance()
            s.skip_space()
            return self.mk(Unary(",", self.unary()), start)
        if char in DASHES and char != "":
            if s.peek(1) in DASHES and s.peek(1) != "" and s.peek(2) == "$":
                s.advance(2)
                return self.mk(IncDec(self.postfix(self.primary()), -1, True), start)
            if s.peek(1).isalpha():
                index = s.pos + 1
                while index < len(s.text) and s.text[index].isalpha():
                    index += 1
                word = s.text[s.pos + 1 : index].lower()
                if word in ("not", "bnot", "split", "join"):
                    s.pos = index
                    s.skip_space()
                    return self.mk(Unary(word, self.unary()), start)
                raise self.error(f"Unexpected token '-{word}' in expression or statement.")
            s.advance()
            s.skip_space()
            operand = self.unary()
            if isinstance(operand, Const) and isinstance(operand.value, int | float) and not (
                isinstance(operand.value, bool)
            ):
                return self.mk(Const(-operand.value), start)
            return self.mk(Unary("-", operand), start)
        if char == "+":
            if s.peek(1) == "+" and s.peek(2) == "$":
                s.advance(2)
                return self.mk(IncDec(self.postfix(self.primary()), 1, True), start)
            s.advance()
            s.skip_space()
            return self.mk(Unary("+", self.unary()), start)
        if char == "[":
            save = s.pos
            s.advance()
            type_name = s.read_type_name()
            if s.startswith("::"):
                s.pos = save
                return self.postfix(self.primary())
            after = s.pos
            s.skip_space()
            nxt = s.peek()
            if (
                nxt
                and nxt not in NEWLINES
                and nxt not in ";|)}],=."
                and not (nxt in DASHES and s.peek(1).isalpha())
                and nxt not in "+*/%"
            ):
                return self.mk(Cast(type_name, self.unary()), start)
            s.pos = after
            return self.postfix(self.mk(TypeLit(type_name), start))
        node = self.postfix(self.primary())
        if s.startswith("++") or (s.peek() in DASHES and s.peek(1) in DASHES and s.peek(1)):
            if isinstance(node, VarRef | Member | Index):
                delta = 1 if s.peek() == "+" else -1
                s.advance(2)
                return self.mk(IncDec(node, delta, False), start)
        return node

    def postfix(self, node: Node) -> Node:
        s = self.s
        start = node.start
        while True:
            if s.peek() == "." and (is_name_char(s.peek(1)) or s.peek(1) in SINGLE_QUOTES
                                    or s.peek(1) in DOUBLE_QUOTES):
                s.advance()
                node = self.member_rest(node, start, static=False)
            elif s.startswith("::") and is_name_char(s.peek(2)):
                s.advance(2)
                node = self.member_rest(node, start, static=True)
            elif s.peek() == "[" and not isinstance(node, TypeLit):
                s.advance()
                s.skip_space(newlines=True)
                index = self.expression()
                s.skip_space(newlines=True)
                self.expect("]", "Array index expression is missing or not valid.")
                node = self.mk(Index(node, index), start)
            else:
                return node

    def member_rest(self, target: Node, start: int, static: bool) -> Node:
        s = self.s
        if s.peek() in SINGLE_QUOTES:
            name = s.read_single_quoted()
        elif s.peek() in DOUBLE_QUOTES:
            lit = self.string_literal()
            name = lit.value if isinstance(lit, Const) else ""
        else:
            begin = s.pos
            while is_name_char(s.peek()):
                s.advance()
            name = s.text[begin : s.pos]
        if s.peek() == "(":
            s.advance()
            args: list[Node] = []
            s.skip_space(newlines=True)
            while s.peek() != ")":
                args.append(self.expression(no_comma=True))
                s.skip_space(newlines=True)
                if s.peek() == ",":
                    s.advance()
                    s.skip_space(newlines=True)
                elif s.peek() != ")":
                    raise self.error("Missing ')' in method call.")
            s.advance()
            return self.mk(Invoke(target, name, args, static), start)
        return self.mk(Member(target, name, static), start)

    def primary(self) -> Node:
        s = self.s
        start = s.pos
        char = s.peek()
        if char == "$":
            nxt = s.peek(1)
            if nxt == "(":
                s.advance(2)
                body = self.statements(end=")")
                self.expect(")", "Missing closing ')' in subexpression.")
                return self.mk(SubExpr(body), start)
            s.advance()
            return self.variable(start)
        if char in SINGLE_QUOTES or char in DOUBLE_QUOTES:
            return self.string_literal()
        if char == "@":
            nxt = s.peek(1)
            if nxt == "(":
                s.advance(2)
                body = self.statements(end=")")
                self.expect(")", "Missing closing ')' in array subexpression.")
                return self.mk(ArrayExpr(body), start)
            if nxt == "{":
                s.advance(2)
                return self.hashtable(start)
            if nxt in SINGLE_QUOTES or nxt in DOUBLE_QUOTES:
                return self.here_string()
            raise self.error("Unrecognized token in source text.")
        if char == "(":
            s.advance()
            s.skip_space(newlines=True)
            inner = self.statement()
            s.skip_space(newlines=True)
            self.expect(")", "Missing closing ')' in expression.")
            return self.mk(Paren(inner), start)
        if char == "{":
            return self.script_block()
        if char == "[":
            s.advance()
            type_name = s.read_type_name()
            return self.mk(TypeLit(type_name), start)
        if char.isdigit() or (char == "." and s.peek(1).isdigit()):
            length = _number_prefix(s.text, s.pos)
            token = s.text[s.pos : s.pos + length]
            number = parse_number(token)
            if number is None:
                raise self.error(f"Unexpected token '{token}' in expression or statement.")
            s.advance(length)
            return self.mk(Const(number), start)
        raise self.error(f"Unexpected token '{self._token_text()}' in expression or statement.")

    def variable_name(self) -> str:
        s = self.s
        if s.peek() == "{":
            end = s.text.find("}", s.pos)
            if end < 0:
                raise self.error("Missing closing '}' in variable name.")
            name = s.text[s.pos + 1 : end]
            s.pos = end + 1
            return name
        if s.peek() in "$^?" and not is_name_char(s.peek(1)):
            return s.advance()
        begin = s.pos
        while is_name_char(s.peek()) or (
            s.peek() == ":" and is_name_char(s.peek(1)) and ":" not in s.text[begin : s.pos]
            and s.pos > begin
        ):
            s.advance()
        name = s.text[begin : s.pos]
        if not name:
            raise self.error("Invalid variable reference.")
        return name

    def variable(self, start: int) -> Node:
        name = self.variable_name()
        drive = ""
        if ":" in name:
            drive, _, name = name.partition(":")
            drive = drive.lower()
        return self.mk(VarRef(name, drive), start)

    def embedded_variable(self) -> Node:
        """At ``$`` inside an expandable string or bareword: ``$name``, ``${name}``, ``$(..)``."""
        s = self.s
        start = s.pos
        if s.peek(1) == "(":
            s.advance(2)
            body = self.statements(end=")")
            self.expect(")", "Missing closing ')' in subexpression.")
            return self.mk(SubExpr(body), start)
        s.advance()
        return self.variable(start)

    def string_literal(self) -> Node:
        s = self.s
        start = s.pos
        if s.peek() in SINGLE_QUOTES:
            return self.mk(Const(s.read_single_quoted()), start)
        s.advance()
        parts: list[str | Node] = []
        buf: list[str] = []
        while True:
            if s.at_end():
                raise self.error('The string is missing the terminator: ".', start)
            char = s.peek()
            if char in DOUBLE_QUOTES:
                if s.peek(1) in DOUBLE_QUOTES and s.peek(1) != "":
                    buf.append(s.peek(1))
                    s.advance(2)
                    continue
                s.advance()
                break
            if char == "`" and s.pos + 1 < len(s.text):
                nxt = s.peek(1)
                s.advance(2)
                buf.append(ESCAPES.get(nxt, nxt))
                continue
            if char == "$" and (is_name_char(s.peek(1)) or s.peek(1) in "{("):
                if buf:
                    parts.append("".join(buf))
                    buf = []
                parts.append(self.embedded_variable())
                continue
            buf.append(char)
            s.advance()
        if buf:
            parts.append("".join(buf))
        if all(isinstance(p, str) for p in parts):
            return self.mk(Const("".join(p for p in parts if isinstance(p, str))), start)
        return self.mk(ExpandString(parts), start)

    def here_string(self) -> Node:
        s = self.s
        start = s.pos
        quote = s.peek(1)
        s.advance(2)
        while is_space(s.peek()):
            s.advance()
        if s.peek() == "\r":
            s.advance()
        if s.peek() != "\n":
            raise self.error("No characters are allowed after a here-string header.")
        s.advance()
        body_start = s.pos
        closer_single = quote in SINGLE_QUOTES
        index = body_start
        while True:
            nl = s.text.find("\n", index)
            if nl < 0:
                raise self.error("The here-string is missing its terminator.", start)
            after = s.text[nl + 1 : nl + 3]
            if len(after) == 2 and after[1] == "@" and (
                (closer_single and after[0] in SINGLE_QUOTES)
                or (not closer_single and after[0] in DOUBLE_QUOTES)
            ):
                body_end = nl - 1 if nl > body_start and s.text[nl - 1] == "\r" else nl
                body = s.text[body_start : max(body_end, body_start)]
                s.pos = nl + 3
                break
            index = nl + 1
        if closer_single:
            return self.mk(Const(body), start)
        inner = Parser('"' + body.replace('"', '""') + '"')
        node = inner.string_literal()
        node.start, node.end, node.src = start, s.pos, self.text
        return node

    def hashtable(self, start: int) -> Node:
        s = self.s
        pairs: list[tuple[Node, Node]] = []
        while True:
            s.skip_separators()
            if s.peek() == "}":
                s.advance()
                return self.mk(HashLit(pairs), start)
            key_start = s.pos
            if s.peek() in SINGLE_QUOTES or s.peek() in DOUBLE_QUOTES:
                key: Node = self.string_literal()
            elif s.peek() in "$(":
                key = self.unary()
            else:
                while not s.at_end() and s.peek() not in ARG_DELIMITERS and s.peek() != "=":
                    s.advance()
                word = s.text[key_start : s.pos]
                if not word:
                    raise self.error("Missing key before '=' in hash literal.")
                number = parse_number(word)
                key = self.mk(Const(number if number is not None else word), key_start)
            s.skip_space()
            self.expect("=", "Missing '=' operator after key in hash literal.")
            s.skip_space(newlines=True)
            value = self.statement()
            pairs.append((key, value))
            s.skip_space()
            if s.peek() not in ";}" and s.peek() not in NEWLINES:
                raise self.error("Missing statement after '=' in hash literal.")

    def script_block(self) -> BlockLit:
        s = self.s
        start = s.pos
        self.expect("{", "Missing '{'.")
        params = self.param_block()
        body = self.statements(end="}")
        self.expect("}", "Missing closing '}' in statement block or type definition.")
        text = s.text[start + 1 : s.pos - 1]
        node = BlockLit(ScriptBlock(body, text, params))
        self.mk(node, start)
        return node


def parse_script(text: str) -> ScriptBlock:
    """Parse a whole script; raises :class:`ParseError` (PowerShell's ParseException)."""
    parser = Parser(text)
    try:
        body = parser.parse_script()
    except ParseError:
        raise
    except ScanError as exc:
        raise ParseError(exc.message, exc.pos) from None
    return ScriptBlock(body, text, parser.script_params)


def line_and_column(text: str, pos: int) -> tuple[int, int, str]:
    """1-based line and column of ``pos`` and the text of that line."""
    pos = max(0, min(pos, len(text)))
    before = text[:pos].replace("\r\n", "\n").replace("\r", "\n")
    line = before.count("\n") + 1
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    column = len(before) - (before.rfind("\n") + 1) + 1
    return line, column, lines[line - 1] if line - 1 < len(lines) else ""
