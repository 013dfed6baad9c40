"""``lync-restore check PLAN`` without a lab (#18 item 1): a mounted location's sets held against
the schedule and the RPO, a credential a scheduler cannot answer (a prompt, an unset variable)
making the checks that need it UNKNOWN (never OK), an invalid plan UNKNOWN with FILE:LINE:COL; the
exit code is the Nagios status in every format. Against the running lab, over real WinRM and TDS:
tests/integration/test_check_lab.py."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import REPO


def _plan(tmp_path: Path, mount: Path) -> Path:
    text = (REPO / "plans" / "example-standard.yaml").read_text()
    plan = tmp_path / "plan.yaml"
    plan.write_text(text.replace("local_path: /mnt/lyncbackup", f"local_path: {mount}"))
    return plan


def _check(plan: Path, fmt: str = "json", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wizard", "check", str(plan), "--format", fmt], capture_output=True,
                          text=True, cwd=REPO, timeout=60, env=env)


def _set(mount: Path, hours_ago: float) -> str:
    name = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)).strftime("%Y-%m-%d_%H%M")
    (mount / name).mkdir(parents=True)
    (mount / name / "Config.zip").write_bytes(b"")
    return name


def _by_subject(proc: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    assert "Traceback" not in proc.stderr, proc.stderr
    data = json.loads(proc.stdout)
    assert data["exit_code"] == proc.returncode
    return {f"{f['check']}:{f['subject']}": f for f in data["findings"]}


def test_a_fresh_set_missing_parts_and_hosts_behind_a_prompt(tmp_path: Path) -> None:
    mount = tmp_path / "mnt"
    _set(mount, 30)
    name = _set(mount, 2)
    proc = _check(_plan(tmp_path, mount))
    got = _by_subject(proc)
    newest = got["backups:nas newest set"]
    assert newest["status"] == "OK" and newest["message"].startswith(f"{name}, 2.0 h old (RPO 24h); 2 sets")
    assert got["backups:nas Config.zip"]["status"] == "OK"
    # the schedule asks for user data too: no set holds it
    missing = [f for k, f in got.items() if k.startswith("backups:nas UserData_")]
    assert missing and all(f["status"] == "CRITICAL" and "no set in" in f["message"] for f in missing)
    # the only server's credential is typed at a prompt: nothing on it could be checked
    host = got["host:lync.corp.northwind.example"]
    assert host["status"] == "UNKNOWN" and "typed at a prompt, which a scheduled check cannot answer" in host["message"]
    assert proc.returncode == 2  # CRITICAL outranks UNKNOWN


def test_stale_empty_and_unmounted(tmp_path: Path) -> None:
    mount = tmp_path / "mnt"
    name = _set(mount, 30)
    got = _by_subject(_check(_plan(tmp_path, mount)))
    assert got["backups:nas newest set"]["status"] == "CRITICAL"
    assert f"is {name}, 30.0 h old: over the RPO of 24h" in got["backups:nas newest set"]["message"]
    empty = tmp_path / "empty"
    empty.mkdir()
    got = _by_subject(_check(_plan(tmp_path, empty)))
    assert got["backups:nas"]["status"] == "CRITICAL" and "holds no backup set" in got["backups:nas"]["message"]
    proc = _check(_plan(tmp_path, tmp_path / "not-mounted"), "nagios")
    assert proc.returncode == 2 and proc.stdout.startswith("LYNC-RESTORE CRITICAL - ")
    assert "cannot be listed" in proc.stdout and "Traceback" not in proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 1


def test_an_unset_password_variable_is_unknown_never_ok(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LYNC_LAB_")}
    proc = _check(REPO / "plans" / "lab.yaml", env=env)
    got = _by_subject(proc)
    unset = ("the password of credential 'lab-admin' (FABRIKAM\\lyncadmin) comes from the environment variable "
             "LYNC_LAB_PASSWORD, which is not set")
    assert unset in got["host:fe01.fabrikam.lab"]["message"] and got["host:fe01.fabrikam.lab"]["status"] == "UNKNOWN"
    assert got["backups:hq-vault"]["status"] == "UNKNOWN" and unset in got["backups:hq-vault"]["message"]
    assert all(f["status"] in ("UNKNOWN", "OK") for f in got.values())
    assert not any(f["status"] == "OK" for k, f in got.items() if not k.startswith("plan:"))
    assert proc.returncode == 3


def test_an_invalid_plan_is_unknown_with_file_line_col(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text((REPO / "plans" / "example-standard.yaml").read_text().replace("rpo: 24h", "rpo: soon"))
    table = _check(broken, "table")
    assert table.returncode == 3 and f"{broken}:" in table.stderr and "Traceback" not in table.stderr
    line = next(ln for ln in table.stderr.splitlines() if ln.startswith(str(broken)))
    assert line.split(":")[1].isdigit() and line.split(":")[2].isdigit(), line
    nagios = _check(broken, "nagios")
    assert nagios.returncode == 3
    assert nagios.stdout.startswith(f"LYNC-RESTORE UNKNOWN - the plan cannot be read: {broken}:")
    data = json.loads(_check(broken, "json").stdout)
    assert data["status"] == "UNKNOWN" and data["errors"][0].startswith(f"{broken}:")
