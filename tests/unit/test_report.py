"""Incident report from a real journal written with wizard.journal (Markdown and HTML)."""

from __future__ import annotations

import argparse
import datetime as dt
import html.parser
import threading
from pathlib import Path

import pytest

from tests.ui.scripted_backend import BE_STEPS, ScriptedBackend
from wizard.errors import ExitCode
from wizard.incident import IncidentSession
from wizard.journal import read_journal
from wizard.report import build_report, fmt_duration, render_html, render_markdown, report_command
from wizard.secrets import REGISTRY

PLAN = Path(__file__).resolve().parents[2] / "plans" / "lab.yaml"


def _incident(tmp_path: Path, note: str | None = None) -> Path:
    s = IncidentSession.start(PLAN, operator="alice", incident="INC-R", mode="drill", journal_dir=tmp_path,
                              backend=ScriptedBackend(fail_first={"be-stop-services"}))
    s.change_stage("assessment")
    rec = s.recommend([], {})
    s.choose_path(rec, "be-restore")
    s.change_stage("backup_set")
    choice = s.backup_sets()
    now = dt.datetime.now(dt.UTC)
    s.choose_backup_set(choice, "2026-11-23_0200", reason="set of the 24th failed a test restore last week", now=now)
    s.change_stage("restore")
    s.skip_step(BE_STEPS[0], "databases recreated via Topology Builder")
    list(s.run_step(BE_STEPS[1], threading.Event()))
    list(s.run_step(BE_STEPS[1], threading.Event()))
    s.interrupt("be-import-user-data", "operator quit mid-step")
    s.detach()
    r = IncidentSession.resume(tmp_path / "INC-R", operator="bob", backend=ScriptedBackend())
    r.done_by_hand(BE_STEPS[2], "imported on fe01 by hand")
    r.change_stage("verify")
    r.change_stage("summary")
    if note is not None:
        r.note(note)
    r.close("restored")
    return tmp_path / "INC-R"


def test_markdown_report_names_objectives_overrides_and_interruptions(tmp_path: Path) -> None:
    folder = _incident(tmp_path)
    md = render_markdown(build_report(read_journal(folder)))
    assert md.startswith("# Incident INC-R: Fabrikam Lab")
    assert "Mode: **DRILL**" in md
    assert "Operators: alice, bob" in md
    assert "against the RTO of 4h00m (within the RTO)" in md
    # the 23rd's set is older than the 24h RPO by construction
    assert "Data-loss window" in md and "RPO MISSED" in md
    assert "backup_set: **2026-11-23_0200** over the recommended 2026-11-24_0200" in md
    assert "skip_step: **be-install-databases**" in md
    assert "done_by_hand: **be-import-user-data**" in md
    assert "1 interruption(s) and 1 resume(s)" in md
    assert "interrupted during be-import-user-data: operator quit mid-step" in md
    assert "| be-stop-services | done | 2 |" in md
    assert "Journal sealed, intact." in md and "Chain unkeyed (SHA-256)" in md
    final = read_journal(tmp_path / "INC-R").last_hash
    assert f"Final hash {final}" in md


