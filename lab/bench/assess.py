"""Benchmark of the assessment's probe runner against loopback WinRM hosts that answer slowly.

200 simulated hosts, each its own WS-Management listener on 127.0.0.1 that waits 150 ms before
every answer (the latency is in the servers, not in the prober); each host gets a TCP probe and
a real pywinrm session running the Lync host probe script. Five runs: the median and the slowest
are reported. A last run adds ten hung hosts (each accepts TCP and never answers) probed with a
2 s timeout: the answering hosts' results must arrive as fast as without them (the figure stays
flat), the run ending at the timeout. Figures are printed, never asserted.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager

from lab.bench.table import Row
from lab.wsman import CommandIO, WsmanServer
from wizard.assess.events import AssessmentFinished, ProbeFinished, ProbeResult
from wizard.assess.probes import HostTarget, PowerShell, lync_host_probe, tcp_probe
from wizard.assess.runner import Probe, ProbeRunner, workers_for
from wizard.remote import psbuild
from wizard.remote.ports import SqlQuery
from wizard.remote.winrm import PowerShellRunner, WinRMEndpoint

_USER = "LAB\\bench"
# throwaway lab account, new every run; the host process gets it through its environment
_PASSWORD = os.environ.setdefault("LYNC_RESTORE_BENCH_PASSWORD", secrets.token_urlsafe(16))
_ANSWER = (f"{psbuild.JSON_BEGIN}\r\n"
           + json.dumps([{"Services": [{"Name": "RTCSRV", "Status": 4}],
                          "Replica": {"UpToDate": True}}])
           + f"\r\n{psbuild.JSON_END}\r\n")


class _LyncHost:
    """Answers every command with a healthy Lync host probe result."""

    def run(self, command: str, arguments: Sequence[str], io: CommandIO) -> int:
        io.write_stdout(_ANSWER)
        return 0


class _Transports:
    def __init__(self, ports: dict[str, int]) -> None:
        self.ports = ports
        self.runners: list[PowerShellRunner] = []

    def resolve(self, host: str, timeout_s: float) -> list[str]:
        return ["127.0.0.1"]

    def tcp_connect(self, address: str, port: int, timeout_s: float) -> None:
        socket.create_connection((address, port), timeout=timeout_s).close()

    def powershell(self, host: str, timeout_s: float) -> PowerShell:
        endpoint = WinRMEndpoint(host, address="127.0.0.1", port=self.ports[host], scheme="http",
                                 auth="basic", insecure=True)
        runner = PowerShellRunner(endpoint, _USER, _PASSWORD, operation_timeout_s=max(
            1, int(timeout_s)), connect_timeout_s=timeout_s, read_margin_s=2)
        self.runners.append(runner)
        return runner

    def sql(self, sql_id: str, timeout_s: float) -> SqlQuery:
        raise NotImplementedError("no SQL in this benchmark")


@contextmanager
def _hosts(n: int, delay_s: float) -> Iterator[dict[str, int]]:
    """``n`` slow hosts served by child processes, one per core the prober leaves free (at least
    one): the simulated hosts have CPUs and interpreter locks of their own, as real hosts would,
    so the figure is the prober's rather than the time one interpreter takes to answer for 200
    machines; a host process sharing the prober's core would slow the prober instead."""
    count = max(1, min(n, (os.cpu_count() or 2) - 1))
    shares = [n // count + (1 if i < n % count else 0) for i in range(count)]
    procs: list[subprocess.Popen[str]] = []
    try:
        first = 0
        for share in shares:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "lab.bench.assess", "serve", str(share), str(delay_s), str(first)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
            first += share
        ports: dict[str, int] = {}
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("one of the benchmark's host processes did not start")
            ports.update({k: int(v) for k, v in json.loads(line).items()})
        yield ports
    finally:
        for proc in procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _serve(n: int, delay_s: float, first: int = 0) -> None:
    """Child process: start hosts ``first`` .. ``first + n - 1``, print their ports, serve until
    stdin closes."""
    with ExitStack() as stack:
        ports: dict[str, int] = {}
        for i in range(first, first + n):
            fqdn = f"fe{i:03d}.bench.example"
            server = stack.enter_context(WsmanServer(fqdn, _LyncHost(), {_USER: _PASSWORD},
                                                     auth=("basic",), allow_unencrypted=True))
            server.faults.delay_s = delay_s
            ports[fqdn] = server.port
        sys.stdout.write(json.dumps(ports) + "\n")
        sys.stdout.flush()
        sys.stdin.read()


@contextmanager
def _hung_hosts(n: int) -> Iterator[dict[str, int]]:
    """``n`` ports that accept connections (the kernel's backlog) and never answer."""
    socks = []
    try:
        for _ in range(n):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sock.listen(16)
            socks.append(sock)
        yield {f"hung{i:02d}.bench.example": s.getsockname()[1] for i, s in enumerate(socks)}
    finally:
        for sock in socks:
            sock.close()


def _probes(t: _Transports, ports: dict[str, int], timeout_s: float) -> list[Probe]:
    probes = []
    for fqdn, port in ports.items():
        target = HostTarget(fqdn, ("lync",), "127.0.0.1", port, ())
        probes.append(Probe(f"tcp-winrm:{fqdn}", "tcp", fqdn, timeout_s,
                            tcp_probe(t, target, port, "winrm")))
        probes.append(Probe(f"lync:{fqdn}", "lync_host", fqdn, timeout_s,
                            lync_host_probe(t, fqdn, ("Lync",))))
    return probes


def _run(probes: list[Probe], workers: int) -> tuple[float, float, tuple[ProbeResult, ...], dict[str, float]]:
    """(the whole run's seconds, the prober's CPU seconds in them (every thread), the results,
    when each result arrived: probe id -> seconds)."""
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    done: AssessmentFinished | None = None
    arrived: dict[str, float] = {}
    for event in ProbeRunner(workers).run(probes):
        if isinstance(event, ProbeFinished):
            arrived[event.result.probe_id] = time.perf_counter() - t0
        elif isinstance(event, AssessmentFinished):
            done = event
    assert done is not None
    return time.perf_counter() - t0, time.process_time() - cpu0, done.results, arrived


def _close_all(runners: Sequence[PowerShellRunner]) -> None:
    """Delete every shell at once (one by one, 200 hosts at 150 ms each took 30 s)."""
    threads = [threading.Thread(target=r.close, daemon=True) for r in runners]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=10)


