"""Every broken plan in tests/data/broken_plans exits 2 with FILE:LINE:COL and no traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from tests.conftest import DATA, REPO
from wizard.errors import InputFileError, PlanError
from wizard.plan import load_plan

BROKEN = DATA / "broken_plans"
EXPECTED: dict[str, dict[str, object]] = json.loads((BROKEN / "expected.json").read_text())
LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): \S")


def test_there_are_at_least_thirty_broken_plans() -> None:
    files = {p.name for p in BROKEN.glob("*.yaml")}
    assert len(files) >= 30
    assert files == set(EXPECTED), "every broken plan needs an expectation and vice versa"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_plan_is_reported_with_its_position(name: str) -> None:
    case = EXPECTED[name]
    path = BROKEN / name
    with pytest.raises(PlanError) as info:
        load_plan(path)
    errors = info.value.errors
    assert errors, "a PlanError must carry at least one located message"
    for line in errors:
        m = LOCATED.match(line)
        assert m, f"not FILE:LINE:COL: {line!r}"
        assert m["file"] == str(path)
    text = "\n".join(errors)
    expect = str(case["expect"])
    if expect.endswith("errors"):
        assert len(errors) == int(expect.split(maxsplit=1)[0]), text
    else:
        assert expect in text, text
    if "line" in case:
        lines = [int(LOCATED.match(e)["line"]) for e in errors if expect in e]  # type: ignore[index]
        assert case["line"] in lines, text


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wizard", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=60)


def test_cli_exit_code_and_no_traceback_for_every_broken_plan() -> None:
    # One subprocess per plan would take long; check a representative spread through the CLI.
    for name in ("tab-indent.yaml", "binary.yaml", "latin1.yaml", "alias-bomb.yaml",
                 "dangling-back-end.yaml", "several-errors.yaml", "empty.yaml"):
        proc = _cli("validate", str(BROKEN / name))
        assert proc.returncode == 2, (name, proc.stderr)
        assert "Traceback" not in proc.stderr + proc.stdout
        assert LOCATED.match(proc.stderr.splitlines()[0]), proc.stderr


def test_directory_and_missing_path_are_clear_errors(tmp_path: Path) -> None:
    for target, words in ((tmp_path, "is a directory"), (tmp_path / "nope.yaml", "no such file")):
        with pytest.raises(InputFileError, match=words):
            load_plan(target)
        proc = _cli("validate", str(target))
        assert proc.returncode == 2
        assert words in proc.stderr and "Traceback" not in proc.stderr


def test_alias_bomb_is_refused_fast_and_small() -> None:
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(PlanError) as info:
        load_plan(BROKEN / "alias-bomb.yaml")
    assert "expands to more than" in info.value.errors[0]
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 20 * 1024 * 1024


def test_fifty_megabyte_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "huge.yaml"
    with big.open("wb") as fh:
        line = b"# padding padding padding padding padding padding padding padding padding\n"
        fh.write(line * (50 * 1024 * 1024 // len(line) + 1))
    assert big.stat().st_size >= 50 * 1024 * 1024
    start = time.perf_counter()
    with pytest.raises(PlanError) as info:
        load_plan(big)
    assert "MiB; a plan is at most" in info.value.errors[0]
    assert time.perf_counter() - start < 1.0
    assert info.value.errors[0].startswith(f"{big}:1:1:")


def test_a_control_character_in_a_plan_never_reaches_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    """#17 finding 6: a NUL in a UNC path passed validate and ended in a traceback in runbook."""
    from wizard.cli import main

    broken = DATA / "broken_plans" / "unc-nul.yaml"
    assert main(["validate", str(broken)]) == 2
    assert main(["runbook", str(broken), "--path", "monitoring-archiving-restore"]) == 2
    err = capsys.readouterr().err
    assert "\x00" not in err and "Traceback" not in err
    assert err.count("unc-nul.yaml:32:12: plan.backup.locations[0].unc: '") == 2 and "\\x00" in err
