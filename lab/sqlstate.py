"""What one simulated SQL Server instance of the lab holds, and the ``.bak`` file format.

The lab's Lync deployment (:mod:`lab.model`) owns one :class:`SqlInstanceState` per SQL
instance of the plan; the T-SQL engine (:mod:`lab.sqlengine`) reads and changes it when a
drill or a test talks to the instance over TDS. Keeping the state apart from the engine lets the
model break an instance (a database SUSPECT, a disk full, the instance down) without parsing SQL,
and lets scenarios write backup sets with :func:`write_bak` that the engine later restores.

The ``.bak`` format is the lab's own (not Microsoft Tape Format) but a real binary file, so that
a flipped byte or a truncated copy fails the way a damaged backup does::

    magic      8 bytes  b"LRBAK\\r\\n\\x1a"
    version    u16      1
    header_len u32
    header_crc u32      CRC-32 of the header bytes
    payload_len u64
    header     JSON (UTF-8): backup set metadata, file list, database content
    payload    deterministic filler standing for the data pages
    payload_crc u32     CRC-32 of the payload

``RESTORE HEADERONLY`` / ``FILELISTONLY`` only need the header; ``VERIFYONLY`` and ``RESTORE``
read (and check) the payload too. All integers are little-endian.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import struct
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import asdict, dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any, Literal

DbStateDesc = Literal["ONLINE", "RESTORING", "RECOVERY_PENDING", "SUSPECT", "OFFLINE"]
RecoveryModel = Literal["FULL", "SIMPLE"]
UserAccess = Literal["MULTI_USER", "SINGLE_USER"]
FileType = Literal["D", "L"]
BackupKind = Literal["D", "L", "I"]
MirroringRole = Literal["PRINCIPAL", "MIRROR"]

#: Page size of SQL Server: page counts in messages are ``bytes // PAGE_SIZE``.
PAGE_SIZE = 8192

# ---------------------------------------------------------------------------------------------
# Databases
# ---------------------------------------------------------------------------------------------


@dataclass
class DbFile:
    """One database file as ``sys.master_files`` lists it."""

    logical_name: str
    physical_name: str  # a Windows path, e.g. D:\CsData\BackendStore\rtc\DbPath\rtcxds.mdf
    type: FileType  # 'D' rows data, 'L' log
    size_bytes: int


@dataclass
class DatabaseState:
    """One database of an instance; mutated only under the instance's lock."""

    name: str
    state: DbStateDesc = "ONLINE"
    recovery_model: RecoveryModel = "SIMPLE"
    user_access: UserAccess = "MULTI_USER"
    files: list[DbFile] = field(default_factory=list)
    #: Opaque to SQL: whose data the database holds, e.g. {'set': '2026-11-24_0200', 'users': 1200}.
    content: dict[str, Any] = field(default_factory=dict)
    #: Open sessions from applications counted by hand (tests). The applications of the
    #: deployment (Lync services) are counted by :meth:`SqlInstanceState.sessions_held`. RESTORE
    #: over the database fails 3101 while any are open, unless ``ALTER DATABASE ... SET
    #: SINGLE_USER WITH ROLLBACK IMMEDIATE`` ended them first.
    connections: int = 0
    #: End of the transaction log. Activity (writes) moves it on.
    last_lsn: int = 1_000_000
    #: Where the last log backup ended; ``last_lsn > log_backed_up_to_lsn`` means unsaved log.
    log_backed_up_to_lsn: int = 1_000_000
    #: Redo point while RESTORING: the next log backup must cover this LSN (4305/4326 otherwise).
    restored_to_lsn: int | None = None
    mirroring_role: MirroringRole | None = None
    #: e.g. 'TCP://be2.fabrikam.com:5022' while mirrored (sys.database_mirroring).
    mirroring_partner: str | None = None
    log_shipping_secondary: bool = False
    #: Pages DBCC CHECKDB reports as damaged (a lab fault; 0 = healthy).
    damaged_pages: int = 0
    #: Which database the data descends from (SQL Server's family GUID): RESTORE without
    #: REPLACE fails 3154 when the backup's origin differs. Empty = the database's own name.
    origin: str = ""
    owner: str = "sa"
    database_id: int = 0
    create_date: dt.datetime = field(default_factory=lambda: dt.datetime(2013, 3, 1, 9, 0, 0))
    #: Database users: user name -> login name (``CREATE USER ... FOR LOGIN ...``).
    users: dict[str, str] = field(default_factory=dict)
    #: Database role -> member user names (``sp_addrolemember``).
    role_members: dict[str, set[str]] = field(default_factory=dict)

    @property
    def data_bytes(self) -> int:
        """Bytes of the data files: what a full backup copies."""
        return sum(f.size_bytes for f in self.files if f.type == "D")

    @property
    def log_bytes(self) -> int:
        return sum(f.size_bytes for f in self.files if f.type == "L")

    @property
    def origin_key(self) -> str:
        return (self.origin or self.name).casefold()

    @property
    def has_unbacked_log(self) -> bool:
        """True when a FULL-recovery database has log not yet in a log backup (the tail)."""
        return self.recovery_model == "FULL" and self.last_lsn > self.log_backed_up_to_lsn

    def snapshot(self) -> DatabaseState:
        """A deep copy, safe to keep after the lock is released (e.g. to write a .bak)."""
        return copy.deepcopy(self)

    def advance(self, lsn_count: int = 100) -> None:
        """Simulate activity: the log grows by ``lsn_count`` LSNs."""
        self.last_lsn += lsn_count


