"""The lab's SQL Server: a T-SQL engine behind the TDS server for one simulated instance.

:class:`SqlEngine` implements :class:`lab.tds.SqlBackend` over a
:class:`~lab.sqlstate.SqlInstanceState`, so the wizard's SQL runner talks to the lab
through real ODBC drivers and meets the errors a production instance would give. It understands
a documented subset of T-SQL; anything else fails 102 "Incorrect syntax near '...'.".

A batch is tokenized and parsed completely before anything runs (a syntax error runs nothing,
as on SQL Server); statements then run in order and the first error ends the batch. Every
executed statement is appended to ``state.statement_log``.

Statements:

* ``SELECT ...`` over catalog views and scalar probes: see :mod:`lab.sqlselect`
* ``USE db``; ``SET ...`` (accepted, ignored); ``PRINT 'text'``
* ``RESTORE ...`` / ``BACKUP ...``: see :mod:`lab.sqlrestore`
* ``ALTER DATABASE db SET ONLINE | OFFLINE | EMERGENCY | SINGLE_USER | RESTRICTED_USER |
  MULTI_USER [WITH ROLLBACK IMMEDIATE | ROLLBACK AFTER n [SECONDS] | NO_WAIT]``,
  ``SET RECOVERY FULL | SIMPLE``, ``SET PARTNER OFF``. Without ROLLBACK, open sessions make it
  fail 5070 (a real server would wait; a drill would hang).
* ``DBCC CHECKDB [(db)] [WITH NO_INFOMSGS, ALL_ERRORMSGS]``
* ``CREATE USER u [FOR | FROM LOGIN l]``, ``DROP USER u``, ``ALTER ROLE r ADD | DROP MEMBER u``,
  ``CREATE DATABASE db``, ``DROP DATABASE db``
* ``EXEC[UTE] proc args``: ``sp_addrolemember``, ``sp_droprolemember``, ``sp_who``/``sp_who2``,
  ``sp_delete_log_shipping_secondary_database``, ``sp_executesql``; ``EXEC (string)``; ``KILL spid``
* ``DECLARE``, ``SET @v``, ``SELECT @v = ...``, ``INSERT @t EXEC``, ``IF``/``WHILE``/``BEGIN END``

Open application connections (the Lync services of the deployment, or ``DatabaseState.connections``
set by hand) are :meth:`~lab.sqlstate.SqlInstanceState.sessions_held`; ``sp_who2`` shows each as a
session with a stable SPID that ``KILL`` ends (a running service reconnects, with a new SPID, while
the database lets it in).

Batches may also declare variables, branch, loop and run dynamic SQL: see :mod:`lab.sqlproc`.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .clock import LabClock
from .sqlexpr import Binder, Env, Evaluator, Expr, parse_expr
from .sqllex import Cursor, Token, syntax_error, tokenize
from .sqlproc import (
    Block,
    BreakLoop,
    Capture,
    ContinueLoop,
    Declaration,
    Frame,
    If,
    Jump,
    Node,
    ReturnFromBatch,
    Statement,
    While,
    insert_rows,
    parse_declare,
    parse_param_definitions,
    table_variable,
)
from .sqlrestore import ExecContext, ResolvePath, parse_backup, parse_restore
from .sqlselect import SelectStmt, parse_select, run_select
from .sqlstate import DatabaseState, DbFile, SqlInstanceState
from .sqlviews import SelectContext, principal_ids
from .tds.api import Column, ResultSink, SqlError

VERSIONS = {
    "2012": ("Microsoft SQL Server 2012 (SP4) (KB4018073) - 11.0.7001.0 (X64) \n\tAug 15 2017 10:23:29 \n\t"
             "Copyright (c) Microsoft Corporation\n\tEnterprise Edition (64-bit) on Windows NT 6.3 <X64> "
             "(Build 9600: ) (Hypervisor)\n"),
    "2008R2": ("Microsoft SQL Server 2008 R2 (SP3) - 10.50.6000.34 (X64) \n\tAug 19 2014 12:21:34 \n\t"
               "Copyright (c) Microsoft Corporation\n\tEnterprise Edition (64-bit) on Windows NT 6.1 <X64> "
               "(Build 7601: Service Pack 1) (Hypervisor)\n"),
}

_FIXED_DB_ROLES = {"db_owner", "db_accessadmin", "db_securityadmin", "db_ddladmin", "db_backupoperator",
                   "db_datareader", "db_datawriter", "db_denydatareader", "db_denydatawriter", "public"}
_STATEMENT_WORDS = {"SELECT", "USE", "SET", "RESTORE", "BACKUP", "ALTER", "DBCC", "CREATE", "DROP", "EXEC",
                    "EXECUTE", "KILL", "PRINT", "DECLARE", "IF", "ELSE", "WHILE", "BEGIN", "END", "BREAK",
                    "CONTINUE", "RETURN", "INSERT"}

Runner = Callable[[ResultSink], None]


def _missing_db(name: str) -> SqlError:
    return SqlError(911, f"Database '{name}' does not exist. Make sure that the name is entered correctly.", 16)


@dataclass(frozen=True)
class _VarArg:
    """A procedure argument given as a local variable (read when the statement runs)."""

    name: str


class SqlEngine:
    """A :class:`~lab.tds.SqlBackend` for one instance.

    ``resolve_path`` maps a Windows path as this SQL Server sees it (``D:\\...`` or
    ``\\\\server\\share\\...``) to a lab folder, or None when unreachable (RESTORE fails 3201).
    """

    def __init__(self, state: SqlInstanceState, *, resolve_path: ResolvePath,
                 clock: LabClock | None = None) -> None:
        self.state = state
        self.resolve_path = resolve_path
        self.clock = clock or LabClock(float("inf"))
        self._spids = itertools.count(51)
        self._sessions: weakref.WeakValueDictionary[int, EngineSession] = weakref.WeakValueDictionary()
        self._ghosts: dict[int, str] = {}  # spid -> database of an application connection
        self._next_ghost = 100
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        return VERSIONS[self.state.version]

    def login(self, user: str, password: str, database: str | None, app: str) -> EngineSession:
        st = self.state
        with st.lock:
            if not st.up:
                raise SqlError(17142, f"SQL Server service {st.name} has been paused. No new connections will "
                                      "be allowed. To resume the service, use SQL Computer Manager or the "
                                      "Services application in Control Panel.", 14, 1)
            if user not in st.logins or st.logins[user] != password:
                st.record(user, database or "master", "-- login refused", 18456, self.clock.now())
                raise SqlError(18456, f"Login failed for user '{user}'.", 14, 1)
            name = database or "master"
            db = st.databases.get(name)
            if db is None or db.state != "ONLINE":
                raise SqlError(4060, f'Cannot open database "{name}" requested by the login. The login failed.',
                               11, 1)
            session = EngineSession(self, user, db.name, app, next(self._spids))
        with self._lock:
            self._sessions[session.spid] = session
        return session

    # -- sessions ------------------------------------------------------------------------------

    def sessions(self) -> list[EngineSession]:
        with self._lock:
            return [s for s in self._sessions.values() if not s.closed]

    def sessions_in(self, database: str, *, excluding: EngineSession | None = None) -> int:
        """Other open lab sessions whose current database is ``database``."""
        def count() -> int:
            return sum(1 for s in self.sessions()
                       if s is not excluding and s.database.casefold() == database.casefold())
        found = count()
        if found:
            gc.collect()  # a dropped TDS connection frees its session only when collected
            found = count()
        return found

    def ghost_sessions(self) -> dict[int, str]:
        """Stable SPIDs for the application sessions open in each database
        (:meth:`~lab.sqlstate.SqlInstanceState.sessions_held`): one that is killed and comes back
        gets a new SPID, as a reconnecting service would."""
        with self.state.lock, self._lock:
            live: dict[str, list[int]] = {}
            for spid, dbname in sorted(self._ghosts.items()):
                live.setdefault(dbname.casefold(), []).append(spid)
            for db in self.state.databases.values():
                have = live.get(db.name.casefold(), [])
                held = self.state.sessions_held(db)
                while len(have) > held:
                    del self._ghosts[have.pop()]
                while len(have) < held:
                    spid = self._next_ghost
                    self._next_ghost += 1
                    self._ghosts[spid] = db.name
                    have.append(spid)
            known = {db.name.casefold() for db in self.state.databases.values()}
            for spid, dbname in list(self._ghosts.items()):
                if dbname.casefold() not in known:
                    del self._ghosts[spid]
            return dict(sorted(self._ghosts.items()))

    def kill(self, spid: int, by: EngineSession) -> None:
        if spid == by.spid:
            raise SqlError(6104, "Cannot use KILL to kill your own process.", 16)
        ghosts = self.ghost_sessions()
        with self.state.lock, self._lock:
            if spid in ghosts:
                db = self.state.databases.get(ghosts[spid])
                if db is not None and db.connections > 0:
                    db.connections -= 1
                del self._ghosts[spid]
                return
            session = self._sessions.get(spid)
            if session is not None and not session.closed:
                session.closed = True
                return
        raise SqlError(6106, f"Process ID {spid} is not an active process ID.", 16)


class EngineSession:
    """One login: runs batches for the TDS server (``database`` is the current database)."""

    def __init__(self, engine: SqlEngine, user: str, database: str, app: str, spid: int) -> None:
        self.engine = engine
        self.user = user
        self.database = database
        self.app = app
        self.spid = spid
        self.closed = False
        self.login_time = engine.clock.now()
        self._in_insert_exec = 0
        self._loops = 0  # WHILE statements open while a batch is parsed (BREAK needs one)

    def close(self) -> None:
        """Forget this session (the TDS connection ended); idempotent."""
        self.closed = True

    # -- execution -----------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[object], sink: ResultSink) -> None:
        if self.closed:
            raise SqlError(596, "Cannot continue the execution because the session is in the kill state.", 21)
        self._batch(sql, params, sink, Frame())

    def _batch(self, sql: str, params: Sequence[object], sink: ResultSink, frame: Frame) -> None:
        """Compile ``sql`` completely (a syntax error runs nothing), then run it in ``frame``."""
        st = self.engine.state
        try:
            body = self._parse(sql, params, frame)
        except SqlError as err:
            st.record(self.user, self.database, sql.strip(), err.number, self.engine.clock.now(), tuple(params))
            raise
        with contextlib.suppress(ReturnFromBatch, BreakLoop, ContinueLoop):
            self._run(body, frame, sink, tuple(params))

    def _run(self, node: Node, frame: Frame, sink: ResultSink, params: tuple[object, ...]) -> None:
        st = self.engine.state
        if isinstance(node, Statement):
            frame.counted = False
            try:
                node.run(sink)
            except SqlError as err:
                st.record(self.user, self.database, node.text, err.number, self.engine.clock.now(), params)
                raise
            if not frame.counted:
                frame.rowcount = 0
            st.record(self.user, self.database, node.text, None, self.engine.clock.now(), params)
            if sink.cancelled.is_set():
                raise ReturnFromBatch
        elif isinstance(node, Block):
            for child in node.body:
                self._run(child, frame, sink, params)
        elif isinstance(node, If):
            if self._eval(node.cond, frame) is True:
                self._run(node.then, frame, sink, params)
            elif node.other is not None:
                self._run(node.other, frame, sink, params)
        elif isinstance(node, While):
            while self._eval(node.cond, frame) is True:
                if sink.cancelled.is_set():
                    raise ReturnFromBatch
                try:
                    self._run(node.body, frame, sink, params)
                except BreakLoop:
                    break
                except ContinueLoop:
                    continue
        elif node.word == "BREAK":
            raise BreakLoop
        elif node.word == "CONTINUE":
            raise ContinueLoop
        else:
            raise ReturnFromBatch

    def _eval(self, expr: Expr, frame: Frame) -> Any:
        """A scalar expression outside any query (IF, WHILE, SET): no column is in scope."""
        with self.engine.state.lock:
            return Evaluator(self._select_ctx(frame), Binder({})).eval(expr, Env(()))

    def _select_ctx(self, frame: Frame) -> SelectContext:
        return SelectContext(self.engine.state, self.database, self.spid, self.user, self.engine.version,
                             self.engine.clock.now, frame.values, frame.tables, frame.rowcount)

    def _parse(self, sql: str, params: Sequence[object], frame: Frame) -> Block:
        c = Cursor(tokenize(sql, params))
        c.variables.update(frame.types)
        c.table_variables.update(frame.tables)
        self._loops = 0
        body = self._statements(c, sql, frame, top=True)
        return Block(tuple(body))

    def _statements(self, c: Cursor, sql: str, frame: Frame, *, top: bool) -> list[Node]:
        """Statements up to the end of the batch (``top``) or up to the END of a BEGIN block."""
        out: list[Node] = []
        while True:
            while c.accept_op(";"):
                pass
            if c.at_end():
                if not top:
                    raise c.fail()
                return out
            if not top and c.tok.is_word("END"):
                return out
            out.append(self._node(c, sql, frame, first=top and not out))

    def _node(self, c: Cursor, sql: str, frame: Frame, *, first: bool = False) -> Node:
        tok = c.tok
        if tok.is_word("BEGIN"):
            c.take()
            body = self._statements(c, sql, frame, top=False)
            c.expect_word("END")
            return Block(tuple(body))
        if tok.is_word("IF"):
            c.take()
            cond = parse_expr(c)
            then = self._node(c, sql, frame)
            while c.tok.is_op(";") and c.peek().is_word("ELSE"):
                c.take()
            other = self._node(c, sql, frame) if c.accept_word("ELSE") else None
            return If(cond, then, other)
        if tok.is_word("WHILE"):
            c.take()
            cond = parse_expr(c)
            self._loops += 1
            try:
                return While(cond, self._node(c, sql, frame))
            finally:
                self._loops -= 1
        if tok.is_word("BREAK", "CONTINUE", "RETURN"):
            c.take()
            word = tok.text.upper()
            if word != "RETURN" and not self._loops:
                raise SqlError(135 if word == "BREAK" else 136, f"Cannot use a {word} statement outside the scope "
                                                                "of a WHILE statement.", 15)
            return Jump(word)
        start = tok.pos
        run = self._statement(c, first, frame)
        end = c.tok.pos if not c.at_end() else len(sql)
        if not (c.at_statement_end() or c.tok.is_word(*_STATEMENT_WORDS)):
            raise c.fail()
        return Statement(sql[start:end].strip().rstrip(";").strip(), run)

    def _statement(self, c: Cursor, first: bool, frame: Frame) -> Runner:
        tok = c.tok
        if tok.kind != "word":
            raise c.fail()
        word = tok.text.upper()
        if first and word.startswith("SP_"):
            return self._exec(c, frame)
        c.take()
        if word == "SELECT":
            stmt = parse_select(c, self.database)
            return lambda sink: self._select(stmt, frame, sink)
        if word == "USE":
            name = c.name()
            return lambda sink: self._use(name, sink)
        if word == "DECLARE":
            decls = parse_declare(c)
            for d in decls:
                if d.type is not None:
                    frame.types[d.name] = d.type
            return lambda sink: self._declare(decls, frame, sink)
        if word == "SET":
            if c.tok.kind == "var" and not c.tok.text.startswith("@@"):
                return self._set_variable(c, frame)
            while not c.at_statement_end() and not c.tok.is_word(*(_STATEMENT_WORDS - {"SET"})):
                c.take()
            return lambda sink: sink.done()
        if word == "INSERT":
            return self._insert_exec(c, frame)
        if word == "PRINT":
            text = c.string()
            return lambda sink: self._print(text, sink)
        if word == "RESTORE":
            restore = parse_restore(c)
            return lambda sink: restore(self._ctx(frame), sink)
        if word == "BACKUP":
            backup = parse_backup(c)
            return lambda sink: backup(self._ctx(frame), sink)
        if word == "ALTER":
            what = c.expect_word("DATABASE", "ROLE")
            return self._alter_database(c) if what == "DATABASE" else self._alter_role(c)
        if word == "DBCC":
            return self._dbcc(c)
        if word == "CREATE":
            what = c.expect_word("USER", "DATABASE")
            return self._create_user(c) if what == "USER" else self._create_database(c)
        if word == "DROP":
            what = c.expect_word("USER", "DATABASE")
            name = c.name()
            if what == "USER":
                return lambda sink: self._drop_user(name, sink)
            return lambda sink: self._drop_database(name, sink)
        if word in ("EXEC", "EXECUTE"):
            return self._exec(c, frame)
        if word == "KILL":
            spid = c.integer()
            return lambda sink: self._kill(spid, sink)
        raise syntax_error(tok.text)

    def _print(self, text: str, sink: ResultSink) -> None:
        sink.info(0, text)
        sink.done()

    def _kill(self, spid: int, sink: ResultSink) -> None:
        self.engine.kill(spid, self)
        sink.done()

    def _ctx(self, frame: Frame | None = None) -> ExecContext:
        return ExecContext(self.engine.state, self.engine.resolve_path, self.engine.clock, self.user,
                           self.database, lambda name: self.engine.sessions_in(name, excluding=self),
                           frame.values if frame is not None else {}, self._in_insert_exec > 0)

    # -- variables, INSERT ... EXEC, dynamic SQL -----------------------------------------------

    def _declare(self, decls: list[Declaration], frame: Frame, sink: ResultSink) -> None:
        for d in decls:
            if d.type is None:
                frame.tables.setdefault(d.name, table_variable(d))
            elif d.init is not None:
                frame.assign(d.name, self._eval(d.init, frame))
            else:
                frame.values.setdefault(d.name, None)  # a DECLARE run again in a loop keeps the value
        sink.done()

    def _set_variable(self, c: Cursor, frame: Frame) -> Runner:
        tok = c.take()
        name = tok.text.casefold()
        if name not in c.variables:
            raise SqlError(137, f'Must declare the scalar variable "{tok.text}".', 15)
        add = c.tok.is_op("+=")
        if not (add or c.tok.is_op("=")):
            raise c.fail()
        c.take()
        expr = parse_expr(c)
        if add:
            expr = Expr("bin", "+", Expr("var", name, text=tok.text), expr)

        def run(sink: ResultSink) -> None:
            frame.assign(name, self._eval(expr, frame))
            frame.count(1)
            sink.done()
        return run

    def _insert_exec(self, c: Cursor, frame: Frame) -> Runner:
        c.accept_word("INTO")
        tok = c.tok
        if tok.kind != "var":
            raise c.fail()  # the lab inserts only into table variables, and only from EXEC
        c.take()
        name = tok.text.casefold()
        if name not in c.table_variables:
            raise SqlError(1087, f'Must declare the table variable "{tok.text}".', 15)
        if not c.tok.is_word("EXEC", "EXECUTE"):
            raise c.fail()
        c.take()
        inner = self._exec(c, frame)

        def run(sink: ResultSink) -> None:
            capture = Capture(sink)
            self._in_insert_exec += 1
            try:
                inner(capture)
            finally:
                self._in_insert_exec -= 1
            frame.count(insert_rows(frame.tables[name], capture))
            sink.done()
        return run

    def _dynamic(self, sql: str, frame: Frame, sink: ResultSink) -> None:
        """Run ``sql`` as a batch of its own (its USE ends with it), as EXEC does."""
        database = self.database
        try:
            self._batch(sql, (), sink, frame)
        finally:
            self.database = database

    def _executesql(self, args: list[object], named: dict[str, object], sink: ResultSink) -> None:
        """sp_executesql @stmt, @params, values...: the statement runs with only its parameters."""
        if not args or args[0] is None:
            raise SqlError(201, "Procedure or function 'sp_executesql' expects parameter '@statement', which "
                                "was not supplied.", 16)
        text = str(args[0])
        frame = Frame()
        defs = parse_param_definitions(str(args[1])) if len(args) > 1 and args[1] is not None else []
        positional = list(args[2:])
        for i, (name, sqltype) in enumerate(defs):
            frame.types[name] = sqltype
            if name in named:
                value = named.pop(name)
            elif i < len(positional):
                value = positional[i]
            else:
                shown = str(args[1])
                raise SqlError(8178, f"The parameterized query '({shown}){text[:40]}' expects the parameter "
                                     f"'{name}', which was not supplied.", 16)
            frame.assign(name, value)
        if named:
            extra = next(iter(named))
            raise SqlError(8145, f"{extra} is not a parameter for procedure sp_executesql.", 16)
        self._dynamic(text, frame, sink)

    def _db(self, name: str) -> DatabaseState:
        db = self.engine.state.databases.get(name)
        if db is None:
            raise _missing_db(name)
        return db

    # -- SELECT / USE ------------------------------------------------------------------------

    def _select(self, stmt: SelectStmt, frame: Frame, sink: ResultSink) -> None:
        with self.engine.state.lock:
            columns, rows = run_select(stmt, self._select_ctx(frame))
        if stmt.assigns:  # SELECT @a = x, ...: every row assigns in turn, the last one stays
            for row in rows:
                for item, value in zip(stmt.items, row, strict=True):
                    frame.assign(item.target or "", value)
            frame.count(len(rows))
            sink.done()
            return
        frame.count(len(rows))
        sink.columns(columns)
        for row in rows:
            sink.row(row)
        sink.done(rowcount=len(rows))

    def _use(self, name: str, sink: ResultSink) -> None:
        db = self._db(name)
        _check_open(db)
        self.database = db.name
        sink.done()

    # -- ALTER DATABASE ----------------------------------------------------------------------

    def _alter_database(self, c: Cursor) -> Runner:
        name = c.name()
        c.expect_word("SET")
        option = c.expect_word("ONLINE", "OFFLINE", "EMERGENCY", "SINGLE_USER", "RESTRICTED_USER", "MULTI_USER",
                               "RECOVERY", "PARTNER")
        arg = None
        if option == "RECOVERY":
            arg = c.expect_word("FULL", "SIMPLE", "BULK_LOGGED")
        elif option == "PARTNER":
            arg = c.expect_word("OFF", "FAILOVER", "FORCE_SERVICE_ALLOW_DATA_LOSS")
        rollback = False
        if c.accept_word("WITH"):
            how = c.expect_word("ROLLBACK", "NO_WAIT")
            if how == "ROLLBACK":
                if c.accept_word("AFTER"):
                    c.integer()
                    c.accept_word("SECONDS")
                else:
                    c.expect_word("IMMEDIATE")
                rollback = True
        return lambda sink: self._run_alter(name, option, arg, rollback, sink)

    def _run_alter(self, name: str, option: str, arg: str | None, rollback: bool, sink: ResultSink) -> None:
        st = self.engine.state
        failed = SqlError(5069, "ALTER DATABASE statement failed.", 16)
        with st.lock:
            db = self._db(name)
            if option == "RECOVERY" and arg is not None:
                if db.state != "ONLINE":
                    sink.error(SqlError(5011 if db.state == "RESTORING" else 942, _not_open(db), 14))
                    raise failed
                db.recovery_model = "SIMPLE" if arg == "SIMPLE" else "FULL"
                if arg == "SIMPLE":
                    db.log_backed_up_to_lsn = db.last_lsn
            elif option == "PARTNER":
                if db.mirroring_role is None:
                    sink.error(SqlError(1416, f'Database "{db.name}" is not configured for database mirroring.',
                                        16))
                    raise failed
                if arg == "OFF":
                    db.mirroring_role = None
                    db.mirroring_partner = None
                    if db.state == "RESTORING":
                        db.restored_to_lsn = db.restored_to_lsn or db.last_lsn
                elif arg == "FORCE_SERVICE_ALLOW_DATA_LOSS" or db.mirroring_role == "PRINCIPAL":
                    db.mirroring_role = "PRINCIPAL"
                    db.state = "ONLINE"
            else:
                if db.state == "RESTORING":
                    sink.error(SqlError(5052, "ALTER DATABASE is not permitted while a database is in the "
                                              "Restoring state.", 16))
                    raise failed
                others = st.sessions_held(db) + self.engine.sessions_in(db.name, excluding=self)
                if option in ("OFFLINE", "SINGLE_USER", "RESTRICTED_USER") and others and not rollback:
                    sink.error(SqlError(5070, "Database state cannot be changed while other users are using the "
                                              f"database '{db.name}'", 16))
                    raise failed
                if option in ("OFFLINE", "SINGLE_USER", "RESTRICTED_USER") and others:
                    sink.info(5060, "Nonqualified transactions are being rolled back. Estimated rollback "
                                    "completion: 100%.")
                    db.connections = 0
                    for s in self.engine.sessions():
                        if s is not self and s.database.casefold() == db.name.casefold():
                            s.closed = True
                if option == "ONLINE":
                    if db.state == "SUSPECT" or (db.damaged_pages and db.state != "ONLINE"):
                        sink.error(SqlError(926, f"Database '{db.name}' cannot be opened. It has been marked "
                                                 "SUSPECT by recovery. See the SQL Server errorlog for more "
                                                 "information.", 14))
                        raise failed
                    db.state = "ONLINE"
                elif option == "OFFLINE":
                    db.state = "OFFLINE"
                elif option == "EMERGENCY":
                    pass  # read-only emergency mode is not modelled beyond accepting the statement
                elif option == "MULTI_USER":
                    db.user_access = "MULTI_USER"
                else:
                    db.user_access = "SINGLE_USER"
        sink.done()

    # -- DBCC --------------------------------------------------------------------------------

    def _dbcc(self, c: Cursor) -> Runner:
        c.expect_word("CHECKDB")
        name: str | None = None
        if c.accept_op("("):
            if c.tok.kind == "number":
                db_id = c.integer()
                name = next((d.name for d in self.engine.state.databases.values() if d.database_id == db_id),
                            str(db_id))
            else:
                name = c.name_or_string()
            while c.accept_op(","):
                c.take()
            c.expect_op(")")
        quiet = False
        if c.accept_word("WITH"):
            while True:
                opt = c.expect_word("NO_INFOMSGS", "ALL_ERRORMSGS", "PHYSICAL_ONLY", "DATA_PURITY",
                                    "EXTENDED_LOGICAL_CHECKS", "TABLOCK")
                quiet = quiet or opt == "NO_INFOMSGS"
                if not c.accept_op(","):
                    break
        return lambda sink: self._checkdb(name or self.database, quiet, sink)

    def _checkdb(self, name: str, quiet: bool, sink: ResultSink) -> None:
        with self.engine.state.lock:
            db = self._db(name)
            _check_open(db)
            damaged = db.damaged_pages
            dbname = db.name
        if not quiet:
            sink.info(0, f"DBCC results for '{dbname}'.")
        for n in range(damaged):
            sink.error(SqlError(8939, f"Table error: Object ID 0, index ID -1, partition ID 0, alloc unit ID "
                                      f"{72057594038321152 + n} (type Unknown), page (1:{4200 + n}). Test "
                                      "(IS_OFF (BUF_IOERR, pBUF->bstat)) failed. Values are 133129 and -4.", 16))
        if damaged or not quiet:
            sink.info(8989, f"CHECKDB found 0 allocation errors and {damaged} consistency errors in database "
                            f"'{dbname}'.")
        if damaged:
            sink.info(8958, f"repair_allow_data_loss is the minimum repair level for the errors found by DBCC "
                            f"CHECKDB ({dbname}).")
        if not quiet or damaged:
            sink.info(2528, "DBCC execution completed. If DBCC printed error messages, contact your system "
                            "administrator.")
        sink.done()

    # -- users, roles, databases -------------------------------------------------------------

    def _create_user(self, c: Cursor) -> Runner:
        user = c.name()
        login = user
        if c.accept_word("FOR", "FROM"):
            c.expect_word("LOGIN")
            login = c.name()
        elif c.accept_word("WITHOUT"):
            c.expect_word("LOGIN")
            login = ""
        if c.accept_word("WITH"):
            c.expect_word("DEFAULT_SCHEMA")
            c.expect_op("=")
            c.name()
        return lambda sink: self._run_create_user(user, login, sink)

    def _run_create_user(self, user: str, login: str, sink: ResultSink) -> None:
        st = self.engine.state
        with st.lock:
            db = self._db(self.database)
            if user.casefold() in principal_ids(db)[0] or user.casefold() in principal_ids(db)[1]:
                raise SqlError(15023, f"User, group, or role '{user}' already exists in the current database.", 16)
            if login:
                known = {n.casefold() for n in (*st.logins, *st.windows_logins)}
                if login.casefold() not in known:
                    if "\\" in login:
                        raise SqlError(15401, f"Windows NT user or group '{login}' not found. Check the name "
                                              "again.", 11)
                    raise SqlError(15007, f"'{login}' is not a valid login or you do not have permission.", 16)
            db.users[user] = login
        sink.done()

    def _drop_user(self, user: str, sink: ResultSink) -> None:
        with self.engine.state.lock:
            db = self._db(self.database)
            found = next((u for u in db.users if u.casefold() == user.casefold()), None)
            if found is None:
                raise SqlError(15151, f"Cannot drop the user '{user}', because it does not exist or you do not "
                                      "have permission.", 16)
            del db.users[found]
            for members in db.role_members.values():
                members.discard(found)
        sink.done()

    def _alter_role(self, c: Cursor) -> Runner:
        role = c.name()
        verb = c.expect_word("ADD", "DROP")
        c.expect_word("MEMBER")
        member = c.name()
        return lambda sink: self._role_member(role, member, verb == "ADD", sink)

    def _role_member(self, role: str, member: str, add: bool, sink: ResultSink) -> None:
        with self.engine.state.lock:
            db = self._db(self.database)
            role_key = next((r for r in db.role_members if r.casefold() == role.casefold()), None)
            if role_key is None and role.casefold() in _FIXED_DB_ROLES:
                role_key = role
            if role_key is None:
                raise SqlError(15014, f"The role '{role}' does not exist in the current database.", 16)
            user = next((u for u in db.users if u.casefold() == member.casefold()), None)
            if user is None:
                raise SqlError(15410, f"User or role '{member}' does not exist in this database.", 11)
            members = db.role_members.setdefault(role_key, set())
            if add:
                members.add(user)
            else:
                members.discard(user)
        sink.done()

    def _create_database(self, c: Cursor) -> Runner:
        name = c.name()
        return lambda sink: self._run_create_database(name, sink)

    def _run_create_database(self, name: str, sink: ResultSink) -> None:
        st = self.engine.state
        with st.lock:
            if name in st.databases:
                raise SqlError(1801, f"Database '{name}' already exists. Choose a different database name.", 16)
            folder = f"{st.data_dir}\\{name}"
            st.add_database(DatabaseState(name=name, create_date=self.engine.clock.now(), files=[
                DbFile(name, f"{folder}\\{name}.mdf", "D", 8 * 1024 * 1024),
                DbFile(f"{name}_log", f"{folder}\\{name}_log.ldf", "L", 8 * 1024 * 1024)]))
        sink.done()

    def _drop_database(self, name: str, sink: ResultSink) -> None:
        st = self.engine.state
        with st.lock:
            db = st.databases.get(name)
            if db is None:
                raise SqlError(3701, f"Cannot drop the database '{name}', because it does not exist or you do not "
                                     "have permission.", 11)
            if st.sessions_held(db) or self.engine.sessions_in(db.name, excluding=self) or \
                    self.database.casefold() == db.name.casefold():
                raise SqlError(3702, f'Cannot drop database "{db.name}" because it is currently in use.', 16)
            st.drop_database(db.name)
        sink.done()

    # -- EXEC ----------------------------------------------------------------------------------

    def _exec(self, c: Cursor, frame: Frame) -> Runner:
        if c.accept_op("("):  # EXEC ('text' + @v ...): only string literals and variables, joined by +
            pieces: list[object] = []
            while True:
                if c.tok.kind not in ("string", "var") or c.tok.text.startswith("@@"):
                    raise c.fail()
                pieces.append(_arg(c.take(), c))
                if not c.accept_op("+"):
                    break
            c.expect_op(")")

            def run_text(sink: ResultSink) -> None:
                values = [frame.values.get(p.name) if isinstance(p, _VarArg) else p for p in pieces]
                self._dynamic("".join("" if v is None else str(v) for v in values), Frame(), sink)
            return run_text
        parts = c.dotted()
        proc = parts[-1].casefold()
        args: list[object] = []
        named: dict[str, object] = {}
        while not c.at_statement_end() and not c.tok.is_word(*_STATEMENT_WORDS):
            if c.tok.kind == "var" and c.peek().is_op("="):
                key = c.take().text.casefold()
                c.take()
                named[key] = _arg(c.take(), c)
            else:
                args.append(_arg(c.take(), c))
            if not c.accept_op(","):
                break

        def run(sink: ResultSink) -> None:
            def value(v: object) -> object:
                return frame.values.get(v.name) if isinstance(v, _VarArg) else v
            self._run_exec(proc, ".".join(parts), [value(a) for a in args],
                           {k: value(v) for k, v in named.items()}, sink)
        return run

    def _run_exec(self, proc: str, shown: str, args: list[object], named: dict[str, object],
                  sink: ResultSink) -> None:
        if proc == "sp_executesql":
            self._executesql(args, dict(named), sink)
            return

        def arg(i: int, key: str) -> str:
            value = named.get(key, args[i] if i < len(args) else None)
            if value is None:
                raise SqlError(201, f"Procedure or function '{shown}' expects parameter '{key}', which was not "
                                    "supplied.", 16)
            return str(value)

        if proc == "sp_addrolemember":
            self._role_member(arg(0, "@rolename"), arg(1, "@membername"), True, sink)
        elif proc == "sp_droprolemember":
            self._role_member(arg(0, "@rolename"), arg(1, "@membername"), False, sink)
        elif proc in ("sp_who", "sp_who2"):
            self._sp_who2(sink)
        elif proc == "sp_delete_log_shipping_secondary_database":
            name = arg(0, "@secondary_database")
            with self.engine.state.lock:
                db = self._db(name)
                db.log_shipping_secondary = False
            sink.done()
        else:
            raise SqlError(2812, f"Could not find stored procedure '{shown}'.", 16, 62)

    def _sp_who2(self, sink: ResultSink) -> None:
        names = ("SPID", "Status", "Login", "HostName", "BlkBy", "DBName", "Command", "CPUTime", "DiskIO",
                 "LastBatch", "ProgramName", "SPID", "REQUESTID")
        sink.columns([Column(n, "int" if n in ("CPUTime", "DiskIO", "REQUESTID") else "nvarchar") for n in names])
        rows: list[list[object]] = []
        now = self.engine.clock.now().strftime("%m/%d %H:%M:%S")
        for s in sorted(self.engine.sessions(), key=lambda s: s.spid):
            mine = s is self
            rows.append([f"{s.spid:<5}", "RUNNABLE" if mine else "sleeping", s.user, "LAB", "  .", s.database,
                         "SELECT INTO" if mine else "AWAITING COMMAND", 0, 0, now, s.app, f"{s.spid:<5}", 0])
        domain = next((n.split("\\")[0] for n in self.engine.state.windows_logins if "\\" in n
                       and not n.startswith(("NT AUTHORITY", "BUILTIN"))), "DOMAIN")
        for spid, dbname in self.engine.ghost_sessions().items():
            rows.append([f"{spid:<5}", "sleeping", f"{domain}\\RTCComponentUniversalServices", "FE", "  .", dbname,
                         "AWAITING COMMAND", 0, 0, now, "Lync Server", f"{spid:<5}", 0])
        for row in rows:
            sink.row(row)
        sink.done(rowcount=len(rows))


def _arg(tok: Token, c: Cursor) -> object:
    if tok.kind == "var" and not tok.text.startswith("@@"):
        if tok.text.casefold() not in c.variables:
            raise SqlError(137, f'Must declare the scalar variable "{tok.text}".', 15)
        return _VarArg(tok.text.casefold())
    if tok.kind in ("string", "word", "qident"):
        return tok.text
    if tok.kind == "number":
        return tok.value
    if tok.kind == "null":
        return None
    raise syntax_error(tok.text)


def _not_open(db: DatabaseState) -> str:
    if db.state == "RESTORING":
        return f"Database '{db.name}' cannot be opened. It is in the middle of a restore."
    if db.state == "OFFLINE":
        return f"Database '{db.name}' cannot be opened because it is offline."
    return (f"Database '{db.name}' cannot be opened. It has been marked SUSPECT by recovery. See the SQL Server "
            "errorlog for more information.")


def _check_open(db: DatabaseState) -> None:
    """Raise the error a statement gets when it needs ``db`` and the database is not ONLINE."""
    if db.state == "ONLINE":
        return
    number = {"RESTORING": 927, "OFFLINE": 942}.get(db.state, 926)
    raise SqlError(number, _not_open(db), 14)


def folder_resolver(mapping: dict[str, Path]) -> ResolvePath:
    """A ``resolve_path`` for tests and simple labs: Windows prefixes (``D:\\``, ``\\\\srv\\share``)
    mapped to folders, case-insensitively; anything else is unreachable (None)."""
    prefixes = sorted(((k.rstrip("\\").casefold(), v) for k, v in mapping.items()), key=lambda kv: -len(kv[0]))

    def resolve(win_path: str) -> Path | None:
        low = win_path.casefold()
        for prefix, folder in prefixes:
            if low == prefix or low.startswith(prefix + "\\"):
                rest = [p for p in win_path[len(prefix):].split("\\") if p]
                if any(p == ".." for p in rest):
                    return None
                return folder.joinpath(*rest)
        return None

    return resolve


__all__ = ["VERSIONS", "EngineSession", "SqlEngine", "folder_resolver"]