def _https_sessions(n: int) -> float:
    """CPU seconds to build ``n`` runners' HTTPS sessions (NTLM, the CA file the environment or
    the system names): the per-host set-up an assessment of a real estate pays before its first
    request."""
    cpu0 = time.process_time()
    for i in range(n):
        endpoint = WinRMEndpoint(f"fe{i:03d}.bench.example", address="127.0.0.1", port=5986,
                                 scheme="https", auth="ntlm")
        PowerShellRunner(endpoint, _USER, _PASSWORD)._protocol.transport.build_session()
    return time.process_time() - cpu0


def bench_rows(quick: bool) -> Iterable[Row]:
    n, delay, hung_n, hung_timeout = 200, 0.15, 10, 2.0
    yield Row(f"{n} hosts' HTTPS sessions built (NTLM; one CA file read)", _https_sessions(n) * 1000, "ms",
              "what it costs")
    repeats = 2 if quick else 5
    with _hosts(n, delay) as ports:
        runs = []
        for _ in range(repeats):  # one run is at the mercy of the machine's other work
            t = _Transports(ports)
            probes = _probes(t, ports, 10.0)
            workers = workers_for(probes)  # the pool the wizard itself sizes for this estate
            elapsed, cpu_s, results, _ = _run(probes, workers)
            runs.append((elapsed, cpu_s, sum(r.ok for r in results)))
            _close_all(t.runners)
        walls = [r[0] for r in runs]
        ok = min(r[2] for r in runs)
        yield Row(f"assess {n} hosts, 150 ms/answer, pool {workers} ({ok} ok): median of {repeats}",
                  statistics.median(walls), "s", "<= 1.0 s")
        yield Row(f"  the slowest of the {repeats} runs", max(walls), "s", "<= 1.0 s")
        yield Row(f"  the prober's CPU in a run (median; {len(probes)} probes)",
                  statistics.median(r[1] for r in runs), "s", "what it costs")
        with _hung_hosts(hung_n) as hung:
            t = _Transports({**ports, **hung})
            probes = _probes(t, ports, 10.0) + _probes(t, hung, hung_timeout)
            elapsed, _, results, arrived = _run(probes, workers_for(probes))
            timeouts = sum(r.status == "timeout" for r in results)
            answering = max(v for k, v in arrived.items() if "hung" not in k)
            yield Row(f"same + {hung_n} hung hosts: the {n} answering all in ({timeouts} timed out)", answering,
                      "s", "flat: as above")
            yield Row(f"same + {hung_n} hung hosts: the whole run ({hung_timeout:g} s timeout)", elapsed, "s",
                      f"<= {hung_timeout:g} s + a little")
            _close_all([r for r in t.runners if not r.endpoint.host.startswith("hung")])


if __name__ == "__main__" and len(sys.argv) in (4, 5) and sys.argv[1] == "serve":
    _serve(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) == 5 else 0)
