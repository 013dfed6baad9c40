"""What one backup set holds, and what a recovery path needs from it.

A set (§3 layout, names from ``plan.backup.layout``) may hold: ``Config.zip`` (config),
``E911Config.zip`` (lis), ``UserData_<pool>.zip`` (user_data per pool), ``Rgs_<pool>.zip``
(rgs per Response Group pool), ``PChat_<pool>.zip`` or ``sql\\mgc.bak`` (persistent_chat),
``sql\\LcsCDR.bak``/``QoEMetrics.bak`` (monitoring), ``sql\\LcsLog.bak`` (archiving),
``filestore\\<share>\\...`` (file_store), ``audio\\...`` and ``manifest.json``. Recognising a
set reads its top folder and the ``sql`` and ``filestore`` folders only (cheap); file contents
are left to :mod:`wizard.catalog.integrity`. A set behind a remote store is recognised from one
recursive listing of the set (``Get-ChildItem`` on the far side) and its manifest read there.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from wizard import recovery_paths
from wizard.catalog.discover import SetEntry
from wizard.errors import WizardError
from wizard.plan.model import Plan, Pool, SetLayout
from wizard.remote.backup_store import StoredFile

PartKind = Literal["zip", "bak", "log", "folder", "json"]

#: SQL backup file stem (lower case) -> (component, key)
SQL_COMPONENTS = {"lcscdr": ("monitoring", "lcscdr"), "qoemetrics": ("monitoring", "qoemetrics"),
                  "lcslog": ("archiving", "lcslog"), "mgc": ("persistent_chat", "mgc")}


@dataclass(frozen=True)
class Part:
    """One recognised file or folder of a set."""

    component: str
    key: str | None  # pool FQDN, database, file store share/id; None for set-wide parts
    rel: str  # path inside the set, Windows separators
    kind: PartKind
    size: int


@dataclass(frozen=True)
class Requirement:
    component: str
    key: str | None
    label: str  # what the operator would look for, e.g. "E911Config.zip"

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class SetContents:
    entry: SetEntry
    parts: tuple[Part, ...]
    manifest: dict[str, Any] | None
    manifest_problem: str | None
    created: dt.datetime  # from the manifest when it says so, else from the folder name
    files: tuple[StoredFile, ...] | None = None  # every file of a remotely listed set

    def find(self, component: str, key: str | None = None,
             aliases: Iterable[str] = ()) -> list[Part]:
        keys = {k.lower() for k in ([key] if key else []) + list(aliases)}
        return [p for p in self.parts if p.component == component
                and (not keys or (p.key or "").lower() in keys)]

    def has(self, req: Requirement, aliases: Iterable[str] = ()) -> bool:
        return bool(self.find(req.component, req.key, aliases))


def _pattern(fmt: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(fmt).replace(re.escape("{pool}"), "(?P<pool>.+)") + "$",
                      re.I)


def scan_set(entry: SetEntry, layout: SetLayout) -> SetContents:
    """Recognise the components of one set from its folder listing."""
    if entry.path is None:
        return _scan_remote(entry, layout)
    parts: list[Part] = []
    user_data, rgs, pchat = (_pattern(layout.user_data), _pattern(layout.rgs),
                             _pattern(layout.persistent_chat_export))
    fixed = {layout.config.lower(): "config", layout.lis.lower(): "lis"}
    manifest: dict[str, Any] | None = None
    problem: str | None = None
    try:
        top = list(os.scandir(entry.path))
    except OSError as exc:
        top = []
        problem = f"the set folder cannot be read ({exc.strerror or type(exc).__name__})"
    for item in top:
        name = item.name
        low = name.lower()
        if item.is_dir():
            if low == layout.sql_folder.lower():
                parts += _scan_sql(item.path, layout.sql_folder)
            elif low == layout.filestore_folder.lower():
                parts += [Part("file_store", sub.name, f"{layout.filestore_folder}\\{sub.name}",
                               "folder", 0) for sub in os.scandir(item.path) if sub.is_dir()]
            elif low == layout.audio_folder.lower():
                parts.append(Part("audio", None, name, "folder", 0))
            continue
        size = item.stat().st_size
        if low in fixed:
            parts.append(Part(fixed[low], None, name, "zip", size))
        elif low == layout.manifest.lower():
            parts.append(Part("manifest", None, name, "json", size))
            manifest, problem = _read_manifest(item.path)
        elif m := user_data.match(name):
            parts.append(Part("user_data", m.group("pool").lower(), name, "zip", size))
        elif m := rgs.match(name):
            parts.append(Part("rgs", m.group("pool").lower(), name, "zip", size))
        elif m := pchat.match(name):
            parts.append(Part("persistent_chat", m.group("pool").lower(), name, "zip", size))
    return _contents(entry, parts, manifest, problem)


def _contents(entry: SetEntry, parts: list[Part], manifest: dict[str, Any] | None,
              problem: str | None, files: tuple[StoredFile, ...] | None = None) -> SetContents:
    created = entry.created
    if manifest is not None and isinstance(manifest.get("created"), str):
        try:
            stamp = dt.datetime.fromisoformat(manifest["created"])
            created = stamp.replace(tzinfo=None) if stamp.tzinfo is None else \
                stamp.astimezone(dt.UTC).replace(tzinfo=None)
        except ValueError:
            problem = "manifest.json has an unreadable 'created' time"
    parts.sort(key=lambda p: p.rel.lower())
    return SetContents(entry, tuple(parts), manifest, problem, created, files)


def _scan_remote(entry: SetEntry, layout: SetLayout) -> SetContents:
    """The same recognition from a store's recursive listing (paths with ``\\``)."""
    store = entry.store
    assert store is not None, "a set without a local path is read through its store"
    try:
        files = tuple(store.list_files(entry.name))
    except WizardError as exc:
        return _contents(entry, [], None, f"the set folder cannot be read "
                                          f"({exc.message.rstrip('.')})", ())
    user_data, rgs, pchat = (_pattern(layout.user_data), _pattern(layout.rgs),
                             _pattern(layout.persistent_chat_export))
    fixed = {layout.config.lower(): "config", layout.lis.lower(): "lis"}
    sql, fs, audio = (layout.sql_folder.lower(), layout.filestore_folder.lower(),
                      layout.audio_folder.lower())
    parts: list[Part] = []
    stores: dict[str, tuple[str, int]] = {}
    manifest: dict[str, Any] | None = None
    problem: str | None = None
    for f in files:
        segs = f.path.split("\\")
        low = segs[0].lower()
        if len(segs) > 1:
            if low == sql and len(segs) == 2:
                part = _sql_part(segs[1], f.size, layout.sql_folder)
                if part is not None:
                    parts.append(part)
            elif low == fs and len(segs) > 2:
                name, size = stores.get(segs[1].lower(), (segs[1], 0))
                stores[segs[1].lower()] = (name, size + f.size)
            elif low == audio and not any(p.component == "audio" for p in parts):
                parts.append(Part("audio", None, segs[0], "folder", 0))
            continue
        name = segs[0]
        if low in fixed:
            parts.append(Part(fixed[low], None, name, "zip", f.size))
        elif low == layout.manifest.lower():
            parts.append(Part("manifest", None, name, "json", f.size))
            try:
                manifest, problem = _parse_manifest(store.read_text(entry.name, name))
            except WizardError as exc:
                problem = f"manifest.json cannot be read ({exc.message.rstrip('.')})"
        elif m := user_data.match(name):
            parts.append(Part("user_data", m.group("pool").lower(), name, "zip", f.size))
        elif m := rgs.match(name):
            parts.append(Part("rgs", m.group("pool").lower(), name, "zip", f.size))
        elif m := pchat.match(name):
            parts.append(Part("persistent_chat", m.group("pool").lower(), name, "zip", f.size))
    parts += [Part("file_store", name, f"{layout.filestore_folder}\\{name}", "folder", size)
              for name, size in stores.values()]
    return _contents(entry, parts, manifest, problem, files)


