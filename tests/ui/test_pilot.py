"""Pilot tests: whole incidents walked by keys alone at 80x24, asserting the journal's decisions."""

from __future__ import annotations

import threading
from pathlib import Path

from screens.assessment import AssessmentScreen
from screens.backup import BackupScreen
from screens.help import HelpScreen
from screens.journal_viewer import JournalViewer
from screens.modals import ErrorDialog, QuitDialog
from screens.restore import RestoreScreen
from screens.start import StartScreen
from screens.summary import SummaryScreen
from screens.verify import VerifyScreen
from tests.ui.conftest import AppFactory, wait_for
from tests.ui.screen_text import screen_text
from tests.ui.scripted_backend import ScriptedBackend, UnreachableBackend
from wizard.incident_state import replay
from wizard.journal import Kind, read_journal


def _decisions(folder: Path) -> list[tuple[str, str, str]]:
    st = replay(read_journal(folder).entries)
    return [(d.payload["question"], d.payload["choice"], d.payload["reason"]) for d in st.decisions]


async def _through_assessment(app, pilot, answer_keys: tuple[str, ...] = ("enter",)) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ChoiceDialog")
    await pilot.press(*answer_keys)
    await wait_for(pilot, lambda: isinstance(app.screen, AssessmentScreen) and app.screen.recommendation is not None)


async def _step_done(app, pilot, step_id: str) -> None:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: isinstance(app.screen, RestoreScreen) and app.screen.running is None
                   and app.session.state.steps.get(step_id) is not None
                   and app.session.state.steps[step_id].status != "running")


async def _to_restore(app, pilot) -> None:  # type: ignore[no-untyped-def]
    """The assessment answered, the recommended path and backup set accepted: the checklist."""
    await _through_assessment(app, pilot)
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(app.screen, BackupScreen) and app.screen.choice is not None)
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(app.screen, RestoreScreen) and app.screen.checklist is not None)


async def _resumed_by_bob(app2, pilot, listed: str) -> None:  # type: ignore[no-untyped-def]
    """Another operator's wizard lists alice's incident (``listed``) and resumes it to its checklist."""
    await wait_for(pilot, lambda: isinstance(app2.screen, StartScreen) and listed in screen_text(app2))
    await pilot.press("ctrl+r")
    await pilot.press("ctrl+r")
    await wait_for(pilot, lambda: isinstance(app2.screen, RestoreScreen) and app2.screen.checklist is not None)


