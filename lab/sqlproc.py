"""The procedural part of the lab's T-SQL: variables, control flow and dynamic SQL.

A batch may declare local variables and table variables, assign them, branch and loop, and build
statements to run with ``EXEC (@string)`` or ``EXEC sp_executesql``, so that one fixed batch can
decide on the server what to do (e.g. read ``RESTORE FILELISTONLY`` into a table variable and add
``MOVE`` clauses). Supported, as SQL Server documents them (anything else fails 102)::

    DECLARE @v type [= expr] [, ...] | DECLARE @t TABLE (column type [NULL | NOT NULL], ...)
    SET @v = expr | SET @v += expr          SELECT @v = expr [, ...] [FROM ...]   (the last row wins)
    INSERT [INTO] @t EXEC[UTE] ...          (213 when a result set does not match the table)
    IF cond stmt [ELSE stmt]   WHILE cond stmt   BEGIN ... END   BREAK   CONTINUE   RETURN
    EXEC[UTE] ( 'text' | @v [+ ...] )       EXEC sp_executesql @stmt [, N'@p type, ...' [, value | @p = value ...]]

Semantics kept where a restore script could notice: the batch is compiled before it runs (a
variable used before its DECLARE fails 137, an unknown table variable 1087, a duplicate DECLARE
134, BREAK or CONTINUE outside WHILE 135/136, and nothing runs); a character type declared
without a length is one character long; assignment to a variable truncates silently while an
insert into a table fails 8152; dynamic SQL runs as its own batch (it sees only its parameters,
and a ``USE`` inside it ends with it);
``EXEC (...)`` takes only string literals and variables joined by ``+``; RESTORE and BACKUP cannot
run inside ``INSERT ... EXEC`` (its implicit transaction: 3021). Lab simplification kept from the
engine: the first error ends the whole batch (SQL Server ends only the statement for most errors).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .sqlexpr import SqlType, convert_value, parse_expr, parse_type
from .sqllex import Cursor, tokenize
from .sqlviews import TableVariable
from .tds.api import Column, ResultSink, SqlError

Runner = Callable[[ResultSink], None]


@dataclass
class Frame:
    """The variables of one batch (dynamic SQL gets a frame of its own)."""

    values: dict[str, Any] = field(default_factory=dict)
    types: dict[str, SqlType] = field(default_factory=dict)
    tables: dict[str, TableVariable] = field(default_factory=dict)
    #: @@ROWCOUNT: rows the last statement affected or returned
    rowcount: int = 0
    #: set by a statement that sets @@ROWCOUNT itself (the others leave it 0)
    counted: bool = False

    def assign(self, name: str, value: Any) -> None:
        """Store ``value`` in ``@name`` converted to its declared type (strings cut silently)."""
        self.values[name] = convert_value(value, self.types[name])

    def count(self, rows: int) -> None:
        self.rowcount = rows
        self.counted = True


# ------------------------------------------------------------------------------ the batch tree


@dataclass(frozen=True)
class Statement:
    """A statement that does work (recorded in the statement log when it runs)."""

    text: str
    run: Runner


@dataclass(frozen=True)
class Block:
    body: tuple[Node, ...]


@dataclass(frozen=True)
class If:
    cond: Any  # an sqlexpr.Expr
    then: Node
    other: Node | None


@dataclass(frozen=True)
class While:
    cond: Any
    body: Node


@dataclass(frozen=True)
class Jump:
    """BREAK, CONTINUE or RETURN."""

    word: str


Node = Statement | Block | If | While | Jump


class BreakLoop(Exception):
    pass


class ContinueLoop(Exception):
    pass


class ReturnFromBatch(Exception):
    """RETURN, or the client cancelled: the batch ends without an error."""


# ------------------------------------------------------------------------------ declarations


@dataclass(frozen=True)
class Declaration:
    name: str  # case-folded, with its @
    type: SqlType | None  # None for a table variable
    init: Any = None  # an Expr, or None
    columns: tuple[tuple[str, SqlType], ...] = ()


def parse_declare(c: Cursor) -> list[Declaration]:
    """From after DECLARE: ``@v type [= expr]`` items, or one ``@t TABLE (...)``. Names are
    registered in the cursor as they are read (later statements of the batch may use them)."""
    out: list[Declaration] = []
    while True:
        tok = c.tok
        if tok.kind != "var" or tok.text.startswith("@@"):
            raise c.fail()
        c.take()
        name = tok.text.casefold()
        if name in c.variables or name in c.table_variables:
            raise SqlError(134, f"The variable name '{tok.text}' has already been declared. Variable names must "
                                "be unique within a query batch or stored procedure.", 15)
        c.accept_word("AS")
        if c.accept_word("TABLE"):
            columns = _table_columns(c)
            c.table_variables.add(name)
            out.append(Declaration(name, None, columns=columns))
            return out
        sqltype = parse_type(c)
        init = None
        if c.accept_op("="):
            init = parse_expr(c)
        c.variables.add(name)
        out.append(Declaration(name, sqltype, init))
        if not c.accept_op(","):
            return out


def _table_columns(c: Cursor) -> tuple[tuple[str, SqlType], ...]:
    c.expect_op("(")
    cols: list[tuple[str, SqlType]] = []
    while True:
        col = c.name()
        sqltype = parse_type(c)
        if c.accept_word("NOT"):
            if c.tok.kind != "null":
                raise c.fail()
            c.take()
        elif c.tok.kind == "null":
            c.take()
        if any(n.casefold() == col.casefold() for n, _ in cols):
            raise SqlError(2705, f"Column names in each table must be unique. Column name '{col}' in table "
                                 "'@table' is specified more than once.", 16)
        cols.append((col, sqltype))
        if not c.accept_op(","):
            break
    c.expect_op(")")
    return tuple(cols)


def table_variable(decl: Declaration) -> TableVariable:
    return TableVariable(decl.name, tuple(Column(n, t.column_type) for n, t in decl.columns),
                         tuple(t for _, t in decl.columns))


def parse_param_definitions(text: str) -> list[tuple[str, SqlType]]:
    """The ``@params`` argument of sp_executesql: ``@a int, @b nvarchar(260) [OUTPUT]``."""
    c = Cursor(tokenize(text))
    out: list[tuple[str, SqlType]] = []
    if c.at_end():
        return out
    while True:
        tok = c.tok
        if tok.kind != "var" or tok.text.startswith("@@"):
            raise c.fail()
        c.take()
        c.accept_word("AS")
        out.append((tok.text.casefold(), parse_type(c)))
        c.accept_word("OUTPUT", "OUT")
        if not c.accept_op(","):
            break
    if not c.at_end():
        raise c.fail()
    return out


# ------------------------------------------------------------------------------ INSERT ... EXEC


class Capture:
    """The sink of the EXEC inside ``INSERT ... EXEC``: result sets are kept for the insert,
    messages and errors still reach the client."""

    def __init__(self, outer: ResultSink) -> None:
        self.outer = outer
        self.sets: list[tuple[list[Column], list[list[object]]]] = []

    def columns(self, cols: Sequence[Column]) -> None:
        self.sets.append((list(cols), []))

    def row(self, values: Sequence[object]) -> None:
        self.sets[-1][1].append(list(values))

    def info(self, number: int, message: str, *, severity: int = 0, state: int = 1) -> None:
        self.outer.info(number, message, severity=severity, state=state)

    def error(self, err: SqlError) -> None:
        self.outer.error(err)

    def done(self, rowcount: int | None = None) -> None:
        pass

    @property
    def cancelled(self) -> Any:
        return self.outer.cancelled


def insert_rows(table: TableVariable, capture: Capture) -> int:
    """Append what the EXEC returned to ``table``; returns the number of rows."""
    added: list[tuple[object, ...]] = []
    for cols, rows in capture.sets:
        if len(cols) != len(table.columns):
            raise SqlError(213, "Column name or number of supplied values does not match table definition.", 16)
        for row in rows:
            values = []
            for value, sqltype in zip(row, table.types, strict=True):
                converted = convert_value(value, sqltype)
                if isinstance(value, str) and sqltype.length is not None and len(value.rstrip()) > sqltype.length:
                    raise SqlError(8152, "String or binary data would be truncated.", 16)
                values.append(converted)
            added.append(tuple(values))
    table.rows.extend(added)
    return len(added)


__all__ = ["Block", "BreakLoop", "Capture", "ContinueLoop", "Declaration", "Frame", "If", "Jump", "Node",
           "ReturnFromBatch", "Statement", "While", "insert_rows", "parse_declare", "parse_param_definitions",
           "table_variable"]
