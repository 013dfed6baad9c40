"""The lab's shares behave as Windows' do (#14, "the lab learns what Lync does").

A server that is down takes its shares with it (Windows: "The network path was not found"), for
PowerShell, robocopy and a SQL Server reading a .bak alike; robocopy compares size and last-write
time and, with /XO, never replaces a newer destination file with an older source; a rebuilt file
server has neither the share nor Lync's ACLs; each backup set exists in every vault of the plan.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from lab.model import set_mtime
from lab.runtime import LabRuntime

FE = "fe01.fabrikam.lab"


@pytest.fixture
def lab(tmp_path: Path) -> LabRuntime:
    from lab.backupset import write_backup_sets

    runtime = LabRuntime(None, state_dir=tmp_path, time_factor=float("inf"))
    write_backup_sets(runtime.dep)
    return runtime


def robocopy(lab: LabRuntime, args: str) -> tuple[int, str]:
    """robocopy's own exit code (bits: 1 copied, 2 extras, 8+ failure) and its output."""
    code, out, _ = ps(lab, f"robocopy {args}; exit $LASTEXITCODE")
    return code, out


def ps(lab: LabRuntime, script: str, host: str = FE) -> tuple[int, str, str]:
    out: list[str] = []
    err: list[str] = []
    code = lab.powershell(host).run_script(script, out.append, err.append, clixml_errors=False)
    return code, "".join(out), "".join(err)


def test_every_vault_holds_each_set_under_the_same_name(lab: LabRuntime) -> None:
    hq, dr = (lab.dep.paths.resolve(loc.unc) for loc in lab.plan.backup.locations)
    names = sorted(p.name for p in hq.iterdir())
    assert len(names) == 3 and names == sorted(p.name for p in dr.iterdir())
    manifest = json.loads((dr / names[-1] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["location"] == "\\\\bk11.fabrikam.lab\\LyncBackup"


def test_a_share_of_a_server_that_is_down_is_not_found(lab: LabRuntime) -> None:
    unc = "\\\\bk01.fabrikam.lab\\LyncBackup"
    assert ps(lab, f"Test-Path -LiteralPath '{unc}'")[1].strip() == "True"
    lab.dep.lose_server("bk01.fabrikam.lab")
    assert ps(lab, f"Test-Path -LiteralPath '{unc}'")[1].strip() == "False"
    code, _, err = ps(lab, f"Get-ChildItem -LiteralPath '{unc}'")
    assert code == 1 and "Cannot find path" in err
    code, out = robocopy(lab, f"'{unc}' 'C:\\x' /E")
    assert code == 16 and "ERROR" in out
    # the SQL Server resolves the path to nothing, as for any path it cannot open (error 3201)
    assert lab.dep.paths.resolver_for("sql01.fabrikam.lab")(unc + "\\x.bak") is None
    assert lab.dep.paths.resolver_for("sql01.fabrikam.lab")("\\\\bk11.fabrikam.lab\\LyncBackup") is not None
    # the administrative share of a machine that is down does not answer either; a running one does
    assert ps(lab, "Test-Path -LiteralPath '\\\\fs01.fabrikam.lab\\C$'")[1].strip() == "True"
    lab.dep.lose_server("fs01.fabrikam.lab")
    assert ps(lab, "Test-Path -LiteralPath '\\\\fs01.fabrikam.lab\\C$'")[1].strip() == "False"


def _files(lab: LabRuntime) -> tuple[Path, Path]:
    src = lab.dep.paths.resolve("C:\\src", FE)
    dst = lab.dep.paths.resolve("C:\\dst", FE)
    for d in (src, dst):
        d.mkdir(parents=True)
    (src / "a.txt").write_text("backup copy\n")
    (dst / "a.txt").write_text("newer work\n")
    set_mtime(src / "a.txt", dt.datetime(2026, 11, 24, 2, 0))
    set_mtime(dst / "a.txt", dt.datetime(2026, 11, 24, 8, 0))
    (dst / "only-here.txt").write_text("extra\n")
    return src, dst


def test_robocopy_replaces_an_older_destination_file_by_default(lab: LabRuntime) -> None:
    _, dst = _files(lab)
    assert robocopy(lab, "C:\\src C:\\dst /E")[0] == 3  # copied, and an extra file
    assert (dst / "a.txt").read_text() == "backup copy\n"  # "Older" files are copied without /XO
    assert (dst / "only-here.txt").exists()  # no /MIR or /PURGE: extras stay


def test_robocopy_xo_keeps_the_newer_destination_file(lab: LabRuntime) -> None:
    _, dst = _files(lab)
    code, _ = robocopy(lab, "C:\\src C:\\dst /E /XO")
    assert code == 2 and (dst / "a.txt").read_text() == "newer work\n"
    assert (dst / "only-here.txt").exists()


def test_robocopy_keeps_the_last_write_time(lab: LabRuntime) -> None:
    src, dst = _files(lab)
    (dst / "a.txt").unlink()
    assert robocopy(lab, "C:\\src C:\\dst /E")[0] == 3
    assert int((dst / "a.txt").stat().st_mtime) == int((src / "a.txt").stat().st_mtime)
    assert robocopy(lab, "C:\\src C:\\dst /E")[0] == 2  # "Same": nothing copied again


def test_a_rebuilt_file_server_has_no_share_and_no_lync_acls(lab: LabRuntime) -> None:
    fs = lab.plan.file_store("fs-hq")
    assert lab.dep.paths.unc(fs.server, fs.share).is_dir() and lab.dep.file_store_acls["fs-hq"]
    lab.dep.rebuild_server(fs.server)
    assert not lab.dep.paths.unc(fs.server, fs.share).exists()
    assert lab.dep.file_store_acls["fs-hq"] is False


def test_synthetic_transactions_need_the_pools_test_users(tmp_path: Path) -> None:
    """§7.2: without arguments a synthetic transaction uses the pool's health-monitoring test users."""
    lab = LabRuntime(None, state_dir=tmp_path / "l", time_factor=float("inf"))
    assert "Success" in ps(lab, "Test-CsIM -TargetFqdn pool3.fabrikam.lab | Select-Object -ExpandProperty Result")[1]
    pool = lab.dep.pool("pool3.fabrikam.lab")
    from dataclasses import replace

    pool.spec = replace(pool.spec, test_users=False)
    code, _, err = ps(lab, "Test-CsIM -TargetFqdn pool3.fabrikam.lab")
    assert code == 1 and "No health monitoring test users" in err
    code, out, _ = ps(lab, "Test-CsIM -TargetFqdn pool3.fabrikam.lab -SenderSipAddress sip:a@fabrikam.lab "
                           "| Select-Object -ExpandProperty Result")
    assert code == 0 and "Success" in out
