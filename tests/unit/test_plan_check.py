"""``lync-restore check PLAN``: exit 0 when the newest backup set is within the RPO, 1 when it
is too old, missing, the mount is absent, or a location read through a host could not be checked
(its credential is typed at a prompt or unset, its host unreachable). Listing through a host over
real WinRM: tests/integration/test_check_lab.py."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def _plan(tmp_path: Path, mount: Path) -> Path:
    text = (REPO / "plans" / "example-standard.yaml").read_text()
    plan = tmp_path / "plan.yaml"
    plan.write_text(text.replace("local_path: /mnt/lyncbackup", f"local_path: {mount}"))
    return plan


def _check(plan: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wizard", "check", str(plan)], capture_output=True,
                          text=True, cwd=REPO, timeout=60)


def _set(mount: Path, hours_ago: float) -> str:
    name = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)).strftime("%Y-%m-%d_%H%M")
    (mount / name).mkdir(parents=True)
    return name


def test_fresh_set_is_ready(tmp_path: Path) -> None:
    mount = tmp_path / "mnt"
    _set(mount, 30)
    name = _set(mount, 2)
    proc = _check(_plan(tmp_path, mount))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"newest set {name}, 2.0 h old (RPO 24h); 2 sets" in proc.stdout


def test_stale_missing_or_unmounted_is_not_ready(tmp_path: Path) -> None:
    mount = tmp_path / "mnt"
    name = _set(mount, 30)
    proc = _check(_plan(tmp_path, mount))
    assert proc.returncode == 1
    assert f"NOT READY: the newest set {name} is 30.0 h old, over the RPO of 24h" in proc.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = _check(_plan(tmp_path, empty))
    assert proc.returncode == 1 and "NOT READY: no backup set" in proc.stdout
    proc = _check(_plan(tmp_path, tmp_path / "not-mounted"))
    assert proc.returncode == 1 and "NOT READY" in proc.stdout and "Traceback" not in proc.stderr


def test_read_via_without_a_usable_credential_is_not_checked(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("LYNC_LAB_PASSWORD", raising=False)
    proc = _check(REPO / "plans" / "lab.yaml")
    assert proc.returncode == 1, proc.stdout
    assert ("\\\\bk01.fabrikam.lab\\LyncBackup: NOT CHECKED: the password of credential 'lab-admin' "
            "(FABRIKAM\\lyncadmin) comes from the environment variable LYNC_LAB_PASSWORD, which is not set"
            in proc.stdout), proc.stdout
    # a prompt credential: a scheduler cannot answer it
    text = (REPO / "plans" / "example-standard.yaml").read_text()
    plan = tmp_path / "prompted.yaml"
    plan.write_text(text.replace("local_path: /mnt/lyncbackup", "read_via: lync.corp.northwind.example"))
    proc = _check(plan)
    assert proc.returncode == 1, proc.stdout
    assert "is typed at a prompt, which a scheduled check cannot answer" in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stderr
