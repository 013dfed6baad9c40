"""The assessment's probes: what is checked on every host, SQL instance, CMS, share and pair.

Each probe is a small function over narrow transport Protocols (:class:`Transports`), so the
unit tests drive them with fakes and an incident or a drill drives them with the real WinRM and
SQL runners (:mod:`wizard.assess.transports`). Everything a probe sends to PowerShell is built
with :mod:`wizard.remote.psbuild` (values single-quoted, one JSON envelope back); cmdlets and
parameters are the ones of the domain reference §8 and §7.2 only:

* every host: name resolution (skipped when the plan gives an address), TCP to the WinRM port
  and, for SQL hosts, to the SQL port;
* every Lync server: a WinRM session running ``Get-CsWindowsService`` and
  ``Get-CsManagementStoreReplicationStatus -ReplicaFqdn`` (its local CMS replica);
* every SQL instance: a login and ``sys.databases`` states;
* through a reachable Front End: ``Get-CsConfigurationStoreLocation`` (the SCP),
  ``Get-CsManagementStoreReplicationStatus -CentralManagementStoreStatus`` and the replicas,
  ``Test-Path`` of every file store share, and for paired pools
  ``Get-CsPoolBackupRelationship`` and ``Get-CsBackupServiceStatus``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from wizard.assess.events import ProbeKind, ProbeResult, ProbeStatus
from wizard.assess.runner import Probe
from wizard.errors import WizardError
from wizard.plan.model import Plan
from wizard.remote import psbuild
from wizard.remote.endpoints import host_connection, sql_port, winrm_port
from wizard.remote.ports import PsOutcome, SqlQuery
from wizard.remote.psbuild import Assign, Cmd, Pipeline, Raw, Var
from wizard.remote.secondhop import hop_sentence
from wizard.remote.sqlerrors import SqlServerError

# ------------------------------------------------------------------------------ transports


class PowerShell(Protocol):
    def run(self, script: str, *, deadline_s: float, idempotent: bool = False) -> PsOutcome:
        """Run a script; raises a WizardError (RemoteError) when the host fails or times out.
        Probes are read-only: they pass ``idempotent=True`` so a dropped connection is retried."""
        ...


class Transports(Protocol):
    """How probes reach the deployment. Every method raises OSError or WizardError on failure."""

    def resolve(self, host: str, timeout_s: float) -> list[str]:
        """Addresses of ``host`` from DNS; raises OSError when the name does not resolve."""
        ...

    def tcp_connect(self, address: str, port: int, timeout_s: float) -> None:
        """Open and close a TCP connection; raises OSError (refused, unreachable, timeout)."""
        ...

    def powershell(self, host: str, timeout_s: float) -> PowerShell:
        """The (reused) PowerShell runner of ``host``; raises WizardError (no credential...)."""
        ...

    def sql(self, sql_id: str, timeout_s: float) -> SqlQuery:
        """A SQL runner for the plan's SQL instance ``sql_id``."""
        ...


# ------------------------------------------------------------------------------ targets


@dataclass(frozen=True)
class ProbeTimeouts:
    """Seconds each kind of probe may take (each probe has its own clock)."""

    dns: float = 3.0
    tcp: float = 3.0
    session: float = 20.0
    sql: float = 15.0
    deployment: float = 30.0


@dataclass(frozen=True)
class HostTarget:
    fqdn: str
    roles: tuple[str, ...]  # "lync", "sql", "file"
    address: str | None  # from the plan: DNS is not consulted
    winrm_port: int
    sql_ports: tuple[int, ...]


def host_targets(plan: Plan) -> list[HostTarget]:
    """Every host of the plan once (Lync servers, SQL servers, file servers), in plan order."""
    roles: dict[str, list[str]] = {}
    names: dict[str, str] = {}

    def add(fqdn: str, role: str) -> None:
        key = fqdn.lower()
        names.setdefault(key, fqdn.lower())
        if role not in roles.setdefault(key, []):
            roles[key].append(role)

    for pool in plan.topology.pools:
        for server in pool.servers:
            add(server, "lync")
    for inst in plan.topology.sql_instances:
        add(inst.server, "sql")
    for fs in plan.topology.file_stores:
        add(fs.server, "file")
    targets = []
    for key, fqdn in names.items():
        hc = host_connection(plan, fqdn)
        ports = sorted({p for s in plan.topology.sql_instances if s.server.lower() == key
                        if (p := sql_port(plan, s.id)) is not None})
        targets.append(HostTarget(fqdn, tuple(roles[key]), hc.address if hc else None,
                                  winrm_port(plan, fqdn), tuple(ports)))
    return targets