def _scan_sql(folder: str, rel_folder: str) -> list[Part]:
    out = []
    for item in os.scandir(folder):
        if item.is_file() and (part := _sql_part(item.name, item.stat().st_size, rel_folder)):
            out.append(part)
    return out


def _sql_part(name: str, size: int, rel_folder: str) -> Part | None:
    stem, _, ext = name.rpartition(".")
    ext = ext.lower()
    if ext not in ("bak", "trn"):
        return None
    rel = f"{rel_folder}\\{name}"
    if ext == "bak" and stem.lower() in SQL_COMPONENTS:
        component, key = SQL_COMPONENTS[stem.lower()]
        return Part(component, key, rel, "bak", size)
    if ext == "trn":
        base = stem.lower().split("_log")[0]
        component = SQL_COMPONENTS.get(base, ("sql", base))[0]
        return Part(component, f"{base}-log", rel, "log", size)
    return Part("sql", stem.lower(), rel, "bak", size)


def _read_manifest(path: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"manifest.json cannot be read ({type(exc).__name__})"
    return _manifest_object(data)


def _parse_manifest(text: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"manifest.json cannot be read ({type(exc).__name__})"
    return _manifest_object(data)


def _manifest_object(data: object) -> tuple[dict[str, Any] | None, str | None]:
    if not isinstance(data, dict):
        return None, "manifest.json is not a JSON object"
    return data, None


def requirements(plan: Plan, path_id: str, pools: Sequence[str] | None = None
                 ) -> list[Requirement]:
    """The set parts ``path_id`` needs, per pool where it applies (``pools`` narrows the
    per-pool parts to the pools being recovered; None = every pool)."""
    scope = {p.lower() for p in pools} if pools else None
    in_scope = [p for p in plan.topology.pools if scope is None or p.fqdn.lower() in scope]
    out: list[Requirement] = []
    for component in recovery_paths.get(path_id).components:
        needs = _NEEDS.get(component)
        if needs is not None:
            out += needs(plan, in_scope, scope)
    return out


def component_requirements(plan: Plan, component: str) -> list[Requirement]:
    """The set parts that hold ``component`` for the whole plan (every pool it applies to):
    what the readiness audit looks for in each location's sets."""
    needs = _NEEDS.get(component)
    return needs(plan, list(plan.topology.pools), None) if needs is not None else []


# What one component needs from a set: (plan, pools in scope, scope or None) -> requirements.
_Needs = Callable[[Plan, list[Pool], set[str] | None], list[Requirement]]


def _needs_config(plan: Plan, in_scope: list[Pool], scope: set[str] | None) -> list[Requirement]:
    return [Requirement("config", None, plan.backup.layout.config)]


def _needs_lis(plan: Plan, in_scope: list[Pool], scope: set[str] | None) -> list[Requirement]:
    return [Requirement("lis", None, plan.backup.layout.lis)]


def _needs_user_data(plan: Plan, in_scope: list[Pool], scope: set[str] | None) -> list[Requirement]:
    layout = plan.backup.layout
    return [Requirement("user_data", p.fqdn.lower(), layout.user_data.format(pool=p.fqdn.lower()))
            for p in in_scope if p.role == "front_end"]


def _needs_rgs(plan: Plan, in_scope: list[Pool], scope: set[str] | None) -> list[Requirement]:
    layout = plan.backup.layout
    return [Requirement("rgs", p.fqdn.lower(), layout.rgs.format(pool=p.fqdn.lower()))
            for p in in_scope if p.role == "front_end" and p.response_group]


def _needs_file_store(plan: Plan, in_scope: list[Pool], scope: set[str] | None) -> list[Requirement]:
    ids = {p.file_store for p in in_scope if p.file_store} if scope else {
        f.id for f in plan.topology.file_stores}
    return [Requirement("file_store", f.id, f"{plan.backup.layout.filestore_folder}\\{f.share}")
            for f in plan.topology.file_stores if f.id in ids]


def _needs_persistent_chat(plan: Plan, in_scope: list[Pool], scope: set[str] | None) -> list[Requirement]:
    layout = plan.backup.layout
    out: list[Requirement] = []
    for p in in_scope:
        if p.role != "persistent_chat":
            continue
        if p.persistent_chat_backup == "export":
            out.append(Requirement("persistent_chat", p.fqdn.lower(),
                                   layout.persistent_chat_export.format(pool=p.fqdn.lower())))
        else:
            out.append(Requirement("persistent_chat", "mgc", f"{layout.sql_folder}\\mgc.bak"))
    return out


def _needs_monitoring(plan: Plan, in_scope: list[Pool], scope: set[str] | None) -> list[Requirement]:
    if not any(p.monitoring_store for p in plan.topology.pools):
        return []
    return [Requirement("monitoring", db, f"{plan.backup.layout.sql_folder}\\{name}.bak")
            for db, name in (("lcscdr", "LcsCDR"), ("qoemetrics", "QoEMetrics"))]


def _needs_archiving(plan: Plan, in_scope: list[Pool], scope: set[str] | None) -> list[Requirement]:
    if not any(p.archiving_store for p in plan.topology.pools):
        return []
    return [Requirement("archiving", "lcslog", f"{plan.backup.layout.sql_folder}\\LcsLog.bak")]


def _needs_audio(plan: Plan, in_scope: list[Pool], scope: set[str] | None) -> list[Requirement]:
    return [Requirement("audio", None, plan.backup.layout.audio_folder)]


#: Requirements by component; a component not listed needs nothing from a set.
_NEEDS: dict[str, _Needs] = {
    "config": _needs_config,
    "lis": _needs_lis,
    "user_data": _needs_user_data,
    "rgs": _needs_rgs,
    "file_store": _needs_file_store,
    "persistent_chat": _needs_persistent_chat,
    "monitoring": _needs_monitoring,
    "archiving": _needs_archiving,
    "audio": _needs_audio,
}


def aliases(plan: Plan, req: Requirement) -> tuple[str, ...]:
    """Other names a part may carry: a file store copy is named by share or by id."""
    if req.component == "file_store" and req.key:
        try:
            fs = plan.file_store(req.key)
        except KeyError:
            return ()
        return (fs.id, fs.share)
    return ()


def missing(plan: Plan, contents: SetContents, reqs: Sequence[Requirement]) -> list[Requirement]:
    return [r for r in reqs if not contents.has(r, aliases(plan, r))]
