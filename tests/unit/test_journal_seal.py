"""A closed incident's journal is sealed evidence (#17): its end cannot be changed, truncated or
rewritten unnoticed, the final hash is an anchor outside the file, an installation key makes the
chain an HMAC chain, and everything under the state directory is the owner's alone."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import REPO
from wizard.errors import JournalError
from wizard.journal import (
    KEY_FILE_ENV,
    SEAL_FILE,
    Journal,
    Kind,
    create_key,
    installation_key,
    read_journal,
    verdict,
)
from wizard.secrets import SecretRegistry


def _sealed(folder: Path, *, entries: int = 6, incident: str = "INC-S") -> Path:
    """A closed, sealed incident journal with ``entries`` notes; returns the journal file."""
    j = Journal.create(folder, incident=incident, operator="alice", drill=True,
                       payload={"plan": "plans/lab.yaml"}, secrets=SecretRegistry(), key=installation_key())
    for i in range(entries):
        j.append(Kind.ACTION_FINISHED if i % 2 else Kind.NOTE, {"step": f"s{i}", "status": "done"})
    j.append(Kind.CLOSED, {"outcome": "restored"})
    j.seal()
    j.close()
    return folder / incident / "journal.jsonl"


def _verify(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wizard", "journal", "verify", str(path), *extra],
                          capture_output=True, text=True, cwd=REPO, timeout=60, env=dict(os.environ))


def test_a_sealed_journal_verifies_and_prints_its_final_hash(tmp_path: Path) -> None:
    path = _sealed(tmp_path)
    result = read_journal(path)
    assert result.sealed and verdict(result).text == "sealed, intact"
    seal = json.loads((path.parent / SEAL_FILE).read_text())
    assert seal["final_hash"] == result.last_hash and seal["entries"] == result.entries[-1].seq
    proc = _verify(path)
    assert proc.returncode == 0, proc.stdout
    assert f"final hash: {result.last_hash}" in proc.stdout and "sealed, intact" in proc.stdout
    assert _verify(path, "--expect", result.last_hash).returncode == 0


def test_nothing_is_appended_after_a_seal(tmp_path: Path) -> None:
    path = _sealed(tmp_path)
    with pytest.raises(JournalError, match="sealed"):
        Journal.open(path)


def test_changing_the_last_entry_is_caught(tmp_path: Path) -> None:
    """#17 finding 2: changing the last entry's outcome gave "chain intact"."""
    path = _sealed(tmp_path)
    lines = path.read_text().splitlines()
    closed = next(i for i, line in enumerate(lines) if Kind.CLOSED in line)
    lines[closed] = lines[closed].replace('"restored"', '"not restored"')
    path.write_text("\n".join(lines) + "\n")
    proc = _verify(path)
    assert proc.returncode == 4 and f"TAMPERED: entry {closed + 1} (line {closed + 1}) was changed" in proc.stdout
    # the seal line itself, changed so that it still reads the same: caught by the seal file
    path = _sealed(tmp_path / "b")
    path.write_text(path.read_text().replace('"kind":"journal_sealed"', '"kind":"journal_sealed" ', 1))
    proc = _verify(path)
    assert proc.returncode == 4 and "the seal (entry 9) was changed" in proc.stdout, proc.stdout


def test_deleting_the_last_entries_is_caught(tmp_path: Path) -> None:
    """#17 finding 2: deleting the last three entries gave "chain intact"."""
    path = _sealed(tmp_path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-3]) + "\n")
    proc = _verify(path)
    assert proc.returncode == 4 and "truncated or rewritten" in proc.stdout, proc.stdout
    (path.parent / SEAL_FILE).unlink()  # the seal file too, and the closed entry is gone: nothing in the
    assert _verify(path).returncode == 0  # folder says it was sealed (the anchor outside does, below)


def test_the_final_hash_outside_the_file_catches_what_the_folder_cannot(tmp_path: Path) -> None:
    path = _sealed(tmp_path)
    anchor = read_journal(path).last_hash  # pasted into the change ticket
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-3]) + "\n")
    (path.parent / SEAL_FILE).unlink()
    proc = _verify(path, "--expect", anchor)
    assert proc.returncode == 4 and f"not the {anchor} kept outside" in proc.stdout


