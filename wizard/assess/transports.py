"""The real transports behind the assessment's probes: DNS, TCP, WinRM and SQL from the plan.

Endpoints come from the plan through :mod:`wizard.remote.endpoints` (defaults, then
``connections.hosts.<fqdn>`` overrides, the address used instead of DNS when the plan gives one);
credentials from the incident's
:class:`~wizard.remote.credentials.CredentialStore`. One PowerShell runner and one SQL runner
per target are opened on first use and kept: the restore stages reuse them, which spares every
later command a new shell (PROTOCOLS.md).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Sequence

from wizard.assess.probes import PowerShell
from wizard.errors import WizardError
from wizard.plan.model import Plan
from wizard.remote.credentials import CredentialStore
from wizard.remote.endpoints import sql_endpoint, winrm_endpoint
from wizard.remote.ports import SqlQuery
from wizard.remote.sql import SqlRunner
from wizard.remote.winrm import PowerShellRunner


class RealTransports:
    """:class:`wizard.assess.probes.Transports` over sockets, pywinrm and pyodbc."""

    def __init__(self, plan: Plan, credentials: CredentialStore, *,
                 on_warning: Callable[[str], None] | None = None) -> None:
        self.plan = plan
        self.credentials = credentials
        self._on_warning = on_warning
        self._lock = threading.Lock()
        self._ps: dict[str, PowerShellRunner] = {}
        self._sql: dict[str, SqlRunner] = {}

    def resolve(self, host: str, timeout_s: float) -> list[str]:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        seen: list[str] = []
        for info in infos:
            addr = str(info[4][0])
            if addr not in seen:
                seen.append(addr)
        return seen

    def tcp_connect(self, address: str, port: int, timeout_s: float) -> None:
        socket.create_connection((address, port), timeout=timeout_s).close()

    def powershell(self, host: str, timeout_s: float) -> PowerShell:
        key = host.lower()
        with self._lock:
            runner = self._ps.get(key)
        if runner is not None:
            return runner
        cred = self.credentials.for_host(host)
        runner = PowerShellRunner(winrm_endpoint(self.plan, host), cred.username,
                                  cred.password.reveal(),
                                  operation_timeout_s=max(1, int(timeout_s)),
                                  connect_timeout_s=min(timeout_s, 10), read_margin_s=2,
                                  on_warning=self._on_warning)
        with self._lock:
            return self._ps.setdefault(key, runner)

    def sql(self, sql_id: str, timeout_s: float) -> SqlQuery:
        with self._lock:
            runner = self._sql.get(sql_id)
        if runner is not None:
            return runner
        cred = self.credentials.for_sql(sql_id)
        # the driver gives up a second before the probe's budget: Microsoft's ODBC Driver 18 spends
        # its whole login timeout on a host that does not resolve, and its own "Login timeout
        # expired" is the answer (a probe cut off at its deadline would be reported abandoned)
        runner = SqlRunner(sql_endpoint(self.plan, sql_id, max(1.0, timeout_s - 1.0)), cred.username,
                           cred.password.reveal())
        with self._lock:
            return self._sql.setdefault(sql_id, runner)

    def runners(self) -> tuple[dict[str, PowerShellRunner], dict[str, SqlRunner]]:
        """The runners opened so far (for the restore stages to reuse)."""
        with self._lock:
            return dict(self._ps), dict(self._sql)

    def close(self) -> list[str]:
        """Close every runner; returns one sentence per runner that failed to close."""
        problems: list[str] = []
        ps, sql = self.runners()
        closers: Sequence[tuple[str, Callable[[], None]]] = (
            [(f"WinRM on {h}", r.close) for h, r in ps.items()]
            + [(f"SQL {i}", r.close) for i, r in sql.items()])
        for what, close in closers:
            try:
                close()
            except WizardError as exc:  # runners raise RemoteError subclasses only
                problems.append(f"Closing {what} failed: {exc.message}")
        with self._lock:
            self._ps.clear()
            self._sql.clear()
        return problems
