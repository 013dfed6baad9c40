"""#19 item 2: scenarios as YAML files. The built-in ones, rewritten as files, break and judge
the lab exactly as the Python definitions they replaced did (their fingerprints, taken before
the rewrite); ``scenarios validate`` reports every error of broken files as FILE:LINE:COL, exit
2, no traceback; ``scenarios`` lists the instructor scenarios it finds."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from lab.scenarios import CALM, DEFAULT_WEIGHTS, SCENARIOS, ScenarioError, load_scenario_file, scenario
from lab.scenarios.fileformat import schema_document
from tests.conftest import DATA, REPO
from tests.helpers.scenario_fingerprint import fingerprint

FILES = DATA / "scenarios"
BROKEN = FILES / "broken"
INSTRUCTOR = FILES / "instructor"


def test_every_builtin_breaks_and_judges_the_lab_as_its_python_definition_did(tmp_path: Path) -> None:
    before = json.loads((FILES / "builtin-fingerprints.json").read_text(encoding="utf-8"))
    now = [*SCENARIOS, CALM]
    assert sorted(s.name for s in now) == sorted(before)
    assert len(SCENARIOS) == 22 and not CALM.drill
    for i, s in enumerate(now):
        got = json.loads(json.dumps(fingerprint(s, tmp_path / str(i))))
        assert got == before[s.name], s.name
        assert s.weights == DEFAULT_WEIGHTS and s.source is None


def test_an_instructor_file_reads_with_its_timed_fault_and_weights() -> None:
    s = load_scenario_file(INSTRUCTOR / "monitoring-db-lost-read-fails.yaml")
    assert s.faults.sql_restore_fails[0].at_percent == 60 and s.faults.sql_restore_fails[0].database == "LcsCDR"
    assert s.weights["path"] == 40 and s.weights["hints"] == 0 and s.weights["set"] == DEFAULT_WEIGHTS["set"]
    assert s.expected_plan == (("monitoring-archiving-restore", "pool1.fabrikam.lab"),)
    assert s.expected_set == ("dr-vault", 0)
    drop = load_scenario_file(INSTRUCTOR / "cms-lost-paired-link-drops.yaml").faults.connection_drops
    assert [(d.host, d.cmdlet) for d in drop] == [("fe11.fabrikam.lab", "Invoke-CsManagementServerFailover")]


def test_instructor_scenarios_are_found_by_name_in_the_environments_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(KeyError):
        scenario("monitoring-db-lost-read-fails")
    monkeypatch.setenv("LYNC_RESTORE_SCENARIOS", str(INSTRUCTOR))
    assert scenario("monitoring-db-lost-read-fails").source == INSTRUCTOR / "monitoring-db-lost-read-fails.yaml"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wizard", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, **(env or {})}, timeout=60)


def test_validate_reports_every_error_of_every_file_at_once() -> None:
    files = [BROKEN / "unknown-names.yaml", BROKEN / "types.yaml", BROKEN / "tab.yaml"]
    run = _cli("scenarios", "validate", *map(str, files))
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    lines = run.stderr.splitlines()
    names = f"{BROKEN / 'unknown-names.yaml'}"
    wanted = [
        f"{names}:6:5: scenario.broken[0]: unknown key 'lsoe' (did you mean 'lose'?)",
        f"{names}:7:21: scenario.broken[1].lose.servers: fe99.fabrikam.lab is not a server of the plan lab.yaml",
        f"{names}:10:21: scenario.restored_when[0].pool_ok.pool: pool pool9.fabrikam.lab is not in the plan lab.yaml",
        f"{names}:11:5: scenario.restored_when[1]: unknown key 'server_bak' (did you mean 'server_back'?)",
        f"{names}:19:19: scenario.expected.set.location: 'moon-vault' is not a backup location of the plan "
        "(hq-vault, dr-vault)",
        f"{BROKEN / 'types.yaml'}:12:54: scenario.faults.timed[0].sql_restore_fails.at_percent: 150 is out of "
        "range (1..99)",
        f"{BROKEN / 'tab.yaml'}:4:1: YAML syntax: a tab character: YAML indentation must use spaces",
    ]
    for line in wanted:
        assert line in lines, (line, run.stderr)
    for needle in ("'monitoring-restore' is not a recovery path", "'LcsCRD' is not a Lync database",
                   "'nosuch' is not a SQL instance", "'Invoke-CsMagicFailover' is not a Lync cmdlet",
                   "unknown weight 'style'", "'six' is not a section", "missing required key 'summary'",
                   "scenario.outage_class: expected one of A, B"):
        assert needle in run.stderr, needle
    assert all(line.startswith(str(BROKEN)) for line in lines[:-1])
    assert lines[-1] == f"lync-restore: {len(lines) - 1} errors in 3 scenario files"


def test_validate_says_one_line_per_valid_file() -> None:
    run = _cli("scenarios", "validate", str(INSTRUCTOR / "monitoring-db-lost-read-fails.yaml"))
    assert run.returncode == 0 and run.stderr == ""
    assert run.stdout.splitlines() == [
        f"{INSTRUCTOR / 'monitoring-db-lost-read-fails.yaml'}: valid: scenario monitoring-db-lost-read-fails "
        "(class G, §6.10), 1 fault kind(s), 1 timed; expects monitoring-archiving-restore(pool1.fabrikam.lab)"]


def test_validate_refuses_a_file_that_is_not_there(tmp_path: Path) -> None:
    run = _cli("scenarios", "validate", str(tmp_path / "nope.yaml"))
    assert run.returncode == 2 and f"{tmp_path / 'nope.yaml'}:1:1: no such file" in run.stderr
    assert "Traceback" not in run.stderr


def test_the_list_shows_builtin_and_instructor_scenarios(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text((INSTRUCTOR / "monitoring-db-lost-read-fails.yaml").read_text())
    (tmp_path / "broken.yaml").write_text("name: half\n")
    run = _cli("scenarios", "--dir", str(tmp_path), env={"LYNC_RESTORE_SCENARIOS": str(INSTRUCTOR)})
    assert run.returncode == 0, run.stderr
    out = run.stdout.splitlines()
    assert out[0].startswith("fe-lost ") and len([o for o in out if o.startswith("calm ")]) == 0
    mine = [i for i, o in enumerate(out) if o.startswith("monitoring-db-lost-read-fails ")]
    assert len(mine) == 1 and out[mine[0] + 1].strip() == f"from {tmp_path / 'mine.yaml'}"  # --dir comes first
    assert any(o.startswith("cms-lost-paired-link-drops ") for o in out)
    assert f"{tmp_path / 'broken.yaml'}:1:1: scenario: missing required key 'summary'" in run.stderr


def test_an_instructor_scenario_may_not_take_a_builtin_name(tmp_path: Path) -> None:
    text = (INSTRUCTOR / "monitoring-db-lost-read-fails.yaml").read_text().replace(
        "name: monitoring-db-lost-read-fails", "name: fe-lost")
    (tmp_path / "fe.yaml").write_text(text)
    from lab.scenarios import instructor_file

    with pytest.raises(ScenarioError) as err:
        instructor_file(tmp_path / "fe.yaml")
    assert err.value.errors == [f"{tmp_path / 'fe.yaml'}:1:1: scenario.name: 'fe-lost' is a built-in scenario; "
                                "give yours another name"]


def test_the_shipped_json_schema_is_current() -> None:
    shipped = json.loads((REPO / "docs" / "scenario-schema.json").read_text(encoding="utf-8"))
    assert shipped == schema_document(), "regenerate docs/scenario-schema.json (docs/scenarios.md says how)"
    assert "lose" in shipped["$defs"]["Broken"]["properties"]


def test_a_left_instructor_drill_is_resumed_by_its_file_from_any_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The note printed on leaving a drill of ``--scenario-file`` names that file, absolute: the
    scenario's name alone is found only where the file sits in a scenario folder
    (docs/scenarios.md), so a trainee pasting the note into another shell would be refused."""
    from lab.entry import kept_note
    from lab.scenarios import use_scenario_file
    from wizard.cli import build_parser

    here = tmp_path / "class"
    here.mkdir()
    (here / "drill.yaml").write_bytes((INSTRUCTOR / "monitoring-db-lost-read-fails.yaml").read_bytes())
    monkeypatch.chdir(here)
    note = kept_note("INC-20261207-1700", "monitoring-db-lost-read-fails", "j dir",
                     scenario_file="drill.yaml")
    resume = next(line for line in note.splitlines() if "resume" in line).split(": ", 1)[1]
    stop = next(line for line in note.splitlines() if "stop it" in line).split(": ", 1)[1]
    words = shlex.split(resume)
    assert words[:2] == ["lync-restore", "drill"] and "--scenario" not in words
    args = build_parser().parse_args(words[1:])
    assert args.scenario_file == str(here / "drill.yaml") and args.drill_journal_dir == "j dir"
    assert "--stop" in shlex.split(stop) and build_parser().parse_args(shlex.split(stop)[1:]).stop
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LYNC_RESTORE_SCENARIOS", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert use_scenario_file(args.scenario_file) == "monitoring-db-lost-read-fails"
    # a built-in keeps its name
    builtin = kept_note("INC-1", "be-lost-unpaired", None)
    assert "lync-restore drill --scenario be-lost-unpaired\n" in builtin
