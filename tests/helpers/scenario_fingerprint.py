"""What a scenario is and what it does to the lab, as plain data: its declared fields, and the
deployment after :meth:`lab.scenarios.Scenario.apply` (servers, services, databases, the CMS,
the file stores' files, SMB blocks, the directory) with what its check says of it. Two scenarios
with the same fingerprint break the lab the same way and judge it the same way.

``tests/data/scenarios/builtin-fingerprints.json`` holds the fingerprints of the Python
definitions the YAML built-ins replaced (#19 item 2): ``tests/unit/test_lab_scenario_files.py``
checks the YAML built-ins against them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from lab.runtime import LabRuntime
from lab.scenarios import Scenario


def _files(root: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if not root.is_dir():
        return out
    for p in sorted(root.rglob("*")):
        if p.is_file() and "LyncBackup" not in p.parts and "kdc" not in p.parts and "pki" not in p.parts:
            rel = p.relative_to(root).as_posix()
            if rel.endswith((".pickle", ".yaml")):
                continue
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()[:16]
    return out


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def declared(s: Scenario) -> dict[str, Any]:
    return {"name": s.name, "summary": s.summary, "outage_class": s.outage_class,
            "expected_path": list(s.expected_path), "plan": s.plan, "plan_changes": s.plan_changes,
            "faults": {k: v for k, v in dataclasses.asdict(s.faults).items() if v},
            "forbidden": list(s.forbidden),
            "expected_plan": [list(p) for p in s.expected_plan],
            "expected_set": list(s.expected_set) if s.expected_set is not None else None}


def fingerprint(s: Scenario, state_dir: Path) -> dict[str, Any]:
    lab = LabRuntime(s, state_dir=state_dir, time_factor=float("inf"))
    dep = lab.dep
    servers = {fqdn: {"reachable": srv.reachable, "installed": srv.lync_installed,
                      "replica": srv.replica_version, "started_at": srv.started_at,
                      "services": {n: svc.status for n, svc in sorted(srv.services.items())}}
               for fqdn, srv in sorted(dep.servers.items())}
    instances = {key: {"up": inst.up, "throughput": inst.throughput_bytes_per_sec, "disk_full": inst.fault_disk_full,
                       "sysadmins": sorted(inst.sysadmins),
                       "databases": {db.name: {"state": db.state, "access": db.user_access,
                                               "damaged_pages": db.damaged_pages, "role": db.mirroring_role,
                                               "content": _digest(db.content)}
                                     for db in sorted(inst.databases.values(), key=lambda d: d.name)}}
                 for key, inst in sorted(dep.instances.items())}
    return {"declared": declared(s),
            "problems": s.service_restored(dep),
            "servers": {k: _digest(v) for k, v in servers.items()},
            "instances": {k: _digest(v) for k, v in instances.items()},
            "cms_pool": dep.cms_pool, "scp": str(dep.scp),
            "config": _digest(dep.cms_config()),
            "acls": dict(sorted(dep.file_store_acls.items())),
            "smb_blocked": sorted(map(list, dep.smb_blocked)),
            "pools": {p: {"failed_over_to": lp.failed_over_to} for p, lp in sorted(dep.pools.items())},
            "memberships": _digest(dataclasses.asdict(dep.directory) if dataclasses.is_dataclass(dep.directory)
                                   else repr(dep.directory)),
            "files": _digest(_files(state_dir))}
