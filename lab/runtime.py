"""The running lab: one deployment, one WinRM listener per reachable Windows host, one SQL
Server per reachable instance, all on 127.0.0.1, and a copy of the plan pointing at them.

``LabRuntime`` is what ``lync-restore lab serve`` runs and what integration tests use
in-process (it is a context manager). Every host's WinRM listener hands commands to its own
:class:`~lab.powershell.host.PowerShellHost` loaded with the lab's Lync cmdlets and
native programs; every SQL listener is a :class:`~lab.tds.server.TdsServer` backed by a
:class:`~lab.sqlengine.SqlEngine` over the deployment's own instance state, so both
protocols change one world.

Passwords are generated per run unless ``LYNC_LAB_PASSWORD`` / ``LYNC_LAB_SQL_PASSWORD`` are set
(the lab plan's credential sources); they are handed out by :meth:`LabRuntime.info` only.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle  # the lab's own saved state (lab-state.pickle), never input from elsewhere
import secrets
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from lab.clock import LabClock
from lab.cmdlets import lync_cmdlets
from lab.hands import LabHands
from lab.keeper import STATE_FILE
from lab.kerberos import KerberosUnavailable, LabKdc, kdc_available
from lab.latency import Latency
from lab.model import LAB_EPOCH, LabDeployment
from lab.natives import lab_natives
from lab.paths import LabFS
from lab.powershell.binding import CmdletSpec, Invocation
from lab.powershell.host import PowerShellHost
from lab.scenarios import Scenario
from lab.sqlengine import SqlEngine
from lab.tds.server import TdsServer
from lab.tls import LabCA
from lab.windows import powershell_version
from lab.wsman import CommandIO, WsmanServer
from lab.wsman.auth import KerberosKeys
from wizard.journal import write_private
from wizard.plan import load_plan
from wizard.remote.negotiate import kerberos_missing
from wizard.remote.odbc import SqlEndpoint, bundled_msodbc18, classify, connection_string
from wizard.remote.winrm import AuthMethod, PowerShellRunner, WinRMEndpoint

PLANS_DIR = Path(str(resources.files("plans")))  # the shipped plans (a package: installed with the wizard)


def merge_plan(base: Any, changes: Any) -> Any:
    """``changes`` merged into the plan data ``base``: mappings merge key by key; a list of
    mappings merges item by item on its key (``fqdn``, ``id`` or ``name``), new items appended;
    anything else replaces."""
    def key(item: Any) -> Any:
        return next((item[k] for k in ("fqdn", "id", "name") if isinstance(item, Mapping) and k in item), None)

    if isinstance(base, dict) and isinstance(changes, Mapping):
        return {**base, **{k: merge_plan(base.get(k), v) for k, v in changes.items()}}
    if isinstance(base, list) and isinstance(changes, list) and all(key(c) is not None for c in changes):
        merged = [merge_plan(b, next((c for c in changes if key(c) == key(b)), b)) for b in base]
        return merged + [c for c in changes if key(c) not in {key(b) for b in base}]
    return changes


def scenario_plan_data(scenario: Scenario | None, client_auth: str | None = None) -> dict[str, Any]:
    """The plan a drill of ``scenario`` is played with, before any lab listens: the shipped plan
    with the scenario's changes, the WinRM authentication the drill uses and a ``lab`` block.
    It names no endpoint (every host is then refused, never looked up: drill isolation), so it
    is the same text for every lab of the scenario: the plan an incident is journaled with while
    the endpoints of the lab it runs on live in that lab's own plan copy (:meth:`LabRuntime.write_plan`)."""
    source = PLANS_DIR / (scenario.plan if scenario else "lab.yaml")
    data: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    if scenario is not None and scenario.plan_changes:
        data = merge_plan(data, scenario.plan_changes)
    if client_auth:
        data.setdefault("connections", {}).setdefault("winrm", {})["auth"] = client_auth
    data["lab"] = {"scenario": scenario.name if scenario else "healthy"}
    return data


