"""Journal: hash chain, fsync'd appends, torn tails, replay, redaction, verify."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from wizard.driver import TakeOverNeeded
from wizard.errors import JournalError
from wizard.incident_state import replay
from wizard.journal import GENESIS, Journal, Kind, read_journal
from wizard.secrets import SecretRegistry

CANARY = "Canary-Pa55word-7f3e!"


def _new(tmp_path: Path, secrets: SecretRegistry | None = None) -> Journal:
    return Journal.create(tmp_path, incident="INC-1", operator="alice", drill=True,
                          payload={"plan": "plans/lab.yaml", "organisation": "Fabrikam Lab"},
                          secrets=secrets or SecretRegistry())


def test_entries_carry_every_field_and_chain(tmp_path: Path) -> None:
    with _new(tmp_path) as j:
        j.append(Kind.DECISION, {"question": "recovery_path", "choice": "cms-failover"})
        j.append(Kind.NOTE, {"text": "called the DBA"})
    result = read_journal(tmp_path / "INC-1")
    assert [e.seq for e in result.entries] == [1, 2, 3]
    assert result.entries[0].prev == GENESIS
    assert result.entries[1].prev == result.entries[0].line_hash
    assert result.intact and result.torn is None
    first = json.loads((tmp_path / "INC-1" / "journal.jsonl").read_text().splitlines()[0])
    assert list(first) == ["seq", "time", "operator", "incident", "drill", "kind", "payload", "prev"]
    assert first["time"].endswith("Z") and first["operator"] == "alice" and first["drill"] is True


def test_tampering_names_the_entry_that_was_changed(tmp_path: Path) -> None:
    """#17 item 5: the message names the edited entry (it used to name the one after it)."""
    with _new(tmp_path) as j:
        for i in range(5):
            j.append(Kind.NOTE, {"i": i})
    path = tmp_path / "INC-1" / "journal.jsonl"
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace('"i":2', '"i":9')
    path.write_text("\n".join(lines) + "\n")
    result = read_journal(path)
    assert result.broken is not None and result.broken.seq == 4 and result.broken.more == 0  # line 4 is entry 4
    assert "entry 4 (line 4) was changed" in result.broken.describe()
    with pytest.raises(JournalError, match=r"entry 4 \(line 4\) was changed"):
        Journal.open(path)


def test_canary_secret_never_reaches_the_file(tmp_path: Path) -> None:
    secrets = SecretRegistry()
    with _new(tmp_path, secrets) as j:
        j.register_secret(CANARY)
        j.append(Kind.ACTION_STARTED, {"step": "s", "command": f"sqlcmd -P {CANARY}",
                                       CANARY: [f"x{CANARY}y", {"nested": CANARY}],
                                       "json": json.dumps({"pwd": CANARY})})
        j.append(Kind.ERROR, {"message": f"login failed for '{CANARY.replace(chr(39), chr(39) * 2)}'"})
    raw = (tmp_path / "INC-1" / "journal.jsonl").read_bytes()
    assert CANARY.encode() not in raw
    assert b"********" in raw
    assert read_journal(tmp_path / "INC-1").intact


def test_torn_tail_is_reported_then_set_aside_on_reopen(tmp_path: Path) -> None:
    with _new(tmp_path) as j:
        j.append(Kind.NOTE, {"text": "one"})
    path = tmp_path / "INC-1" / "journal.jsonl"
    with path.open("ab") as fh:
        fh.write(b'{"seq":3,"time":"2026-11-25T03:00:00Z","oper')
    result = read_journal(path)
    assert result.torn is not None and result.torn.after_seq == 2 and result.torn.length == 44
    assert result.intact and len(result.entries) == 2
    j2, seen = Journal.open(path, operator="bob")
    j2.append(Kind.NOTE, {"text": "after"})
    j2.close()
    again = read_journal(path)
    assert again.intact and again.torn is None
    assert [e.kind for e in again.entries][-2:] == [Kind.TORN_TAIL, Kind.NOTE]
    sidecar = path.with_name(f"journal.jsonl.torn-{seen.torn.offset}")  # type: ignore[union-attr]
    assert sidecar.read_bytes().startswith(b'{"seq":3')
    assert replay(again.entries).torn_tails == 1