def front_end_candidates(plan: Plan) -> tuple[str, ...]:
    """Hosts to run deployment probes through: CMS pool first, its partner, then the rest."""
    pools = plan.front_end_pools()
    cms = plan.cms_pool
    partner = cms.paired_with.lower() if cms.paired_with else None
    pools.sort(key=lambda p: (p.fqdn.lower() != cms.fqdn.lower(), p.fqdn.lower() != partner))
    return tuple(s.lower() for p in pools for s in p.servers)


# ------------------------------------------------------------------------------ scripts


def lync_host_script(fqdn: str, modules: Sequence[str] = ("Lync",)) -> str:
    return psbuild.script(
        Assign("lrServices", Pipeline(Cmd("Get-CsWindowsService"),
                                      Cmd("Select-Object", {"Property": ["Name", "Status"]}))),
        Raw("try {"),
        Assign("lrReplica", Pipeline(
            Cmd("Get-CsManagementStoreReplicationStatus", {"ReplicaFqdn": fqdn}),
            Cmd("Select-Object", {"Property": ["ReplicaFqdn", "UpToDate", "LastStatusReport",
                                               "LastUpdateCreation"]}))),
        Raw("} catch {"),
        Raw("$lrReplica = @{ Error = $_.Exception.Message }"),
        Raw("}"),
        Assign("lrProbe", Raw("@{ Services = @($lrServices); Replica = $lrReplica }")),
        json_result=Cmd("Write-Output", positional=[Var("lrProbe")]),
        modules=modules,
    )


def cms_scp_script(modules: Sequence[str] = ("Lync",)) -> str:
    return psbuild.script(json_result=Cmd("Get-CsConfigurationStoreLocation"), modules=modules)


def cms_replication_script(modules: Sequence[str] = ("Lync",)) -> str:
    return psbuild.script(
        Raw("try {"),
        Assign("lrMaster", Pipeline(
            Cmd("Get-CsManagementStoreReplicationStatus",
                {"CentralManagementStoreStatus": psbuild.Switch()}),
            Cmd("Select-Object", {"Property": ["ActiveMasterFqdn", "ActiveFileTransferAgents"]}))),
        Raw("} catch {"),
        Raw("$lrMaster = @{ Error = $_.Exception.Message }"),
        Raw("}"),
        Raw("try {"),
        Assign("lrReplicas", Pipeline(
            Cmd("Get-CsManagementStoreReplicationStatus"),
            Cmd("Select-Object", {"Property": ["ReplicaFqdn", "UpToDate", "LastStatusReport"]}))),
        Raw("} catch {"),
        Raw("$lrReplicas = @{ Error = $_.Exception.Message }"),
        Raw("}"),
        Assign("lrProbe", Raw("@{ Master = $lrMaster; Replicas = @($lrReplicas) }")),
        json_result=Cmd("Write-Output", positional=[Var("lrProbe")]),
        modules=modules,
    )


def file_store_script(unc: str, modules: Sequence[str] = ("Lync",)) -> str:
    """Whether the share answers, and how many entries its top folder holds (a file store
    rebuilt empty answers but holds nothing, §5.3 D). ``Denied``: the session may not reach
    another server's share (the second hop), which says nothing about the share: Test-Path would
    answer False for it as for a lost share, so Get-Item's error category tells them apart."""
    return psbuild.script(
        Raw("$lrExists = $false; $lrDenied = $false; $lrItems = 0"),
        Raw("try {"),
        Assign("lrItem", Cmd("Get-Item", {"LiteralPath": unc})),
        Raw("$lrExists = $true"),
        Raw("} catch {"),
        Raw("if ($_.CategoryInfo.Category -eq 'PermissionDenied') { $lrDenied = $true }"),
        Raw("}"),
        Raw("if ($lrExists) {"),
        Assign("lrMeasure", Pipeline(Cmd("Get-ChildItem", {"LiteralPath": unc}),
                                     Cmd("Measure-Object"))),
        Raw("$lrItems = $lrMeasure.Count"),
        Raw("}"),
        Assign("lrProbe", Raw("@{ Exists = $lrExists; Denied = $lrDenied; Items = $lrItems }")),
        json_result=Cmd("Write-Output", positional=[Var("lrProbe")]),
        modules=modules,
    )


