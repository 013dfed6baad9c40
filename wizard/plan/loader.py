"""Load a plan file: read it safely, build the model, check it as a whole.

Three passes, and every problem of every pass is reported at once as ``FILE:LINE:COL: message``:

1. **Reading** — the path exists, is a file, is not huge, is text, is UTF-8, parses as YAML
   (tabs, syntax). A failure here stops: there is nothing further to check.
2. **Shape** — the YAML node graph against the typed model (unknown keys, wrong types,
   missing sections), see :mod:`wizard.plan.schema`. Alias bombs hit a node budget.
3. **Meaning** — references between parts (pools, SQL instances, file stores, sites,
   credentials), duplicate FQDNs, pairing rules (§1, §11.36), CMS placement, edition rules
   (§2.10 of the topology doc), and RPO against the backup schedule.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from wizard.errors import InputFileError, PlanError
from wizard.plan.model import Credential, FileStore, Plan, Pool, SqlInstance, WinRMSettings
from wizard.plan.schema import Issue, Pos, TooLarge, Validator, where

Report = Callable[[object, str | None, str], None]

#: Plans are hand-written documents of a few hundred lines; refuse anything absurd unread.
MAX_PLAN_BYTES = 5 * 1024 * 1024
#: Scalars, keys and items a plan may expand to (aliases included).
NODE_BUDGET = 200_000


@dataclass(frozen=True)
class LoadedPlan:
    plan: Plan
    path: Path
    text: str


#: libyaml's composer when PyYAML has it (about 12x faster, same node marks), else pure Python.
#: Only composition is used: values are built by our validator, never by a YAML constructor.
_PlanLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_text(path: Path, what: str = "plan") -> str:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except PermissionError:
        raise InputFileError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputFileError(f"{path}: is a directory, not a {what} file")
    if not stat.S_ISREG(st.st_mode):
        raise InputFileError(f"{path}: is not a regular file")
    if st.st_size > MAX_PLAN_BYTES:
        mib = st.st_size / (1024 * 1024)
        raise PlanError([f"{path}:1:1: the file is {mib:.0f} MiB; a {what} is at most "
                         f"{MAX_PLAN_BYTES // (1024 * 1024)} MiB"])
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be read ({exc.strerror})") from None
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise PlanError([f"{path}:{line}:1: this is a binary file, not a YAML {what}"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        raise PlanError([f"{path}:{line}:{col}: not valid UTF-8 (byte 0x{raw[exc.start]:02x}); "
                         f"save the {what} as UTF-8"]) from None
    return text.removeprefix("\ufeff")


def _char_at(text: str, line: int, column: int) -> str:
    lines = text.split("\n")
    return lines[line][column:column + 1] if 0 <= line < len(lines) else ""


_PLAN_NEEDS = "at least organisation, topology, backup, objectives and credentials"
_PLAN_KEYS = "organisation:, topology:, ..."


def _compose(path: Path, text: str, what: str = "plan", needs: str = _PLAN_NEEDS, keys: str = _PLAN_KEYS) -> yaml.Node:
    if not text.strip():
        raise PlanError([f"{path}:1:1: the file is empty; a {what} needs {needs}"])
    try:
        node = yaml.compose(text, Loader=_PlanLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        offending = _char_at(text, mark.line, mark.column) if mark else ""
        if offending == "\t" or "\\t" in problem or "tab" in problem:
            problem = "a tab character: YAML indentation must use spaces"
        elif exc.context:
            problem = f"{problem} ({exc.context})"
        raise PlanError([f"{path}:{line}:{col}: YAML syntax: {problem}"]) from None
    except yaml.YAMLError as exc:
        raise PlanError([f"{path}:1:1: YAML error: {exc}"]) from None
    if node is None:
        raise PlanError([f"{path}:1:1: the file is empty (only comments); a {what} needs {needs}"])
    if not isinstance(node, yaml.MappingNode):
        kind = "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
        p = Pos.of(node)
        raise PlanError([f"{path}:{p.line}:{p.col}: the top level is {kind}; a {what} is a mapping ({keys})"])
    return node


def _expanded_size(root: yaml.Node) -> int:
    """How many nodes the graph has once aliases are expanded (memoised: aliases share nodes)."""
    memo: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in memo:
            return memo[key]
        memo[key] = 1  # a recursive alias counts once; PyYAML refuses true recursion anyway
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        memo[key] = min(total, NODE_BUDGET + 1)
        return memo[key]

    return size(root)


def read_document(path: str | os.PathLike[str], *, what: str, needs: str, keys: str) -> tuple[str, yaml.Node]:
    """Read a hand-written YAML document as plans are read (size, binary, UTF-8, YAML syntax,
    alias budget): its text and its node graph, a mapping. ``what`` names the document in
    errors ("scenario"), ``needs`` what an empty one lacks, ``keys`` its first keys. Raises
    :class:`PlanError` (``FILE:LINE:COL: message``) or :class:`InputFileError`."""
    p = Path(path)
    text = _read_text(p, what)
    node = _compose(p, text, what, needs, keys)
    if _expanded_size(node) > NODE_BUDGET:
        raise PlanError([f"{p}:1:1: the {what} expands to more than {NODE_BUDGET:,} values "
                         "(YAML anchors/aliases multiplying?); refused"])
    return text, node


def load_plan(path: str | os.PathLike[str]) -> LoadedPlan:
    """Load and fully check a plan; raise :class:`PlanError` with every problem found."""
    p = Path(path)
    text = _read_text(p)
    node = _compose(p, text)
    if _expanded_size(node) > NODE_BUDGET:
        raise PlanError([f"{p}:1:1: the plan expands to more than {NODE_BUDGET:,} values "
                         "(YAML anchors/aliases multiplying?); refused"])
    validator = Validator(node_budget=NODE_BUDGET)
    try:
        plan = validator.build(Plan, node, "plan")
    except TooLarge:
        raise PlanError([f"{p}:1:1: the plan expands to more than {NODE_BUDGET:,} values "
                         "(YAML anchors/aliases multiplying?); refused"]) from None
    issues = list(validator.issues)
    if plan is not None:
        issues.extend(check_meaning(plan))
    if issues:
        issues.sort(key=lambda i: (i.pos.line, i.pos.col))
        raise PlanError([f"{p}:{i.pos.line}:{i.pos.col}: {i.message}" for i in issues])
    assert isinstance(plan, Plan)
    return LoadedPlan(plan=plan, path=p, text=text)


# --------------------------------------------------------------------------- meaning
#
# One rule function per part of the plan; each reads the shared indexes of :class:`_Meaning`
# and reports through ``m.err``. The rules run in a fixed order (issues at one position keep it).


@dataclass
class _Meaning:
    """A well-shaped plan, the indexes the meaning rules share, and the issues found so far."""

    plan: Plan
    sites: set[str]
    sql_ids: dict[str, SqlInstance]
    fs_ids: dict[str, FileStore]
    #: Pools by lower-case FQDN.
    pools: dict[str, Pool]
    creds: dict[str, Credential]
    #: Lync servers by lower-case FQDN -> "pool X" (the last pool that lists it).
    servers: dict[str, str]
    #: Every host the topology and the backup locations name, lower-case.
    known_hosts: set[str]
    issues: list[Issue] = field(default_factory=list)

    @classmethod
    def of(cls, plan: Plan) -> _Meaning:
        topo = plan.topology
        servers = {server.lower(): f"pool {pool.fqdn}" for pool in topo.pools for server in pool.servers}
        known_hosts = set(servers) | {s.server.lower() for s in topo.sql_instances} \
            | {f.server.lower() for f in topo.file_stores} | {p.fqdn.lower() for p in topo.pools}
        known_hosts |= {(loc.read_via or "").lower() for loc in plan.backup.locations}
        known_hosts |= {loc.unc.lstrip("\\").split("\\", 1)[0].lower() for loc in plan.backup.locations}
        return cls(plan=plan,
                   sites={s.name for s in topo.sites},
                   sql_ids={s.id: s for s in topo.sql_instances},
                   fs_ids={f.id: f for f in topo.file_stores},
                   pools={p.fqdn.lower(): p for p in topo.pools},
                   creds={c.id: c for c in plan.credentials.entries},
                   servers=servers,
                   known_hosts=known_hosts)

    def err(self, obj: object, field: str | None, msg: str) -> None:
        self.issues.append(Issue(where(obj, field), msg))


def check_meaning(plan: Plan) -> list[Issue]:
    """Cross-reference and domain rules over a well-shaped plan."""
    m = _Meaning.of(plan)
    for rule in _MEANING_RULES:
        rule(m)
    return m.issues


def _check_duplicate_ids(m: _Meaning) -> None:
    plan, topo = m.plan, m.plan.topology
    for kind, items in (("site", [s.name for s in topo.sites]),
                        ("SQL instance id", [s.id for s in topo.sql_instances]),
                        ("file store id", [f.id for f in topo.file_stores]),
                        ("credential id", [c.id for c in plan.credentials.entries]),
                        ("custom step id", [c.id for c in plan.custom_steps])):
        for name, n in Counter(items).items():
            if n > 1:
                m.err(_find_named(plan, kind, name), None, f"duplicate {kind} '{name}'")


def _check_duplicate_fqdns(m: _Meaning) -> None:
    """Servers across pools, pool FQDNs, SQL and file servers are distinct machines unless
    collocation is explicit (SE pool FQDN = its server FQDN)."""
    pools = m.plan.topology.pools
    seen: dict[str, str] = {}
    for pool in pools:
        for server in pool.servers:
            key = server.lower()
            if key in seen:
                m.err(pool, "servers", f"server {server} is listed twice ({seen[key]} and pool {pool.fqdn})")
            seen[key] = f"pool {pool.fqdn}"
    pool_names = Counter(p.fqdn.lower() for p in pools)
    for pool in pools:
        if pool_names[pool.fqdn.lower()] > 1:
            m.err(pool, "fqdn", f"pool FQDN {pool.fqdn} is defined more than once")
            pool_names[pool.fqdn.lower()] = 0
        elif pool.fqdn.lower() in m.servers and pool.fqdn.lower() not in {s.lower() for s in pool.servers}:
            m.err(pool, "fqdn",
                  f"pool FQDN {pool.fqdn} is also the FQDN of a server in {m.servers[pool.fqdn.lower()]}")


def _check_sql_instances(m: _Meaning) -> None:
    for s in m.plan.topology.sql_instances:
        if s.site not in m.sites:
            m.err(s, "site", f"SQL instance '{s.id}' is in site '{s.site}', which is not defined")
        for field_, ref in (("mirror", s.mirror), ("witness", s.witness)):
            if ref is not None and ref not in m.sql_ids:
                m.err(s, field_, f"SQL instance '{s.id}' names {field_} '{ref}', which is not a defined SQL instance")
            elif ref == s.id:
                m.err(s, field_, f"SQL instance '{s.id}' cannot be its own {field_}")
        if s.witness and not s.mirror:
            m.err(s, "witness", f"SQL instance '{s.id}' has a witness but no mirror")
        if s.credential and s.credential not in m.creds:
            m.err(s, "credential", f"SQL instance '{s.id}' uses credential '{s.credential}', which is not defined")
        if s.server.lower() in m.servers:
            m.err(s, "server", f"SQL server {s.server} is also a Lync server in {m.servers[s.server.lower()]}")


def _check_file_stores(m: _Meaning) -> None:
    for f in m.plan.topology.file_stores:
        if f.site not in m.sites:
            m.err(f, "site", f"file store '{f.id}' is in site '{f.site}', which is not defined")


def _check_pools(m: _Meaning) -> None:
    for pool in m.plan.topology.pools:
        _check_pool(pool, m)


def _check_cms(m: _Meaning) -> None:
    cms = m.plan.topology.central_management
    cms_pool = m.pools.get(cms.pool.lower())
    if cms_pool is None:
        m.err(cms, "pool", f"the Central Management store is placed on pool {cms.pool}, which is not defined")
    elif cms_pool.role != "front_end":
        m.err(cms, "pool", f"the Central Management store must live on a Front End pool or Standard "
                           f"Edition server; {cms.pool} is a {cms_pool.role} pool (§1)")


def _check_backup(m: _Meaning) -> None:
    backup = m.plan.backup
    names = Counter(loc.name for loc in backup.locations)
    sites = {s.name.lower() for s in m.plan.topology.sites}
    for loc in backup.locations:
        if names[loc.name] > 1:
            m.err(loc, "name", f"backup location name '{loc.name}' is used twice")
            names[loc.name] = 0
        if loc.site is not None and loc.site.lower() not in sites:
            m.err(loc, "site",
                  f"backup location '{loc.name}' is in site {loc.site}, which the topology does not define")
    comps = Counter(e.component for e in backup.schedule)
    for e in backup.schedule:
        if comps[e.component] > 1:
            m.err(e, "component", f"backup schedule lists '{e.component}' more than once")
            comps[e.component] = 0
    for required in ("config", "lis", "user_data"):
        if required not in comps:
            m.err(backup, "schedule", f"the backup schedule has no '{required}' entry; "
                                      "Lync cannot be restored without it (§2.1, §2.2)")


def _check_objectives(m: _Meaning) -> None:
    """The RPO against the backup schedule."""
    rpo = m.plan.objectives.rpo
    for e in m.plan.backup.schedule:
        if e.every.seconds > rpo.seconds and e.component in ("config", "lis", "user_data", "rgs",
                                                              "persistent_chat", "file_store"):
            m.err(e, "every", f"the RPO is {rpo} but '{e.component}' is backed up only every "
                              f"{e.every}: a restore could lose more than the RPO allows")


def _check_credentials(m: _Meaning) -> None:
    credentials = m.plan.credentials
    for c in credentials.entries:
        if c.source == "env" and not c.env:
            m.err(c, None, f"credential '{c.id}' has source env but no 'env' variable name")
        if c.source == "keyring" and not c.keyring_service:
            m.err(c, None, f"credential '{c.id}' has source keyring but no 'keyring_service'")
        if c.source != "env" and c.env:
            m.err(c, "env", f"credential '{c.id}' names an env variable but its source is {c.source}")
        if c.source == "ticket" and c.kind == "sql":
            m.err(c, "source", f"credential '{c.id}' is a SQL login: a Kerberos ticket cannot sign in to "
                               "SQL Server with it (give it a password source)")
    _check_tickets(m)
    for field_ in ("winrm_default", "sql_default"):
        ref = getattr(credentials, field_)
        if ref is not None and ref not in m.creds:
            m.err(credentials, field_, f"{field_} names credential '{ref}', which is not defined")


def _check_tickets(m: _Meaning) -> None:
    """A ticket credential (no password) serves WinRM with Kerberos only: NTLM, CredSSP and
    Basic need the password."""
    tickets = {c.id for c in m.plan.credentials.entries if c.source == "ticket"}
    if not tickets:
        return
    connections = m.plan.connections
    default_auth = connections.winrm.auth or "ntlm"
    default_cred = m.plan.credentials.winrm_default
    if default_cred in tickets and default_auth != "kerberos":
        m.err(connections.winrm, "auth" if connections.winrm.auth else None,
              f"the WinRM credential '{default_cred}' is a Kerberos ticket, but winrm auth is "
              f"{default_auth}: set auth: kerberos, or give the credential a password source")
    for host, hc in connections.hosts.items():
        cred = hc.credential or default_cred
        auth = (hc.winrm.auth if hc.winrm and hc.winrm.auth else None) or default_auth
        if cred in tickets and auth != "kerberos" and (hc.credential or (hc.winrm and hc.winrm.auth)):
            m.err(hc, "credential" if hc.credential else None,
                  f"{host} uses the Kerberos ticket credential '{cred}' with auth {auth}: a ticket "
                  "serves auth: kerberos only")


def _check_connections(m: _Meaning) -> None:
    connections = m.plan.connections
    for host, hc in connections.hosts.items():
        hc_pos = where(connections, "hosts")
        if host.lower() not in m.known_hosts:
            m.issues.append(Issue(where(hc, None) if hc else hc_pos,
                                  f"connection settings for {host}, which is not a host in the topology"))
        if hc.credential and hc.credential not in m.creds:
            m.err(hc, "credential", f"host {host} uses credential '{hc.credential}', which is not defined")
        if hc.winrm is not None:
            _check_winrm(hc.winrm, connections.winrm.insecure, f"host {host}", m.err)
    _check_winrm(connections.winrm, None, "the WinRM defaults", m.err)
    if not connections.drill_only_loopback:
        m.err(connections, "drill_only_loopback", "a drill never leaves this machine (DESIGN decision 5): "
                                                  "drill_only_loopback cannot be false; remove it")


def _check_custom_steps(m: _Meaning) -> None:
    for step in m.plan.custom_steps:
        if step.kind == "powershell":
            if not step.script:
                m.err(step, None, f"custom step '{step.id}' runs PowerShell but has no 'script'")
            if not step.host:
                m.err(step, None, f"custom step '{step.id}' runs PowerShell but names no 'host'")
            elif step.host.lower() not in m.known_hosts:
                m.err(step, "host", f"custom step '{step.id}' runs on {step.host}, which is not in the topology")
        elif not step.instructions:
            m.err(step, None, f"custom step '{step.id}' is manual but has no 'instructions'")


def _check_backup_readers(m: _Meaning) -> None:
    for loc in m.plan.backup.locations:
        if loc.read_via and loc.read_via.lower() not in m.known_hosts:
            m.err(loc, "read_via",
                  f"backup location '{loc.name}' is read via {loc.read_via}, which is not in the topology")


_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_INSTANCE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,15}$")  # SQL Server instance names (16 chars)


def host_name_problem(value: str) -> str | None:
    """Why ``value`` is not a host name (RFC 1123 labels) or an IP address, else None. Host names
    reach connection strings and URLs: ``127.0.0.1,1433;Encrypt=no`` must not (#15 item 7)."""
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    name = value[:-1] if value.endswith(".") else value
    if not name or len(name) > 253:
        return "is not a host name or an IP address (empty, or longer than 253 characters)"
    bad = next((label for label in name.split(".") if not _LABEL.match(label)), None)
    if bad is not None:
        return (f"is not a host name or an IP address: '{bad}' is not a DNS label (letters, digits and "
                "inner hyphens, at most 63)")
    return None


def _check_names(m: _Meaning) -> None:
    """Every name the wizard connects to is a host name or an address, and every SQL instance
    name one SQL Server accepts: nothing else reaches a connection string or a URL."""
    topo = m.plan.topology
    named: list[tuple[object, str, str]] = [(p, "fqdn", p.fqdn) for p in topo.pools]
    named += [(q, "server", q.server) for q in topo.sql_instances]
    named += [(f, "server", f.server) for f in topo.file_stores]
    for obj, attr, value in named:
        problem = host_name_problem(value)
        if problem:
            m.err(obj, attr, f"{value!r} {problem}")
    for pool in topo.pools:
        for server in pool.servers:
            problem = host_name_problem(server)
            if problem:
                m.err(pool, "servers", f"server {server!r} of pool {pool.fqdn} {problem}")
    for q in topo.sql_instances:
        if q.instance is not None and not _INSTANCE.match(q.instance):
            m.err(q, "instance", f"SQL instance name {q.instance!r} is not one SQL Server allows (a letter or _, "
                                 "then letters, digits, _ or $, at most 16)")
    for host, hc in m.plan.connections.hosts.items():
        if hc.address is not None:
            problem = host_name_problem(hc.address)
            if problem:
                m.err(hc, "address", f"the address of {host}, {hc.address!r}, {problem}")


#: The meaning rules, in the order their issues are reported.
_MEANING_RULES: tuple[Callable[[_Meaning], None], ...] = (
    _check_duplicate_ids,
    _check_names,
    _check_duplicate_fqdns,
    _check_sql_instances,
    _check_file_stores,
    _check_pools,
    _check_cms,
    _check_backup,
    _check_objectives,
    _check_credentials,
    _check_connections,
    _check_custom_steps,
    _check_backup_readers,
)


def _check_winrm(w: WinRMSettings, default_insecure: bool | None, what: str, err: Report) -> None:
    insecure = w.insecure if w.insecure is not None else default_insecure
    if w.scheme == "http" and not insecure:
        err(w, "scheme", f"{what} use plain http, which needs 'insecure: true' "
                         "(credentials would cross the network unprotected)")


# --------------------------------------------------------------------------- meaning: one pool


def _check_pool(pool: Pool, m: _Meaning) -> None:
    _check_pool_references(pool, m)
    if pool.role == "front_end":
        _check_front_end(pool, m.err)
    else:
        if pool.back_end is not None:
            m.err(pool, "back_end", f"only Front End pools have a Back End; {pool.fqdn} is {pool.role}")
        if pool.paired_with is not None:
            m.err(pool, "paired_with", f"only Front End pools can be paired; {pool.fqdn} is {pool.role}")
    if pool.role == "persistent_chat" and pool.persistent_chat_store is None:
        m.err(pool, None, f"Persistent Chat pool {pool.fqdn} needs persistent_chat_store")
    _check_next_hop(pool, m)
    if pool.paired_with is not None and pool.role == "front_end":
        _check_pairing(pool, m)


def _check_pool_references(pool: Pool, m: _Meaning) -> None:
    if pool.site not in m.sites:
        m.err(pool, "site", f"pool {pool.fqdn} is in site '{pool.site}', which is not defined")
    for field_ in ("back_end", "monitoring_store", "archiving_store", "persistent_chat_store"):
        ref = getattr(pool, field_)
        if ref is not None and ref not in m.sql_ids:
            m.err(pool, field_, f"pool {pool.fqdn} names {field_.replace('_', ' ')} '{ref}', "
                                "which is not a defined SQL instance")
    if pool.file_store is not None and pool.file_store not in m.fs_ids:
        m.err(pool, "file_store", f"pool {pool.fqdn} uses file store '{pool.file_store}', which is not defined")


def _check_front_end(pool: Pool, e: Report) -> None:
    """Edition rules of a Front End pool (§2.10 of the topology doc)."""
    if pool.edition == "standard":
        if len(pool.servers) != 1 or pool.servers[0].lower() != pool.fqdn.lower():
            e(pool, "servers", f"Standard Edition pool {pool.fqdn} must list exactly one server "
                               "with the pool's own FQDN")
        if pool.back_end is not None:
            e(pool, "back_end", f"Standard Edition pool {pool.fqdn} keeps its databases in SQL "
                                "Express on the server itself (§1); remove back_end")
    elif pool.back_end is None:
        e(pool, None, f"Enterprise pool {pool.fqdn} needs a back_end SQL instance")
    elif pool.fqdn.lower() in {s.lower() for s in pool.servers}:
        e(pool, "fqdn", f"Enterprise pool {pool.fqdn} must have an FQDN of its own, not a server's")


def _check_next_hop(pool: Pool, m: _Meaning) -> None:
    if pool.role != "edge":
        if pool.next_hop is not None:
            m.err(pool, "next_hop", f"only Edge pools have a next hop; {pool.fqdn} is {pool.role}")
        return
    if pool.next_hop is None:
        m.err(pool, None, f"Edge pool {pool.fqdn} needs next_hop (a Front End pool or Director)")
        return
    hop = m.pools.get(pool.next_hop.lower())
    if hop is None:
        m.err(pool, "next_hop", f"Edge pool {pool.fqdn} has next hop {pool.next_hop}, which is not a defined pool")
    elif hop.role not in ("front_end", "director"):
        m.err(pool, "next_hop", f"Edge pool {pool.fqdn} has next hop {pool.next_hop}, a {hop.role} pool")


def _check_pairing(pool: Pool, m: _Meaning) -> None:
    """Pairing rules of a Front End pool that names a partner (§1, §11.36)."""
    assert pool.paired_with is not None
    partner = m.pools.get(pool.paired_with.lower())
    if partner is None:
        m.err(pool, "paired_with", f"pool {pool.fqdn} is paired with {pool.paired_with}, which is not a defined pool")
    elif partner is pool:
        m.err(pool, "paired_with", f"pool {pool.fqdn} cannot be paired with itself")
    elif (partner.paired_with or "").lower() != pool.fqdn.lower():
        m.err(pool, "paired_with", f"pairing is 1:1 and reciprocal (§1): {pool.paired_with} must "
                                   f"name {pool.fqdn} as its paired_with")
    elif partner.edition != pool.edition:
        m.err(pool, "paired_with", f"pools {pool.fqdn} and {partner.fqdn} mix Standard and "
                                   "Enterprise Edition; pair like with like (§11.36)")


def _find_named(plan: Plan, kind: str, name: str) -> object:
    groups: dict[str, list[object]] = {
        "site": [s for s in plan.topology.sites if s.name == name],
        "SQL instance id": [s for s in plan.topology.sql_instances if s.id == name],
        "file store id": [f for f in plan.topology.file_stores if f.id == name],
        "credential id": [c for c in plan.credentials.entries if c.id == name],
        "custom step id": [c for c in plan.custom_steps if c.id == name],
    }
    found = groups.get(kind, [])
    return found[-1] if found else plan
