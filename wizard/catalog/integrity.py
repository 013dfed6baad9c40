"""Is a backup set intact? Zip archives tested, SQL backups verified, file store copy counted.

* every zip (Config.zip, E911Config.zip, user data, Response Group, Persistent Chat export):
  ``zipfile.testzip`` (CRC of every member) and, when the set's ``manifest.json`` lists it, its
  SHA-256 against the manifest;
* every ``.bak``: ``RESTORE HEADERONLY`` (database name, finish time, whether it carries
  checksums) and ``RESTORE VERIFYONLY`` through a SQL runner, because only SQL Server can say
  whether SQL Server will restore it (§7.4 "backed-up data is readable", §12);
* the file store copy: files counted against the manifest's list when there is one.

Only the parts the chosen path needs are checked, and only for candidate sets (lazy).

A set read through a remote store (the share listed through PowerShell on the plan's
``read_via`` host) is not copied here: its zip archives and file store copy are checked against
the manifest's sizes and SHA-256 hashes, the hashes computed on the far side (``Get-FileHash``),
so a remote zip is checked by hash, not opened. .bak files are checked the same way wherever the
set is (the SQL Server reads the UNC path itself).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, overload

from wizard.catalog.components import Part, SetContents
from wizard.errors import WizardError
from wizard.remote.ports import SqlQuery

#: Files above this size are not hashed against the manifest (zip CRCs still are).
HASH_LIMIT = 256 * 1024 * 1024


@dataclass(frozen=True)
class BakHeader:
    database: str
    finish: dt.datetime | None
    checksums: bool | None
    damaged: bool | None
    backup_type: int | None


class BakVerifier(Protocol):
    def header(self, unc: str) -> BakHeader:
        """RESTORE HEADERONLY of the backup at ``unc``; raises WizardError when unreadable."""
        ...

    def verify(self, unc: str, *, checksum: bool) -> None:
        """RESTORE VERIFYONLY; raises WizardError when the backup is damaged."""
        ...


class SqlBakVerifier:
    """:class:`BakVerifier` over a SQL runner (the instance reads the UNC path itself)."""

    def __init__(self, runner: SqlQuery) -> None:
        self._runner = runner

    def header(self, unc: str) -> BakHeader:
        rows = self._runner.query("RESTORE HEADERONLY FROM DISK = ?", [unc])
        if not rows:
            raise BackupCheckError(f"RESTORE HEADERONLY of {unc} returned no backup set.")
        row = rows[0]
        finish = row.get("BackupFinishDate")
        btype = row.get("BackupType")
        return BakHeader(str(row.get("DatabaseName") or ""),
                         finish if isinstance(finish, dt.datetime) else None,
                         _bool(row.get("HasBackupChecksums")), _bool(row.get("IsDamaged")),
                         btype if isinstance(btype, int) else None)

    def verify(self, unc: str, *, checksum: bool) -> None:
        sql = "RESTORE VERIFYONLY FROM DISK = ?" + (" WITH CHECKSUM" if checksum else "")
        self._runner.query(sql, [unc])


def _bool(value: object) -> bool | None:
    return bool(value) if isinstance(value, bool | int) else None


class BackupCheckError(WizardError):
    title = "Backup check failed"


@dataclass(frozen=True)
class PartCheck:
    rel: str
    ok: bool | None  # None: could not be checked (no SQL runner, no manifest)
    detail: str
    facts: dict[str, Any] | None = None


@dataclass(frozen=True)
class IntegrityReport:
    set_name: str
    checks: tuple[PartCheck, ...]

    @property
    def problems(self) -> list[PartCheck]:
        return [c for c in self.checks if c.ok is False]

    @property
    def intact(self) -> bool:
        return not self.problems


def _manifest_files(contents: SetContents) -> dict[str, dict[str, Any]]:
    files = (contents.manifest or {}).get("files")
    if not isinstance(files, dict):
        return {}
    return {str(k).replace("/", "\\").lower(): v for k, v in files.items() if isinstance(v, dict)}


def _local(contents: SetContents, rel: str) -> Path:
    assert contents.entry.path is not None, "only a local set is opened here"
    return contents.entry.path.joinpath(*rel.split("\\"))


#: Paths per Get-FileHash call on a remote store (keeps each command line short).
HASH_BATCH = 40


def _remote_hashes(contents: SetContents, rels: Sequence[str]) -> dict[str, str] | str:
    """Far-side SHA-256 of ``rels`` (lower-case keys), or the sentence saying why not."""
    store = contents.entry.store
    if store is None:
        return "no store to read the set through"
    out: dict[str, str] = {}
    for i in range(0, len(rels), HASH_BATCH):
        try:
            got = store.sha256(contents.entry.name, list(rels[i:i + HASH_BATCH]))
        except WizardError as exc:
            return exc.message.rstrip(".")
        out.update({k.lower(): v.lower() for k, v in got.items()})
    return out


def _stored(contents: SetContents) -> dict[str, int]:
    return {f.path.lower(): f.size for f in contents.files or ()}


def check_remote_zip(contents: SetContents, part: Part,
                     hashes: dict[str, str] | str) -> PartCheck:
    """A zip on a remote store: size and far-side SHA-256 against the manifest."""
    meta = _manifest_files(contents).get(part.rel.lower(), {})
    expected, size = meta.get("sha256"), meta.get("size")
    how = "checked by hash on the far side, not opened"
    if not isinstance(expected, str):
        return PartCheck(part.rel, None, f"{part.rel} was not checked: a remote zip is {how}, "
                                         "and the manifest lists no hash for it.")
    if isinstance(size, int) and size != part.size:
        return PartCheck(part.rel, False, f"{part.rel} is {part.size} bytes, the manifest says "
                                          f"{size} ({how}).")
    if isinstance(hashes, str):
        return PartCheck(part.rel, False, f"{part.rel} could not be hashed: {hashes}.")
    got = hashes.get(part.rel.lower())
    if got != expected.lower():
        return PartCheck(part.rel, False, f"{part.rel} differs from the manifest (SHA-256 "
                                          f"mismatch, {how}).")
    return PartCheck(part.rel, True, f"{part.rel}: size and SHA-256 match the manifest ({how}).",
                     {"sha256": got, "size": part.size})


def check_remote_folder(contents: SetContents, part: Part) -> PartCheck:
    """The file store copy on a remote store: files, sizes and far-side hashes against the
    manifest's list."""
    prefix = part.rel.lower() + "\\"
    listed = {k: v for k, v in _manifest_files(contents).items() if k.startswith(prefix)}
    found = {k: v for k, v in _stored(contents).items() if k.startswith(prefix)}
    if not listed:
        return PartCheck(part.rel, None, f"{part.rel}: {len(found)} files; no manifest list to "
                                         "count them against.", {"files": len(found)})
    gone = sorted(set(listed) - set(found))
    if gone:
        return PartCheck(part.rel, False, f"{part.rel} holds {len(set(found) & set(listed))} of "
                                          f"the {len(listed)} files the manifest lists (first "
                                          f"missing: {gone[0]}).", {"files": len(found)})
    resized = sorted(k for k, v in listed.items()
                     if isinstance(v.get("size"), int) and v["size"] != found[k])
    if resized:
        return PartCheck(part.rel, False, f"{part.rel}: {resized[0]} is not the size the "
                                          "manifest lists.", {"files": len(found)})
    wanted = sorted(k for k, v in listed.items() if isinstance(v.get("sha256"), str))
    hashes = _remote_hashes(contents, wanted)
    if isinstance(hashes, str):
        return PartCheck(part.rel, False, f"{part.rel} could not be hashed: {hashes}.")
    differ = [k for k in wanted if hashes.get(k) != str(listed[k]["sha256"]).lower()]
    if differ:
        return PartCheck(part.rel, False, f"{part.rel}: {differ[0]} differs from the manifest "
                                          "(SHA-256 mismatch, checked on the far side).",
                         {"files": len(found)})
    return PartCheck(part.rel, True, f"{part.rel}: all {len(listed)} files the manifest lists "
                                     f"are there, sizes and SHA-256 match (checked on the far "
                                     "side).", {"files": len(found)})


