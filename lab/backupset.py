"""Real backup sets on the lab's disk, and the file formats Lync's export cmdlets produce.

A drill restores from files, so the lab writes them for real, in the §3 layout (inferred):
``\\\\<backup server>\\LyncBackup\\<yyyy-MM-dd_HHmm>\\`` holding ``Config.zip`` (a zip with
``DocItemSet.xml``, what Export-CsConfiguration writes), ``E911Config.zip``,
``UserData_<pool>.zip`` (two XML documents), ``Rgs_<pool>.zip``, ``sql\\*.bak`` (SQL Server
backups in the lab's .bak format, read back by the lab's SQL server), ``filestore\\<store id>\\``
(a robocopy of each file store without ``Meeting.Active``) and ``manifest.json`` (times, hosts,
sha256 per file).

The same encoders serve the Export-* cmdlets and the decoders serve the Import-* cmdlets, so a
zip written by a backup is exactly what an import reads; a damaged zip fails the import as it
would in production. Faults (a corrupt newest set, a set without ``E911Config.zip``, a broken
log chain) are applied here.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import io
import json
import shutil
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from lab import topologydoc
from lab.sqlstate import SqlInstanceState, corrupt_bak, write_bak

#: The XML namespace Lync's DocItemSet documents use (inferred: the lab's own choice).
_NS = "urn:schema:Microsoft.Rtc.Management.Xds.AppLayer.2008"


class BackupFormatError(Exception):
    """A backup file is missing, damaged or of the wrong kind; ``str()`` is one sentence."""


@dataclass(frozen=True)
class SetFaults:
    """Damage to inject into the backup sets the lab writes."""

    corrupt_newest: bool = False
    missing_e911_in_newest: bool = False
    broken_log_chain: bool = False
    #: the nightly job stopped this many hours before ``dep.now``: the sets are the runs before then
    stopped_hours: int = 0


@dataclass
class BackupSetInfo:
    """What the lab wrote for one set (tests and scenarios use it)."""

    name: str
    unc: str
    created: dt.datetime
    files: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------ zip formats
def _docitemset(kind: str, payload: dict[str, Any]) -> bytes:
    body = escape(json.dumps(payload, sort_keys=True))
    return (f'<?xml version="1.0" encoding="utf-8"?>\r\n<DocItemSet xmlns="{_NS}" '
            f'Kind="{kind}" Version="2013"><DocItem Name="{kind}"><Data>{body}</Data>'
            f"</DocItem></DocItemSet>\r\n").encode()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 11, 24, 2, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def _read(data: bytes, member: str, kind: str, what: str) -> dict[str, Any]:
    import re
    from xml.sax.saxutils import unescape

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            text = zf.read(member).decode("utf-8")
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise BackupFormatError(f"The file is not a valid {what} export ({type(exc).__name__}).") \
            from None
    match = re.search(rf'Kind="{kind}".*?<Data>(.*)</Data>', text, re.S)
    if match is None:
        raise BackupFormatError(f"The file is not a {what} export.")
    try:
        value = json.loads(unescape(match.group(1)))
    except json.JSONDecodeError:
        raise BackupFormatError(f"The {what} export is damaged.") from None
    if not isinstance(value, dict):
        raise BackupFormatError(f"The {what} export is damaged.")
    return value


#: T§3 (inferred): the zip's second file, the package manifest of a System.IO.Packaging zip.
_CONTENT_TYPES = ('<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/'
                  'package/2006/content-types"><Default Extension="xml" ContentType="text/xml" /></Types>')
#: The DocItem names (T§5 item 5: the real ones were never seen; the lab's choice).
TOPOLOGY_ITEM = f"urn:xds:{topologydoc.NS}:Topology"
SETTINGS_ITEM = "urn:xds:lab:Configuration"


def config_zip(config: dict[str, Any]) -> bytes:
    """Export-CsConfiguration (T§3): a zip holding ``DocItemSet.xml`` and ``[Content_Types].xml``.
    ``DocItemSet`` has one ``DocItem`` (``Name``, ``Data``) per document: the topology as XML markup in
    the published format (T§2, with the CMS where ``topology.central_management`` says), and the rest of
    the configuration (version, policies, site settings, what T§2 does not describe) as the lab's own
    escaped JSON document."""
    held = config.get("topology", {})
    rest = {k: v for k, v in config.items() if k != "topology"}
    rest["topology"] = {k: v for k, v in held.items() if k in topologydoc.NOT_IN_DOCUMENT}
    topology = topologydoc.render(held, str(held.get("central_management", ""))) if held.get("sites") else ""
    body = (f'<?xml version="1.0" encoding="utf-8"?>\r\n<DocItemSet xmlns="{_NS}" Kind="Configuration" '
            f'Version="2013">\r\n<DocItem Name="{TOPOLOGY_ITEM}"><Data>\r\n{topology}</Data></DocItem>\r\n'
            f'<DocItem Name="{SETTINGS_ITEM}"><Data>{escape(json.dumps(rest, sort_keys=True))}</Data></DocItem>'
            "\r\n</DocItemSet>\r\n")
    return _zip({"[Content_Types].xml": _CONTENT_TYPES.encode(), "DocItemSet.xml": body.encode()})


def read_config_zip(data: bytes) -> dict[str, Any]:
    """What Import-CsConfiguration reads from an Export-CsConfiguration zip (T§3): the topology from the
    ``Topology`` element inside ``DocItemSet.xml``, the rest from the lab's settings document."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            text = zf.read("DocItemSet.xml").decode("utf-8")
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:
        raise BackupFormatError(f"The file is not a valid configuration export ({type(exc).__name__}).") \
            from None
    try:
        root = ET.fromstring(text)  # noqa: S314 (the lab's own file; no DOCTYPE is written)
    except ET.ParseError:
        raise BackupFormatError("The configuration export is damaged.") from None
    items = {item.get("Name", ""): item.find(f"{{{_NS}}}Data") for item in root.iter(f"{{{_NS}}}DocItem")}
    settings = items.get(SETTINGS_ITEM)
    if root.get("Kind") != "Configuration" or settings is None:
        raise BackupFormatError("The file is not a configuration export.")
    try:
        config = json.loads(settings.text or "")
    except json.JSONDecodeError:
        raise BackupFormatError("The configuration export is damaged.") from None
    if not isinstance(config, dict):
        raise BackupFormatError("The configuration export is damaged.")
    topology = items.get(TOPOLOGY_ITEM)
    found = topology.find(f"{{{topologydoc.NS}}}Topology") if topology is not None else None
    if found is not None:
        try:
            held = topologydoc.parse(ET.tostring(found, encoding="unicode"))
        except topologydoc.TopologyDocumentError as exc:
            raise BackupFormatError(f"The topology in the configuration export cannot be read: {exc}.") from None
        config["topology"] = {**config.get("topology", {}), **held}
    return config


