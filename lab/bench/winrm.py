"""Benchmarks of the PowerShell runner against the lab listener, for the project's table.

Both functions start their own lab host on loopback, drive it with the real pywinrm client and
return plain ``{name: value}`` figures (milliseconds unless the name says otherwise).
"""

from __future__ import annotations

import os
import secrets
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

import winrm

from lab.wsman import WsmanServer
from lab.wsman.toyhost import ToyHost
from wizard.remote.winrm import PowerShellRunner, WinRMEndpoint

_USER = "LAB\\bench"
_PASSWORD = secrets.token_urlsafe(16)  # a throwaway lab account, new every process
_SCRIPT = "Write-Output 'ok'"


@contextmanager
def _lab() -> Iterator[WsmanServer]:
    # A proxy variable in the environment would capture loopback traffic for run_ps.
    saved = {k: os.environ.pop(k) for k in ("http_proxy", "HTTP_PROXY") if k in os.environ}
    try:
        with WsmanServer("bench.lab.local", ToyHost(), {_USER: _PASSWORD}, allow_unencrypted=True) as server:
            yield server
    finally:
        os.environ.update(saved)


def _runner(server: WsmanServer, auth: str) -> PowerShellRunner:
    endpoint = WinRMEndpoint(
        "bench.lab.local", address="127.0.0.1", port=server.port, scheme="http",
        auth="ntlm" if auth == "ntlm" else "basic", insecure=True,
    )
    return PowerShellRunner(endpoint, _USER, _PASSWORD)


def bench_runner_vs_run_ps(n: int = 20, auth: str = "basic") -> dict[str, float]:
    """Time for ``n`` trivial commands through the runner vs ``n`` ``Session.run_ps`` calls."""
    with _lab() as server:
        runner = _runner(server, auth)
        runner.run(_SCRIPT, deadline_s=10)  # warm: shell open, connection up
        started = time.perf_counter()
        for _ in range(n):
            runner.run(_SCRIPT, deadline_s=10)
        runner_s = time.perf_counter() - started
        runner.close()

        session = winrm.Session(
            server.url, auth=(_USER, _PASSWORD), transport=auth,
            message_encryption="always" if auth == "ntlm" else "never",
            proxy=None, ca_trust_path=None,
        )
        session.run_ps(_SCRIPT)
        started = time.perf_counter()
        for _ in range(n):
            session.run_ps(_SCRIPT)
        run_ps_s = time.perf_counter() - started
    return {
        f"runner_{n}_cmds_ms": round(runner_s * 1000, 1),
        f"run_ps_{n}_cmds_ms": round(run_ps_s * 1000, 1),
        "runner_over_run_ps_ratio": round(runner_s / run_ps_s, 3),
    }


@contextmanager
def _https_lab() -> Iterator[tuple[WsmanServer, str]]:
    """A lab host serving HTTPS with a certificate of a throwaway lab CA; (server, CA bundle)."""
    import tempfile
    from pathlib import Path

    from lab.tls import LabCA

    with tempfile.TemporaryDirectory(prefix="bench-ca-") as folder:
        ca = LabCA(Path(folder))
        with WsmanServer("bench.lab.local", ToyHost(), {_USER: _PASSWORD},
                         tls=ca.server_context("bench.lab.local")) as server:
            yield server, str(ca.bundle)


def _https_runner(server: WsmanServer, ca_bundle: str, auth: str) -> PowerShellRunner:
    endpoint = WinRMEndpoint("bench.lab.local", address="127.0.0.1", port=server.port, scheme="https",
                             auth="ntlm" if auth == "ntlm" else "basic", ca_bundle=ca_bundle)
    return PowerShellRunner(endpoint, _USER, _PASSWORD)


def _reused_shell_ms(runner: PowerShellRunner, repeats: int) -> list[float]:
    """Milliseconds of each of ``repeats`` commands on the runner's one warm shell; closes it."""
    try:
        runner.run(_SCRIPT, deadline_s=10)  # warm: shell open, connection up
        samples: list[float] = []
        for _ in range(repeats):
            started = time.perf_counter()
            runner.run(_SCRIPT, deadline_s=10)
            samples.append((time.perf_counter() - started) * 1000)
        return samples
    finally:
        runner.close()


def bench_https(repeats: int = 30, auth: str = "ntlm") -> dict[str, float]:
    """Over HTTPS with certificate validation (the production default): one command on a reused
    shell (median), and the cost of a new connection (TLS handshake + authentication + a shell +
    one command, median) against the reused one."""
    with _https_lab() as (server, bundle):
        reused = _reused_shell_ms(_https_runner(server, bundle, auth), repeats)
        fresh: list[float] = []
        for _ in range(max(3, repeats // 3)):
            started = time.perf_counter()
            one = _https_runner(server, bundle, auth)
            one.run(_SCRIPT, deadline_s=10)
            fresh.append((time.perf_counter() - started) * 1000)
            one.close()
    return {"reused_median_ms": round(statistics.median(reused), 2),
            "new_connection_median_ms": round(statistics.median(fresh), 2)}


def bench_cmdlet_reused_shell(repeats: int = 30, auth: str = "basic") -> dict[str, float]:
    """Median and p90 of one command on an already open shell."""
    with _lab() as server:
        samples = _reused_shell_ms(_runner(server, auth), repeats)
    samples.sort()
    return {
        f"cmdlet_reused_shell_{auth}_median_ms": round(statistics.median(samples), 2),
        f"cmdlet_reused_shell_{auth}_p90_ms": round(samples[int(len(samples) * 0.9) - 1], 2),
    }
