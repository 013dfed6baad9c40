"""The incident journal: append-only JSONL, one fsync per entry, a hash chain, replay.

One folder per incident holds ``journal.jsonl``. Each line is one entry::

    {"seq": 7, "time": "2026-11-25T03:12:09.123456Z", "operator": "alice",
     "incident": "INC-20261125-0312", "drill": true, "kind": "action_started",
     "payload": {...}, "prev": "<sha256 of the previous line>"}

``prev`` of the first entry is 64 zeros. A line is written with a single ``write`` to a file
opened with ``O_APPEND`` and then ``fsync``-ed, so after a crash the file holds every entry the
wizard acknowledged plus, at worst, one incomplete last line (a *torn tail*).

A torn tail is reported when the journal is opened, never silently dropped and never fatal:
reading stops at the last complete entry and says how many bytes follow it; opening for append
moves those bytes to ``journal.jsonl.torn-<offset>`` beside the journal, truncates, and journals
a ``torn_tail`` entry naming the sidecar, so the chain goes on intact.

Closing an incident *seals* its journal: a ``journal_sealed`` entry names the number of entries
before it and the hash of the last one, and ``journal.seal`` beside the journal records the
*final hash* (the link of the seal line itself). Nothing is appended after a seal. ``journal
verify`` says "sealed, intact", "open, intact (N entries)" or what is wrong, and prints the final
hash, which the report prints too, so it can be pasted into the change ticket: an anchor outside
the file (``journal verify --expect HASH``). Without the anchor a truncated or rewritten sealed
journal is still caught by the seal file beside it.

With a per-installation key (a key file outside every incident folder, see
:func:`installation_key`) each link is an HMAC-SHA256 of the previous line instead of its
SHA-256, so a journal rewritten and re-chained without the key no longer verifies; the opening
entry names the chain (``"chain": "hmac-sha256"`` and the key's id). Without a key the chain is
*unkeyed*, and the report says so.

Folders are created 0700 and files 0600. Secrets registered with the journal (or with
:data:`wizard.secrets.REGISTRY`) are replaced before anything is written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import hashlib
import hmac
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wizard.driver import DriverLock
from wizard.errors import ExitCode, InputFileError, JournalError
from wizard.secrets import REGISTRY, SecretRegistry

JOURNAL_FILE = "journal.jsonl"
SEAL_FILE = "journal.seal"
GENESIS = "0" * 64
KEY_FILE_ENV = "LYNC_RESTORE_JOURNAL_KEY_FILE"
CHAIN_SHA256 = "sha256"
CHAIN_HMAC = "hmac-sha256"
INCIDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


class Kind:
    """Entry kinds. Payload fields per kind are listed in ARCHITECTURE.md."""

    OPENED = "incident_opened"  # plan path + sha256, organisation, mode
    RESUMED = "incident_resumed"  # after a restart; names the last entry seen and steps in doubt
    STAGE = "stage_changed"  # from, to
    DECISION = "decision"  # question, choice, alternatives offered, reason, evidence
    ACTION_STARTED = "action_started"  # step id, host, command text (redacted), attempt
    ACTION_FINISHED = "action_finished"  # step id, status, exit code, duration, output digest
    OUTPUT = "output"  # step id, lines (batched digest of streamed output)
    NOTE = "note"  # free text from the operator
    WARNING = "warning"  # something the operator must know (e.g. plain-http WinRM)
    ERROR = "error"  # a failure shown to the operator (title, message)
    CHECK = "check_result"  # a §7 check as the operator saw it: check id, title, status, detail
    INTERRUPTED = "interrupted"  # Ctrl+C / quit mid-step, with what was running
    TORN_TAIL = "torn_tail"  # a torn last line was set aside on reopen
    PREFLIGHT = "preflight"  # status, findings (server, cmdlet, parameter), checked, unchecked (#18 item 2)
    HANDED_OVER = "handed_over"  # the driver let go for another to drive: by, to (#18 item 3)
    TOOK_OVER = "took_over"  # a new driver: from (the previous driver), why (handed over / gone)
    HINT = "hint"  # a drill's trainee asked for a hint: stage, step, text (costs points, #19 item 3)
    SCORE = "drill_score"  # a drill's score before it closes: total, of, components, deductions (#19 item 1)
    CLOSED = "incident_closed"  # outcome
    SEALED = "journal_sealed"  # entries before it, final_hash (of the entry before); always the last


@dataclass(frozen=True)
class Entry:
    seq: int
    time: str
    operator: str
    incident: str
    drill: bool
    kind: str
    payload: dict[str, Any]
    prev: str
    line_hash: str = field(default="", compare=False)

    @property
    def when(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.time.replace("Z", "+00:00"))


@dataclass(frozen=True)
class TornTail:
    offset: int  # byte offset where the incomplete line starts
    length: int  # bytes after the last complete entry
    after_seq: int  # sequence number of the last complete entry (0 = none)


@dataclass(frozen=True)
class ChainBreak:
    seq: int  # the first entry whose content no longer matches the chain (changed, or missing)
    line: int
    reason: str
    more: int = 0  # further breaks after this one

    def describe(self) -> str:
        rest = f"; {self.more} more break{'s' if self.more != 1 else ''} after it" if self.more else ""
        return f"entry {self.seq} (line {self.line}) {self.reason}{rest}"


@dataclass(frozen=True)
class JournalKey:
    """A per-installation secret that turns the hash chain into an HMAC chain."""

    secret: bytes
    path: Path

    @property
    def key_id(self) -> str:
        """Names the key (never reveals it): the first 16 hex digits of its SHA-256."""
        return hashlib.sha256(self.secret).hexdigest()[:16]


@dataclass(frozen=True)
class ReadResult:
    path: Path
    entries: list[Entry]
    torn: TornTail | None
    broken: ChainBreak | None
    chain: str = CHAIN_SHA256  # CHAIN_HMAC when the opening entry says the chain is keyed
    key_id: str | None = None
    links_checked: bool = True  # False: a keyed chain read without its key

    @property
    def intact(self) -> bool:
        return self.broken is None

    @property
    def last_hash(self) -> str:
        return self.entries[-1].line_hash if self.entries else GENESIS

    @property
    def sealed(self) -> bool:
        return bool(self.entries) and self.entries[-1].kind == Kind.SEALED


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hash(line: bytes, key: bytes | None = None) -> str:
    """The link from one line to the next: SHA-256, or HMAC-SHA256 under the installation key."""
    if key is not None:
        return hmac.new(key, line, hashlib.sha256).hexdigest()
    return hashlib.sha256(line).hexdigest()


def _serialise(entry: Mapping[str, Any]) -> bytes:
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode("utf-8")


_FIELDS = ("seq", "time", "operator", "incident", "drill", "kind", "payload", "prev")


def _journal_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    return p / JOURNAL_FILE if p.is_dir() else p


def _read_bytes(p: Path) -> bytes:
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"{p}: no such journal") from None
    except IsADirectoryError:
        raise InputFileError(f"{p}: is a directory") from None
    except OSError as exc:
        raise InputFileError(f"{p}: cannot be read ({exc.strerror})") from None


def _chain_of(first_line: bytes) -> tuple[str, str | None]:
    """The chain the opening entry declares (an unreadable first line: the plain chain)."""
    try:
        payload = json.loads(first_line).get("payload", {})
    except (ValueError, AttributeError):
        return CHAIN_SHA256, None
    if isinstance(payload, dict) and payload.get("chain") == CHAIN_HMAC:
        return CHAIN_HMAC, str(payload.get("key_id") or "")
    return CHAIN_SHA256, None


def read_journal(path: str | os.PathLike[str], *, key: JournalKey | None = None) -> ReadResult:
    """Read and verify a journal file (or an incident folder holding one).

    A keyed journal is verified with ``key`` (the installation's by default, when one exists);
    without the key its links cannot be checked (``links_checked`` is False). A wrong key is
    an error: every link would fail."""
    p = _journal_path(path)
    data = _read_bytes(p)
    chain, key_id = _chain_of(data.split(b"\n", 1)[0])
    secret: bytes | None = None
    if chain == CHAIN_HMAC:
        key = key if key is not None else installation_key()
        if key is not None and key.key_id != key_id:
            raise JournalError(f"{p} is chained with the key {key_id}, but the key here is {key.key_id} "
                               f"({key.path}); verify it where its key is")
        secret = key.secret if key is not None else None
    entries: list[Entry] = []
    lines: list[int] = []  # the line number of each entry
    torn: TornTail | None = None
    breaks: list[ChainBreak] = []
    check_links = chain == CHAIN_SHA256 or secret is not None
    bad_links: list[int] = []  # indices b whose recorded hash of entry b-1 does not match it
    offset = 0
    line_no = 0
    while offset < len(data):
        nl = data.find(b"\n", offset)
        if nl < 0:  # no newline: an incomplete write (a write of one line ends with its newline)
            torn = TornTail(offset, len(data) - offset, entries[-1].seq if entries else 0)
            break
        raw = data[offset:nl]
        line_no += 1
        expected_seq = entries[-1].seq + 1 if entries else 1
        try:
            obj = json.loads(raw)
            if not isinstance(obj, dict) or tuple(obj) != _FIELDS:
                raise ValueError("fields")
            entry = Entry(**obj, line_hash=_hash(raw, secret))
        except (ValueError, TypeError):
            breaks.append(ChainBreak(expected_seq, line_no, "is not a journal entry any more"))
            break
        if entry.seq != expected_seq:
            what = (f"is missing (the next line holds entry {entry.seq})" if entry.seq > expected_seq
                    else f"is followed by a second entry {entry.seq}")
            breaks.append(ChainBreak(expected_seq, line_no, what))
        elif check_links and entry.prev != (entries[-1].line_hash if entries else GENESIS):
            bad_links.append(len(entries))
        entries.append(entry)
        lines.append(line_no)
        offset = nl + 1
    breaks += _changed_entries(entries, lines, bad_links)
    breaks.sort(key=lambda b: b.line)
    broken = replace(breaks[0], more=len(breaks) - 1) if breaks else None
    return ReadResult(p, entries, torn, broken, chain, key_id, links_checked=check_links)


def _changed_entries(entries: list[Entry], lines: list[int], bad_links: list[int]) -> list[ChainBreak]:
    """Which entries were changed, from the links that no longer hold. Entry b records the hash of
    entry b-1: when that link fails, b-1 was changed, unless the link from b to b+1 fails too, in
    which case b itself (its recorded hash included) is the one that changed."""
    found: list[ChainBreak] = []
    bad = set(bad_links)
    i = 0
    ordered = sorted(bad)
    while i < len(ordered):
        b = ordered[i]
        if b + 1 in bad:
            changed, i = b, i + 2
        else:
            changed, i = max(b - 1, 0), i + 1
        found.append(ChainBreak(entries[changed].seq, lines[changed],
                                "was changed: its content no longer matches the hash the next entry recorded"
                                if changed < b or b == 0 else "was changed: neither of its links holds"))
    return found


class Journal:
    """An open journal for appending. Use :meth:`create` or :meth:`open`."""

    def __init__(self, path: Path, *, incident: str, operator: str, drill: bool,
                 last_seq: int, last_hash: str, secrets: SecretRegistry | None = None,
                 key: JournalKey | None = None) -> None:
        self.path = path
        self.incident = incident
        self.operator = operator
        self.drill = drill
        self.key = key
        self._seq = last_seq
        self._prev = last_hash
        self._sealed = False
        self._secrets = secrets if secrets is not None else REGISTRY
        # One writer at a time: worker threads append while the UI thread may close on quit or
        # when the terminal goes away; a write must never race a close (or a reused descriptor).
        self._lock = threading.Lock()
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        #: the incident's driver lock, held while this journal is open for appending (driver.py)
        self.driver: DriverLock | None = None

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def create(cls, journal_dir: str | os.PathLike[str], *, incident: str, operator: str, drill: bool,
               payload: Mapping[str, Any], secrets: SecretRegistry | None = None,
               key: JournalKey | None = None) -> Journal:
        """A new incident folder (0700) and journal (0600); chained with ``key`` when given."""
        if not INCIDENT_ID.match(incident):
            raise JournalError(f"'{incident}' is not a usable incident id (letters, digits, . _ - only)")
        folder = Path(journal_dir) / incident
        try:
            private_dirs(Path(journal_dir))
            folder.mkdir(mode=0o700)
        except FileExistsError:
            raise JournalError(f"an incident named {incident} already exists in {journal_dir}; "
                               "resume it or choose another id") from None
        except OSError as exc:
            raise JournalError(f"cannot create the journal folder {folder}: {exc.strerror}") from None
        lock = DriverLock.acquire(folder, operator)  # a fresh folder: nobody else can hold it
        journal = cls(folder / JOURNAL_FILE, incident=incident, operator=operator, drill=drill,
                      last_seq=0, last_hash=GENESIS, secrets=secrets, key=key)
        journal.driver = lock
        chain = {"chain": CHAIN_HMAC, "key_id": key.key_id} if key is not None else {"chain": CHAIN_SHA256}
        journal.append(Kind.OPENED, {**payload, **chain})
        return journal

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, operator: str | None = None,
             secrets: SecretRegistry | None = None, take_over: bool = False) -> tuple[Journal, ReadResult]:
        """Reopen for appending; a torn tail is set aside and journaled. Refuses a broken chain,
        a sealed journal and a keyed journal without its key, and raises
        :class:`~wizard.driver.DriverBusy` while another live wizard drives the incident, and
        :class:`~wizard.driver.TakeOverNeeded` when its last driver died holding it, unless
        ``take_over`` (the lock is taken before anything is read or written)."""
        key = installation_key()
        folder = Path(path) if Path(path).is_dir() else Path(path).parent
        lock = DriverLock.acquire(folder, operator or "operator", take_over=take_over)
        try:
            journal, result = cls._open_locked(path, lock, key, operator, secrets)
            lock.name(journal.operator)  # the operator the journal continues with
            return journal, result
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _open_locked(cls, path: str | os.PathLike[str], lock: DriverLock, key: JournalKey | None,
                     operator: str | None, secrets: SecretRegistry | None) -> tuple[Journal, ReadResult]:
        result = read_journal(path, key=key)
        if result.broken is not None:
            raise JournalError(f"{result.path}: the hash chain breaks: {result.broken.describe()}; not appending")
        if not result.entries:
            raise JournalError(f"{result.path}: holds no complete entry")
        if result.sealed:
            raise JournalError(f"{result.path}: the journal is sealed (the incident was closed); not appending")
        if not result.links_checked:
            raise JournalError(f"{result.path} is chained with the key {result.key_id}, which this installation "
                               "does not have; resume it where its key is")
        first = result.entries[0]
        journal = cls(result.path, incident=first.incident, operator=operator or result.entries[-1].operator,
                      drill=first.drill, last_seq=result.entries[-1].seq, last_hash=result.last_hash,
                      secrets=secrets, key=key if result.chain == CHAIN_HMAC else None)
        journal.driver = lock
        if result.torn is not None:
            journal._set_aside(result.torn)
        return journal, result

    def _set_aside(self, torn: TornTail) -> None:
        sidecar = self.path.with_name(f"{self.path.name}.torn-{torn.offset}")
        with self.path.open("rb") as fh:
            fh.seek(torn.offset)
            tail = fh.read()
        write_private(sidecar, tail)
        os.truncate(self.path, torn.offset)
        self.append(Kind.TORN_TAIL, {"offset": torn.offset, "bytes": torn.length,
                                     "after_seq": torn.after_seq, "kept_in": sidecar.name})

    def close(self) -> None:
        """Close the file and let go of the incident (another wizard may drive it now)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if self.driver is not None:
                self.driver.release()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing
    @property
    def last_seq(self) -> int:
        return self._seq

    def register_secret(self, secret: str) -> None:
        self._secrets.register(secret)

    def append(self, kind: str, payload: Mapping[str, Any] | None = None) -> Entry:
        """Write one entry durably (write + fsync) and return it. Thread-safe."""
        clean = self._secrets.redact_value(dict(payload or {}))
        assert isinstance(clean, dict)
        with self._lock:
            if self._fd is None:
                raise JournalError(f"{self.path}: the journal is closed")
            if self._sealed:
                raise JournalError(f"{self.path}: the journal is sealed; nothing follows a seal")
            record = {
                "seq": self._seq + 1,
                "time": now_utc(),
                "operator": self._secrets.redact(self.operator),
                "incident": self.incident,
                "drill": self.drill,
                "kind": kind,
                "payload": clean,
                "prev": self._prev,
            }
            line = _serialise(record)
            line = self._secrets.redact(line.decode("utf-8")).encode("utf-8")  # belt and braces
            try:
                written = os.write(self._fd, line + b"\n")
                if written != len(line) + 1:
                    raise OSError(errno.EIO, "short write")
                os.fsync(self._fd)
            except OSError as exc:
                reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
                raise JournalError(f"cannot write the journal {self.path}: {reason}; the entries "
                                   "before this one are safe") from None
            self._seq += 1
            self._prev = _hash(line, self.key.secret if self.key else None)
            return Entry(**record, line_hash=self._prev)  # type: ignore[arg-type]

    def seal(self) -> str:
        """Seal the journal (the incident is closed): a last entry naming what it seals, and the
        final hash in ``journal.seal`` beside it. Returns the final hash, the anchor to keep
        outside the file (the report prints it)."""
        before, final_before = self._seq, self._prev
        entry = self.append(Kind.SEALED, {"entries": before, "final_hash": final_before})
        with self._lock:
            self._sealed = True
        record = {"final_hash": entry.line_hash, "entries": entry.seq, "sealed_at": entry.time,
                  "chain": CHAIN_HMAC if self.key else CHAIN_SHA256}
        try:
            write_private(self.path.with_name(SEAL_FILE), (json.dumps(record, indent=1) + "\n").encode())
        except OSError as exc:
            raise JournalError(f"cannot write the seal file beside {self.path}: {exc.strerror}; the sealed "
                               f"journal is safe, its final hash is {entry.line_hash}") from None
        return entry.line_hash


# --------------------------------------------------------------------------- helpers


def private_dirs(folder: Path) -> None:
    """Create ``folder`` and any missing parents 0700 (incident folders hold commands, hosts and
    operators' names: nobody else's business)."""
    missing = [d for d in (folder, *folder.parents) if not d.exists()]
    for d in reversed(missing):
        d.mkdir(mode=0o700, exist_ok=True)
        d.chmod(0o700)  # mkdir's mode is masked by the umask


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only (0600, also when it existed before)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def default_key_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("lync-restore", appauthor=False)) / "journal.key"