def lis_zip(lis: dict[str, Any]) -> bytes:
    return _zip({"LisConfiguration.xml": _docitemset("Lis", lis)})


def read_lis_zip(data: bytes) -> dict[str, Any]:
    return _read(data, "LisConfiguration.xml", "Lis", "LIS configuration")


def user_data_zip(user_data: dict[str, Any], *, legacy: bool = False) -> bytes:
    """Export-CsUserData: a zip of two XML documents (§8); names inferred. ``legacy`` marks
    the Lync Server 2010 format (Export-CsUserData -LegacyFormat, Convert-CsUserData)."""
    meta = {"pool": user_data.get("pool"), "format": "Lync2010" if legacy else "Lync2013"}
    return _zip({"DocItemSet.xml": _docitemset("UserData", user_data),
                 "MetaData.xml": _docitemset("MetaData", meta)})


def read_user_data_zip(data: bytes) -> dict[str, Any]:
    return _read(data, "DocItemSet.xml", "UserData", "user data")


def user_data_format(data: bytes) -> str:
    """``Lync2013`` or ``Lync2010`` (the MetaData document of a user data zip)."""
    return str(_read(data, "MetaData.xml", "MetaData", "user data").get("format", "Lync2013"))


def user_data_xml(user_data: dict[str, Any]) -> bytes:
    """The single XML document Convert-CsUserData writes when asked for ``.xml``."""
    return _docitemset("UserData", user_data)


def rgs_zip(rgs: dict[str, Any]) -> bytes:
    return _zip({"RgsConfiguration.xml": _docitemset("Rgs", rgs)})


def read_rgs_zip(data: bytes) -> dict[str, Any]:
    return _read(data, "RgsConfiguration.xml", "Rgs", "Response Group configuration")


def pchat_zip(content: dict[str, Any]) -> bytes:
    return _zip({"PersistentChatData.xml": _docitemset("PersistentChat", content)})


def read_pchat_zip(data: bytes) -> dict[str, Any]:
    return _read(data, "PersistentChatData.xml", "PersistentChat", "Persistent Chat")


