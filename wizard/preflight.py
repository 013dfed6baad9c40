"""Pre-flight before the first change of an incident (#18 item 2): does every server have every
cmdlet and every parameter the composed procedure will ask of it?

A missing cumulative update or a parameter that server's Lync release does not know, found half
way through a restore, leaves a half-changed estate. So before the first step runs, each server
that will run commands is asked once (``Get-Command`` there, for every cmdlet the procedure sends
it) and what it lacks is named: server, cmdlet, parameter. Only commands the wizard builds from
the domain doc's cmdlet table are checked (script text written out by hand is not parsed), and
native programs (robocopy) are not cmdlets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from wizard.procedures.model import Check, PsCommand, Step
from wizard.remote import psbuild
from wizard.remote.psbuild import Assign, Cmd, JsonValue, Pipeline, Raw
from wizard.remote.secondhop import hop_sentence

#: PowerShell's common parameters (and ShouldProcess's): every cmdlet takes them
COMMON = frozenset({"verbose", "debug", "erroraction", "warningaction", "informationaction", "errorvariable",
                    "warningvariable", "informationvariable", "outvariable", "outbuffer", "pipelinevariable",
                    "whatif", "confirm"})


@dataclass(frozen=True)
class Finding:
    """One thing a server lacks: a cmdlet (``parameter`` None) or one of its parameters."""

    host: str
    cmdlet: str
    parameter: str | None
    steps: tuple[str, ...]

    def sentence(self) -> str:
        used = f" (needed by {', '.join(self.steps[:3])}{' and more' if len(self.steps) > 3 else ''})"
        if self.parameter is None:
            return (f"{self.host} has no cmdlet {self.cmdlet}{used}: install the Lync Server 2013 "
                    "administrative tools and its cumulative updates there, or run the step elsewhere.")
        return (f"{self.host}: {self.cmdlet} has no parameter -{self.parameter}{used}: that server's "
                "Lync cmdlets are older than the procedure expects; apply the cumulative update there.")


def _cmds(statement: object) -> Iterable[Cmd]:
    if isinstance(statement, Cmd):
        yield statement
    elif isinstance(statement, Pipeline):
        yield from statement.cmds
    elif isinstance(statement, Assign) and isinstance(statement.value, Cmd | Pipeline):
        yield from _cmds(statement.value)
    elif isinstance(statement, Raw):
        return


def _commands(step: Step) -> Iterable[PsCommand]:
    checks: list[Check | None] = [step.only_if, step.already_done, *step.requires, *step.post_checks]
    for command in (*step.commands, *(c.command for c in checks if c is not None)):
        if isinstance(command, PsCommand):
            yield command


def commands_used(steps: Sequence[Step]) -> dict[str, dict[str, tuple[set[str], list[str]]]]:
    """host -> cmdlet -> (the parameters used, the steps that use it)."""
    out: dict[str, dict[str, tuple[set[str], list[str]]]] = {}
    for step in steps:
        for command in _commands(step):
            statements = [*command.statements, *([command.json_result] if command.json_result else [])]
            for statement in statements:
                for cmd in _cmds(statement):
                    if "-" not in cmd.name:  # a native program (robocopy), not a cmdlet
                        continue
                    params, users = out.setdefault(command.host.lower(), {}).setdefault(cmd.name, (set(), []))
                    params.update(cmd.params)
                    if step.id not in users:
                        users.append(step.id)
    return out


def _share_of(value: object) -> Iterable[str]:
    """The share roots (``\\\\server\\share``) a parameter value names."""
    for item in value if isinstance(value, list | tuple) else [value]:
        if isinstance(item, str) and item.startswith("\\\\"):
            parts = item[2:].split("\\")
            if len(parts) >= 2 and parts[0] and parts[1] and not parts[1].endswith("$"):
                yield f"\\\\{parts[0]}\\{parts[1]}"


def shares_used(steps: Sequence[Step]) -> dict[str, dict[str, list[str]]]:
    """host -> the shares of other servers its commands name -> the steps that name them: where a
    WinRM session must make the second hop (secondhop.py)."""
    out: dict[str, dict[str, list[str]]] = {}
    for step in steps:
        for command in _commands(step):
            statements = [*command.statements, *([command.json_result] if command.json_result else [])]
            for statement in statements:
                for cmd in _cmds(statement):
                    for value in (*cmd.params.values(), *cmd.positional):
                        for share in _share_of(value):
                            server = share[2:].split("\\")[0].lower()
                            if server.split(".")[0] == command.host.lower().split(".")[0]:
                                continue  # its own share: no second hop
                            users = out.setdefault(command.host.lower(), {}).setdefault(share, [])
                            if step.id not in users:
                                users.append(step.id)
    return out


def cmdlet_rows(cmdlets: Iterable[str]) -> list[psbuild.Statement]:
    """Statements adding one row to ``$lrRows`` per cmdlet: whether ``Get-Command`` finds it
    there, and its parameters' names (read back by :func:`findings`)."""
    rows: list[psbuild.Statement] = []
    for name in sorted(cmdlets):
        rows += [
            Assign("lrInfo", Cmd("Get-Command", {"Name": name, "ErrorAction": "SilentlyContinue"})),
            Raw("$lrRows += [pscustomobject]@{ Cmdlet = " + psbuild.quote(name)
                + "; Found = [bool]$lrInfo; Parameters = @(if ($lrInfo) { $lrInfo.Parameters.Keys }) }"),
        ]
    return rows


