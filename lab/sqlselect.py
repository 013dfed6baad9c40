"""SELECT over the catalog views a restore drill reads, for the lab's T-SQL engine.

Supported shape (anything else fails 102 "Incorrect syntax near ..." like a typo would)::

    SELECT [DISTINCT] [TOP n | TOP (n)] item [, item...]
      [FROM view [[AS] alias] [[INNER | LEFT [OUTER]] JOIN view [[AS] alias] ON cond]...]
      [WHERE cond] [GROUP BY expr, ...] [ORDER BY expr|alias|ordinal [ASC|DESC], ...]

``item`` is ``*``, ``alias.*`` or an expression with an optional ``[AS] alias``, or (all of them)
``@variable = expression``: the statement then assigns the variables from each row in turn (the
last row wins) and returns no rows. A source may be a table variable (``FROM @files``). Expressions:
columns (``name``, ``d.name``), strings, numbers, ``?`` parameters, NULL, ``+ - * /``,
``= <> != < > <= >=``, ``[NOT] IN (...)``, ``[NOT] LIKE``, ``IS [NOT] NULL``, AND/OR/NOT,
aggregates COUNT(*)/COUNT/MIN/MAX/SUM, and the functions DB_NAME, DB_ID, SERVERPROPERTY,
DATABASEPROPERTYEX, UPPER, LOWER, ISNULL, COALESCE, GETDATE, SUSER_SNAME and ``@@VERSION``,
``@@SERVERNAME``, ``@@SPID``. String comparisons ignore case (the default collation).

Views: ``sys.databases``, ``sys.master_files``, ``sys.database_mirroring``,
``sys.server_principals``, the database-scoped ``[db.]sys.database_files``,
``sys.database_principals``, ``sys.database_role_members``, and
``msdb.dbo.backupset``, ``msdb.dbo.backupmediafamily``, ``msdb.dbo.restorehistory``.
LSN columns are ``bigint`` here (``numeric(25,0)`` on a real server). Unknown views fail 208,
unknown columns 207, ambiguous ones 209.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .sqlexpr import RESERVED, Binder, Env, Evaluator, Expr, parse_expr
from .sqllex import Cursor
from .sqlviews import Row, SelectContext, resolve_view, view_of
from .tds.api import Column, SqlError

# Statement
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    key: str
    alias: str
    database: str
    join: str | None = None  # None for the first table, else 'INNER' / 'LEFT'
    on: Expr | None = None


@dataclass(frozen=True)
class Item:
    expr: Expr
    alias: str | None
    target: str | None = None  # ``SELECT @v = expr``: the variable (case-folded) it assigns


@dataclass(frozen=True)
class SelectStmt:
    items: tuple[Item, ...]
    sources: tuple[Source, ...] = ()
    where: Expr | None = None
    group_by: tuple[Expr, ...] = ()
    order_by: tuple[tuple[Expr, bool], ...] = ()  # (expr, descending)
    top: int | None = None
    distinct: bool = False

    @property
    def assigns(self) -> bool:
        """``SELECT @a = x, @b = y ...``: sets variables from the last row, returns no rows."""
        return any(i.target is not None for i in self.items)


def parse_select(c: Cursor, current_db: str) -> SelectStmt:
    """Parse from just after the SELECT keyword to the end of the statement."""
    distinct = c.accept_word("DISTINCT") is not None
    top = None
    if c.accept_word("TOP"):
        if c.accept_op("("):
            top = c.integer()
            c.expect_op(")")
        else:
            top = c.integer()
    items = [_item(c)]
    while c.accept_op(","):
        items.append(_item(c))
    if any(i.target for i in items) and not all(i.target for i in items):
        raise SqlError(141, "A SELECT statement that assigns a value to a variable must not be combined with "
                            "data-retrieval operations.", 15)
    sources: list[Source] = []
    if c.accept_word("FROM"):
        sources.append(_source(c, current_db, None))
        while True:
            if c.accept_word("INNER"):
                c.expect_word("JOIN")
                kind = "INNER"
            elif c.accept_word("LEFT"):
                c.accept_word("OUTER")
                c.expect_word("JOIN")
                kind = "LEFT"
            elif c.accept_word("JOIN"):
                kind = "INNER"
            else:
                break
            src = _source(c, current_db, kind)
            c.expect_word("ON")
            sources.append(Source(src.key, src.alias, src.database, kind, parse_expr(c)))
    where = parse_expr(c) if c.accept_word("WHERE") else None
    group: list[Expr] = []
    if c.accept_word("GROUP"):
        c.expect_word("BY")
        group.append(parse_expr(c))
        while c.accept_op(","):
            group.append(parse_expr(c))
    order: list[tuple[Expr, bool]] = []
    if c.accept_word("ORDER"):
        c.expect_word("BY")
        while True:
            e = parse_expr(c)
            desc = c.accept_word("ASC", "DESC") == "DESC"
            order.append((e, desc))
            if not c.accept_op(","):
                break
    return SelectStmt(tuple(items), tuple(sources), where, tuple(group), tuple(order), top, distinct)


def _item(c: Cursor) -> Item:
    if c.tok.kind == "var" and c.peek().is_op("=") and not c.tok.text.startswith("@@"):
        name = c.take().text
        if name.casefold() not in c.variables:
            raise SqlError(137, f'Must declare the scalar variable "{name}".', 15)
        c.take()
        return Item(parse_expr(c), None, name.casefold())
    expr = parse_expr(c)
    alias = None
    if c.accept_word("AS"):
        alias = c.name_or_string()
    elif c.tok.kind == "qident" or (c.tok.kind == "word" and c.tok.text.upper() not in RESERVED):
        alias = c.take().text
    return Item(expr, alias)


def _source(c: Cursor, current_db: str, join: str | None) -> Source:
    if c.tok.kind == "var":
        name = c.take().text
        if name.casefold() not in c.table_variables:
            raise SqlError(1087, f'Must declare the table variable "{name}".', 15)
        key, db, alias = name.casefold(), current_db, name
    else:
        parts = c.dotted()
        original = ".".join(parts)
        key, db = resolve_view(parts, current_db, original)
        alias = parts[-1]
    if c.accept_word("AS"):
        alias = c.name()
    elif c.tok.kind == "qident" or (c.tok.kind == "word" and c.tok.text.upper() not in RESERVED):
        alias = c.take().text
    return Source(key, alias, db, join)


# ---------------------------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------------------------


def run_select(stmt: SelectStmt, ctx: SelectContext) -> tuple[list[Column], list[Row]]:
    """Evaluate ``stmt``; returns result columns and rows."""
    schemas = {s.alias.casefold(): view_of(s.key, ctx).columns for s in stmt.sources}
    if len(schemas) != len(stmt.sources):
        dup = stmt.sources[-1].alias
        raise SqlError(1011, f"The correlation name '{dup}' is specified multiple times in a FROM clause.", 16)
    binder = Binder(schemas)
    for item in stmt.items:
        binder.check(item.expr)
    for s in stmt.sources:
        if s.on is not None:
            binder.check(s.on)
    if stmt.where is not None:
        binder.check(stmt.where)
    for g in stmt.group_by:
        binder.check(g)
    aliases = {i.alias.casefold() for i in stmt.items if i.alias}
    for e, _ in stmt.order_by:
        if not (e.kind == "col" and e.a is None and e.b.casefold() in aliases) and e.kind != "lit":
            binder.check(e)

    envs = _joined(stmt.sources, ctx)
    ev = Evaluator(ctx, binder)
    if stmt.where is not None:
        envs = [env for env in envs if ev.eval(stmt.where, env) is True]

    columns: list[Column] = []
    out_exprs: list[Expr] = []
    for item in stmt.items:
        if item.expr.kind == "star":
            for s in stmt.sources:
                if item.expr.a is None or item.expr.a.casefold() == s.alias.casefold():
                    for col in view_of(s.key, ctx).columns:
                        columns.append(col)
                        out_exprs.append(Expr("col", s.alias, col.name))
            if item.expr.a is not None and not any(s.alias.casefold() == item.expr.a.casefold()
                                                   for s in stmt.sources):
                raise SqlError(4104, f'The multi-part identifier "{item.expr.a}" could not be bound.', 16)
            if not stmt.sources:
                raise SqlError(263, "Must specify table to select from.", 16)
            continue
        name = item.alias or (item.expr.b if item.expr.kind == "col" else "")
        columns.append(Column(name, binder.type_of(item.expr)))
        out_exprs.append(item.expr)

    has_agg = bool(stmt.group_by) or any(_has_agg(e) for e in out_exprs)
    groups: list[list[Env]]
    if has_agg:
        if stmt.group_by:
            keyed: dict[tuple[Any, ...], list[Env]] = {}
            for env in envs:
                key = tuple(_fold(ev.eval(g, env)) for g in stmt.group_by)
                keyed.setdefault(key, []).append(env)
            groups = list(keyed.values())
        else:
            groups = [envs]
        rows = [(tuple(ev.eval(e, g[0] if g else Env(stmt.sources), g) for e in out_exprs), g[0] if g else None)
                for g in groups]
    else:
        rows = [(tuple(ev.eval(e, env) for e in out_exprs), env) for env in envs]

    if stmt.order_by:
        names = [c.name.casefold() for c in columns]
        for e, desc in reversed(stmt.order_by):
            def order_key(r: tuple[Row, Env | None], e: Expr = e) -> tuple[int, Any]:
                return _sort_key(_order_value(e, r, names, ev))
            rows.sort(key=order_key, reverse=desc)
    result = [r for r, _ in rows]
    if stmt.distinct:
        seen: set[tuple[Any, ...]] = set()
        unique = []
        for r in result:
            k = tuple(_fold(v) for v in r)
            if k not in seen:
                seen.add(k)
                unique.append(r)
        result = unique
    if stmt.top is not None:
        result = result[: stmt.top]
    return columns, result


def _order_value(e: Expr, r: tuple[Row, Env | None], names: list[str], ev: Evaluator) -> Any:
    row, env = r
    if e.kind == "lit" and isinstance(e.a, int):
        if not 1 <= e.a <= len(row):
            raise SqlError(108, f"The ORDER BY position number {e.a} is out of range of the number of items "
                                "in the select list.", 16)
        return row[e.a - 1]
    if e.kind == "col" and e.a is None and e.b.casefold() in names:
        return row[names.index(e.b.casefold())]
    if env is None:
        return None
    return ev.eval(e, env)


def _sort_key(v: Any) -> tuple[int, Any]:
    if v is None:
        return (0, 0)
    if isinstance(v, str):
        return (1, v.casefold())
    return (1, v)


def _fold(v: Any) -> Any:
    return v.casefold() if isinstance(v, str) else v


def _has_agg(e: Any) -> bool:
    if isinstance(e, Expr):
        return e.kind == "agg" or any(_has_agg(x) for x in (e.a, e.b, e.c))
    if isinstance(e, tuple):
        return any(_has_agg(x) for x in e)
    return False


def _joined(sources: tuple[Source, ...], ctx: SelectContext) -> list[Env]:
    if not sources:
        return [Env(sources)]
    binder = Binder({s.alias.casefold(): view_of(s.key, ctx).columns for s in sources})
    ev = Evaluator(ctx, binder)
    envs = [Env(sources)]
    for s in sources:
        view = view_of(s.key, ctx)
        names = [col.name.casefold() for col in view.columns]
        table = [dict(zip(names, row, strict=True)) for row in view.rows(ctx, s.database)]
        alias = s.alias.casefold()
        nxt: list[Env] = []
        for env in envs:
            matched = False
            for row in table:
                values = dict(env.values)
                values.update({(alias, k): v for k, v in row.items()})
                cand = Env(sources, values)
                if s.on is None or ev.eval(s.on, cand) is True:
                    nxt.append(cand)
                    matched = True
            if s.join == "LEFT" and not matched:
                values = dict(env.values)
                values.update({(alias, k): None for k in names})
                nxt.append(Env(sources, values))
        envs = nxt
    return envs
