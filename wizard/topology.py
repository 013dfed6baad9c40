"""``lync-restore plan from-topology FILE``: a draft plan from the published topology.

Input: the output of ``Get-CsTopology -AsXml`` saved to a file (UTF-16LE with BOM when written
with ``>``/``Out-File``, UTF-8 otherwise: sniffed, not assumed) or an ``Export-CsConfiguration``
zip (its ``DocItemSet.xml`` holds the topology). Format: shared/domain/lync2013-topology-xml.md
(cited as T§n). It is parsed by structure and local names, never by namespace prefixes, and what
that document marks inferred is treated as inferred: each such finding is listed as a note for
the administrator to confirm.

What the topology gives (T§2.3-§2.10): SIP domains, sites, pools with their servers in ordinal
order, roles, edition, the Back End and Monitoring/Archiving/Persistent Chat stores, file stores,
the CMS pool, Edge next hops; SQL mirror and witness and pool pairing only by inference (T§2.8).
What it cannot give (backup locations, objectives, credentials) is written as ``TODO`` so that
``lync-restore validate`` refuses the draft until a person has filled it in: a plan that passes
validation with made-up values would be worse than none.

``lync-restore plan diff OLD NEW`` compares a plan with an export, or two exports of one deployment (before
and after a change), by FQDNs and server names: a pool or server added or gone, roles, stores, the CMS
moved, pools re-paired, each one line; facts only inferred from a topology (T§2.8) are marked.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from xml.etree import ElementTree as ET

from wizard.errors import ExitCode, InputFileError
from wizard.plan.model import Plan

MAX_BYTES = 50 * 1024 * 1024
_LOCAL = re.compile(r"^\{[^}]*\}")
_SAFE_SCALAR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@/-]*$")


class TopologyError(InputFileError):
    """The file is not a topology this command can read (one sentence, exit 2)."""

    title = "Cannot read the topology"


# --------------------------------------------------------------------------- reading


def _local(tag: str) -> str:
    return _LOCAL.sub("", tag)


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == name]


def _child(el: ET.Element, name: str) -> ET.Element | None:
    found = _children(el, name)
    return found[0] if found else None


def _grandchildren(el: ET.Element, name: str, child: str) -> list[ET.Element]:
    parent = _child(el, name)
    return _children(parent, child) if parent is not None else []


def _decode(raw: bytes, where: str) -> str:
    """T§2.1: exports are UTF-16LE with BOM (``>``/``Out-File``) or UTF-8 with or without BOM."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8")
    if len(raw) > 1 and raw[1:2] == b"\x00" and raw[0:1] != b"\x00":  # UTF-16LE without BOM
        return raw.decode("utf-16-le")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TopologyError(f"{where}: not UTF-8 or UTF-16 text (byte {exc.start}).") from None


def _parse(text: str, where: str) -> ET.Element:
    if re.search(r"<!(DOCTYPE|ENTITY)", text):  # a topology has none; entities could expand without bound
        raise TopologyError(f"{where}: holds a DOCTYPE or ENTITY declaration, which a topology never has.")
    try:
        return ET.fromstring(text.lstrip("\ufeff"))  # noqa: S314 (no DOCTYPE, so no entities: checked above)
    except ET.ParseError as exc:
        line, col = exc.position
        raise TopologyError(f"{where}:{line}:{col + 1}: not well-formed XML ({str(exc).split(':')[0]}).") from None


def _find_topology(root: ET.Element) -> ET.Element | None:
    """T§3: any element named Topology that has a Clusters child."""
    for el in root.iter():
        if _local(el.tag) == "Topology" and _child(el, "Clusters") is not None:
            return el
    return None


def read_topology(path: str | Path) -> ET.Element:
    """The ``Topology`` element of an XML export or of an Export-CsConfiguration zip."""
    p = Path(path)
    try:
        if p.is_dir():
            raise TopologyError(f"{p}: is a folder, not a topology file.")
        if p.stat().st_size > MAX_BYTES:
            raise TopologyError(f"{p}: larger than {MAX_BYTES // (1024 * 1024)} MB; not a topology export.")
        raw = p.read_bytes()
    except FileNotFoundError:
        raise TopologyError(f"{p}: no such file.") from None
    except OSError as exc:
        raise TopologyError(f"{p}: cannot be read ({exc.strerror}).") from None
    if raw.startswith(b"PK\x03\x04"):
        return _from_zip(raw, p)
    root = _parse(_decode(raw, str(p)), str(p))
    topology = _find_topology(root)
    if topology is None:
        raise TopologyError(f"{p}: no Topology element with Clusters (is this Get-CsTopology -AsXml output?).")
    return topology


