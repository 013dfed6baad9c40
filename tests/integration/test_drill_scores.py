"""Drills that teach (#19 items 1, 3, 4): headless drills played from answers files that depart
from what the scenario expects get exactly the expected deductions, each with its reason and the
section to read; the score is journaled (the hash chain covers it) and written as score.md;
``drill history`` reads the scores back per outage class; ``drill --random`` keeps the scenario's
name hidden until the score. Full marks for every scenario played as expected:
test_drill_headless.py."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lab.drill import run_headless
from tests.conftest import REPO
from wizard.journal import Kind, read_journal, verdict

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

CONFIRMING = {"second_operator": "drill-partner", "confirm_all": True}


def _drill(tmp: Path, name: str, journals: Path, operator: str = "alice", **answers: Any) -> dict[str, Any]:
    file = tmp / f"answers-{name}-{len(list(tmp.glob('answers-*')))}.yaml"
    file.write_text(json.dumps({"operator": operator, **CONFIRMING, **answers}), encoding="utf-8")
    out = io.StringIO()
    result = run_headless(name, answers_file=str(file), journal_dir=journals, time_factor=600, operator=operator,
                          out=out)
    journal = read_journal(result.folder)
    assert journal.intact and verdict(journal).text == "sealed, intact", out.getvalue()[-2000:]
    score = next(e for e in journal.entries if e.kind == Kind.SCORE).payload
    folder = result.folder if result.folder.is_dir() else result.folder.parent
    md = (folder / "score.md").read_text(encoding="utf-8")
    assert f"**{score['total']} of {score['of']}**" in md
    for d in score["deductions"]:  # score.md names each deduction and the section to read
        assert f"**-{d['points']} {d['component']}**" in md and (not d["section"] or f"Read §{d['section']}" in md)
    assert f"Score: {score['total']}/{score['of']}" in out.getvalue()
    return score


def _lost(score: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in score["deductions"]:
        out[d["component"]] = out.get(d["component"], 0) + d["points"]
    return out


def test_an_older_set_than_needed_costs_the_set_and_the_data_lost(tmp_path: Path) -> None:
    score = _drill(tmp_path, "be-lost-unpaired", tmp_path / "j", backup_set="hq-vault/2026-11-23_0200",
                   reason="the trainee distrusts the newest set")
    assert _lost(score) == {"set": 15, "rpo": 10}, score["deductions"]
    by = {d["component"]: d for d in score["deductions"]}
    assert by["set"]["reason"] == ("restored from hq-vault/2026-11-23_0200, an older set than needed (more data lost); "
                                   "the set to use was hq-vault/2026-11-24_0200") and by["set"]["section"] == "3"
    rpo = by["rpo"]["reason"]
    assert rpo.startswith("the restored data was 31.") and "over the RPO of 24.0 h" in rpo
    assert score["total"] == 75


def test_a_skipped_step_costs_the_order_and_names_its_section(tmp_path: Path) -> None:
    score = _drill(tmp_path, "be-lost-unpaired", tmp_path / "j", skip=["custom-tell-service-desk"])
    assert score["deductions"] == [{"component": "order", "points": 5, "section": "plan",
                                    "reason": "custom-tell-service-desk was skipped; the procedure needs it"}]
    assert score["total"] == 95


def test_a_wrong_path_costs_the_path_and_what_it_left_broken(tmp_path: Path) -> None:
    score = _drill(tmp_path, "pool-lost-paired", tmp_path / "j", path="pool-restore",
                   reason="restore the pool rather than fail it over")
    assert _lost(score) == {"path": 20, "restored": 10}, score["deductions"]
    by = {d["component"]: d for d in score["deductions"]}
    assert by["path"]["reason"] == ("the plan of action was pool-restore(pool2.fabrikam.lab); the scenario needed "
                                    "pool-failover(pool2.fabrikam.lab)") and by["path"]["section"] == "6.15, 6.16"
    assert "Response Groups of pool2.fabrikam.lab" in by["restored"]["reason"]  # the lab's own check said so


def test_hints_point_to_the_section_and_cost_points_then_history_and_random(tmp_path: Path) -> None:
    journals = tmp_path / "j"
    hinted = _drill(tmp_path, "be-lost-unpaired", journals, operator="trainee",
                    hints=["assessment", "userdata-import-pool3.fabrikam.lab"])
    assert [(d["component"], d["points"], d["section"]) for d in hinted["deductions"]] == [
        ("hints", 5, "5.3"), ("hints", 5, "6.13")]
    _drill(tmp_path, "be-lost-unpaired", journals, operator="trainee")
    _drill(tmp_path, "file-store-lost", journals, operator="trainee")
    _drill(tmp_path, "file-store-lost", journals, operator="someone-else")
    history = subprocess.run([sys.executable, "-m", "wizard", "drill", "history", "trainee", "--journal-dir",
                              str(journals)], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert history.returncode == 0 and "Traceback" not in history.stderr, history.stderr
    lines = history.stdout.splitlines()
    assert lines[0] == "Drill history of trainee: 3 scored drills"
    b = next(ln for ln in lines if ln.startswith("B "))
    assert b.split()[1:4] == ["2", "100%", "100%"] and "+10 since the first" in b and "█" in b
    d = next(ln for ln in lines if ln.startswith("D "))
    assert d.split()[1:4] == ["1", "100%", "100%"] and "first drill" in d
    assert sum(1 for ln in lines if "file-store-lost" in ln) == 1  # someone else's drill is not theirs
    # a tampered score is left out, with why
    folder = next(p.parent for p in journals.glob("*/journal.jsonl") if "file-store-lost" in p.parent.name
                  and read_journal(p.parent).entries[0].operator == "trainee")
    lines_in = (folder / "journal.jsonl").read_text(encoding="utf-8").splitlines()
    scored = next(i for i, ln in enumerate(lines_in) if '"kind":"drill_score"' in ln)
    assert '"total":100,' in lines_in[scored]
    lines_in[scored] = lines_in[scored].replace('"total":100,', '"total":99,', 1)
    (folder / "journal.jsonl").write_text("\n".join(lines_in) + "\n", encoding="utf-8")
    again = subprocess.run([sys.executable, "-m", "wizard", "drill", "history", "trainee", "--journal-dir",
                            str(journals)], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert "Drill history of trainee: 2 scored drills" in again.stdout
    assert f"left out: {folder.name}: its hash chain is broken" in again.stdout
    # --random: the scenario stays hidden until the score; the least practised classes first
    rnd = subprocess.run([sys.executable, "-m", "wizard", "drill", "--random", "--seed", "3", "--headless",
                          "--operator", "trainee", "--time-factor", "600", "--journal-dir", str(journals)],
                         capture_output=True, text=True, cwd=REPO, timeout=150)
    out = rnd.stdout
    assert out.startswith("drill a random scenario (revealed with the score)"), out[:300]
    revealed = next(ln for ln in out.splitlines() if ln.startswith("the scenario was "))
    name = revealed.split()[3].rstrip(":")
    assert out.index("Score: ") < out.index(revealed)
    assert name not in out[:out.index("Score: ")].replace("-" + name, ""), "the name shows before the score"
