"""Probe results folded into facts about the deployment: which hosts, instances, databases,
shares and pools work. The classifier reads these facts, never raw probe output, so its rules
stay short and its unit tests can state a situation in a few lines.

Every fact keeps the probe sentences that established it (:class:`Evidence`): a
recommendation must say *why*, naming what was seen and where.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from wizard.assess.events import ProbeResult
from wizard.plan.model import Plan

HostState = Literal["up", "down", "refused", "unknown"]
SqlState = Literal["up", "down", "refused", "unknown"]

#: Pool-level quorum loss: Front Ends that must be running, by pool size (§5.4). For 8-9 the
#: doc says "any 4 of the first 7", for 10-12 "any 5 of the first 9".
RUNNING_QUORUM = {1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3, 7: 4, 8: 4, 9: 4, 10: 5, 11: 5, 12: 5}
FIRST_OF = {8: 7, 9: 7, 10: 9, 11: 9, 12: 9}
#: Front Ends that must be up to start a pool (§5.4).
START_QUORUM = {1: 1, 2: 1, 3: 3, 4: 3, 5: 4, 6: 5, 7: 5, 8: 6, 9: 7, 10: 8, 11: 9, 12: 10}


@dataclass(frozen=True)
class Evidence:
    """One observation: a sentence and where it came from (a probe id, ``answer:<id>`` or
    ``plan``)."""

    text: str
    source: str

    def as_dict(self) -> dict[str, str]:
        return {"text": self.text, "source": self.source}


def running_quorum(size: int) -> int:
    return RUNNING_QUORUM.get(size, size // 2 + 1)


def start_quorum(size: int) -> int:
    return START_QUORUM.get(size, size - 2 if size > 12 else size)


@dataclass(frozen=True)
class Host:
    fqdn: str
    state: HostState
    front_end_running: bool  # RTCSRV running (Lync servers)
    stopped: tuple[str, ...] = ()
    replica_up_to_date: bool | None = None
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class SqlInstanceFacts:
    id: str
    state: SqlState
    databases: Mapping[str, str] = field(default_factory=dict)  # name (lower) -> state_desc
    evidence: tuple[Evidence, ...] = ()

    def db_online(self, name: str) -> bool | None:
        """True/False when the instance answered; None when it did not."""
        if self.state != "up":
            return None
        return self.databases.get(name.lower()) == "ONLINE"


@dataclass(frozen=True)
class Findings:
    """Everything the probes established, by subject."""

    hosts: Mapping[str, Host]
    sql: Mapping[str, SqlInstanceFacts]
    results: Mapping[str, ProbeResult]

    def host(self, fqdn: str) -> Host:
        return self.hosts.get(fqdn.lower()) or Host(fqdn.lower(), "unknown", False)

    def instance(self, sql_id: str) -> SqlInstanceFacts:
        return self.sql.get(sql_id) or SqlInstanceFacts(sql_id, "unknown")

    def result(self, probe_id: str) -> ProbeResult | None:
        return self.results.get(probe_id)

    def evidence_of(self, probe_id: str) -> tuple[Evidence, ...]:
        r = self.results.get(probe_id)
        return (Evidence(r.summary, probe_id),) if r is not None else ()


def unreachable_from_here(findings: Findings) -> str | None:
    """One sentence when the machine running the wizard reaches (almost) nothing of the plan: more
    than half of the hosts do not resolve in DNS, or not one host answers at all. Servers that are
    down keep their DNS records and never all fail at once across sites: this is the jump host's
    VPN or DNS, and no recovery path may be recommended from it (#16: restoring production because
    DNS failed on the jump host)."""
    dns = [r for r in findings.results.values() if r.kind == "dns"]
    unresolved = [r.subject for r in dns if r.status in ("failed", "timeout")]
    hosts = list(findings.hosts.values())
    answering = [h for h in hosts if h.state in ("up", "refused")]
    if len(dns) >= 3 and len(unresolved) * 2 > len(dns):
        return (f"{len(unresolved)} of the plan's {len(dns)} hosts (e.g. {sorted(unresolved)[0]}) do not resolve "
                "in DNS from this machine: check this machine's VPN and DNS settings, then probe again; "
                "nothing is recommended until the deployment can be seen from here.")
    if len(hosts) >= 3 and not answering:
        return (f"Not one of the plan's {len(hosts)} hosts answers from this machine: check this machine's "
                "VPN, routes and firewall, then probe again; nothing is recommended until the deployment "
                "can be seen from here.")
    return None


def _ev(r: ProbeResult | None) -> list[Evidence]:
    return [Evidence(r.summary, r.probe_id)] if r is not None else []


def build_findings(plan: Plan, results: Iterable[ProbeResult]) -> Findings:
    by_id = {r.probe_id: r for r in results}
    by_host: dict[str, list[ProbeResult]] = {}
    for r in by_id.values():
        if r.kind in ("dns", "tcp", "lync_host"):
            by_host.setdefault(r.subject.lower(), []).append(r)
    hosts = {fqdn: _host_facts(fqdn, rs) for fqdn, rs in by_host.items()}
    sql = {inst.id: _sql_facts(inst.id, by_id.get(f"sql:{inst.id}"), hosts.get(inst.server.lower()))
           for inst in plan.topology.sql_instances}
    return Findings(hosts, sql, by_id)


def _host_facts(fqdn: str, rs: list[ProbeResult]) -> Host:
    """One host from its DNS, TCP (WinRM, SQL ports) and Lync session probes."""
    dns = next((r for r in rs if r.kind == "dns"), None)
    winrm = next((r for r in rs if r.kind == "tcp" and r.data.get("service") == "winrm"), None)
    sqltcp = [r for r in rs if r.kind == "tcp" and r.data.get("service") == "sql"]
    session = next((r for r in rs if r.kind == "lync_host"), None)
    if session is not None and session.ok:
        return _host_with_session(fqdn, session)
    state: HostState
    evidence: list[Evidence]
    if dns is not None and dns.status in ("failed", "timeout"):
        state, evidence = "down", _ev(dns)
    elif winrm is not None and winrm.status in ("failed", "timeout") and all(
            r.status in ("failed", "timeout") for r in sqltcp):
        state = "down"
        evidence = _ev(winrm) + [e for r in sqltcp for e in _ev(r)] + _ev(session)
    elif session is not None and session.status == "timeout":
        state, evidence = "down", _ev(session)
    elif session is not None and session.status == "failed":
        state, evidence = "refused", _ev(winrm) + _ev(session)
    elif (winrm is not None and winrm.ok) or any(r.ok for r in sqltcp):
        state, evidence = "up", _ev(winrm) + [e for r in sqltcp for e in _ev(r)]
    else:
        state, evidence = "unknown", _ev(winrm) + _ev(session)
    return Host(fqdn, state, False, (), None, tuple(evidence))


def _host_with_session(fqdn: str, session: ProbeResult) -> Host:
    """A host whose Lync session answered: up, with its services and CMS replica."""
    services = session.data.get("services") or {}
    rep = session.data.get("replica") or {}
    return Host(fqdn, "up",
                front_end_running=services.get("RTCSRV") == "RUNNING",
                stopped=tuple(session.data.get("stopped") or ()),
                replica_up_to_date=rep.get("UpToDate") if isinstance(rep.get("UpToDate"), bool) else None,
                evidence=tuple(_ev(session)))


def _sql_facts(sql_id: str, sr: ProbeResult | None, host: Host | None) -> SqlInstanceFacts:
    """One SQL instance from its login probe and the state of its server."""
    sstate: SqlState
    evidence = _ev(sr)
    dbs: dict[str, str] = {}
    if sr is not None and sr.ok:
        sstate = "up"
        dbs = dict(sr.data.get("databases") or {})
    elif host is not None and host.state == "down":
        sstate = "down"
        evidence += list(host.evidence)
    elif sr is not None and sr.status == "timeout":
        sstate = "down"
    elif sr is not None and sr.status == "failed":
        sstate = sql_failure_state(sr)
    else:
        sstate = "unknown"
    return SqlInstanceFacts(sql_id, sstate, dbs, tuple(evidence))


#: SQL Server error numbers with which an instance answers a login and refuses it: the instance
#: is running, this login (or the database it opens) is not let in. Messages are localised and
#: reworded between versions; the numbers are not.
SQL_LOGIN_REFUSED = frozenset({
    18456,  # Login failed for user '...'
    18452,  # the login is from an untrusted domain (Windows authentication)
    18470,  # the account is disabled
    18486,  # the account is locked out
    18487,  # the password has expired
    18488,  # the password must be changed
    4060,   # Cannot open database "..." requested by the login
    4064,   # Cannot open user default database
    911,    # Database '...' does not exist
    916,    # the server principal cannot access the database under the current security context
})


def sql_failure_state(sr: ProbeResult) -> SqlState:
    """A failed SQL probe, classified by SQL Server's error number (``data["number"]``), never
    by the words of its message: ``refused`` when the instance answered and refused the login
    (:data:`SQL_LOGIN_REFUSED`), ``down`` for any other number (the client's network errors 2, 53,
    -1 ..., a paused service 17142, any other server error).

    Without a number (the failure happened on this side, before SQL Server answered) only a
    credential the wizard could not obtain counts as refused, as for a login the server refuses."""
    number = sr.data.get("number")
    if isinstance(number, int) and not isinstance(number, bool):
        return "refused" if number in SQL_LOGIN_REFUSED else "down"
    return "refused" if sr.data.get("error") == "CredentialError" else "down"
