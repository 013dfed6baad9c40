"""Drill isolation whichever command starts the drill (#17 finding 1): `lync-restore run --drill`
built its backend without the loopback guard, so a drill plan naming 10.1.2.3 made the wizard
connect there. Checked at the socket level with an audit hook in a child process: no connection
and no name look-up is even attempted. The hook also blocks what it sees, so even the live-mode
control sends nothing off the machine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO

CHILD = r"""
import json, sys, threading
seen = []
def hook(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
        seen.append([event, repr(args)[:120]])
        raise OSError("blocked by the test: nothing leaves this machine")  # recorded, never sent
sys.addaudithook(hook)
from wizard.app_entry import PlanReader
from wizard.remote.prompt import PromptBridge
outcome = "built"
try:
    loaded, backend = PlanReader(sys.argv[1], PromptBridge(), drill=sys.argv[2] == "drill")()
    if sys.argv[3] == "probe":
        results = list(backend.probe(loaded, threading.Event()))
        outcome = f"probed {len(results)}"
except Exception as exc:  # what the operator would be shown
    outcome = f"{type(exc).__name__}: {exc}"
print(json.dumps({"outcome": outcome, "sockets": seen}))
"""


def _plan(tmp_path: Path, hosts: dict[str, dict[str, str]]) -> Path:
    plan = yaml.safe_load((REPO / "plans" / "example-standard.yaml").read_text())
    plan.setdefault("connections", {})["hosts"] = hosts
    path = tmp_path / "drill-plan.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def _run(plan: Path, mode: str, action: str) -> dict[str, object]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(plan.parent)}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(plan), mode, action], capture_output=True, text=True,
                          cwd=REPO, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.splitlines()[-1])
    return result


def test_run_drill_refuses_a_plan_pointing_off_the_machine_before_any_socket(tmp_path: Path) -> None:
    host = "lync.corp.northwind.example"
    plan = _plan(tmp_path, {host: {"address": "10.1.2.3"}})
    got = _run(plan, "drill", "probe")
    assert str(got["outcome"]).startswith("DrillIsolationError: The drill plan points "
                                          f"{host} at 10.1.2.3, which is not loopback"), got
    assert got["sockets"] == []


def test_run_drill_never_looks_a_name_up(tmp_path: Path) -> None:
    """A drill plan whose hosts have no address: every probe fails as a lost host would, and not
    one name is resolved nor one connection opened."""
    plan = _plan(tmp_path, {})
    got = _run(plan, "drill", "probe")
    assert str(got["outcome"]).startswith("probed "), got
    assert got["sockets"] == [], got["sockets"]


def test_the_audit_hook_sees_a_live_run_resolve_names(tmp_path: Path) -> None:
    """The same plan in live mode does try to look the names up: the hook is not blind (and blocks
    the look-up, so no query leaves the machine)."""
    plan = _plan(tmp_path, {})
    got = _run(plan, "live", "probe")
    assert any(event == "socket.getaddrinfo" for event, _ in got["sockets"]), got  # type: ignore[union-attr]
