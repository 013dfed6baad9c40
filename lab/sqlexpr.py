"""Expressions of the lab's T-SQL subset: parsing, column binding and evaluation.

Used by :mod:`lab.sqlselect` for select lists, WHERE, ON, GROUP BY and ORDER BY, and by the
engine for IF/WHILE conditions and variable assignments (local variables ``@name`` are read from
the :class:`~lab.sqlviews.SelectContext`; ``parse_type``/``convert_value`` give DECLARE, CAST and
CONVERT their SQL Server types). Values
follow SQL Server's rules where a drill could notice: three-valued logic with NULL, string
comparisons ignoring case and trailing blanks, implicit string-to-number and string-to-date
conversion (245/241 when it fails), and the error numbers of unknown or ambiguous columns.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from .sqllex import Cursor, Token
from .sqlviews import SelectContext
from .tds.api import Column, ColumnType, SqlError

# ---------------------------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expr:
    kind: str  # col lit func agg bin not in like isnull neg star
    a: Any = None
    b: Any = None
    c: Any = None
    text: str = ""  # source text (for column names of unaliased expressions)


_AGGS = ("COUNT", "MIN", "MAX", "SUM")
_FUNCS = {"DB_NAME", "DB_ID", "SERVERPROPERTY", "DATABASEPROPERTYEX", "UPPER", "LOWER", "ISNULL",
          "COALESCE", "GETDATE", "SUSER_SNAME", "SUSER_NAME", "LEN", "QUOTENAME", "REPLACE", "LEFT",
          "RIGHT", "CHARINDEX", "REVERSE", "SUBSTRING", "LTRIM", "RTRIM", "IS_SRVROLEMEMBER"}
#: system functions written as ``@@NAME``
_GLOBALS = ("@@VERSION", "@@SERVERNAME", "@@SPID", "@@SERVICENAME", "@@ROWCOUNT")
RESERVED = {"FROM", "WHERE", "ORDER", "GROUP", "JOIN", "INNER", "LEFT", "ON", "AND", "OR", "NOT", "AS",
             "SELECT", "RESTORE", "BACKUP", "ALTER", "USE", "EXEC", "EXECUTE", "DBCC", "CREATE", "DROP",
             "KILL", "UNION", "HAVING", "IS", "IN", "LIKE", "ASC", "DESC", "BY", "OUTER", "SET", "PRINT",
             "DECLARE", "IF", "ELSE", "WHILE", "BEGIN", "END", "BREAK", "CONTINUE", "RETURN", "INSERT"}


def parse_expr(c: Cursor) -> Expr:
    return _or(c)


def _or(c: Cursor) -> Expr:
    left = _and(c)
    while c.accept_word("OR"):
        left = Expr("bin", "OR", left, _and(c))
    return left


def _and(c: Cursor) -> Expr:
    left = _not(c)
    while c.accept_word("AND"):
        left = Expr("bin", "AND", left, _not(c))
    return left


def _not(c: Cursor) -> Expr:
    if c.accept_word("NOT"):
        return Expr("not", _not(c))
    return _predicate(c)


def _predicate(c: Cursor) -> Expr:
    left = _additive(c)
    tok = c.tok
    if tok.is_op("=", "<>", "!=", "<", ">", "<=", ">="):
        c.take()
        return Expr("bin", tok.text, left, _additive(c))
    negate = False
    if tok.is_word("NOT") and c.peek().is_word("IN", "LIKE"):
        c.take()
        negate = True
    if c.accept_word("IN"):
        c.expect_op("(")
        items = [_additive(c)]
        while c.accept_op(","):
            items.append(_additive(c))
        c.expect_op(")")
        return Expr("in", left, tuple(items), negate)
    if c.accept_word("LIKE"):
        return Expr("like", left, _additive(c), negate)
    if c.accept_word("IS"):
        neg = c.accept_word("NOT") is not None
        if c.tok.kind != "null":
            raise c.fail()
        c.take()
        return Expr("isnull", left, neg)
    if negate:
        raise c.fail()
    return left


def _additive(c: Cursor) -> Expr:
    left = _term(c)
    while c.tok.is_op("+", "-"):
        op = c.take().text
        left = Expr("bin", op, left, _term(c))
    return left


def _term(c: Cursor) -> Expr:
    left = _primary(c)
    while c.tok.is_op("*", "/", "%"):
        op = c.take().text
        left = Expr("bin", op, left, _primary(c))
    return left


def _primary(c: Cursor) -> Expr:
    tok = c.tok
    if tok.kind in ("string", "number"):
        c.take()
        return Expr("lit", tok.text if tok.kind == "string" else tok.value, text=_src(tok))
    if tok.kind == "null":
        c.take()
        return Expr("lit", None, text="NULL")
    if tok.is_op("-"):
        c.take()
        return Expr("neg", _primary(c))
    if tok.is_op("("):
        c.take()
        inner = parse_expr(c)
        c.expect_op(")")
        return inner
    if tok.kind == "var":
        c.take()
        name = tok.text.upper()
        if name in _GLOBALS:
            return Expr("func", name, (), text=tok.text)
        if tok.text.casefold() not in c.variables:
            raise SqlError(137, f'Must declare the scalar variable "{tok.text}".', 15)
        return Expr("var", tok.text.casefold(), text=tok.text)
    if tok.kind in ("word", "qident"):
        upper = tok.text.upper()
        if tok.kind == "word" and upper in ("CAST", "CONVERT") and c.peek().is_op("("):
            c.take()
            c.take()
            if upper == "CAST":
                inner = parse_expr(c)
                c.expect_word("AS")
                target = parse_type(c, cast=True)
            else:
                target = parse_type(c, cast=True)
                c.expect_op(",")
                inner = parse_expr(c)
                if c.accept_op(","):
                    c.integer()  # style: dates only, nothing here formats them
            c.expect_op(")")
            return Expr("convert", target, inner, text=upper)
        if tok.kind == "word" and c.peek().is_op("(") and (upper in _AGGS or upper in _FUNCS):
            c.take()
            c.take()
            if upper in _AGGS:
                if upper == "COUNT" and c.accept_op("*"):
                    arg: Expr | None = None
                else:
                    arg = parse_expr(c)
                c.expect_op(")")
                return Expr("agg", upper, arg, text=f"{upper}(...)")
            args: list[Expr] = []
            if not c.tok.is_op(")"):
                args.append(parse_expr(c))
                while c.accept_op(","):
                    args.append(parse_expr(c))
            c.expect_op(")")
            return Expr("func", upper, tuple(args), text=upper)
        if tok.kind == "word" and upper in RESERVED:
            raise c.fail()
        if tok.kind == "word" and c.peek().is_op("("):
            raise SqlError(195, f"'{tok.text}' is not a recognized built-in function name.", 15)
        c.take()
        if c.tok.is_op(".") and c.peek().is_op("*"):
            c.take()
            c.take()
            return Expr("star", tok.text)
        if c.accept_op("."):
            col = c.name()
            return Expr("col", tok.text, col, text=col)
        return Expr("col", None, tok.text, text=tok.text)
    if tok.is_op("*"):
        c.take()
        return Expr("star", None)
    raise c.fail()


def _src(tok: Token) -> str:
    return tok.text


# ---------------------------------------------------------------------------------------------
@dataclass
class Env:
    """Column lookup for one joined row: (alias, column) -> value."""

    sources: tuple[object, ...]
    values: dict[tuple[str, str], Any] = field(default_factory=dict)


class Binder:
    """Checks column references against the FROM clause and infers result types."""

    def __init__(self, schemas: dict[str, tuple[Column, ...]]) -> None:
        self.schemas = schemas

    def resolve(self, qualifier: str | None, name: str) -> tuple[str, Column]:
        low = name.casefold()
        if qualifier is not None:
            cols = self.schemas.get(qualifier.casefold())
            if cols is None:
                raise SqlError(4104, f'The multi-part identifier "{qualifier}.{name}" could not be bound.', 16)
            for col in cols:
                if col.name.casefold() == low:
                    return qualifier.casefold(), col
            raise SqlError(207, f"Invalid column name '{name}'.", 16)
        found = [(alias, col) for alias, cols in self.schemas.items() for col in cols if col.name.casefold() == low]
        if not found:
            raise SqlError(207, f"Invalid column name '{name}'.", 16)
        if len(found) > 1:
            raise SqlError(209, f"Ambiguous column name '{name}'.", 16)
        return found[0]

    def check(self, e: Any) -> None:
        if isinstance(e, tuple):
            for x in e:
                self.check(x)
        elif isinstance(e, Expr):
            if e.kind == "col":
                self.resolve(e.a, e.b)
            elif e.kind == "func" and e.a == "DATABASEPROPERTYEX" and len(e.b) != 2:
                raise SqlError(174, "The databasepropertyex function requires 2 argument(s).", 15)
            else:
                for x in (e.a, e.b, e.c):
                    self.check(x)

    def type_of(self, e: Expr) -> ColumnType:
        if e.kind == "col":
            return self.resolve(e.a, e.b)[1].type
        if e.kind == "lit":
            if isinstance(e.a, bool):
                return "bit"
            if isinstance(e.a, int):
                return "int"
            if isinstance(e.a, float):
                return "float"
            return "nvarchar"
        if e.kind == "agg":
            if e.a == "COUNT":
                return "int"
            return self.type_of(e.b) if e.b is not None else "int"
        if e.kind == "convert":
            return e.a.column_type  # type: ignore[no-any-return]
        if e.kind == "func":
            if e.a in ("DB_ID", "@@SPID", "LEN", "CHARINDEX", "@@ROWCOUNT", "IS_SRVROLEMEMBER"):
                return "int"
            if e.a == "GETDATE":
                return "datetime"
            if e.a in ("ISNULL", "COALESCE") and e.b:
                return self.type_of(e.b[0])
            return "nvarchar"
        if e.kind in ("bin", "not", "in", "like", "isnull"):
            if e.kind == "bin" and e.a in "+-*/%":
                return self.type_of(e.b)
            return "bit"
        if e.kind == "neg":
            return self.type_of(e.a)
        return "nvarchar"


class Evaluator:
    def __init__(self, ctx: SelectContext, binder: Binder) -> None:
        self.ctx = ctx
        self.binder = binder

    def eval(self, e: Expr, env: Env, group: list[Env] | None = None) -> Any:
        k = e.kind
        if k == "lit":
            return e.a
        if k == "col":
            alias, col = self.binder.resolve(e.a, e.b)
            return env.values.get((alias, col.name.casefold()))
        if k == "agg":
            rows = group if group is not None else [env]
            if e.b is None:
                return len(rows)
            vals = [v for v in (self.eval(e.b, r) for r in rows) if v is not None]
            if e.a == "COUNT":
                return len(vals)
            if not vals:
                return None
            if e.a == "SUM":
                return sum(vals)
            pick = min if e.a == "MIN" else max
            return pick(vals, key=lambda v: v.casefold() if isinstance(v, str) else v)
        if k == "neg":
            v = self.eval(e.a, env, group)
            return None if v is None else -v
        if k == "not":
            v = self.eval(e.a, env, group)
            return None if v is None else not v
        if k == "isnull":
            v = self.eval(e.a, env, group)
            return (v is not None) if e.b else (v is None)
        if k == "in":
            v = self.eval(e.a, env, group)
            if v is None:
                return None
            hit = any(compare("=", v, self.eval(x, env, group)) is True for x in e.b)
            return (not hit) if e.c else hit
        if k == "like":
            v = self.eval(e.a, env, group)
            pat = self.eval(e.b, env, group)
            if v is None or pat is None:
                return None
            hit = _like(str(v), str(pat))
            return (not hit) if e.c else hit
        if k == "bin":
            op = e.a
            if op in ("AND", "OR"):
                left = self.eval(e.b, env, group)
                right = self.eval(e.c, env, group)
                if op == "AND":
                    if left is False or right is False:
                        return False
                    return None if left is None or right is None else True
                if left is True or right is True:
                    return True
                return None if left is None or right is None else False
            left = self.eval(e.b, env, group)
            right = self.eval(e.c, env, group)
            if op in "+-*/%":
                return _arith(op, left, right)
            return compare(op, left, right)
        if k == "func":
            args = [self.eval(a, env, group) for a in e.b]
            return self._func(e.a, args)
        if k in ("var", "convert"):
            return self._variable_or_conversion(e, env, group)
        raise SqlError(102, "Incorrect syntax near '*'.", 15)

    def _variable_or_conversion(self, e: Expr, env: Env, group: list[Env] | None) -> Any:
        if e.kind == "var":
            return self.ctx.variables.get(e.a)
        return convert_value(self.eval(e.b, env, group), e.a)

    def _func(self, name: str, args: list[Any]) -> Any:
        st = self.ctx.state
        if name == "@@VERSION":
            return self.ctx.version
        if name == "@@SERVERNAME":
            return st.name
        if name == "@@SERVICENAME":
            return (st.instance or "MSSQLSERVER").upper()
        if name == "@@SPID":
            return self.ctx.spid
        if name == "@@ROWCOUNT":
            return self.ctx.rowcount
        if name in _STRING_FUNCS:
            return _STRING_FUNCS[name](args)
        if name == "GETDATE":
            return self.ctx.now().replace(microsecond=0)
        if name in ("SUSER_SNAME", "SUSER_NAME"):
            return self.ctx.user
        if name == "IS_SRVROLEMEMBER":
            # IS_SRVROLEMEMBER('role' [, 'login']): without a login, the session's own; a NULL
            # login is NULL (Microsoft's documentation)
            args = _text_args(name, args, (1, 2))
            return st.server_role_member(args[0], args[1] if len(args) > 1 else self.ctx.user)
        if name == "DB_NAME":
            if not args:
                return self.ctx.database
            found = [d for d in st.databases.values() if d.database_id == args[0]]
            return found[0].name if found else None
        if name == "DB_ID":
            db = st.databases.get(str(args[0])) if args else st.databases.get(self.ctx.database)
            return db.database_id if db else None
        if name in ("UPPER", "LOWER"):
            v = args[0] if args else None
            return None if v is None else (str(v).upper() if name == "UPPER" else str(v).lower())
        if name == "LEN":
            return None if not args or args[0] is None else len(str(args[0]).rstrip())
        if name in ("ISNULL", "COALESCE"):
            return next((a for a in args if a is not None), None)
        if name == "SERVERPROPERTY":
            prop = str(args[0]).casefold() if args else ""
            host = st.server.split(".", maxsplit=1)[0].upper()
            return {
                "productversion": "11.0.7001.0" if st.version == "2012" else "10.50.6000.34",
                "productlevel": "SP4" if st.version == "2012" else "SP3",
                "edition": "Enterprise Edition (64-bit)",
                "machinename": host,
                "servername": st.name,
                "instancename": st.instance.upper() if st.instance else None,
                "ishadrenabled": 0,
                # SQL Server 2012 (late-2015 updates) onwards; an older build does not know the
                # property and returns NULL, like for any name it does not support
                "instancedefaultdatapath": _default_path(st, "D") if st.version != "2008R2" else None,
                "instancedefaultlogpath": _default_path(st, "L") if st.version != "2008R2" else None,
            }.get(prop)
        if name == "DATABASEPROPERTYEX":
            db = st.databases.get(str(args[0]))
            if db is None:
                return None
            prop = str(args[1]).casefold()
            return {"status": db.state, "recovery": db.recovery_model, "useraccess": db.user_access,
                    "updateability": "READ_WRITE", "collation": "Latin1_General_CI_AS"}.get(prop)
        raise SqlError(195, f"'{name}' is not a recognized built-in function name.", 15)


def _default_path(st: Any, kind: str) -> str | None:
    """The instance's default folder for new data or log files (with its trailing backslash):
    the configured one, else the folder of master's own file."""
    configured = st.default_data_path if kind == "D" else st.default_log_path
    if configured:
        return str(configured)
    master = st.databases.get("master")
    path = next((f.physical_name for f in master.files if f.type == kind), None) if master else None
    return path[: path.rfind("\\") + 1] if path else None


