"""Benchmarks of the lab through the real clients, for ``lync-restore bench``.

What an operator waits for in a drill is the transport, not the simulation: a Lync cmdlet on a
reused WinRM shell (Basic and NTLM with encryption, through the wizard's PowerShellRunner), a
SQL connect and a SELECT on sys.databases (pyodbc with FreeTDS), all on loopback; and the wall
time of one whole scenario procedure (be-lost-unpaired, §6.4) at the drill time factor of 600.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from lab.bench.table import Row
from wizard.remote.odbc import FREETDS_PATHS
from wizard.remote.winrm import PowerShellRunner

#: the backup set the procedures restore from
_SET = r"\\bk01.fabrikam.lab\LyncBackup\2026-11-24_0200"


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up: the first call opens the shell / loads the driver
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _transport_rows(quick: bool, state_dir: Path) -> Iterable[Row]:
    import pyodbc

    from lab.runtime import LabRuntime

    repeat = 10 if quick else 40
    with LabRuntime(None, state_dir=state_dir, time_factor=float("inf")) as lab:
        for auth in ("basic", "ntlm"):
            with lab.runner("fe01.fabrikam.lab", auth) as runner:
                def one(r: PowerShellRunner = runner) -> object:
                    return r.run("Get-CsWindowsService", deadline_s=30)

                ms = _median_ms(one, repeat)
            label = "Basic" if auth == "basic" else "NTLM + encryption"
            yield Row(f"lab: Get-CsWindowsService on a reused shell ({label})", ms, "ms")
        cs = lab.odbc_connection_string("be1", FREETDS_PATHS[0])
        yield Row("lab: SQL connect + close (FreeTDS)",
                  _median_ms(lambda: pyodbc.connect(cs, autocommit=True, timeout=10).close(),
                             repeat), "ms")
        conn = pyodbc.connect(cs, autocommit=True, timeout=10)
        try:
            cur = conn.cursor()
            ms = _median_ms(lambda: cur.execute(
                "SELECT name, state_desc, recovery_model_desc FROM sys.databases").fetchall(),
                repeat * 5)
        finally:
            conn.close()
        yield Row("lab: SELECT on sys.databases (FreeTDS)", ms, "ms")


def run_be_lost_unpaired(state_dir: Path, time_factor: float = 600.0) -> float:
    """The §6.4 procedure of scenario be-lost-unpaired through the real clients; returns the
    wall time in seconds (raises AssertionError if service is not restored)."""
    from lab.runtime import LabRuntime
    from lab.scenarios import scenario

    started = time.perf_counter()
    with LabRuntime(scenario("be-lost-unpaired"), state_dir=state_dir,
                    time_factor=time_factor) as lab:
        lab.rebuild("sql21.fabrikam.lab")
        fes = ["fe21.fabrikam.lab", "fe22.fabrikam.lab", "fe23.fabrikam.lab"]
        steps = ["Install-CsDatabase -ConfiguredDatabases -SqlServerFqdn sql21.fabrikam.lab"]
        steps += [f"Stop-CsWindowsService -ComputerName '{fe}'" for fe in fes]
        steps.append(rf"Import-CsUserData -PoolFqdn pool3.fabrikam.lab -FileName "
                     rf"'{_SET}\UserData_pool3.fabrikam.lab.zip'")
        steps += [f"Start-CsWindowsService -ComputerName '{fe}' -NoWait" for fe in fes]  # together (§6.13, §5.4)
        with lab.runner(fes[0], "kerberos") as runner:  # the ticket is forwarded: the share is reachable
            for step in steps:
                result = runner.run(step, deadline_s=120)
                if result.exit_code != 0:
                    raise AssertionError(f"{step}: {result.stderr}")
        assert lab.scenario is not None
        problems = lab.scenario.service_restored(lab.dep)
        if problems:
            raise AssertionError("; ".join(problems))
    return time.perf_counter() - started


def bench_rows(quick: bool) -> Iterable[Row]:
    with tempfile.TemporaryDirectory(prefix="lync-lab-bench-") as tmp:
        yield from _transport_rows(quick, Path(tmp) / "transport")
        seconds = run_be_lost_unpaired(Path(tmp) / "scenario")
    yield Row("lab: scenario be-lost-unpaired procedure at time factor 600", seconds, "s")