def pairing_script(pool: str, modules: Sequence[str] = ("Lync",)) -> str:
    return psbuild.script(
        Raw("try {"),
        Assign("lrRelation", Cmd("Get-CsPoolBackupRelationship", {"PoolFqdn": pool})),
        Raw("} catch {"),
        Raw("$lrRelation = @{ Error = $_.Exception.Message }"),
        Raw("}"),
        Raw("try {"),
        Assign("lrStatus", Cmd("Get-CsBackupServiceStatus", {"PoolFqdn": pool})),
        Raw("} catch {"),
        Raw("$lrStatus = @{ Error = $_.Exception.Message }"),
        Raw("}"),
        Assign("lrProbe", Raw("@{ Relationship = $lrRelation; Status = $lrStatus }")),
        json_result=Cmd("Write-Output", positional=[Var("lrProbe")]),
        modules=modules,
    )


DATABASES_SQL = "SELECT name, state_desc FROM sys.databases"

# ------------------------------------------------------------------------------ probe bodies


def _result(pid: str, kind: ProbeKind, subject: str, status: ProbeStatus, summary: str,
            data: dict[str, Any] | None = None) -> ProbeResult:
    return ProbeResult(pid, kind, subject, status, summary, data or {})


def _failure(pid: str, kind: ProbeKind, subject: str, exc: BaseException) -> ProbeResult:
    """One sentence from a transport failure; timeouts are reported as such."""
    if isinstance(exc, TimeoutError):
        return _result(pid, kind, subject, "timeout",
                       f"{subject} did not answer the {kind.replace('_', ' ')} check in time.",
                       {"error": "timeout"})
    if isinstance(exc, WizardError):
        status: ProbeStatus = "timeout" if "did not finish within" in exc.message else "failed"
        return _result(pid, kind, subject, status, exc.message,
                       {"error": type(exc).__name__})
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return _result(pid, kind, subject, "failed",
                   f"The {kind.replace('_', ' ')} check of {subject} failed: {reason}.",
                   {"error": type(exc).__name__})


def _envelope(outcome: PsOutcome, host: str) -> list[Any]:
    if outcome.exit_code != 0:
        first = next((line.strip() for line in outcome.stderr.splitlines() if line.strip()),
                     f"exit code {outcome.exit_code}")
        raise _ScriptFailed(f"PowerShell on {host} reported an error: {first}")
    return list(psbuild.parse_envelope(outcome.stdout).values)


class _ScriptFailed(WizardError):
    title = "Remote command failed"


def dns_probe(t: Transports, target: HostTarget) -> Callable[[str | None, float], ProbeResult]:
    pid = f"dns:{target.fqdn}"

    def run(_via: str | None, timeout: float) -> ProbeResult:
        if target.address:
            return _result(pid, "dns", target.fqdn, "skipped",
                           f"{target.fqdn} uses the plan's address {target.address}, so DNS "
                           "was not consulted.", {"address": target.address, "from": "plan"})
        try:
            addresses = t.resolve(target.fqdn, timeout)
        except (OSError, WizardError) as exc:
            return _failure(pid, "dns", target.fqdn, exc)
        return _result(pid, "dns", target.fqdn, "ok",
                       f"{target.fqdn} resolves to {', '.join(addresses)}.",
                       {"addresses": addresses, "from": "dns"})
    return run


