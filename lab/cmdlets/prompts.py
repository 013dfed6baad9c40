"""Which Lync Server 2013 cmdlets ask before they act, and why we think so: one auditable table.

PowerShell asks for confirmation in two ways:

- **ShouldProcess** (``SupportsShouldProcess``): the cmdlet takes the common parameters ``-WhatIf``
  and ``-Confirm`` and asks when its ``ConfirmImpact`` is at or above ``$ConfirmPreference``
  (default ``High``), or always under ``-Confirm``. ``-Confirm:$false`` or
  ``$ConfirmPreference = 'None'`` stop the question (about_Preference_Variables).
- **ShouldContinue**: asks whatever the preferences say; by convention only the cmdlet's own
  ``-Force`` stops it.

In ``powershell.exe -NonInteractive`` (how the wizard runs every script over WinRM) a question
cannot be asked: the cmdlet fails with "PowerShell is in NonInteractive mode. Read and Prompt
functionality is not available." (the interpreter raises it, see
:meth:`lab.powershell.evaluator.Session.invoke_cmdlet`).

:data:`SHOULD_PROCESS` lists the §8 cmdlets whose Lync Server 2013 syntax shows ``[-WhatIf]`` and
``[-Confirm]`` (cmdlet reference, v-hearya/OfficeDocs-SkypeforBusiness-Test-pr ``server-2013/
<cmdlet>.md``, the T20 pages of the domain doc §0). Those two parameters alone say nothing about a
default question: every ShouldProcess cmdlet has them. :data:`PROMPTS` lists only the cmdlets a
Microsoft page shows asking by default. Every other §8 cmdlet marked X was looked up and NOT made
to ask, because nothing we could read says it does (see :data:`NO_EVIDENCE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

_REF = "v-hearya/OfficeDocs-SkypeforBusiness-Test-pr server-2013/"
_PS_REF = "MicrosoftDocs/office-docs-powershell skype/skype-ps/SkypeForBusiness/"


@dataclass(frozen=True)
class Prompt:
    """A cmdlet that asks before acting unless the script says not to."""

    #: ``ShouldProcess`` (ConfirmImpact High: -Confirm:$false or $ConfirmPreference None stop it)
    #: or ``ShouldContinue`` (only ``-Force`` stops it)
    kind: Literal["ShouldProcess", "ShouldContinue"]
    #: where a Microsoft page shows the question
    source: str


#: Cmdlet -> how it asks, with the page that shows it.
PROMPTS: dict[str, Prompt] = {
    "Reset-CsPoolRegistrarState": Prompt(
        "ShouldProcess",
        f"{_PS_REF}Reset-CsPoolRegistrarState.md examples 1-2 (\"you will be prompted\"; "
        "-Confirm:$False suppresses the prompt); domain doc §8 lists -Confirm:$false"),
    "Move-CsUser": Prompt(
        "ShouldProcess",
        f"{_REF}move-csuser.md, parameter Confirm: \"Enables you to bypass the confirmation prompt "
        "that would otherwise appear when you attempt to move a user ... -Confirm:$False\""),
    "Move-CsManagementServer": Prompt(
        "ShouldProcess",
        f"{_REF}move-the-lync-server-2010-central-management-server-to-lync-server-2013.md step 5: "
        "shows Current State and Proposed State, \"Type Y to continue, or N to stop the move\". "
        "Which mechanism asks is not documented; -Force is documented only as 'move even if the "
        "existing store is offline', so the lab does not let -Force stop the question"),
    "Install-CsMirrorDatabase": Prompt(
        "ShouldProcess",
        f"{_REF}lync-server-2013-deploying-sql-mirroring-for-back-end-server-high-availability.md "
        "('Using Lync Server Management Shell Cmdlets', step 1): the run with -Verbose only ends at "
        "'[Y] Yes [A] Yes to All [N] No [L] No to All [S] Suspend [?] Help (default is \"Y\")', "
        "step 3 'Type A and press ENTER'"),
}

#: §8 cmdlets marked X (or W with a confirmation switch) that were looked up and found to give no
#: sign of a default question: they do not ask in the lab. Lync's usual -Force wording ("Suppresses
#: the display of any non-fatal error message") is about errors, not a confirmation.
NO_EVIDENCE: dict[str, str] = {
    "Invoke-CsManagementServerFailover":
        "§8 lists -Confirm, but so does every ShouldProcess syntax; the cmdlet page and S33 "
        "(failing-over-a-pool, which runs it with -WhatIf first) show no question",
    "Invoke-CsPoolFailover": "cmdlet page: examples run without a question; -Force is about errors",
    "Invoke-CsPoolFailback": "cmdlet page: examples run without a question; -Force is about errors",
    "Install-CsDatabase": "cmdlet page (-Clean included): no question shown",
    "Uninstall-CsMirrorDatabase": "cmdlet page, S22/S23: no question shown",
    "Set-CsConfigurationStoreLocation": "cmdlet page: no question shown",
    "Import-CsConfiguration": "no -Confirm in its syntax; -Force 'bypasses any prompts that would "
                              "otherwise appear should a non-fatal error occur' (errors only)",
    "Invoke-CsDatabaseFailover": "cmdlet page and T9 (failing-over-a-mirrored-database): no question",
    "Remove-CsUserStoreBackupData": "cmdlet page: no question shown",
    "Set-CsPersistentChatState": "cmdlet page and T14: no question shown",
    "Set-CsPersistentChatActiveServer": "cmdlet page and T14: no question shown",
    "Import-CsUserData": "no -Confirm in its syntax; T20: no question shown",
    "Stop-CsWindowsService": "cmdlet page: no question shown",
    "Start-CsWindowsService": "cmdlet page: no question shown",
    "Publish-CsTopology": "cmdlet page: no question shown",
    "Move-CsConferenceDirectory": "cmdlet page: -Force is about an unreachable target pool",
    "Move-CsApplicationEndpoint": "cmdlet page: no question shown",
    "Publish-CsLisConfiguration": "-Force 'suppresses any confirmation prompts that would otherwise "
                                  "be displayed' is Lync's generic wording; no page shows one",
}

#: §8 cmdlets whose Lync Server 2013 syntax shows [-WhatIf] and [-Confirm] (``{_REF}<name>.md``):
#: the interpreter binds those two common parameters for them.
SHOULD_PROCESS: frozenset[str] = frozenset({
    "Start-CsWindowsService", "Stop-CsWindowsService", "Publish-CsLisConfiguration",
    "Set-CsConfigurationStoreLocation", "Enable-CsTopology", "Publish-CsTopology",
    "Invoke-CsManagementServerFailover", "Set-CsEdgeServer", "Install-CsDatabase",
    "Install-CsMirrorDatabase", "Uninstall-CsMirrorDatabase", "Invoke-CsDatabaseFailover",
    "Reset-CsPoolRegistrarState", "Invoke-CsPoolFailover", "Invoke-CsPoolFailback",
    "Update-CsUserData", "Import-CsPersistentChatData", "Set-CsPersistentChatState",
    "Move-CsManagementServer", "Move-CsUser", "Move-CsConferenceDirectory",
    "Move-CsApplicationEndpoint", "Set-CsSite", "Set-CsPersistentChatActiveServer",
    "Backup-CsPool", "Set-CsBackupServiceConfiguration", "Remove-CsUserStoreBackupData",
    "Get-CsPoolFabricState", "Test-CsDatabase",
})


def confirm_impact(name: str, declared: str) -> Literal["Low", "Medium", "High"]:
    """The ConfirmImpact the interpreter uses: High for a ShouldProcess question, else ``declared``."""
    prompt = PROMPTS.get(name)
    if prompt is not None and prompt.kind == "ShouldProcess":
        return "High"
    if declared in ("Low", "Medium", "High"):
        return declared  # type: ignore[return-value]
    return "Medium"


def supports_should_process(name: str, declared: bool) -> bool:
    return declared or name in SHOULD_PROCESS or name in PROMPTS


__all__ = ["NO_EVIDENCE", "PROMPTS", "SHOULD_PROCESS", "Prompt", "confirm_impact",
           "supports_should_process"]
