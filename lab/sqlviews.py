"""The catalog views the lab's SQL Server exposes to SELECT (:mod:`lab.sqlselect`).

Each view is a schema (result columns as SQL Server 2012 names them) and a function producing its
rows from :class:`~lab.sqlstate.SqlInstanceState`, so what a drill reads in
``sys.databases`` or ``msdb.dbo.backupset`` is exactly the state the engine and scenarios change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .sqlstate import PAGE_SIZE, DatabaseState, SqlInstanceState
from .tds.api import Column, SqlError

Row = tuple[Any, ...]

_STATE_NUM = {"ONLINE": 0, "RESTORING": 1, "RECOVERY_PENDING": 3, "SUSPECT": 4, "OFFLINE": 6}
_FIXED_ROLES = {"db_owner": 16384, "db_accessadmin": 16385, "db_securityadmin": 16386,
                "db_ddladmin": 16387, "db_backupoperator": 16389, "db_datareader": 16390,
                "db_datawriter": 16391, "db_denydatareader": 16392, "db_denydatawriter": 16393}


@dataclass
class TableVariable:
    """A ``DECLARE @t TABLE (...)`` of one batch: its columns (result types), the declared type
    of each (kept as the engine's ``SqlType`` objects) and its rows."""

    name: str
    columns: tuple[Column, ...]
    types: tuple[Any, ...]
    rows: list[Row] = field(default_factory=list)


@dataclass
class SelectContext:
    """What a SELECT may read: the instance, the session's database and identity, and the batch's
    local variables (case-folded ``@name`` -> value), table variables and ``@@ROWCOUNT``."""

    state: SqlInstanceState
    database: str
    spid: int
    user: str
    version: str
    now: Callable[[], dt.datetime]
    variables: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, TableVariable] = field(default_factory=dict)
    rowcount: int = 0


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    columns: tuple[Column, ...]
    rows: Callable[[SelectContext, str], Iterable[Row]]  # (ctx, database for scoped views)


def _c(spec: str) -> tuple[Column, ...]:
    cols = []
    for part in spec.split():
        name, _, typ = part.partition(":")
        cols.append(Column(name, typ or "nvarchar"))  # type: ignore[arg-type]
    return tuple(cols)


def _databases(ctx: SelectContext, _db: str) -> Iterable[Row]:
    for db in sorted(ctx.state.databases.values(), key=lambda d: d.database_id):
        yield (db.name, db.database_id, db.create_date, 110, "Latin1_General_CI_AS",
               0 if db.user_access == "MULTI_USER" else 1, db.user_access, False,
               _STATE_NUM[db.state], db.state, 1 if db.recovery_model == "FULL" else 3,
               db.recovery_model, False, "LOG_BACKUP" if db.has_unbacked_log else "NOTHING", db.owner)


def _master_files(ctx: SelectContext, _db: str) -> Iterable[Row]:
    for db in sorted(ctx.state.databases.values(), key=lambda d: d.database_id):
        yield from _files_of(db, with_db=True)


