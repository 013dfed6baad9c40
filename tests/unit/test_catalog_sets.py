"""Backup catalogue on generated set trees: discovery, components, integrity, the choice."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from wizard.catalog.components import requirements, scan_set
from wizard.catalog.discover import list_sets
from wizard.catalog.integrity import BackupCheckError, BakHeader
from wizard.catalog.recommend import (
    SetChoice,
    SetExamined,
    choose_set,
    examine,
    overview,
    set_decision_payload,
)
from wizard.errors import UsageError
from wizard.plan import load_plan
from wizard.plan.model import Plan

REPO = Path(__file__).resolve().parents[2]
UNC = "\\\\bk01.fabrikam.lab\\LyncBackup"
NOW = dt.datetime(2026, 11, 24, 9, 0)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(REPO / "plans" / "lab.yaml").plan


def _zip(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("DocItemSet.xml", text * 20)
    return buf.getvalue()


def write_set(root: Path, plan: Plan, when: dt.datetime, *, skip: tuple[str, ...] = (),
              corrupt: tuple[str, ...] = (), manifest: bool = True) -> Path:
    """A set in the plan's layout; ``skip`` leaves files out, ``corrupt`` damages them after
    the manifest was written."""
    layout = plan.backup.layout
    d = root / when.strftime(layout.folder_format)
    files: dict[str, bytes] = {layout.config: _zip("config"), layout.lis: _zip("lis")}
    for pool in plan.front_end_pools():
        files[layout.user_data.format(pool=pool.fqdn)] = _zip(f"users {pool.fqdn}")
        if pool.response_group:
            files[layout.rgs.format(pool=pool.fqdn)] = _zip(f"rgs {pool.fqdn}")
    for db in ("LcsCDR", "QoEMetrics", "LcsLog", "mgc"):
        files[f"sql\\{db}.bak"] = f"BAK {db}".encode()
    for fs in plan.topology.file_stores:
        for i in range(3):
            files[f"filestore\\{fs.id}\\meetings\\m{i}.dat"] = b"x" * 10
    for rel in skip:
        files.pop(rel)
    for rel, data in files.items():
        target = d.joinpath(*rel.split("\\"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    if manifest:
        listing = {rel: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                   for rel, data in files.items()}
        (d / layout.manifest).write_text(json.dumps(
            {"created": when.isoformat(), "files": listing}), encoding="utf-8")
    for rel in corrupt:
        target = d.joinpath(*rel.split("\\"))
        if rel.endswith(".bak"):
            target.write_bytes(target.read_bytes() + b" CORRUPT")
        elif rel.endswith(".zip"):
            data = bytearray(target.read_bytes())
            for i in range(10, min(len(data), 120)):
                data[i] ^= 0x5A
            target.write_bytes(bytes(data))
        else:
            target.unlink()
    return d


class FakeVerifier:
    """Plays SQL Server's RESTORE HEADERONLY / VERIFYONLY over the generated .bak files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls: list[str] = []

    def _read(self, unc: str) -> bytes:
        rel = unc[len(UNC) + 1:]
        return self.root.joinpath(*rel.split("\\")).read_bytes()

    def header(self, unc: str) -> BakHeader:
        self.calls.append(f"HEADERONLY {unc}")
        data = self._read(unc)
        return BakHeader(data.split()[1].decode(), NOW - dt.timedelta(hours=7), True, False, 1)

    def verify(self, unc: str, *, checksum: bool) -> None:
        self.calls.append(f"VERIFYONLY {unc}")
        if b"CORRUPT" in self._read(unc):
            raise BackupCheckError("The backup set on file 1 is damaged (3189).")


def _days(n: int) -> dt.datetime:
    return dt.datetime(2026, 11, 24, 2, 0) - dt.timedelta(days=n)


def _choose(plan: Plan, root: Path, path: str,
            verifier: Callable[[Path], FakeVerifier] = FakeVerifier) -> SetChoice:
    listing = list_sets(root, plan.backup.layout, UNC)
    return choose_set(plan, listing, path, now=NOW, verifier=verifier(root))


def test_listing_is_newest_first_and_ignores_strangers(plan: Plan, tmp_path: Path) -> None:
    for n in (2, 0, 1):
        write_set(tmp_path, plan, _days(n))
    (tmp_path / "old-stuff").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    listing = list_sets(tmp_path, plan.backup.layout, UNC)
    assert [s.name for s in listing.sets] == ["2026-11-24_0200", "2026-11-23_0200",
                                              "2026-11-22_0200"]
    assert listing.ignored == ("notes.txt", "old-stuff")
    assert listing.sets[0].unc == UNC + "\\2026-11-24_0200"


def test_components_are_recognised(plan: Plan, tmp_path: Path) -> None:
    d = write_set(tmp_path, plan, _days(0))
    contents = scan_set(list_sets(tmp_path, plan.backup.layout, UNC).sets[0], plan.backup.layout)
    found = {(p.component, p.key) for p in contents.parts}
    assert {("config", None), ("lis", None), ("user_data", "pool1.fabrikam.lab"),
            ("user_data", "se01.fabrikam.lab"), ("rgs", "pool2.fabrikam.lab"),
            ("monitoring", "lcscdr"), ("archiving", "lcslog"), ("persistent_chat", "mgc"),
            ("file_store", "fs-hq"), ("manifest", None)} <= found
    assert ("rgs", "pool3.fabrikam.lab") not in found  # pool3 runs no Response Group
    assert contents.created == _days(0) and d.is_dir()