def wall_clock_now() -> dt.datetime:
    """The real time, UTC, naive and to the second: where ``wall_clock`` starts a lab."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class _HostAdapter:
    """The WS-Management CommandHost of one simulated machine."""

    def __init__(self, ps: PowerShellHost) -> None:
        self.ps = ps

    def run(self, command: str, arguments: Sequence[str], io: CommandIO) -> int:
        return self.ps.run_command_line(command, arguments, io)



class LabRuntime:
    """A scenario served on loopback. Use as ``with LabRuntime(scenario) as lab: ...``."""

    def __init__(self, scenario: Scenario | None = None, *, state_dir: Path | None = None,
                 time_factor: float = 60.0, plan_path: Path | None = None,
                 auth: Sequence[str] | None = None, client_auth: str | None = None,
                 passwords: tuple[str, str] | None = None, revive: bool = False,
                 start: dt.datetime | None = None, wall_clock: bool = False,
                 latency: Latency | None = None) -> None:
        """``revive``: continue from the state saved in ``state_dir`` (:meth:`save`) when there is
        one: the servers as they were, on the lab's clock from where it was (a kept lab whose
        jump host restarted); ``auth``: what the WinRM listeners accept (default: Basic, NTLM, CredSSP and, with the
        lab's KDC, Kerberos); ``client_auth``: the one the plan copy tells
        the wizard to use (the listeners then accept only it, so a drill proves it used it);
        ``passwords``: the WinRM and SQL passwords to use (a drill's keeper shares them with the
        wizard), else the environment's or random ones; ``start``: the lab's time when it starts
        (default :data:`~lab.model.LAB_EPOCH`; the backup sets are the nights before it), or
        ``wall_clock``: the real time now (UTC, naive, as set folder names are). A revived lab
        goes on from its saved time. ``latency``: the network's one-way delay of each host's WinRM and
        SQL answers (:mod:`lab.latency`; default: the scenario's ``network:``, else none)."""
        self.scenario = scenario
        self.latency = latency if latency is not None else (scenario.latency if scenario else Latency())
        self.client_auth = client_auth
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="lync-lab-")
            state_dir = Path(self._tmp.name)
        self.state_dir = Path(state_dir)
        self.source_plan = plan_path or PLANS_DIR / (scenario.plan if scenario else "lab.yaml")
        if scenario is not None and scenario.plan_changes:
            self.source_plan = self._changed_plan(self.source_plan, scenario.plan_changes)
        loaded = load_plan(self.source_plan)
        self.plan = loaded.plan
        saved = self.state_dir / STATE_FILE
        self.revived_at: dt.datetime | None = None  # the lab time the saved state was taken at
        if revive and saved.is_file():
            data = pickle.loads(saved.read_bytes())  # noqa: S301 - the lab's own file, in its 0700 folder
            self.revived_at = data["now"]
            # the clock goes on from where it was, its busy and work time too (a drill's score)
            self.clock = LabClock(time_factor, start=data["now"],
                                  carried=(data.get("busy_real_s", 0.0), data.get("work_s", 0.0)))
            self.dep: LabDeployment = data["deployment"]
            self.dep.revive(self.clock)
        else:
            if start is None:
                start = wall_clock_now() if wall_clock else LAB_EPOCH
            self.clock = LabClock(time_factor, start=start)
            self.dep = LabDeployment.from_plan(self.plan, self.state_dir, self.clock, now=start)
        # the realm's KDC (lab/kerberos.py) when MIT Kerberos and the Python GSSAPI are installed
        self.kdc: LabKdc | None = None
        if kdc_available() and kerberos_missing() is None:
            self.kdc = LabKdc(self.state_dir / "kdc", self.plan.organisation.ad_domain or "fabrikam.lab")
        self.kerberos_keys: KerberosKeys | None = None
        default_auth = ("basic", "ntlm", "credssp") + (("kerberos",) if self.kdc else ())
        self.auth = (client_auth,) if client_auth else tuple(auth or default_auth)
        if "kerberos" in self.auth and self.kdc is None:
            raise KerberosUnavailable(
                "The lab's Kerberos needs MIT Kerberos' KDC (Debian: krb5-kdc krb5-admin-server) and "
                f"the Python gssapi module ({kerberos_missing() or 'installed'}): bash bootstrap.sh "
                "setup installs both.")
        creds = {c.id: c for c in self.plan.credentials.entries}
        win = creds[self.plan.credentials.winrm_default]
        sql = creds[self.plan.credentials.sql_default or self.plan.credentials.winrm_default]
        self.win_user = win.username
        self.sql_user = sql.username
        if passwords is not None:
            self.win_password, self.sql_password = passwords
        else:
            self.win_password = os.environ.get(win.env or "", "") or secrets.token_urlsafe(12)
            self.sql_password = os.environ.get(sql.env or "", "") or secrets.token_urlsafe(12)
        short_user = self.win_user.split("\\")[-1]
        self.users = {self.win_user: self.win_password, short_user: self.win_password}
        self.wsman: dict[str, WsmanServer] = {}
        self.tds: dict[str, TdsServer] = {}
        self.hosts: dict[str, PowerShellHost] = {}
        self.plan_path = self.state_dir / "lab-plan.yaml"
        self.ca = LabCA(self.state_dir / "pki")  # kept with the state: a revived lab keeps its certificates
        if scenario is not None and self.revived_at is None:
            scenario.apply(self.dep)
        self._hands = LabHands(self.dep, self.powershell, self.rebuild, self._listen)
        for inst in self.dep.instances.values():
            inst.logins[self.sql_user] = self.sql_password

    def _changed_plan(self, source: Path, changes: Mapping[str, Any]) -> Path:
        """A scenario's variant of a shipped plan (e.g. the CMS in another pool, a second Edge
        pool), written beside the lab's state so the drill plan and the deployment agree
        (:func:`merge_plan`)."""
        data = merge_plan(yaml.safe_load(source.read_text(encoding="utf-8")), changes)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        target = self.state_dir / "scenario-plan.yaml"
        target.write_text(f"# {source.name} changed for the scenario {self.scenario.name if self.scenario else ''}\n"
                          + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return target

    # ------------------------------------------------------------------ kept across a restart
    def save(self) -> None:
        """Write the deployment's state and the lab's time beside its disk (0600, atomically): what
        a real estate keeps when the jump host restarts. :class:`LabRuntime` with ``revive`` reads it."""
        with self.dep.lock:
            data = pickle.dumps({"deployment": self.dep, "now": self.clock.now(),
                                 "busy_real_s": self.clock.busy_real_s(), "work_s": self.clock.work_s()},
                                protocol=pickle.HIGHEST_PROTOCOL)
        tmp = self.state_dir / f".{STATE_FILE}.tmp"
        write_private(tmp, data)  # 0600, fsynced; then in place at once (a crash leaves the last one)
        os.replace(tmp, self.state_dir / STATE_FILE)

    # ------------------------------------------------------------------ lifecycle
    def _start_kdc(self) -> None:
        """The realm: every account and every Windows host's HTTP/<fqdn> key, the hosts trusted
        for delegation flagged OK-AS-DELEGATE (all of them, unless the scenario's estate trusts
        none: its second hop then needs CredSSP), and the KDC listening on loopback."""
        if self.kdc is None:
            return
        if not self.kdc.created:
            with self.dep.lock:
                hosts = sorted(self.dep.servers)
            untrusted = self.scenario is not None and self.scenario.faults.no_delegation
            self.kdc.create(self.users, hosts, () if untrusted else hosts)
        self.kdc.start()
        self.kerberos_keys = KerberosKeys(str(self.kdc.keytab), self.kdc.realm)

    def start(self) -> LabRuntime:
        self._start_kdc()
        with self.dep.lock:
            for srv in self.dep.servers.values():
                if srv.reachable:
                    self._start_host(srv.fqdn)
        self.write_plan()
        return self

    def _start_host(self, fqdn: str) -> None:
        if fqdn not in self.wsman:
            ps = self.powershell(fqdn)
            server = WsmanServer(fqdn, _HostAdapter(ps), self.users, auth=self.auth,
                                 tls=self.ca.server_context(fqdn),  # 5986, as production
                                 kerberos=self.kerberos_keys, latency_s=self.latency.of(fqdn)).start()
            if self.scenario is not None and self.scenario.faults.flaky_host == fqdn:
                server.faults.drop_probability = 0.2  # one request in five, at random (seeded)
            self.wsman[fqdn] = server
        for inst in self.dep.instances_on(fqdn):
            key = next(k for k, v in self.dep.instances.items() if v is inst)
            if key in self.tds or not inst.up:
                continue
            engine = SqlEngine(inst, resolve_path=self.dep.paths.resolver_for(inst.server),
                               clock=self.clock)
            # SQL Server always offers encryption (with no certificate configured it makes a
            # self-signed one at start-up): the lab's instances present one of the lab CA
            self.tds[key] = TdsServer(engine, server_name=inst.name,
                                      tls=self.ca.server_context(inst.server, sql_server=True),
                                      latency_s=self.latency.of(inst.server)).start()

    def stop(self) -> None:
        for server in self.wsman.values():
            server.stop()
        for tds in self.tds.values():
            tds.stop()
        self.wsman.clear()
        self.tds.clear()
        if self.kdc is not None:
            self.kdc.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LabRuntime:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------------ the network
    def set_latency(self, latency: Latency) -> None:
        """Change the network's delay now: the next answer of every listener waits the new one."""
        self.latency = latency
        for fqdn, server in list(self.wsman.items()):
            server.latency_s = latency.of(fqdn)
        for key, tds in list(self.tds.items()):
            tds.latency_s = latency.of(self.dep.instances[key].server)

    def requests(self) -> tuple[int, int]:
        """(WinRM HTTP requests, TDS client messages) that arrived at the running listeners."""
        return (sum(s.requests for s in list(self.wsman.values())),
                sum(t.requests for t in list(self.tds.values())))

    # ------------------------------------------------------------------ drill actions
    def rebuild(self, fqdn: str) -> None:
        """§6.1 done by hand: a clean machine with the same FQDN comes up (and its listeners)."""
        self.dep.rebuild_server(fqdn)
        for inst in self.dep.instances_on(fqdn):
            inst.logins[self.sql_user] = self.sql_password
        self._start_host(self.dep.paths.fqdn(fqdn))
        self.write_plan()

    def perform_manual(self, step_id: str, question_text: str) -> str | None:
        """The trainee's hands for a manual step (Windows/SQL set-up, Deployment Wizard, Topology
        Builder, a share): does on the lab what the real tool would and returns a one-line note
        of what was (or could not be) done, or None when the step needs no hands. It never makes
        up for a skipped step: the step's post-check or the §7 verification judges the result."""
        note = self._hands.perform(step_id, question_text)
        if note is not None:
            self.write_plan()
        return note

    def _listen(self, fqdn: str) -> None:
        """(Re)start the listeners of a reachable host (a SQL instance may have come up)."""
        fqdn = self.dep.paths.fqdn(fqdn)
        srv = self.dep.servers.get(fqdn)
        if srv is not None and srv.reachable:
            self._start_host(fqdn)

    def powershell(self, fqdn: str) -> PowerShellHost:
        """The PowerShell of one simulated host (in-process use by tests and drills)."""
        fqdn = self.dep.paths.fqdn(fqdn)
        if fqdn not in self.hosts:
            self.hosts[fqdn] = PowerShellHost(
                self._cmdlets(fqdn), lab_natives(self.dep, fqdn),
                LabFS(self.dep.paths, fqdn), fqdn, clock=self.clock.now,
                ps_version=powershell_version(fqdn))  # per host: lab/windows.py
        return self.hosts[fqdn]

    def _cmdlets(self, fqdn: str) -> list[CmdletSpec]:
        """The Lync cmdlets of one host; a scenario may take a parameter away from one of them."""
        specs = list(lync_cmdlets(self.dep, fqdn))
        lacking = self.scenario.faults.missing_parameter if self.scenario is not None else None
        if lacking is not None and self.dep.paths.fqdn(lacking[0]) == fqdn:
            _, cmdlet, parameter = lacking
            specs = [replace(s, params=[p for p in s.params if p.name.lower() != parameter.lower()])
                     if s.name.lower() == cmdlet.lower() else s for s in specs]
        dropping = {cmdlet for host, cmdlet in self.dep.connection_drops if host == fqdn}
        return [self._dropping(fqdn, s) if s.name.casefold() in dropping else s for s in specs]

    def _dropping(self, fqdn: str, spec: CmdletSpec) -> CmdletSpec:
        """A cmdlet during which the network to ``fqdn`` fails once (a scenario's timed
        ``connection_drops``): the request in flight to the host's WinRM listener gets no answer,
        its TCP connection closed; the cmdlet itself runs on, as on a real server whose client
        went away."""
        run = spec.handler

        def handler(invocation: Invocation) -> Iterable[Any] | None:
            if self.dep.take_connection_drop(fqdn, spec.name):
                server = self.wsman.get(fqdn)
                if server is not None:
                    server.faults.drop_next_answer = True
                self.dep.log(fqdn, f"the network to {fqdn} failed while {spec.name} ran")
            return run(invocation)
        return replace(spec, handler=handler)

    # ------------------------------------------------------------------ endpoints
    def winrm_urls(self) -> dict[str, str]:
        return {fqdn: server.url for fqdn, server in self.wsman.items()}

    def sql_endpoints(self) -> dict[str, str]:
        return {self.dep.instances[key].data_source: f"127.0.0.1,{tds.port}"
                for key, tds in self.tds.items()}

    def winrm_endpoint(self, fqdn: str, auth: AuthMethod = "ntlm") -> WinRMEndpoint:
        """How the wizard's runner reaches ``fqdn``'s listener: HTTPS to loopback, the
        certificate checked against ``fqdn`` with the lab's CA."""
        fqdn = self.dep.paths.fqdn(fqdn)
        server = self.wsman.get(fqdn)
        if server is None:
            raise KeyError(f"{fqdn} has no WinRM listener (lost or not a Windows host)")
        return WinRMEndpoint(fqdn, address="127.0.0.1", port=server.port, scheme="https",
                             auth=auth, ca_bundle=str(self.ca.bundle), delegate=auth == "kerberos",
                             krb5_config=str(self.kdc.krb5_config) if self.kdc else None,
                             realm=self.kdc.realm if self.kdc else None)

    def runner(self, fqdn: str, auth: AuthMethod = "ntlm",
               **kwargs: Any) -> PowerShellRunner:
        """The wizard's real PowerShell runner (pywinrm underneath) on one lab host, over HTTPS."""
        return PowerShellRunner(self.winrm_endpoint(fqdn, auth), self.win_user,
                                self.win_password, **kwargs)

    def sql_key(self, sql: str) -> str:
        """The instance key of a plan SQL id (``be1``), an SE pool FQDN or ``server\\inst``."""
        key = self.dep.sql_ids.get(sql)
        if key is None and sql.lower() in self.dep.instances:
            key = sql.lower()
        if key is None:
            raise KeyError(f"no SQL instance {sql} in the lab")
        return key

    def sql_endpoint(self, sql: str) -> SqlEndpoint:
        """The loopback endpoint of a running lab SQL instance (no encryption)."""
        key = self.sql_key(sql)
        tds = self.tds.get(key)
        if tds is None:
            raise KeyError(f"the SQL instance {sql} is not running")
        inst = self.dep.instances[key]
        return SqlEndpoint(inst.server, inst.instance, port=tds.port, address="127.0.0.1",
                           driver=None, encrypt="off", trust_server_certificate=True)

    def odbc_connection_string(self, sql: str, driver: str) -> str:
        """A full ODBC connection string for ``driver`` (a path or registered name) to a lab
        instance with the lab's SQL login. It holds the password: tests and drills only."""
        return connection_string(self.sql_endpoint(sql), classify(driver), self.sql_user,
                                 self.sql_password)

    def write_plan(self) -> Path:
        """The plan copy: the source plan plus per-host loopback endpoints and a lab block."""
        data: dict[str, Any] = yaml.safe_load(self.source_plan.read_text(encoding="utf-8"))
        connections = data.setdefault("connections", {})
        winrm = connections.setdefault("winrm", {})
        if self.client_auth:
            winrm["auth"] = self.client_auth
        # the listeners serve HTTPS with certificates of the lab's own CA (lab/tls.py)
        winrm.update({"scheme": "https", "ca_bundle": str(self.ca.bundle)})
        winrm.pop("insecure", None)
        if self.kdc is not None:  # the realm's configuration, as a domain-joined jump host has
            winrm["krb5_config"] = str(self.kdc.krb5_config)
        sql = connections.setdefault("sql", {})
        if sql.get("encrypt", "mandatory") != "off":
            # encryption required and the certificate validated: Microsoft's ODBC Driver 18 with
            # the lab's CA (FreeTDS cannot validate one: odbc.py refuses that combination)
            driver = bundled_msodbc18()
            if driver is not None and not sql.get("driver"):
                sql.update({"driver": driver, "ca_bundle": str(self.ca.bundle)})
            elif not sql.get("driver"):
                sql["trust_server_certificate"] = True  # FreeTDS only here: encrypted, unvalidated
        hosts: dict[str, Any] = {}
        for fqdn, server in self.wsman.items():
            hosts[fqdn] = {"address": "127.0.0.1", "winrm": {"port": server.port}}
        for key, tds in self.tds.items():
            inst = self.dep.instances[key]
            hosts.setdefault(inst.server, {"address": "127.0.0.1"})["sql"] = {"port": tds.port}
        if self.scenario is not None and self.scenario.faults.backups_mounted:
            # the shares mounted on the wizard's machine: the lab's folders of each UNC path
            for loc in data.get("backup", {}).get("locations", []):
                loc["local_path"] = str(self.dep.paths.resolve(loc["unc"]))
        # the plan validator knows topology hosts only (not the backup share's server)
        topo = self.plan.topology
        known = {s.lower() for p in topo.pools for s in p.servers} | {
            p.fqdn.lower() for p in topo.pools} | {s.server.lower() for s in topo.sql_instances} | {
            f.server.lower() for f in topo.file_stores}
        connections["hosts"] = {h: v for h, v in hosts.items() if h in known}
        data["lab"] = {"scenario": self.scenario.name if self.scenario else "healthy",
                       "state_dir": str(self.state_dir)}
        text = ("# Written by lync-restore lab serve: loopback endpoints of a simulated deployment.\n"
                + yaml.safe_dump(data, sort_keys=False))
        partial = self.plan_path.with_name(self.plan_path.name + ".new")
        partial.write_text(text, encoding="utf-8")
        partial.replace(self.plan_path)  # whole or not at all: a drill's wizard rereads it from another process
        return self.plan_path

    def info(self) -> dict[str, Any]:
        """What ``lab serve --json`` prints (includes the passwords: lab only)."""
        return {
            "winrm": self.winrm_urls(),
            "sql": self.sql_endpoints(),
            "users": {"winrm": self.win_user, "sql": self.sql_user},
            "passwords": {"winrm": self.win_password, "sql": self.sql_password},
            "plan": str(self.plan_path),
            "scenario": self.scenario.name if self.scenario else "healthy",
            "ca_bundle": str(self.ca.bundle),
            "krb5_config": str(self.kdc.krb5_config) if self.kdc else None,
            "realm": self.kdc.realm if self.kdc else None,
            "latency_ms": {"default": self.latency.default_s * 1000,
                           **{h: s * 1000 for h, s in self.latency.hosts.items()}},
        }