async def _quit_answering_yes(app, pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("ctrl+q")
    await wait_for(pilot, lambda: isinstance(app.screen, QuitDialog))
    await pilot.press("y")
    await wait_for(pilot, lambda: not app.is_running)


async def test_be_lost_accept_everything_with_second_operator_and_retry(make_app: AppFactory,
                                                                       journal_dir: Path) -> None:
    app = make_app(ScriptedBackend("be-lost", fail_first={"be-stop-services"}))
    async with app.run_test(size=(80, 24)) as pilot:
        await _through_assessment(app, pilot)
        assert "sql01.fabrikam.lab" in screen_text(app) and "FAIL" in screen_text(app)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, BackupScreen) and app.screen.choice is not None)
        assert "*2026-11-24_0200" in screen_text(app)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, RestoreScreen) and app.screen.checklist is not None)
        # step 1: destructive, typed confirmation then a second operator
        await pilot.press("r")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ConfirmTyped")
        await pilot.press(*"be-install-databases", "enter")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "SecondOperator")
        await pilot.press(*"alice", "enter", *"be-install-databases", "enter")
        assert "other than alice" in screen_text(app)  # the same operator is refused
        for _ in range(5):
            await pilot.press("shift+tab")
        await pilot.press("ctrl+a", "ctrl+k", *"bob", "enter", "enter")
        await _step_done(app, pilot, "be-install-databases")
        # step 2 fails once, then retried
        await pilot.press("r")
        await _step_done(app, pilot, "be-stop-services")
        assert app.session.state.steps["be-stop-services"].status == "failed"
        assert "FAILED:" in screen_text(app)
        await pilot.press("r")
        await _step_done(app, pilot, "be-stop-services")
        assert app.session.state.steps["be-stop-services"].status == "done"
        for sid in ("be-import-user-data", "be-start-services"):
            await pilot.press("r")
            await _step_done(app, pilot, sid)
        assert "[x]  4. Start Lync services" in screen_text(app)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, VerifyScreen)
                       and "All checks healthy" in screen_text(app))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, SummaryScreen))
        assert "within the RTO" in screen_text(app)
        await pilot.press("c")
        await wait_for(pilot, lambda: "Close the incident as service restored?" in screen_text(app))
        await pilot.press("n")  # no: nothing is closed, the summary stays
        await wait_for(pilot, lambda: isinstance(app.screen, SummaryScreen))
        assert app.is_running and not replay(read_journal(journal_dir / "INC-UI").entries).closed
        await pilot.press("c")
        await wait_for(pilot, lambda: "Close the incident as service restored?" in screen_text(app))
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running)
        report = journal_dir / "INC-UI" / "report.md"
        assert app.farewell == f"Incident INC-UI closed (restored); journal sealed. Report: {report}"
        assert report.is_file() and oct(report.stat().st_mode & 0o777) == "0o600"
    folder = journal_dir / "INC-UI"
    assert _decisions(folder) == [
        ("observation:users", "no", ""),
        ("recovery_path", "be-restore", ""),
        ("backup_set", "2026-11-24_0200", ""),
        ("confirm_step", "be-install-databases", "typed confirmation: be-install-databases"),
    ]
    entries = read_journal(folder).entries
    confirm = next(e for e in entries if e.kind == Kind.DECISION and e.payload["question"] == "confirm_step")
    started = next(e for e in entries if e.kind == Kind.ACTION_STARTED)
    assert confirm.seq < started.seq  # journaled before the effect
    assert confirm.payload["evidence"] == ["second_operator=bob"]
    st = replay(entries)
    assert st.closed and st.steps["be-stop-services"].attempts == 2


async def test_pool_lost_failover_skips_the_backup_stage_and_exports(make_app: AppFactory,
                                                                    journal_dir: Path) -> None:
    app = make_app(ScriptedBackend("pool-lost"))
    async with app.run_test(size=(80, 24)) as pilot:
        await _through_assessment(app, pilot, ("down", "enter"))  # users: "some"
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, RestoreScreen) and app.screen.checklist is not None)
        await pilot.press("c")  # copy the commands (OSC 52)
        assert app.clipboard.startswith("Invoke-CsPoolFailover -PoolFqdn pool1.fabrikam.lab")
        await pilot.press("r")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ConfirmTyped")
        await pilot.press(*"wrong", "enter")
        assert "Type exactly: pool-failover" in screen_text(app)
        await pilot.press("ctrl+a", "ctrl+k", *"pool-failover", "enter")
        await _step_done(app, pilot, "pool-failover")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, VerifyScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, SummaryScreen))
        assert "does not restore from" in screen_text(app), screen_text(app)
        await pilot.press("m", "h")
        folder = journal_dir / "INC-UI"
        await wait_for(pilot, lambda: (folder / "report.md").exists() and (folder / "report.html").exists())
        await pilot.press("x")
        await wait_for(pilot, lambda: "Close the incident as abandoned" in screen_text(app))
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running)
        assert app.return_value == 1  # abandoned: service not restored (README exit codes)
    entries = read_journal(folder).entries
    st = replay(entries)
    stages = [e.payload["to"] for e in entries if e.kind == Kind.STAGE]
    # of the stages before the restore only the assessment was entered: the failover skips the backup set
    assert [s for s in ("start", "assessment", "backup_set") if s in stages] == ["assessment"], stages
    assert st.closed and st.recovery_path == "pool-failover" and st.backup_set is None
    assert {s: r.status for s, r in st.steps.items()} == {"pool-failover": "done"}
    assert stages == ["assessment", "restore", "verify", "summary"]
    assert _decisions(folder)[:2] == [("observation:users", "some", ""), ("recovery_path", "pool-failover", "")]
    assert "Recovery path: pool-failover" in (folder / "report.md").read_text()