def test_garbage_on_the_last_line_is_tampering_not_a_torn_tail(tmp_path: Path) -> None:
    """#17 finding 2: a last line replaced with garbage passed as a "torn tail". A torn write has
    no newline (a line is written with its newline in one write); a whole garbage line is not one."""
    path = _sealed(tmp_path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines[:-1], "garbage"]) + "\n")
    result = read_journal(path)
    assert result.torn is None and result.broken is not None
    assert "is not a journal entry any more" in result.broken.describe()
    assert _verify(path).returncode == 4


def test_a_closed_journal_without_its_seal_is_caught(tmp_path: Path) -> None:
    path = _sealed(tmp_path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")  # the seal entry removed...
    (path.parent / SEAL_FILE).unlink()  # ...and its file
    proc = _verify(path)
    assert proc.returncode == 4 and "closed but the journal is not sealed" in proc.stdout


def test_the_tamper_message_names_the_first_changed_entry_and_counts_the_rest(tmp_path: Path) -> None:
    """#17 finding 5: it named the entry after the edited one, and only the first break."""
    path = _sealed(tmp_path, entries=8)
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace('"s1"', '"sX"')  # entry 3
    lines[5] = lines[5].replace('"s4"', '"sY"')  # entry 6
    path.write_text("\n".join(lines) + "\n")
    broken = read_journal(path).broken
    assert broken is not None and broken.seq == 3 and broken.more == 1
    assert broken.describe() == ("entry 3 (line 3) was changed: its content no longer matches the hash the "
                                 "next entry recorded; 1 more break after it")


def _rechain(path: Path, edit: dict[str, object], link: object) -> None:
    """What a forger does: change every entry, then recompute every link."""
    prev = "0" * 64
    out = []
    for line in path.read_text().splitlines():
        obj = json.loads(line)
        obj.update(edit)
        obj["prev"] = prev
        if obj["kind"] == Kind.SEALED:
            obj["payload"]["final_hash"] = prev
        raw = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
        out.append(raw)
        prev = link(raw)  # type: ignore[operator]
    path.write_bytes(b"\n".join(out) + b"\n")


def test_an_unkeyed_rewrite_is_caught_only_by_the_anchor(tmp_path: Path) -> None:
    """#17 finding 3: rewriting every entry and recomputing the hashes verified as intact. Unkeyed,
    only the final hash kept outside can tell; the report and verify say the chain is unkeyed."""
    path = _sealed(tmp_path)
    anchor = read_journal(path).last_hash
    _rechain(path, {"drill": False, "operator": "mallory"}, lambda raw: hashlib.sha256(raw).hexdigest())
    seal = path.parent / SEAL_FILE
    seal.write_text(json.dumps({**json.loads(seal.read_text()), "final_hash": read_journal(path).last_hash}))
    proc = _verify(path)
    assert proc.returncode == 0 and "chain: unkeyed (SHA-256)" in proc.stdout  # a perfect forgery...
    proc = _verify(path, "--expect", anchor)  # ...that the anchor in the change ticket exposes
    assert proc.returncode == 4 and "kept outside the journal" in proc.stdout


def test_a_keyed_chain_catches_a_rewrite_without_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "keys" / "journal.key"))
    key = create_key()
    assert stat.S_IMODE(key.path.stat().st_mode) == 0o600
    path = _sealed(tmp_path / "incidents")
    result = read_journal(path)
    assert result.chain == "hmac-sha256" and result.key_id == key.key_id and verdict(result).ok
    assert read_journal(path).entries[0].payload["key_id"] == key.key_id
    proc = _verify(path)
    assert proc.returncode == 0 and f"chain: keyed (HMAC-SHA256, key {key.key_id})" in proc.stdout
    _rechain(path, {"drill": False}, lambda raw: hashlib.sha256(raw).hexdigest())
    proc = _verify(path)
    assert proc.returncode == 4 and "TAMPERED" in proc.stdout
    with pytest.raises(JournalError, match="never overwritten"):
        create_key()


