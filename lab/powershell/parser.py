"""Recursive-descent parser for the PowerShell subset: source text -> statement nodes.

It follows PowerShell's two parsing modes: a statement that starts with a bareword is a
command parsed in *argument mode* (``-Name`` is a parameter, ``a,b`` an array argument,
``\\\\srv\\share`` a bareword string); anything else is an *expression*
(:mod:`lab.powershell.exprparser`). Every statement and command keeps its source
extent for error messages ("At line:1 char:1").
"""

from __future__ import annotations

from lab.powershell.exprparser import (
    ASSIGN_OPS,
    KEYWORDS,
    ExpressionParser,
    number_prefix,
)
from lab.powershell.lexer import (
    ARG_DELIMITERS,
    DASHES,
    DOUBLE_QUOTES,
    ESCAPES,
    NEWLINES,
    SINGLE_QUOTES,
    ScanError,
    is_name_char,
    is_space,
    one_of,
    parse_number,
)
from lab.powershell.syntax import (
    Assignment,
    Break,
    Cast,
    Command,
    Const,
    Continue,
    Exit,
    ExpandString,
    For,
    Foreach,
    FunctionDef,
    If,
    Index,
    Member,
    Node,
    Param,
    ParseError,
    PipelineNode,
    Redirect,
    Return,
    Throw,
    Try,
    VarRef,
    While,
)
from lab.powershell.values import ScriptBlock

__all__ = ["ParseError", "Parser", "line_and_column", "parse_script"]


class Parser(ExpressionParser):
    """Parses one source text. Use :func:`parse_script`."""

    def peek_keyword(self) -> str:
        """The keyword at the cursor (lower case) if a bareword keyword starts here."""
        s = self.s
        index = s.pos
        while index < len(s.text) and (s.text[index].isalpha()):
            index += 1
        word = s.text[s.pos : index].lower()
        if word in KEYWORDS:
            nxt = s.text[index] if index < len(s.text) else ""
            if nxt == "" or not (nxt.isalnum() or nxt in "-_.\\:"):
                return word
        return ""

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
            before = self.s.pos
            out.append(self.statement())
            if self.s.pos == before:
                raise self.error(f"Unexpected token '{char}' in expression or statement.")
            self.s.skip_space()
            if not self.s.at_statement_end():
                raise self.error(
                    f"Unexpected token '{self._token_text()}' in expression or statement."
                )

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
        for op in ASSIGN_OPS:
            if self.s.startswith(op) and not (op == "=" and self.s.peek(1) == "="):
                target = pipeline
                if isinstance(pipeline, PipelineNode) and len(pipeline.elements) == 1:
                    target = pipeline.elements[0]
                if not isinstance(target, VarRef | Member | Index | Cast):
                    raise self.error("The assignment expression is not valid.")
                self.s.advance(len(op))
                self.s.skip_space(newlines=True)
                value = self.statement()
                return self.mk(Assignment(target, op, value), start)
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

    def starts_expression(self) -> bool:
        s = self.s
        char = s.peek()
        if char in "$([{@!,+" or char in SINGLE_QUOTES or char in DOUBLE_QUOTES:
            return True
        if char == "." and s.peek(1).isdigit():
            return True
        if char.isdigit():
            length = number_prefix(s.text, s.pos)
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
                and (s.peek(1).isalpha() or one_of(s.peek(1), "_?"))
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
            if s.pos == elem_start:
                raise self.error(f"Unexpected token '{s.peek()}' in expression or statement.")
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
        if s.peek() == "&" and one_of(s.peek(1), "12"):
            s.advance(2)
            return Redirect(stream, None, merge=True, start=start, end=s.pos, src=self.text)
        s.skip_space()
        target = self.argument()
        return Redirect(stream, target, append=append, start=start, end=s.pos, src=self.text)

    def argument_list(self) -> Node:
        return self.comma_list(self.argument)

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
                if nxt == "":
                    s.advance()
                    buf.append(char)
                    continue
                if nxt in NEWLINES:
                    break
                s.advance(2)
                buf.append(ESCAPES.get(nxt, nxt))
                continue
            if char == "$" and (is_name_char(s.peek(1)) or one_of(s.peek(1), "{($")):
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
