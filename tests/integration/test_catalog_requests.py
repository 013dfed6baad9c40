"""#20 item 2: the catalogue of a location in a bounded number of WinRM requests, counted at the
lab's own WS-Management listener (its transcript) while the wizard's real runner (pywinrm) lists
the lab plan's location through its ``read_via`` Front End (fe01: PowerShell 3.0).

Listing a location and recognising every set (files, sizes, manifests) is one script whatever
the number of sets; the per-set path it replaces (one listing and one manifest read per set) is
kept as the reference the results must equal."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.runtime import LabRuntime
from lab.scenarios import scenario
from wizard.catalog.components import SetContents, scan_set
from wizard.catalog.discover import Listing, list_store_sets
from wizard.remote.backup_store import RemoteBackupStore, runner_stdout

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

#: what a request is in the transcript (Auth lines record a logon, not a request)
REQUESTS = frozenset({"Create", "Command", "Receive", "Signal", "Send", "Delete"})


@pytest.fixture(scope="module")
def lab() -> Iterator[LabRuntime]:
    with LabRuntime(scenario("monitoring-db-lost")) as runtime:
        yield runtime


def _grow(lab: LabRuntime, count: int) -> int:
    """At least ``count`` sets at the first location: copies of the oldest, a day apart, are added
    before it; how many there are."""
    loc = lab.plan.backup.locations[0]
    fmt = lab.plan.backup.layout.folder_format
    disk = Path(lab.dep.paths.resolve(loc.unc))
    have = sorted(p for p in disk.iterdir() if p.is_dir())
    first = dt.datetime.strptime(have[0].name, fmt)
    for age in range(1, count - len(have) + 1):
        shutil.copytree(have[0], disk / (first - dt.timedelta(days=age)).strftime(fmt))
    return sum(p.is_dir() for p in disk.iterdir())


def _catalogue(lab: LabRuntime, *, whole: bool) -> tuple[Listing, list[SetContents], int]:
    """The location listed and every set recognised (a fresh runner: its shell is counted)."""
    loc = lab.plan.backup.locations[0]
    assert loc.read_via and not loc.local_path
    listener = lab.wsman[lab.dep.paths.fqdn(loc.read_via)]
    runner = lab.runner(loc.read_via, "basic")
    before = len(listener.transcript)
    try:
        store = RemoteBackupStore(runner_stdout(runner), loc.unc, loc.read_via, modules=())
        listing = list_store_sets(store, lab.plan.backup.layout, loc.unc, contents=whole)
        contents = [scan_set(e, lab.plan.backup.layout) for e in listing.sets]
    finally:
        runner.close()
    asked = sum(e.action in REQUESTS for e in listener.transcript[before:])
    return listing, contents, asked


def test_requests_do_not_grow_with_the_sets(lab: LabRuntime) -> None:
    counts: dict[int, int] = {}
    for sets in (3, 30, 365):
        assert _grow(lab, sets) == sets
        listing, contents, asked = _catalogue(lab, whole=True)
        assert len(listing.sets) == sets and all(c.manifest is not None for c in contents)
        assert all(c.files and any(p.component == "config" for p in c.parts) for c in contents)
        counts[sets] = asked
    # Create, Command, Receive(s), Signal, Delete: the same few whether 3 sets or a year of them
    assert max(counts.values()) <= 8, counts
    assert counts[365] - counts[3] <= 2, counts  # a longer answer may take another Receive, no more
    per_set = _catalogue(lab, whole=False)[2]
    assert per_set >= 2 * 365, per_set  # the path it replaces: a few requests a set


def test_one_script_reads_what_the_per_set_path_reads(lab: LabRuntime) -> None:
    _grow(lab, 30)
    whole, by_script, _ = _catalogue(lab, whole=True)
    each, by_set, _ = _catalogue(lab, whole=False)
    assert whole == each
    assert by_script == by_set  # parts, manifests, times, every file with its size and time
    assert all(c.entry.store is not None for c in by_script)


def test_a_folder_that_is_not_a_set_is_listed_not_read(lab: LabRuntime) -> None:
    loc = lab.plan.backup.locations[0]
    disk = Path(lab.dep.paths.resolve(loc.unc))
    (disk / "old-sets" / "deep").mkdir(parents=True)
    (disk / "old-sets" / "deep" / "Config.zip").write_bytes(b"x")
    try:
        store = RemoteBackupStore(runner_stdout(runner := lab.runner(loc.read_via or "", "basic")),
                                  loc.unc, loc.read_via or "", modules=())
        try:
            snapshot = store.snapshot("^[0-9]{4}-[0-9]{2}-[0-9]{2}_[0-9]{4}$", lab.plan.backup.layout.manifest)
            listing = list_store_sets(store, lab.plan.backup.layout, loc.unc)
        finally:
            runner.close()
    finally:
        shutil.rmtree(disk / "old-sets")
    assert snapshot.sets["old-sets"].files is None  # its files were never listed
    assert "old-sets" in listing.ignored and all(e.name != "old-sets" for e in listing.sets)