def installation_key() -> JournalKey | None:
    """This installation's journal key: the file named by ``$LYNC_RESTORE_JOURNAL_KEY_FILE``, else
    ``journal.key`` in the user's configuration folder; None when there is none (an unkeyed
    chain). The file must be the owner's alone."""
    named = os.environ.get(KEY_FILE_ENV)
    path = Path(named) if named else default_key_path()
    try:
        st = path.stat()
    except FileNotFoundError:
        if named:
            raise JournalError(f"{KEY_FILE_ENV} names {path}, which does not exist") from None
        return None
    except OSError as exc:
        raise JournalError(f"the journal key {path} cannot be read ({exc.strerror})") from None
    if st.st_mode & 0o077:
        raise JournalError(f"the journal key {path} can be read by others; make it the owner's alone "
                           f"(chmod 600 {path})")
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        raise JournalError(f"the journal key {path} is not a hex key (make one with 'lync-restore journal key')") \
            from None
    if len(secret) < 16:
        raise JournalError(f"the journal key {path} is shorter than 128 bits")
    return JournalKey(secret, path)


def create_key(path: Path | None = None) -> JournalKey:
    """A new random 256-bit installation key, 0600; an existing key is never overwritten."""
    import secrets

    path = path or (Path(os.environ[KEY_FILE_ENV]) if os.environ.get(KEY_FILE_ENV) else default_key_path())
    if path.exists():
        raise JournalError(f"a journal key already exists at {path}; it is never overwritten (journals "
                           "chained with it could no longer be verified)")
    private_dirs(path.parent)
    secret = secrets.token_bytes(32)
    write_private(path, secret.hex().encode() + b"\n")
    return JournalKey(secret, path)


