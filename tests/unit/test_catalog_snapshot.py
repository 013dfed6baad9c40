"""#20 item 2, the location read in one script: the snapshot script's answer parsed into the
catalogue's records, the snapshot answering the catalogue from memory, and the folder pattern
the far side filters set folders with. A fake ``RunScript`` stands for the runner and counts
the scripts sent (the real runner and the lab: tests/integration/test_catalog_requests.py)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from pathlib import Path

import pytest

from wizard.catalog.components import scan_set
from wizard.catalog.discover import folder_pattern, list_store_sets
from wizard.errors import RemoteError
from wizard.plan import load_plan
from wizard.plan.model import Plan
from wizard.remote.backup_store import (
    BackupStoreError,
    LocationSnapshot,
    RemoteBackupStore,
    SecondHopDenied,
    parse_location,
)
from wizard.remote.psbuild import JSON_BEGIN, JSON_END

REPO = Path(__file__).resolve().parents[2]
UNC = "\\\\bk01.fabrikam.lab\\LyncBackup"
T = "\\/Date(1795485600000)\\/"  # 2026-11-24 02:00 UTC, as ConvertTo-Json writes a DateTime


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(REPO / "plans" / "lab.yaml").plan


MANIFEST = json.dumps({"created": "2026-11-24T02:10:00Z", "files": {"Config.zip": {"size": 10}}}, indent=2)

#: what the snapshot script prints for a location: two sets (one with a single file, unwrapped
#: the way PowerShell unwraps a one-item array), a set whose folder could not be read, a set
#: whose manifest could not be read, and a folder that is not a set (not read)
ANSWER = [
    {"N": "2026-11-24_0200", "T": T, "E": None, "ME": None, "M": MANIFEST, "F": [
        {"P": "Config.zip", "L": 10, "T": T}, {"P": "manifest.json", "L": len(MANIFEST), "T": T},
        {"P": "sql\\LcsCDR.bak", "L": 300, "T": T}, {"P": "filestore\\fs-hq\\a\\b.txt", "L": 5, "T": T},
        {"P": "filestore\\fs-hq\\c.txt", "L": 7, "T": T}, {"P": "E911Config.zip", "L": 9, "T": T}]},
    {"N": "2026-11-23_0200", "T": T, "E": None, "ME": None, "M": None, "F": {"P": "Config.zip", "L": 10, "T": T}},
    {"N": "2026-11-22_0200", "T": T, "E": "The specified network name is no longer available.", "ME": None,
     "M": None, "F": None},
    {"N": "2026-11-21_0200", "T": T, "E": None, "ME": "The process cannot access the file", "M": None,
     "F": [{"P": "manifest.json", "L": 3, "T": T}]},
    {"N": "old-stuff", "T": T, "E": None, "ME": None, "M": None, "F": None},
]


def _stdout(values: object) -> str:
    return f"{JSON_BEGIN}\r\n{json.dumps(values)}\r\n{JSON_END}\r\n"


class FakeRun:
    """Answers the snapshot script with ANSWER, any other script with ``other``; keeps each script."""

    def __init__(self, other: object = ()) -> None:
        self.scripts: list[str] = []
        self.other = other

    def __call__(self, script: str) -> str:
        self.scripts.append(script)
        return _stdout(ANSWER if "$lrSets" in script else self.other)


def test_the_answer_is_parsed_into_folders_files_and_manifests() -> None:
    sets = {s.folder.name: s for s in parse_location(ANSWER)}
    assert list(sets) == sorted(sets)  # by name, as list_sets sorts them
    newest = sets["2026-11-24_0200"]
    assert newest.folder.modified == dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)
    assert newest.files is not None
    assert [f.path for f in newest.files] == ["Config.zip", "E911Config.zip", "filestore\\fs-hq\\a\\b.txt",
                                             "filestore\\fs-hq\\c.txt", "manifest.json", "sql\\LcsCDR.bak"]
    assert newest.files[-1].size == 300 and newest.manifest == MANIFEST and newest.error is None
    single = sets["2026-11-23_0200"].files
    assert single is not None and [f.path for f in single] == ["Config.zip"]
    assert sets["2026-11-22_0200"].files is None and "no longer" in (sets["2026-11-22_0200"].error or "")
    assert sets["2026-11-21_0200"].manifest_error == "The process cannot access the file"
    assert sets["old-stuff"].files is None and sets["old-stuff"].error is None


def test_an_entry_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(BackupStoreError, match="unexpected listing entry"):
        parse_location(["2026-11-24_0200"])


def test_the_catalogue_of_a_location_is_one_script(plan: Plan) -> None:
    run = FakeRun()
    store = RemoteBackupStore(run, UNC, "fe01.fabrikam.lab", modules=())
    listing = list_store_sets(store, plan.backup.layout, UNC)
    assert [e.name for e in listing.sets] == ["2026-11-24_0200", "2026-11-23_0200", "2026-11-22_0200",
                                             "2026-11-21_0200"]
    assert listing.ignored == ("old-stuff",)
    contents = {e.name: scan_set(e, plan.backup.layout) for e in listing.sets}
    assert len(run.scripts) == 1, "listing and recognising every set took one script"
    script = run.scripts[0]
    assert f"$lrRoot = '{UNC}'" in script and "$lrManifest = 'manifest.json'" in script
    assert "Get-FileHash" not in script and "-Depth" not in script.split("ConvertTo-Json")[0]  # PowerShell 3.0
    newest = contents["2026-11-24_0200"]
    assert newest.manifest == json.loads(MANIFEST) and newest.created == dt.datetime(2026, 11, 24, 2, 10)
    assert {p.component for p in newest.parts} >= {"config", "lis", "monitoring", "file_store", "manifest"}
    store_part = next(p for p in newest.parts if p.component == "file_store")
    assert store_part.size == 12 and store_part.rel == "filestore\\fs-hq"
    assert contents["2026-11-23_0200"].manifest is None and contents["2026-11-23_0200"].manifest_problem is None
    unreadable = contents["2026-11-22_0200"]
    assert unreadable.parts == () and unreadable.manifest_problem is not None
    assert unreadable.manifest_problem == ("the set folder cannot be read (\\\\bk01.fabrikam.lab\\LyncBackup (listed "
                                           "through fe01.fabrikam.lab): The specified network name is no longer "
                                           "available)")
    assert "manifest.json cannot be read (" in (contents["2026-11-21_0200"].manifest_problem or "")


def test_the_snapshot_sends_hashes_and_unread_paths_to_the_store() -> None:
    run = FakeRun(other=[{"Path": f"{UNC}\\2026-11-24_0200\\Config.zip", "Hash": "AB12"}])
    store = RemoteBackupStore(run, UNC, "fe01.fabrikam.lab", modules=())
    snapshot = store.snapshot(folder_pattern("%Y-%m-%d_%H%M"), "manifest.json")
    assert isinstance(snapshot, LocationSnapshot) and len(run.scripts) == 1
    assert snapshot.read_text("2026-11-24_0200", "MANIFEST.JSON") == MANIFEST  # Windows: any case
    assert len(snapshot.list_files("2026-11-24_0200")) == 6 and len(run.scripts) == 1
    assert snapshot.sha256("2026-11-24_0200", ["Config.zip"]) == {"Config.zip": "ab12"}
    assert len(run.scripts) == 2 and "lrHashes" in run.scripts[1]
    with contextlib.suppress(RemoteError):  # the fake's answer is the hashes': only the script counts
        snapshot.read_text("2026-11-24_0200", "Config.zip")  # not the manifest: read through the store
    assert len(run.scripts) == 3 and "Get-Content" in run.scripts[2]
    with contextlib.suppress(RemoteError):
        snapshot.list_files("old-stuff")  # a folder the snapshot did not read
    assert len(run.scripts) == 4 and "-Recurse" in run.scripts[3]
    with pytest.raises(BackupStoreError, match=r"manifest\.json in backup set 2026-11-23_0200 came back empty"):
        _manifest_listed_empty(snapshot)


def _manifest_listed_empty(snapshot: LocationSnapshot) -> str:
    """A set whose manifest is listed but whose text came back as nothing (an empty file)."""
    from dataclasses import replace

    from wizard.remote.backup_store import StoredFile

    listed = snapshot.sets["2026-11-23_0200"]
    files = (*(listed.files or ()), StoredFile("manifest.json", 0, listed.folder.modified))
    snapshot.sets["2026-11-23_0200"] = replace(listed, files=files)
    return snapshot.read_text("2026-11-23_0200", "manifest.json")


def test_a_set_denied_on_the_second_hop_says_so() -> None:
    answer = [{"N": "2026-11-24_0200", "T": T, "E": f"Access to the path '{UNC}\\2026-11-24_0200' is denied.",
               "ME": None, "M": None, "F": None}]
    store = RemoteBackupStore(lambda script: _stdout(answer), UNC, "fe01.fabrikam.lab", modules=())
    snapshot = store.snapshot(folder_pattern("%Y-%m-%d_%H%M"), "manifest.json")
    with pytest.raises(SecondHopDenied) as info:
        snapshot.list_files("2026-11-24_0200")
    assert info.value.host == "fe01.fabrikam.lab"


@pytest.mark.parametrize("fmt", ["%Y-%m-%d_%H%M", "Set %Y.%m.%d [%H]", "%Y%m%d\\%H^%M", "bk-%Y-%j+%S"])
def test_the_folder_pattern_passes_the_names_the_format_makes(fmt: str) -> None:
    pattern = re.compile(folder_pattern(fmt), re.IGNORECASE)
    for when in (dt.datetime(2026, 1, 2, 3, 4, 5), dt.datetime(2026, 12, 31, 23, 59, 59)):
        assert pattern.match(when.strftime(fmt)), (fmt, when.strftime(fmt))
    assert not pattern.match("old-stuff") and not pattern.match(dt.datetime(2026, 1, 2).strftime(fmt) + "x")