def check_zip(contents: SetContents, part: Part) -> PartCheck:
    path = _local(contents, part.rel)
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            members = len(zf.namelist())
    except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile) as exc:
        return PartCheck(part.rel, False, f"{part.rel} is not a readable zip archive "
                                          f"({type(exc).__name__}).")
    if bad is not None:
        return PartCheck(part.rel, False, f"{part.rel} is damaged: member {bad} fails its CRC.")
    expected = _manifest_files(contents).get(part.rel.lower(), {}).get("sha256")
    if isinstance(expected, str) and part.size <= HASH_LIMIT:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != expected.lower():
            return PartCheck(part.rel, False, f"{part.rel} differs from the manifest "
                                              "(SHA-256 mismatch).")
        return PartCheck(part.rel, True, f"{part.rel}: {members} members, CRCs and SHA-256 good.")
    return PartCheck(part.rel, True, f"{part.rel}: {members} members, CRCs good.")


def check_bak(contents: SetContents, part: Part, verifier: BakVerifier | None) -> PartCheck:
    unc = contents.entry.unc + "\\" + part.rel
    if verifier is None:
        return PartCheck(part.rel, None, f"{part.rel} was not verified: no SQL Server to run "
                                         "RESTORE VERIFYONLY on.")
    try:
        header = verifier.header(unc)
    except WizardError as exc:
        return PartCheck(part.rel, False, f"RESTORE HEADERONLY of {part.rel} failed: "
                                          f"{exc.message.rstrip('.')}.")
    facts = {"database": header.database,
             "finish": header.finish.isoformat() if header.finish else None,
             "checksums": header.checksums}
    expected = part.rel.rsplit("\\", 1)[-1].rsplit(".", 1)[0].split("_log")[0].lower()
    if part.kind == "bak" and header.database.lower() != expected:
        return PartCheck(part.rel, False, f"{part.rel} holds database {header.database}, not "
                                          f"{expected}.", facts)
    if header.damaged:
        return PartCheck(part.rel, False, f"{part.rel} is marked damaged by SQL Server.", facts)
    try:
        verifier.verify(unc, checksum=bool(header.checksums))
    except WizardError as exc:
        return PartCheck(part.rel, False, f"RESTORE VERIFYONLY of {part.rel} failed: "
                                          f"{exc.message.rstrip('.')}.", facts)
    when = header.finish.strftime("%Y-%m-%d %H:%M") if header.finish else "unknown time"
    sums = "with checksums" if header.checksums else "without checksums"
    return PartCheck(part.rel, True, f"{part.rel}: {header.database} finished {when}, verified "
                                     f"{sums}.", facts)


