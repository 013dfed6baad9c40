"""The standard drill for a lost Standard Edition server hosting the CMS (``cms-se-lost-unpaired``,
domain doc §6.1, §6.2, §6.9, §6.13), played by the command a trainee runs in an 80x24 tmux pane
(TERM=linux) with a fixed sequence of keys, counted, typed confirmations included: at most 30
(#16 item 11: it took 213, 90 of them typing ``se01.fabrikam.lab`` + Enter five times).

What keeps it short, each checked in the journal afterwards:
- only the assessment question whose answer can change the recommendation is asked (§5.3 I);
- ``g`` runs on through the steps: each step's pre-checks first (a step not needed now, or found
  already done, is closed by the wizard with the evidence, journaled as the wizard's), safe steps
  one after another, stopping to ask where a person is needed (work by hand, a confirmation);
- consecutive destructive steps on the same target take one typed confirmation listing all their
  commands, and the target is typed by its short name (``se01``);
- verification puts the cursor on the check only a person can make.

Every key is sent only once the screen shows what it answers; the waits are not keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.keeper import KEEPER_FILE, pid_alive
from tests.helpers.tmux import SLOW, Pane, entries, wait_gone
from wizard.incident_state import replay
from wizard.journal import Kind

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

SCENARIO = "cms-se-lost-unpaired"
PROGRAM = str(Path(sys.executable).with_name("lync-restore"))
MAX_KEYS = 30


def flat(text: str) -> str:
    return " ".join(text.replace("┃", " ").split())


def test_cms_se_lost_unpaired_by_a_fixed_key_sequence_in_at_most_30_keys(tmp_path: Path) -> None:
    journals = tmp_path / "incidents"
    command = [PROGRAM, "drill", "--scenario", SCENARIO, "--journal-dir", str(journals), "--time-factor", "600"]
    pane = Pane.private(tmp_path, dict(os.environ))
    try:
        pane.start(command)
        pane.wait_for("Unfinished incidents of this plan: 0")
        keeper = [json.loads(p.read_text(encoding="utf-8"))
                  for p in (journals / ".labs" / SCENARIO).glob(f"lab-*/{KEEPER_FILE}")]
        pane.keys("C-s")  # the operator defaults to the login name, the incident id is generated
        pane.wait(lambda s: "configuration or topology" in s and "unknown (u)" in s, "the one question asked")
        pane.keys("u")
        pane.wait(lambda s: "Recommended:" in s and "[cms-restore]" in s and "┏" not in s, "the recommendation")
        pane.keys("a")
        pane.wait(lambda s: "Backup set for cms-restore" in s and "Recommended:" in s, "the recommended set")
        pane.keys("a")
        pane.wait(lambda s: "Restore: cms-restore" in s and "> [ ]  1." in s, "the checklist")
        pane.keys("g")  # run on
        for asked in ("Organisation procedure work done?", "Windows / SQL Server setup work done?",
                      "Deployment Wizard work done? Prepare first"):
            pane.wait(lambda s, asked=asked: asked in flat(s) and "y = yes" in s, asked)  # type: ignore[misc]
            pane.keys("y")
        pane.wait(lambda s: "type: xds" in s, "the typed confirmation of the configuration import")
        pane.type("xds")
        pane.keys("Enter")
        pane.wait(lambda s: "Deployment Wizard work done? Run the Deployment" in flat(s), "the Deployment Wizard")
        pane.keys("y")
        pane.wait(lambda s: "type: se01" in s and "Type se01 to run them" in flat(s), "one confirmation, 3 steps")
        pane.type("se01")
        pane.keys("Enter")
        pane.wait(lambda s: "All steps resolved" in s, "every step resolved", SLOW * 2)
        pane.keys("n")
        pane.wait(lambda s: "UNKNOWN" in s and "y once you have" in flat(s), "the check only a person makes")
        pane.keys("y")
        pane.wait(lambda s: "Did you see it yourself" in s, "the question about the Control Panel")
        pane.keys("y")
        pane.wait(lambda s: "All checks healthy" in s, "verification healthy")
        pane.keys("n")
        pane.wait(lambda s: "Summary" in s and "c Close" in s, "the summary")
        pane.keys("c")
        pane.wait_for("Close the incident as service restored?")
        pane.keys("y")
        wait_gone(pane.pid, SLOW)
        keys = pane.keys_sent
    finally:
        pane.kill_server()
        subprocess.run([PROGRAM, "drill", "--stop", "--journal-dir", str(journals)], capture_output=True, timeout=60)
    print(f"keys sent: {keys}")
    assert keys <= MAX_KEYS, f"{keys} keys"
    assert not [s for s in pane.seen if "Traceback" in s], "a traceback reached the screen"

    folder = next(p.parent for p in journals.glob("*/journal.jsonl"))
    verify = subprocess.run([PROGRAM, "journal", "verify", str(folder)], capture_output=True, text=True, timeout=30)
    assert verify.returncode == 0 and "sealed, intact" in verify.stdout, verify
    log = entries(folder)
    st = replay(log)
    assert st.closed and st.recovery_path == "cms-restore"
    assert {sid: rec.status for sid, rec in st.steps.items()} == {
        "custom-tell-service-desk": "done", "prepare-se01.fabrikam.lab": "done",
        "prepare-fs01.fabrikam.lab": "skipped",  # not needed: fs01 answers (only_if, before anyone is asked)
        "filestore-share-fs-hq": "already_done", "filestore-copy-fs-hq": "done",
        "prepare-first-se-se01.fabrikam.lab": "done",
        "cms-install-database": "already_done", "cms-set-location": "already_done",  # the SE setup made them
        "cms-import-configuration": "done", "cms-enable-topology": "done", "deploy-se01.fabrikam.lab": "done",
        "userdata-copy-se01.fabrikam.lab": "done", "userdata-stop-se01.fabrikam.lab": "done",
        "userdata-import-se01.fabrikam.lab": "done", "userdata-start-se01.fabrikam.lab": "done",
        "lis-import-se01.fabrikam.lab": "done"}
    decisions = [e.payload for e in log if e.kind == Kind.DECISION]
    asked = {d["question"]: d["choice"] for d in decisions if str(d["question"]).startswith("observation:")}
    assert asked["observation:bad_change"] == "unknown"
    assert asked["observation:pchat_log_shipping"] == "not asked"  # §5.3 H cannot apply: no PChat store is down
    # nothing the wizard decided by itself is journaled as a person's decision
    found = [d for d in decisions if d["question"] == "found_done"]
    assert {d["choice"] for d in found} == {"skip:filestore-share-fs-hq", "skip:cms-install-database",
                                            "skip:cms-set-location"}
    assert all("decided by the wizard" in d["reason"] for d in found)
    assert not [d for d in decisions if d["question"] == "manual_work" and "prepare-fs01" in d["choice"]]
    # one typed confirmation for the three steps on se01, each journaled before it started
    confirmed = [d for d in decisions if d["question"] == "confirm_step"]
    assert [d["choice"] for d in confirmed] == ["cms-import-configuration", "userdata-stop-se01.fabrikam.lab",
                                                "userdata-import-se01.fabrikam.lab",
                                                "userdata-start-se01.fabrikam.lab"]
    assert all("one confirmation for: userdata-stop" in " ".join(d["evidence"]) for d in confirmed[1:])
    order = [(e.kind, e.payload.get("step") or e.payload.get("choice")) for e in log]
    for d in confirmed:
        assert order.index((Kind.DECISION, d["choice"])) < order.index((Kind.ACTION_STARTED, d["choice"]))
    assert not [d for d in decisions if d["question"] in ("confirm", "manual")]  # no echoes of a person's word
    assert any(d["question"] == "check_confirmed" for d in decisions)
    assert (folder / "report.md").is_file()
    deadline = time.monotonic() + 20
    while any(pid_alive(int(str(k["pid"]))) for k in keeper):
        assert time.monotonic() < deadline, "the lab's keeper still runs after the incident was closed"
        time.sleep(0.1)
