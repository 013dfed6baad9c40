"""The running lab through the real clients: pywinrm (NTLM with encryption, Basic) and pyodbc
(FreeTDS) drive a scenario's documented procedure to "service restored"."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pyodbc
import pytest
import winrm

from lab.runtime import LabRuntime
from lab.scenarios import scenario
from wizard.plan import load_plan

pytestmark = pytest.mark.integration

SET = r"\\bk01.fabrikam.lab\LyncBackup\2026-11-24_0200"
FREETDS = "/usr/lib/x86_64-linux-gnu/odbc/libtdsodbc.so"


def _ps(lab: LabRuntime, host: str, script: str, transport: str = "credssp") -> winrm.Response:
    """Plain pywinrm; CredSSP by default (NTLM inside it): the host gets the password and can read
    the backup share (an NTLM session alone could not: the second hop)."""
    session = winrm.Session(lab.winrm_urls()[host], auth=(lab.win_user, lab.win_password),
                            transport=transport, server_cert_validation="ignore", proxy=None,
                            ca_trust_path=None, message_encryption="never")
    return session.run_ps(script)


def test_cms_lost_paired_over_winrm(tmp_path: Path) -> None:
    with LabRuntime(scenario("cms-lost-paired"), state_dir=tmp_path, time_factor=1e6) as lab:
        fe = "fe11.fabrikam.lab"
        assert "sql01.fabrikam.lab" not in lab.winrm_urls()  # a lost host does not answer
        bad = _ps(lab, fe, "Invoke-CsPoolFailover -PoolFqdn pool1.fabrikam.lab -DisasterMode")
        assert bad.status_code == 1 and b"Central Management store" in bad.std_err
        steps = [
            "Invoke-CsManagementServerFailover -BackupSqlServerFqdn sql11.fabrikam.lab "
            "-BackupSqlInstanceName rtc -Force",
            "Set-CsEdgeServer -Identity EdgeServer:edge.fabrikam.lab "
            "-Registrar Registrar:pool2.fabrikam.lab",
            "Invoke-CsPoolFailover -PoolFqdn pool1.fabrikam.lab -DisasterMode",
            rf"Import-CsLisConfiguration -FileName '{SET}\E911Config.zip'",
            "Publish-CsLisConfiguration",
            "Invoke-CsManagementStoreReplication",
        ]
        for step in steps:
            r = _ps(lab, fe, step)
            assert r.status_code == 0, (step, r.std_err)
        r = _ps(lab, fe, "Get-CsManagementStoreReplicationStatus -CentralManagementStoreStatus |"
                         " ConvertTo-Json -Compress", transport="basic")
        assert json.loads(r.std_out)["ActiveMasterFqdn"] == "fe11.fabrikam.lab"
        assert lab.scenario is not None and lab.scenario.service_restored(lab.dep) == []


def test_pchat_restore_over_tds_and_plan_copy(tmp_path: Path) -> None:
    with LabRuntime(scenario("pchat-db-lost"), state_dir=tmp_path, time_factor=1e6) as lab:
        host, port = lab.sql_endpoints()["sqlpc.fabrikam.lab\\pchat"].split(",")
        cs = (f"DRIVER={FREETDS};SERVER={host};PORT={port};UID={lab.sql_user};"
              f"PWD={{{lab.sql_password}}};TDS_Version=7.4")
        conn = pyodbc.connect(cs, autocommit=True, timeout=10)
        cur = conn.cursor()
        cur.execute(rf"RESTORE DATABASE [mgc] FROM DISK = N'{SET}\sql\mgc.bak' "
                    "WITH REPLACE, RECOVERY, STATS = 25")
        while cur.nextset():
            pass
        cur.execute("SELECT state_desc FROM sys.databases WHERE name = 'mgc'")
        assert cur.fetchone()[0] == "ONLINE"
        conn.close()
        assert lab.scenario is not None and lab.scenario.service_restored(lab.dep) == []
        plan = load_plan(lab.plan_path).plan
        assert plan.lab is not None and plan.lab.scenario == "pchat-db-lost"
        assert plan.connections.hosts["sqlpc.fabrikam.lab"].sql is not None


def test_serve_json_line_and_clean_shutdown(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([sys.executable, "-m", "wizard", "lab", "serve", "--scenario",
                             "edge-lost", "--json", "--state-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        info = json.loads(line)
        assert info["scenario"] == "edge-lost" and "fe01.fabrikam.lab" in info["winrm"]
        assert "edge01.fabrikam.lab" not in info["winrm"]
        url = info["winrm"]["fe01.fabrikam.lab"]
        assert url.startswith("https://127.0.0.1:")
        # a standard TLS client with the printed CA validates the listener by its FQDN
        port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        ctx = ssl.create_default_context(cafile=info["ca_bundle"])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                ctx.wrap_socket(raw, server_hostname="fe01.fabrikam.lab") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
        r = winrm.Session(url, auth=(info["users"]["winrm"], info["passwords"]["winrm"]),
                          transport="ntlm", proxy=None, ca_trust_path=None,
                          server_cert_validation="ignore").run_ps("Get-CsWindowsService -Name RTCSRV"
                                                                  " | ConvertTo-Json -Compress")
        assert json.loads(r.std_out)["Status"] == 4
        # #15 item 6: the realm and its krb5.conf, with which kinit gets a ticket from the lab's KDC
        assert info["realm"] == "FABRIKAM.LAB"
        krb_env = dict(os.environ, KRB5_CONFIG=info["krb5_config"], KRB5CCNAME=f"FILE:{tmp_path / 'cc'}")
        user = info["users"]["winrm"].split("\\")[-1]
        kinit = subprocess.run(["kinit", f"{user}@{info['realm']}"], input=info["passwords"]["winrm"] + "\n",
                               text=True, env=krb_env, capture_output=True, timeout=30, check=False)
        assert kinit.returncode == 0, kinit.stderr
        klist = subprocess.run(["klist"], env=krb_env, capture_output=True, text=True, timeout=30, check=False)
        assert f"krbtgt/{info['realm']}@{info['realm']}" in klist.stdout
    finally:
        proc.terminate()
        deadline = time.monotonic() + 10
        code = proc.wait(timeout=max(deadline - time.monotonic(), 1))
    assert code == 0


def test_a_revived_lab_keeps_the_busy_and_work_time_a_drill_is_scored_on(tmp_path: Path) -> None:
    """A drill's time to restore (lab/scoring.py) is the real time with the lab's played-fast
    waits scaled back to their length; a lab revived for a resumed drill (lab/keeper.py) must
    count what its operations did before it was saved, or the score undercounts the restore."""
    first = LabRuntime(scenario("be-lost-unpaired"), state_dir=tmp_path, time_factor=600)
    assert first.clock.sleep(60)  # a minute of lab work: 0.1 s of real time
    first.clock.advance(3600)  # a scenario's "an hour later"
    busy, work = first.clock.busy_real_s(), first.clock.work_s()
    assert busy > 0 and work >= 3660
    first.save()
    second = LabRuntime(scenario("be-lost-unpaired"), state_dir=tmp_path, time_factor=600, revive=True)
    assert second.revived_at is not None
    assert second.clock.busy_real_s() == pytest.approx(busy)
    assert second.clock.work_s() == pytest.approx(work)
    assert second.clock.sleep(60)
    assert second.clock.work_s() >= work + 59  # the revived lab's own work adds to it
    fresh = LabRuntime(scenario("be-lost-unpaired"), state_dir=tmp_path / "new", time_factor=600)
    assert fresh.clock.busy_real_s() == 0 and fresh.clock.work_s() == 0