def tcp_probe(t: Transports, target: HostTarget, port: int, service: str
              ) -> Callable[[str | None, float], ProbeResult]:
    pid = f"tcp-{service}:{target.fqdn}:{port}"

    def run(_via: str | None, timeout: float) -> ProbeResult:
        address = target.address or target.fqdn
        try:
            t.tcp_connect(address, port, timeout)
        except (OSError, WizardError) as exc:
            res = _failure(pid, "tcp", target.fqdn, exc)
            return _result(pid, "tcp", target.fqdn, res.status,
                           f"{target.fqdn} port {port} ({service}) does not accept "
                           f"connections: {_reason(exc)}.",
                           {"port": port, "service": service, "open": False})
        return _result(pid, "tcp", target.fqdn, "ok",
                       f"{target.fqdn} accepts connections on port {port} ({service}).",
                       {"port": port, "service": service, "open": True})
    return run


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, WizardError):
        return exc.message.rstrip(".")
    return getattr(exc, "strerror", None) or type(exc).__name__


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def lync_host_probe(t: Transports, fqdn: str, modules: Sequence[str]
                    ) -> Callable[[str | None, float], ProbeResult]:
    pid = f"lync:{fqdn}"

    def run(_via: str | None, timeout: float) -> ProbeResult:
        try:
            values = _envelope(t.powershell(fqdn, timeout).run(
                lync_host_script(fqdn, modules), deadline_s=timeout, idempotent=True), fqdn)
        except (OSError, WizardError) as exc:
            return _failure(pid, "lync_host", fqdn, exc)
        probe = _dict(values[0]) if values else {}
        services: dict[str, str] = {}
        for item in _as_list(probe.get("Services")):
            if isinstance(item, dict) and isinstance(item.get("Name"), str):
                try:
                    status = psbuild.ServiceStatus.parse(item.get("Status")).name
                except psbuild.EnvelopeError:
                    status = str(item.get("Status"))
                services[str(item["Name"]).upper()] = status
        replica = _dict(probe.get("Replica")) or None
        stopped = sorted(n for n, s in services.items() if s != "RUNNING")
        up_to_date = replica.get("UpToDate") if replica else None
        text = (f"{fqdn} answers over WinRM; {len(services)} Lync services, "
                + (f"not running: {', '.join(stopped)}" if stopped else "all running")
                + ("; local CMS replica up to date." if up_to_date is True else
                   "; local CMS replica NOT up to date." if up_to_date is False else
                   "; local CMS replica state unknown."))
        return _result(pid, "lync_host", fqdn, "ok", text,
                       {"services": services, "stopped": stopped,
                        "replica": dict(replica) if replica else None})
    return run


def sql_probe(t: Transports, plan: Plan, sql_id: str) -> Callable[[str | None, float], ProbeResult]:
    inst = plan.sql(sql_id)
    name = f"{inst.server}\\{inst.instance}" if inst.instance else inst.server
    pid = f"sql:{sql_id}"

    def run(_via: str | None, timeout: float) -> ProbeResult:
        try:
            rows = t.sql(sql_id, timeout).query(DATABASES_SQL)
        except (OSError, WizardError) as exc:
            res = _failure(pid, "sql", sql_id, exc)
            if isinstance(exc, SqlServerError):
                # SQL Server's error number (None when the driver failed before the server
                # answered): the findings classify the failure by it, never by its words.
                return _result(pid, "sql", sql_id, res.status, res.summary,
                               {**res.data, "number": exc.number})
            return res
        states = {str(r.get("name")).lower(): str(r.get("state_desc")).upper() for r in rows}
        bad = sorted(f"{n} {s}" for n, s in states.items() if s != "ONLINE")
        text = (f"SQL Server {name} accepts the login; {len(states)} databases"
                + (f", not online: {', '.join(bad)}." if bad else ", all online."))
        return _result(pid, "sql", sql_id, "ok", text, {"instance": name, "databases": states})
    return run


def _run_via(t: Transports, via: str | None, script: str, timeout: float) -> list[Any]:
    if via is None:
        raise _ScriptFailed("No host was given to run the check on.")
    return list(_envelope(t.powershell(via, timeout).run(script, deadline_s=timeout, idempotent=True), via))


def expected_scp(plan: Plan) -> str:
    """``server\\instance`` the SCP should name: the CMS pool's Back End (SE: the server)."""
    cms = plan.cms_pool
    if cms.edition == "standard" or not cms.back_end:
        return f"{cms.fqdn.lower()}\\rtc"
    inst = plan.sql(cms.back_end)
    return f"{inst.server.lower()}\\{inst.instance.lower()}" if inst.instance else inst.server.lower()


def _scp_text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        for key in ("BackEndServer", "SqlServerFqdn", "Value", "Location"):
            if isinstance(value.get(key), str):
                return str(value[key]).strip()
    return ""


