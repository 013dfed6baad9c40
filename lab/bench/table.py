"""``lync-restore bench``: every benchmark, one table of figures.

Benchmarks print numbers; they never pass or fail (timed assertions flake, ground rule 5).
Where an issue sets a goal, the table shows it beside the figure. Each benchmark is a function
returning rows; the other modules of :mod:`lab.bench` each contribute ``bench_rows(quick)``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from wizard.errors import ExitCode, UsageError


@dataclass(frozen=True)
class Row:
    name: str
    value: float
    unit: str
    goal: str = ""
    note: str = ""  # a sentence printed after the table (the closing notes)


BenchFn = Callable[[bool], Iterable[Row]]


def generated_plan(servers: int = 500, per_pool: int = 10) -> str:
    """A valid plan with ``servers`` Front End servers in paired Enterprise pools."""
    pools = max(2, servers // per_pool)
    pools += pools % 2  # pairs
    lines = [
        "version: 1",
        "organisation: {name: Bench Corp, sip_domains: [bench.example]}",
        "topology:",
        "  sites: [{name: A}, {name: B}]",
        "  central_management: {pool: pool0.bench.example}",
        "  file_stores:",
        "    - {id: fsA, server: fsa.bench.example, share: share, site: A}",
        "    - {id: fsB, server: fsb.bench.example, share: share, site: B}",
        "  sql_instances:",
    ]
    for i in range(pools):
        site = "AB"[i % 2]
        lines.append(f"    - {{id: be{i}, server: sql{i}.bench.example, instance: rtc, site: {site}, "
                     f"mirror: be{i}m, witness: be{i}w}}")
        lines.append(f"    - {{id: be{i}m, server: sql{i}m.bench.example, instance: rtc, site: {site}}}")
        lines.append(f"    - {{id: be{i}w, server: sql{i}w.bench.example, instance: rtc, site: {site}}}")
    lines.append("  pools:")
    made = 0
    for i in range(pools):
        site = "AB"[i % 2]
        partner = i + 1 if i % 2 == 0 else i - 1
        n = min(per_pool, max(1, servers - made))
        made += n
        fes = ", ".join(f"fe{i}-{k}.bench.example" for k in range(n))
        lines += [
            f"    - fqdn: pool{i}.bench.example",
            "      role: front_end",
            f"      site: {site}",
            f"      servers: [{fes}]",
            f"      back_end: be{i}",
            f"      file_store: fs{site}",
            f"      paired_with: pool{partner}.bench.example",
            "      response_group: true",
        ]
    lines += [
        "backup:",
        "  locations: [{name: main, unc: '\\\\bk.bench.example\\LyncBackup', local_path: /srv/backup}]",
        "  schedule:",
        "    - {component: config, every: 24h}",
        "    - {component: lis, every: 24h}",
        "    - {component: user_data, every: 24h}",
        "objectives: {rpo: 24h, rto: 4h}",
        "credentials:",
        "  entries: [{id: a, username: 'BENCH\\admin', source: prompt}]",
        "  winrm_default: a",
    ]
    return "\n".join(lines) + "\n"


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def bench_plan(quick: bool) -> Iterable[Row]:
    from wizard.plan import load_plan

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.yaml"
        path.write_text(generated_plan(500))
        servers = len(load_plan(path).plan.all_servers())
        ms = _median_ms(lambda: load_plan(path), 3 if quick else 7)
    yield Row(f"plan load + validation, {servers} servers", ms, "ms")


def write_journal(folder: Path, entries: int) -> Path:
    """A journal of ``entries`` entries (steps started and finished) in ``folder``; its path.
    Filled fast (no fsync): replaying it is what the benchmarks measure."""
    import os

    from wizard.journal import Journal, Kind
    from wizard.secrets import SecretRegistry

    big = Journal.create(folder, incident="BENCH-2", operator="bench", drill=True, payload={},
                         secrets=SecretRegistry(["bench-secret-value"]))
    real_fsync = os.fsync
    os.fsync = lambda fd: None
    try:
        for i in range(entries - 1):
            big.append(Kind.ACTION_FINISHED if i % 2 else Kind.ACTION_STARTED,
                       {"step": f"step-{i // 2}", "status": "done", "exit_code": 0})
    finally:
        os.fsync = real_fsync
    big.close()
    return big.path


def bench_journal(quick: bool) -> Iterable[Row]:
    from wizard.incident_state import replay
    from wizard.journal import Journal, Kind, read_journal
    from wizard.secrets import SecretRegistry

    n_append = 200 if quick else 1000
    n_replay = 10_000
    with tempfile.TemporaryDirectory() as tmp:
        secrets = SecretRegistry(["bench-secret-value"])
        j = Journal.create(tmp, incident="BENCH-1", operator="bench", drill=True, payload={}, secrets=secrets)
        t0 = time.perf_counter()
        for i in range(n_append):
            j.append(Kind.OUTPUT, {"step": "s", "i": i, "line": "10 percent processed."})
        rate = n_append / (time.perf_counter() - t0)
        j.close()
        yield Row("journal append, fsync per entry", rate, "entries/s")

        big_path = write_journal(Path(tmp), n_replay)
        ms = _median_ms(lambda: replay(read_journal(big_path).entries), 3 if quick else 5)
        entries = len(read_journal(big_path).entries)
    yield Row(f"journal verify + replay, {entries:,} entries", ms, "ms")


def bench_winrm(quick: bool) -> Iterable[Row]:
    from lab.bench import winrm as bw

    n = 20
    for auth in ("basic", "ntlm"):
        r = bw.bench_runner_vs_run_ps(n, auth)
        yield Row(f"WinRM {auth}: {n} cmdlets through the runner (one shell)", r[f"runner_{n}_cmds_ms"], "ms")
        yield Row(f"WinRM {auth}: {n} plain run_ps calls", r[f"run_ps_{n}_cmds_ms"], "ms")
        yield Row(f"WinRM {auth}: runner / run_ps", r["runner_over_run_ps_ratio"], "ratio", "<= 0.5")
    for auth in ("basic", "ntlm"):
        r = bw.bench_cmdlet_reused_shell(10 if quick else 30, auth)
        yield Row(f"WinRM {auth}: one cmdlet on a reused shell, median", r[f"cmdlet_reused_shell_{auth}_median_ms"],
                  "ms")
    for auth in ("ntlm", "basic"):  # the production transport: HTTPS, the certificate validated by FQDN
        r = bw.bench_https(10 if quick else 30, auth)
        yield Row(f"WinRM HTTPS {auth}: one cmdlet on a reused shell, median", r["reused_median_ms"], "ms")
        yield Row(f"WinRM HTTPS {auth}: new connection (TLS handshake, auth, shell, one cmdlet), median",
                  r["new_connection_median_ms"], "ms")


def bench_sql(quick: bool) -> Iterable[Row]:
    from lab.bench import sql as bs

    r = bs.bench_sql_connect(10 if quick else 30)
    yield Row("SQL connect + close (FreeTDS), median", float(r["median_ms"]), "ms")
    r = bs.bench_sql_select(50 if quick else 200)
    yield Row("SQL parameterised SELECT (FreeTDS), median", float(r["median_ms"]), "ms")
    r = bs.bench_progress_latency()
    yield Row("SQL 3211 sent -> runner Progress event, median", float(r["median_ms"]), "ms", "< 100")
    yield Row("SQL 3211 sent -> runner Progress event, max", float(r["max_ms"]), "ms", "< 100")


def all_benchmarks() -> list[tuple[str, BenchFn]]:
    """Every benchmark, in the table's order (the lab's, assessment, catalogue and UI figures
    live in their own modules of this package; the UI ones run Textual in child processes)."""
    from lab.bench import assess, catalog, memory, runtime, stages, ui

    return [("plan", bench_plan), ("journal", bench_journal), ("winrm", bench_winrm), ("sql", bench_sql),
            ("lab", runtime.bench_rows), ("assess", assess.bench_rows), ("catalog", catalog.bench_rows),
            ("ui", ui.bench_rows), ("stages", stages.bench_rows), ("memory", memory.bench_rows)]


def bench_command(args: argparse.Namespace) -> int:
    benchmarks = all_benchmarks()
    only = set(getattr(args, "only", None) or ())
    unknown = sorted(only - {name for name, _ in benchmarks})
    if unknown:
        raise UsageError(f"no benchmark group named {', '.join(unknown)} "
                         f"(groups: {', '.join(name for name, _ in benchmarks)})")
    rows: list[Row] = []
    print(f"{'benchmark':<64} {'value':>10} {'unit':<10} goal")
    print("-" * 98)
    for name, fn in benchmarks:
        if only and name not in only:
            continue
        for row in fn(bool(args.quick)):
            rows.append(row)
            value = (f"{row.value:,.0f}" if row.unit == "requests" else  # a count
                     f"{row.value:.2f}" if row.value < 10 else
                     f"{row.value:,.1f}" if row.value < 1000 else f"{row.value:,.0f}")
            print(f"{row.name:<64} {value:>10} {row.unit:<10} {row.goal}", flush=True)
    notes = [row.note for row in rows if row.note]
    if notes:
        print()
        for note in notes:
            print(note)
    return ExitCode.OK if rows else ExitCode.FAILED
