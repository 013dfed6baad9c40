"""BACKUP and RESTORE for the lab's SQL Server: what a restore drill actually exercises.

Statements (SQL Server 2012 syntax; one device per statement, one backup set per file)::

    RESTORE {HEADERONLY | FILELISTONLY | VERIFYONLY | LABELONLY} FROM DISK = N'path' [WITH opts]
    RESTORE DATABASE db [FROM DISK = N'path'] [WITH MOVE N'l' TO N'p', REPLACE, RECOVERY |
        NORECOVERY, STATS [= n], CHECKSUM | NO_CHECKSUM, FILE = 1, NOUNLOAD, NOREWIND]
    RESTORE LOG db FROM DISK = N'path' [WITH RECOVERY | NORECOVERY, STATS, CHECKSUM, FILE = 1]
    BACKUP {DATABASE | LOG} db TO DISK = N'path' [WITH INIT | NOINIT, FORMAT, CHECKSUM,
        COPY_ONLY, COMPRESSION, STATS [= n], NAME = N'...', DESCRIPTION = N'...', NORECOVERY]

A database name, a device and each MOVE operand may also be a local variable (``RESTORE
DATABASE @db FROM DISK = @bak WITH MOVE @logical TO @path``), as RESTORE Arguments (Transact-SQL)
allows.

They fail with SQL Server's numbers and wording, each followed by 3013 "... is terminating
abnormally.": 3201 (device not reachable from this SQL Server, file missing), 3203 (truncated),
3241 (damaged media), 3187 (CHECKSUM asked, none in the backup), 3102 (this session uses the
database), 3101 (exclusive access: other sessions, including the applications holding it, see
``SqlInstanceState.sessions_held``), 3154 (backup of another database, no REPLACE), 3159 (tail of
the log not backed up), 3234 (MOVE of an unknown logical file), 1834/3156 (file in use by another
database), 5133/3156 (the folder recorded in the backup does not exist on this server: use MOVE),
3634/3156 (a MOVE target folder does not exist), each planning failure then 3119, 3257
(insufficient disk space), 3117/3118 (log restore on a recovered or missing database), 4305/4326
(broken log chain), 4333 (recovery after an interrupted restore), 4208 (BACKUP LOG under SIMPLE
recovery), 3021 (inside ``INSERT ... EXEC``, a transaction).

Long statements take simulated time (backup size / the instance's throughput) through the lab
clock, report ``n percent processed.`` (3211) at each STATS step, and stop when the client
cancels, leaving a restored database RESTORING as a real server would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

from .clock import LabClock
from .sqllex import Cursor
from .sqlstate import (
    PAGE_SIZE,
    BackupHistory,
    BakContents,
    BakError,
    DatabaseState,
    DbFile,
    RestoreHistory,
    SqlInstanceState,
    read_bak,
    snapshot_to_database,
    write_bak,
)
from .tds.api import Column, ResultSink, SqlError

ResolvePath = Callable[[str], Path | None]


@dataclass
class ExecContext:
    """What BACKUP/RESTORE need from the session that runs them."""

    state: SqlInstanceState
    resolve_path: ResolvePath
    clock: LabClock
    user: str
    current_database: str
    #: number of OTHER lab sessions whose current database is the given one
    sessions_in: Callable[[str], int]
    #: the batch's local variables (case-folded ``@name`` -> value)
    variables: Mapping[str, object] = field(default_factory=dict)
    #: inside ``INSERT ... EXEC`` (an implicit user transaction): BACKUP and RESTORE refuse (3021)
    in_transaction: bool = False

    def text(self, operand: Operand) -> str:
        """A name or path written as a constant or as a variable (RESTORE Arguments allow both)."""
        if isinstance(operand, VarRef):
            value = self.variables.get(operand.name)
            return "" if value is None else str(value)
        return operand


@dataclass(frozen=True)
class VarRef:
    """``@name`` where RESTORE takes a database name, a device or a MOVE operand."""

    name: str


Operand = str | VarRef


@dataclass
class Options:
    moves: list[tuple[Operand, Operand]] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    stats: int | None = None
    values: dict[str, object] = field(default_factory=dict)

    def resolved(self, ctx: ExecContext) -> Options:
        """These options with every variable read (when the statement runs)."""
        return Options([(ctx.text(a), ctx.text(b)) for a, b in self.moves], self.flags, self.stats, self.values)

    def move_pairs(self) -> list[tuple[str, str]]:
        """(logical name, path) of each MOVE, once :meth:`resolved` has read the variables."""
        return [(a, b) for a, b in self.moves if isinstance(a, str) and isinstance(b, str)]


def _operand(c: Cursor, *, name: bool = False) -> Operand:
    """A string constant (or, for ``name``, an identifier) or a declared local variable."""
    tok = c.tok
    if tok.kind == "var" and not tok.text.startswith("@@"):
        c.take()
        if tok.text.casefold() not in c.variables:
            raise SqlError(137, f'Must declare the scalar variable "{tok.text}".', 15)
        return VarRef(tok.text.casefold())
    return c.name_or_string() if name else c.string()


_RESTORE_FLAGS = {"REPLACE", "RECOVERY", "NORECOVERY", "CHECKSUM", "NO_CHECKSUM", "NOUNLOAD", "NOREWIND",
                  "REWIND", "UNLOAD", "CONTINUE_AFTER_ERROR", "STOP_ON_ERROR", "KEEP_REPLICATION", "RESTART"}
_BACKUP_FLAGS = {"INIT", "NOINIT", "FORMAT", "NOFORMAT", "CHECKSUM", "NO_CHECKSUM", "COPY_ONLY", "COMPRESSION",
                 "NO_COMPRESSION", "NORECOVERY", "NO_TRUNCATE", "SKIP", "NOSKIP", "NOUNLOAD", "NOREWIND",
                 "CONTINUE_AFTER_ERROR", "STOP_ON_ERROR"}
_VALUE_OPTS = {"FILE", "NAME", "DESCRIPTION", "MEDIANAME", "MEDIADESCRIPTION", "BLOCKSIZE",
               "BUFFERCOUNT", "MAXTRANSFERSIZE", "PASSWORD", "MEDIAPASSWORD", "EXPIREDATE", "RETAINDAYS"}


def parse_options(c: Cursor, flags: set[str]) -> Options:
    opts = Options()
    if not c.accept_word("WITH"):
        return opts
    while True:
        word = c.tok
        if word.kind != "word":
            raise c.fail()
        upper = word.text.upper()
        c.take()
        if upper == "MOVE":
            logical = _operand(c)
            c.expect_word("TO")
            opts.moves.append((logical, _operand(c)))
        elif upper == "STATS":
            opts.stats = c.integer() if c.accept_op("=") else 10
            if not 1 <= opts.stats <= 100:
                raise SqlError(3252, "The value specified for the STATS option must be between 1 and 100.", 16)
        elif upper in _VALUE_OPTS:
            c.expect_op("=")
            tok = c.take()
            if tok.kind not in ("string", "number", "word"):
                raise c.fail()
            opts.values[upper] = tok.value if tok.kind == "number" else tok.text
        elif upper in flags:
            opts.flags.add(upper)
        else:
            raise SqlError(102, f"Incorrect syntax near '{word.text}'.", 15)
        if not c.accept_op(","):
            break
    if {"RECOVERY", "NORECOVERY"} <= opts.flags:
        raise SqlError(3031, "Option 'norecovery' conflicts with option(s) 'recovery'. Remove the conflicting "
                             "option and reissue the statement.", 16)
    if opts.values.get("FILE", 1) != 1:
        raise SqlError(3133, f"The backup set on file {opts.values['FILE']} is not valid: only one backup set "
                             "per file exists in this lab.", 16)
    return opts


def parse_device(c: Cursor, keyword: str) -> Operand:
    c.expect_word(keyword)
    c.expect_word("DISK")
    c.expect_op("=")
    path = _operand(c)
    if c.tok.is_op(","):
        raise SqlError(3132, "The media set has 2 media families but only 1 are provided. "
                             "All members must be provided.", 16)
    return path


# ---------------------------------------------------------------------------------------------
# Statements
# ---------------------------------------------------------------------------------------------

Runner = Callable[[ExecContext, ResultSink], None]


def parse_restore(c: Cursor) -> Runner:
    """Parse from after RESTORE; returns the runner."""
    what = c.expect_word("HEADERONLY", "FILELISTONLY", "VERIFYONLY", "LABELONLY", "DATABASE", "LOG")
    if what in ("DATABASE", "LOG"):
        name = _operand(c, name=True)
        device = parse_device(c, "FROM") if c.tok.is_word("FROM") else None
        if device is None and what == "LOG":
            raise c.fail()
        opts = parse_options(c, _RESTORE_FLAGS)
        if device is None:
            return _in_no_transaction("RESTORE DATABASE", lambda ctx, sink: recover_only(
                ctx, sink, ctx.text(name), opts))
        dev: Operand = device
        if what == "LOG":
            return _in_no_transaction("RESTORE LOG", lambda ctx, sink: restore_log(
                ctx, sink, ctx.text(name), ctx.text(dev), opts.resolved(ctx)))
        return _in_no_transaction("RESTORE DATABASE", lambda ctx, sink: restore_database(
            ctx, sink, ctx.text(name), ctx.text(dev), opts.resolved(ctx)))
    device = parse_device(c, "FROM")
    opts = parse_options(c, _RESTORE_FLAGS)
    return lambda ctx, sink: restore_info(ctx, sink, what, ctx.text(device), opts)


def parse_backup(c: Cursor) -> Runner:
    what = c.expect_word("DATABASE", "LOG")
    name = _operand(c, name=True)
    device = parse_device(c, "TO")
    opts = parse_options(c, _BACKUP_FLAGS)
    return _in_no_transaction(f"BACKUP {what}", lambda ctx, sink: backup(
        ctx, sink, what, ctx.text(name), ctx.text(device), opts))


def _in_no_transaction(verb: str, run: Runner) -> Runner:
    """BACKUP and RESTORE cannot run inside a user transaction (INSERT ... EXEC opens one)."""
    def guarded(ctx: ExecContext, sink: ResultSink) -> None:
        if ctx.in_transaction:
            raise _fail(sink, verb, SqlError(3021, "Cannot perform a backup or restore operation within a "
                                                   "transaction.", 16))
        run(ctx, sink)
    return guarded


def _terminate(verb: str) -> SqlError:
    return SqlError(3013, f"{verb} is terminating abnormally.", 16)


def _fail(sink: ResultSink, verb: str, *errors: SqlError) -> SqlError:
    """Send every error but the last one now; return 3013 for the caller to raise."""
    for err in errors:
        sink.error(err)
    return _terminate(verb)


def open_backup(ctx: ExecContext, device: str, *, verify: bool) -> BakContents:
    """Read the backup at a Windows path as this SQL Server sees it; raises BakError."""
    path = ctx.resolve_path(device)
    if path is None or not path.parent.is_dir():
        raise BakError(3201, f"Cannot open backup device '{device}'. Operating system error 3"
                             "(The system cannot find the path specified.).")
    return read_bak(path, device=device, verify=verify)


def _bak_error(err: BakError) -> SqlError:
    return SqlError(err.number, err.message, 16, 1 if err.number != 3201 else 2)


_INFO_VERBS = {"HEADERONLY": "RESTORE HEADERONLY", "FILELISTONLY": "RESTORE FILELIST",
               "VERIFYONLY": "VERIFY DATABASE", "LABELONLY": "RESTORE LABELONLY"}


def restore_info(ctx: ExecContext, sink: ResultSink, what: str, device: str, opts: Options) -> None:
    verb = _INFO_VERBS[what]
    try:
        bak = open_backup(ctx, device, verify=what == "VERIFYONLY")
    except BakError as err:
        raise _fail(sink, verb, _bak_error(err)) from None
    if "CHECKSUM" in opts.flags and not bak.checksum:
        raise _fail(sink, verb, SqlError(3187, "RESTORE WITH CHECKSUM cannot be specified because the backup "
                                               "set does not contain checksum information.", 16))
    if what == "HEADERONLY":
        _headeronly(sink, bak, device)
    elif what == "FILELISTONLY":
        _filelistonly(sink, bak)
    elif what == "LABELONLY":
        sink.columns([Column(n, t) for n, t in (  # type: ignore[arg-type]
            ("MediaName", "nvarchar"), ("MediaSetId", "uniqueidentifier"), ("FamilyCount", "int"),
            ("FamilySequenceNumber", "int"), ("MediaFamilyId", "uniqueidentifier"),
            ("MediaSequenceNumber", "int"), ("MediaLabelPresent", "bit"), ("MediaDescription", "nvarchar"),
            ("SoftwareName", "nvarchar"), ("SoftwareVendorId", "int"), ("MediaDate", "datetime"),
            ("MirrorCount", "int"), ("IsCompressed", "bit"))])
        sink.row([None, _guid(device, "media"), 1, 1, _guid(device, "family"), 1, True, None,
                  "Microsoft SQL Server", 4608, bak.finish, 1, False])
        sink.done(rowcount=1)
    elif ctx.clock.sleep(bak.backup_size / max(ctx.state.throughput_bytes_per_sec, 1) / 4, sink.cancelled):
        sink.info(3262, "The backup set on file 1 is valid.")
        sink.done()


def _guid(*parts: str) -> object:
    import uuid
    return uuid.uuid5(uuid.NAMESPACE_URL, "lync-restore-lab:" + ":".join(parts))


def _headeronly(sink: ResultSink, bak: BakContents, device: str) -> None:
    kind = {"D": 1, "L": 2, "I": 5}[bak.kind]
    desc = {"D": "Database", "L": "Transaction Log", "I": "Database Differential"}[bak.kind]
    cols = [
        ("BackupName", "nvarchar", bak.backup_set_name), ("BackupDescription", "nvarchar", None),
        ("BackupType", "int", kind), ("ExpirationDate", "datetime", None), ("Compressed", "bit", False),
        ("Position", "int", 1), ("DeviceType", "int", 2), ("UserName", "nvarchar", "sa"),
        ("ServerName", "nvarchar", bak.server), ("DatabaseName", "nvarchar", bak.database),
        ("DatabaseVersion", "int", bak.database_version), ("DatabaseCreationDate", "datetime",
                                                          dt.datetime(2013, 3, 1, 9, 0, 0)),
        ("BackupSize", "bigint", bak.backup_size), ("FirstLSN", "bigint", bak.first_lsn),
        ("LastLSN", "bigint", bak.last_lsn), ("CheckpointLSN", "bigint", bak.first_lsn),
        ("DatabaseBackupLSN", "bigint", bak.first_lsn), ("BackupStartDate", "datetime", bak.start),
        ("BackupFinishDate", "datetime", bak.finish), ("SortOrder", "int", 0), ("CodePage", "int", 0),
        ("UnicodeLocaleId", "int", 1033), ("UnicodeComparisonStyle", "int", 196609),
        ("CompatibilityLevel", "int", 110), ("SoftwareVendorId", "int", 4608),
        ("SoftwareVersionMajor", "int", bak.software_version_major), ("SoftwareVersionMinor", "int", 0),
        ("SoftwareVersionBuild", "int", 7001), ("MachineName", "nvarchar", bak.server.split("\\")[0]),
        ("Flags", "int", 512 if bak.checksum else 0), ("BindingID", "uniqueidentifier", _guid(bak.origin, "bind")),
        ("RecoveryForkID", "uniqueidentifier", _guid(bak.origin, "fork")), ("Collation", "nvarchar", bak.collation),
        ("FamilyGUID", "uniqueidentifier", _guid(bak.origin)), ("HasBulkLoggedData", "bit", False),
        ("IsSnapshot", "bit", False), ("IsReadOnly", "bit", False), ("IsSingleUser", "bit", False),
        ("HasBackupChecksums", "bit", bak.checksum), ("IsDamaged", "bit", False),
        ("BeginsLogChain", "bit", False), ("HasIncompleteMetaData", "bit", False),
        ("IsForceOffline", "bit", False), ("IsCopyOnly", "bit", bak.copy_only),
        ("FirstRecoveryForkID", "uniqueidentifier", _guid(bak.origin, "fork")),
        ("ForkPointLSN", "bigint", None), ("RecoveryModel", "nvarchar", bak.recovery_model),
        ("DifferentialBaseLSN", "bigint", None), ("DifferentialBaseGUID", "uniqueidentifier", None),
        ("BackupTypeDescription", "nvarchar", desc),
        ("BackupSetGUID", "uniqueidentifier", _guid(device, str(bak.last_lsn))),
        ("CompressedBackupSize", "bigint", bak.backup_size), ("Containment", "int", 0),
    ]
    sink.columns([Column(n, t) for n, t, _ in cols])  # type: ignore[arg-type]
    sink.row([v for _, _, v in cols])
    sink.done(rowcount=1)


def _filelistonly(sink: ResultSink, bak: BakContents) -> None:
    sink.columns([Column(n, t) for n, t in (  # type: ignore[arg-type]
        ("LogicalName", "nvarchar"), ("PhysicalName", "nvarchar"), ("Type", "nvarchar"),
        ("FileGroupName", "nvarchar"), ("Size", "bigint"), ("MaxSize", "bigint"), ("FileId", "bigint"),
        ("CreateLSN", "bigint"), ("DropLSN", "bigint"), ("UniqueId", "uniqueidentifier"),
        ("ReadOnlyLSN", "bigint"), ("ReadWriteLSN", "bigint"), ("BackupSizeInBytes", "bigint"),
        ("SourceBlockSize", "int"), ("FileGroupId", "int"), ("LogGroupGUID", "uniqueidentifier"),
        ("DifferentialBaseLSN", "bigint"), ("DifferentialBaseGUID", "uniqueidentifier"),
        ("IsReadOnly", "bit"), ("IsPresent", "bit"), ("TDEThumbprint", "varbinary"))])
    for f in bak.files:
        sink.row([f.logical_name, f.physical_name, f.type, "PRIMARY" if f.type == "D" else None, f.size_bytes,
                  35184372080640 if f.type == "D" else 2199023255552, f.file_id, 0, 0,
                  _guid(bak.origin, f.logical_name), 0, 0, bak.backup_size if f.type == "D" else 0, 512,
                  1 if f.type == "D" else 0, None, 0, None, False, True, None])
    sink.done(rowcount=len(bak.files))


def _paced(ctx: ExecContext, sink: ResultSink, sim_seconds: float, stats: int | None, *, until: int = 100) -> bool:
    """Play ``sim_seconds`` of work (its first ``until`` percent), with STATS progress at each
    multiple of STATS; False when cancelled."""
    if not stats:
        return ctx.clock.sleep(sim_seconds * until / 100, sink.cancelled)
    pct = 0
    while pct < until:
        step = min(stats - pct % stats, until - pct)
        if not ctx.clock.sleep(sim_seconds * step / 100, sink.cancelled):
            return False
        pct += step
        if pct % stats == 0 or pct == 100:
            sink.info(3211, f"{pct} percent processed.")
    return True


def _read_failed(device: str) -> SqlError:
    """3203 for a backup device whose read fails part way: a share that went away (Windows error
    64) or, on a local disk, a bad sector (23: a CRC error)."""
    why = ("64(The specified network name is no longer available.)" if device.startswith("\\\\")
           else "23(Data error (cyclic redundancy check).)")
    return SqlError(3203, f'Read on "{device}" failed: {why}', 16, 1)


def _rate(pages: int, secs: float) -> str:
    secs = max(secs, 0.001)
    return f"{pages} pages in {secs:.3f} seconds ({pages * PAGE_SIZE / 1048576 / secs:.3f} MB/sec)."


def _volume(path: str) -> str:
    drive = PureWindowsPath(path).drive
    return f"{drive}\\" if drive else path


# -- RESTORE DATABASE --------------------------------------------------------------------------


def restore_database(ctx: ExecContext, sink: ResultSink, name: str, device: str, opts: Options) -> None:
    verb = "RESTORE DATABASE"
    st = ctx.state
    try:
        bak = open_backup(ctx, device, verify=True)
    except BakError as err:
        raise _fail(sink, verb, _bak_error(err)) from None
    if bak.kind != "D":
        raise _fail(sink, verb, SqlError(3135, f"The backup set in file '{device}' was created by BACKUP LOG and "
                                               "cannot be used for this restore operation.", 16))
    if "CHECKSUM" in opts.flags and not bak.checksum:
        raise _fail(sink, verb, SqlError(3187, "RESTORE WITH CHECKSUM cannot be specified because the backup "
                                               "set does not contain checksum information.", 16))
    replace = "REPLACE" in opts.flags
    with st.lock:
        target = st.databases.get(name)
        if name.casefold() == ctx.current_database.casefold() and target is not None:
            raise _fail(sink, verb, SqlError(3102, f"RESTORE cannot process database '{target.name}' because it is "
                                                   "in use by this session. It is recommended that the master "
                                                   "database be used when performing this operation.", 16))
        if target is not None and target.origin_key != bak.origin.casefold() and not replace:
            raise _fail(sink, verb, SqlError(3154, "The backup set holds a backup of a database other than the "
                                                   f"existing '{target.name}' database.", 16))
        if target is not None and not replace and target.state != "RESTORING" and target.has_unbacked_log:
            raise _fail(sink, verb, SqlError(
                3159, f'The tail of the log for the database "{target.name}" has not been backed up. Use BACKUP LOG '
                      "WITH NORECOVERY to backup the log if it contains work you do not want to lose. Use the "
                      "WITH REPLACE or WITH STOPAT clause of the RESTORE statement to just overwrite the "
                      "contents of the log.", 16))
        if target is not None and (st.sessions_held(target) > 0 or ctx.sessions_in(target.name) > 0):
            raise _fail(sink, verb, SqlError(3101, "Exclusive access could not be obtained because the database "
                                                   "is in use.", 16))
        files = _planned_files(sink, verb, ctx, bak, name, opts)
        needed = sum(f.size_bytes for f in files) - (sum(f.size_bytes for f in target.files) if target else 0)
        if st.fault_disk_full or needed > st.disk_free_bytes:
            free = min(st.disk_free_bytes, 1048576) if st.fault_disk_full else st.disk_free_bytes
            needed = sum(f.size_bytes for f in files) if st.fault_disk_full else needed
            raise _fail(sink, verb, SqlError(
                3257, f"There is insufficient free space on disk volume '{_volume(files[0].physical_name)}' to "
                      f"create the database. The database requires {max(needed, 1)} additional free bytes, "
                      f"while only {free} bytes are available.", 16),
                SqlError(3119, "Problems were identified while planning for the RESTORE statement. Previous "
                               "messages provide details.", 16))
        # From here on the old database is gone: it is RESTORING until the copy completes.
        placeholder = DatabaseState(name=target.name if target else name, state="RESTORING",
                                    recovery_model=bak.recovery_model, files=files, origin=bak.origin,
                                    create_date=target.create_date if target else ctx.clock.now())
        st.add_database(placeholder)
        st.disk_free_bytes -= max(needed, 0)
    started = ctx.clock.now()
    fails_at = st.take_restore_fault(placeholder.name)
    secs = bak.backup_size / max(st.throughput_bytes_per_sec, 1)
    if fails_at is not None:  # a lab timed fault: the device stops answering part way
        if _paced(ctx, sink, secs, opts.stats, until=fails_at):
            raise _fail(sink, verb, _read_failed(device))  # left RESTORING, as after a cancel
        return
    if not _paced(ctx, sink, secs, opts.stats):
        return  # cancelled: left RESTORING with nothing to recover (4333 on WITH RECOVERY)
    recovery = "NORECOVERY" not in opts.flags
    with st.lock:
        db = snapshot_to_database(bak, name=placeholder.name)
        db.files = files
        db.create_date = placeholder.create_date
        db.restored_to_lsn = bak.last_lsn
        db.state = "ONLINE" if recovery else "RESTORING"
        st.add_database(db)
        st.restore_history.append(RestoreHistory(db.name, ctx.clock.now(), "D", device, replace, recovery, ctx.user))
    data_pages = bak.pages
    for f in files:
        pages = data_pages if f.type == "D" else 2
        sink.info(4035, f"Processed {pages} pages for database '{db.name}', file '{f.logical_name}' on file 1.")
    secs = (ctx.clock.now() - started).total_seconds()
    secs = max(secs, bak.backup_size / max(st.throughput_bytes_per_sec, 1))
    sink.info(3014, f"RESTORE DATABASE successfully processed {_rate(data_pages + 2, secs)}")
    sink.done()


def _planned_files(sink: ResultSink, verb: str, ctx: ExecContext, bak: BakContents, name: str,
                   opts: Options) -> list[DbFile]:
    moves = {logical.casefold(): physical for logical, physical in opts.move_pairs()}
    known = {f.logical_name.casefold() for f in bak.files}
    for logical, _ in opts.move_pairs():
        if logical.casefold() not in known:
            raise _fail(sink, verb, SqlError(3234, f"Logical file '{logical}' is not part of database '{name}'. "
                                                   "Use RESTORE FILELISTONLY to list the logical file names.", 16))
    files = [DbFile(f.logical_name, moves.get(f.logical_name.casefold(), f.physical_name), f.type, f.size_bytes)
             for f in bak.files]
    problems: list[SqlError] = []
    for f in files:
        moved = f.logical_name.casefold() in moves
        user = next((other for other in ctx.state.databases.values() if other.name.casefold() != name.casefold()
                     and any(o.physical_name.casefold() == f.physical_name.casefold() for o in other.files)), None)
        if user is not None:
            problems.append(SqlError(1834, f"The file '{f.physical_name}' cannot be overwritten.  It is being used "
                                           f"by database '{user.name}'.", 16))
        elif not directory_exists(ctx, f.physical_name):
            # the path recorded in the backup (no MOVE) is looked up first; a MOVE target is
            # checked when the file would be created (RestoreContainer::ValidateTargetForCreation)
            problems.append(SqlError(3634, "The operating system returned the error '3(The system cannot find the "
                                           "path specified.)' while attempting 'RestoreContainer::ValidateTargetFor"
                                           f"Creation' on '{f.physical_name}'.", 16) if moved else
                            SqlError(5133, f'Directory lookup for the file "{f.physical_name}" failed with the '
                                           "operating system error 3(The system cannot find the path "
                                           "specified.).", 16))
        else:
            continue
        problems.append(SqlError(3156, f"File '{f.logical_name}' cannot be restored to '{f.physical_name}'. Use "
                                       "WITH MOVE to identify a valid location for the file.", 16, 3))
    if problems:
        raise _fail(sink, verb, *problems,
                    SqlError(3119, "Problems were identified while planning for the RESTORE statement. "
                                   "Previous messages provide details.", 16))
    return files


def directory_exists(ctx: ExecContext, physical_name: str) -> bool:
    """Whether the folder of ``physical_name`` exists on this SQL Server's disks: one SQL Server
    made for database files (:meth:`SqlInstanceState.folder_exists`), or one made on the host's
    disk in the lab (e.g. with New-Item)."""
    if ctx.state.folder_exists(physical_name):
        return True
    real = ctx.resolve_path(str(PureWindowsPath(physical_name).parent))
    return real is not None and real.is_dir()


def recover_only(ctx: ExecContext, sink: ResultSink, name: str, opts: Options) -> None:
    """``RESTORE DATABASE x WITH RECOVERY``: bring a RESTORING database online."""
    verb = "RESTORE DATABASE"
    st = ctx.state
    with st.lock:
        db = st.databases.get(name)
        if db is None:
            raise _fail(sink, verb, SqlError(3118, f'The database "{name}" does not exist. RESTORE can only create '
                                                   "a database when restoring either a full backup or a file "
                                                   "backup of the primary file.", 16))
        if "NORECOVERY" in opts.flags:
            sink.done()
            return
        if db.state == "RESTORING":
            if db.restored_to_lsn is None:
                raise _fail(sink, verb, SqlError(4333, "The database cannot be recovered because the log was not "
                                                       "restored.", 16))
            if st.sessions_held(db) > 0 or ctx.sessions_in(db.name) > 0:
                raise _fail(sink, verb, SqlError(3101, "Exclusive access could not be obtained because the "
                                                       "database is in use.", 16))
            db.state = "ONLINE"
            db.log_shipping_secondary = False
    sink.info(3014, f"RESTORE DATABASE successfully processed {_rate(0, 0.2)}")
    sink.done()


# -- RESTORE LOG -------------------------------------------------------------------------------


def restore_log(ctx: ExecContext, sink: ResultSink, name: str, device: str, opts: Options) -> None:
    verb = "RESTORE LOG"
    st = ctx.state
    try:
        bak = open_backup(ctx, device, verify=True)
    except BakError as err:
        raise _fail(sink, verb, _bak_error(err)) from None
    with st.lock:
        db = st.databases.get(name)
        if db is None:
            raise _fail(sink, verb, SqlError(3118, f'The database "{name}" does not exist. RESTORE can only create '
                                                   "a database when restoring either a full backup or a file "
                                                   "backup of the primary file.", 16))
        if bak.kind != "L":
            raise _fail(sink, verb, SqlError(3136, "This differential backup cannot be restored because the "
                                                   "database has not been restored to the correct earlier state.",
                                             16) if bak.kind == "I" else
                        SqlError(4229, "RESTORE LOG is not compatible with a full database backup in this media "
                                       "set.", 16))
        if db.state != "RESTORING" or db.restored_to_lsn is None:
            raise _fail(sink, verb, SqlError(3117, "The log or differential backup cannot be restored because no "
                                                   "files are ready to rollforward.", 16))
        if bak.origin.casefold() != db.origin_key:
            raise _fail(sink, verb, SqlError(3154, "The backup set holds a backup of a database other than the "
                                                   f"existing '{db.name}' database.", 16))
        redo = db.restored_to_lsn
        if bak.first_lsn > redo:
            raise _fail(sink, verb, SqlError(4305, f"The log in this backup set begins at LSN {bak.first_lsn}, "
                                                   "which is too recent to apply to the database. An earlier log "
                                                   f"backup that includes LSN {redo} can be restored.", 16))
        if bak.last_lsn <= redo:
            raise _fail(sink, verb, SqlError(4326, f"The log in this backup set terminates at LSN {bak.last_lsn}, "
                                                   "which is too early to apply to the database. A more recent log "
                                                   f"backup that includes LSN {redo} can be restored.", 16))
    if not _paced(ctx, sink, bak.backup_size / max(st.throughput_bytes_per_sec, 1), opts.stats):
        return
    recovery = "NORECOVERY" not in opts.flags
    with st.lock:
        db.content = dict(bak.content)
        db.users = dict(bak.users)
        db.role_members = {k: set(v) for k, v in bak.role_members.items()}
        db.last_lsn = db.log_backed_up_to_lsn = bak.last_lsn
        db.restored_to_lsn = bak.last_lsn
        if recovery:
            db.state = "ONLINE"
        st.restore_history.append(RestoreHistory(db.name, ctx.clock.now(), "L", device, False, recovery, ctx.user))
    data = next((f.logical_name for f in db.files if f.type == "D"), db.name)
    log = next((f.logical_name for f in db.files if f.type == "L"), f"{db.name}_log")
    sink.info(4035, f"Processed 0 pages for database '{db.name}', file '{data}' on file 1.")
    sink.info(4035, f"Processed {bak.pages} pages for database '{db.name}', file '{log}' on file 1.")
    sink.info(3014, f"RESTORE LOG successfully processed "
                    f"{_rate(bak.pages, bak.backup_size / max(st.throughput_bytes_per_sec, 1))}")
    sink.done()


# -- BACKUP ------------------------------------------------------------------------------------


def backup(ctx: ExecContext, sink: ResultSink, what: str, name: str, device: str, opts: Options) -> None:
    verb = f"BACKUP {what}"
    st = ctx.state
    with st.lock:
        db = st.databases.get(name)
        if db is None:
            raise _fail(sink, verb, SqlError(911, f"Database '{name}' does not exist. Make sure that the name is "
                                                  "entered correctly.", 16))
        if db.state == "RESTORING":
            raise _fail(sink, verb, SqlError(927, f"Database '{db.name}' cannot be opened. It is in the middle of "
                                                  "a restore.", 14))
        if db.state == "OFFLINE":
            raise _fail(sink, verb, SqlError(942, f"Database '{db.name}' cannot be opened because it is offline.",
                                             14))
        if db.state in ("SUSPECT", "RECOVERY_PENDING"):
            raise _fail(sink, verb, SqlError(926, f"Database '{db.name}' cannot be opened. It has been marked "
                                                  "SUSPECT by recovery. See the SQL Server errorlog for more "
                                                  "information.", 14))
        if what == "LOG" and db.recovery_model == "SIMPLE":
            raise _fail(sink, verb, SqlError(4208, "The statement BACKUP LOG is not allowed while the recovery "
                                                   "model is SIMPLE. Use BACKUP DATABASE or change the recovery "
                                                   "model using ALTER DATABASE.", 16))
    path = ctx.resolve_path(device)
    if path is None or not path.parent.is_dir():
        raise _fail(sink, verb, SqlError(3201, f"Cannot open backup device '{device}'. Operating system error 3"
                                               "(The system cannot find the path specified.).", 16, 1))
    start = ctx.clock.now()
    with st.lock:
        db.advance(1)
        if what == "DATABASE":
            first, last = db.last_lsn - 1, db.last_lsn
            size = db.data_bytes or PAGE_SIZE
        else:
            first, last = db.log_backed_up_to_lsn, db.last_lsn
            size = max((last - first) * PAGE_SIZE // 8, PAGE_SIZE)
        snapshot = db.snapshot()
    if not _paced(ctx, sink, size / max(st.throughput_bytes_per_sec, 1), opts.stats):
        return
    finish = ctx.clock.now()
    checksum = "CHECKSUM" in opts.flags
    set_name = opts.values.get("NAME")
    write_bak(path, database=snapshot, server=st.server, instance=st.instance, kind="D" if what == "DATABASE" else "L",
              start=start, finish=finish, first_lsn=first, last_lsn=last, checksum=checksum,
              backup_set_name=str(set_name) if set_name is not None else None,
              copy_only="COPY_ONLY" in opts.flags, backup_size=size)
    with st.lock:
        if what == "LOG" and "COPY_ONLY" not in opts.flags:
            db.log_backed_up_to_lsn = last
        if what == "LOG" and "NORECOVERY" in opts.flags:
            db.state = "RESTORING"
            db.restored_to_lsn = last
        st.backup_history.append(BackupHistory(
            database=db.name, type="D" if what == "DATABASE" else "L", backup_start=start, backup_finish=finish,
            device=device, first_lsn=first, last_lsn=last, checksum=checksum, server=st.server,
            backup_set_name=str(set_name) if set_name is not None else None, media_set_id=st.next_media_set_id(),
            backup_size=size, copy_only="COPY_ONLY" in opts.flags))
    pages = max(size // PAGE_SIZE, 1)
    data = next((f.logical_name for f in snapshot.files if f.type == "D"), db.name)
    log = next((f.logical_name for f in snapshot.files if f.type == "L"), f"{db.name}_log")
    if what == "DATABASE":
        sink.info(4035, f"Processed {pages} pages for database '{db.name}', file '{data}' on file 1.")
        sink.info(4035, f"Processed 2 pages for database '{db.name}', file '{log}' on file 1.")
        total = pages + 2
    else:
        sink.info(4035, f"Processed {pages} pages for database '{db.name}', file '{log}' on file 1.")
        total = pages
    secs = max((finish - start).total_seconds(), size / max(st.throughput_bytes_per_sec, 1))
    sink.info(3014, f"BACKUP {what} successfully processed {_rate(total, secs)}")
    sink.done()