# -- string functions (arguments already evaluated; NULL in, NULL out) ------------------------


def _text_args(name: str, args: list[Any], count: tuple[int, int]) -> list[Any]:
    if not count[0] <= len(args) <= count[1]:
        low, high = count
        need = f"{low}" if low == high else f"{low} to {high}"
        raise SqlError(174, f"The {name.lower()} function requires {need} argument(s).", 15)
    return args


def _quotename(args: list[Any]) -> Any:
    args = _text_args("QUOTENAME", args, (1, 2))
    text, quote = args[0], (args[1] if len(args) > 1 else "[")
    if text is None or quote is None:
        return None
    text, quote = str(text), str(quote)[:1]
    pairs = {"[": "]", "]": "]", "(": ")", ")": ")", "<": ">", ">": ">", "{": "}", "}": "}",
             '"': '"', "'": "'", "`": "`"}
    if len(text) > 128 or quote not in pairs:
        return None  # documented: input longer than 128 characters (or an odd quote) gives NULL
    close = pairs[quote]
    opening = {"]": "[", ")": "(", ">": "<", "}": "{"}.get(quote, quote)
    return opening + text.replace(close, close + close) + close


def _replace(args: list[Any]) -> Any:
    text, old, new = _text_args("REPLACE", args, (3, 3))
    if text is None or old is None or new is None:
        return None
    if old == "":
        return str(text)
    # the default collation (Latin1_General_CI_AS) compares without case: REPLACE does too
    return re.sub(re.escape(str(old)), lambda _m: str(new), str(text), flags=re.IGNORECASE)


