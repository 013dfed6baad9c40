"""The published topology as Lync keeps it and writes it out (``Get-CsTopology -AsXml``,
``Publish-CsTopology``, the topology inside an ``Export-CsConfiguration`` zip).

References ``T§n`` are to ``shared/domain/lync2013-topology-xml.md``, the only source for the
document's structure. The Central Management store holds the topology as a plain dict (the ``topology``
key of the configuration in ``xds``, :func:`topology_of_plan` builds the first one from a plan). This
module renders that dict in the published format of T§2 and reads such a document back, the way
Lync's own cmdlets do: a lab answer to "what would Lync write?", not to "what does the wizard need?".

What the dict holds (every SQL reference is the instance key ``server\\instance``, lower case; the
default instance is the server alone):

- ``sip_domains``; ``sites`` (``name``, ``city``) in SiteId order (T§2.3);
- ``sql_instances`` (``server``, ``instance``, ``site``) (T§2.5), including a Standard Edition
  server's own ``rtc`` instance (T§2.10); ``file_stores`` (``server``, ``share``, ``site``) (T§2.7);
- ``pools``: ``fqdn``, ``role``, ``site``, ``servers`` (ordinal order, T§2.4), and as the role has them
  ``edition``, ``back_end``/``mirror``/``witness``, ``file_store`` (a UNC path),
  ``monitoring_store``, ``archiving_store``, ``persistent_chat_store``, ``paired_with``;
- ``central_management`` (the active CMS pool, T§2.8) and ``edge_next_hop`` (Edge pool -> Front End
  pool or Director, T§2.6);
- and what the lab keeps beside them that T§2 does not describe (``federation_edge``, ``edge_media``,
  ``enabled``): carried through a publish unchanged (:data:`NOT_IN_DOCUMENT`).

Where T§2.8 says the encoding was never seen (SQL mirror, witness, pool pairing), the lab writes the
document's own guess and says so: a mirror is a second store ``Service`` of the same role on the mirror
instance, depended on with ``Usage="Mirror"`` (the T§4 fixture's guess); the witness a ``WitnessStore``
service depended on with ``Usage="Witness"``; a pairing a ``Registrar`` -> ``Registrar`` dependency
across clusters (T§5 item 3) with ``Usage="BackupRegistrar"`` (named after ``Set-CsRegistrar
-BackupRegistrar``, T§2.8). Each of these is the lab's choice, not a fact about Lync. Not written: the
Backup Service role of a paired pool (its RoleName is not in T§2.8), the mirroring port, Edge IP
addresses and external FQDNs (the plan has none), Office Web Apps and PSTN gateways (not in plans).
"""

from __future__ import annotations

import copy
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import quoteattr

from wizard.plan.model import Plan

if TYPE_CHECKING:
    from lab.model import LabDeployment

NS = "urn:schema:Microsoft.Rtc.Management.Deploy.Topology.2008"
ROLES_NS = "urn:schema:Microsoft.Rtc.Management.Deploy.ServiceRoles.2008"
#: T§2.6: Lync 2013 services carry ServiceVersion 6.
SERVICE_VERSION = "6"
#: Keys of the held topology that the published document does not carry (T§2 has no element for
#: them): a publish keeps what the store holds.
NOT_IN_DOCUMENT = ("federation_edge", "edge_media", "enabled")
#: The lab's guesses for what T§2.8 never saw (see the module docstring).
MIRROR, WITNESS, BACKUP_REGISTRAR = "Mirror", "Witness", "BackupRegistrar"
#: T§2.6: the Persistent Chat server role's name was never seen; the document's own guess.
PCHAT_ROLE = "PersistentChatService"
_ROLE_ELEMENT = {"Registrar": "RegistrarService", "FileStore": "FileStoreService",
                 "CentralMgmt": "CentralMgmtService"}


class TopologyDocumentError(Exception):
    """The document is not a topology Publish-CsTopology can read; ``str()`` is one sentence."""