async def test_override_then_quit_mid_step_then_resume_and_finish(make_app: AppFactory,
                                                                 journal_dir: Path) -> None:
    hold = threading.Event()
    app = make_app(ScriptedBackend("be-lost", hold=hold))
    async with app.run_test(size=(80, 24)) as pilot:
        await _through_assessment(app, pilot)
        await pilot.press("down", "enter")  # pool-failover over the recommended be-restore
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ReasonDialog")
        await pilot.press("enter")
        assert "A reason is required" in screen_text(app)
        await pilot.press("escape")
        await pilot.press("home", "enter")  # back to the recommended one after all
        await wait_for(pilot, lambda: isinstance(app.screen, BackupScreen) and app.screen.choice is not None)
        await pilot.press("down", "enter")  # the older set, with a reason
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ReasonDialog")
        await pilot.press(*"newest set failed a test restore", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RestoreScreen) and app.screen.checklist is not None)
        await pilot.press("down", "r")  # stop services: held mid-step
        await wait_for(pilot, lambda: app.session.state.steps.get("be-stop-services") is not None)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitDialog))
        assert "IN DOUBT" in screen_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running)
    hold.set()
    folder = journal_dir / "INC-UI"
    st = replay(read_journal(folder).entries)
    assert st.in_doubt == ["be-stop-services"] and st.interruptions == 1
    assert ("backup_set", "2026-11-23_0200", "newest set failed a test restore") in _decisions(folder)

    app2 = make_app(ScriptedBackend("be-lost"), operator="bob", incident="INC-OTHER")
    async with app2.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app2.screen, StartScreen)
                       and "Unfinished incidents of this plan: 1" in screen_text(app2)
                       and "INC-UI drill alice @restore" in screen_text(app2))  # the list is mounted, then drawn
        text = screen_text(app2)
        assert "INC-UI drill alice @restore" in text and "IN DOUBT: be-stop-services" in text, text
        await pilot.press("ctrl+r")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app2.screen, RestoreScreen) and app2.screen.checklist is not None)
        assert "[?]  2. Stop Lync services" in screen_text(app2)
        log = app2.screen.query_one("#output")
        await wait_for(pilot, lambda: any("pre-check of be-stop-services" in line for line in log.lines))
        assert "Re-running their pre-checks before anything else..." in " ".join(x.strip() for x in log.lines)
        assert all(len(line) <= log.scrollable_content_region.width for line in log.lines), log.lines
        assert "| bob |" in screen_text(app2)  # who is at the keyboard now, as the journal records (#16 item 2)
        await pilot.press("s")
        await wait_for(pilot, lambda: app2.screen.__class__.__name__ == "ReasonDialog")
        await pilot.press(*"stopped by alice before the quit", "enter")
        await _step_done(app2, pilot, "be-stop-services")
        await pilot.press("s", *"recreated in Topology Builder", "enter")  # the highlight moved to step 1
        await _step_done(app2, pilot, "be-install-databases")
        await pilot.press("d", *"imported by hand on fe01", "enter")  # then to step 3
        await _step_done(app2, pilot, "be-import-user-data")
        await pilot.press("r")
        await _step_done(app2, pilot, "be-start-services")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app2.screen, VerifyScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app2.screen, SummaryScreen))
        assert "1 interruption(s) and 1 resume(s)" in screen_text(app2)
        await pilot.press("c")
        await wait_for(pilot, lambda: "Close the incident" in screen_text(app2))
        await pilot.press("y")
        await wait_for(pilot, lambda: not app2.is_running)
    st = replay(read_journal(folder).entries)
    assert st.closed and st.resumes == 1 and st.in_doubt == []
    assert {s: r.status for s, r in st.steps.items()} == {
        "be-stop-services": "skipped", "be-install-databases": "skipped",
        "be-import-user-data": "done_by_hand", "be-start-services": "done"}
    assert {e.operator for e in read_journal(folder).entries} == {"alice", "bob"}


