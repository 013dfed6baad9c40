"""One WinRM round trip per server: what the readiness audit asks each server it will need.

The script (:func:`host_script`) collects, in rows of one JSON envelope:

* the Windows PowerShell version (``$PSVersionTable``): Lync Server 2013 needs Windows
  PowerShell 3.0 on every server ("Installing Windows PowerShell 3.0 for Lync Server 2013");
* for every cmdlet the plan's paths send that server, whether ``Get-Command`` finds it and its
  parameters (as pre-flight asks, :mod:`wizard.preflight`);
* for every share the server must read in a restore (the backup locations, other servers'
  file stores), whether ``Get-Item`` reaches it from *this WinRM session*: the second hop is
  checked as a restore would meet it;
* the session's groups (``whoami /groups /fo csv /nh``): the memberships §10 lists, as the token
  of the account the plan names holds them on that server.

:func:`host_findings` turns the rows into findings.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from wizard.plan.model import Plan
from wizard.preflight import cmdlet_rows
from wizard.preflight import findings as missing_cmdlets
from wizard.readiness.needs import HostNeeds
from wizard.readiness.report import Finding, Status
from wizard.remote import psbuild
from wizard.remote.psbuild import Assign, Cmd, JsonValue, Raw
from wizard.remote.secondhop import hop_sentence

#: Lync Server 2013 needs Windows PowerShell 3.0 on every server of the topology.
MIN_POWERSHELL = (3, 0)

#: The groups §10 names for backup and restore, and why.
SERVER_ADMINS = "RTCUniversalServerAdmins"
PCHAT_ADMINS = "CsPersistentChatAdministrator"
LOCAL_ADMINS = "BUILTIN\\Administrators"


def host_script(needs: HostNeeds, shares: Sequence[str], modules: Sequence[str]) -> str:
    rows: list[psbuild.Statement] = [
        Raw("$lrRows = @()"),
        Raw("$lrRows += [pscustomobject]@{ Kind = 'version'; Version = $PSVersionTable.PSVersion.ToString() }"),
        *cmdlet_rows(needs.cmdlets),
    ]
    for share in shares:
        rows += [
            Raw("$lrOk = $true; $lrCategory = ''; $lrMessage = ''"),
            Raw("try {"),
            Assign("lrItem", Cmd("Get-Item", {"LiteralPath": share})),
            Raw("} catch {"),
            Raw("$lrOk = $false; $lrCategory = [string]$_.CategoryInfo.Category; $lrMessage = $_.Exception.Message"),
            Raw("}"),
            Raw("$lrRows += [pscustomobject]@{ Share = " + psbuild.quote(share)
                + "; Ok = $lrOk; Category = $lrCategory; Message = $lrMessage }"),
        ]
    rows += [
        Raw("$lrGroups = @(); $lrWhoami = ''"),
        Raw("try { $lrGroups = @(whoami /groups /fo csv /nh) } catch { $lrWhoami = $_.Exception.Message }"),
        Raw("$lrRows += [pscustomobject]@{ Kind = 'groups'; Lines = @($lrGroups | ForEach-Object { [string]$_ }); "
            "Error = $lrWhoami }"),
    ]
    return psbuild.script(*rows, json_result=Cmd("Write-Output", {"InputObject": psbuild.Var("lrRows")}),
                          modules=modules)


@dataclass(frozen=True)
class HostAnswer:
    """What one server said (``rows``), or why it could not be asked (``error``, and whether the
    server is down rather than refusing us)."""

    host: str
    account: str
    rows: tuple[JsonValue, ...] = ()
    error: str | None = None
    down: bool = False

    def row(self, kind: str) -> dict[str, JsonValue] | None:
        return next((r for r in self.rows if isinstance(r, dict) and r.get("Kind") == kind), None)

    def groups(self) -> list[str] | None:
        """The group names of the session's token, or None when whoami did not answer."""
        row = self.row("groups")
        if row is None or row.get("Error"):
            return None
        lines = row.get("Lines") or []
        text = "\n".join(str(x) for x in (lines if isinstance(lines, list) else [lines]))
        return [r[0] for r in csv.reader(io.StringIO(text)) if r and r[0].strip()]

    def share(self, share: str) -> dict[str, JsonValue] | None:
        return next((r for r in self.rows if isinstance(r, dict)
                     and str(r.get("Share", "")).lower() == share.lower()), None)