def _from_zip(raw: bytes, p: Path) -> ET.Element:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            name = next((n for n in zf.namelist() if n.rsplit("/", 1)[-1].lower() == "docitemset.xml"), None)
            if name is None:
                raise TopologyError(f"{p}: a zip without DocItemSet.xml (not an Export-CsConfiguration zip).")
            if zf.getinfo(name).file_size > MAX_BYTES:
                raise TopologyError(f"{p}: DocItemSet.xml is larger than {MAX_BYTES // (1024 * 1024)} MB.")
            text = _decode(zf.read(name), f"{p}!{name}")
    except zipfile.BadZipFile:
        raise TopologyError(f"{p}: a damaged zip.") from None
    where = f"{p}!{name}"
    root = _parse(text, where)
    topology = _find_topology(root)
    if topology is None:  # T§3: the topology may be embedded as escaped text
        for el in root.iter():
            if el.text and "<Topology" in el.text:
                topology = _find_topology(_parse(el.text.strip(), where))
                if topology is not None:
                    break
    if topology is None:
        raise TopologyError(f"{where}: holds no Topology document.")
    return topology


# --------------------------------------------------------------------------- the model


ClusterKey = tuple[str, str]  # (SiteId, Number)
SqlKey = tuple[ClusterKey, str]  # (cluster, instance name; "" = default instance)
ServiceKey = tuple[str, str, str]  # (SiteId, RoleName, Instance)


@dataclass
class Cluster:
    key: ClusterKey
    fqdn: str
    site_id: str
    machines: list[str]


@dataclass
class Service:
    key: ServiceKey
    cluster: ClusterKey | None  # installed on a cluster
    sql: SqlKey | None  # or on a SQL instance
    depends: list[tuple[str, ServiceKey]] = field(default_factory=list)  # (Usage, service)
    attrs: dict[str, str] = field(default_factory=dict)  # role-specific element attributes
    edge_fqdns: list[str] = field(default_factory=list)

    @property
    def role(self) -> str:
        return self.key[1]


@dataclass
class Document:
    default_domain: str
    domains: list[str]
    sites: dict[str, tuple[str, str | None]]  # SiteId -> (name, city)
    clusters: dict[ClusterKey, Cluster]
    services: dict[ServiceKey, Service]
    versions: set[str]


def _cluster_key(el: ET.Element | None) -> ClusterKey | None:
    if el is None:
        return None
    return (el.get("SiteId", ""), el.get("Number", ""))


def _service_key(el: ET.Element) -> ServiceKey:
    return (el.get("SiteId", ""), el.get("RoleName", ""), el.get("Instance", ""))


def parse_document(topology: ET.Element) -> Document:
    domains_el = _child(topology, "InternalDomains")
    domains = [d.get("Name", "") for d in _children(domains_el, "InternalDomain")] if domains_el is not None else []
    default = domains_el.get("DefaultDomain", "") if domains_el is not None else ""
    sites: dict[str, tuple[str, str | None]] = {}
    sites_el = _child(topology, "Sites")
    for site in (list(sites_el) if sites_el is not None else []):
        name_el, loc = _child(site, "Name"), _child(site, "Location")
        sites[site.get("SiteId", "")] = ((name_el.text or "").strip() if name_el is not None else "",
                                         loc.get("City") if loc is not None else None)
    clusters: dict[ClusterKey, Cluster] = {}
    for c in _grandchildren(topology, "Clusters", "Cluster"):
        key = _cluster_key(_child(c, "ClusterId"))
        if key is None:
            continue
        machines = sorted(_children(c, "Machine"), key=lambda m: int(m.get("OrdinalInCluster", "0") or 0))
        clusters[key] = Cluster(key, c.get("Fqdn", ""), key[0], [m.get("Fqdn", "") for m in machines])
    services: dict[ServiceKey, Service] = {}
    versions: set[str] = set()
    for s in _grandchildren(topology, "Services", "Service"):
        sid = _child(s, "ServiceId")
        if sid is None:
            continue
        versions.add(s.get("ServiceVersion", ""))
        installed = _child(s, "InstalledOn")
        on_cluster = on_sql = None
        if installed is not None:
            sql_el = _child(installed, "SqlInstanceId")
            if sql_el is not None:
                ck = _cluster_key(_child(sql_el, "ClusterId"))
                on_sql = (ck, sql_el.get("Name", "")) if ck else None
            else:
                on_cluster = _cluster_key(_child(installed, "ClusterId"))
        svc = Service(_service_key(sid), on_cluster, on_sql)
        deps = _child(s, "DependsOn")
        for dep in (_children(deps, "Dependency") if deps is not None else []):
            target = _child(dep, "ServiceId")
            if target is not None:
                svc.depends.append((dep.get("Usage", "Default"), _service_key(target)))
        for el in s:
            name = _local(el.tag)
            if name.endswith("Service") and name != "ServiceId":
                svc.attrs.update({f"{name}.{k}": v for k, v in el.attrib.items()})
            if name == "Ports":
                svc.edge_fqdns += [p.get("ConfiguredFqdn", "") for p in el if p.get("ConfiguredFqdn")]
        services[svc.key] = svc
    return Document(default, domains, sites, clusters, services, versions)


