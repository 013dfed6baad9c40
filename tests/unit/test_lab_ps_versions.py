"""Each lab host runs the Windows PowerShell of its Windows release (lab/windows.py), and refuses
what that version does not have (lab/powershell/versions.py); the wizard's far-side hashing works
on both 3.0 and 4.0 hosts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from lab.powershell.host import PowerShellHost
from lab.powershell.testing import run
from lab.runtime import LabRuntime
from lab.windows import HOSTS, powershell_version
from wizard.remote.backup_store import RemoteBackupStore

FE_30 = "fe01.fabrikam.lab"  # Windows Server 2008 R2 SP1 + WMF 3.0; reads the HQ vault
FE_40 = "fe11.fabrikam.lab"  # Windows Server 2012 R2; reads the DR vault
VAULT = r"\\bk01.fabrikam.lab\LyncBackup"
SET = "2026-11-24_0200"
NOT_RECOGNIZED = ("The term 'Get-FileHash' is not recognized as the name of a cmdlet, function, script "
                  "file, or operable program. Check the spelling of the name, or if a path was included, "
                  "verify that the path is correct and try again.")


@pytest.fixture
def lab(tmp_path: Path) -> LabRuntime:
    from lab.backupset import write_backup_sets

    runtime = LabRuntime(None, state_dir=tmp_path, time_factor=float("inf"))
    write_backup_sets(runtime.dep)
    return runtime


def ps(lab: LabRuntime, host: str, script: str) -> tuple[int, str, str]:
    out: list[str] = []
    err: list[str] = []
    code = lab.powershell(host).run_script(script, out.append, err.append, clixml_errors=False)
    return code, "".join(out), "".join(err)


def test_bundled_lab_mixes_30_and_40_and_the_catalogue_host_is_30(lab: LabRuntime) -> None:
    versions = {powershell_version(h) for h in lab.dep.servers}
    assert {"3.0", "4.0"} <= versions
    assert powershell_version(FE_30) == "3.0" and powershell_version(FE_40) == "4.0"
    reads_via = {loc.read_via for loc in lab.dep.plan.backup.locations}
    assert FE_30 in reads_via and FE_40 in reads_via
    assert set(HOSTS) <= set(lab.dep.servers), "the table names hosts the bundled lab does not have"


@pytest.mark.parametrize(("host", "major", "text"), [(FE_30, 3, "3.0"), (FE_40, 4, "4.0")])
def test_psversiontable_answers_per_host(lab: LabRuntime, host: str, major: int, text: str) -> None:
    code, out, err = ps(lab, host, "$PSVersionTable.PSVersion.Major; \"$($PSVersionTable.PSVersion)\"; "
                                   "$null -eq $PSVersionTable.PSEdition")
    assert code == 0, err
    assert out.split() == [str(major), text, "True"]  # PSEdition is 5.1's


def test_get_filehash_is_unknown_on_30_and_works_on_40(lab: LabRuntime) -> None:
    path = f"{VAULT}\\{SET}\\Config.zip"
    code, _, err = ps(lab, FE_30, f"Get-FileHash -LiteralPath '{path}' -Algorithm SHA256")
    assert code == 1
    assert NOT_RECOGNIZED in err
    assert "CommandNotFoundException" in err and "ObjectNotFound" in err
    code, out, err = ps(lab, FE_40, f"(Get-FileHash -LiteralPath '{path}' -Algorithm SHA256).Hash")
    assert code == 0, err
    assert out.strip() == hashlib.sha256(lab.dep.paths.resolve(path).read_bytes()).hexdigest().upper()


def test_get_command_finds_what_the_version_has(lab: LabRuntime) -> None:
    script = "Get-Command -Name Get-FileHash -ErrorAction SilentlyContinue | ConvertTo-Json -Compress"
    code, out, err = ps(lab, FE_30, script)
    assert out == "" and err == ""  # silently nothing ($? is false, as after any error: exit 1)
    code, out, err = ps(lab, FE_40, script)
    assert code == 0, err
    assert json.loads(out)["CommandType"] == "Function"  # a function of Microsoft.PowerShell.Utility
    code, _, err = ps(lab, FE_30, "Get-Command -Name Get-FileHash")
    assert code == 1 and NOT_RECOGNIZED in err
    assert "CommandNotFoundException,Microsoft.PowerShell.Commands.GetCommandCommand" in err


def test_later_parameters_do_not_bind(lab: LabRuntime, tmp_path: Path) -> None:
    nonewline = "Set-Content -LiteralPath \"$env:TEMP\\x.txt\" -Value 'x' -NoNewline"
    for host in (FE_30, FE_40):  # -NoNewline is 5.0
        code, _, err = ps(lab, host, nonewline)
        assert code == 1 and "A parameter cannot be found that matches parameter name 'NoNewline'" in err
    pv = "Get-ChildItem -LiteralPath $env:TEMP -PipelineVariable lrItem | Out-Null"
    code, _, err = ps(lab, FE_30, pv)  # -PipelineVariable is 4.0
    assert code == 1 and "matches parameter name 'PipelineVariable'" in err
    assert ps(lab, FE_40, pv)[0] == 0
    bare = PowerShellHost(state_dir=tmp_path / "bare")  # the interpreter alone: 5.1
    assert run(bare, nonewline).code == 0
    assert run(bare, "$PSVersionTable.PSEdition").stdout.strip() == "Desktop"


def test_dotnet_sha256_is_the_real_digest_of_the_lab_file(lab: LabRuntime) -> None:
    path = f"{VAULT}\\{SET}\\Config.zip"
    script = (f"$s = [System.IO.File]::OpenRead('{path}'); "
              "try { $b = [System.Security.Cryptography.SHA256]::Create().ComputeHash($s) } "
              "finally { $s.Dispose() }; [System.BitConverter]::ToString($b).Replace('-', '')")
    code, out, err = ps(lab, FE_30, script)
    assert code == 0, err
    assert out.strip() == hashlib.sha256(lab.dep.paths.resolve(path).read_bytes()).hexdigest().upper()
    code, _, err = ps(lab, FE_30, f"[System.IO.File]::OpenRead('{VAULT}\\{SET}\\nothing.zip')")
    assert code == 1
    assert f'Exception calling "OpenRead" with "1" argument(s): "Could not find file \'{VAULT}' in err


@pytest.mark.parametrize("host", [FE_30, FE_40])
def test_wizard_hashes_through_either_version(lab: LabRuntime, host: str) -> None:
    def run_script(script: str) -> str:
        code, out, err = ps(lab, host, script)
        assert code == 0, err
        return out

    store = RemoteBackupStore(run_script, VAULT, host, modules=())
    files = [f.path for f in store.list_files(SET)][:5]
    assert files
    got = store.sha256(SET, files)
    want = {p: hashlib.sha256(lab.dep.paths.resolve(f"{VAULT}\\{SET}\\{p}").read_bytes()).hexdigest()
            for p in files}
    assert got == want
