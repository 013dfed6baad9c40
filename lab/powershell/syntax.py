"""Syntax tree of the PowerShell subset (what the parser builds and the evaluator walks).

Every node keeps its source extent (``start``/``end`` offsets into ``src``) so errors can say
"At line:1 char:1" and underline the failing element as PowerShell does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lab.powershell.lexer import ScanError
from lab.powershell.values import ScriptBlock


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
class Assignment(Node):
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
