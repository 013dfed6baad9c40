"""Expression-mode parsing: operators with PowerShell's precedence, literals, variables.

Precedence, lowest first: -and/-or/-xor, -band/-bor/-bxor, comparison (-eq ... -like -match
-replace -split -join -is -as), + -, * / %, -f, .., the comma, then unary operators and casts;
postfix member access (``.Name``, ``.Method()``, ``::Static``) and indexing bind tightest.
:class:`~lab.powershell.parser.Parser` adds statements and argument mode on top.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lab.powershell.lexer import (
    ARG_DELIMITERS,
    DASHES,
    DOUBLE_QUOTES,
    ESCAPES,
    NEWLINES,
    SINGLE_QUOTES,
    Scanner,
    is_name_char,
    is_space,
    one_of,
    parse_number,
)
from lab.powershell.syntax import (
    ArrayExpr,
    ArrayLit,
    Binary,
    BlockLit,
    Cast,
    Const,
    ExpandString,
    HashLit,
    IncDec,
    Index,
    Invoke,
    Member,
    Node,
    Paren,
    ParseError,
    SubExpr,
    TypeLit,
    Unary,
    VarRef,
)
from lab.powershell.values import ScriptBlock

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
KEYWORDS = {
    "if", "foreach", "while", "for", "try", "throw", "exit", "return", "break", "continue",
    "function", "filter", "do", "switch", "param",
}
ASSIGN_OPS = ("+=", "-=", "*=", "/=", "%=", "=")


_NUMBER_PREFIX = re.compile(
    r"0[xX][0-9a-fA-F]+[lL]?|(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?[dDlL]?(?:[kKmMgGtTpP][bB])?"
)


def number_prefix(text: str, pos: int) -> int:
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


class ExpressionParser:
    """Expression-mode parsing over a :class:`Scanner`; statements come from the subclass."""

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

    def is_dash(self, offset: int = 0) -> bool:
        return self.s.peek(offset) in DASHES and self.s.peek(offset) != ""

    # -- statement lists --------------------------------------------------------------------

    def _token_text(self) -> str:
        rest = self.text[self.s.pos :]
        word = rest.split(None, 1)[0] if rest.strip() else rest
        return word[:40]

    # -- provided by the statement parser ---------------------------------------------------

    def statements(self, end: str) -> list[Node]:
        raise NotImplementedError

    def statement(self) -> Node:
        raise NotImplementedError

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
        if no_comma:
            return self.unary()
        return self.comma_list(self.unary)

    def comma_list(self, item: Callable[[], Node]) -> Node:
        """``item`` or ``item, item, ...`` (an array literal), as PowerShell's comma operator."""
        start = self.s.pos
        first = item()
        items = [first]
        while True:
            save = self.s.pos
            self.s.skip_space()
            if self.s.peek() == ",":
                self.s.advance()
                self.s.skip_space(newlines=True)
                items.append(item())
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
            length = number_prefix(s.text, s.pos)
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
        if one_of(s.peek(), "$^?") and not is_name_char(s.peek(1)):
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
            if char == "$" and (is_name_char(s.peek(1)) or one_of(s.peek(1), "{(")):
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
        from lab.powershell.parser import Parser

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
