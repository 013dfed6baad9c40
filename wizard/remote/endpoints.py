"""Where and how to reach a host of the plan: the one resolver of its WinRM and SQL settings.

The plan gives defaults (``connections.winrm``, ``connections.sql``) and per-host overrides
(``connections.hosts.<fqdn>``: an ``address`` used instead of DNS, ``winrm``/``sql`` settings, a
``credential``). Assessment, the catalogue, the restore steps, the readiness check and the
credential store all ask here, so a host is reached the same way by every stage.
"""

from __future__ import annotations

from wizard.plan.model import HostConnection, Plan
from wizard.remote.odbc import SqlEndpoint
from wizard.remote.winrm import WinRMEndpoint


def host_connection(plan: Plan, fqdn: str) -> HostConnection | None:
    """The plan's overrides for ``fqdn`` (host names compare case-insensitively), if any."""
    for name, hc in plan.connections.hosts.items():
        if name.lower() == fqdn.lower():
            return hc
    return None


def winrm_endpoint(plan: Plan, fqdn: str) -> WinRMEndpoint:
    hc = host_connection(plan, fqdn)
    over = hc.winrm if hc else None
    d = plan.connections.winrm

    def pick(name: str) -> object:
        value = getattr(over, name, None) if over else None
        return value if value is not None else getattr(d, name)

    scheme = pick("scheme") or "https"
    port = pick("port") or (5986 if scheme == "https" else 5985)
    return WinRMEndpoint(
        fqdn, address=hc.address if hc else None, port=int(port),  # type: ignore[call-overload]
        scheme=scheme, auth=pick("auth") or "ntlm",  # type: ignore[arg-type]
        path=str(pick("path") or "/wsman"), ca_bundle=pick("ca_bundle"),  # type: ignore[arg-type]
        insecure=bool(pick("insecure")), delegate=bool(pick("delegate")),
        krb5_config=pick("krb5_config"),  # type: ignore[arg-type]
        realm=plan.organisation.ad_domain.upper() if plan.organisation.ad_domain else None)


def winrm_port(plan: Plan, fqdn: str) -> int:
    return winrm_endpoint(plan, fqdn).port


def sql_endpoint(plan: Plan, sql_id: str, timeout_s: float) -> SqlEndpoint:
    """The endpoint of the plan's SQL instance ``sql_id``."""
    inst = plan.sql(sql_id)
    return _sql_endpoint(plan, inst.server, inst.instance, timeout_s)


def server_sql_endpoint(plan: Plan, server: str, instance: str | None, timeout_s: float) -> tuple[str, SqlEndpoint]:
    """The plan's SQL instance on ``server``\\``instance`` and its endpoint; for an instance the plan
    does not list (a Standard Edition server's own SQL Express, ``rtc``) the server's name stands
    in for its id, and the plan's SQL defaults and the host's overrides apply."""
    for inst in plan.topology.sql_instances:
        if inst.server.lower() == server.lower() and (inst.instance or "").lower() == (instance or "").lower():
            return inst.id, sql_endpoint(plan, inst.id, timeout_s)
    return server, _sql_endpoint(plan, server, instance, timeout_s)


def sql_port(plan: Plan, sql_id: str) -> int | None:
    """The TCP port of a SQL instance, or None for a named instance found via SQL Browser."""
    inst = plan.sql(sql_id)
    port = _sql_endpoint(plan, inst.server, inst.instance, 0).port
    if port:
        return port
    return 1433 if inst.instance is None else None


def _sql_endpoint(plan: Plan, server: str, instance: str | None, timeout_s: float) -> SqlEndpoint:
    hc = host_connection(plan, server)
    over = hc.sql if hc else None
    d = plan.connections.sql

    def pick(name: str) -> object:
        value = getattr(over, name, None) if over else None
        return value if value is not None else getattr(d, name)

    return SqlEndpoint(
        server=server, instance=instance, port=pick("port"),  # type: ignore[arg-type]
        address=hc.address if hc else None, driver=pick("driver"),  # type: ignore[arg-type]
        encrypt=pick("encrypt") or "mandatory",  # type: ignore[arg-type]
        trust_server_certificate=bool(pick("trust_server_certificate")),
        ca_bundle=pick("ca_bundle"),  # type: ignore[arg-type]
        login_timeout_s=float(pick("login_timeout") or timeout_s),  # type: ignore[arg-type]
        query_timeout_s=float(pick("query_timeout") or timeout_s))  # type: ignore[arg-type]