def cms_scp_probe(t: Transports, plan: Plan, modules: Sequence[str]
                  ) -> Callable[[str | None, float], ProbeResult]:
    expected = expected_scp(plan)

    def run(via: str | None, timeout: float) -> ProbeResult:
        try:
            values = _run_via(t, via, cms_scp_script(modules), timeout)
        except (OSError, WizardError) as exc:
            return _failure("cms-scp", "cms_scp", "cms", exc)
        found = _scp_text(values[0]) if values else ""
        norm = found.lower().replace("/", "\\")
        matches = norm == expected
        if not found:
            text = "Active Directory holds no Central Management store location (SCP)."
        elif matches:
            text = f"The CMS service control point names {found}, as the plan expects."
        else:
            text = f"The CMS service control point names {found}; the plan expects {expected}."
        return _result("cms-scp", "cms_scp", "cms", "ok", text,
                       {"location": found, "expected": expected, "matches": bool(found) and matches})
    return run


def cms_replication_probe(t: Transports, modules: Sequence[str]
                          ) -> Callable[[str | None, float], ProbeResult]:
    def run(via: str | None, timeout: float) -> ProbeResult:
        try:
            values = _run_via(t, via, cms_replication_script(modules), timeout)
        except (OSError, WizardError) as exc:
            return _failure("cms-replication", "cms_replication", "cms", exc)
        probe = _dict(values[0]) if values else {}
        master = _dict(probe.get("Master"))
        active = str(master.get("ActiveMasterFqdn") or "").strip().lower()
        error = master.get("Error")
        replicas = [r for r in _as_list(probe.get("Replicas"))
                    if isinstance(r, dict) and "ReplicaFqdn" in r]
        stale = sorted(str(r["ReplicaFqdn"]).lower() for r in replicas if r.get("UpToDate") is not True)
        if active:
            text = (f"The CMS master is active on {active}; "
                    + (f"{len(stale)} of {len(replicas)} replicas not up to date."
                       if stale else f"all {len(replicas)} replicas up to date."))
        elif error:
            text = f"The CMS replication status could not be read: {str(error).rstrip('.')}."
        else:
            text = "No active CMS master is reported: the Central Management store is unavailable."
        return _result("cms-replication", "cms_replication", "cms", "ok", text,
                       {"active_master": active or None, "error": error,
                        "replicas": len(replicas), "stale": stale})
    return run


def file_store_probe(t: Transports, fs_id: str, unc: str, modules: Sequence[str]
                     ) -> Callable[[str | None, float], ProbeResult]:
    pid = f"fs:{fs_id}"

    def run(via: str | None, timeout: float) -> ProbeResult:
        try:
            values = _run_via(t, via, file_store_script(unc, modules), timeout)
        except (OSError, WizardError) as exc:
            return _failure(pid, "file_store", fs_id, exc)
        probe = _dict(values[0]) if values else {}
        exists = probe.get("Exists") is True
        items = probe.get("Items") if isinstance(probe.get("Items"), int) else None
        if probe.get("Denied") is True and via is not None:
            # unknown, not lost: this session cannot see the share from there
            return _result(pid, "file_store", fs_id, "error",
                           "The file store share " + hop_sentence(via, unc, probing=True),
                           {"unc": unc, "answers": None, "denied": True})
        if not exists:
            text = f"The file store share {unc} does not answer from {via}."
        elif items == 0:
            text = f"The file store share {unc} answers from {via} but is empty."
        else:
            text = f"The file store share {unc} answers from {via} ({items} top-level entries)."
        return _result(pid, "file_store", fs_id, "ok", text,
                       {"unc": unc, "answers": exists, "items": items,
                        "empty": exists and items == 0})
    return run


BACKUP_MODULES = ("UserServices.PresenceFocus", "ConfServices.DataConf", "CentralMgmt.CMSMaster")
_MODULE_STATES = ("FinalState", "SteadyState", "NonSteadyState", "ErrorState", "NotInitialized",
                  "NormalState")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _module_states(value: Any) -> dict[str, list[str]]:
    """Module name -> the state words found beside it, however the object nests them."""
    found: dict[str, list[str]] = {}
    if isinstance(value, dict):
        texts = _strings(value)
        names = [m for m in BACKUP_MODULES if m in texts]
        if len(names) == 1:
            found[names[0]] = [s for s in texts if s in _MODULE_STATES]
        else:
            for v in value.values():
                for k, states in _module_states(v).items():
                    found.setdefault(k, []).extend(states)
    elif isinstance(value, list):
        for v in value:
            for k, states in _module_states(v).items():
                found.setdefault(k, []).extend(states)
    return found