async def test_live_mode_needs_the_organisation_and_shows_a_banner(make_app: AppFactory, journal_dir: Path) -> None:
    app = make_app(ScriptedBackend(), mode="live")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ConfirmTyped")
        await pilot.press(*"fabrikam", "enter")
        assert "Type exactly: Fabrikam Lab" in screen_text(app)
        await pilot.press("ctrl+a", "ctrl+k", *"Fabrikam Lab", "enter")
        await wait_for(pilot, lambda: (app.session is not None and isinstance(app.screen, (AssessmentScreen,)))
                       or app.screen.__class__.__name__ == "ChoiceDialog")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, AssessmentScreen))
        text = screen_text(app)
        assert text.splitlines()[0].startswith(" LIVE: commands run against Fabrikam Lab")
        assert "INC-UI LIVE" in text
    assert read_journal(journal_dir / "INC-UI").entries[0].drill is False


async def test_help_palette_records_and_worker_failures(make_app: AppFactory, journal_dir: Path) -> None:
    app = make_app(UnreachableBackend())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert "Help: Start" in screen_text(app) and "ctrl+s" in screen_text(app)
        await pilot.press("escape")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorDialog))
        assert "Host unreachable" in screen_text(app)
        assert "Cannot reach fe01.fabrikam.lab on port 5986" in screen_text(app)
        await pilot.press("enter")
        folder = journal_dir / "INC-UI"
        await wait_for(pilot, lambda: any(e.kind == Kind.ERROR for e in read_journal(folder).entries))
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert "Help: Assessment" in screen_text(app)
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.press(*"journal viewer")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, JournalViewer))
        assert "error: Host unreachable" in screen_text(app)
        for _ in range(30):  # down to the error entry: shown whole below the table
            if "  title: Host unreachable" in screen_text(app):
                break
            await pilot.press("down")
            await pilot.pause(0.05)
        assert "  title: Host unreachable" in screen_text(app)
        assert "  message: Cannot reach fe01.fabrikam.lab" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, AssessmentScreen))
    err = next(e for e in read_journal(folder).entries if e.kind == Kind.ERROR)
    assert err.payload["title"] == "Host unreachable"


async def test_ctrl_c_asks_and_a_second_ctrl_c_quits_journaled(make_app: AppFactory, journal_dir: Path) -> None:
    """Ctrl+C is the reflex: it must not be a silent no-op (Textual's own hint looks for an action
    named "quit"); it asks the journaled quit question, and pressing it again answers yes."""
    app = make_app(ScriptedBackend("be-lost"))
    async with app.run_test(size=(80, 24)) as pilot:
        await _through_assessment(app, pilot)
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitDialog) and "Ctrl+C again" in screen_text(app))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, AssessmentScreen))
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitDialog))
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: not app.is_running)
    entries = read_journal(journal_dir / "INC-UI").entries
    quits = [e for e in entries if e.kind == Kind.INTERRUPTED]
    assert len(quits) == 1 and quits[0].payload["reason"] == "operator quit at assessment", quits
    assert not replay(entries).closed  # resumable
    # README: 130 = interrupted, the journal valid and resumable; the way back is printed (#16 item 5)
    assert app.return_value == 130
    assert app.farewell is not None and "INC-UI left open at assessment; resume it" in app.farewell


async def test_the_palettes_quit_asks_and_journals_like_ctrl_q(make_app: AppFactory, journal_dir: Path) -> None:
    """#16 item 5: Textual's own Quit (command palette) left at once, unasked and unjournaled."""
    app = make_app(ScriptedBackend("be-lost"))
    async with app.run_test(size=(80, 24)) as pilot:
        await _through_assessment(app, pilot)
        await app.action_quit()  # what the palette's "Quit the application" runs
        await wait_for(pilot, lambda: isinstance(app.screen, QuitDialog))
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running)
    assert [e.kind for e in read_journal(journal_dir / "INC-UI").entries].count(Kind.INTERRUPTED) == 1
    assert app.return_value == 130