def _length(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        value = _num(str(value))
    if value < 0:
        raise SqlError(536, f"Invalid length parameter passed to the {name.lower()} function.", 16)
    return int(value)


def _left_right(name: str) -> Any:
    def run(args: list[Any]) -> Any:
        text, count = _text_args(name, args, (2, 2))
        if text is None or count is None:
            return None
        n = _length(name, count)
        text = str(text)
        return text[:n] if name == "LEFT" else (text[len(text) - n:] if n else "")
    return run


def _charindex(args: list[Any]) -> Any:
    args = _text_args("CHARINDEX", args, (2, 3))
    find, text = args[0], args[1]
    start = args[2] if len(args) > 2 else 1
    if find is None or text is None:
        return None
    begin = max(int(start or 1), 1) - 1
    return str(text).casefold().find(str(find).casefold(), begin) + 1


def _substring(args: list[Any]) -> Any:
    text, start, count = _text_args("SUBSTRING", args, (3, 3))
    if text is None or start is None or count is None:
        return None
    n = _length("SUBSTRING", count)
    first = int(start)
    end = first + n  # positions before 1 count against the length, as SQL Server does
    return str(text)[max(first, 1) - 1:max(end - 1, 0)]


def _one(name: str, fn: Any) -> Any:
    def run(args: list[Any]) -> Any:
        (value,) = _text_args(name, args, (1, 1))
        return None if value is None else fn(str(value))
    return run


_STRING_FUNCS: dict[str, Any] = {
    "QUOTENAME": _quotename, "REPLACE": _replace, "LEFT": _left_right("LEFT"),
    "RIGHT": _left_right("RIGHT"), "CHARINDEX": _charindex, "SUBSTRING": _substring,
    "REVERSE": _one("REVERSE", lambda t: t[::-1]), "LTRIM": _one("LTRIM", lambda t: t.lstrip(" ")),
    "RTRIM": _one("RTRIM", lambda t: t.rstrip(" ")),
}


# -- data types ----------------------------------------------------------------------------------

_STRING_TYPES = {"nvarchar", "varchar", "nchar", "char", "sysname"}
_INT_RANGES = {"tinyint": (0, 255), "smallint": (-2**15, 2**15 - 1), "int": (-2**31, 2**31 - 1),
               "bigint": (-2**63, 2**63 - 1)}
_TYPE_NAMES = _STRING_TYPES | set(_INT_RANGES) | {"bit", "numeric", "decimal", "uniqueidentifier",
                                                  "varbinary", "datetime", "float"}


@dataclass(frozen=True)
class SqlType:
    """A declared type: ``nvarchar(260)``, ``nvarchar(max)`` (length None), ``int``, ..."""

    name: str
    length: int | None = None
    scale: int = 0

    @property
    def column_type(self) -> ColumnType:
        if self.name in _STRING_TYPES:
            return "nvarchar"
        if self.name in ("tinyint", "smallint", "int"):
            return "int"
        if self.name == "bigint" or (self.name in ("numeric", "decimal") and not self.scale):
            return "bigint"
        if self.name in ("numeric", "decimal", "float"):
            return "float"
        return self.name  # type: ignore[return-value]  # bit, uniqueidentifier, varbinary, datetime


def parse_type(c: Cursor, *, cast: bool = False) -> SqlType:
    """A data type as DECLARE, CAST or CONVERT write it. Without a length a character type is
    one character long in a declaration and 30 in CAST/CONVERT (SQL Server's defaults)."""
    tok = c.tok
    name = tok.text.casefold() if tok.kind in ("word", "qident") else ""
    if name not in _TYPE_NAMES:
        if tok.kind in ("word", "qident"):
            raise SqlError(2715, f"Column, parameter, or variable #1: Cannot find data type {tok.text}.", 16)
        raise c.fail()
    c.take()
    if name == "sysname":
        return SqlType("nvarchar", 128)
    length: int | None = None
    scale = 0
    if c.accept_op("("):
        if c.accept_word("MAX"):
            length = None
        else:
            length = c.integer()
            if c.accept_op(","):
                scale = c.integer()
        c.expect_op(")")
        if name in _STRING_TYPES | {"varbinary"} and length is not None and not 1 <= length <= (
                4000 if name.startswith("n") else 8000):
            raise SqlError(2717, f"The size ({length}) given to the type '{name}' exceeds the maximum "
                                 "allowed for any data type.", 16)
        return SqlType(name, length, scale)
    if name in _STRING_TYPES | {"varbinary"}:
        length = 30 if cast else 1
    return SqlType(name, length, scale)


def convert_value(value: Any, to: SqlType) -> Any:
    """``value`` as a value of type ``to``: strings cut to the declared length (assignment to a
    variable truncates silently), numbers checked against their range (8115)."""
    if value is None:
        return None
    name = to.name
    if name in _STRING_TYPES:
        if isinstance(value, bool):
            text = "1" if value else "0"
        elif isinstance(value, dt.datetime):
            text = value.strftime("%b %d %Y %I:%M%p").replace(" 0", "  ")
        else:
            text = str(value)
        if to.length is not None:
            text = text[: to.length]
            if name in ("char", "nchar"):
                text = text.ljust(to.length)
        return text
    if name in _INT_RANGES or (name in ("numeric", "decimal") and not to.scale):
        number = _num(value.strip()) if isinstance(value, str) else value
        if isinstance(number, float):
            number = int(number)
        number = int(number)
        low, high = _INT_RANGES.get(name, (-10**38 + 1, 10**38 - 1))
        if not low <= number <= high:
            raise SqlError(8115, f"Arithmetic overflow error converting expression to data type {name}.", 16)
        return number
    if name in ("numeric", "decimal", "float"):
        return float(_num(value.strip()) if isinstance(value, str) else value)
    if name == "bit":
        if isinstance(value, str):
            low_text = value.strip().casefold()
            if low_text in ("true", "false"):
                return low_text == "true"
            value = _num(low_text)
        return bool(value)
    if name == "datetime":
        return value if isinstance(value, dt.datetime) else _date(str(value))
    return value  # uniqueidentifier, varbinary: kept as they are


def _coerce(a: Any, b: Any) -> tuple[Any, Any]:
    if isinstance(a, str) and isinstance(b, bool | int | float):
        return _num(a), b
    if isinstance(b, str) and isinstance(a, bool | int | float):
        return a, _num(b)
    if isinstance(a, dt.datetime) and isinstance(b, str):
        return a, _date(b)
    if isinstance(b, dt.datetime) and isinstance(a, str):
        return _date(a), b
    return a, b


def _num(s: str) -> int | float:
    try:
        return int(s)
    except ValueError:
        try:
            return float(s)
        except ValueError:
            raise SqlError(245, f"Conversion failed when converting the nvarchar value '{s}' to data type int.",
                           16) from None


def _date(s: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(s.strip())
    except ValueError:
        raise SqlError(241, "Conversion failed when converting date and/or time from character string.",
                       16) from None


def compare(op: str, a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    a, b = _coerce(a, b)
    if isinstance(a, str) and isinstance(b, str):
        a, b = a.casefold().rstrip(), b.casefold().rstrip()
    try:
        if op == "=":
            return bool(a == b)
        if op in ("<>", "!="):
            return bool(a != b)
        if op == "<":
            return bool(a < b)
        if op == ">":
            return bool(a > b)
        if op == "<=":
            return bool(a <= b)
        return bool(a >= b)
    except TypeError:
        raise SqlError(402, f"The data types {type(a).__name__} and {type(b).__name__} are incompatible "
                            f"in the {op} operator.", 16) from None


def _arith(op: str, a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if op == "+" and (isinstance(a, str) or isinstance(b, str)):
        if isinstance(a, str) and isinstance(b, str):
            return a + b
        a, b = _coerce(a, b)
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if b == 0:
            raise SqlError(8134, "Divide by zero error encountered.", 16)
        if op == "%":
            return a % b
        return a // b if isinstance(a, int) and isinstance(b, int) else a / b
    except TypeError:
        raise SqlError(402, f"The data types are incompatible in the {op} operator.", 16) from None


def _like(value: str, pattern: str) -> bool:
    rx = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "%":
            rx.append(".*")
        elif ch == "_":
            rx.append(".")
        elif ch == "[":
            j = pattern.find("]", i)
            if j < 0:
                rx.append(re.escape(ch))
            else:
                body = pattern[i + 1:j]
                rx.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
                i = j
        else:
            rx.append(re.escape(ch))
        i += 1
    return re.fullmatch("".join(rx), value.rstrip(), re.IGNORECASE | re.DOTALL) is not None
