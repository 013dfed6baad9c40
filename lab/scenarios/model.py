"""What a scenario is once read: :class:`Scenario` (a drill), its :class:`Faults` (the static
extra trouble) and its timed faults (:class:`SqlRestoreFails`, :class:`ConnectionDrop`: trouble
that strikes once, at a given moment of the recovery).

A scenario's damage and checks are callables built from the named actions and checks of its
file (:mod:`lab.scenarios.vocabulary`); the file format is :mod:`lab.scenarios.fileformat`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lab.backupset import SetFaults, write_backup_sets
from lab.directory import short_name
from lab.identity import unc_server
from lab.latency import Latency
from lab.model import LabDeployment
from lab.scoring import DEFAULT_WEIGHTS  # the score's components, defined once

#: The scoring weights a scenario file may change (``scoring.weights``) are lab.scoring's
#: DEFAULT_WEIGHTS: how much each part of a drill's score counts; documented in docs/scenarios.md.


@dataclass(frozen=True)
class SqlRestoreFails:
    """A timed fault: the next ``RESTORE DATABASE`` of ``database`` (any database when None) on
    the SQL instance ``instance`` (a plan SQL id or a Standard Edition pool FQDN) stops when it
    has processed ``at_percent`` percent: reading the backup device fails (SQL Server error 3203,
    then 3013), once."""

    instance: str
    at_percent: int
    database: str | None = None


@dataclass(frozen=True)
class ConnectionDrop:
    """A timed fault: while ``cmdlet`` runs on ``host``, the WinRM connection to ``host`` is lost
    (the listener closes the TCP connection instead of answering the request in flight), once."""

    host: str
    cmdlet: str


@dataclass(frozen=True)
class Faults:
    """Extra trouble a drill may add on top of the outage."""

    corrupt_newest_set: bool = False
    missing_e911: bool = False
    broken_log_chain: bool = False
    #: FQDN of a host whose WinRM listener drops one request in five
    flaky_host: str | None = None
    #: SQL restores run at 2 MB/s (simulated) instead of 150 MB/s
    slow_restore: bool = False
    #: the SQL Server disks fill up during a restore (error 3257)
    full_disk: bool = False
    #: no computer account is trusted for delegation: a forwarded Kerberos ticket never reaches a
    #: host, so only CredSSP (or reading where the share is local) makes the second hop
    no_delegation: bool = False
    #: the wizard's machine has the backup shares mounted (the plan copy gives each location's
    #: local_path): the catalogue reads them without WinRM
    backups_mounted: bool = False
    #: (host, cmdlet, parameter): that server's Lync cmdlet lacks the parameter, as on a server
    #: missing a cumulative update (binding fails as PowerShell's does; Get-Command does not list it)
    missing_parameter: tuple[str, str, str] | None = None
    #: (account short name, group): the account lacks that membership (§10). A domain group
    #: (``RTCUniversalServerAdmins``, ``CsPersistentChatAdministrator``, ...) is taken from the
    #: account; ``Administrators``: it is in no host's local Administrators group; ``sysadmin``:
    #: that login (``lyncsql``, or the Windows account) is in no instance's sysadmin role
    missing_membership: tuple[str, str] | None = None
    #: (host FQDN, share root ``\\server\share``): SMB from that host to the share's server is
    #: dropped (a firewall between them): from that host the server's shares are not found, from
    #: every other host they answer
    share_unreachable: tuple[str, str] | None = None
    #: the nightly backup job stopped this many hours ago: no set was written since (the newest
    #: set is the last 02:00 run before then)
    backups_stopped_hours: int = 0
    #: servers that are off (unreachable, their SQL instances down), as a lost server
    servers_down: tuple[str, ...] = ()
    #: timed: a SQL restore that fails part way, once each
    sql_restore_fails: tuple[SqlRestoreFails, ...] = ()
    #: timed: a WinRM connection lost while a cmdlet runs, once each
    connection_drops: tuple[ConnectionDrop, ...] = ()

    def names(self) -> list[str]:
        return [k for k, v in self.__dict__.items() if v]


Check = Callable[[LabDeployment], list[str]]


def _nothing(dep: LabDeployment) -> None:
    return None


def _no_problems(dep: LabDeployment) -> list[str]:
    return []


@dataclass(frozen=True)
class Scenario:
    """One drill (or the calm lab), as its file describes it."""

    name: str
    summary: str
    outage_class: str
    expected_path: tuple[str, ...]
    damage: Callable[[LabDeployment], None] = _nothing
    check: Check = _no_problems
    plan: str = "lab.yaml"
    #: changes merged into ``plan`` for this scenario (e.g. the CMS in another pool)
    plan_changes: Mapping[str, Any] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    #: the network between the jump host and the servers: each host's answers wait this long
    #: (``network:``; none by default, as on loopback)
    latency: Latency = field(default_factory=Latency)
    #: an order the doc warns against, as (description, §) for drill briefings
    forbidden: tuple[str, ...] = ()
    #: what the instructor expects (#19 scoring): the plan of action, as (recovery path id, the
    #: pool or server it acts on), in order
    expected_plan: tuple[tuple[str, str | None], ...] = ()
    #: the backup set the trainee should restore from: (location name, or None when the plan has
    #: one location; 0 = the newest set there, 1 = the one before, ...); None when no set is needed
    expected_set: tuple[str | None, int] | None = None
    #: how much each part of the score counts (``scoring.weights``; :data:`DEFAULT_WEIGHTS` for
    #: what the file does not give)
    weights: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    #: False for the calm lab: nothing broken, nothing to recover (no drill)
    drill: bool = True
    #: the file an instructor scenario was read from (None: a built-in one)
    source: Path | None = field(default=None, compare=False)

    def with_faults(self, **kwargs: Any) -> Scenario:
        return replace(self, faults=replace(self.faults, **kwargs))

    def apply(self, dep: LabDeployment) -> None:
        """Take the backup sets (healthy), then break the deployment, then add the faults."""
        f = self.faults
        with dep.lock:
            write_backup_sets(dep, faults=SetFaults(corrupt_newest=f.corrupt_newest_set,
                                                    missing_e911_in_newest=f.missing_e911,
                                                    broken_log_chain=f.broken_log_chain,
                                                    stopped_hours=f.backups_stopped_hours))
            self.damage(dep)
            if f.servers_down:
                from lab.scenarios.vocabulary import lose_servers

                lose_servers(dep, f.servers_down)
            if f.missing_membership is not None:
                _remove_membership(dep, *f.missing_membership)
            if f.share_unreachable is not None:
                host, share = f.share_unreachable
                server = unc_server(share)
                if server is None:
                    raise ValueError(f"share_unreachable needs a UNC share root, not {share!r}")
                dep.smb_blocked.add((dep.paths.fqdn(host), dep.paths.fqdn(server)))
            for inst in dep.instances.values():
                if f.slow_restore:
                    inst.throughput_bytes_per_sec = 2 * 1024 * 1024
                if f.full_disk:
                    inst.fault_disk_full = True
            for fails in f.sql_restore_fails:
                target = dep.instance_by_id(fails.instance)
                if target is None:
                    raise ValueError(f"sql_restore_fails names the SQL instance {fails.instance!r}: the lab has none")
                target.restore_faults.append((fails.database, fails.at_percent))
            for drop in f.connection_drops:
                dep.connection_drops.append((dep.paths.fqdn(drop.host), drop.cmdlet.casefold()))
            dep.log("lab", f"scenario {self.name} applied")

    def service_restored(self, dep: LabDeployment) -> list[str]:
        with dep.lock:
            return self.check(dep)


def _remove_membership(dep: LabDeployment, account: str, group: str) -> None:
    """The ``missing_membership`` fault: ``account`` (a short name) out of ``group``."""
    if group.casefold() == "sysadmin":
        for inst in dep.instances.values():
            inst.sysadmins = {n for n in inst.sysadmins if short_name(n).casefold() != account.casefold()}
        return
    dep.directory.remove_membership(account, group)
