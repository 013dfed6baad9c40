"""Listing backup sets: one folder per set under the backup location, named by the plan's
``backup.layout.folder_format`` (§3). Listing reads one directory and parses folder names, no
more: opening and testing a set is left to the candidates (lazy integrity), so a location with
years of daily sets lists at once.

A location is read from local disk (:func:`list_sets`, the share mounted here) or from any
:class:`~wizard.remote.backup_store.BackupStore` (:func:`list_store_sets`): a store that is not
local (listed through PowerShell on the plan's ``read_via`` host) is carried by every
:class:`SetEntry`, so recognising and checking a set goes through it as well.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from wizard.errors import WizardError
from wizard.plan.model import BackupLocation, Plan, SetLayout
from wizard.remote.backup_store import BackupStore, LocalBackupStore, RemoteBackupStore


class CatalogError(WizardError):
    title = "Backup catalogue problem"


@dataclass(frozen=True)
class SetEntry:
    """One backup set folder; ``created`` comes from its name (the manifest may refine it)."""

    name: str
    path: Path | None  # the folder on this machine; None when read through a remote store
    unc: str  # how a Windows host (a SQL Server reading a .bak) reaches the folder
    created: dt.datetime
    store: BackupStore | None = field(default=None, compare=False)  # remote: read through it
    #: the plan's location name, and the set's key: the folder name, qualified by the location
    #: (``vault/2026-12-06_0200``) when the plan has several, so equal names never mix
    location: str = ""
    key: str = ""

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.name)


@dataclass(frozen=True)
class Listing:
    location: str
    sets: tuple[SetEntry, ...]  # newest first (a merged listing: preferred locations first)
    ignored: tuple[str, ...]  # folders and files whose names are not a set name
    #: locations that could not be read, one sentence each (a merged listing)
    unreadable: tuple[str, ...] = ()


def local_root(plan: Plan, location: BackupLocation, root: str | os.PathLike[str] | None = None
               ) -> Path:
    """Where this machine reads ``location``: ``root`` if given, else its ``local_path``."""
    if root is not None:
        return Path(root)
    if location.local_path:
        return Path(location.local_path)
    raise CatalogError(
        f"The backup location {location.unc} has no local_path in the plan, so this machine "
        "cannot read it.")


def list_sets(root: str | os.PathLike[str], layout: SetLayout, unc: str) -> Listing:
    """Every set folder under ``root``, newest first; other entries are listed as ignored."""
    base = Path(root)
    sets: list[SetEntry] = []
    ignored: list[str] = []
    try:
        entries = list(os.scandir(base))
    except OSError as exc:
        raise CatalogError(f"The backup location {unc} cannot be listed at {base}: "
                           f"{exc.strerror or type(exc).__name__}.") from None
    for entry in entries:
        if not entry.is_dir():
            ignored.append(entry.name)
            continue
        try:
            created = dt.datetime.strptime(entry.name, layout.folder_format)
        except ValueError:
            ignored.append(entry.name)
            continue
        sets.append(SetEntry(entry.name, Path(entry.path), unc.rstrip("\\") + "\\" + entry.name,
                             created))
    sets.sort(key=lambda s: (s.created, s.name), reverse=True)
    return Listing(unc, tuple(sets), tuple(sorted(ignored)))


#: strftime directive -> what it matches in a folder name (a regular expression .NET and Python
#: read alike); any other directive matches anything (the name is parsed again here anyway)
_DIRECTIVES = {"Y": "[0-9]{4}", "y": "[0-9]{2}", "m": "[0-9]{1,2}", "d": "[0-9]{1,2}", "H": "[0-9]{1,2}",
               "I": "[0-9]{1,2}", "M": "[0-9]{1,2}", "S": "[0-9]{1,2}", "j": "[0-9]{1,3}", "%": "%"}


def folder_pattern(folder_format: str) -> str:
    """A regular expression for the names ``folder_format`` (strftime) makes, for the far side to
    leave other folders unread: loose on purpose (every name it passes is parsed with strptime)."""
    out, i = ["^"], 0
    while i < len(folder_format):
        char = folder_format[i]
        if char == "%" and i + 1 < len(folder_format):
            out.append(_DIRECTIVES.get(folder_format[i + 1], ".+?"))
            i += 2
            continue
        out.append(char if char.isalnum() or char == "_" else "\\" + char)  # punctuation escaped
        i += 1
    return "".join(out) + "$"


def list_store_sets(store: BackupStore, layout: SetLayout, unc: str, *, contents: bool = True) -> Listing:
    """Every set folder of ``store``, newest first. A local store is read from disk directly
    (fast); any other store is kept on the entries and read through on demand. A store listed
    through PowerShell is read whole in one script when ``contents`` (every set's files and
    manifest: :meth:`RemoteBackupStore.snapshot`), so recognising its sets costs no more requests;
    ``contents=False`` lists the folders only (one set will be read). Raises the store's
    RemoteError (one sentence naming the location) when it cannot be listed."""
    if isinstance(store, LocalBackupStore):
        return list_sets(store.root, layout, unc)
    if contents and isinstance(store, RemoteBackupStore):
        store = store.snapshot(folder_pattern(layout.folder_format), layout.manifest)
    sets: list[SetEntry] = []
    ignored: list[str] = []
    for folder in store.list_sets():
        try:
            created = dt.datetime.strptime(folder.name, layout.folder_format)
        except ValueError:
            ignored.append(folder.name)
            continue
        sets.append(SetEntry(folder.name, None, unc.rstrip("\\") + "\\" + folder.name, created,
                             store))
    sets.sort(key=lambda s: (s.created, s.name), reverse=True)
    return Listing(unc, tuple(sets), tuple(sorted(ignored)))


def qualified(plan: Plan, location: BackupLocation, entries: tuple[SetEntry, ...]) -> tuple[SetEntry, ...]:
    """``entries`` of ``location`` keyed by :meth:`Plan.set_key` (qualified when the plan has
    several locations)."""
    return tuple(replace(e, location=location.name, key=plan.set_key(location.name, e.name)) for e in entries)


def merge_listings(plan: Plan, listings: list[tuple[BackupLocation, Listing]], unreadable: list[str],
                   failed_site: str | None) -> Listing:
    """One listing of every readable location: the sets of locations outside ``failed_site``
    first (newest first among them), then those inside it (§3: a site's own vault is usually lost
    with it, so a path acting on that site reads from elsewhere when a usable set is there)."""
    outside: list[SetEntry] = []
    inside: list[SetEntry] = []
    ignored: list[str] = []
    for loc, listing in listings:
        site = plan.location_site(loc)
        tier = inside if failed_site and site and site.lower() == failed_site.lower() else outside
        tier.extend(qualified(plan, loc, listing.sets))
        ignored += [f"{loc.name}: {name}" for name in listing.ignored]
    for tier in (outside, inside):
        tier.sort(key=lambda s: (s.created, s.key), reverse=True)
    names = ", ".join(loc.name for loc, _ in listings) or "none"
    return Listing(names, (*outside, *inside), tuple(ignored), tuple(unreadable))