def _version(text: str) -> tuple[int, int] | None:
    m = re.match(r"(\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def has_group(groups: Sequence[str], name: str) -> bool:
    """``name`` is a domain group (``DOMAIN\\name``) or a full name (``BUILTIN\\Administrators``)."""
    want = name.lower()
    return any(g.lower() == want or ("\\" not in want and g.lower().rsplit("\\", 1)[-1] == want) for g in groups)


def share_problem(host: str, share: str, row: Mapping[str, JsonValue] | None) -> str | None:
    """Why ``host`` could not reach ``share`` from its WinRM session, or None when it could."""
    if row is None:
        return f"{host} did not report on {share}"
    if row.get("Ok") is True:
        return None
    if str(row.get("Category")) == "PermissionDenied":
        return hop_sentence(host, share)
    message = str(row.get("Message") or "no reason given").strip().rstrip(".")
    return f"{share} does not answer from {host}: {message}."


def host_findings(plan: Plan, needs: HostNeeds, answer: HostAnswer, locations: Sequence[tuple[str, str]],
                  pchat_export: bool) -> list[Finding]:
    """The findings of one server: PowerShell, cmdlets, shares, local Administrators. (Domain
    groups are reported once per account by the caller, from :meth:`HostAnswer.groups`.)
    ``locations``: (name, share root) of every backup location."""
    host = needs.host
    if answer.error is not None:
        return [Finding("host", host, Status.UNKNOWN,
                        f"nothing could be checked on {host}: {answer.error.rstrip('.')}.", "10")]
    out: list[Finding] = []
    version = _version(str((answer.row("version") or {}).get("Version", "")))
    if version is None:
        out.append(Finding("powershell", host, Status.UNKNOWN, f"{host} did not report its PowerShell version."))
    elif version < MIN_POWERSHELL:
        out.append(Finding("powershell", host, Status.CRITICAL,
                           f"{host} runs Windows PowerShell {version[0]}.{version[1]}; Lync Server 2013 needs 3.0 "
                           "or later (install Windows Management Framework 3.0).", facts={"version": version}))
    else:
        out.append(Finding("powershell", host, Status.OK, f"Windows PowerShell {version[0]}.{version[1]}",
                           facts={"version": f"{version[0]}.{version[1]}"}))
    if needs.cmdlets:
        lacking = missing_cmdlets(host, needs.cmdlets, answer.rows)
        out += [Finding("cmdlets", f"{host} {f.cmdlet}" + (f" -{f.parameter}" if f.parameter else ""),
                        Status.CRITICAL, f.sentence(), "8") for f in lacking]
        if not lacking:
            params = sum(len(p) for p, _ in needs.cmdlets.values())
            out.append(Finding("cmdlets", host, Status.OK,
                               f"all {len(needs.cmdlets)} cmdlets the plan's paths send it, with the {params} "
                               "parameters they use", "8"))
    if needs.reads_backups:
        readable = [name for name, root in locations if share_problem(host, root, answer.share(root)) is None]
        for name, root in locations:
            problem = share_problem(host, root, answer.share(root))
            if problem is None:
                out.append(Finding("location", f"{host} {name}", Status.OK, f"{root} answers from {host}", "3"))
                continue
            others = [n for n in readable if n != name]
            status = Status.WARNING if others else Status.CRITICAL
            tail = (f" It can still read {', '.join(others)}." if others else
                    " It can read no backup location, and its restore steps read them there.")
            out.append(Finding("location", f"{host} {name}", status, problem + tail, "3"))
    for share in sorted(needs.shares):
        problem = share_problem(host, share, answer.share(share))
        steps = ", ".join(needs.shares[share][:3])
        out.append(Finding("location", f"{host} {share}", Status.OK if problem is None else Status.CRITICAL,
                           f"{share} answers from {host}" if problem is None else f"{problem} (needed by {steps})",
                           "6.9"))
    groups = answer.groups()
    if groups is None:
        err = str((answer.row("groups") or {}).get("Error") or "no answer")
        out.append(Finding("membership", f"{host} local Administrators", Status.UNKNOWN,
                           f"whoami /groups did not answer on {host}: {err.rstrip('.')}.", "10"))
    elif has_group(groups, LOCAL_ADMINS):
        out.append(Finding("membership", f"{host} local Administrators", Status.OK,
                           f"{answer.account} is a member of {LOCAL_ADMINS} on {host}", "10"))
    else:
        out.append(Finding("membership", f"{host} local Administrators", Status.CRITICAL,
                           f"{answer.account} is not a member of {LOCAL_ADMINS} on {host}; the Deployment "
                           "Wizard, Start/Stop-CsWindowsService and Import-CsConfiguration need local "
                           "administrator rights there.", "10"))
    return out


def domain_findings(account: str, host: str, groups: Sequence[str], pchat_export: bool) -> list[Finding]:
    """The domain groups §10 asks of ``account``, as its token on ``host`` shows them."""
    wanted = [(SERVER_ADMINS, "every backup and restore command of the Lync documentation needs it (most do "
                              "not support RBAC: a CsAdministrator role alone is not enough)")]
    if pchat_export:
        wanted.append((PCHAT_ADMINS, "Export-CsPersistentChatData and Import-CsPersistentChatData need it"))
    out = []
    for group, why in wanted:
        if has_group(groups, group):
            out.append(Finding("membership", f"{account} {group}", Status.OK,
                               f"{account} is a member of {group} (token on {host})", "10"))
        else:
            out.append(Finding("membership", f"{account} {group}", Status.CRITICAL,
                               f"{account} is not a member of {group} (its token on {host}): {why}.", "10"))
    return out