def sql_key(server: str, instance: str | None) -> str:
    """The lab's instance key (as :func:`lab.model.instance_key`)."""
    return f"{server.lower()}\\{instance.lower()}" if instance else server.lower()


# --------------------------------------------------------------------------- from a plan


def topology_of_plan(plan: Plan) -> dict[str, Any]:
    """The topology a deployment built from ``plan`` has published (the first one in its CMS)."""
    top = plan.topology
    sql = {s.id: s for s in top.sql_instances}
    fs = {f.id: f for f in top.file_stores}

    def key(sql_id: str) -> str:
        return sql_key(sql[sql_id].server, sql[sql_id].instance)

    instances: list[dict[str, Any]] = [
        {"server": s.server.lower(), **({"instance": s.instance.lower()} if s.instance else {}), "site": s.site}
        for s in top.sql_instances]
    pools: list[dict[str, Any]] = []
    for p in top.pools:
        entry: dict[str, Any] = {"fqdn": p.fqdn.lower(), "role": p.role, "site": p.site,
                                 "servers": [s.lower() for s in p.servers]}
        if p.role == "front_end":
            entry["edition"] = p.edition
            if p.edition == "standard":  # T§2.10: the SE server's own instance named rtc
                entry["back_end"] = sql_key(p.fqdn, "rtc")
                instances.append({"server": p.fqdn.lower(), "instance": "rtc", "site": p.site})
            elif p.back_end:
                entry["back_end"] = key(p.back_end)
                if sql[p.back_end].mirror:
                    entry["mirror"] = key(str(sql[p.back_end].mirror))
                if sql[p.back_end].witness:
                    entry["witness"] = key(str(sql[p.back_end].witness))
        if p.file_store:
            entry["file_store"] = f"\\\\{fs[p.file_store].server.lower()}\\{fs[p.file_store].share}"
        for attr in ("monitoring_store", "archiving_store", "persistent_chat_store"):
            if getattr(p, attr):
                entry[attr] = key(getattr(p, attr))
        if p.paired_with:
            entry["paired_with"] = p.paired_with.lower()
        pools.append(entry)
    return {
        "signature": str(uuid.uuid5(uuid.NAMESPACE_URL, f"lab-topology:{plan.organisation.name}")),
        "sip_domains": list(plan.organisation.sip_domains),
        "sites": [{"name": s.name, **({"city": s.city} if s.city else {})} for s in top.sites],
        "sql_instances": instances,
        "file_stores": [{"server": f.server.lower(), "share": f.share, "site": f.site} for f in top.file_stores],
        "pools": pools,
        "central_management": top.central_management.pool.lower(),
        "edge_next_hop": {p.fqdn.lower(): (p.next_hop or "").lower() for p in top.pools if p.role == "edge"},
    }


def published_topology(dep: LabDeployment) -> dict[str, Any] | None:
    """The topology the CMS holds now, as Get-CsTopology and Export-CsConfiguration give it: the held
    dict, with the CMS master where it is now (Move-CsManagementServer, Invoke-CsManagementServerFailover)
    and each pool's Back End, mirror and witness as Topology Builder last published them (the lab's hands
    record those changes in ``store_override``/``mirror_override``/``witness_override``). None without
    a readable CMS."""
    cfg = dep.cms_config()
    if cfg is None:
        return None
    held: dict[str, Any] = cfg.get("topology", {})
    if not isinstance(held.get("sites"), list):  # a store written before the lab held the whole topology
        held = {**topology_of_plan(dep.plan), **{k: v for k, v in held.items() if k != "pools"}}
    topo = copy.deepcopy(held)
    topo["central_management"] = dep.cms_pool
    known = {sql_key(i["server"], i.get("instance")) for i in topo.get("sql_instances", [])}
    for pool in topo.get("pools", []):
        fqdn = pool["fqdn"]
        for attr, overrides in (("back_end", dep.store_override), ("mirror", dep.mirror_override),
                                ("witness", dep.witness_override)):
            if fqdn not in overrides:
                continue
            key = overrides[fqdn]
            pool.pop(attr, None)
            if key is None:
                continue
            pool[attr] = key
            if key not in known:
                server, _, instance = key.partition("\\")
                srv = dep.servers.get(server)
                topo.setdefault("sql_instances", []).append(
                    {"server": server, **({"instance": instance} if instance else {}),
                     "site": srv.site if srv is not None else pool.get("site", "")})
                known.add(key)
    return topo