# ------------------------------------------------------------------------ writing sets
def write_backup_sets(dep: Any, *, count: int = 3, faults: SetFaults = SetFaults(),
                      hour: int = 2) -> list[BackupSetInfo]:
    """Write ``count`` daily sets before ``dep.now`` (newest last) into the plan's first
    backup location, and copy each into every other location (the organisation's off-site copy
    job, §3: keep backups where they will be available), so equal set names exist in several
    vaults. ``dep`` is a :class:`~lab.model.LabDeployment` (typed loosely to avoid an import
    cycle). Returns the sets of the first location."""
    first, *others = dep.plan.backup.locations
    layout = dep.plan.backup.layout
    last_run = dep.now - dt.timedelta(hours=faults.stopped_hours)
    base_day = last_run.replace(hour=hour, minute=0, second=0, microsecond=0)
    if base_day > last_run:
        base_day -= dt.timedelta(days=1)
    sets: list[BackupSetInfo] = []
    for age in range(count - 1, -1, -1):
        created = base_day - dt.timedelta(days=age)
        newest = age == 0
        info = _write_set(dep, first.unc, layout, created, age, newest, faults)
        for loc in others:
            _copy_set(dep, info, loc.unc, layout)
        sets.append(info)
    return sets


def _copy_set(dep: Any, info: BackupSetInfo, unc: str, layout: Any) -> None:
    """The copy job: the whole set folder into another location, its manifest naming it."""
    source: Path = dep.paths.resolve(info.unc)
    target: Path = dep.paths.resolve(unc.rstrip("\\") + "\\" + info.name)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    manifest = target / layout.manifest
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["location"] = unc
    manifest.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")


