"""Backup store readers: list backup sets and their files, wherever the share can be read.

A plan's backup location (§3: one folder per backup set under ``$Backup``) is read either

- **locally**, when the wizard's machine has the share mounted (``local_path`` in the plan), or
- **remotely**, through the PowerShell runner on a named host (``read_via``) that lists the
  UNC path and returns JSON (``Get-ChildItem``), with SHA-256 hashes computed on the far side on
  request: ``Get-FileHash`` where the host has it (PowerShell 4.0+), else .NET's SHA256 over the
  file (PowerShell 3.0, which every Lync Server 2013 host has), chosen by the same script.

A remote location is read whole in one script (:meth:`RemoteBackupStore.snapshot`, #20 item 2):
every set folder with its files and the text of its manifest, in one JSON envelope, so the
catalogue of a year of daily sets costs a few WinRM requests (Command, its Receives, Signal), not
a few per set. The :class:`LocationSnapshot` it returns answers ``list_sets``, ``list_files`` and
the manifest's ``read_text`` from memory and sends everything else (hashes) to the store.

Both give the same :class:`StoredFile` records (paths relative to the set folder, with ``\\``
separators as on Windows), so the catalogue does not care which one it has.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from wizard.errors import RemoteError
from wizard.remote import psbuild
from wizard.remote.psbuild import Assign, Cmd, JsonValue, Pipeline, Raw, Switch, Var
from wizard.remote.secondhop import denied_unc, hop_sentence

#: SHA-256 of every path in ``$lrPaths`` into ``$lrHashes`` (objects with Path and upper-case hex
#: Hash), in one round trip: Get-FileHash where it exists (Windows PowerShell 4.0+), else the same
#: digest by .NET (SHA256 over a FileStream) on PowerShell 3.0, which Lync Server 2013 hosts on
#: Windows Server 2008 R2 SP1 (WMF 3.0) and 2012 run. Constant text: the paths are in ``$lrPaths``.
HASH_FILES = Raw(
    "if (Get-Command -Name 'Get-FileHash' -ErrorAction SilentlyContinue) { "
    "$lrHashes = @(Get-FileHash -LiteralPath $lrPaths -Algorithm SHA256 | "
    "Select-Object -Property Path,Hash) "
    "} else { "
    "$lrSha = [System.Security.Cryptography.SHA256]::Create(); "
    "$lrHashes = @(foreach ($lrPath in $lrPaths) { "
    "$lrStream = [System.IO.File]::OpenRead($lrPath); "
    "try { $lrBytes = $lrSha.ComputeHash($lrStream) } finally { $lrStream.Dispose() }; "
    "[pscustomobject]@{ Path = $lrPath; Hash = [System.BitConverter]::ToString($lrBytes).Replace('-', '') } "
    "}) }"
)


@dataclass(frozen=True)
class StoredFile:
    path: str  # relative to the set folder, Windows separators: "sql\\LcsCDR.bak"
    size: int
    modified: dt.datetime  # aware, UTC

    @property
    def name(self) -> str:
        return self.path.rsplit("\\", 1)[-1]


@dataclass(frozen=True)
class SetFolder:
    name: str
    modified: dt.datetime


class BackupStoreError(RemoteError):
    title = "Backup location unreadable"


class SecondHopDenied(BackupStoreError):
    """The host listing a location was denied the share on the second hop (secondhop.py)."""

    title = "Backup location denied (second hop)"

    def __init__(self, message: str, *, host: str = "", unc: str = "") -> None:
        super().__init__(message)
        self.host, self.unc = host, unc


class BackupStore(Protocol):
    """Where backup sets are read from. Every method raises :class:`BackupStoreError`
    (or a transport's RemoteError) with one sentence naming the location."""

    def describe(self) -> str: ...

    def list_sets(self) -> list[SetFolder]: ...

    def list_files(self, set_name: str) -> list[StoredFile]: ...

    def sha256(self, set_name: str, paths: Sequence[str]) -> dict[str, str]: ...

    def read_text(self, set_name: str, path: str) -> str:
        """A small text file of the set (its manifest), read as UTF-8."""
        ...

    def local_path(self, set_name: str, path: str) -> Path | None:
        """A local path for the file when the store is local (zip tests read it), else None."""
        ...


def check_set_name(set_name: str) -> str:
    """A backup set is one folder of its location: a single path component, nothing that climbs
    out of it or that Windows forbids in a name (no separators, no ``..``, no control characters)."""
    if (not set_name or set_name in (".", "..") or any(c in set_name for c in '\\/:*?"<>|')
            or any(ord(c) < 32 or ord(c) == 127 for c in set_name)):
        shown = "".join(c if 32 <= ord(c) != 127 else f"\\x{ord(c):02x}" for c in set_name)
        raise BackupStoreError(f"'{shown}' is not a backup set folder name (one folder: no \\ / : * ? \" < > | "
                               "or control characters, not . or ..)")
    return set_name


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC)