class DatabaseMap(MutableMapping[str, DatabaseState]):
    """Databases keyed by name, case-insensitively (SQL Server's default collation)."""

    def __init__(self) -> None:
        self._items: dict[str, DatabaseState] = {}

    def __getitem__(self, key: str) -> DatabaseState:
        return self._items[key.casefold()]

    def __setitem__(self, key: str, value: DatabaseState) -> None:
        self._items[key.casefold()] = value

    def __delitem__(self, key: str) -> None:
        del self._items[key.casefold()]

    def __iter__(self) -> Iterator[str]:
        return (db.name for db in list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.casefold() in self._items


@dataclass(frozen=True)
class BackupHistory:
    """One row of ``msdb.dbo.backupset`` joined with ``backupmediafamily``."""

    database: str
    type: BackupKind
    backup_start: dt.datetime
    backup_finish: dt.datetime
    device: str  # physical_device_name, as written in the BACKUP statement
    first_lsn: int
    last_lsn: int
    checksum: bool
    server: str
    backup_set_name: str | None
    media_set_id: int
    backup_size: int
    copy_only: bool = False


@dataclass(frozen=True)
class RestoreHistory:
    """One row of ``msdb.dbo.restorehistory``: a RESTORE that completed."""

    database: str
    restore_date: dt.datetime
    type: BackupKind
    device: str
    replace: bool
    recovery: bool
    user: str


@dataclass(frozen=True)
class StatementRecord:
    """One statement the engine executed (drill scoring and tests read the log)."""

    at: dt.datetime
    user: str
    database: str
    sql: str
    error: int | None  # SQL Server error number when the statement failed
    params: tuple[object, ...] = ()


# ---------------------------------------------------------------------------------------------
# The §9 catalogue
# ---------------------------------------------------------------------------------------------

#: Store role -> databases Lync creates for it (domain reference §9).
STORE_DATABASES: dict[str, tuple[str, ...]] = {
    "BackendStore": ("rtcxds", "rtcshared"),
    "ABSStore": ("rtcab",),
    "ApplicationStore": ("rgsconfig", "rgsdyn", "cpsdyn"),
    "CentralMgmtStore": ("xds", "lis"),
    "MonitoringStore": ("LcsCDR", "QoEMetrics"),
    "ArchivingStore": ("LcsLog",),
    "PersistentChatStore": ("mgc",),
    "PersistentChatComplianceStore": ("mgccomp",),
}

_MB = 1024 * 1024

#: Simulated data-file sizes (lab choice, plausible for a few thousand users).
_DEFAULT_DATA_BYTES: dict[str, int] = {
    "rtcxds": 512 * _MB,
    "rtcshared": 64 * _MB,
    "rtcab": 256 * _MB,
    "rgsconfig": 32 * _MB,
    "rgsdyn": 32 * _MB,
    "cpsdyn": 16 * _MB,
    "xds": 128 * _MB,
    "lis": 32 * _MB,
    "LcsCDR": 2048 * _MB,
    "QoEMetrics": 1536 * _MB,
    "LcsLog": 3072 * _MB,
    "mgc": 1024 * _MB,
    "mgccomp": 128 * _MB,
}

#: Databases whose data must be kept (restore class "Must restore" or SQL backup in §9), lab
#: choice of recovery model: these run FULL, the transient ones SIMPLE.
_FULL_RECOVERY = frozenset(n.casefold() for n in ("rtcxds", "xds", "lis", "rgsconfig", "LcsCDR", "QoEMetrics",
                                                  "LcsLog", "mgc"))

SYSTEM_DATABASES: tuple[str, ...] = ("master", "tempdb", "model", "msdb")

#: The domain group every Lync database grants ServerRole to (§6.10).
LYNC_SERVICES_GROUP = "RTCComponentUniversalServices"
#: SQL Server's fixed server roles (IS_SRVROLEMEMBER's valid roles besides user-defined ones)
FIXED_SERVER_ROLES = ("sysadmin", "serveradmin", "dbcreator", "setupadmin", "bulkadmin",
                      "securityadmin", "diskadmin", "public", "processadmin")


def folder_of(path: str) -> str:
    """The folder of a Windows file path, case-folded, without a trailing backslash."""
    return str(PureWindowsPath(path).parent).rstrip("\\").casefold()


def store_of(database: str) -> str | None:
    """The §9 store role a Lync database belongs to, or None (system or unknown database)."""
    for store, names in STORE_DATABASES.items():
        if database.casefold() in (n.casefold() for n in names):
            return store
    return None


def lync_files(data_dir: str, store: str, instance: str | None, database: str,
               data_bytes: int | None = None) -> list[DbFile]:
    r"""The files Lync's installer creates: ``<data_dir>\<store>\<instance>\DbPath\<db>.mdf``."""
    folder = f"{data_dir.rstrip(chr(92))}\\{store}\\{instance or '(default)'}"
    size = data_bytes if data_bytes is not None else _DEFAULT_DATA_BYTES.get(database, 64 * _MB)
    return [
        DbFile(database, f"{folder}\\DbPath\\{database}.mdf", "D", size),
        DbFile(f"{database}_log", f"{folder}\\LogPath\\{database}.ldf", "L", max(size // 4, 8 * _MB)),
    ]


# ---------------------------------------------------------------------------------------------
# The instance
# ---------------------------------------------------------------------------------------------


@dataclass
class SqlInstanceState:
    """One SQL Server instance: its databases, msdb history, logins and lab faults.

    Every mutation happens under ``lock`` (WinRM and TDS threads both touch the state).
    """

    server: str  # FQDN of the host
    instance: str | None = None  # None = default instance (MSSQLSERVER)
    up: bool = True
    version: Literal["2012", "2008R2"] = "2012"
    data_dir: str = "D:\\CsData"
    #: SQL Server's "Database default locations" for new data and log files (a folder with its
    #: trailing backslash); None: the folder of master's files, where setup leaves them
    default_data_path: str | None = None
    default_log_path: str | None = None
    disk_free_bytes: int = 200 * 1024 * _MB
    #: SQL authentication logins: user -> password.
    logins: dict[str, str] = field(default_factory=dict)
    #: Windows logins (``DOMAIN\name``) known to the instance; CREATE USER FOR LOGIN needs one.
    windows_logins: set[str] = field(default_factory=set)
    #: Logins in the fixed server role sysadmin (SQL or Windows logins, compared case-insensitively;
    #: ``sa`` is always one, as in SQL Server). The lab's deployment puts its SQL login and its
    #: Windows admin account here.
    sysadmins: set[str] = field(default_factory=set)
    databases: DatabaseMap = field(default_factory=DatabaseMap)
    backup_history: list[BackupHistory] = field(default_factory=list)
    restore_history: list[RestoreHistory] = field(default_factory=list)
    statement_log: list[StatementRecord] = field(default_factory=list)
    #: Simulated restore/backup throughput in bytes per simulated second.
    throughput_bytes_per_sec: int = 150 * _MB
    #: Lab fault: a restore fails with "insufficient free space" (3257) even if sizes fit.
    fault_disk_full: bool = False
    #: Lab timed faults: (database name or None for any, percent): the next RESTORE DATABASE of that
    #: database fails when it has processed that percent, reading the backup device (3203); each
    #: is taken when it strikes (once)
    restore_faults: list[tuple[str | None, int]] = field(default_factory=list)
    #: Folders that held database files of this instance (case-folded, no trailing backslash);
    #: a rebuilt server (a clean disk) has none of them.
    kept_folders: set[str] = field(default_factory=set, repr=False)
    #: The applications outside SQL Server that keep sessions open in this instance's databases
    #: while they run (the Lync services of the pools whose stores live here): database name ->
    #: sessions they hold. The lab's deployment installs it (None: no application).
    app_sessions: Callable[[str], int] | None = field(default=None, repr=False, compare=False)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    _next_db_id: int = 5
    _next_media_set_id: int = 1

    def __getstate__(self) -> dict[str, Any]:
        """Saved without its lock and its applications' hook (the deployment re-wires them)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("lock", "app_sessions")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("sysadmins", set())  # saved before instances knew their sysadmins
        self.lock = threading.RLock()
        self.app_sessions = None

    def server_role_member(self, role: str | None, login: str | None) -> int | None:
        """``IS_SRVROLEMEMBER(role, login)``: 1 a member, 0 not, None for a role or login the
        instance does not know (Microsoft's documentation: a login must be a server principal,
        a Windows login one granted or denied access directly). Membership, not permission: a
        sysadmin is not thereby a member of dbcreator; every login is in ``public``."""
        if role is None or login is None:
            return None
        role_key = str(role).casefold()
        if role_key not in FIXED_SERVER_ROLES:
            return None  # the lab's instances have no user-defined server roles
        key = str(login).casefold()
        principals = {n.casefold() for n in (*self.logins, *self.windows_logins, *self.sysadmins)}
        if key not in principals:
            return None
        if role_key == "public":
            return 1
        if role_key == "sysadmin":
            return int(key == "sa" or key in {n.casefold() for n in self.sysadmins})
        return 0

    @property
    def name(self) -> str:
        """``SERVER\\INSTANCE`` (short host name) as ``@@SERVERNAME`` reports it."""
        host = self.server.split(".", maxsplit=1)[0].upper()
        return f"{host}\\{self.instance.upper()}" if self.instance else host

    @property
    def data_source(self) -> str:
        """``fqdn\\instance`` as plans and cmdlets write it (-DBInstance, -SqlServerFqdn)."""
        return f"{self.server}\\{self.instance}" if self.instance else self.server

    @classmethod
    def for_lync(cls, server: str, instance: str | None, stores: Iterable[str], *,
                 domain: str = "FABRIKAM", content: dict[str, Any] | None = None,
                 data_dir: str = "D:\\CsData") -> SqlInstanceState:
        """An instance as Topology Builder leaves it: the system databases plus, per store role
        in ``stores`` (keys of :data:`STORE_DATABASES`), the §9 databases with their files and
        ServerRole granted to ``<domain>\\RTCComponentUniversalServices``.

        ``content`` is copied into each database's ``content`` (plus ``{'database': name}``).
        Unknown store names raise ValueError.
        """
        state = cls(server=server, instance=instance, data_dir=data_dir)
        group = f"{domain}\\{LYNC_SERVICES_GROUP}"
        state.windows_logins.update({
            group, f"{domain}\\RTCUniversalServerAdmins", f"{domain}\\RTCUniversalReadOnlyAdmins",
            "NT AUTHORITY\\SYSTEM", "BUILTIN\\Administrators",
        })
        for name in SYSTEM_DATABASES:
            db = DatabaseState(name=name, recovery_model="FULL" if name == "model" else "SIMPLE",
                               files=[
                                   DbFile("master" if name == "master" else ("tempdev" if name == "tempdb"
                                          else ("modeldev" if name == "model" else "MSDBData")),
                                          f"C:\\Program Files\\Microsoft SQL Server\\DATA\\{name}.mdf",
                                          "D", 8 * _MB),
                                   DbFile("mastlog" if name == "master" else ("templog" if name == "tempdb"
                                          else ("modellog" if name == "model" else "MSDBLog")),
                                          f"C:\\Program Files\\Microsoft SQL Server\\DATA\\{name}_log.ldf",
                                          "L", 2 * _MB),
                               ])
            db.content = {"database": name, "system": True}
            state.add_database(db, database_id=SYSTEM_DATABASES.index(name) + 1)
        for store in stores:
            if store not in STORE_DATABASES:
                raise ValueError(f"unknown store role {store!r}")
            for name in STORE_DATABASES[store]:
                if name in state.databases:
                    continue
                db = DatabaseState(
                    name=name,
                    recovery_model="FULL" if name.casefold() in _FULL_RECOVERY else "SIMPLE",
                    files=lync_files(data_dir, store, instance, name),
                    content={**(content or {}), "database": name},
                    users={group: group},
                    role_members={"ServerRole": {group}},
                )
                state.add_database(db)
        return state

    # -- databases ---------------------------------------------------------------------------

    def add_database(self, db: DatabaseState, *, database_id: int | None = None) -> DatabaseState:
        """Register ``db`` (replacing one of the same name), giving it a database_id."""
        with self.lock:
            old = self.databases.get(db.name)
            if database_id is not None:
                db.database_id = database_id
            elif old is not None:
                db.database_id = old.database_id
            else:
                db.database_id = self._next_db_id
                self._next_db_id += 1
            if old is not None:
                self._keep_folders(old)
            self.databases[db.name] = db
            return db

    def _keep_folders(self, db: DatabaseState) -> None:
        self.kept_folders.update(folder_of(f.physical_name) for f in db.files)

    def folder_exists(self, path: str) -> bool:
        """Whether SQL Server made or uses the folder of ``path``: one that holds a file of a
        database of the instance, or held one (DROP DATABASE deletes the files, not the folder)."""
        folder = folder_of(path)
        with self.lock:
            return folder in self.kept_folders or any(
                folder_of(f.physical_name) == folder for db in self.databases.values() for f in db.files)

    def database(self, name: str) -> DatabaseState | None:
        with self.lock:
            return self.databases.get(name)

    def sessions_held(self, db: DatabaseState) -> int:
        """Application sessions open in ``db`` now: those counted by hand, or those the running
        applications hold. An application reconnects on its own whenever the database lets it in
        (ONLINE and MULTI_USER); a database that is RESTORING, OFFLINE or SUSPECT cannot be a
        session's database, and SINGLE_USER keeps them out once ROLLBACK IMMEDIATE ended them."""
        held = 0
        if self.app_sessions is not None and db.state == "ONLINE" and db.user_access == "MULTI_USER":
            held = self.app_sessions(db.name)
        return max(db.connections, held)

    def take_restore_fault(self, database: str) -> int | None:
        """The percent at which this RESTORE DATABASE of ``database`` fails (a lab timed fault,
        taken: it strikes once), or None."""
        with self.lock:
            for fault in self.restore_faults:
                if fault[0] is None or fault[0].casefold() == database.casefold():
                    self.restore_faults.remove(fault)
                    return fault[1]
        return None

    def drop_database(self, name: str) -> None:
        with self.lock:
            db = self.databases.pop(name, None)
            if db is not None:
                self._keep_folders(db)

    def next_media_set_id(self) -> int:
        with self.lock:
            value = self._next_media_set_id
            self._next_media_set_id += 1
            return value

    def record(self, user: str, database: str, sql: str, error: int | None, at: dt.datetime | None = None,
               params: tuple[object, ...] = ()) -> None:
        """Append to the statement log."""
        with self.lock:
            self.statement_log.append(StatementRecord(at or dt.datetime.now(), user, database, sql, error, params))

    def statements(self) -> list[str]:
        """The SQL text of every executed statement, oldest first."""
        with self.lock:
            return [r.sql for r in self.statement_log]


# ---------------------------------------------------------------------------------------------
# The .bak format
# ---------------------------------------------------------------------------------------------

BAK_MAGIC = b"LRBAK\r\n\x1a"
BAK_VERSION = 1
_PREFIX = struct.Struct("<8sHIIQ")  # magic, version, header_len, header_crc, payload_len
#: Filler bytes per simulated MB of data, so a .bak has some bulk without being huge.
_FILLER_PER_MB = 64
_FILLER_MAX = 1024 * 1024


class BakError(Exception):
    """A backup file cannot be read; ``number``/``message`` are SQL Server's (3201, 3203, 3241)."""

    def __init__(self, number: int, message: str) -> None:
        super().__init__(f"Msg {number}: {message}")
        self.number = number
        self.message = message


@dataclass(frozen=True)
class BakFile:
    """One entry of RESTORE FILELISTONLY."""

    logical_name: str
    physical_name: str
    type: FileType
    size_bytes: int
    file_id: int


@dataclass(frozen=True)
class BakContents:
    """What :func:`read_bak` found: the backup set header, its files and the database content."""

    database: str
    server: str  # @@SERVERNAME of the instance that took the backup
    kind: BackupKind
    start: dt.datetime
    finish: dt.datetime
    first_lsn: int
    last_lsn: int
    checksum: bool
    backup_set_name: str | None
    recovery_model: RecoveryModel
    backup_size: int  # simulated bytes (data pages for a full backup, log for a log backup)
    files: tuple[BakFile, ...]
    content: dict[str, Any]
    users: dict[str, str]
    role_members: dict[str, list[str]]
    copy_only: bool = False
    origin: str = ""
    database_version: int = 706  # SQL Server 2012
    software_version_major: int = 11
    collation: str = "Latin1_General_CI_AS"

    @property
    def pages(self) -> int:
        return max(self.backup_size // PAGE_SIZE, 1)


def _payload(backup_size: int, seed: str) -> bytes:
    length = min(max(backup_size // _MB, 1) * _FILLER_PER_MB, _FILLER_MAX)
    unit = zlib.crc32(seed.encode()).to_bytes(4, "little") + b"LYNCPAGE"
    return (unit * (length // len(unit) + 1))[:length]


def write_bak(path: Path, *, database: DatabaseState, server: str, instance: str | None = None,
              kind: BackupKind = "D", start: dt.datetime, finish: dt.datetime,
              first_lsn: int, last_lsn: int, checksum: bool = True,
              backup_set_name: str | None = None, copy_only: bool = False,
              backup_size: int | None = None) -> None:
    """Write a backup of ``database`` (a snapshot) to ``path`` (parent folders are created).

    ``server`` is the host name; with ``instance`` the header's ServerName is ``HOST\\INSTANCE``.
    ``backup_size`` defaults to the data files (full) or a log-sized slice (log backups).
    """
    host = server.split(".", maxsplit=1)[0].upper()
    server_name = f"{host}\\{instance.upper()}" if instance else host
    if backup_size is None:
        if kind == "L":
            backup_size = max((last_lsn - first_lsn) * PAGE_SIZE // 8, PAGE_SIZE)
        else:
            backup_size = database.data_bytes or PAGE_SIZE
    header = {
        "database": database.name,
        "origin": database.origin or database.name,
        "server": server_name,
        "kind": kind,
        "start": start.isoformat(),
        "finish": finish.isoformat(),
        "first_lsn": first_lsn,
        "last_lsn": last_lsn,
        "checksum": checksum,
        "backup_set_name": backup_set_name,
        "recovery_model": database.recovery_model,
        "backup_size": backup_size,
        "copy_only": copy_only,
        "files": [asdict(f) for f in database.files],
        "content": database.content,
        "users": database.users,
        "role_members": {k: sorted(v) for k, v in database.role_members.items()},
    }
    header_bytes = json.dumps(header, sort_keys=True, default=str).encode("utf-8")
    payload = _payload(backup_size, f"{database.name}:{last_lsn}")
    blob = (
        _PREFIX.pack(BAK_MAGIC, BAK_VERSION, len(header_bytes), zlib.crc32(header_bytes), len(payload))
        + header_bytes + payload + struct.pack("<I", zlib.crc32(payload))
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(blob)
    tmp.replace(path)


def _malformed(device: str) -> BakError:
    return BakError(3241, f"The media family on device '{device}' is incorrectly formed. "
                          "SQL Server cannot process this media family.")


def read_bak(path: Path, *, device: str | None = None, verify: bool = True) -> BakContents:
    """Read a backup file. ``device`` is the name to put in messages (the Windows path the
    statement used; defaults to ``path``). With ``verify`` the payload CRC is checked too.

    Raises :class:`BakError`: 3201 missing/unreadable, 3203 truncated, 3241 damaged or not a backup.
    """
    name = device or str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise BakError(3201, f"Cannot open backup device '{name}'. Operating system error 2"
                             "(The system cannot find the file specified.).") from exc
    except IsADirectoryError as exc:
        raise BakError(3201, f"Cannot open backup device '{name}'. Operating system error 5"
                             "(Access is denied.).") from exc
    except OSError as exc:
        raise BakError(3201, f"Cannot open backup device '{name}'. Operating system error 5"
                             "(Access is denied.).") from exc
    if len(data) < _PREFIX.size:
        if BAK_MAGIC.startswith(data[:8]) and data:
            raise _truncated(name)
        raise _malformed(name)
    magic, version, header_len, header_crc, payload_len = _PREFIX.unpack_from(data)
    if magic != BAK_MAGIC or version != BAK_VERSION:
        raise _malformed(name)
    header_end = _PREFIX.size + header_len
    if len(data) < header_end:
        raise _truncated(name)
    header_bytes = data[_PREFIX.size:header_end]
    if zlib.crc32(header_bytes) != header_crc:
        raise _malformed(name)
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _malformed(name) from exc
    total = header_end + payload_len + 4
    if verify:
        if len(data) < total:
            raise _truncated(name)
        payload = data[header_end:header_end + payload_len]
        (payload_crc,) = struct.unpack_from("<I", data, header_end + payload_len)
        if zlib.crc32(payload) != payload_crc:
            raise _malformed(name)
    try:
        files = tuple(
            BakFile(f["logical_name"], f["physical_name"], f["type"], int(f["size_bytes"]), i + 1)
            for i, f in enumerate(header["files"])
        )
        return BakContents(
            database=header["database"], server=header["server"], kind=header["kind"],
            start=dt.datetime.fromisoformat(header["start"]), finish=dt.datetime.fromisoformat(header["finish"]),
            first_lsn=int(header["first_lsn"]), last_lsn=int(header["last_lsn"]),
            checksum=bool(header["checksum"]), backup_set_name=header["backup_set_name"],
            recovery_model=header["recovery_model"], backup_size=int(header["backup_size"]),
            files=files, content=dict(header["content"]), users=dict(header["users"]),
            role_members={k: list(v) for k, v in header["role_members"].items()},
            copy_only=bool(header.get("copy_only", False)),
            origin=str(header.get("origin") or header["database"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _malformed(name) from exc


def _truncated(device: str) -> BakError:
    return BakError(3203, f'Read on "{device}" failed: 38(Reached the end of the file.)')


def corrupt_bak(path: Path, *, header: bool = False) -> None:
    """Damage a backup in place: flip bytes in the payload (HEADERONLY still works, VERIFYONLY
    and RESTORE fail 3241) or, with ``header``, in the header (everything fails 3241)."""
    data = bytearray(path.read_bytes())
    _magic, _v, header_len, _hc, payload_len = _PREFIX.unpack_from(data)
    if header:
        start, length = _PREFIX.size, header_len
    else:
        start, length = _PREFIX.size + header_len, payload_len
    for offset in (length // 3, length // 2, (2 * length) // 3):
        data[start + offset] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate_bak(path: Path, *, keep_fraction: float = 0.5) -> None:
    """Cut a backup short (an interrupted copy): VERIFYONLY and RESTORE fail 3203."""
    data = path.read_bytes()
    path.write_bytes(data[: max(int(len(data) * keep_fraction), 1)])


def snapshot_to_database(bak: BakContents, *, name: str | None = None) -> DatabaseState:
    """A :class:`DatabaseState` holding the backup's data (used by RESTORE; files as in the
    backup unless the caller moves them)."""
    return DatabaseState(
        name=name or bak.database,
        recovery_model=bak.recovery_model,
        files=[DbFile(f.logical_name, f.physical_name, f.type, f.size_bytes) for f in bak.files],
        content=copy.deepcopy(bak.content),
        last_lsn=bak.last_lsn,
        log_backed_up_to_lsn=bak.last_lsn,
        users=dict(bak.users),
        role_members={k: set(v) for k, v in bak.role_members.items()},
        origin=bak.origin,
    )
