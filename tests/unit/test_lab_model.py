"""The lab deployment model from every shipped plan, paths, and real backup sets."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from lab.backupset import (
    BackupFormatError,
    SetFaults,
    read_config_zip,
    write_backup_sets,
)
from lab.model import LabDeployment
from lab.paths import LabPaths
from lab.sqlstate import read_bak
from wizard.plan import load_plan

PLANS = sorted((Path(__file__).resolve().parents[2] / "plans").glob("*.yaml"))


@pytest.mark.parametrize("plan_path", PLANS, ids=[p.name for p in PLANS])
def test_model_from_every_shipped_plan(plan_path: Path, tmp_path: Path) -> None:
    plan = load_plan(plan_path).plan
    dep = LabDeployment.from_plan(plan, tmp_path)
    assert dep.cms_problem() is None
    for pool in plan.front_end_pools():
        assert dep.pool_problems(pool.fqdn) == []
        assert dep.pool_sql(pool.fqdn) is not None
        names = {s.name for s in dep.lync_servers(pool.fqdn)[0].services.values()}
        assert {"RTCSRV", "FabricHostSvc", "W3SVC"} <= names
        assert ("LYNCBACKUP" in names) == bool(pool.paired_with)
        assert ("RTCRGS" in names) == pool.response_group
    cms = dep.cms_instance()
    assert cms is not None and cms.database("xds") is not None
    assert all(dep.replica_up_to_date(s) for s in dep.lync_servers())


def test_se_gets_its_own_express_instance(tmp_path: Path) -> None:
    dep = LabDeployment.from_plan(load_plan(PLANS[0].parent / "lab.yaml").plan, tmp_path)
    inst = dep.pool_sql("se01.fabrikam.lab")
    assert inst is not None and inst.data_source == "se01.fabrikam.lab\\rtc"
    assert inst.database("rtcxds") is not None and inst.database("xds") is None
    assert dep.scp is not None and str(dep.scp) == "sql01.fabrikam.lab\\rtc"
    standby = dep.pool_sql("pool2.fabrikam.lab")
    assert standby is not None and "config" in standby.database("xds").content  # type: ignore[union-attr]
    mirror = dep.mirror_sql("pool1.fabrikam.lab")
    assert mirror is not None and mirror.database("rtcxds").mirroring_role == "MIRROR"  # type: ignore[union-attr]


def test_paths_map_unc_short_names_and_admin_shares(tmp_path: Path) -> None:
    paths = LabPaths(tmp_path, ["fe01.fabrikam.lab", "bk01.fabrikam.lab"])
    a = paths.resolve(r"\\bk01\LyncBackup\set\Config.zip")
    b = paths.resolve(r"\\BK01.fabrikam.lab\LyncBackup\set\Config.zip", "fe01.fabrikam.lab")
    assert a == b
    assert paths.resolve(r"C:\Logs\x.zip", "fe01") == paths.resolve(r"\\fe01\c$\Logs\x.zip")
    assert paths.windows_path(paths.resolve(r"C:\Logs", "fe01"), "fe01") == "C:\\Logs"


def test_backup_sets_are_real_files(tmp_path: Path) -> None:
    dep = LabDeployment.from_plan(load_plan(PLANS[0].parent / "lab.yaml").plan, tmp_path)
    sets = write_backup_sets(dep, faults=SetFaults(missing_e911_in_newest=True))
    assert [s.name for s in sets] == ["2026-11-22_0200", "2026-11-23_0200", "2026-11-24_0200"]
    newest = dep.paths.resolve(sets[-1].unc)
    assert not (newest / "E911Config.zip").exists()
    assert (dep.paths.resolve(sets[0].unc) / "E911Config.zip").is_file()
    with zipfile.ZipFile(newest / "Config.zip") as zf:
        assert sorted(zf.namelist()) == ["DocItemSet.xml", "[Content_Types].xml"]  # T§3: "the 2 files"
    assert read_config_zip((newest / "Config.zip").read_bytes())["version"] == 42
    manifest = json.loads((newest / "manifest.json").read_text())
    assert "sql\\mgc.bak" in manifest["files"]
    assert not any(name.endswith("Meeting.Active") for name in manifest["files"])
    assert read_bak(newest / "sql" / "LcsCDR.bak").database == "LcsCDR"


def test_corrupt_newest_set(tmp_path: Path) -> None:
    dep = LabDeployment.from_plan(load_plan(PLANS[0].parent / "lab.yaml").plan, tmp_path)
    sets = write_backup_sets(dep, faults=SetFaults(corrupt_newest=True))
    newest = dep.paths.resolve(sets[-1].unc)
    with pytest.raises(BackupFormatError):
        read_config_zip((newest / "Config.zip").read_bytes())
    older = dep.paths.resolve(sets[-2].unc)
    assert read_config_zip((older / "Config.zip").read_bytes())["version"] == 41
