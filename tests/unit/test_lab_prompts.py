"""Lab cmdlets that ask before acting (lab/cmdlets/prompts.py) and what stops the question.

powershell.exe -NonInteractive cannot ask: a question fails the cmdlet with "PowerShell is in
NonInteractive mode. Read and Prompt functionality is not available." ShouldProcess questions
(ConfirmImpact High) stop with -Confirm:$false or $ConfirmPreference = 'None'; ShouldContinue
questions only with -Force (about_Preference_Variables, the cmdlet references cited in the table).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab.cmdlets import ALL_CMDLETS
from lab.cmdlets import prompts as prompt_table
from lab.runtime import LabRuntime

FE = "fe01.fabrikam.lab"
FE_DR = "fe11.fabrikam.lab"
NONINTERACTIVE = "PowerShell is in NonInteractive mode. Read and Prompt functionality is not available."
DOMAIN = Path(__file__).resolve().parents[2].parent / "shared" / "domain" / "lync2013-backup-restore.md"

#: one invocation of each prompting cmdlet that binds (the question comes before any work)
ASKING = {
    "Reset-CsPoolRegistrarState": (FE, "Reset-CsPoolRegistrarState -PoolFqdn pool1.fabrikam.lab "
                                       "-ResetType ServiceReset"),
    "Move-CsUser": (FE, "Move-CsUser -Identity sip:alice.pool1@fabrikam.lab -Target pool2.fabrikam.lab"),
    "Move-CsManagementServer": (FE_DR, "Move-CsManagementServer"),
    "Install-CsMirrorDatabase": (FE, "Install-CsMirrorDatabase -ConfiguredDatabases -SqlServerFqdn "
                                     "sql01.fabrikam.lab -FileShare \\\\sql01.fabrikam.lab\\mirror"),
}


@pytest.fixture
def lab(tmp_path: Path) -> LabRuntime:
    return LabRuntime(None, state_dir=tmp_path, time_factor=float("inf"))


def ps(lab: LabRuntime, script: str, host: str = FE) -> tuple[int, str, str]:
    out: list[str] = []
    err: list[str] = []
    code = lab.powershell(host).run_script(script, out.append, err.append, clixml_errors=False)
    return code, "".join(out), "".join(err)


def ran(lab: LabRuntime, name: str) -> bool:
    return any(entry[1] == name for entry in lab.dep.cmdlet_log)


def test_the_table_matches_the_asking_cases_and_every_x_cmdlet_is_decided() -> None:
    lab_names = {c.name for c in ALL_CMDLETS}
    assert set(ASKING) == set(prompt_table.PROMPTS)
    assert not set(prompt_table.PROMPTS) & set(prompt_table.NO_EVIDENCE)
    for name in (*prompt_table.PROMPTS, *prompt_table.NO_EVIDENCE, *prompt_table.SHOULD_PROCESS):
        assert name in lab_names, name
    assert all(p.source for p in prompt_table.PROMPTS.values())
    assert DOMAIN.is_file(), f"the domain reference must be beside the clone: {DOMAIN}"
    doc = DOMAIN.read_text(encoding="utf-8")
    section = doc[doc.index("## 8. Cmdlet reference"):doc.index("## 9.")]
    x_rows = [line for line in section.splitlines()
              if line.startswith("| ") and re.search(r"\|\s*X[^|]*\|[^|]*\|\s*$", line)]
    x_names = {name for line in x_rows for name in re.findall(r"[A-Z][a-z]+-Cs[A-Za-z]+", line.split("|")[1])}
    assert x_names, "no X rows parsed"
    undecided = sorted(x_names - set(prompt_table.PROMPTS) - set(prompt_table.NO_EVIDENCE))
    assert not undecided, f"§8 X cmdlets with no prompt decision: {undecided}"


@pytest.mark.parametrize("name", sorted(ASKING))
def test_asking_cmdlet_fails_without_suppression_and_does_nothing(lab: LabRuntime, name: str) -> None:
    host, script = ASKING[name]
    code, _, err = ps(lab, script, host)
    assert code == 1
    assert NONINTERACTIVE in err and "HostFunctionNotImplemented" in err, err
    assert not ran(lab, name)


@pytest.mark.parametrize("name", sorted(ASKING))
def test_confirm_false_and_confirm_preference_none_stop_the_question(lab: LabRuntime, name: str) -> None:
    host, script = ASKING[name]
    _, _, err = ps(lab, f"{script} -Confirm:$false", host)
    assert NONINTERACTIVE not in err and ran(lab, name), err
    lab.dep.cmdlet_log.clear()
    _, _, err = ps(lab, f"$ConfirmPreference = 'None'\n{script}", host)
    assert NONINTERACTIVE not in err and ran(lab, name), err


def test_reset_registrar_runs_with_confirm_false(lab: LabRuntime) -> None:
    code, _, err = ps(lab, "Reset-CsPoolRegistrarState -PoolFqdn pool1.fabrikam.lab "
                             "-ResetType ServiceReset -Confirm:$false")
    assert code == 0, err
    assert ran(lab, "Reset-CsPoolRegistrarState")


def test_cmdlets_without_evidence_do_not_ask(lab: LabRuntime) -> None:
    # Invoke-CsPoolFailover: X in §8, but no Microsoft page shows a question (prompts.NO_EVIDENCE).
    _, _, err = ps(lab, "Invoke-CsPoolFailover -PoolFqdn pool1.fabrikam.lab -DisasterMode", FE_DR)
    assert NONINTERACTIVE not in err
    assert ran(lab, "Invoke-CsPoolFailover")


def test_confirm_and_whatif_bind_on_every_should_process_cmdlet(lab: LabRuntime) -> None:
    # -Confirm asks even at Medium impact; -Confirm:$false binds; -WhatIf does nothing.
    code, _, err = ps(lab, "Invoke-CsPoolFailover -PoolFqdn pool1.fabrikam.lab -Confirm", FE_DR)
    assert code == 1 and NONINTERACTIVE in err, err
    code, out, err = ps(lab, "Invoke-CsPoolFailover -PoolFqdn pool1.fabrikam.lab -WhatIf", FE_DR)
    assert code == 0, err
    assert out.startswith("What if: ") and "Invoke-CsPoolFailover" in out
    assert not ran(lab, "Invoke-CsPoolFailover")
    for name in sorted(prompt_table.SHOULD_PROCESS):
        _, _, err = ps(lab, f"{name} -Confirm:$false -WhatIf -Bogus 1")
        assert "matches parameter name 'Bogus'" in err, (name, err)  # -Confirm and -WhatIf bound


def test_get_pipeline_into_an_asking_cmdlet_asks_only_when_there_is_input(lab: LabRuntime) -> None:
    code, _, err = ps(lab, "@() | Move-CsUser -Target pool2.fabrikam.lab")
    assert code == 0 and NONINTERACTIVE not in err, err
    code, _, err = ps(lab, "'sip:alice.pool1@fabrikam.lab' | Move-CsUser -Target pool2.fabrikam.lab")
    assert code == 1 and NONINTERACTIVE in err


def test_should_continue_is_stopped_only_by_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No §8 cmdlet is documented to use ShouldContinue; the mechanism is checked on a stand-in.
    monkeypatch.setitem(prompt_table.PROMPTS, "Invoke-CsPoolFailover",
                        prompt_table.Prompt("ShouldContinue", "test stand-in"))
    lab = LabRuntime(None, state_dir=tmp_path, time_factor=float("inf"))
    base = "Invoke-CsPoolFailover -PoolFqdn pool1.fabrikam.lab -DisasterMode"
    for script in (base, f"{base} -Confirm:$false", f"$ConfirmPreference = 'None'; {base}"):
        code, _, err = ps(lab, script, FE_DR)
        assert code == 1 and NONINTERACTIVE in err, script
    assert not ran(lab, "Invoke-CsPoolFailover")
    _, _, err = ps(lab, f"{base} -Force", FE_DR)
    assert NONINTERACTIVE not in err and ran(lab, "Invoke-CsPoolFailover")


def test_noninteractive_command_line_fails_with_the_prompt_error(lab: LabRuntime) -> None:
    import base64

    from lab.powershell.testing import Capture, clixml_errors

    script = ASKING["Reset-CsPoolRegistrarState"][1]
    encoded = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
    capture = Capture()
    code = lab.powershell(FE).run_command_line(
        "powershell.exe", ["-NoProfile", "-NonInteractive", "-EncodedCommand", encoded], capture)
    assert code == 1
    assert NONINTERACTIVE in clixml_errors(capture.stderr)