# --------------------------------------------------------------------------- writing (T§2)

ClusterKey = tuple[int, int]
ServiceKey = tuple[int, str, int]


@dataclass
class _Cluster:
    key: ClusterKey
    fqdn: str
    lync: bool
    machines: list[str] = field(default_factory=list)
    edge: bool = False


@dataclass
class _Service:
    key: ServiceKey
    on: ClusterKey
    sql_instance: str | None = None  # installed on a SqlInstance of the cluster (its name)
    depends: list[tuple[str, ServiceKey]] = field(default_factory=list)
    element: dict[str, str] | None = None  # the role-specific element's attributes


class _Writer:
    def __init__(self, topo: dict[str, Any], cms_pool: str) -> None:
        self.topo = topo
        self.cms_pool = cms_pool.lower()
        self.site_ids = {s["name"]: i + 1 for i, s in enumerate(topo.get("sites", []))}
        self.clusters: dict[str, _Cluster] = {}
        self.numbers: dict[int, int] = defaultdict(int)
        self.instances: dict[str, tuple[ClusterKey, str]] = {}  # sql key -> (cluster, name)
        self.services: list[_Service] = []
        self.counters: dict[tuple[int, str], int] = defaultdict(int)
        self.stores: dict[tuple[str, str], ServiceKey] = {}  # (role, sql key) -> service
        self.file_services: dict[str, ServiceKey] = {}  # UNC -> FileStore service

    def site_id(self, site: str) -> int:
        return self.site_ids.get(site, 1)

    def cluster(self, fqdn: str, site: str, *, lync: bool) -> _Cluster:
        fqdn = fqdn.lower()
        if fqdn not in self.clusters:
            sid = self.site_id(site)
            self.numbers[sid] += 1
            self.clusters[fqdn] = _Cluster((sid, self.numbers[sid]), fqdn, lync)
        return self.clusters[fqdn]

    def service(self, role: str, on: _Cluster, *, sql_instance: str | None = None,
                element: dict[str, str] | None = None) -> _Service:
        self.counters[(on.key[0], role)] += 1
        svc = _Service((on.key[0], role, self.counters[(on.key[0], role)]), on.key, sql_instance, element=element)
        self.services.append(svc)
        return svc

    def store(self, role: str, key: str) -> ServiceKey:
        """One store service of ``role`` per SQL instance (T§2.5: stores are services on a SqlInstance)."""
        if (role, key) not in self.stores:
            cluster_key, name = self.instances[key]
            on = next(c for c in self.clusters.values() if c.key == cluster_key)
            self.stores[(role, key)] = self.service(role, on, sql_instance=name).key
        return self.stores[(role, key)]

    def stores_of(self, role: str, pool: dict[str, Any], *, witness: bool = False) -> list[tuple[str, ServiceKey]]:
        """The Default store on the Back End, its mirror copy and (``witness``) the witness store."""
        out = [("Default", self.store(role, pool["back_end"]))]
        if pool.get("mirror") in self.instances:
            out.append((MIRROR, self.store(role, pool["mirror"])))
        if witness and pool.get("witness") in self.instances:
            out.append((WITNESS, self.store("WitnessStore", pool["witness"])))
        return out

    def build(self) -> None:
        pools = [p for p in self.topo.get("pools", []) if isinstance(p, dict)]
        for pool in pools:  # T§2.4: one cluster per pool, machines in ordinal order
            cluster = self.cluster(pool["fqdn"], pool.get("site", ""), lync=True)
            cluster.machines, cluster.edge = list(pool.get("servers", [])), pool.get("role") == "edge"
        for inst in self.topo.get("sql_instances", []):  # T§2.5: the SQL server's cluster
            cluster = self.cluster(inst["server"], inst.get("site", ""), lync=False)
            if not cluster.machines:
                cluster.machines = [cluster.fqdn]
            self.instances[sql_key(inst["server"], inst.get("instance"))] = (cluster.key, inst.get("instance", ""))
        for store in self.topo.get("file_stores", []):  # T§2.7
            cluster = self.cluster(store["server"], store.get("site", ""), lync=False)
            if not cluster.machines:
                cluster.machines = [cluster.fqdn]
            unc = f"\\\\{store['server'].lower()}\\{store['share']}"
            if unc not in self.file_services:
                self.file_services[unc] = self.service("FileStore", cluster,
                                                       element={"ShareName": store["share"]}).key
        registrars: dict[str, _Service] = {}
        edges: dict[str, _Service] = {}
        for pool in pools:
            cluster = self.clusters[pool["fqdn"].lower()]
            if pool["role"] in ("front_end", "director"):
                registrars[pool["fqdn"]] = self.service(
                    "Registrar", cluster, element={"IsDirector": "true" if pool["role"] == "director" else "false"})
            elif pool["role"] == "edge":
                edges[pool["fqdn"]] = self.service("EdgeServer", cluster)
        for pool in pools:
            self.pool_services(pool, registrars, edges)

    def pool_services(self, pool: dict[str, Any], registrars: dict[str, _Service],
                      edges: dict[str, _Service]) -> None:
        """T§2.6: a pool's role is the set of services installed on its cluster."""
        cluster = self.clusters[pool["fqdn"].lower()]
        fqdn, role = pool["fqdn"], pool["role"]
        fs = self.file_services.get(pool.get("file_store") or "")
        if role == "front_end":
            user = self.service("UserServices", cluster)
            web = self.service("WebServices", cluster)
            conf = self.service("ConfServices", cluster)
            app = self.service("ApplicationServer", cluster)
            if pool.get("back_end") in self.instances:
                user.depends += self.stores_of("UserStore", pool, witness=True)
                app.depends += self.stores_of("ApplicationStore", pool)
            if fs is not None:
                user.depends.append(("Default", fs))
                web.depends.append(("Default", fs))
            user.depends.append(("Default", conf.key))
            web.depends.append(("Default", user.key))
            reg = registrars[fqdn]
            reg.depends += [("Default", user.key), ("Default", web.key)]
            reg.depends += [("Default", edge.key) for name, edge in edges.items()
                            if self.topo.get("edge_next_hop", {}).get(name) == fqdn]
            for attr, store_role in (("monitoring_store", "MonitoringStore"), ("archiving_store", "ArchivingStore")):
                if pool.get(attr) in self.instances:
                    reg.depends.append(("Default", self.store(store_role, pool[attr])))
            partner = registrars.get(pool.get("paired_with") or "")
            if partner is not None:
                reg.depends.append((BACKUP_REGISTRAR, partner.key))
            self.central_management(pool, cluster, fs)
        elif role == "director":
            web = self.service("WebServices", cluster)
            registrars[fqdn].depends.append(("Default", web.key))
        elif role == "edge":
            hop = registrars.get(self.topo.get("edge_next_hop", {}).get(fqdn) or "")
            if hop is not None:
                edges[fqdn].depends.append(("Default", hop.key))
            self.service("ManagementServices", cluster)
        elif role == "mediation":
            self.service("MediationServer", cluster)
        elif role == "persistent_chat":
            chat = self.service(PCHAT_ROLE, cluster)
            if pool.get("persistent_chat_store") in self.instances:
                for store_role in ("PersistentChatStore", "PersistentChatComplianceStore"):
                    chat.depends.append(("Default", self.store(store_role, pool["persistent_chat_store"])))

    def central_management(self, pool: dict[str, Any], cluster: _Cluster, fs: ServiceKey | None) -> None:
        """T§2.8: the active CentralMgmt on the CMS pool; a backup one (IsActive false) on its paired pool."""
        fqdn = pool["fqdn"]
        cms = next((p for p in self.topo.get("pools", []) if isinstance(p, dict) and p["fqdn"] == self.cms_pool),
                   None)
        if fqdn == self.cms_pool:
            active = "true"
        elif cms is not None and cms.get("paired_with") == fqdn and pool.get("paired_with") == self.cms_pool:
            active = "false"
        else:
            return
        svc = self.service("CentralMgmt", cluster, element={"IsActive": active})
        if pool.get("back_end") in self.instances:
            svc.depends += self.stores_of("CentralMgmtStore", pool)
        if fs is not None:
            svc.depends.append(("Default", fs))

    # -- text
    def text(self) -> str:
        t = self.topo
        domains = t.get("sip_domains", [])
        out = [f'<Topology xmlns="{NS}" Signature={quoteattr(str(t.get("signature", "")))}>',
               f'  <InternalDomains AllowAllDomains="false" DefaultDomain={quoteattr(domains[0] if domains else "")}>']
        out += [f'    <InternalDomain Name={quoteattr(d)} Authoritative="false" AllowSubDomains="false" />'
                for d in domains]
        out += ["  </InternalDomains>", "  <Sites>"]
        for s in t.get("sites", []):
            city = f"<Location City={quoteattr(s['city'])} />" if s.get("city") else ""
            out.append(f'    <CentralSite SiteId="{self.site_ids[s["name"]]}"><Name>{_esc(s["name"])}</Name>{city}'
                       "</CentralSite>")
        out += ["  </Sites>", "  <Clusters>"]
        for c in self.clusters.values():
            out += self.cluster_text(c)
        out += ["  </Clusters>", "  <SqlInstances>"]
        for cluster_key, name in self.instances.values():
            out.append(f"    <SqlInstance><SqlInstanceId Name={quoteattr(name)}>{_cid(cluster_key)}</SqlInstanceId>"
                       "</SqlInstance>")
        out += ["  </SqlInstances>", "  <Services>"]
        for svc in self.services:
            out += self.service_text(svc)
        out += ["  </Services>", "</Topology>"]
        return "\r\n".join(out) + "\r\n"

    def cluster_text(self, c: _Cluster) -> list[str]:
        flag = "true" if c.lync else "false"
        out = [f'    <Cluster RequiresReplication="{flag}" RequiresSetup="{flag}" Fqdn={quoteattr(c.fqdn)}>',
               f"      {_cid(c.key)}"]
        single = len(c.machines) == 1 and c.machines[0] == c.fqdn
        for n, machine in enumerate(c.machines, start=1):
            if not c.lync:  # T§2.4: SQL and file clusters: one Machine with just its Fqdn
                out.append(f'      <Machine OrdinalInCluster="{n}" Fqdn={quoteattr(machine)} />')
                continue
            fault = machine if single else f"FaultDomain{n}"
            upgrade = machine if single else f"UpgradeDomain{n}"
            machine_el = (f'      <Machine OrdinalInCluster="{n}" Fqdn={quoteattr(machine)} '
                          f"FaultDomain={quoteattr(fault)} UpgradeDomain={quoteattr(upgrade)}")
            if c.edge:  # T§2.4: an Edge's interfaces carry its real addresses, which the lab does not have
                out.append(machine_el + " />")
                continue
            out += [machine_el + ">",
                    '        <NetInterface InterfaceSide="Primary" InterfaceNumber="1" IPAddress="0.0.0.0" />',
                    '        <NetInterface InterfaceSide="External" InterfaceNumber="1" IPAddress="0.0.0.0" />',
                    "      </Machine>"]
        out.append("    </Cluster>")
        return out

    def service_text(self, svc: _Service) -> list[str]:
        role = svc.key[1]
        version = "2" if role in ("UserServices", "Registrar", "EdgeServer") else "1"
        element = _ROLE_ELEMENT.get(role)
        kind = f' Type="Microsoft.Rtc.Management.Deploy.Internal.ServiceRoles.{element}"' if element else ""
        out = [f'    <Service RoleVersion="{version}" ServiceVersion="{SERVICE_VERSION}"{kind}>',
               f"      {_sid(svc.key)}"]
        if svc.depends:
            out.append("      <DependsOn>")
            out += [f"        <Dependency Usage={quoteattr(usage)}>{_sid(target)}</Dependency>"
                    for usage, target in svc.depends]
            out.append("      </DependsOn>")
        else:
            out.append("      <DependsOn />")
        where = (f"<SqlInstanceId Name={quoteattr(svc.sql_instance)}>{_cid(svc.on)}</SqlInstanceId>"
                 if svc.sql_instance is not None else _cid(svc.on))
        out += [f"      <InstalledOn>{where}</InstalledOn>", f'      <Ports xmlns="{ROLES_NS}" />']
        if element and svc.element is not None:
            attrs = " ".join(f"{k}={quoteattr(v)}" for k, v in svc.element.items())
            out.append(f'      <{element} xmlns="{ROLES_NS}" {attrs} />')
        out.append("    </Service>")
        return out


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cid(key: ClusterKey) -> str:
    return f'<ClusterId SiteId="{key[0]}" Number="{key[1]}" />'


