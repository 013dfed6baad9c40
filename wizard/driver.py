"""One driver per incident: the lock a wizard holds while it may run steps (#18 item 3).

Two wizards on one incident (another SSH session, a colleague) would undo each other and break
the journal's chain, so the process that appends to an incident's journal holds ``driver.lock``
in the incident's folder:

* the lock is ``flock(2)`` on that file, held for as long as the process lives: the kernel
  releases it when the process ends, however it ends, so "the driver is gone" is never guessed
  from time;
* the file names the holder: host, pid, the boot it runs in and the process's start time (so a
  pid reused after a restart or by another program is not mistaken for it), the operator and
  since when. A clean release (quit, hand-over) empties it; a holder that died leaves it filled,
  which is how a *take-over* (the new driver confirms, the journal records the previous driver)
  is told from an ordinary resume.

A second wizard that cannot take the lock follows the journal read-only
(:class:`wizard.incident.IncidentFollower`) until the driver hands over or is gone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

from wizard.errors import WizardError

LOCK_FILE = "driver.lock"


class DriverBusy(WizardError):
    """Another live process drives this incident."""

    title = "Incident driven elsewhere"

    def __init__(self, message: str, holder: DriverInfo | None) -> None:
        super().__init__(message)
        self.holder = holder


class TakeOverNeeded(WizardError):
    """The last driver died holding the incident: a new driver must confirm taking it over."""

    title = "Take over the incident?"

    def __init__(self, previous: DriverInfo) -> None:
        super().__init__(f"The wizard that drove this incident ({previous.describe()}) is gone: its "
                         "process ended without letting go. Take the incident over? The journal will "
                         "record who took it from whom.")
        self.previous = previous


def boot_id() -> str:
    """This machine's boot (Linux: a random id per boot); empty where the system has none."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def process_start(pid: int) -> str:
    """The start time of ``pid`` in clock ticks since boot (field 22 of /proc/PID/stat); empty
    when the process does not exist or the system does not say."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return ""
    # the command name (field 2) may hold spaces and parentheses: count from the last ')'
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


@dataclass(frozen=True)
class DriverInfo:
    """Who holds (or last held) an incident's driver lock."""

    host: str
    pid: int
    boot: str
    started: str  # the process's start time (clock ticks since boot)
    operator: str
    since: str  # ISO 8601 UTC

    @classmethod
    def of_this_process(cls, operator: str) -> DriverInfo:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, boot_id(), process_start(pid), operator,
                   dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

    def describe(self) -> str:
        return f"{self.operator} on {self.host} (process {self.pid}, since {self.since})"

    def liveness(self) -> Literal["alive", "gone", "unknown"]:
        """Is the process that wrote this still running? Decided from facts, never from time:
        another host cannot be asked (unknown); on this host, a different boot or a pid that is
        not running with the same start time is gone."""
        if self.host != socket.gethostname():
            return "unknown"
        if self.boot and self.boot != boot_id():
            return "gone"
        started = process_start(self.pid)
        return "alive" if started and started == self.started else "gone"


def read_holder(folder: Path) -> DriverInfo | None:
    """What the lock file says (None when empty: nobody drives, or the last driver let go)."""
    try:
        text = (Path(folder) / LOCK_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not text:
        return None
    try:
        data = json.loads(text)
        return DriverInfo(str(data["host"]), int(data["pid"]), str(data["boot"]), str(data["started"]),
                          str(data["operator"]), str(data["since"]))
    except (ValueError, KeyError, TypeError):
        return None  # a torn write of a driver that died mid-way: nobody can be named


class DriverLock:
    """The lock on one incident folder. :meth:`acquire` returns a held lock or raises
    :class:`DriverBusy`; ``previous`` names a driver that died holding it (a take-over)."""

    def __init__(self, folder: Path, fd: int, info: DriverInfo, previous: DriverInfo | None) -> None:
        self.folder = Path(folder)
        self._fd: int | None = fd
        self.info = info
        self.previous = previous

    @classmethod
    def acquire(cls, folder: str | os.PathLike[str], operator: str, *, take_over: bool = False) -> DriverLock:
        """The held lock; :class:`DriverBusy` while a live process holds it; :class:`TakeOverNeeded`
        when its last holder died holding it, unless ``take_over`` (the operator confirmed)."""
        path = Path(folder) / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = read_holder(Path(folder))
            who = holder.describe() if holder else "another wizard"
            raise DriverBusy(f"{who} drives this incident: this wizard follows it read-only until "
                             "they hand over or their wizard ends.", holder) from None
        except OSError:
            os.close(fd)
            raise
        previous = read_holder(Path(folder))  # filled although the lock was free: its holder died
        if previous is not None and not take_over:
            os.close(fd)  # the file still names the dead driver: the next attempt sees it too
            raise TakeOverNeeded(previous)
        info = DriverInfo.of_this_process(operator)
        cls._write(fd, json.dumps(asdict(info)))
        return cls(Path(folder), fd, info, previous)

    @staticmethod
    def _write(fd: int, text: str) -> None:
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode("utf-8"), 0)
        os.fsync(fd)

    def name(self, operator: str) -> None:
        """Name the operator the lock is held for (known once the journal is read)."""
        if self._fd is not None and operator != self.info.operator:
            self.info = replace(self.info, operator=operator)
            self._write(self._fd, json.dumps(asdict(self.info)))

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self, *, clear: bool = True) -> None:
        """Let go cleanly (quit, hand-over): the file is emptied first, so the next wizard resumes
        without a take-over. ``clear=False``: let go without touching what the file says (a take-over
        that was not confirmed leaves the evidence of the dead driver for the next attempt)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if clear:
                with contextlib.suppress(OSError):
                    self._write(fd, "")
        finally:
            os.close(fd)  # closing the descriptor releases the flock


def lock_state(folder: Path) -> tuple[bool, DriverInfo | None]:
    """(is the lock held by a live process now, what the file names) without taking it."""
    path = Path(folder) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False, None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True, read_holder(Path(folder))
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False, read_holder(Path(folder))
    finally:
        os.close(fd)
