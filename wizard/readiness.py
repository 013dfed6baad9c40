"""``lync-restore check PLAN``: readiness for schedulers (cron, a monitoring agent).

Every backup location of the plan is listed, from the share mounted here (``local_path``) or
through PowerShell on its ``read_via`` host over WinRM, with the credential the plan names for
that host, and its newest set is held against the RPO (§3: a backup older than the RPO is data
that a restore would lose). A scheduler cannot answer a password prompt: a location whose host
credential is typed at a prompt is reported NOT CHECKED, as is one whose host cannot be reached.

Exit 0 only when every location was listed and its newest set is within the RPO; 1 otherwise
(a missing or stale set, an unreadable store, or a location not checked: readiness unknown is
not readiness); 2 for an invalid plan. One line per location, no traceback, no secret.
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass

from wizard.catalog.discover import CatalogError, Listing, list_sets, list_store_sets
from wizard.errors import ExitCode, RemoteError
from wizard.plan.loader import load_plan
from wizard.plan.model import BackupLocation, Plan
from wizard.remote.backup_store import BackupStoreError, RemoteBackupStore, runner_stdout
from wizard.remote.credentials import CredentialStore
from wizard.remote.endpoints import winrm_endpoint
from wizard.remote.prompt import CredentialError
from wizard.remote.winrm import PowerShellRunner

LIST_DEADLINE_S = 60.0


@dataclass(frozen=True)
class LocationReport:
    ready: bool
    line: str


def _no_prompt(cred_id: str, username: str, purpose: str) -> str:
    raise CredentialError(f"credential '{cred_id}' ({username}) is typed at a prompt, which a scheduled "
                          "check cannot answer: give it an env or keyring source for check")


class _Hosts:
    """One PowerShell runner per read_via host, opened on first use, all closed at the end."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.credentials = CredentialStore(plan, prompt=_no_prompt)
        self.runners: dict[str, PowerShellRunner] = {}

    def runner(self, host: str) -> PowerShellRunner:
        key = host.lower()
        if key not in self.runners:
            cred = self.credentials.for_host(host)
            self.runners[key] = PowerShellRunner(winrm_endpoint(self.plan, host), cred.username,
                                                 cred.password.reveal())
        return self.runners[key]

    def close(self) -> None:
        for runner in self.runners.values():
            runner.close()


def _listing(plan: Plan, loc: BackupLocation, hosts: _Hosts) -> Listing:
    if loc.local_path:
        return list_sets(loc.local_path, plan.backup.layout, loc.unc)
    assert loc.read_via is not None
    store = RemoteBackupStore(runner_stdout(hosts.runner(loc.read_via), LIST_DEADLINE_S), loc.unc, loc.read_via)
    return list_store_sets(store, plan.backup.layout, loc.unc)


def check_location(plan: Plan, loc: BackupLocation, hosts: _Hosts, now: dt.datetime) -> LocationReport:
    """``now`` is naive UTC, as set folder names are."""
    via = f" (listed through {loc.read_via})" if not loc.local_path and loc.read_via else ""
    if not loc.local_path and not loc.read_via:
        return LocationReport(False, f"{loc.unc}: NOT CHECKED: no local_path and no read_via host to list it")
    try:
        listing = _listing(plan, loc, hosts)
    except CredentialError as exc:
        return LocationReport(False, f"{loc.unc}: NOT CHECKED: {exc.message}")
    except (CatalogError, BackupStoreError) as exc:  # the store answered: it is absent or unreadable
        return LocationReport(False, f"{loc.unc}: NOT READY: {exc.message}")
    except RemoteError as exc:  # the host did not (unreachable, refused, 401)
        return LocationReport(False, f"{loc.unc}: NOT CHECKED: {exc}")
    if not listing.sets:
        where = loc.local_path or loc.unc
        return LocationReport(False, f"{loc.unc}: NOT READY: no backup set in {where}{via}")
    newest = listing.sets[0]
    age_s = (now - newest.created).total_seconds()
    hours = age_s / 3600
    rpo = plan.objectives.rpo
    if age_s > rpo.seconds:
        return LocationReport(False, f"{loc.unc}: NOT READY: the newest set {newest.name} is {hours:.1f} h old, "
                                     f"over the RPO of {rpo}{via}")
    return LocationReport(True, f"{loc.unc}: newest set {newest.name}, {hours:.1f} h old (RPO {rpo}); "
                                f"{len(listing.sets)} sets{via}")


def check_command(args: argparse.Namespace) -> int:
    loaded = load_plan(args.plan)
    plan = loaded.plan
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    print(f"{args.plan}: plan valid for {plan.organisation.name}")
    hosts = _Hosts(plan)
    ready = True
    try:
        for loc in plan.backup.locations:
            report = check_location(plan, loc, hosts, now)
            print(report.line, flush=True)
            ready = ready and report.ready
    finally:
        hosts.close()
    return ExitCode.OK if ready else ExitCode.FAILED