class LocalBackupStore:
    """A backup location mounted on the wizard's machine."""

    def __init__(self, root: str | os.PathLike[str], unc: str = "") -> None:
        self.root = Path(root)
        self.unc = unc

    def describe(self) -> str:
        return f"{self.unc} (mounted at {self.root})" if self.unc else str(self.root)

    def list_sets(self) -> list[SetFolder]:
        try:
            with os.scandir(self.root) as it:
                return sorted((SetFolder(e.name, _utc(e.stat().st_mtime)) for e in it if e.is_dir()),
                              key=lambda s: s.name)
        except FileNotFoundError:
            raise BackupStoreError(f"the backup location {self.describe()} does not exist: is the share "
                                   "mounted?") from None
        except PermissionError:
            raise BackupStoreError(f"the backup location {self.describe()} cannot be read: permission "
                                   "denied") from None
        except OSError as exc:
            raise BackupStoreError(f"the backup location {self.describe()} cannot be read: "
                                   f"{exc.strerror}") from None

    def list_files(self, set_name: str) -> list[StoredFile]:
        base = self.root / check_set_name(set_name)
        out: list[StoredFile] = []
        try:
            for dirpath, _dirs, files in os.walk(base):
                rel_dir = Path(dirpath).relative_to(base)
                for f in files:
                    st = os.stat(os.path.join(dirpath, f))
                    rel = "\\".join([*rel_dir.parts, f])
                    out.append(StoredFile(rel, st.st_size, _utc(st.st_mtime)))
        except OSError as exc:
            raise BackupStoreError(f"backup set {set_name} in {self.describe()} cannot be read: "
                                   f"{exc.strerror}") from None
        if not base.is_dir():
            raise BackupStoreError(f"there is no backup set {set_name} in {self.describe()}")
        return sorted(out, key=lambda f: f.path.lower())

    def local_path(self, set_name: str, path: str) -> Path | None:
        return self.root / check_set_name(set_name) / Path(*path.split("\\"))

    def read_text(self, set_name: str, path: str) -> str:
        local = self.local_path(set_name, path)
        assert local is not None
        try:
            return local.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise BackupStoreError(f"{path} in backup set {set_name} cannot be read: {why}") from None

    def sha256(self, set_name: str, paths: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for p in paths:
            local = self.local_path(set_name, p)
            assert local is not None
            h = hashlib.sha256()
            try:
                with local.open("rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
            except OSError as exc:
                raise BackupStoreError(f"{p} in backup set {set_name} cannot be read: {exc.strerror}") from None
            out[p] = h.hexdigest()
        return out


@dataclass(frozen=True)
class ListedSet:
    """One folder of a location as the snapshot script read it."""

    folder: SetFolder
    files: tuple[StoredFile, ...] | None  # None: not read (not a set name, or an error)
    error: str | None = None  # why the folder's files could not be listed
    manifest: str | None = None  # the manifest's text, when the set holds one
    manifest_error: str | None = None  # why the manifest could not be read


#: The snapshot script: every folder of ``$lrRoot``; for each one whose name matches
#: ``$lrPattern`` (the set folder format), every file below it (path relative to the folder,
#: size, time) and the text of the file named ``$lrManifest`` at its top; an error reading one
#: folder or manifest is kept with it, not fatal. PowerShell 3.0: no -Depth on Get-ChildItem, no
#: Get-FileHash needed. Constant text: the values are in the three variables.
LIST_LOCATION = Raw(
    "$lrSets = @(foreach ($lrDir in @(Get-ChildItem -LiteralPath $lrRoot -Directory)) { "
    "$lrFiles = $null; $lrError = $null; $lrText = $null; $lrTextError = $null; "
    "if ($lrDir.Name -match $lrPattern) { "
    "try { "
    "$lrSkip = $lrDir.FullName.Length + 1; "
    "$lrFiles = @(foreach ($lrFile in @(Get-ChildItem -LiteralPath $lrDir.FullName -Recurse -File)) { "
    "$lrRel = $lrFile.FullName.Substring($lrSkip); "
    "if ($lrRel -eq $lrManifest) { "
    "try { $lrText = Get-Content -LiteralPath $lrFile.FullName -Raw } "
    "catch { $lrTextError = $_.Exception.Message } }; "
    "[pscustomobject]@{ P = $lrRel; L = $lrFile.Length; T = $lrFile.LastWriteTime } "
    "}) "
    "} catch { $lrError = $_.Exception.Message } }; "
    "[pscustomobject]@{ N = $lrDir.Name; T = $lrDir.LastWriteTime; F = $lrFiles; E = $lrError; "
    "M = $lrText; ME = $lrTextError } "
    "})"
)


def parse_location(values: Sequence[JsonValue]) -> list[ListedSet]:
    """The snapshot script's result (one object per folder) as :class:`ListedSet` records, files
    sorted as :meth:`RemoteBackupStore.list_files` sorts them."""
    out: list[ListedSet] = []
    for row in values:
        folder = SetFolder(str(_field(row, "N")), psbuild.ps_date(_field(row, "T")))
        raw = _field(row, "F")
        files: tuple[StoredFile, ...] | None = None
        if raw is not None:
            items = raw if isinstance(raw, list) else [raw]  # one file: PowerShell may unwrap it
            files = tuple(sorted((StoredFile(str(_field(f, "P")), _int(_field(f, "L")),
                                             psbuild.ps_date(_field(f, "T"))) for f in items),
                                 key=lambda f: f.path.lower()))
        error, text, text_error = _field(row, "E"), _field(row, "M"), _field(row, "ME")
        out.append(ListedSet(folder, files if error is None else None,
                             None if error is None else str(error),
                             text if isinstance(text, str) else None,
                             None if text_error is None else str(text_error)))
    return sorted(out, key=lambda s: s.folder.name)


class ScriptRunner(Protocol):
    """The part of :class:`wizard.remote.winrm.PowerShellRunner` this module needs."""

    def run(self, script: str, *, deadline_s: float) -> object: ...


RunScript = Callable[[str], str]  # script -> stdout (raises RemoteError on failure)


def runner_stdout(runner: ScriptRunner, deadline_s: float = 120.0) -> RunScript:
    """Adapts a PowerShellRunner: returns stdout, raises on a non-zero exit with its first error."""

    def run(script: str) -> str:
        result = runner.run(script, deadline_s=deadline_s)
        exit_code = getattr(result, "exit_code", 0)
        if exit_code != 0:
            errors = getattr(result, "errors", [])
            first = errors[0].message if errors else (getattr(result, "stderr", "") or "").strip()[:300]
            raise BackupStoreError(f"listing failed with exit code {exit_code}: {first}")
        return str(getattr(result, "stdout", ""))

    return run


class RemoteBackupStore:
    """A backup location listed through PowerShell on a host that can reach the share."""

    def __init__(self, run: RunScript, unc: str, via_host: str, modules: Sequence[str] = ()) -> None:
        self.run = run
        self.unc = unc.rstrip("\\")
        self.via = via_host
        self.modules = tuple(modules)

    def describe(self) -> str:
        return f"{self.unc} (listed through {self.via})"

    def _json(self, result: Cmd | Pipeline, *statements: psbuild.Statement) -> list[JsonValue]:
        script = psbuild.script(*statements, json_result=result, modules=self.modules)
        try:
            return list(psbuild.parse_envelope(self.run(script)).values)
        except BackupStoreError as exc:
            raise self.failure(exc.message) from None

    def failure(self, message: str) -> BackupStoreError:
        """The error for a far-side failure: a share denied on the second hop is said as such."""
        denied = denied_unc(self.via, message, (self.unc,))
        if denied is not None:  # the files are there; this session cannot reach them
            return SecondHopDenied(hop_sentence(self.via, denied, reading=True), host=self.via, unc=denied)
        return BackupStoreError(f"{self.describe()}: {message}")

    def snapshot(self, set_pattern: str, manifest: str) -> LocationSnapshot:
        """The whole location in one script (:data:`LIST_LOCATION`): every folder, and for those
        whose name matches the regular expression ``set_pattern`` their files and the text of
        ``manifest``. Raises like :meth:`list_sets` when the location cannot be listed."""
        rows = self._json(Cmd("Write-Output", {"InputObject": Var("lrSets")}),
                          Assign("lrRoot", self.unc), Assign("lrPattern", set_pattern),
                          Assign("lrManifest", manifest), LIST_LOCATION)
        return LocationSnapshot(self, parse_location(rows), manifest)

    def list_sets(self) -> list[SetFolder]:
        rows = self._json(Pipeline(
            Cmd("Get-ChildItem", {"LiteralPath": self.unc, "Directory": Switch()}),
            Cmd("Select-Object", {"Property": ["Name", "LastWriteTime"]}),
        ))
        return sorted((SetFolder(str(_field(r, "Name")), psbuild.ps_date(_field(r, "LastWriteTime")))
                       for r in rows), key=lambda s: s.name)

    def _set_unc(self, set_name: str) -> str:
        return f"{self.unc}\\{check_set_name(set_name)}"

    def list_files(self, set_name: str) -> list[StoredFile]:
        base = self._set_unc(set_name)
        rows = self._json(Pipeline(
            Cmd("Get-ChildItem", {"LiteralPath": base, "Recurse": Switch(), "File": Switch()}),
            Cmd("Select-Object", {"Property": ["FullName", "Length", "LastWriteTime"]}),
        ))
        out = []
        prefix = base.lower() + "\\"
        for r in rows:
            full = str(_field(r, "FullName"))
            rel = full[len(prefix):] if full.lower().startswith(prefix) else full.rsplit("\\", 1)[-1]
            out.append(StoredFile(rel, _int(_field(r, "Length")), psbuild.ps_date(_field(r, "LastWriteTime"))))
        return sorted(out, key=lambda f: f.path.lower())

    def local_path(self, set_name: str, path: str) -> Path | None:
        return None

    def read_text(self, set_name: str, path: str) -> str:
        """``Get-Content -Raw`` on the far side; the text comes back inside the JSON envelope."""
        full = f"{self._set_unc(set_name)}\\{path}"
        values = self._json(Cmd("Get-Content", {"LiteralPath": full, "Raw": Switch()}))
        if not values or not isinstance(values[0], str):
            raise BackupStoreError(f"{self.describe()}: {path} in backup set {set_name} came back empty")
        return values[0]

    def sha256(self, set_name: str, paths: Sequence[str]) -> dict[str, str]:
        if not paths:
            return {}
        base = self._set_unc(set_name)
        full = [f"{base}\\{p}" for p in paths]
        rows = self._json(Cmd("Write-Output", {"InputObject": Var("lrHashes")}),
                          Assign("lrPaths", full), HASH_FILES)
        by_full = {str(_field(r, "Path")).lower(): str(_field(r, "Hash")).lower() for r in rows}
        out = {}
        for p, f in zip(paths, full, strict=True):
            if f.lower() not in by_full:
                raise BackupStoreError(f"{self.describe()}: no hash came back for {p}")
            out[p] = by_full[f.lower()]
        return out


class LocationSnapshot:
    """A :class:`BackupStore` over what one snapshot script read: folders, files and manifests
    from memory, hashes (and anything the snapshot did not read) through the store itself."""

    def __init__(self, store: RemoteBackupStore, sets: Sequence[ListedSet], manifest: str) -> None:
        self.store = store
        self.sets = {s.folder.name: s for s in sets}
        self.manifest = manifest.lower()

    def describe(self) -> str:
        return self.store.describe()

    def list_sets(self) -> list[SetFolder]:
        return sorted((s.folder for s in self.sets.values()), key=lambda f: f.name)

    def _read(self, set_name: str) -> ListedSet | None:
        listed = self.sets.get(check_set_name(set_name))
        return listed if listed is not None and (listed.files is not None or listed.error) else None

    def list_files(self, set_name: str) -> list[StoredFile]:
        listed = self._read(set_name)
        if listed is None:
            return self.store.list_files(set_name)
        if listed.error is not None:
            raise self.store.failure(listed.error)
        return list(listed.files or ())

    def read_text(self, set_name: str, path: str) -> str:
        listed = self._read(set_name)
        if listed is None or path.lower() != self.manifest or not any(
                f.path.lower() == self.manifest for f in listed.files or ()):
            return self.store.read_text(set_name, path)
        if listed.manifest_error is not None:
            raise self.store.failure(listed.manifest_error)
        if listed.manifest is None:
            raise BackupStoreError(f"{self.describe()}: {path} in backup set {set_name} came back empty")
        return listed.manifest

    def sha256(self, set_name: str, paths: Sequence[str]) -> dict[str, str]:
        return self.store.sha256(set_name, paths)

    def local_path(self, set_name: str, path: str) -> Path | None:
        return None


def _field(row: object, name: str) -> JsonValue:
    if not isinstance(row, dict):
        raise BackupStoreError(f"unexpected listing entry {row!r:.80}")
    value: JsonValue = row.get(name)
    return value


def _int(value: JsonValue) -> int:
    return int(value) if isinstance(value, int | float | str) and str(value).strip() else 0


def stores_for_plan(locations: Iterable[object], make_runner: Callable[[str], RunScript] | None,
                    modules: Sequence[str] = ()) -> list[BackupStore]:
    """One store per plan backup location: local when mounted, else through ``read_via``."""
    from wizard.plan.model import BackupLocation

    out: list[BackupStore] = []
    for loc in locations:
        assert isinstance(loc, BackupLocation)
        if loc.local_path:
            out.append(LocalBackupStore(loc.local_path, loc.unc))
        elif loc.read_via and make_runner is not None:
            out.append(RemoteBackupStore(make_runner(loc.read_via), loc.unc, loc.read_via, modules))
        else:
            raise BackupStoreError(f"backup location '{loc.name}' ({loc.unc}) has neither a local_path nor a "
                                   "read_via host the wizard can use")
    return out
