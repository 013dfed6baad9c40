"""``lync-restore check PLAN``: exit 0 when the newest backup set is within the RPO, 1 when it
is too old, missing or the mount is absent; locations read through a host are not checked."""

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


def test_read_via_locations_are_reported_not_checked() -> None:
    proc = _check(REPO / "plans" / "lab.yaml")
    assert proc.returncode == 0
    assert "not checked (listed through fe01.fabrikam.lab; needs a session)" in proc.stdout