def _sid(key: ServiceKey) -> str:
    return f'<ServiceId SiteId="{key[0]}" RoleName={quoteattr(key[1])} Instance="{key[2]}" />'


def render(topo: dict[str, Any], cms_pool: str) -> str:
    """The document ``Get-CsTopology -AsXml`` returns (T§2), for the held topology and the pool whose
    CentralMgmt service is active now (the CMS master, which Invoke-CsManagementServerFailover and
    Move-CsManagementServer move). No XML declaration (T§2.1)."""
    writer = _Writer(topo, cms_pool)
    writer.build()
    return writer.text()


# --------------------------------------------------------------------------- reading (T§2)

_LOCAL = re.compile(r"^\{[^}]*\}")


def _local(tag: str) -> str:
    return _LOCAL.sub("", tag)


def _kids(el: ET.Element | None, name: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == name] if el is not None else []


def _kid(el: ET.Element | None, name: str) -> ET.Element | None:
    found = _kids(el, name)
    return found[0] if found else None


def decode(raw: bytes) -> str:
    """A topology file as Windows PowerShell writes it (T§2.1): UTF-16 with a BOM, or UTF-8."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    return raw.decode("utf-8-sig", errors="replace")


@dataclass
class _ReadService:
    role: str
    cluster: tuple[str, str] | None
    sql: str | None  # sql key
    depends: list[tuple[str, tuple[str, str, str]]]
    attrs: dict[str, str]


def parse(text: str) -> dict[str, Any]:
    """Read a published-format document (T§2) back into the held topology (without the keys in
    :data:`NOT_IN_DOCUMENT`). Raises :class:`TopologyDocumentError`."""
    if re.search(r"<!(DOCTYPE|ENTITY)", text):
        raise TopologyDocumentError("the document holds a DOCTYPE or ENTITY declaration")
    try:
        root = ET.fromstring(text.lstrip("\ufeff"))  # noqa: S314 (no DOCTYPE, so no entities: checked above)
    except ET.ParseError:
        raise TopologyDocumentError("the document is not well-formed XML") from None
    if root.tag != f"{{{NS}}}Topology" or _kid(root, "Clusters") is None:
        raise TopologyDocumentError("the document is not a topology captured with Get-CsTopology -AsXml")
    sites = {s.get("SiteId", ""): s for s in _kids(_kid(root, "Sites"), "CentralSite")}
    site_name = {sid: "".join(name.itertext()).strip() if (name := _kid(s, "Name")) is not None else ""
                 for sid, s in sites.items()}
    clusters: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for c in _kids(_kid(root, "Clusters"), "Cluster"):
        cid = _kid(c, "ClusterId")
        if cid is None:
            raise TopologyDocumentError(f"the cluster {c.get('Fqdn')} has no ClusterId")
        machines = sorted(_kids(c, "Machine"), key=lambda m: int(m.get("OrdinalInCluster", "0") or 0))
        clusters[(cid.get("SiteId", ""), cid.get("Number", ""))] = (
            c.get("Fqdn", "").lower(), [m.get("Fqdn", "").lower() for m in machines])

    def cluster_of(el: ET.Element | None) -> tuple[str, str]:
        if el is None or (el.get("SiteId", ""), el.get("Number", "")) not in clusters:
            raise TopologyDocumentError("a reference names a cluster the document does not define")
        return (el.get("SiteId", ""), el.get("Number", ""))

    def sql_of(el: ET.Element) -> str:
        return sql_key(clusters[cluster_of(_kid(el, "ClusterId"))][0], el.get("Name") or None)

    instances = []
    for inst in _kids(_kid(root, "SqlInstances"), "SqlInstance"):
        sid_el = _kid(inst, "SqlInstanceId")
        if sid_el is None:
            raise TopologyDocumentError("a SqlInstance has no SqlInstanceId")
        ck = cluster_of(_kid(sid_el, "ClusterId"))
        instances.append({"server": clusters[ck][0], **({"instance": sid_el.get("Name", "").lower()}
                                                         if sid_el.get("Name") else {}),
                          "site": site_name.get(ck[0], "")})
    services: dict[tuple[str, str, str], _ReadService] = {}
    for s in _kids(_kid(root, "Services"), "Service"):
        sid = _kid(s, "ServiceId")
        if sid is None:
            raise TopologyDocumentError("a Service has no ServiceId")
        on = _kid(s, "InstalledOn")
        sql_el = _kid(on, "SqlInstanceId")
        svc = _ReadService(sid.get("RoleName", ""), cluster_of(_kid(on, "ClusterId")) if sql_el is None else None,
                           sql_of(sql_el) if sql_el is not None else None, [], {})
        for dep in _kids(_kid(s, "DependsOn"), "Dependency"):
            target = _kid(dep, "ServiceId")
            if target is not None:
                svc.depends.append((dep.get("Usage", "Default"),
                                    (target.get("SiteId", ""), target.get("RoleName", ""), target.get("Instance", ""))))
        for el in s:
            if _local(el.tag) == _ROLE_ELEMENT.get(svc.role):
                svc.attrs.update(el.attrib)
        services[(sid.get("SiteId", ""), svc.role, sid.get("Instance", ""))] = svc
    return _Reader(root, site_name, clusters, instances, services).topology()


class _Reader:
    def __init__(self, root: ET.Element, site_name: dict[str, str],
                 clusters: dict[tuple[str, str], tuple[str, list[str]]], instances: list[dict[str, Any]],
                 services: dict[tuple[str, str, str], _ReadService]) -> None:
        self.root, self.site_name, self.clusters = root, site_name, clusters
        self.instances, self.services = instances, services
        self.on: dict[tuple[str, str], dict[str, _ReadService]] = defaultdict(dict)
        for svc in services.values():
            if svc.cluster is not None:
                self.on[svc.cluster].setdefault(svc.role, svc)

    def deps(self, svc: _ReadService | None, role: str) -> list[tuple[str, _ReadService]]:
        if svc is None:
            return []
        return [(usage, self.services[key]) for usage, key in svc.depends
                if key in self.services and self.services[key].role == role]

    def sql(self, svc: _ReadService | None, role: str, usage: str = "Default") -> str | None:
        return next((t.sql for u, t in self.deps(svc, role) if u == usage and t.sql), None)

    def fqdn(self, svc: _ReadService) -> str:
        return self.clusters[svc.cluster][0] if svc.cluster is not None else ""

    def topology(self) -> dict[str, Any]:
        domains = [d.get("Name", "") for d in _kids(_kid(self.root, "InternalDomains"), "InternalDomain")]
        sites = []
        for sid in sorted(self.site_name, key=lambda x: int(x) if x.isdigit() else 0):
            loc = next((_kid(s, "Location") for s in _kids(_kid(self.root, "Sites"), "CentralSite")
                        if s.get("SiteId") == sid), None)
            sites.append({"name": self.site_name[sid], **({"city": loc.get("City")} if loc is not None
                                                           and loc.get("City") else {})})
        file_stores = []
        for svc in self.services.values():
            if svc.role == "FileStore" and svc.cluster is not None:
                file_stores.append({"server": self.fqdn(svc), "share": svc.attrs.get("ShareName", ""),
                                    "site": self.site_name.get(svc.cluster[0], "")})
        pools, cms, hops = [], "", {}
        for key, (fqdn, machines) in self.clusters.items():
            roles = self.on.get(key, {})
            pool = self.pool(key, fqdn, machines, roles)
            if pool is None:
                continue
            pools.append(pool)
            central = roles.get("CentralMgmt")
            if central is not None and central.attrs.get("IsActive", "").lower() == "true":
                cms = fqdn
            if "EdgeServer" in roles:
                hop = self.deps(roles["EdgeServer"], "Registrar")
                hops[fqdn] = self.fqdn(hop[0][1]) if hop else ""
        return {"signature": self.root.get("Signature", ""), "sip_domains": domains, "sites": sites,
                "sql_instances": self.instances, "file_stores": file_stores, "pools": pools,
                "central_management": cms, "edge_next_hop": hops}

    def pool(self, key: tuple[str, str], fqdn: str, machines: list[str],
             roles: dict[str, _ReadService]) -> dict[str, Any] | None:
        base: dict[str, Any] = {"fqdn": fqdn, "site": self.site_name.get(key[0], ""), "servers": machines}
        registrar = roles.get("Registrar")
        if "UserServices" in roles:
            user = roles["UserServices"]
            back_end = self.sql(user, "UserStore")
            standard = machines == [fqdn] and back_end is not None and back_end.split("\\")[0] == fqdn  # T§2.10
            base.update(role="front_end", edition="standard" if standard else "enterprise")
            for attr, value in (("back_end", back_end), ("mirror", self.sql(user, "UserStore", MIRROR)),
                                ("witness", self.sql(user, "WitnessStore", WITNESS))):
                if value:
                    base[attr] = value
            fs = self.deps(user, "FileStore")
            if fs:
                base["file_store"] = f"\\\\{self.fqdn(fs[0][1])}\\{fs[0][1].attrs.get('ShareName', '')}"
            for attr, role in (("monitoring_store", "MonitoringStore"), ("archiving_store", "ArchivingStore")):
                value = self.sql(registrar, role)
                if value:
                    base[attr] = value
            partner = [t for u, t in self.deps(registrar, "Registrar") if t.cluster != key]
            if partner:
                base["paired_with"] = self.fqdn(partner[0])
            return base
        if registrar is not None and registrar.attrs.get("IsDirector", "").lower() == "true":
            return {**base, "role": "director"}
        if "EdgeServer" in roles:
            return {**base, "role": "edge"}
        chat = next((s for r, s in roles.items() if r.startswith("PersistentChat")), None)
        if chat is not None:
            store = self.sql(chat, "PersistentChatStore")
            return {**base, "role": "persistent_chat", **({"persistent_chat_store": store} if store else {})}
        if "MediationServer" in roles:
            return {**base, "role": "mediation"}
        return None