def test_a_keyed_journal_elsewhere_says_it_cannot_be_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "k1"))
    create_key()
    path = _sealed(tmp_path / "incidents")
    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "k2"))
    other = create_key()
    with pytest.raises(JournalError, match=f"the key here is {other.key_id}"):
        read_journal(path)
    monkeypatch.delenv(KEY_FILE_ENV)
    result = read_journal(path)
    assert not result.links_checked and not verdict(result).ok


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "journal.key"))
    key = create_key()
    key.path.chmod(0o644)
    with pytest.raises(JournalError, match="can be read by others"):
        installation_key()


def test_folders_are_0700_and_files_0600(tmp_path: Path) -> None:
    """#17 finding 4: state folders were 0755, the torn-tail side file and reports 0644."""
    old = os.umask(0o022)
    try:
        root = tmp_path / "state" / "lync-restore" / "incidents"
        path = _sealed(root)
        for folder in (tmp_path / "state", tmp_path / "state" / "lync-restore", root, path.parent):
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        for f in (path, path.parent / SEAL_FILE):
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        j = Journal.create(root, incident="INC-T", operator="a", drill=True, payload={}, secrets=SecretRegistry())
        j.append(Kind.NOTE, {"text": "x"})
        j.close()
        journal = root / "INC-T" / "journal.jsonl"
        with journal.open("ab") as fh:
            fh.write(b'{"seq":3,"ti')
        j2, _ = Journal.open(journal)
        j2.close()
        torn = next((root / "INC-T").glob("journal.jsonl.torn-*"))
        assert stat.S_IMODE(torn.stat().st_mode) == 0o600
        report = tmp_path / "report.md"
        proc = subprocess.run([sys.executable, "-m", "wizard", "report", str(path.parent), "-o", str(report)],
                              capture_output=True, text=True, cwd=REPO, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert stat.S_IMODE(report.stat().st_mode) == 0o600
    finally:
        os.umask(old)


_SEALED_CACHE: dict[str, bytes] = {}


def _sealed_bytes(tmp: Path) -> tuple[bytes, bytes]:
    if not _SEALED_CACHE:
        path = _sealed(tmp, entries=5, incident="INC-P")
        _SEALED_CACHE["journal"] = path.read_bytes()
        _SEALED_CACHE["seal"] = (path.parent / SEAL_FILE).read_bytes()
    return _SEALED_CACHE["journal"], _SEALED_CACHE["seal"]


def _verdict_of(tmp: Path, journal: bytes, seal: bytes) -> bool:
    folder = tmp / "case"
    folder.mkdir(exist_ok=True)
    (folder / "journal.jsonl").write_bytes(journal)
    (folder / SEAL_FILE).write_bytes(seal)
    try:
        return verdict(read_journal(folder)).ok
    except JournalError:
        return False


@settings(max_examples=300, deadline=None)
@given(cut=st.integers(min_value=0, max_value=10**6))
def test_every_truncation_of_a_sealed_journal_is_caught(tmp_path_factory: pytest.TempPathFactory, cut: int) -> None:
    tmp = tmp_path_factory.getbasetemp() / "prop-trunc"
    tmp.mkdir(exist_ok=True)
    journal, seal = _sealed_bytes(tmp)
    cut %= len(journal)  # every length shorter than the whole
    assert not _verdict_of(tmp, journal[:cut], seal), f"a journal cut at byte {cut} verified"


@settings(max_examples=300, deadline=None)
@given(where=st.integers(min_value=0, max_value=10**6), value=st.integers(min_value=0, max_value=255))
def test_every_single_byte_edit_of_a_sealed_journal_is_caught(tmp_path_factory: pytest.TempPathFactory,
                                                              where: int, value: int) -> None:
    tmp = tmp_path_factory.getbasetemp() / "prop-edit"
    tmp.mkdir(exist_ok=True)
    journal, seal = _sealed_bytes(tmp)
    where %= len(journal)
    if journal[where] == value:
        value = (value + 1) % 256
    edited = journal[:where] + bytes([value]) + journal[where + 1:]
    assert not _verdict_of(tmp, edited, seal), f"byte {where} set to {value} verified"