def default_journal_dir() -> Path:
    """Where incident folders live: the platform's per-user state directory."""
    import platformdirs

    return Path(platformdirs.user_state_dir("lync-restore", appauthor=False)) / "incidents"


def incidents(journal_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """Incident folders under ``journal_dir`` that hold a journal, newest first."""
    root = Path(journal_dir)
    if not root.is_dir():
        return
    found = [p for p in root.iterdir() if (p / JOURNAL_FILE).is_file()]
    yield from sorted(found, key=lambda p: (p / JOURNAL_FILE).stat().st_mtime, reverse=True)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    text: str  # "sealed, intact", "open, intact (N entries)" or what is wrong


def verdict(result: ReadResult, *, expect: str | None = None) -> Verdict:
    """What ``journal verify`` says of a journal read by :func:`read_journal`, its seal file
    beside it and, when given, the final hash kept outside (``expect``)."""
    if result.broken is not None:
        return Verdict(False, f"TAMPERED: {result.broken.describe()}")
    if not result.links_checked:
        return Verdict(False, f"keyed with the key {result.key_id}, which is not here: its links cannot be "
                              "checked (verify it where its key is)")
    found = _seal_problem(result)
    if found is not None:
        return Verdict(False, found)
    if expect is not None and expect.strip().lower() != result.last_hash:
        return Verdict(False, f"the final hash is {result.last_hash}, not the {expect.strip()} kept outside the "
                              "journal: it was changed or truncated after that hash was taken")
    if result.sealed:
        return Verdict(True, "sealed, intact")
    n = len(result.entries)
    return Verdict(True, f"open, intact ({n} entr{'y' if n == 1 else 'ies'})")


def _seal_problem(result: ReadResult) -> str | None:
    seal_path = result.path.with_name(SEAL_FILE)
    record: dict[str, Any] | None = None
    if seal_path.exists():
        try:
            loaded = json.loads(seal_path.read_bytes())
            record = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            return f"{seal_path.name} is not a seal any more"
    if not result.sealed:
        if record is not None:
            return (f"{seal_path.name} says the journal was sealed at entry {record.get('entries')}, but it now ends "
                    f"at entry {result.entries[-1].seq if result.entries else 0}: truncated or rewritten")
        if any(e.kind == Kind.CLOSED for e in result.entries):
            return "the incident was closed but the journal is not sealed: its seal was removed"
        return None
    seal = result.entries[-1]
    if result.torn is not None:
        return f"{result.torn.length} bytes follow the seal: something was appended after the incident closed"
    if seal.payload.get("entries") != seal.seq - 1 or seal.payload.get("final_hash") != seal.prev:
        return f"the seal (entry {seal.seq}) was changed: it no longer describes the entries it seals"
    if record is None:
        return f"the journal is sealed but {seal_path.name} is missing: its last entry cannot be checked"
    if record.get("final_hash") != seal.line_hash or record.get("entries") != seal.seq:
        return (f"the seal (entry {seal.seq}) was changed: its hash is {seal.line_hash}, "
                f"{seal_path.name} says {record.get('final_hash')}")
    return None


def verify_command(args: argparse.Namespace) -> int:
    """``lync-restore journal verify PATH [--expect HASH]``: exit 0 intact, 4 damaged or tampered."""
    try:
        result = read_journal(args.journal)
    except JournalError as exc:
        print(f"lync-restore: {exc}")
        return ExitCode.JOURNAL
    n = len(result.entries)
    print(f"{result.path}: {n} entr{'y' if n == 1 else 'ies'}")
    if result.entries:
        print(f"first: {result.entries[0].time}  (#{result.entries[0].seq}, {result.entries[0].kind})")
        print(f"last:  {result.entries[-1].time}  (#{result.entries[-1].seq}, {result.entries[-1].kind})")
    print(f"chain: {chain_words(result)}")
    if result.entries:
        print(f"final hash: {result.last_hash}")
    if result.torn is not None and not result.sealed:
        print(f"torn tail: {result.torn.length} bytes after entry {result.torn.after_seq} "
              "(an incomplete write, e.g. a crash); the next resume sets it aside")
    v = verdict(result, expect=getattr(args, "expect", None))
    print(v.text)
    return ExitCode.OK if v.ok else ExitCode.JOURNAL


def chain_words(result: ReadResult) -> str:
    """How the chain is protected, in words for the report and ``verify``."""
    if result.chain == CHAIN_HMAC:
        return f"keyed (HMAC-SHA256, key {result.key_id})"
    return ("unkeyed (SHA-256): a rewrite of the whole journal is caught only by the final hash kept "
            "outside it")


def key_command(args: argparse.Namespace) -> int:
    """``lync-restore journal key``: make this installation's journal key (never overwrites one)."""
    key = create_key()
    print(f"journal key {key.key_id} written to {key.path} (0600). Journals started from now on are "
          "chained with it; keep a copy where the journals are verified.")
    return ExitCode.OK