def check_folder(contents: SetContents, part: Part) -> PartCheck:
    listed = {k for k in _manifest_files(contents) if k.startswith(part.rel.lower() + "\\")}
    root = _local(contents, part.rel)
    assert contents.entry.path is not None
    found: set[str] = set()
    for dirpath, _dirs, files in os.walk(root):
        rel_dir = Path(dirpath).relative_to(contents.entry.path).parts
        for name in files:
            found.add("\\".join((*rel_dir, name)).lower())
    if not listed:
        return PartCheck(part.rel, None, f"{part.rel}: {len(found)} files; no manifest list to "
                                         "count them against.", {"files": len(found)})
    gone = sorted(listed - found)
    if gone:
        return PartCheck(part.rel, False, f"{part.rel} holds {len(found & listed)} of the "
                                          f"{len(listed)} files the manifest lists (first "
                                          f"missing: {gone[0]}).", {"files": len(found)})
    return PartCheck(part.rel, True, f"{part.rel}: all {len(listed)} files the manifest lists "
                                     "are there.", {"files": len(found)})


@overload
def check_parts(contents: SetContents, parts: Sequence[Part], verifier: BakVerifier | None) -> IntegrityReport: ...


@overload
def check_parts(contents: SetContents, parts: Sequence[Part], verifier: BakVerifier | None, *,
                cancel: threading.Event | None) -> IntegrityReport | None: ...


def check_parts(contents: SetContents, parts: Sequence[Part], verifier: BakVerifier | None, *,
                cancel: threading.Event | None = None) -> IntegrityReport | None:
    """Check ``parts`` of the set; None when ``cancel`` is set before the set is done (a part
    already read is dropped: the set stays unchecked, never half checked)."""
    checks: list[PartCheck] = []
    if contents.manifest_problem:
        checks.append(PartCheck("manifest.json", False, contents.manifest_problem.capitalize() + "."))
    remote = contents.entry.path is None
    hashes: dict[str, str] | str = {}
    if remote:  # one far-side hash call for every zip that has a hash in the manifest
        listed = _manifest_files(contents)
        hashes = _remote_hashes(contents, [p.rel for p in parts if p.kind == "zip"
                                           and isinstance(listed.get(p.rel.lower(), {})
                                                          .get("sha256"), str)])
    for part in parts:
        if cancel is not None and cancel.is_set():
            return None
        if part.kind == "zip":
            checks.append(check_remote_zip(contents, part, hashes) if remote
                          else check_zip(contents, part))
        elif part.kind in ("bak", "log"):
            checks.append(check_bak(contents, part, verifier))
        elif part.kind == "folder" and part.component == "file_store":
            checks.append(check_remote_folder(contents, part) if remote
                          else check_folder(contents, part))
    return IntegrityReport(contents.entry.name, tuple(checks))
