"""``lync-restore check`` against the running lab: the lab plan's backup location has only
``read_via`` (a Front End), so the scheduler's check lists the sets through PowerShell over real
WinRM (pywinrm) with the credential the plan names (an environment variable), and holds the
newest against the RPO. A wrong password or an unset variable is NOT CHECKED in one line, exit 1,
and the password is never printed."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest

from lab.runtime import LabRuntime
from lab.scenarios import scenario
from tests.conftest import REPO
from wizard.plan import load_plan

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _check(plan: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LYNC_LAB_")}
    return subprocess.run([sys.executable, "-m", "wizard", "check", plan], capture_output=True, text=True,
                          cwd=REPO, timeout=90, env={**clean, **env})


def test_check_lists_a_read_via_location_over_winrm() -> None:
    with LabRuntime(scenario("monitoring-db-lost")) as lab:
        plan = load_plan(lab.plan_path).plan
        loc = plan.backup.locations[0]
        assert loc.local_path is None and loc.read_via
        env = {"LYNC_LAB_PASSWORD": lab.win_password, "LYNC_LAB_SQL_PASSWORD": lab.sql_password}
        proc = _check(str(lab.plan_path), env)
        wrong = _check(str(lab.plan_path), {**env, "LYNC_LAB_PASSWORD": "Not-The-Password-1"})
        unset = _check(str(lab.plan_path), {})
    assert "Traceback" not in proc.stderr + wrong.stderr + unset.stderr
    # the newest set, its age against the wall clock (set names are UTC), through the Front End
    newest = "2026-11-24_0200"  # the lab's newest set (tests/integration/test_catalog_remote_lab.py)
    age_h = (dt.datetime.now(dt.UTC).replace(tzinfo=None)
             - dt.datetime.strptime(newest, "%Y-%m-%d_%H%M")).total_seconds() / 3600
    line = next(x for x in proc.stdout.splitlines() if x.startswith(loc.unc))
    assert f"{newest}" in line and f"(listed through {loc.read_via})" in line, proc.stdout
    assert f"{age_h:.1f} h old" in line, (line, age_h)
    assert proc.returncode == (0 if age_h * 3600 <= plan.objectives.rpo.seconds else 1), proc.stdout
    # refused: one sentence, no password
    assert wrong.returncode == 1 and f"{loc.unc}: NOT CHECKED:" in wrong.stdout, wrong.stdout
    assert "Not-The-Password-1" not in wrong.stdout + wrong.stderr
    assert unset.returncode == 1 and "LYNC_LAB_PASSWORD" in unset.stdout and "NOT CHECKED" in unset.stdout