def preflight_command(host: str, cmdlets: Iterable[str], modules: Sequence[str] = ("Lync",),
                      shares: Iterable[str] = ()) -> str:
    """One script for ``host``: each cmdlet, whether it exists there and its parameters' names;
    each share, whether this session is denied it (the second hop)."""
    rows = cmdlet_rows(cmdlets)
    for share in sorted(shares):
        rows += [
            Raw("$lrDenied = $false"),
            Raw("try {"),
            Assign("lrItem", Cmd("Get-Item", {"LiteralPath": share})),
            Raw("} catch {"),
            Raw("if ($_.CategoryInfo.Category -eq 'PermissionDenied') { $lrDenied = $true }"),
            Raw("}"),
            Raw("$lrRows += [pscustomobject]@{ Share = " + psbuild.quote(share) + "; Denied = $lrDenied }"),
        ]
    return psbuild.script(Raw("$lrRows = @()"), *rows,
                          json_result=Cmd("Write-Output", {"InputObject": psbuild.Var("lrRows")}), modules=modules)


def findings(host: str, used: Mapping[str, tuple[set[str], list[str]]], rows: Sequence[JsonValue]) -> list[Finding]:
    """What ``host`` lacks of ``used``, from its pre-flight rows (a cmdlet with no row is missing)."""
    seen: dict[str, tuple[bool, set[str]]] = {}
    for row in rows:
        if isinstance(row, dict):
            given = row.get("Parameters") or []
            names = {str(p).lower() for p in (given if isinstance(given, list) else [given])}
            seen[str(row.get("Cmdlet", "")).lower()] = (row.get("Found") is True, names)
    out: list[Finding] = []
    for cmdlet, (params, steps) in sorted(used.items()):
        found, known = seen.get(cmdlet.lower(), (False, set()))
        if not found:
            out.append(Finding(host, cmdlet, None, tuple(steps)))
            continue
        out += [Finding(host, cmdlet, p, tuple(steps)) for p in sorted(params)
                if p.lower() not in known and p.lower() not in COMMON]
    return out


def denied_shares(host: str, shares: Mapping[str, Sequence[str]], rows: Sequence[JsonValue]) -> list[str]:
    """One sentence per share ``host``'s session was denied (a share that is not there yet, made by
    an earlier step, is no finding: only a denial is)."""
    denied = {str(r.get("Share", "")).lower() for r in rows if isinstance(r, dict) and r.get("Denied") is True}
    return [f"{hop_sentence(host, share)} (needed by {', '.join(shares[share][:3])})" for share in sorted(shares)
            if share.lower() in denied]