def pairing_probe(t: Transports, pool: str, partner: str, modules: Sequence[str]
                  ) -> Callable[[str | None, float], ProbeResult]:
    pid = f"pair:{pool}"

    def run(via: str | None, timeout: float) -> ProbeResult:
        try:
            values = _run_via(t, via, pairing_script(pool, modules), timeout)
        except (OSError, WizardError) as exc:
            return _failure(pid, "pairing", pool, exc)
        probe = _dict(values[0]) if values else {}
        relation = probe.get("Relationship")
        partner_named = partner.lower() in (s.lower() for s in _strings(relation))
        states = _module_states(probe.get("Status"))
        unhealthy = sorted(m for m, s in states.items() if {"ErrorState", "NonSteadyState"} & set(s))
        if isinstance(relation, dict) and relation.get("Error"):
            rel_text = f"the backup relationship could not be read ({relation['Error']})"
        elif partner_named:
            rel_text = f"backed up by {partner}"
        else:
            rel_text = f"the backup relationship does not name {partner}"
        svc = ("Backup Service modules unhealthy: " + ", ".join(unhealthy) if unhealthy else
               "Backup Service modules healthy" if states else "Backup Service status unknown")
        return _result(pid, "pairing", pool, "ok", f"Pool {pool}: {rel_text}; {svc}.",
                       {"partner": partner, "relationship_ok": partner_named,
                        "modules": states, "unhealthy_modules": unhealthy})
    return run


# ------------------------------------------------------------------------------ the probe set


def plan_probes(plan: Plan, transports: Transports,
                timeouts: ProbeTimeouts = ProbeTimeouts()) -> list[Probe]:
    """Every probe for ``plan``, host probes first, deployment probes (via a Front End) last."""
    modules = tuple(plan.connections.powershell_modules)
    probes: list[Probe] = []
    for target in host_targets(plan):
        probes.append(Probe(f"dns:{target.fqdn}", "dns", target.fqdn, timeouts.dns,
                            dns_probe(transports, target)))
        probes.append(Probe(f"tcp-winrm:{target.fqdn}:{target.winrm_port}", "tcp", target.fqdn,
                            timeouts.tcp, tcp_probe(transports, target, target.winrm_port, "winrm")))
        for port in target.sql_ports:
            probes.append(Probe(f"tcp-sql:{target.fqdn}:{port}", "tcp", target.fqdn,
                                timeouts.tcp, tcp_probe(transports, target, port, "sql")))
        if "lync" in target.roles:
            probes.append(Probe(f"lync:{target.fqdn}", "lync_host", target.fqdn,
                                timeouts.session, lync_host_probe(transports, target.fqdn, modules)))
    for inst in plan.topology.sql_instances:
        probes.append(Probe(f"sql:{inst.id}", "sql", inst.id, timeouts.sql,
                            sql_probe(transports, plan, inst.id)))
    via = front_end_candidates(plan)
    probes.append(Probe("cms-scp", "cms_scp", "cms", timeouts.deployment,
                        cms_scp_probe(transports, plan, modules), via))
    probes.append(Probe("cms-replication", "cms_replication", "cms", timeouts.deployment,
                        cms_replication_probe(transports, modules), via))
    for fs in plan.topology.file_stores:
        unc = f"\\\\{fs.server}\\{fs.share}"
        probes.append(Probe(f"fs:{fs.id}", "file_store", fs.id, timeouts.deployment,
                            file_store_probe(transports, fs.id, unc, modules), via))
    for pool in plan.front_end_pools():
        if pool.paired_with:
            probes.append(Probe(f"pair:{pool.fqdn.lower()}", "pairing", pool.fqdn.lower(),
                                timeouts.deployment,
                                pairing_probe(transports, pool.fqdn.lower(),
                                              pool.paired_with.lower(), modules), via))
    return probes

