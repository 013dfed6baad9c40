"""Local backup store: sets, files with Windows-style relative paths, hashes, clear errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from wizard.remote.backup_store import BackupStoreError, LocalBackupStore


def _tree(root: Path) -> None:
    for name in ("2026-11-23_0200", "2026-11-24_0200"):
        s = root / name
        (s / "sql").mkdir(parents=True)
        (s / "filestore" / "lyncshare" / "meetings").mkdir(parents=True)
        (s / "Config.zip").write_bytes(b"PK" + name.encode())
        (s / "sql" / "LcsCDR.bak").write_bytes(b"x" * 1000)
        (s / "filestore" / "lyncshare" / "meetings" / "a.pptx").write_bytes(b"slides")
    (root / "README.txt").write_text("not a set")


def test_lists_sets_and_files(tmp_path: Path) -> None:
    _tree(tmp_path)
    store = LocalBackupStore(tmp_path, r"\\bk01\LyncBackup")
    assert [s.name for s in store.list_sets()] == ["2026-11-23_0200", "2026-11-24_0200"]
    files = store.list_files("2026-11-24_0200")
    assert [f.path for f in files] == ["Config.zip", "filestore\\lyncshare\\meetings\\a.pptx", "sql\\LcsCDR.bak"]
    assert files[2].size == 1000 and files[2].name == "LcsCDR.bak"
    assert files[0].modified.tzinfo is not None
    hashes = store.sha256("2026-11-24_0200", ["sql\\LcsCDR.bak"])
    assert hashes == {"sql\\LcsCDR.bak": hashlib.sha256(b"x" * 1000).hexdigest()}


def test_missing_location_and_bad_names(tmp_path: Path) -> None:
    store = LocalBackupStore(tmp_path / "not-mounted", r"\\bk01\LyncBackup")
    with pytest.raises(BackupStoreError, match="does not exist: is the share mounted"):
        store.list_sets()
    _tree(tmp_path)
    store = LocalBackupStore(tmp_path)
    for bad in ("..", "a\\b", "x/y", ""):
        with pytest.raises(BackupStoreError, match="is not a backup set folder name"):
            store.list_files(bad)
    with pytest.raises(BackupStoreError, match="no backup set 2020-01-01_0000"):
        store.list_files("2020-01-01_0000")
