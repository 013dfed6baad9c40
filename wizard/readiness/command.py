"""``lync-restore check PLAN``: the readiness audit, run by a person or daily by a scheduler.

Asks, in this order (each server once, concurrently; then SQL; then the backups):

1. every server the plan's recovery paths use (:mod:`wizard.readiness.needs`), over WinRM with
   the credential the plan names for it: PowerShell version, the cmdlets and parameters the
   paths send it, the backup locations (and other servers' shares) it must read, checked from
   that session so the second hop is met as a restore would meet it, and the account's groups
   (:mod:`wizard.readiness.probe`);
2. every Front End pool: could it meet its start quorum with the servers that answer (§5.4)?
3. every SQL instance: is the plan's SQL login sysadmin there (§10: Install-CsDatabase, the
   Monitoring/Archiving restores)?
4. every backup location: listed as the catalogue lists it (mounted, or through ``read_via``),
   the newest copy of every scheduled part held against its interval and the RPO, and checked
   for integrity, .bak files by the instance that would restore them
   (:mod:`wizard.readiness.backups`).

A scheduler cannot answer a password prompt: a credential typed at a prompt makes the checks
that need it UNKNOWN, as does a server that cannot be reached. Output: ``--format table``
(people), ``json``, ``nagios``; the exit code is the Nagios status in every format (0 OK,
1 WARNING, 2 CRITICAL, 3 UNKNOWN; an invalid plan is UNKNOWN, each error FILE:LINE:COL).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from wizard.assess.findings import FIRST_OF, RUNNING_QUORUM, START_QUORUM
from wizard.catalog.discover import CatalogError, Listing, list_sets, list_store_sets
from wizard.catalog.integrity import BakVerifier, SqlBakVerifier
from wizard.errors import InputFileError, PlanError, WizardError
from wizard.plan.loader import load_plan
from wizard.plan.model import BackupLocation, Plan
from wizard.readiness.backups import location_findings, sql_label
from wizard.readiness.needs import HostNeeds, host_needs
from wizard.readiness.probe import HostAnswer, domain_findings, host_findings, host_script
from wizard.readiness.report import Audit, Finding, Perf, Status, render_json, render_nagios, render_table
from wizard.remote import psbuild
from wizard.remote.backup_store import RemoteBackupStore, runner_stdout
from wizard.remote.credentials import CredentialStore
from wizard.remote.endpoints import host_connection, server_sql_endpoint, winrm_endpoint
from wizard.remote.errors import ConnectionLostError, HostNotFoundError, HostUnreachableError, RemoteTimeoutError
from wizard.remote.prompt import CredentialError
from wizard.remote.sql import SqlRunner
from wizard.remote.sqlerrors import SqlServerError
from wizard.remote.winrm import PowerShellRunner

#: Seconds one server may take to answer its script; a set listing's deadline.
HOST_DEADLINE_S = 120.0
LIST_DEADLINE_S = 120.0
SQL_TIMEOUT_S = 30.0
WORKERS = 8

_DOWN = (HostUnreachableError, HostNotFoundError, ConnectionLostError, RemoteTimeoutError)


def _no_prompt(cred_id: str, username: str, purpose: str) -> str:
    raise CredentialError(f"credential '{cred_id}' ({username}) is typed at a prompt, which a scheduled "
                          "check cannot answer: give it an env, keyring or ticket source")


class _Runners:
    """One PowerShell runner per server and one SQL runner per instance, opened on first use
    (a server is used by one thread at a time), all closed at the end."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.credentials = CredentialStore(plan, prompt=_no_prompt)
        self._ps: dict[str, PowerShellRunner] = {}
        self._sql: dict[str, SqlRunner | str] = {}
        self._lock = threading.Lock()

    def powershell(self, host: str) -> PowerShellRunner:
        key = host.lower()
        with self._lock:
            if key in self._ps:
                return self._ps[key]
        cred = self.credentials.for_host(host)
        runner = PowerShellRunner(winrm_endpoint(self.plan, host), cred.username, cred.password.reveal())
        with self._lock:
            return self._ps.setdefault(key, runner)

    def account(self, host: str) -> str:
        try:
            return self.credentials.for_host(host).username
        except CredentialError:  # the account is still named, though its password cannot be had
            hc = host_connection(self.plan, host)
            cred_id = hc.credential if hc and hc.credential else self.plan.credentials.winrm_default
            return next((c.username for c in self.plan.credentials.entries if c.id == cred_id), cred_id)

    def sql(self, sql_id: str) -> SqlRunner | str:
        """The instance's runner, logged in, or the sentence saying why it cannot be asked."""
        with self._lock:
            if sql_id in self._sql:
                return self._sql[sql_id]
        inst = self.plan.sql(sql_id)
        try:
            _, endpoint = server_sql_endpoint(self.plan, inst.server, inst.instance, SQL_TIMEOUT_S)
            cred = self.credentials.for_sql(sql_id)
            runner: SqlRunner | str = SqlRunner(endpoint, cred.username, cred.password.reveal())
            assert isinstance(runner, SqlRunner)
            runner.query("SELECT 1 AS ok")
        except WizardError as exc:
            runner = f"{sql_label(self.plan, sql_id)} could not be asked: {exc.message.rstrip('.')}"
        with self._lock:
            return self._sql.setdefault(sql_id, runner)

    def close(self) -> None:
        """Best effort: a server that went away while we asked cannot spoil the report."""
        closers = [ps.close for ps in self._ps.values()] + [r.close for r in self._sql.values()
                                                              if isinstance(r, SqlRunner)]
        for close in closers:
            with contextlib.suppress(WizardError, OSError):
                close()


