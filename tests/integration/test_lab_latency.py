"""#20 item 1: the network's latency in the lab, per host, and the requests each listener counts
(#20 item 3), through the real clients: pywinrm under the wizard's PowerShellRunner and pyodbc
under its SqlRunner. A delay is one way, once per answer: a round trip on a delayed host takes at
least the delay times the requests it made; a host without one is not slowed by another's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import winrm

from lab.latency import Latency
from lab.runtime import LabRuntime
from lab.scenarios import ScenarioError, load_scenario_file
from lab.serve import parse_latency
from tests.conftest import DATA, REPO
from wizard.errors import UsageError
from wizard.remote.sql import SqlRunner

pytestmark = pytest.mark.integration

DELAY_S = 0.3
SLOW, FAST = "fe01.fabrikam.lab", "fe02.fabrikam.lab"


@pytest.fixture(scope="module")
def lab() -> object:
    with LabRuntime(None, time_factor=float("inf")) as running:
        yield running


def _timed(fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t0


def test_a_winrm_round_trip_waits_the_delay_of_its_host_only(lab: LabRuntime) -> None:
    lab.set_latency(Latency(0.0, {SLOW: DELAY_S}))
    try:
        seconds: dict[str, float] = {}
        asked: dict[str, int] = {}
        for host in (SLOW, FAST):
            with lab.runner(host, "basic") as runner:
                runner.run("Get-CsWindowsService", deadline_s=30)  # the shell opened, the connection made
                before = {h: s.requests for h, s in lab.wsman.items()}
                seconds[host] = _timed(lambda r=runner: r.run("Get-CsWindowsService", deadline_s=30))
                after = {h: s.requests for h, s in lab.wsman.items()}
            asked[host] = after[host] - before[host]
            # the counter counts this host's requests and nobody else's
            assert {h for h in after if after[h] != before[h]} == {host}
        assert asked[SLOW] >= 3 and asked[FAST] >= 3  # Command, Receive..., Signal: each one POST
        assert seconds[SLOW] >= asked[SLOW] * DELAY_S  # every answer waited, once
        # another host's delay is not this one's (said by its listener, not by a stopwatch: tests assert no timings)
        assert lab.wsman[FAST].latency_s == 0 and lab.wsman[SLOW].latency_s == DELAY_S
    finally:
        lab.set_latency(Latency())


def test_a_sql_round_trip_waits_the_delay_of_its_host_only(lab: LabRuntime) -> None:
    slow, fast = lab.sql_key("be1"), lab.sql_key("be2")
    slow_host = lab.dep.instances[slow].server
    assert lab.dep.instances[fast].server != slow_host
    lab.set_latency(Latency(0.0, {slow_host: DELAY_S}))
    try:
        seconds: dict[str, float] = {}
        for sql, key in (("be1", slow), ("be2", fast)):
            before_connect = lab.tds[key].requests
            with SqlRunner(lab.sql_endpoint(sql), lab.sql_user, lab.sql_password) as runner:
                runner.query("SELECT 1 AS one")
                # PRELOGIN, LOGIN7, the driver's connect-time batches and our SELECT, each counted
                assert lab.tds[key].requests - before_connect >= 3
                before = {k: t.requests for k, t in lab.tds.items()}
                seconds[sql] = _timed(lambda r=runner: r.query("SELECT 1 AS one"))
                after = {k: t.requests for k, t in lab.tds.items()}
            assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == {key: 1}  # one SQL batch
        assert seconds["be1"] >= DELAY_S
        assert lab.tds[fast].latency_s == 0 and lab.tds[slow].latency_s == DELAY_S
    finally:
        lab.set_latency(Latency())


def test_the_runtime_adds_up_both_protocols(lab: LabRuntime) -> None:
    winrm_before, tds_before = lab.requests()
    with lab.runner(FAST, "basic") as runner:
        runner.run("Get-CsWindowsService", deadline_s=30)
    winrm_mid, tds_mid = lab.requests()
    assert winrm_mid - winrm_before >= 4 and tds_mid == tds_before  # a new shell: Create, Command, Receive, ...
    with SqlRunner(lab.sql_endpoint("be2"), lab.sql_user, lab.sql_password) as sql:
        sql.query("SELECT 1 AS one")
    assert lab.requests()[0] == winrm_mid and lab.requests()[1] >= tds_mid + 3


def _scenario_file(tmp_path: Path, network: str) -> Path:
    text = (DATA / "scenarios" / "instructor" / "monitoring-db-lost-read-fails.yaml").read_text(encoding="utf-8")
    path = tmp_path / "slow-network.yaml"
    path.write_text(text.replace("name: monitoring-db-lost-read-fails", "name: slow-network") + network,
                    encoding="utf-8")
    return path


def test_a_scenarios_network_block_sets_each_listeners_delay(tmp_path: Path) -> None:
    path = _scenario_file(tmp_path, "network:\n  latency_ms: 20\n  host_latency_ms: {FE01.fabrikam.lab: 50}\n")
    scenario = load_scenario_file(path)
    assert scenario.latency == Latency(0.02, {"fe01.fabrikam.lab": 0.05})
    with LabRuntime(scenario, state_dir=tmp_path / "lab", time_factor=float("inf")) as lab:
        assert lab.wsman["fe01.fabrikam.lab"].latency_s == 0.05
        assert lab.wsman["fe02.fabrikam.lab"].latency_s == 0.02
        assert {t.latency_s for t in lab.tds.values()} == {0.02}
        t0 = time.perf_counter()
        with SqlRunner(lab.sql_endpoint("be1"), lab.sql_user, lab.sql_password) as runner:
            before = lab.tds[lab.sql_key("be1")].requests
            runner.query("SELECT 1 AS one")
        assert time.perf_counter() - t0 >= (lab.tds[lab.sql_key("be1")].requests - before) * 0.02


def test_a_bad_network_block_is_reported_where_it_is_written(tmp_path: Path) -> None:
    path = _scenario_file(tmp_path, "network:\n  latency_ms: -5\n  host_latency_ms: {nowhere.fabrikam.lab: 10}\n")
    lines = len(path.read_text(encoding="utf-8").splitlines())
    with pytest.raises(ScenarioError) as err:
        load_scenario_file(path)
    assert any(e.startswith(f"{path}:{lines - 1}:") and "latency_ms" in e for e in err.value.errors), err.value.errors
    assert any(e.startswith(f"{path}:{lines}:") and "nowhere.fabrikam.lab is not a server" in e
               for e in err.value.errors), err.value.errors


def test_lab_serve_latency_flags() -> None:
    assert parse_latency(["20", "fe01.fabrikam.lab=50"]) == Latency(0.02, {"fe01.fabrikam.lab": 0.05})
    for bad in ("-1", "soon", "=5", "fe01.fabrikam.lab=", "nan"):
        with pytest.raises(UsageError):
            parse_latency([bad])


def test_lab_serve_delays_every_answer(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "wizard", "lab", "serve", "--scenario", "calm", "--json",
                             "--state-dir", str(tmp_path), "--latency-ms", "250",
                             "--latency-ms", "fe02.fabrikam.lab=0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["latency_ms"] == {"default": 250.0, "fe02.fabrikam.lab": 0.0}
        session = winrm.Session(info["winrm"]["fe01.fabrikam.lab"], auth=(info["users"]["winrm"],
                                info["passwords"]["winrm"]), transport="ntlm", proxy=None,
                                server_cert_validation="ignore")
        t0 = time.perf_counter()
        assert session.run_ps("Get-CsWindowsService -Name RTCSRV").status_code == 0
        # a new connection: the TLS handshake, NTLM's two rounds, Create, Command, Receive, Signal, Delete
        assert time.perf_counter() - t0 >= 6 * 0.25
    finally:
        proc.terminate()
        proc.wait(timeout=30)