class FoundDoneBackend(ScriptedBackend):
    """One step's pre-check finds its work already done: the first (destructive, two-operator) one."""

    done_step, evidence = "be-install-databases", "Test-CsDatabase: every Succeed = True"

    def precheck(self, loaded, step):  # type: ignore[no-untyped-def]
        from wizard.incident import PreCheckView

        done = step.step_id == self.done_step
        return PreCheckView(step.step_id, done, self.evidence if done else "not done")


async def test_the_pre_check_comes_before_the_typed_confirmation_and_the_second_operator(
        make_app: AppFactory, journal_dir: Path) -> None:
    """#16 item 3: the operator typed the name, a colleague confirmed, then the step was skipped as
    done and journaled as the operator's skip. Now the pre-check runs first and the operator answers it."""
    app = make_app(FoundDoneBackend("be-lost"))
    async with app.run_test(size=(80, 24)) as pilot:
        await _to_restore(app, pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ChoiceDialog"
                       and "already done (Test-CsDatabase:" in " ".join(screen_text(app).replace("┃", " ").split()))
        await pilot.press("enter")  # skip it: the work is done
        await _step_done(app, pilot, "be-install-databases")
        assert "be-install-databases: already done" in screen_text(app)  # no stale "running ... 0%" line
        before = len(app.session.entries)
        await pilot.press("up", "r")  # r on a resolved step: said, never re-run (played by keys: it re-ran)
        said = "be-install-databases is already done; r runs"
        await wait_for(pilot, lambda: said in " ".join(screen_text(app).split()))
        await pilot.pause(0.3)
        assert app.screen.__class__.__name__ == "RestoreScreen" and len(app.session.entries) == before
    st = replay(read_journal(journal_dir / "INC-UI").entries)
    assert st.steps["be-install-databases"].status == "already_done"  # its own state (#16)
    questions = [d.payload["question"] for d in st.decisions]
    assert "found_done" in questions and "confirm_step" not in questions  # nothing confirmed that did not run
    found = next(d.payload for d in st.decisions if d.payload["question"] == "found_done")
    assert found["choice"] == "skip:be-install-databases" and "every Succeed = True" in found["reason"]


class InDoubtDoneBackend(FoundDoneBackend):
    """Stopping the services, left in doubt by a quit, is found done by its pre-check on resume."""

    done_step, evidence = "be-stop-services", "every Lync service is Stopped"


async def test_s_closes_a_step_in_doubt_its_pre_check_found_done_with_that_evidence(
        make_app: AppFactory, journal_dir: Path) -> None:
    """Played by keys (session 9): resumed, the step in doubt's pre-check said "already done: s
    skips it with this as the reason", and s opened an empty "Why skip" box instead."""
    hold = threading.Event()
    app = make_app(ScriptedBackend("be-lost", hold=hold))
    async with app.run_test(size=(80, 24)) as pilot:
        await _to_restore(app, pilot)
        await pilot.press("down", "r")  # stop services: held mid-step
        await wait_for(pilot, lambda: app.session.state.steps.get("be-stop-services") is not None)
        await _quit_answering_yes(app, pilot)
    hold.set()
    folder = journal_dir / "INC-UI"
    assert replay(read_journal(folder).entries).in_doubt == ["be-stop-services"]

    app2 = make_app(InDoubtDoneBackend("be-lost"), operator="bob", incident="INC-OTHER")
    async with app2.run_test(size=(80, 24)) as pilot:
        await _resumed_by_bob(app2, pilot, "INC-UI drill alice @restore")
        log = app2.screen.query_one("#output")
        await wait_for(pilot, lambda: "already done: s skips it" in " ".join(x.strip() for x in log.lines))
        await pilot.press("s")
        await _step_done(app2, pilot, "be-stop-services")  # without a reason asked for
        assert app2.screen.__class__.__name__ == "RestoreScreen"
    st = replay(read_journal(folder).entries)
    assert st.steps["be-stop-services"].status == "already_done"
    found = next(d.payload for d in st.decisions if d.payload["question"] == "found_done")
    assert found["choice"] == "skip:be-stop-services"
    assert "every Lync service is Stopped" in found["reason"] and "decided by bob" in found["reason"]