@dataclass(frozen=True)
class _Location:
    name: str
    path: str  # the location's UNC folder, as a restore reads it


def _ask(runners: _Runners, needs: HostNeeds, locations: list[_Location], modules: tuple[str, ...]) -> HostAnswer:
    host = needs.host
    account = runners.account(host)
    shares = ([loc.path for loc in locations] if needs.reads_backups else []) + sorted(needs.shares)
    script = host_script(needs, shares, modules if needs.role is not None else ())
    try:
        result = runners.powershell(host).run(script, deadline_s=HOST_DEADLINE_S)
        rows = tuple(psbuild.parse_envelope(result.stdout).values)
    except CredentialError as exc:
        return HostAnswer(host, account, error=exc.message)
    except _DOWN as exc:
        return HostAnswer(host, account, error=exc.message, down=True)
    except WizardError as exc:
        return HostAnswer(host, account, error=exc.message)
    return HostAnswer(host, account, rows)


def _quorum(plan: Plan, answers: dict[str, HostAnswer]) -> list[Finding]:
    """§5.4: could each Enterprise Front End pool be started with the servers that answer now?
    WARNING when it keeps its running quorum but could not start again, CRITICAL below that,
    UNKNOWN when servers that did not let us in (rather than being down) would decide it."""
    out: list[Finding] = []
    for pool in plan.topology.pools:
        size = len(pool.servers)
        if pool.role != "front_end" or pool.edition != "enterprise" or size < 2 or size not in START_QUORUM:
            continue
        members = [s.lower() for s in pool.servers]
        up = [s for s in members if answers[s].error is None]
        unknown = [s for s in members if answers[s].error is not None and not answers[s].down]
        down = [s for s in members if answers[s].down]
        start, running = START_QUORUM[size], RUNNING_QUORUM[size]
        first = members[:FIRST_OF[size]] if size in FIRST_OF else members
        up_first = [s for s in up if s in first]
        facts = {"servers": size, "answering": len(up), "start_needs": start, "running_needs": running}
        said = f"{len(up)} of its {size} Front End Servers answer"
        if down:
            said += f" ({', '.join(down)} down)"
        if len(up) >= start:
            out.append(Finding("quorum", pool.fqdn, Status.OK, f"{said}; starting needs {start}", "5.4", facts))
        elif unknown and len(up) + len(unknown) >= start:
            out.append(Finding("quorum", pool.fqdn, Status.UNKNOWN,
                               f"{said}; starting needs {start}, and {', '.join(unknown)} could not be asked.",
                               "5.4", facts))
        elif len(up_first) >= running:
            out.append(Finding("quorum", pool.fqdn, Status.WARNING,
                               f"{said}: enough to keep running (any {running}) but not to start the pool "
                               f"(needs {start}); a restart or restore of the pool could not bring it up.",
                               "5.4", facts))
        else:
            out.append(Finding("quorum", pool.fqdn, Status.CRITICAL,
                               f"{said}: fewer than the {running} it needs to keep running and the {start} "
                               "it needs to start; the pool could not be brought up.", "5.4", facts))
    return out


def _sysadmin(plan: Plan, runners: _Runners) -> list[Finding]:
    out: list[Finding] = []
    for inst in plan.topology.sql_instances:
        where = sql_label(plan, inst.id)
        runner = runners.sql(inst.id)
        if isinstance(runner, str):
            out.append(Finding("sql", where, Status.UNKNOWN, runner + ".", "10"))
            continue
        try:
            rows = runner.query("SELECT IS_SRVROLEMEMBER('sysadmin') AS sysadmin, SUSER_SNAME() AS login")
        except SqlServerError as exc:
            out.append(Finding("sql", where, Status.UNKNOWN, f"{where} could not say: {exc.message}", "10"))
            continue
        row = rows[0] if rows else {}
        login, member = str(row.get("login") or "the plan's SQL login"), row.get("sysadmin")
        if member == 1:
            out.append(Finding("sql", where, Status.OK, f"{login} is sysadmin on {where}", "10"))
        elif member == 0:
            out.append(Finding("sql", where, Status.CRITICAL,
                               f"{login} is not a member of the sysadmin role on {where}: Install-CsDatabase and "
                               "the database restores need it.", "10"))
        else:
            out.append(Finding("sql", where, Status.UNKNOWN, f"{where} did not say whether {login} is sysadmin.",
                               "10"))
    return out


