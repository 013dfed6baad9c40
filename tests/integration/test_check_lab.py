"""``lync-restore check`` against the running lab (#18 item 1): the calm lab on the wall clock
(last night's sets) is OK, exit 0; each fault injected in the lab is found, with the exit code of
its Nagios meaning, and ``--format json`` carries the same findings as the status line counts.
Everything goes through the real clients: pywinrm (Kerberos over HTTPS) to every server the
plan's paths use, pyodbc to every SQL instance, the sets listed through ``read_via``.

Faults and what a Lync administrator would expect (domain doc sections):
- the backup job stopped 30 h ago: the newest set is over the RPO (§3): CRITICAL;
- the newest set lacks E911Config.zip: its newest copy is over the RPO (§2.5): CRITICAL;
- the newest set damaged: zips differ from the manifest, VERIFYONLY by the restoring instance
  fails (§7.4): CRITICAL;
- one Front End cannot reach the DR vault but reads the HQ one (§3): WARNING;
- no server trusted for delegation: every Front End is denied both vaults (the second hop): CRITICAL;
- the admin account out of RTCUniversalServerAdmins, the SQL login out of sysadmin (§10): CRITICAL;
- one of pool1's three Front Ends down: it keeps running but could not start (§5.4): WARNING on the
  pool, and the server itself could not be checked: UNKNOWN, which outranks WARNING; two down:
  below the running quorum: CRITICAL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from lab.runtime import LabRuntime
from lab.scenarios import scenario
from tests.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

NAGIOS = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


def _run(plan: str, fmt: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LYNC_LAB_")}
    return subprocess.run([sys.executable, "-m", "wizard", "check", plan, "--format", fmt], capture_output=True,
                          text=True, cwd=REPO, timeout=150, env={**clean, **env})


def _audit(**faults: Any) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str], dict[str, Any]]:
    with LabRuntime(scenario("calm").with_faults(**faults), wall_clock=True) as lab:
        env = {"LYNC_LAB_PASSWORD": lab.win_password, "LYNC_LAB_SQL_PASSWORD": lab.sql_password}
        nagios = _run(str(lab.plan_path), "nagios", env)
        as_json = _run(str(lab.plan_path), "json", env)
        passwords = (lab.win_password, lab.sql_password)
    for proc in (nagios, as_json):
        assert "Traceback" not in proc.stderr, proc.stderr
        assert not any(p in proc.stdout + proc.stderr for p in passwords)
    return nagios, as_json, json.loads(as_json.stdout)


def _same_audit(nagios: subprocess.CompletedProcess[str], data: dict[str, Any], code: int) -> None:
    """The status line, its exit code and the JSON tell one audit."""
    assert nagios.returncode == code == data["exit_code"], (nagios.returncode, data["exit_code"], nagios.stdout)
    line = nagios.stdout.strip()
    assert len(line.splitlines()) == 1 and line.startswith(f"LYNC-RESTORE {NAGIOS[code]} - "), line
    assert data["status"] == NAGIOS[code]
    perf = dict(item.split("=", 1) for item in line.split(" | ", 1)[1].split())
    counts = {s: sum(1 for f in data["findings"] if f["status"] == s) for s in NAGIOS.values()}
    assert perf["checks"].split(";")[0] == str(len(data["findings"]))
    for status in ("CRITICAL", "WARNING", "UNKNOWN"):
        assert perf[status.lower()].split(";")[0] == str(counts[status])
    assert data["counts"] == counts


def _found(data: dict[str, Any]) -> dict[str, str]:
    return {f"{f['check']}:{f['subject']}": f["status"] for f in data["findings"]}


def test_the_calm_lab_is_ready_and_the_table_reads_in_80_columns() -> None:
    with LabRuntime(scenario("calm"), wall_clock=True) as lab:
        env = {"LYNC_LAB_PASSWORD": lab.win_password, "LYNC_LAB_SQL_PASSWORD": lab.sql_password}
        table = _run(str(lab.plan_path), "table", env)
        nagios = _run(str(lab.plan_path), "nagios", env)
        as_json = _run(str(lab.plan_path), "json", env)
    data = json.loads(as_json.stdout)
    _same_audit(nagios, data, 0)
    assert table.returncode == 0 and "Readiness: OK" in table.stdout
    assert all(len(line) <= 80 for line in table.stdout.splitlines()[1:]), table.stdout
    got = _found(data)
    # every kind of check was made, on every server the plan's paths use
    kinds = {f["check"] for f in data["findings"]}
    assert kinds == {"plan", "powershell", "cmdlets", "location", "membership", "quorum", "sql", "backups", "integrity"}
    for host in ("fe01", "fe02", "fe03", "fe11", "fe21", "se01", "pchat01", "edge01"):
        assert got[f"powershell:{host}.fabrikam.lab"] == "OK"
    assert got["location:fe02.fabrikam.lab dr-vault"] == "OK"  # the second hop made: Kerberos, delegation
    assert got["integrity:hq-vault sql\\LcsLog.bak"] == "OK"
    lcslog = next(f for f in data["findings"]
                  if f["subject"] == "hq-vault sql\\LcsLog.bak" and f["check"] == "integrity")
    assert "verified with checksums" in lcslog["message"]
    ps = {f["subject"]: f["facts"]["version"] for f in data["findings"] if f["check"] == "powershell"}
    assert ps["fe01.fabrikam.lab"] == "3.0" and ps["fe03.fabrikam.lab"] == "4.0"  # lab/windows.py
    assert got["quorum:pool1.fabrikam.lab"] == "OK"


CASES = {
    "stale": (dict(backups_stopped_hours=30), 2, {"backups:hq-vault newest set": "CRITICAL",
                                                  "backups:dr-vault newest set": "CRITICAL"}),
    "missing-component": (dict(missing_e911=True), 2, {"backups:hq-vault E911Config.zip": "CRITICAL",
                                                       "backups:hq-vault Config.zip": "OK"}),
    "corrupt": (dict(corrupt_newest_set=True), 2, {"integrity:hq-vault Config.zip": "CRITICAL",
                                                   "integrity:hq-vault sql\\LcsCDR.bak": "CRITICAL",
                                                   "backups:hq-vault Config.zip": "OK"}),
    "unreachable-from-one": (dict(share_unreachable=("fe02.fabrikam.lab", r"\\bk11.fabrikam.lab\LyncBackup")), 1,
                             {"location:fe02.fabrikam.lab dr-vault": "WARNING",
                              "location:fe02.fabrikam.lab hq-vault": "OK",
                              "location:fe01.fabrikam.lab dr-vault": "OK"}),
    "second-hop": (dict(no_delegation=True), 2, {"location:fe02.fabrikam.lab hq-vault": "CRITICAL",
                                                 "location:fe02.fabrikam.lab dr-vault": "CRITICAL"}),
    "not-server-admin": (dict(missing_membership=("lyncadmin", "RTCUniversalServerAdmins")), 2,
                         {"membership:FABRIKAM\\lyncadmin RTCUniversalServerAdmins": "CRITICAL",
                          "membership:fe01.fabrikam.lab local Administrators": "OK"}),
    "not-local-admin": (dict(missing_membership=("lyncadmin", "Administrators")), 2,
                        {"membership:fe01.fabrikam.lab local Administrators": "CRITICAL",
                         "membership:FABRIKAM\\lyncadmin RTCUniversalServerAdmins": "OK"}),
    "not-sysadmin": (dict(missing_membership=("lyncsql", "sysadmin")), 2,
                     {"sql:sqlmon.fabrikam.lab\\lyncmon": "CRITICAL"}),
    "quorum-start": (dict(servers_down=("fe02.fabrikam.lab",)), 3, {"quorum:pool1.fabrikam.lab": "WARNING",
                                                                    "host:fe02.fabrikam.lab": "UNKNOWN",
                                                                    "quorum:pool2.fabrikam.lab": "OK"}),
    "quorum-lost": (dict(servers_down=("fe02.fabrikam.lab", "fe03.fabrikam.lab")), 2,
                    {"quorum:pool1.fabrikam.lab": "CRITICAL"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_lab_fault_is_found_with_its_nagios_meaning(case: str) -> None:
    faults, code, expected = CASES[case]
    nagios, _, data = _audit(**faults)
    _same_audit(nagios, data, code)
    got = _found(data)
    for key, status in expected.items():
        assert got.get(key) == status, (key, got.get(key), nagios.stdout)
    # the status line leads with a finding of the audit's own status
    lead = nagios.stdout.split(" checks: ", 1)[1]
    assert any(lead.startswith(f"{f['subject']}: {f['message'][:40]}") for f in data["findings"]
               if f["status"] == NAGIOS[code]), nagios.stdout