# --------------------------------------------------------------------------- to a plan


@dataclass
class Draft:
    """The plan as plain data (written out as YAML with TODOs) and what needs a person's eye."""

    organisation: str
    sip_domains: list[str]
    sites: list[dict[str, str]] = field(default_factory=list)
    pools: list[dict[str, object]] = field(default_factory=list)
    sql_instances: list[dict[str, str]] = field(default_factory=list)
    file_stores: list[dict[str, str]] = field(default_factory=list)
    cms_pool: str | None = None
    schedule: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _identifier(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "site"
    return clean if clean[0].isalpha() else f"site-{clean}"


class _Builder:
    def __init__(self, doc: Document, organisation: str | None) -> None:
        self.doc = doc
        self.draft = Draft(organisation or doc.default_domain or "TODO organisation name",
                           doc.domains or ([doc.default_domain] if doc.default_domain else []))
        self.sql_ids: dict[SqlKey, str] = {}
        self.fs_ids: dict[ServiceKey, str] = {}
        self.on_cluster: dict[ClusterKey, dict[str, list[Service]]] = defaultdict(lambda: defaultdict(list))
        for svc in doc.services.values():
            if svc.cluster is not None:
                self.on_cluster[svc.cluster][svc.role].append(svc)
        if not organisation:
            self.draft.notes.append(f"organisation.name is the default SIP domain ({self.draft.organisation}): "
                                    "use the name the operators know (--organisation)")

    # -- helpers
    def site(self, site_id: str) -> str:
        name = self.doc.sites.get(site_id, (f"site-{site_id}", None))[0]
        return _identifier(name)

    def service(self, key: ServiceKey) -> Service | None:
        return self.doc.services.get(key)

    def deps(self, svc: Service, role: str) -> list[tuple[str, Service]]:
        found = []
        for usage, key in svc.depends:
            target = self.service(key)
            if target is not None and target.role == role:
                found.append((usage, target))
        return found

    def sql_id(self, key: SqlKey) -> str:
        if key in self.sql_ids:
            return self.sql_ids[key]
        cluster = self.doc.clusters.get(key[0])
        server = cluster.fqdn if cluster else f"cluster-{key[0][0]}-{key[0][1]}"
        base = server.split(".", 1)[0] + (f"-{key[1]}" if key[1] else "")
        ident = _identifier(base)
        while ident in self.sql_ids.values():
            ident += "x"
        self.sql_ids[key] = ident
        entry = {"id": ident, "server": server, "site": self.site(cluster.site_id if cluster else key[0][0])}
        if key[1]:
            entry["instance"] = key[1]
        self.draft.sql_instances.append(entry)
        return ident

    def default_store(self, svc: Service, role: str) -> Service | None:
        """The store ``svc`` uses: its Default dependency of that role, else the first one."""
        found = self.deps(svc, role)
        return next((t for usage, t in found if usage == "Default"), found[0][1] if found else None)

    def store_of(self, svc: Service, role: str) -> str | None:
        """The id of the SQL instance holding the store ``svc`` uses."""
        store = self.default_store(svc, role)
        return self.sql_id(store.sql) if store is not None and store.sql else None

    # -- build
    def build(self) -> Draft:
        d = self.draft
        d.sites = [{"name": self.site(sid), **({"city": city} if city else {})}
                   for sid, (_, city) in sorted(self.doc.sites.items())]
        for sid, (name, _) in self.doc.sites.items():
            if name != self.site(sid):
                d.notes.append(f"site '{name}' is written '{self.site(sid)}' (plan site names are identifiers)")
        if self.doc.versions - {"6", ""}:
            d.notes.append(f"ServiceVersion {', '.join(sorted(self.doc.versions - {'6', ''}))} found: "
                           "Lync 2013 is 6 (T§2.6); check this is a Lync 2013 topology")
        for key, cluster in sorted(self.doc.clusters.items()):
            roles = self.on_cluster.get(key, {})
            pool = self.pool(cluster, roles)
            if pool is not None:
                d.pools.append(pool)
        self.mirrors()
        self.pairing()
        self.cms()
        self.schedule()
        return d

    def pool(self, cluster: Cluster, roles: dict[str, list[Service]]) -> dict[str, object] | None:
        base: dict[str, object] = {"fqdn": cluster.fqdn, "site": self.site(cluster.site_id),
                                   "servers": cluster.machines or [cluster.fqdn]}
        registrar = roles.get("Registrar", [])
        if roles.get("UserServices"):
            us = roles["UserServices"][0]
            user_store = self.default_store(us, "UserStore")
            store_sql = user_store.sql if user_store is not None else None
            standard = (len(cluster.machines) <= 1 and (not cluster.machines or cluster.machines[0].lower()
                                                       == cluster.fqdn.lower())
                        and store_sql is not None and store_sql[0] == cluster.key)  # T§2.10
            base.update(role="front_end", edition="standard" if standard else "enterprise")
            if not standard and store_sql is not None:
                base["back_end"] = self.sql_id(store_sql)
            fs = self.deps(us, "FileStore")
            if fs:
                base["file_store"] = self.file_store(fs[0][1])
            for svc in registrar:
                for role, key in (("MonitoringStore", "monitoring_store"), ("ArchivingStore", "archiving_store")):
                    sql = self.store_of(svc, role)
                    if sql:
                        base[key] = sql
            return base
        if any(s.attrs.get("RegistrarService.IsDirector", "").lower() == "true" for s in registrar):
            return {**base, "role": "director"}
        if roles.get("EdgeServer"):
            edge = roles["EdgeServer"][0]
            hops = [self.doc.clusters[t.cluster] for _, t in self.deps(edge, "Registrar")
                    if t.cluster is not None and t.cluster in self.doc.clusters]
            if hops:
                base["next_hop"] = hops[0].fqdn
            else:
                self.draft.notes.append(f"Edge pool {cluster.fqdn}: no next hop found; set next_hop by hand")
            if edge.edge_fqdns:
                self.draft.notes.append(f"Edge pool {cluster.fqdn}: external FQDN(s) {', '.join(edge.edge_fqdns)} "
                                        "(for the certificates of a rebuild, §6.16)")
            return {**base, "role": "edge"}
        pchat = [s for role, svcs in roles.items() if role.startswith("PersistentChat") for s in svcs]
        if pchat:  # T§2.6: the server role's exact name was never seen
            self.draft.notes.append(f"{cluster.fqdn}: Persistent Chat recognised by a role named "
                                    f"{pchat[0].role} (inferred, T§2.6)")
            store = self.store_of(pchat[0], "PersistentChatStore")
            return {**base, "role": "persistent_chat", **({"persistent_chat_store": store} if store else {})}
        if roles.get("MediationServer"):
            return {**base, "role": "mediation"}
        return None  # SQL, file, Office Web Apps, gateways: not pools of the plan

    def file_store(self, svc: Service) -> str:
        if svc.key in self.fs_ids:
            return self.fs_ids[svc.key]
        cluster = self.doc.clusters.get(svc.cluster) if svc.cluster else None
        ident = f"fs{len(self.fs_ids) + 1}"
        self.fs_ids[svc.key] = ident
        share = svc.attrs.get("FileStoreService.ShareName", "")
        if not share:
            self.draft.notes.append(f"file store {svc.key[1]}-{svc.key[2]} has no ShareName; fill in share")
        self.draft.file_stores.append({"id": ident, "server": cluster.fqdn if cluster else "TODO",
                                       "share": share or "TODO", "site": self.site(svc.key[0])})
        return ident

    def mirrors(self) -> None:
        """T§2.8 (inferred): a second store of the same role on another SQL cluster is the mirror; a
        WitnessStore service the witness: the one the pool's UserServices depends on, else (no such
        dependency) the only WitnessStore when only one Back End is mirrored. Found by structure, not by
        the Usage string."""
        by_id = {e["id"]: e for e in self.draft.sql_instances}
        matched: set[ServiceKey] = set()
        for pool in self.draft.pools:
            if pool.get("role") != "front_end" or "back_end" not in pool:
                continue
            cluster = next(c for c in self.doc.clusters.values() if c.fqdn == pool["fqdn"])
            us = self.on_cluster[cluster.key]["UserServices"][0]
            stores = [t for _, t in self.deps(us, "UserStore") if t.sql is not None]
            principal = by_id[str(pool["back_end"])]
            others = [t for t in stores if t.sql is not None and self.sql_id(t.sql) != principal["id"]]
            if others and others[0].sql is not None:
                mirror = self.sql_id(others[0].sql)
                principal["mirror"] = mirror
                self.draft.notes.append(f"{principal['id']} mirrored to {mirror}: inferred from a second "
                                        "UserStore on another SQL server (T§2.8); confirm in Topology Builder")
            witness = next((t for _, t in self.deps(us, "WitnessStore") if t.sql is not None), None)
            if witness is not None and witness.sql is not None and "mirror" in principal:
                principal["witness"] = self.sql_id(witness.sql)
                matched.add(witness.key)
                self.draft.notes.append(f"{principal['id']} witness {principal['witness']}: inferred from the "
                                        "WitnessStore its pool depends on (T§2.8); confirm")
        witnesses = [s for s in self.doc.services.values() if s.role == "WitnessStore" and s.sql is not None
                     and s.key not in matched]
        unmatched = [e for e in self.draft.sql_instances if "mirror" in e and "witness" not in e]
        if witnesses and not matched and len(unmatched) == 1 and witnesses[0].sql is not None:
            unmatched[0]["witness"] = self.sql_id(witnesses[0].sql)
            self.draft.notes.append(f"{unmatched[0]['id']} witness {unmatched[0]['witness']}: inferred from a "
                                    "WitnessStore service (T§2.8); confirm")
        elif witnesses:
            self.draft.notes.append("WitnessStore services found but not matched to a mirror; set witness by hand")

    def pairing(self) -> None:
        """T§5 item 3 (inferred): a Registrar -> Registrar dependency across clusters is a pairing."""
        fqdn_of = {k: c.fqdn for k, c in self.doc.clusters.items()}
        pools = {p["fqdn"]: p for p in self.draft.pools}
        for svc in self.doc.services.values():
            if svc.role != "Registrar" or svc.cluster is None:
                continue
            for _, target in self.deps(svc, "Registrar"):
                if target.cluster and target.cluster != svc.cluster:
                    a, b = fqdn_of.get(svc.cluster), fqdn_of.get(target.cluster)
                    if a in pools and b in pools:
                        pools[a]["paired_with"], pools[b]["paired_with"] = b, a
                        self.draft.notes.append(f"{a} paired with {b}: inferred (T§2.8); confirm "
                                                "with Get-CsPoolBackupRelationship")
        if not any("paired_with" in p for p in self.draft.pools) and len(self.draft.pools) > 1:
            self.draft.notes.append("no pool pairing found: the topology's encoding of it was never seen "
                                    "(T§2.8); set paired_with by hand where pools are paired")

    def cms(self) -> None:
        active = [s for s in self.doc.services.values()
                  if s.role == "CentralMgmt" and s.attrs.get("CentralMgmtService.IsActive", "").lower() == "true"]
        cluster = self.doc.clusters.get(active[0].cluster) if active and active[0].cluster else None
        if active and cluster is not None:
            self.draft.cms_pool = cluster.fqdn
            # looked up, not added: a Standard Edition server's own rtc instance (T§2.10) is no plan SQL instance
            store = self.default_store(active[0], "CentralMgmtStore")
            pool = next((p for p in self.draft.pools if p["fqdn"] == self.draft.cms_pool), None)
            if store is not None and store.sql is not None and pool is not None \
                    and pool.get("edition") == "enterprise" and self.sql_ids.get(store.sql) != pool.get("back_end"):
                where = self.doc.clusters[store.sql[0]].fqdn if store.sql[0] in self.doc.clusters else "?"
                self.draft.notes.append(f"the CMS store is on {where}, not on {pool['fqdn']}'s Back End "
                                        f"{pool.get('back_end')}: the plan assumes the Back End; check")
        else:
            self.draft.notes.append("no active CentralMgmt service found: set central_management.pool by hand")

    def schedule(self) -> None:
        pools = self.draft.pools
        every = [("config", "24h"), ("lis", "24h"), ("user_data", "24h")]
        if self.draft.file_stores:
            every.append(("file_store", "24h"))
        if any(p.get("role") == "persistent_chat" for p in pools):
            every.append(("persistent_chat", "24h"))
        if any("monitoring_store" in p for p in pools):
            every.append(("monitoring", "7d"))
        if any("archiving_store" in p for p in pools):
            every.append(("archiving", "7d"))
        self.draft.schedule = every
        self.draft.notes.append("backup.schedule is a starting point (§2.5): set it to what your backup "
                                "job really does; add rgs for pools with Response Group workflows")


def draft_plan(topology: ET.Element, organisation: str | None = None) -> Draft:
    return _Builder(parse_document(topology), organisation).build()


# --------------------------------------------------------------------------- writing


def _q(value: object) -> str:
    text = str(value)
    return text if _SAFE_SCALAR.match(text) and text.lower() not in ("true", "false", "null", "yes", "no") \
        else json.dumps(text)


def render_yaml(d: Draft, source: str) -> str:
    """The draft as a plan file, with comments; TODO values fail validation on purpose."""
    out = [f"# Draft plan from {Path(source).name} (lync-restore plan from-topology).",
           "# Fill in every TODO, review every line marked 'review', then: lync-restore validate FILE.",
           "version: 1", "organisation:", f"  name: {_q(d.organisation)}  # review",
           "  sip_domains: [" + ", ".join(_q(x) for x in d.sip_domains) + "]", "", "topology:", "  sites:"]
    for s in d.sites:
        out.append(f"    - name: {_q(s['name'])}" + (f"\n      city: {_q(s['city'])}" if "city" in s else ""))
    if d.sql_instances:
        out.append("  sql_instances:")
        for e in d.sql_instances:
            out.append(f"    - id: {_q(e['id'])}")
            for k in ("server", "instance", "site", "mirror", "witness"):
                if k in e:
                    review = "  # inferred: review" if k in ("mirror", "witness") else ""
                    out.append(f"      {k}: {_q(e[k])}{review}")
    if d.file_stores:
        out.append("  file_stores:")
        for f in d.file_stores:
            out.append(f"    - id: {_q(f['id'])}")
            out += [f"      {k}: {_q(f[k])}" for k in ("server", "share", "site")]
    out.append("  pools:")
    for p in d.pools:
        out.append(f"    - fqdn: {_q(p['fqdn'])}")
        for k in ("role", "edition", "site"):
            if k in p:
                out.append(f"      {k}: {_q(p[k])}")
        servers = p["servers"]
        assert isinstance(servers, list)
        out.append("      servers: [" + ", ".join(_q(s) for s in servers) + "]  # review: the order they "
                   "were first started (§5.4)" if len(servers) > 1 else "      servers: [" + _q(servers[0]) + "]")
        for k in ("back_end", "file_store", "monitoring_store", "archiving_store", "persistent_chat_store",
                  "next_hop", "paired_with"):
            if k in p:
                out.append(f"      {k}: {_q(p[k])}" + ("  # inferred: review" if k == "paired_with" else ""))
    out += ["  central_management:", f"    pool: {_q(d.cms_pool or 'TODO')}", "",
            "backup:", "  locations: []  # TODO: at least one: name, unc (\\\\server\\share), and local_path or "
            "read_via", "  schedule:  # review (§2.5)"]
    out += [f"    - {{component: {c}, every: {e}}}" for c, e in d.schedule]
    out += ["", "objectives:", "  rpo: TODO  # how much data (in time) the business may lose, e.g. 24h",
            "  rto: TODO  # how long restoring service may take, e.g. 4h", "",
            "credentials:", "  entries:",
            "    - id: admin", "      username: TODO  # DOMAIN\\account, a member of RTCUniversalServerAdmins (§10)",
            "      source: TODO  # prompt (asked once per incident), env (+ env: VARIABLE) or keyring",
            "  winrm_default: admin", ""]
    if d.notes:
        out.append("# Notes from the topology (check each):")
        out += [f"# - {n}" for n in d.notes]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- commands


def from_topology_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    topology = read_topology(args.file)
    draft = draft_plan(topology, getattr(args, "organisation", None))
    text = render_yaml(draft, args.file)
    target = getattr(args, "output", None)
    err = sys.stderr
    if target:
        Path(target).write_text(text, encoding="utf-8")
        print(f"wrote {target}: {len(draft.pools)} pools, {len(draft.sql_instances)} SQL instances, "
              f"{len(draft.file_stores)} file stores; fill in the TODOs, then lync-restore validate {target}",
              file=err)
    else:
        (out or sys.stdout).write(text)
    for note in draft.notes:
        print(f"note: {note}", file=err)
    return ExitCode.OK


@dataclass(frozen=True)
class Difference:
    subject: str  # "pool pool01.example.test", "CMS", "SIP domains"
    text: str
    inferred: bool = False  # a side that is a topology was inferred (T§2.8): a hint, not a certainty
    sides: str = "topology side"  # which side was inferred, for the line

    def __str__(self) -> str:
        return f"{self.subject}: {self.text}" + (f" ({self.sides} inferred, T§2.8)" if self.inferred else "")


@dataclass
class Side:
    """One side of ``plan diff``: a plan, or a topology export read into a draft, reduced to what both can
    say, keyed by FQDNs and server names (never by a plan's own ids)."""

    short: str  # "plan", "topology", "old", "new"
    long: str  # "the plan", "the topology", "the old export"
    from_topology: bool  # its T§2.8 facts (mirror, witness, pairing) are inferred
    sip_domains: list[str]
    pools: dict[str, dict[str, object]]  # fqdn -> facts
    cms: str | None


def _label(server: str, instance: str | None) -> str:
    return f"{server}\\{instance}".lower() if instance else server.lower()


def side_of_plan(plan: Plan, short: str = "plan", long: str = "the plan") -> Side:
    sql = {s.id: s for s in plan.topology.sql_instances}
    fs = {f.id: f"\\\\{f.server}\\{f.share}".lower() for f in plan.topology.file_stores}

    def label(ident: str | None) -> str | None:
        return _label(sql[ident].server, sql[ident].instance) if ident and ident in sql else None

    pools: dict[str, dict[str, object]] = {}
    for p in plan.topology.pools:
        be = sql.get(p.back_end or "")
        pools[p.fqdn.lower()] = {
            "role": p.role, "edition": p.edition if p.role == "front_end" else None,
            "servers": {s.lower() for s in p.servers}, "Back End": label(p.back_end),
            "Back End mirror": label(be.mirror) if be else None, "Back End witness": label(be.witness) if be else None,
            "Monitoring store": label(p.monitoring_store), "Archiving store": label(p.archiving_store),
            "file store": fs.get(p.file_store or ""), "next hop": (p.next_hop or "").lower() or None,
            "paired with": (p.paired_with or "").lower() or None}
    return Side(short, long, False, list(plan.organisation.sip_domains), pools,
                plan.topology.central_management.pool.lower())


def side_of_draft(draft: Draft, short: str = "topology", long: str = "the topology") -> Side:
    sql = {e["id"]: e for e in draft.sql_instances}
    fs = {f["id"]: f"\\\\{f['server']}\\{f['share']}".lower() for f in draft.file_stores}

    def label(ident: object) -> str | None:
        e = sql.get(str(ident)) if ident else None
        return _label(e["server"], e.get("instance")) if e else None

    pools: dict[str, dict[str, object]] = {}
    for p in draft.pools:
        be = sql.get(str(p.get("back_end", "")))
        servers = p["servers"]
        assert isinstance(servers, list)
        pools[str(p["fqdn"]).lower()] = {
            "role": p["role"], "edition": p.get("edition"), "servers": {str(s).lower() for s in servers},
            "Back End": label(p.get("back_end")), "Back End mirror": label(be.get("mirror")) if be else None,
            "Back End witness": label(be.get("witness")) if be else None,
            "Monitoring store": label(p.get("monitoring_store")), "Archiving store": label(p.get("archiving_store")),
            "file store": fs.get(str(p.get("file_store", ""))), "next hop": str(p.get("next_hop", "")).lower() or None,
            "paired with": str(p.get("paired_with", "")).lower() or None}
    return Side(short, long, True, list(draft.sip_domains), pools, draft.cms_pool.lower() if draft.cms_pool else None)


#: Facts compared per pool, and whether a topology can only infer them (T§2.8).
_FACTS = (("Back End", False), ("Monitoring store", False), ("Archiving store", False), ("file store", False),
          ("next hop", False), ("paired with", True), ("Back End mirror", True), ("Back End witness", True))


def diff_sides(a: Side, b: Side) -> list[Difference]:
    """What ``a`` says that ``b`` does not, and the reverse, one line each. Between a plan and a topology an
    inferred fact (T§2.8) the topology does not show is no evidence (the encoding was never seen); between
    two topology exports it is, since both were read the same way."""
    out: list[Difference] = []
    one_sided = a.from_topology != b.from_topology
    sides = "topology side" if one_sided else "both sides"
    if sorted(map(str.lower, a.sip_domains)) != sorted(map(str.lower, b.sip_domains)):
        out.append(Difference("SIP domains", f"{a.short} {', '.join(a.sip_domains)}; "
                                             f"{b.short} {', '.join(b.sip_domains)}"))
    for fqdn in sorted(a.pools.keys() - b.pools.keys()):
        out.append(Difference(f"pool {fqdn}", f"in {a.long}, not in {b.long}"))
    for fqdn in sorted(b.pools.keys() - a.pools.keys()):
        out.append(Difference(f"pool {fqdn}", f"in {b.long} ({b.pools[fqdn]['role']}), not in {a.long}"))
    for fqdn in sorted(a.pools.keys() & b.pools.keys()):
        x, y, subject = a.pools[fqdn], b.pools[fqdn], f"pool {fqdn}"
        if x["role"] != y["role"]:
            out.append(Difference(subject, f"role: {a.short} {x['role']}, {b.short} {y['role']}"))
        if x["role"] == "front_end" and x["edition"] and y["edition"] and x["edition"] != y["edition"]:
            out.append(Difference(subject, f"edition: {a.short} {x['edition']}, {b.short} {y['edition']}"))
        xs, ys = x["servers"], y["servers"]
        assert isinstance(xs, set) and isinstance(ys, set)
        if xs - ys:
            out.append(Difference(subject, f"servers in {a.long} only: {', '.join(sorted(xs - ys))}"))
        if ys - xs:
            out.append(Difference(subject, f"servers in {b.long} only: {', '.join(sorted(ys - xs))}"))
        for what, inferred in _FACTS:
            u, v = x[what], y[what]
            if u == v:
                continue
            if inferred and one_sided and (v if b.from_topology else u) is None:
                continue  # an inference the topology does not make is no evidence (T§2.8)
            out.append(Difference(subject, f"{what}: {a.short} {u or 'none'}, {b.short} {v or 'none'}",
                                  inferred, sides))
    if a.cms and b.cms and a.cms != b.cms:
        out.append(Difference("CMS", f"{a.short} {a.cms}, {b.short} {b.cms}"))
    return out


def diff_plan(plan: Plan, draft: Draft) -> list[Difference]:
    """What the plan says that the published topology does not (and the reverse), compared by FQDNs
    and server names, never by the plan's own ids."""
    return diff_sides(side_of_plan(plan), side_of_draft(draft))


def is_topology_export(path: str | Path) -> bool:
    """A topology export (XML, UTF-8 or UTF-16, or an Export-CsConfiguration zip), told from a plan (YAML) by
    its suffix, else by its first bytes (T§2.1, T§3)."""
    p = Path(path)
    if p.suffix.lower() in (".xml", ".zip", ".tbxml"):
        return True
    if p.suffix.lower() in (".yaml", ".yml"):
        return False
    try:
        with p.open("rb") as fh:
            head = fh.read(64)
    except OSError:
        return False
    if head.startswith(b"PK\x03\x04") or head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def plan_diff_command(args: argparse.Namespace) -> int:
    """``plan diff OLD NEW``: each a plan (YAML) or a topology export (XML or zip). Exit 0 when they
    describe the same topology, 1 when they do not (one line per difference)."""
    from wizard.plan import load_plan

    old_path, new_path = args.plan, args.file
    old_is_top, new_is_top = is_topology_export(old_path), is_topology_export(new_path)
    plans = {path: load_plan(path).plan for path, top in ((old_path, old_is_top), (new_path, new_is_top)) if not top}
    organisation = next((p.organisation.name for p in plans.values()), None)

    def side(path: str, top: bool, which: str) -> Side:
        both_same = old_is_top == new_is_top
        short = which if both_same else ("topology" if top else "plan")
        long = f"the {which} {'export' if top else 'plan'}" if both_same else f"the {short}"
        if top:
            return side_of_draft(draft_plan(read_topology(path), organisation), short, long)
        return side_of_plan(plans[path], short, long)

    found = diff_sides(side(old_path, old_is_top, "old"), side(new_path, new_is_top, "new"))
    for d in found:
        print(d)
    certain = [d for d in found if not d.inferred]
    print(f"{old_path} against {new_path}: " + (f"{len(found)} difference(s)" if found else "no differences")
          + (f", {len(found) - len(certain)} of them on inferred topology facts" if len(found) != len(certain)
             else ""))
    return ExitCode.FAILED if found else ExitCode.OK