def test_requirements_follow_the_path_and_scope(plan: Plan) -> None:
    labels = [r.label for r in requirements(plan, "cms-restore")]
    assert labels[:2] == ["Config.zip", "E911Config.zip"]
    assert "UserData_pool3.fabrikam.lab.zip" in labels
    scoped = [r.label for r in requirements(plan, "be-restore", ["pool3.fabrikam.lab"])]
    assert scoped == ["UserData_pool3.fabrikam.lab.zip"]
    assert [r.label for r in requirements(plan, "pchat-restore")] == ["sql\\mgc.bak"]
    assert requirements(plan, "member-rebuild") == []


def test_newest_set_corrupt_the_older_one_is_recommended_with_reasons(plan: Plan,
                                                                      tmp_path: Path) -> None:
    write_set(tmp_path, plan, _days(2))
    write_set(tmp_path, plan, _days(1))
    write_set(tmp_path, plan, _days(0), corrupt=("Config.zip", "sql\\LcsCDR.bak"))
    choice = _choose(plan, tmp_path, "pool-restore")
    assert choice.chosen is not None and choice.chosen.name == "2026-11-23_0200"
    assert [v.name for v in choice.passed_over] == ["2026-11-24_0200"]
    reasons = " ".join(choice.passed_over[0].reasons)
    assert "Config.zip" in reasons and ("not a readable zip" in reasons or "CRC" in reasons
                                        or "SHA-256" in reasons)
    assert "Passed over 2026-11-24_0200" in choice.summary
    assert not choice.chosen.within_rpo  # 31 h old against a 24 h RPO: said plainly
    assert "31.0 h old, OVER the RPO of 24h" in choice.summary
    assert choice.chosen.integrity is not None and choice.chosen.integrity.intact


def test_newest_set_with_a_damaged_bak_only(plan: Plan, tmp_path: Path) -> None:
    write_set(tmp_path, plan, _days(1))
    write_set(tmp_path, plan, _days(0), corrupt=("sql\\LcsCDR.bak",))
    choice = _choose(plan, tmp_path, "monitoring-archiving-restore")
    assert choice.chosen is not None and choice.chosen.name == "2026-11-23_0200"
    assert any("VERIFYONLY of sql\\LcsCDR.bak failed" in r for r in choice.passed_over[0].reasons)


def test_set_without_e911config_is_incomplete_for_the_cms_path(plan: Plan, tmp_path: Path) -> None:
    write_set(tmp_path, plan, _days(1))
    write_set(tmp_path, plan, _days(0), skip=("E911Config.zip",))
    verifier = FakeVerifier(tmp_path)
    listing = list_sets(tmp_path, plan.backup.layout, UNC)
    events = list(examine(plan, listing, "cms-restore", now=NOW, verifier=verifier))
    choice = events[-1]
    assert isinstance(choice, SetChoice) and isinstance(events[0], SetExamined)
    assert choice.chosen is not None and choice.chosen.name == "2026-11-23_0200"
    rejected = choice.passed_over[0]
    assert rejected.reasons == ("incomplete: no E911Config.zip",)
    assert rejected.integrity is None  # not opened: incomplete sets are rejected cheaply
    assert not any("2026-11-24" in c for c in verifier.calls)
    # the same set is fine for a path that does not need LIS
    other = _choose(plan, tmp_path, "file-store-restore")
    assert other.chosen is not None and other.chosen.name == "2026-11-24_0200"


def test_file_store_copy_counted_against_the_manifest(plan: Plan, tmp_path: Path) -> None:
    write_set(tmp_path, plan, _days(1))
    write_set(tmp_path, plan, _days(0), corrupt=("filestore\\fs-hq\\meetings\\m1.dat",))
    choice = _choose(plan, tmp_path, "file-store-restore")
    assert choice.chosen is not None and choice.chosen.name == "2026-11-23_0200"
    assert any("2 of the 3 files" in r for r in choice.passed_over[0].reasons)


def test_age_against_rpo_and_nothing_usable(plan: Plan, tmp_path: Path) -> None:
    write_set(tmp_path, plan, _days(3), skip=("Config.zip",))
    choice = _choose(plan, tmp_path, "config-rollback")
    assert choice.chosen is None
    assert "None of the 1 backup sets" in choice.summary
    write_set(tmp_path, plan, _days(2))
    choice = _choose(plan, tmp_path, "config-rollback")
    assert choice.chosen is not None and not choice.chosen.within_rpo
    assert "OVER the RPO of 24h" in choice.summary


def test_overview_lists_completeness_without_opening_files(plan: Plan, tmp_path: Path) -> None:
    write_set(tmp_path, plan, _days(1))
    write_set(tmp_path, plan, _days(0), skip=("E911Config.zip",), corrupt=("Config.zip",))
    rows = overview(plan, list_sets(tmp_path, plan.backup.layout, UNC), "cms-restore", NOW)
    assert [(r.name, [m.label for m in r.missing]) for r in rows] == [
        ("2026-11-24_0200", ["E911Config.zip"]), ("2026-11-23_0200", [])]
    assert all(r.integrity is None for r in rows)


def test_set_decision_needs_a_reason_to_override(plan: Plan, tmp_path: Path) -> None:
    write_set(tmp_path, plan, _days(1))
    write_set(tmp_path, plan, _days(0), corrupt=("Config.zip",))
    choice = _choose(plan, tmp_path, "cms-restore")
    payload = set_decision_payload(choice, "2026-11-23_0200")
    assert payload["accepted"] is True and payload["passed_over"][0]["set"] == "2026-11-24_0200"  # type: ignore[index]
    with pytest.raises(UsageError):
        set_decision_payload(choice, "2026-11-24_0200", "")