async def _to_failover_confirmation(app, pilot) -> None:  # type: ignore[no-untyped-def]
    """pool-lost: the assessment answered, the failover accepted, r on its destructive step."""
    await _through_assessment(app, pilot, ("down", "enter"))
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(app.screen, RestoreScreen) and app.screen.checklist is not None)
    await pilot.press("r")
    await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ConfirmTyped")


#: as long as the real sentences get (SQL error 3203 names the file, the OS cause, the retry)
LONG_FAILURE = ("Invoke-CsPoolFailover on fe11.fabrikam.lab failed: the Front End pool pool1.fabrikam.lab "
                "could not be failed over to pool2.fabrikam.lab because the backup pool's Back End did not "
                "answer within 120 s; nothing was changed on pool2.fabrikam.lab, and a retry runs the "
                "pre-check first, which finds out whether the failover took place after all. Its last "
                "words were: Invoke-CsPoolFailover : The operation failed because the Back End SQL Server "
                "sql11.fabrikam.lab\\rtc could not be reached (a network-related or instance-specific "
                "error occurred while establishing a connection to SQL Server).")


async def test_a_long_failure_shows_from_its_first_words_at_80x24(make_app: AppFactory) -> None:
    """The failure sentence says what failed and where before anything else; folded past the
    output pane's height, it is shown from its first line, not its tail."""
    app = make_app(ScriptedBackend("pool-lost", fail_first={"pool-failover"}, failure=LONG_FAILURE,
                                   lines_per_step=30))
    async with app.run_test(size=(80, 24)) as pilot:
        await _to_failover_confirmation(app, pilot)
        await pilot.press(*"pool-failover", "enter")
        await _step_done(app, pilot, "pool-failover")
        await pilot.pause()
        log = app.screen.query_one("#output")
        top, rows = log.scroll_offset.y, log.scrollable_content_region.height
        shown = log.lines[top:top + rows]
        written = [line for line in log.lines if line.strip()]
        failed_at = next(i for i, line in enumerate(log.lines) if line.startswith("FAILED: "))
        assert len(log.lines) - failed_at > rows, "the sentence must fold past the pane for this test"
        assert shown[0].startswith("FAILED: Invoke-CsPoolFailover on fe11.fabrikam.lab failed"), shown
        assert "FAILED: Invoke-CsPoolFailover on fe11" in screen_text(app)
        assert written[-1].endswith("(r retries, s skips, d done by hand)")  # the rest is there to scroll to


async def test_n_waits_for_the_checks_to_end_before_the_summary(make_app: AppFactory, journal_dir: Path) -> None:
    """Leaving verification mid-run let the incident be closed before the results it rests on,
    and journaled the rest during the summary; n now says the checks are running and stays."""
    hold = threading.Event()
    app = make_app(ScriptedBackend("pool-lost", check_hold=hold))
    async with app.run_test(size=(80, 24)) as pilot:
        await _to_failover_confirmation(app, pilot)
        await pilot.press(*"pool-failover", "enter")
        await _step_done(app, pilot, "pool-failover")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, VerifyScreen) and len(app.screen.checks) >= 1)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, VerifyScreen)
        assert "still running" in " ".join(str(n.message) for n in app._notifications)
        hold.set()
        await wait_for(pilot, lambda: "All checks healthy" in screen_text(app))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, SummaryScreen))
    entries = read_journal(journal_dir / "INC-UI").entries
    to_summary = next(i for i, e in enumerate(entries) if e.kind == Kind.STAGE
                      and e.payload.get("to") == "summary")
    assert not any(e.kind == Kind.CHECK for e in entries[to_summary:])  # every result before it