def _listing(plan: Plan, loc: BackupLocation, runners: _Runners) -> Listing:
    if loc.local_path:
        return list_sets(loc.local_path, plan.backup.layout, loc.unc)
    assert loc.read_via is not None
    store = RemoteBackupStore(runner_stdout(runners.powershell(loc.read_via), LIST_DEADLINE_S), loc.unc, loc.read_via)
    return list_store_sets(store, plan.backup.layout, loc.unc)


def _backups(plan: Plan, runners: _Runners, now: dt.datetime) -> tuple[list[Finding], list[Perf]]:
    findings: list[Finding] = []
    perf: list[Perf] = []

    def verifier_for(sql_id: str) -> BakVerifier | str:
        got = runners.sql(sql_id)
        return got if isinstance(got, str) else SqlBakVerifier(got)

    for loc in plan.backup.locations:
        via = f" through {loc.read_via}" if not loc.local_path and loc.read_via else ""
        if not loc.local_path and not loc.read_via:
            findings.append(Finding("backups", loc.name, Status.UNKNOWN,
                                    f"{loc.unc} has no local_path and no read_via host to list it.", "3"))
            continue
        try:
            listing = _listing(plan, loc, runners)
        except CredentialError as exc:
            findings.append(Finding("backups", loc.name, Status.UNKNOWN, f"{loc.unc} was not listed: {exc.message}.",
                                    "3"))
            continue
        except CatalogError as exc:
            findings.append(Finding("backups", loc.name, Status.CRITICAL, exc.message, "3"))
            continue
        except _DOWN as exc:
            findings.append(Finding("backups", loc.name, Status.UNKNOWN,
                                    f"{loc.unc} was not listed{via}: {exc.message.rstrip('.')}.", "3"))
            continue
        except WizardError as exc:  # the store answered: it is absent, denied or unreadable
            findings.append(Finding("backups", loc.name, Status.CRITICAL, exc.message, "3"))
            continue
        found, figures = location_findings(plan, loc, listing, now, verifier_for)
        findings += found
        perf += figures
    return findings, perf


def audit(plan: Plan, plan_label: str, now: dt.datetime | None = None) -> Audit:
    """Run every check of the plan; ``now`` is naive UTC (set folder names are UTC)."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    needs = host_needs(plan)
    locations = [_Location(loc.name, loc.unc.rstrip("\\")) for loc in plan.backup.locations]
    pchat_export = any(p.role == "persistent_chat" and p.persistent_chat_backup == "export"
                       for p in plan.topology.pools)
    modules = tuple(plan.connections.powershell_modules)
    runners = _Runners(plan)
    findings: list[Finding] = [Finding("plan", plan_label, Status.OK, "the plan is valid")]
    try:
        with ThreadPoolExecutor(max_workers=min(WORKERS, max(len(needs), 1))) as pool:
            answers = dict(zip(needs, pool.map(lambda n: _ask(runners, n, locations, modules), needs.values()),
                               strict=True))
        for host in sorted(needs):
            findings += host_findings(plan, needs[host], answers[host],
                                      [(loc.name, loc.path) for loc in locations], pchat_export)
        seen: set[str] = set()
        for host in sorted(needs):  # the domain groups of each account, from its first token
            answer = answers[host]
            groups = answer.groups() if answer.error is None else None
            if needs[host].domain_member and groups is not None and answer.account.lower() not in seen:
                seen.add(answer.account.lower())
                findings += domain_findings(answer.account, host, groups, pchat_export)
        findings += _quorum(plan, answers)
        findings += _sysadmin(plan, runners)
        found, perf = _backups(plan, runners, now)
        findings += found
    finally:
        runners.close()
    counts = [Perf("checks", len(findings))] + [
        Perf(s.name.lower(), sum(1 for f in findings if f.status is s)) for s in (Status.CRITICAL, Status.WARNING,
                                                                                   Status.UNKNOWN)]
    return Audit(plan_label, plan.organisation.name, now, tuple(findings), tuple(counts + perf))


def _invalid(args: argparse.Namespace, exc: WizardError) -> int:
    errors = exc.errors if isinstance(exc, PlanError) else [exc.message]
    if args.format == "nagios":
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        print(f"LYNC-RESTORE UNKNOWN - the plan cannot be read: {errors[0]}{more}".replace("|", "/"))
    elif args.format == "json":
        print(json.dumps({"plan": args.plan, "status": "UNKNOWN", "exit_code": int(Status.UNKNOWN),
                          "errors": errors}, indent=2))
    else:
        for line in errors:
            print(line, file=sys.stderr)
        print(f"lync-restore: {exc.message}; readiness UNKNOWN (exit 3)", file=sys.stderr)
    return int(Status.UNKNOWN)


def check_command(args: argparse.Namespace) -> int:
    try:
        plan = load_plan(args.plan).plan
    except (PlanError, InputFileError) as exc:
        return _invalid(args, exc)
    result = audit(plan, args.plan)
    render = {"json": render_json, "nagios": render_nagios}.get(args.format, render_table)
    print(render(result), flush=True)
    return int(result.status)