def _files_of(db: DatabaseState, *, with_db: bool) -> Iterable[Row]:
    for i, f in enumerate(db.files, start=1):
        row = (i, 0 if f.type == "D" else 1, "ROWS" if f.type == "D" else "LOG", f.logical_name,
               f.physical_name, 0, "ONLINE", max(f.size_bytes // PAGE_SIZE, 1), -1, 10)
        yield ((db.database_id, *row) if with_db else row)


def _mirroring(ctx: SelectContext, _db: str) -> Iterable[Row]:
    for db in sorted(ctx.state.databases.values(), key=lambda d: d.database_id):
        role = db.mirroring_role
        yield (db.database_id, None if role is None else (1 if role == "PRINCIPAL" else 2), role,
               None if role is None else "SYNCHRONIZED", None if role is None else db.mirroring_partner)


def _server_principals(ctx: SelectContext, _db: str) -> Iterable[Row]:
    pid = 256
    yield ("sa", 1, "S", "SQL_LOGIN", False)
    for name in sorted(ctx.state.logins):
        if name != "sa":
            pid += 1
            yield (name, pid, "S", "SQL_LOGIN", False)
    for name in sorted(ctx.state.windows_logins):
        pid += 1
        group = name.rpartition("\\")[2].upper().startswith(("RTC", "ADMINISTRATORS", "DOMAIN"))
        yield (name, pid, "G" if group else "U", "WINDOWS_GROUP" if group else "WINDOWS_LOGIN", False)


def principal_ids(db: DatabaseState) -> tuple[dict[str, int], dict[str, int]]:
    """Stable principal ids: (users, roles) name -> id, case-folded names."""
    users = {"dbo": 1, "guest": 2, "information_schema": 3, "sys": 4}
    for i, name in enumerate(db.users, start=5):
        users.setdefault(name.casefold(), i)
    roles = {"public": 0, **_FIXED_ROLES}
    next_id = 5 + len(db.users)
    for name in db.role_members:
        if name.casefold() not in roles:
            roles[name.casefold()] = next_id
            next_id += 1
    return users, roles


def _scoped_db(ctx: SelectContext, name: str) -> DatabaseState:
    db = ctx.state.databases.get(name)
    if db is None:
        raise SqlError(911, f"Database '{name}' does not exist. Make sure that the name is entered correctly.", 16)
    return db


def _database_files(ctx: SelectContext, dbname: str) -> Iterable[Row]:
    yield from _files_of(_scoped_db(ctx, dbname), with_db=False)


def _database_principals(ctx: SelectContext, dbname: str) -> Iterable[Row]:
    db = _scoped_db(ctx, dbname)
    users, roles = principal_ids(db)
    for fixed in ("dbo", "guest", "INFORMATION_SCHEMA", "sys"):
        yield (fixed, users[fixed.casefold()], "S", "SQL_USER", "dbo")
    for name, login in db.users.items():
        windows = "\\" in login
        yield (name, users[name.casefold()], "G" if windows else "S",
               "WINDOWS_GROUP" if windows else "SQL_USER", "dbo")
    for name, pid in roles.items():
        display = next((r for r in db.role_members if r.casefold() == name), name)
        yield (display, pid, "R", "DATABASE_ROLE", None)


def _database_role_members(ctx: SelectContext, dbname: str) -> Iterable[Row]:
    db = _scoped_db(ctx, dbname)
    users, roles = principal_ids(db)
    yield (roles["db_owner"], users["dbo"])
    for role, members in db.role_members.items():
        for member in sorted(members):
            if member.casefold() in users:
                yield (roles[role.casefold()], users[member.casefold()])


def _backupset(ctx: SelectContext, _db: str) -> Iterable[Row]:
    for i, b in enumerate(ctx.state.backup_history, start=1):
        yield (i, b.media_set_id, b.backup_set_name, None, b.database, b.server.split(".", maxsplit=1)[0].upper(),
               b.server.split(".", maxsplit=1)[0].upper(), b.type, b.backup_start, b.backup_finish,
               b.first_lsn, b.last_lsn, b.first_lsn, b.first_lsn, b.backup_size, b.backup_size,
               b.checksum, b.copy_only, False, "FULL", "sa")


def _mediafamily(ctx: SelectContext, _db: str) -> Iterable[Row]:
    for b in ctx.state.backup_history:
        yield (b.media_set_id, 1, None, b.device, 2, 512)


def _restorehistory(ctx: SelectContext, _db: str) -> Iterable[Row]:
    for i, r in enumerate(ctx.state.restore_history, start=1):
        yield (i, r.restore_date, r.database, r.user, r.type, r.replace, r.recovery, r.device)


VIEWS: dict[str, View] = {
    "sys.databases": View(_c("name database_id:int create_date:datetime compatibility_level:int "
                             "collation_name user_access:int user_access_desc is_read_only:bit state:int "
                             "state_desc recovery_model:int recovery_model_desc is_in_standby:bit "
                             "log_reuse_wait_desc owner_name"), _databases),
    "sys.master_files": View(_c("database_id:int file_id:int type:int type_desc name physical_name "
                                "state:int state_desc size:int max_size:int growth:int"), _master_files),
    "sys.database_mirroring": View(_c("database_id:int mirroring_role:int mirroring_role_desc "
                                      "mirroring_state_desc mirroring_partner_name"), _mirroring),
    "sys.server_principals": View(_c("name principal_id:int type type_desc is_disabled:bit"), _server_principals),
    "sys.database_files": View(_c("file_id:int type:int type_desc name physical_name state:int "
                                  "state_desc size:int max_size:int growth:int"), _database_files),
    "sys.database_principals": View(_c("name principal_id:int type type_desc default_schema_name"),
                                    _database_principals),
    "sys.database_role_members": View(_c("role_principal_id:int member_principal_id:int"),
                                      _database_role_members),
    "msdb.backupset": View(_c("backup_set_id:int media_set_id:int name description database_name server_name "
                              "machine_name type backup_start_date:datetime backup_finish_date:datetime "
                              "first_lsn:bigint last_lsn:bigint checkpoint_lsn:bigint database_backup_lsn:bigint "
                              "backup_size:bigint compressed_backup_size:bigint has_backup_checksums:bit "
                              "is_copy_only:bit is_damaged:bit recovery_model user_name"), _backupset),
    "msdb.backupmediafamily": View(_c("media_set_id:int family_sequence_number:int logical_device_name "
                                      "physical_device_name device_type:int physical_block_size:int"), _mediafamily),
    "msdb.restorehistory": View(_c("restore_history_id:int restore_date:datetime destination_database_name "
                                   "user_name restore_type replace:bit recovery:bit device"), _restorehistory),
}
_DB_SCOPED = {"sys.database_files", "sys.database_principals", "sys.database_role_members"}


def view_of(key: str, ctx: SelectContext) -> View:
    """The view behind a FROM source: a catalog view, or a table variable (key ``@name``)."""
    if key.startswith("@"):
        table = ctx.tables[key]
        return View(table.columns, lambda _ctx, _db: list(table.rows))
    return VIEWS[key]


def resolve_view(parts: list[str], current_db: str, original: str) -> tuple[str, str]:
    """(view key, database it is read in) for a one-, two- or three-part name."""
    low = [p.casefold() for p in parts]
    missing = SqlError(208, f"Invalid object name '{original}'.", 16)
    if len(low) == 3:
        db, schema, name = low
        scope = parts[0]
    elif len(low) == 2:
        db, (schema, name) = current_db.casefold(), low
        scope = current_db
    else:
        db, schema, name = current_db.casefold(), "dbo", low[0]
        scope = current_db
    if schema == "sys":
        key = f"sys.{name}"
        if key in VIEWS:
            return key, scope
    elif schema in ("dbo", "") and db == "msdb":
        key = f"msdb.{name}"
        if key in VIEWS:
            return key, "msdb"
    raise missing


