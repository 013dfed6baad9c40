"""Every cmdlet and parameter the step library can emit is in the domain reference's §8 table.

The table is parsed at test time from shared/domain/lync2013-backup-restore.md (CI puts shared/
beside the clone). Lync cmdlets (``*-Cs*``) must be §8 rows with §8 parameters; the few Lync
cmdlets §8 does not list but §6/§7 prescribe (Get-CsRgsWorkflow, Get-CsUser,
Get-CsPersistentChatState) may only use parameters the doc shows with them in a code span.
Windows cmdlets must be on a short allowlist. ``-Verbose`` is PowerShell's common parameter.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.unit.procedures_helpers import every_procedure
from wizard.procedures.model import PsCommand
from wizard.remote.psbuild import Assign, Cmd, Pipeline

DOMAIN = Path(__file__).resolve().parents[2].parent / "shared" / "domain" / "lync2013-backup-restore.md"
WINDOWS = {"Select-Object", "Write-Output", "Test-Path", "Get-Item", "Get-ChildItem", "Import-Module", "robocopy"}
COMMON = {"Verbose"}
PARAM = re.compile(r"(?<![A-Za-z0-9])-([A-Z][A-Za-z0-9]+)")


def _doc() -> str:
    if not DOMAIN.is_file():
        pytest.fail(f"The domain reference is missing: expected {DOMAIN} (shared/ beside the clone).")
    return DOMAIN.read_text(encoding="utf-8")


def section8(doc: str) -> dict[str, set[str]]:
    start = doc.index("## 8. Cmdlet reference")
    end = doc.index("## 9.", start)
    table: dict[str, set[str]] = {}
    for line in doc[start:end].splitlines():
        if not line.startswith("| ") or line.startswith("| Cmdlet") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        names_cell, params_cell, notes = cells[0], cells[1], cells[4]
        params = set(PARAM.findall(params_cell)) | set(PARAM.findall(notes))
        names: list[str] = []
        for part in re.split(r",\s*|\s+/\s+", names_cell):
            part = part.strip()
            if part.startswith("-") and names:
                verb = names[0].split("-Cs")[0]
                names.append(f"{verb}-Cs{part[1:]}")
            elif "-/" in part:  # Get-/Set-CsBackupServiceConfiguration
                verbs, noun = part.split("Cs", 1)
                names += [f"{v}Cs{noun}" for v in verbs.split("/") if v]
            else:
                names.append(part)
        for name in names:
            table.setdefault(name, set()).update(params)
    return table


def doc_params(doc: str, cmdlet: str) -> set[str]:
    """Parameters written after ``cmdlet`` inside the same code span, anywhere in the doc."""
    tails = re.findall(re.escape(cmdlet) + r"\b([^`\n]*)`", doc)
    return {p for tail in tails for p in PARAM.findall(tail)}


def emitted() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for proc in every_procedure():
        for step in proc.steps:
            if step.custom:
                continue
            for command in step.all_commands():
                if not isinstance(command, PsCommand):
                    continue
                stmts = [*command.statements, *([command.json_result] if command.json_result else [])]
                for st in stmts:
                    value = st.value if isinstance(st, Assign) else st
                    cmds = value.cmds if isinstance(value, Pipeline) else (value,) if isinstance(value, Cmd) else ()
                    for cmd in cmds:
                        out.setdefault(cmd.name, set()).update(cmd.params)
    return out


def test_table_parses_known_rows() -> None:
    table = section8(_doc())
    assert "Invoke-CsManagementServerFailover" in table
    assert {"BackupSqlServerFqdn", "Force", "BackupMirrorSqlInstanceName"} <= table["Invoke-CsManagementServerFailover"]
    assert "Test-CsIM" in table and "TargetFqdn" in table["Test-CsIM"]
    assert "Set-CsBackupServiceConfiguration" in table
    assert "BackupModule" not in table["Get-CsBackupServiceStatus"] - {"BackupModule"}


def test_every_emitted_cmdlet_and_parameter_is_documented() -> None:
    doc = _doc()
    table = section8(doc)
    used = emitted()
    assert len(used) > 40, "the library should emit many cmdlets"
    problems: list[str] = []
    for name, params in sorted(used.items()):
        if name in WINDOWS:
            continue
        if "-Cs" not in name:
            problems.append(f"{name}: not a Lync cmdlet and not on the Windows allowlist")
            continue
        allowed = table.get(name)
        if allowed is None:
            allowed = doc_params(doc, name)
            if not allowed and f"`{name}" not in doc:
                problems.append(f"{name}: not in §8 and not prescribed anywhere in the doc")
                continue
        bad = sorted(params - allowed - COMMON)
        if bad:
            problems.append(f"{name}: parameters not documented: {', '.join('-' + b for b in bad)}")
    assert not problems, "\n".join(problems)


def test_never_start_cspool_and_force_only_where_documented() -> None:
    used = emitted()
    assert "Start-CsPool" not in used
    # -Force is emitted only where §8 lists it and the doc uses it (§6.15 step 5, §6.18, §6.19).
    forced = {name for name, params in used.items() if "Force" in params}
    assert forced <= {"Invoke-CsManagementServerFailover", "Invoke-CsDatabaseFailover", "Move-CsManagementServer",
                      "Move-CsUser", "Export-CsUserData", "Export-CsConfiguration"}, forced
    assert "Force" not in used["Invoke-CsPoolFailover"]
