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

Secrets registered with the journal (or with :data:`wizard.secrets.REGISTRY`) are replaced
before anything is written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wizard.errors import ExitCode, InputFileError, JournalError
from wizard.secrets import REGISTRY, SecretRegistry

JOURNAL_FILE = "journal.jsonl"
GENESIS = "0" * 64
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
    INTERRUPTED = "interrupted"  # Ctrl+C / quit mid-step, with what was running
    TORN_TAIL = "torn_tail"  # a torn last line was set aside on reopen
    CLOSED = "incident_closed"  # outcome


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
    seq: int  # first sequence number whose entry does not follow from its predecessor
    line: int
    reason: str


@dataclass(frozen=True)
class ReadResult:
    path: Path
    entries: list[Entry]
    torn: TornTail | None
    broken: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.broken is None

    @property
    def last_hash(self) -> str:
        return self.entries[-1].line_hash if self.entries else GENESIS


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def _serialise(entry: Mapping[str, Any]) -> bytes:
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode("utf-8")


_FIELDS = ("seq", "time", "operator", "incident", "drill", "kind", "payload", "prev")


def read_journal(path: str | os.PathLike[str]) -> ReadResult:
    """Read and verify a journal file (or an incident folder holding one)."""
    p = Path(path)
    if p.is_dir():
        p = p / JOURNAL_FILE
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"{p}: no such journal") from None
    except IsADirectoryError:
        raise InputFileError(f"{p}: is a directory") from None
    except OSError as exc:
        raise InputFileError(f"{p}: cannot be read ({exc.strerror})") from None
    entries: list[Entry] = []
    torn: TornTail | None = None
    broken: ChainBreak | None = None
    prev_hash = GENESIS
    offset = 0
    line_no = 0
    while offset < len(data):
        nl = data.find(b"\n", offset)
        if nl < 0:  # no newline: an incomplete write
            torn = TornTail(offset, len(data) - offset, entries[-1].seq if entries else 0)
            break
        raw = data[offset:nl]
        line_no += 1
        try:
            obj = json.loads(raw)
            if not isinstance(obj, dict) or tuple(obj) != _FIELDS:
                raise ValueError("fields")
            entry = Entry(**obj, line_hash=_hash(raw))
        except (ValueError, TypeError):
            if nl + 1 == len(data):  # last line, complete newline but garbage: torn too
                torn = TornTail(offset, len(data) - offset, entries[-1].seq if entries else 0)
            elif broken is None:
                expected = entries[-1].seq + 1 if entries else 1
                broken = ChainBreak(expected, line_no, "the line is not a journal entry")
            break
        expected_seq = entries[-1].seq + 1 if entries else 1
        if broken is None:
            if entry.seq != expected_seq:
                broken = ChainBreak(entry.seq, line_no, f"sequence {entry.seq} follows {expected_seq - 1}")
            elif entry.prev != prev_hash:
                broken = ChainBreak(entry.seq, line_no, "its hash of the previous entry does not match")
        entries.append(entry)
        prev_hash = entry.line_hash
        offset = nl + 1
    return ReadResult(p, entries, torn, broken)


class Journal:
    """An open journal for appending. Use :meth:`create` or :meth:`open`."""

    def __init__(self, path: Path, *, incident: str, operator: str, drill: bool,
                 last_seq: int, last_hash: str, secrets: SecretRegistry | None = None) -> None:
        self.path = path
        self.incident = incident
        self.operator = operator
        self.drill = drill
        self._seq = last_seq
        self._prev = last_hash
        self._secrets = secrets if secrets is not None else REGISTRY
        # One writer at a time: worker threads append while the UI thread may close on quit or
        # when the terminal goes away; a write must never race a close (or a reused descriptor).
        self._lock = threading.Lock()
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def create(cls, journal_dir: str | os.PathLike[str], *, incident: str, operator: str, drill: bool,
               payload: Mapping[str, Any], secrets: SecretRegistry | None = None) -> Journal:
        if not INCIDENT_ID.match(incident):
            raise JournalError(f"'{incident}' is not a usable incident id (letters, digits, . _ - only)")
        folder = Path(journal_dir) / incident
        try:
            folder.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            raise JournalError(f"an incident named {incident} already exists in {journal_dir}; "
                               "resume it or choose another id") from None
        except OSError as exc:
            raise JournalError(f"cannot create the journal folder {folder}: {exc.strerror}") from None
        journal = cls(folder / JOURNAL_FILE, incident=incident, operator=operator, drill=drill,
                      last_seq=0, last_hash=GENESIS, secrets=secrets)
        journal.append(Kind.OPENED, dict(payload))
        return journal

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, operator: str | None = None,
             secrets: SecretRegistry | None = None) -> tuple[Journal, ReadResult]:
        """Reopen for appending; a torn tail is set aside and journaled. Refuses a broken chain."""
        result = read_journal(path)
        if result.broken is not None:
            raise JournalError(f"{result.path}: the hash chain breaks at entry {result.broken.seq} "
                               f"(line {result.broken.line}: {result.broken.reason}); not appending")
        if not result.entries:
            raise JournalError(f"{result.path}: holds no complete entry")
        first = result.entries[0]
        journal = cls(result.path, incident=first.incident, operator=operator or result.entries[-1].operator,
                      drill=first.drill, last_seq=result.entries[-1].seq, last_hash=result.last_hash,
                      secrets=secrets)
        if result.torn is not None:
            journal._set_aside(result.torn)
        return journal, result

    def _set_aside(self, torn: TornTail) -> None:
        sidecar = self.path.with_name(f"{self.path.name}.torn-{torn.offset}")
        with self.path.open("rb") as fh:
            fh.seek(torn.offset)
            tail = fh.read()
        sidecar.write_bytes(tail)
        os.truncate(self.path, torn.offset)
        self.append(Kind.TORN_TAIL, {"offset": torn.offset, "bytes": torn.length,
                                     "after_seq": torn.after_seq, "kept_in": sidecar.name})

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

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
            self._prev = _hash(line)
            return Entry(**record, line_hash=self._prev)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- helpers


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


def verify_command(args: argparse.Namespace) -> int:
    result = read_journal(args.journal)
    n = len(result.entries)
    print(f"{result.path}: {n} entr{'y' if n == 1 else 'ies'}")
    if result.entries:
        print(f"first: {result.entries[0].time}  (#{result.entries[0].seq}, {result.entries[0].kind})")
        print(f"last:  {result.entries[-1].time}  (#{result.entries[-1].seq}, {result.entries[-1].kind})")
    if result.torn is not None:
        print(f"torn tail: {result.torn.length} bytes after entry {result.torn.after_seq} "
              "(an incomplete write, e.g. a crash); the next resume sets it aside")
    if result.broken is not None:
        print(f"chain broken at entry {result.broken.seq} (line {result.broken.line}: {result.broken.reason})")
        return ExitCode.JOURNAL
    print("chain intact")
    return ExitCode.OK
