"""What a readiness audit asks of the servers, answered by the calm lab through the real clients
(pywinrm over HTTPS, pyodbc over TDS), with and without the faults that should fail it: the
§10 memberships in ``whoami /groups``, SQL sysadmin by ``IS_SRVROLEMEMBER``, a backup share one
host cannot reach, a backup job that stopped, servers that are off; and the lab on the wall clock.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyodbc
import pytest

from lab.drill import LabDrill
from lab.runtime import LabRuntime, wall_clock_now
from lab.scenarios import SCENARIOS, drill_scenario, scenario
from wizard.errors import UsageError
from wizard.remote.odbc import FREETDS_PATHS
from wizard.remote.winrm import PsResult

pytestmark = pytest.mark.integration

FE01, FE02, FE11 = "fe01.fabrikam.lab", "fe02.fabrikam.lab", "fe11.fabrikam.lab"
BK = r"\\bk01.fabrikam.lab\LyncBackup"
FREETDS = FREETDS_PATHS[0]
SYSADMIN = "SELECT IS_SRVROLEMEMBER('sysadmin') AS sysadmin"


def _lab(tmp_path: Path, **faults: object) -> LabRuntime:
    return LabRuntime(scenario("calm").with_faults(**faults), state_dir=tmp_path, time_factor=1.0,
                      auth=("ntlm", "credssp"))


def _ps(lab: LabRuntime, host: str, script: str, auth: str = "ntlm") -> PsResult:
    with lab.runner(host, auth) as runner:  # type: ignore[arg-type]
        return runner.run(script, deadline_s=30)


def _groups(lab: LabRuntime, host: str) -> dict[str, tuple[str, str, str]]:
    """``whoami /groups /fo csv /nh`` on ``host``: group name -> (type, SID, attributes)."""
    result = _ps(lab, host, "whoami /groups /fo csv /nh")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(result.stdout.splitlines()))
    assert all(len(r) == 4 for r in rows), rows
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _scalar(lab: LabRuntime, sql_id: str, statement: str) -> object:
    with pyodbc.connect(lab.odbc_connection_string(sql_id, FREETDS), autocommit=True, timeout=10) as conn:
        row = conn.cursor().execute(statement).fetchone()
        return row[0]


@pytest.fixture(scope="module")
def calm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabRuntime]:
    with _lab(tmp_path_factory.mktemp("calm")) as lab:
        yield lab


# ------------------------------------------------------------------ calm: everything in place
def test_calm_is_no_drill_but_a_lab_serve_scenario() -> None:
    assert scenario("calm").name == "calm" and not scenario("calm").faults.names()
    assert "calm" not in {s.name for s in SCENARIOS}
    with pytest.raises(KeyError):
        drill_scenario("calm")
    with pytest.raises(UsageError, match="no drill scenario 'calm'"):
        LabDrill("calm")


def test_whoami_names_the_winrm_logon_in_lower_case(calm: LabRuntime) -> None:
    result = _ps(calm, FE01, "whoami")
    assert (result.exit_code, result.stdout) == (0, "fabrikam\\lyncadmin\r\n")


def test_whoami_groups_hold_every_section_10_membership(calm: LabRuntime) -> None:
    groups = _groups(calm, FE01)
    enabled = "Mandatory group, Enabled by default, Enabled group"
    assert groups["Everyone"] == ("Well-known group", "S-1-1-0", enabled)
    assert groups["BUILTIN\\Administrators"] == ("Alias", "S-1-5-32-544", enabled + ", Group owner")
    assert groups["NT AUTHORITY\\NETWORK"] == ("Well-known group", "S-1-5-2", enabled)  # a WinRM logon
    assert groups["NT AUTHORITY\\NTLM Authentication"][1] == "S-1-5-64-10"
    assert groups["Mandatory Label\\High Mandatory Level"] == ("Label", "S-1-16-12288", "")
    for name in ("Domain Users", "RTCUniversalServerAdmins", "RTCUniversalUserAdmins",
                 "RTCUniversalReadOnlyAdmins", "CsAdministrator", "CsPersistentChatAdministrator"):
        kind, sid, attributes = groups[f"FABRIKAM\\{name}"]
        assert kind == "Group" and sid.startswith("S-1-5-21-") and attributes == enabled
    assert groups["FABRIKAM\\Domain Users"][1].endswith("-513")
    # a domain group has one SID wherever the token is made
    assert _groups(calm, FE11)["FABRIKAM\\RTCUniversalServerAdmins"] == groups["FABRIKAM\\RTCUniversalServerAdmins"]


def test_whoami_tables_lists_and_refusals(calm: LabRuntime) -> None:
    table = _ps(calm, FE01, "whoami /groups").stdout.splitlines()
    assert table[1:3] == ["GROUP INFORMATION", "-----------------"]
    assert table[4].split()[:2] == ["Group", "Name"] and set(table[5]) == {"=", " "}
    listed = _ps(calm, FE01, "whoami /groups /fo list").stdout.splitlines()
    assert "Group Name: BUILTIN\\Administrators" in listed
    refused = _ps(calm, FE01, "whoami /priv")
    assert refused.exit_code == 1
    assert refused.stderr.splitlines()[:2] == ["ERROR: Invalid argument/option - '/priv'.",
                                               'Type "WHOAMI /?" for usage.']


def test_is_srvrolemember_on_every_instance(calm: LabRuntime) -> None:
    for sql_id in ("be1", "mon", "pchat-sql"):
        assert _scalar(calm, sql_id, SYSADMIN) == 1
    assert _scalar(calm, "be1", "SELECT IS_SRVROLEMEMBER('sysadmin', 'FABRIKAM\\lyncadmin')") == 1
    assert _scalar(calm, "be1", "SELECT IS_SRVROLEMEMBER('dbcreator')") == 0
    assert _scalar(calm, "be1", "SELECT IS_SRVROLEMEMBER('nosuchrole')") is None
    assert _scalar(calm, "be1", "SELECT IS_SRVROLEMEMBER('sysadmin', 'FABRIKAM\\nobody')") is None


def test_the_backup_share_answers_every_host(calm: LabRuntime) -> None:
    for host in (FE01, FE11):
        result = _ps(calm, host, f"(Get-Item -LiteralPath '{BK}').FullName", auth="credssp")
        assert (result.exit_code, result.stdout.strip()) == (0, BK), result.stderr


# ------------------------------------------------------------------ the memberships §10 needs
@pytest.mark.parametrize("group", ["RTCUniversalServerAdmins", "CsPersistentChatAdministrator"])
def test_a_missing_domain_group_is_missing_from_every_token(tmp_path: Path, group: str) -> None:
    with _lab(tmp_path, missing_membership=("lyncadmin", group)) as lab:
        for host in (FE01, FE11):
            groups = _groups(lab, host)
            assert f"FABRIKAM\\{group}" not in groups
            assert "FABRIKAM\\RTCUniversalUserAdmins" in groups and "BUILTIN\\Administrators" in groups
        assert _scalar(lab, "be1", SYSADMIN) == 1


def test_not_a_local_administrator_anywhere(tmp_path: Path) -> None:
    with _lab(tmp_path, missing_membership=("lyncadmin", "Administrators")) as lab:
        for host in (FE01, "sql01.fabrikam.lab"):
            groups = _groups(lab, host)
            assert "BUILTIN\\Administrators" not in groups and "BUILTIN\\Users" in groups
            assert "Mandatory Label\\Medium Mandatory Level" in groups
            assert "Mandatory Label\\High Mandatory Level" not in groups
            assert "FABRIKAM\\RTCUniversalServerAdmins" in groups


def test_a_sql_login_out_of_sysadmin_on_every_instance(tmp_path: Path) -> None:
    with _lab(tmp_path, missing_membership=("lyncsql", "sysadmin")) as lab:
        for sql_id in ("be1", "mon", "pchat-sql"):
            assert _scalar(lab, sql_id, SYSADMIN) == 0
        assert _scalar(lab, "be1", "SELECT IS_SRVROLEMEMBER('sysadmin', 'FABRIKAM\\lyncadmin')") == 1
        assert "BUILTIN\\Administrators" in _groups(lab, FE01)


def test_an_unknown_group_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="RTCUniversalNobody"):
        _lab(tmp_path, missing_membership=("lyncadmin", "RTCUniversalNobody"))


# ------------------------------------------------------------------ shares, backups, servers
def test_a_share_one_host_cannot_reach(tmp_path: Path) -> None:
    with _lab(tmp_path, share_unreachable=(FE01, BK)) as lab:
        got = _ps(lab, FE01, f"Get-Item -LiteralPath '{BK}'", auth="credssp")
        assert got.exit_code == 1
        assert f"Cannot find path '{BK}' because it does not exist." in got.stderr
        assert "ItemNotFoundException" in got.stderr
        tested = _ps(lab, FE01, f"Test-Path -LiteralPath '{BK}'; Get-ChildItem -LiteralPath '{BK}'", auth="credssp")
        assert tested.stdout.splitlines()[0] == "False" and "Cannot find path" in tested.stderr
        robo = _ps(lab, FE01, f"robocopy '{BK}' 'C:\\copy' /E; exit $LASTEXITCODE", auth="credssp")
        assert robo.exit_code == 16
        assert f"ERROR 53 (0x00000035) Accessing Source Directory {BK}\\" in robo.stdout
        assert "The network path was not found." in robo.stdout
        # from another host of the same pool the share answers
        other = _ps(lab, FE02, f"(Get-ChildItem -LiteralPath '{BK}').Count", auth="credssp")
        assert (other.exit_code, other.stdout.strip()) == (0, "3"), other.stderr
        # and the SQL Server on fe01's side of the firewall cannot read it either (its own host: sql01 can)
        assert lab.dep.paths.resolver_for(FE01)(BK) is None
        assert lab.dep.paths.resolver_for("sql01.fabrikam.lab")(BK) is not None


def _set_names(lab: LabRuntime) -> list[str]:
    return sorted(p.name for p in lab.dep.paths.resolve(BK).iterdir())


def test_a_lab_on_the_wall_clock_has_last_nights_sets(calm: LabRuntime, tmp_path: Path) -> None:
    before = wall_clock_now()
    with LabRuntime(scenario("calm"), state_dir=tmp_path, time_factor=1.0, wall_clock=True) as lab:
        after = wall_clock_now()
        now = lab.dep.now  # the lab's time when it started: the sets are the nights before it
        assert before <= now <= after and before <= lab.clock.now() <= after + dt.timedelta(seconds=5)
        night = now.replace(hour=2, minute=0, second=0, microsecond=0)
        if night > now:
            night -= dt.timedelta(days=1)
        assert _set_names(lab)[-1] == night.strftime("%Y-%m-%d_%H%M")
        listed = _ps(lab, FE11, f"(Get-ChildItem -LiteralPath '{BK}' | Select-Object -Last 1).Name",
                     auth="credssp")
        assert listed.stdout.strip() == night.strftime("%Y-%m-%d_%H%M"), listed.stderr
    # the calm lab without it stays at the lab's epoch
    assert _set_names(calm) == ["2026-11-22_0200", "2026-11-23_0200", "2026-11-24_0200"]


def test_backups_stopped_two_days_ago(tmp_path: Path) -> None:
    start = dt.datetime(2026, 11, 24, 9, 0)
    with LabRuntime(scenario("calm").with_faults(backups_stopped_hours=48), state_dir=tmp_path,
                    time_factor=1.0, start=start) as lab:
        # the job last ran at 02:00 on the 22nd; nothing was written since
        assert _set_names(lab) == ["2026-11-20_0200", "2026-11-21_0200", "2026-11-22_0200"]
        assert lab.dep.paths.resolve(BK + "\\2026-11-24_0200").exists() is False


def test_servers_that_are_off_do_not_answer_winrm(tmp_path: Path) -> None:
    down = (FE02, "fe03.fabrikam.lab")  # pool1 keeps 1 of 3 Front Ends: below its §5.4 start quorum of 3
    with _lab(tmp_path, servers_down=down) as lab:
        for host in down:
            assert host not in lab.winrm_urls()
            with pytest.raises(KeyError):
                lab.runner(host)
            assert lab.dep.server(host).reachable is False
        assert _ps(lab, FE01, "whoami").stdout.strip() == "fabrikam\\lyncadmin"
        plan = lab.plan_path.read_text(encoding="utf-8")
        assert f"{FE01}:" in plan and f"{FE02}:" not in plan  # the plan copy names no endpoint for them
        assert lab.dep.pool_quorum_lost("pool1.fabrikam.lab") is True


def test_calm_pool1_keeps_its_quorum(calm: LabRuntime) -> None:
    assert calm.dep.pool_quorum_lost("pool1.fabrikam.lab") is False
    assert {FE01, FE02}.issubset(calm.winrm_urls())


def test_lab_serve_calm_on_the_wall_clock(tmp_path: Path) -> None:
    """``lync-restore lab serve --scenario calm --wall-clock``: the sets of the last three nights."""
    program = str(Path(sys.executable).with_name("lync-restore"))
    before = wall_clock_now()
    proc = subprocess.Popen([program, "lab", "serve", "--scenario", "calm", "--wall-clock", "--json",
                             "--state-dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline() or "{}")
        after = wall_clock_now()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert info.get("scenario") == "calm", proc.stderr.read() if proc.stderr else ""
    nights = set()
    for moment in (before, after):
        night = moment.replace(hour=2, minute=0, second=0)
        nights.add((night if night <= moment else night - dt.timedelta(days=1)).strftime("%Y-%m-%d_%H%M"))
    newest = sorted(p.name for p in (tmp_path / "disk" / "unc" / "bk01.fabrikam.lab" / "LyncBackup").iterdir())[-1]
    assert newest in nights