class PersonCheckBackend(ScriptedBackend):
    """Its last §7 check is one only a person can make (the real backend's Control Panel row)."""

    def verify(self, loaded, path_id):  # type: ignore[no-untyped-def]
        from dataclasses import replace

        from wizard.incident import CheckView

        yield from super().verify(loaded, path_id)
        yield replace(CheckView("verify-by-hand", "Control Panel and an end-user sign-in", "fe01.fabrikam.lab", "",
                                "the operator confirms it"), status="unknown", detail="confirm by hand")


async def test_a_check_only_a_person_can_make_stays_unknown_until_they_confirm_it(
        make_app: AppFactory, journal_dir: Path) -> None:
    """#16 item 4: the Control Panel row was recorded as confirmed though nobody confirmed it, and the
    screen said "All checks healthy" while it was UNKNOWN."""
    app = make_app(PersonCheckBackend("pool-lost"))
    async with app.run_test(size=(80, 24)) as pilot:
        await _to_failover_confirmation(app, pilot)
        await pilot.press(*"pool-failover", "enter")
        await _step_done(app, pilot, "pool-failover")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, VerifyScreen) and "check(s) UNKNOWN" in screen_text(app))
        assert "All checks healthy" not in screen_text(app)
        entries = read_journal(journal_dir / "INC-UI").entries
        assert [e.payload["status"] for e in entries if e.kind == Kind.CHECK][-1] == "unknown"
        assert not any(d.payload["question"] == "check_confirmed" for d in replay(entries).decisions)
        await pilot.press("down", "down", "down", "y")  # the last row: the person's check
        await wait_for(pilot, lambda: "Did you see it yourself" in screen_text(app))
        await pilot.press("y")
        await wait_for(pilot, lambda: "All checks healthy" in screen_text(app))
    entries = read_journal(journal_dir / "INC-UI").entries
    said = [d.payload for d in replay(entries).decisions if d.payload["question"] == "check_confirmed"]
    assert said == [{**said[0], "choice": "verify-by-hand"}] and "alice confirmed by hand" in said[0]["reason"]
    assert [e.payload["status"] for e in entries if e.kind == Kind.CHECK][-1] == "ok"


async def test_a_destructive_step_in_doubt_warns_before_it_is_run_again(make_app: AppFactory,
                                                                       journal_dir: Path) -> None:
    """#16 item 2: after a restart, r re-ran a destructive step in doubt with the normal prompt."""
    hold = threading.Event()
    app = make_app(ScriptedBackend("pool-lost", hold=hold))
    async with app.run_test(size=(80, 24)) as pilot:
        await _to_failover_confirmation(app, pilot)
        assert "IN DOUBT" not in screen_text(app)  # a first run: the normal prompt
        await pilot.press(*"pool-failover", "enter")
        await wait_for(pilot, lambda: app.session.state.steps.get("pool-failover") is not None)
        await _quit_answering_yes(app, pilot)
    hold.set()
    app2 = make_app(ScriptedBackend("pool-lost"), operator="bob", incident="INC-OTHER")
    async with app2.run_test(size=(80, 24)) as pilot:
        await _resumed_by_bob(app2, pilot, "INC-UI drill alice")
        await pilot.press("r")
        await wait_for(pilot, lambda: app2.screen.__class__.__name__ == "ConfirmTyped")
        text = " ".join(screen_text(app2).replace("┃", " ").split())
        assert "Destructive step IN DOUBT" in text and "it may have run already" in text


async def test_f1_explains_the_stage_while_an_assessment_question_is_open(make_app: AppFactory) -> None:
    """#16 item 9: F1 did nothing while an assessment question was open."""
    from screens.help import HelpScreen

    app = make_app(ScriptedBackend("be-lost"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ChoiceDialog")
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert "Assessment" in screen_text(app)