def test_html_report_is_well_formed_and_escaped(tmp_path: Path) -> None:
    folder = _incident(tmp_path, note="<script>alert(1)</script> & co")
    page = render_html(build_report(read_journal(folder)))
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page
    assert 'class="missed"' in page  # RPO missed is highlighted

    class Checker(html.parser.HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []

        def handle_starttag(self, tag: str, attrs: object) -> None:
            if tag not in ("meta", "br"):
                self.stack.append(tag)

        def handle_endtag(self, tag: str) -> None:
            assert self.stack.pop() == tag

    c = Checker()
    c.feed(page)
    assert c.stack == []


def test_report_of_an_unrestored_incident_and_a_torn_tail(tmp_path: Path) -> None:
    s = IncidentSession.start(PLAN, operator="carol", incident="INC-T", mode="drill", journal_dir=tmp_path,
                              backend=ScriptedBackend())
    s.change_stage("restore")
    s.detach()
    with (tmp_path / "INC-T" / "journal.jsonl").open("ab") as fh:
        fh.write(b'{"seq": 4, "ti')
    md = render_markdown(build_report(read_journal(tmp_path / "INC-T")))
    assert "Service not yet restored after" in md
    assert "The journal ends in a torn tail" in md
    assert "No backup set was chosen" in md


def test_report_never_shows_a_registered_secret(tmp_path: Path) -> None:
    secret = "Sup3r-Secret-Pw!"
    REGISTRY.register(secret)
    s = IncidentSession.start(PLAN, operator="alice", incident="INC-S", mode="drill", journal_dir=tmp_path,
                              backend=ScriptedBackend())
    s.note(f"typed {secret} into the prompt by mistake")
    s.close("abandoned")
    for text in (render_markdown(build_report(read_journal(tmp_path / "INC-S"))),
                 render_html(build_report(read_journal(tmp_path / "INC-S")))):
        assert secret not in text
        assert "typed" in text


def test_report_command_writes_md_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _incident(tmp_path)
    out = tmp_path / "r.html"
    rc = report_command(argparse.Namespace(journal=str(folder / "journal.jsonl"), format="html", output=str(out)))
    assert rc == ExitCode.OK
    assert out.read_text().startswith("<!DOCTYPE html>")
    rc = report_command(argparse.Namespace(journal=str(folder), format="md", output=None))
    assert rc == ExitCode.OK
    assert "# Incident INC-R" in capsys.readouterr().out


@pytest.mark.parametrize(("seconds", "text"), [(9, "9s"), (64, "1m04s"), (3900, "1h05m"), (90000, "1d01h")])
def test_fmt_duration(seconds: float, text: str) -> None:
    assert fmt_duration(seconds) == text


def test_data_loss_window_follows_the_clock_the_set_was_judged_by(tmp_path: Path) -> None:
    """A drill's sets live at the lab's time: the window is the set's age when chosen (evidence
    age_s), back-dated to the opening, not the wall clock minus the set's name."""
    from wizard.incident import BackupChoice, BackupSetView

    s = IncidentSession.start(PLAN, operator="alice", incident="INC-LAB", mode="drill", journal_dir=tmp_path,
                              backend=ScriptedBackend())
    s.change_stage("assessment")
    s.choose_path(s.recommend([], {}), "be-restore")
    s.change_stage("backup_set")
    view = BackupSetView("2026-11-24_0200", "2026-11-24T02:00:00Z", True, integrity="ok")
    s.choose_backup_set(BackupChoice((view,), view.name, "", as_of="2026-11-24T11:18:00Z"), view.name)
    s.close("abandoned")
    report = build_report(read_journal(tmp_path / "INC-LAB"))
    assert report.data_loss_s is not None and 33_470 <= report.data_loss_s <= 33_480  # 9 h 18 min
    assert "(within the RPO)" in render_markdown(report)


def test_objectives_come_from_the_journal_when_the_plan_is_gone(tmp_path: Path) -> None:
    """A drill's plan copy is deleted with the lab; the report still knows the RTO and RPO."""
    import shutil

    plan = tmp_path / "copy.yaml"
    shutil.copy(PLAN, plan)
    s = IncidentSession.start(plan, operator="alice", incident="INC-GONE", mode="drill",
                              journal_dir=tmp_path / "j", backend=ScriptedBackend())
    s.close("abandoned")
    plan.unlink()
    md = render_markdown(build_report(read_journal(tmp_path / "j" / "INC-GONE")))
    assert "RTO of 4h00m" in md and "plan not readable" not in md, md


def test_markdown_report_escapes_what_came_from_people_and_servers(tmp_path: Path) -> None:
    """#17 finding 7: an operator named <script>, a note and a decision reason reached report.md
    verbatim (the HTML report escaped them)."""
    s = IncidentSession.start(PLAN, operator="<script>alert(1)</script>", incident="INC-X", mode="drill",
                              journal_dir=tmp_path, backend=ScriptedBackend())
    s.change_stage("assessment")
    rec = s.recommend([], {})
    s.choose_path(rec, rec.alternatives[0].path_id, reason="<img src=x onerror=alert(2)> [click](javascript:x) `rm`")
    s.note("<b>bold</b> | pipe\nsecond line")
    s.close("restored")
    md = render_markdown(build_report(read_journal(tmp_path / "INC-X")))
    assert "<script>" not in md and "<img" not in md and "<b>" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert "&lt;img src=x onerror=alert(2)&gt; \\[click\\](javascript:x) \\`rm\\`" in md
    assert "&lt;b&gt;bold&lt;/b&gt; \\| pipe second line" in md  # one table cell, one line


def test_the_report_lists_the_section_7_results_as_last_shown(tmp_path: Path) -> None:
    """#16 item 12: the report had no verification results. A person's check confirmed by hand is
    ok in words that say so; a failed check stays FAIL with its detail."""
    from tests.ui.test_pilot import PersonCheckBackend

    s = IncidentSession.start(PLAN, operator="alice", incident="INC-V", mode="drill", journal_dir=tmp_path,
                              backend=PersonCheckBackend(failing_checks={"databases"}))
    s.change_stage("assessment")
    s.choose_path(s.recommend([], {}), "be-restore")
    s.change_stage("verify")
    first = list(s.verify())
    person = next(c for c in first if c.status == "unknown")
    s.confirm_check(person)
    second = list(s.verify())
    s.close("verification failed")
    md = render_markdown(build_report(read_journal(tmp_path / "INC-V")))
    section = md.split("## Verification (§7)", 1)[1].split("## Timeline", 1)[0]
    assert "| Control Panel and an end-user sign-in | OK | alice confirmed by hand" in section
    assert "| Databases | FAIL | Stopped: RTCSRV |" in section
    assert section.count("\n| ") == 1 + len(second)  # the header, then each check once (its last result)
    assert "Verification (§7)" in render_html(build_report(read_journal(tmp_path / "INC-V")))


def test_steps_the_wizard_closed_by_itself_are_listed_with_their_evidence(tmp_path: Path) -> None:
    """#16 item 12: the report did not list the steps the wizard skipped by itself."""
    from wizard.incident import PreCheckView

    s = IncidentSession.start(PLAN, operator="alice", incident="INC-W", mode="drill", journal_dir=tmp_path,
                              backend=ScriptedBackend())
    s.change_stage("assessment")
    s.choose_path(s.recommend([], {}), "be-restore")
    s.change_stage("restore")
    s.not_needed(BE_STEPS[0], PreCheckView(BE_STEPS[0].step_id, None, "", not_needed="sql01 answers"))
    s.found_done(BE_STEPS[1], PreCheckView(BE_STEPS[1].step_id, True, "every service Stopped"), "skip",
                 by_wizard=True)
    s.skip_step(BE_STEPS[2], "the operator's own reason")
    s.close("abandoned")
    md = render_markdown(build_report(read_journal(tmp_path / "INC-W")))
    closed = md.split("Steps the wizard closed without running them", 1)[1].split("##", 1)[0]
    assert f"- {BE_STEPS[0].step_id}: skipped: not needed: sql01 answers" in closed
    assert f"- {BE_STEPS[1].step_id}: already done: work already done: every service Stopped" in closed
    assert BE_STEPS[2].step_id not in closed  # the operator's skip is a decision, listed above
    assert f"| {BE_STEPS[1].step_id} | already_done | 1 |" in md