def _write_set(dep: Any, unc: str, layout: Any, created: dt.datetime, age: int, newest: bool,
               faults: SetFaults) -> BackupSetInfo:
    name = created.strftime(layout.folder_format)
    set_unc = unc.rstrip("\\") + "\\" + name
    root: Path = dep.paths.resolve(set_unc)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    info = BackupSetInfo(name=name, unc=set_unc, created=created)
    hosts: dict[str, str] = {}
    components: dict[str, Any] = {}

    def put(rel: str, data: bytes) -> None:
        target = root.joinpath(*rel.split("\\"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    cms = dep.cms_instance()
    config = copy.deepcopy(dep.cms_config() or {})
    if config:
        config["topology"] = topologydoc.published_topology(dep) or config.get("topology", {})
        config["version"] = int(config["version"]) - age
        config["as_of"] = created.isoformat()
        put(layout.config, config_zip(config))
        components["config"] = {"file": layout.config, "version": config["version"]}
        hosts["config"] = dep.cms_pool
    if cms is not None:
        lis_db = cms.database("lis")
        if lis_db is not None and "lis" in lis_db.content and not (
                newest and faults.missing_e911_in_newest):
            put(layout.lis, lis_zip(lis_db.content["lis"]))
            components["lis"] = {"file": layout.lis}
    for pool in dep.plan.front_end_pools():
        inst = dep.pool_sql(pool.fqdn)
        if inst is None:
            continue
        rtcxds = inst.database("rtcxds")
        if rtcxds is not None and "user_data" in rtcxds.content:
            data = dict(rtcxds.content["user_data"], as_of=created.isoformat(),
                        backup_set=name)
            rel = layout.user_data.format(pool=pool.fqdn.lower())
            put(rel, user_data_zip(data))
            components.setdefault("user_data", {})[pool.fqdn.lower()] = rel
        rgs = inst.database("rgsconfig")
        if pool.response_group and rgs is not None and "rgs" in rgs.content:
            rel = layout.rgs.format(pool=pool.fqdn.lower())
            put(rel, rgs_zip(dict(rgs.content["rgs"], backup_set=name)))
            components.setdefault("rgs", {})[pool.fqdn.lower()] = rel
    # SQL backups: Monitoring, Archiving, Persistent Chat (as the plan says it is backed up).
    sql_targets: list[tuple[SqlInstanceState, str]] = []
    for pool in dep.plan.topology.pools:
        for store_id, names in ((pool.monitoring_store, ("LcsCDR", "QoEMetrics")),
                                (pool.archiving_store, ("LcsLog",))):
            inst = dep.instance_by_id(store_id) if store_id else None
            if inst is not None:
                sql_targets += [(inst, n) for n in names]
        if pool.persistent_chat_store:
            inst = dep.instance_by_id(pool.persistent_chat_store)
            if inst is not None:
                if pool.persistent_chat_backup == "sql":
                    sql_targets.append((inst, "mgc"))
                else:
                    mgc = inst.database("mgc")
                    rel = layout.persistent_chat_export.format(pool=pool.fqdn.lower())
                    put(rel, pchat_zip(dict(mgc.content if mgc else {}, backup_set=name)))
                    components.setdefault("persistent_chat", {})[pool.fqdn.lower()] = rel
    seen: set[tuple[str, str]] = set()
    for inst, db_name in sql_targets:
        if (inst.data_source, db_name.lower()) in seen:
            continue
        seen.add((inst.data_source, db_name.lower()))
        db = inst.database(db_name)
        if db is None:
            continue
        snap = db.snapshot()
        snap.content = dict(snap.content, backup_set=name, as_of=created.isoformat())
        first = db.last_lsn - 1000 * (age + 1)
        last = first + 500
        rel = f"{layout.sql_folder}\\{db.name}.bak"
        target = root.joinpath(*rel.split("\\"))
        write_bak(target, database=snap, server=inst.server, instance=inst.instance, kind="D",
                  start=created, finish=created + dt.timedelta(minutes=4), first_lsn=first,
                  last_lsn=last, backup_set_name=f"{db.name}-Full {name}")
        components.setdefault("sql", {})[db.name] = rel
        hosts[db.name] = inst.data_source
        if db.name.lower() in ("mgc", "lcscdr"):
            # two log backups after the full one (mgc, and LcsCDR kept in the full recovery model);
            # a broken chain skips LSNs in the second
            l1_first, l1_last = last, last + 200
            l2_first = l1_last + (300 if faults.broken_log_chain and newest else 0)
            for idx, (lf, ll) in enumerate(((l1_first, l1_last), (l2_first, l2_first + 200)), 1):
                lrel = f"{layout.sql_folder}\\{db.name}_log{idx}.trn"
                write_bak(root.joinpath(*lrel.split("\\")), database=snap, server=inst.server,
                          instance=inst.instance, kind="L",
                          start=created + dt.timedelta(minutes=10 * idx),
                          finish=created + dt.timedelta(minutes=10 * idx + 1),
                          first_lsn=lf, last_lsn=ll, backup_set_name=f"mgc-Log{idx} {name}")
                components["sql"][f"{db.name}_log{idx}"] = lrel
    for fs in dep.plan.topology.file_stores:
        src = dep.paths.unc(fs.server, fs.share)
        if not src.is_dir():
            continue
        dst = root / layout.filestore_folder / fs.id
        for path in sorted(src.rglob("*")):
            if path.is_file() and path.name.lower() != "meeting.active":
                out = dst / path.relative_to(src)
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, out)  # robocopy keeps the last-write time (/COPY:DAT)
        components.setdefault("file_store", {})[fs.id] = {
            "unc": f"\\\\{fs.server}\\{fs.share}",
            "folder": f"{layout.filestore_folder}\\{fs.id}"}
    if newest and faults.corrupt_newest:
        _corrupt_set(root, layout)
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            rel = "\\".join(path.relative_to(root).parts)
            blob = path.read_bytes()
            files[rel] = {"size": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    if newest and faults.corrupt_newest:
        # the manifest was written before the damage (the hashes no longer match)
        for meta in files.values():
            meta["sha256"] = hashlib.sha256(meta["sha256"].encode()).hexdigest()
    manifest = {
        "format": 1, "set": name, "location": unc, "created": created.isoformat(),
        "finished": (created + dt.timedelta(minutes=25)).isoformat(),
        "organisation": dep.plan.organisation.name, "lync_version": "2013",
        "hosts": hosts, "components": components, "files": files,
    }
    (root / layout.manifest).write_text(json.dumps(manifest, indent=2, sort_keys=True),
                                        encoding="utf-8")
    info.files = [*sorted(files), layout.manifest]
    return info


def _corrupt_set(root: Path, layout: Any) -> None:
    cfg = root / layout.config
    if cfg.exists():
        data = bytearray(cfg.read_bytes())
        for i in range(10, min(len(data), 200)):
            data[i] ^= 0x5A
        cfg.write_bytes(bytes(data))
    for bak in (root / layout.sql_folder).glob("*.bak") if (root / layout.sql_folder).is_dir() \
            else []:
        corrupt_bak(bak)
