"""The benchmark command prints its table (figures, not pass/fail on speed)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from lab.bench import table, ui
from lab.bench.table import Row, generated_plan
from tests.conftest import REPO
from wizard.errors import WizardError


def test_generated_plan_is_valid_and_has_500_servers(tmp_path: object) -> None:
    from pathlib import Path

    from wizard.plan import load_plan

    path = Path(str(tmp_path)) / "p.yaml"
    path.write_text(generated_plan(500))
    plan = load_plan(path).plan
    assert len(plan.all_servers()) == 500
    assert all(p.paired_with for p in plan.topology.pools)


@pytest.mark.slow
def test_bench_quick_prints_a_table() -> None:
    proc = subprocess.run([sys.executable, "-m", "wizard", "bench", "--quick"], capture_output=True,
                          text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:3] == ["benchmark", "value", "unit"]
    names = "\n".join(lines)
    for expected in ("plan load + validation, 500 servers", "journal append, fsync per entry",
                     "journal verify + replay, 10,000 entries", "UI: first frame from outside (pty 80x24), wizard"):
        assert expected in names
    assert any(line.startswith("First frame from outside (pty 80x24") and "ratio" in line for line in lines)


def test_the_first_frame_is_measured_from_outside_against_a_bare_textual_app() -> None:
    """`lync-restore run` and a Textual hello world in a pseudo-terminal: three figures, the last
    the ratio with its goal, and a closing note. Figures only: never a timing asserted."""
    rows = list(ui.outside_rows(1))
    assert [r.name for r in rows] == ["UI: first frame from outside (pty 80x24), bare Textual",
                                      "UI: first frame from outside (pty 80x24), `lync-restore run`",
                                      "UI: first frame from outside (pty 80x24), wizard / Textual"]
    assert [r.unit for r in rows] == ["ms", "ms", "ratio"]
    assert all(isinstance(r.value, float) and r.value > 0 for r in rows)
    assert rows[2].goal == "<= 1.25"
    assert rows[2].note.startswith("First frame from outside (pty 80x24, 1 alternating runs each")
    assert "(goal <= 1.25)" in rows[2].note
    assert all(len(r.name) <= 64 for r in rows)  # the table's first column


def test_a_child_that_never_draws_is_one_plain_sentence(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    sleeper = [sys.executable, "-c", f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
               "print('starting', flush=True); time.sleep(60)"]
    with pytest.raises(WizardError) as err:
        ui.time_to_markers(sleeper, [b"never drawn"], what="The test child", timeout=1.0)
    assert str(err.value) == "The test child did not draw its first frame within 1 seconds"
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left behind
        os.kill(int(pid_file.read_text()), 0)

    quitter = [sys.executable, "-c", "import sys; print('bye'); sys.exit(3)"]
    with pytest.raises(WizardError) as err:
        ui.time_to_markers(quitter, [b"never drawn"], what="The test child", timeout=10.0)
    assert str(err.value) == "The test child exited with code 3 before drawing its first frame"


def test_the_markers_are_found_and_the_terminal_is_80x24() -> None:
    """The child sees a terminal of 80x24 on all three streams; the clock stops at the markers."""
    child = [sys.executable, "-c", "import os, sys; s = os.get_terminal_size(2); "
             "print(sys.stdin.isatty(), sys.stdout.isatty(), f'{s.columns}x{s.lines}', flush=True); "
             "import time; time.sleep(60)"]
    assert ui.time_to_markers(child, [b"True True 80x24"], what="The test child", timeout=30.0) > 0


def test_closing_notes_follow_the_table_and_only_selects_groups(monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    def fake(quick: bool) -> Iterable[Row]:
        yield Row("a figure", 1.5, "ms")
        yield Row("a ratio", 1.2, "ratio", "<= 1.25", note="The closing note.")

    def other(quick: bool) -> Iterable[Row]:
        raise AssertionError("not selected")

    monkeypatch.setattr(table, "all_benchmarks", lambda: [("fake", fake), ("other", other)])
    assert table.bench_command(argparse.Namespace(quick=True, only=["fake"])) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2:] == ["", "The closing note."]
    assert lines[2].startswith("a figure") and lines[3].startswith("a ratio")
    with pytest.raises(WizardError, match="no benchmark group named nope"):
        table.bench_command(argparse.Namespace(quick=True, only=["nope"]))
