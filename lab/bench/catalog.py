"""Benchmark of the backup catalogue on local disk: 1,100 daily sets (three years), each in the
plan's layout with zips, .bak stand-ins, a file store copy and a manifest. Listing, recognising
every set's components and choosing a set (newest corrupt) are timed. A second figure lists and
recognises 30 sets through the REMOTE store (Get-ChildItem over real WinRM on the lab's
``read_via`` Front End), in one script for the location and, beside it, per set as before #20;
a third lists 365 sets at 50 ms a WinRM request. Figures printed only, with the requests made."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from lab.bench.table import Row, generated_plan
from wizard.catalog.discover import list_sets, list_store_sets
from wizard.catalog.recommend import choose_set, overview

_UNC = "\\\\bk.bench.example\\LyncBackup"


def _write_sets(root: Path, plan_text: str, count: int) -> tuple[object, dt.datetime]:
    import io
    import zipfile

    from wizard.plan import load_plan

    plan_file = root / "plan.yaml"
    plan_file.write_text(plan_text)
    plan = load_plan(plan_file).plan
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("DocItemSet.xml", "<DocItemSet/>")
    blob = buf.getvalue()
    layout = plan.backup.layout
    newest = dt.datetime(2026, 11, 24, 2, 0)
    sets = root / "sets"
    for age in range(count):
        d = sets / (newest - dt.timedelta(days=age)).strftime(layout.folder_format)
        (d / "sql").mkdir(parents=True)
        (d / "filestore" / "share").mkdir(parents=True)
        for name in (layout.config, layout.lis):
            (d / name).write_bytes(blob if age else b"not a zip")
        for pool in plan.front_end_pools()[:4]:
            (d / layout.user_data.format(pool=pool.fqdn)).write_bytes(blob)
        (d / "sql" / "LcsCDR.bak").write_bytes(b"bak")
        (d / layout.manifest).write_text("{}")
    return plan, newest + dt.timedelta(hours=7)


def bench_rows(quick: bool) -> Iterable[Row]:
    count = 1100
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plan, now = _write_sets(root, generated_plan(8, per_pool=2), count)
        layout = plan.backup.layout  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        listing = list_sets(root / "sets", layout, _UNC)
        listed = time.perf_counter() - t0
        rows = overview(plan, listing, "config-rollback", now)  # type: ignore[arg-type]
        catalogued = time.perf_counter() - t0
        t1 = time.perf_counter()
        choice = choose_set(plan, listing, "config-rollback", now=now,  # type: ignore[arg-type]
                            verifier=None)
        chose = time.perf_counter() - t1
    yield Row(f"catalogue: list {len(listing.sets):,} daily sets", listed * 1000, "ms")
    yield Row(f"catalogue: list + components of {len(rows):,} sets", catalogued * 1000, "ms",
              "<= 1000 ms")
    picked = choice.chosen.name if choice.chosen else "none"
    yield Row(f"catalogue: choose set, newest corrupt (picked {picked})", chose * 1000, "ms")
    if not quick:
        yield from remote_rows(30)
        yield from remote_rows(365, 0.05, per_set=False)


#: the WS-Management requests a command costs (not the authentication records of the transcript)
_REQUESTS = frozenset({"Create", "Command", "Receive", "Signal", "Send", "Delete"})


def remote_rows(count: int, delay_s: float = 0.0, *, per_set: bool = True) -> Iterable[Row]:
    """``count`` sets at the lab's share (its three, plus copies of the oldest under earlier
    dates), listed and recognised through the remote store over WinRM (Basic, loopback), each
    WinRM request delayed by ``delay_s`` at the listener (a WAN). Measured twice in the same lab:
    one script for the whole location (``list_store_sets``: the snapshot) and, when ``per_set``,
    the way it was read before #20 (the folders, then one listing and one manifest read per
    set); each row names the requests the listener received."""
    import shutil

    from lab.runtime import LabRuntime
    from lab.scenarios import scenario
    from wizard.catalog.components import scan_set
    from wizard.remote.backup_store import RemoteBackupStore, runner_stdout

    with LabRuntime(scenario("monitoring-db-lost")) as lab:
        plan = lab.plan
        loc = plan.backup.locations[0]
        layout = plan.backup.layout
        disk = Path(lab.dep.paths.resolve(loc.unc))
        have = sorted(p for p in disk.iterdir() if p.is_dir())
        oldest = dt.datetime.strptime(have[0].name, layout.folder_format)
        for age in range(1, count - len(have) + 1):
            name = (oldest - dt.timedelta(days=age)).strftime(layout.folder_format)
            shutil.copytree(have[0], disk / name)
        assert loc.read_via is not None
        listener = lab.wsman[lab.dep.paths.fqdn(loc.read_via)]
        runner = lab.runner(loc.read_via, "basic")
        figures = []
        try:
            store = RemoteBackupStore(runner_stdout(runner), loc.unc, loc.read_via, modules=())
            store.list_sets()  # the shell is open before the clock starts
            listener.faults.delay_s = delay_s
            for whole in (True, False) if per_set else (True,):
                before = len(listener.transcript)
                t0 = time.perf_counter()
                listing = list_store_sets(store, layout, loc.unc, contents=whole)
                rows = [scan_set(e, layout) for e in listing.sets]
                took = time.perf_counter() - t0
                asked = sum(e.action in _REQUESTS for e in listener.transcript[before:])
                figures.append((whole, len(rows), took, asked))
        finally:
            listener.faults.delay_s = 0.0
            runner.close()
    wan = f" at {delay_s * 1000:.0f} ms a request" if delay_s else ""
    for whole, sets, took, asked in figures:
        how = "one script" if whole else "per set, as before #20"
        goal = "<= 1500 ms" if whole and delay_s and sets >= 365 else ""
        yield Row(f"catalogue: list + components of {sets} sets through WinRM{wan}, {how} "
                  f"({asked} requests)", took * 1000, "ms", goal)