def test_replay_rebuilds_state_and_steps_in_doubt(tmp_path: Path) -> None:
    with _new(tmp_path) as j:
        j.append(Kind.STAGE, {"from": "start", "to": "assessment"})
        j.append(Kind.DECISION, {"question": "recovery_path", "choice": "cms-restore", "reason": "unpaired"})
        j.append(Kind.STAGE, {"from": "assessment", "to": "restore"})
        j.append(Kind.ACTION_STARTED, {"step": "6.2-install-cms", "host": "fe01"})
        j.append(Kind.ACTION_FINISHED, {"step": "6.2-install-cms", "status": "done", "exit_code": 0})
        j.append(Kind.ACTION_STARTED, {"step": "6.2-import-config", "host": "fe01"})
    st = replay(read_journal(tmp_path / "INC-1").entries)
    assert (st.stage, st.recovery_path, st.organisation) == ("restore", "cms-restore", "Fabrikam Lab")
    assert st.steps["6.2-install-cms"].status == "done"
    assert st.in_doubt == ["6.2-import-config"]


def test_full_disk_is_one_sentence(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.fail("/dev/full is needed for this test")
    j = _new(tmp_path)
    os.close(j._fd)  # type: ignore[arg-type]
    j._fd = os.open("/dev/full", os.O_WRONLY)
    with pytest.raises(JournalError, match="the disk is full"):
        j.append(Kind.NOTE, {"text": "x"})
    j.close()


def test_verify_command_output(tmp_path: Path) -> None:
    with _new(tmp_path) as j:
        j.append(Kind.NOTE, {"text": "x"})
    proc = subprocess.run([sys.executable, "-m", "wizard", "journal", "verify", str(tmp_path / "INC-1")],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "2 entries" in proc.stdout and "open, intact (2 entries)" in proc.stdout and "first:" in proc.stdout
    assert "chain: unkeyed" in proc.stdout and "final hash: " in proc.stdout
    path = tmp_path / "INC-1" / "journal.jsonl"
    path.write_text(path.read_text().replace('"text":"x"', '"text":"y"').replace('"seq":1', '"seq":7'))
    proc = subprocess.run([sys.executable, "-m", "wizard", "journal", "verify", str(path)],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 4 and "TAMPERED: entry 1 (line 1) is missing" in proc.stdout


@pytest.mark.slow
def test_sigkill_at_random_moments_never_loses_the_chain(tmp_path: Path) -> None:
    rng = random.Random(20261125)
    torn_seen = 0
    for run in range(24):
        env = dict(os.environ, PYTHONPATH=str(REPO), SPLIT_WRITES="1" if run % 2 else "0")
        proc = subprocess.Popen([sys.executable, "-m", "tests.helpers.journal_writer", str(tmp_path),
                                 f"INC-{run}", CANARY], cwd=REPO, env=env, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.01, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        folder = tmp_path / f"INC-{run}"
        result = read_journal(folder)
        assert result.intact, (run, result.broken)
        assert len(result.entries) >= 1
        assert CANARY.encode() not in (folder / "journal.jsonl").read_bytes()
        if result.torn is not None:
            torn_seen += 1
            assert result.torn.after_seq == result.entries[-1].seq
        with pytest.raises(TakeOverNeeded):  # the writer died holding the incident (#18 item 3)
            Journal.open(folder)
        j, _ = Journal.open(folder, take_over=True)
        j.append(Kind.RESUMED, {"after": result.entries[-1].seq})
        j.close()
        after = read_journal(folder)
        assert after.intact and after.torn is None
        assert after.entries[-1].kind == Kind.RESUMED
    assert torn_seen >= 1, "with split writes at least one kill should land inside an entry"


def test_threads_appending_while_another_closes_never_corrupt_the_chain(tmp_path: Path) -> None:
    import threading

    j = _new(tmp_path)
    errors: list[Exception] = []

    def writer(n: int) -> None:
        for i in range(200):
            try:
                j.append(Kind.OUTPUT, {"writer": n, "i": i})
            except JournalError as exc:  # closed under us: a clear error, never a torn line
                errors.append(exc)
                return

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    j.close()
    for t in threads:
        t.join()
    result = read_journal(tmp_path / "INC-1")
    assert result.intact and result.torn is None
    assert all("the journal is closed" in str(e) for e in errors)
    assert [e.seq for e in result.entries] == list(range(1, len(result.entries) + 1))
