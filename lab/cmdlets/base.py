"""Shared plumbing of the lab's Lync cmdlets: declaration, registration, files, output objects.

A Lync cmdlet here is a :class:`LyncCmdlet`: its name, EXACTLY the parameters the domain doc's
§8 table lists (with the parameter sets it describes), how much simulated time it takes, and a
handler ``run(dep, host, inv)``. :func:`to_spec` turns it into the PowerShell interpreter's
:class:`~lab.powershell.binding.CmdletSpec` bound to one deployment and one simulated
host, so binding errors (unknown parameter, ambiguous set, missing mandatory) come from the
interpreter exactly as PowerShell would produce them.

The simulated wait happens *before* the deployment lock is taken, so a long cmdlet never
blocks the lab's SQL server threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.cmdlets.prompts import PROMPTS, confirm_impact, supports_should_process
from lab.model import LabDeployment, LabServer, LabStateError
from lab.powershell.binding import CmdletSpec, Invocation, ParamSpec, prompt_unavailable
from lab.powershell.values import PSEnum, PSObject
from lab.powershell.vfs import VFSError

Handler = Callable[[LabDeployment, str, Invocation], Iterable[Any] | None]

#: ServiceControllerStatus values (System.ServiceProcess).
SERVICE_STATUS = {"Stopped": 1, "StartPending": 2, "StopPending": 3, "Running": 4}


@dataclass(frozen=True)
class LyncCmdlet:
    """A Lync Server 2013 cmdlet as the lab implements it."""

    name: str
    params: tuple[ParamSpec, ...]
    run: Handler
    #: simulated seconds the cmdlet takes (waited before it runs)
    duration: float = 0.0
    should_process: bool = False
    impact: str = "Medium"
    default_set: str | None = None
    #: what the cmdlet waits for after its work, outside the deployment lock (e.g. a service start)
    then: Callable[[LabDeployment, str, Invocation], None] | None = None


def P(name: str, type: str = "string", *, mandatory: bool = False, set: str | None = None,
      pipeline: Any = False, position: int | None = None, choices: tuple[str, ...] = ()) -> ParamSpec:
    """Shorthand for a :class:`ParamSpec`."""
    return ParamSpec(name, type, mandatory=mandatory, position=position,  # type: ignore[arg-type]
                     pipeline=pipeline, set=set, choices=choices)


def _what_if_target(inv: Invocation, host: str) -> str:
    for name in ("Identity", "PoolFqdn", "ComputerName", "SqlServerFqdn", "TargetFqdn"):
        if inv.bound(name):
            return str(inv.get(name))
    return host


def to_spec(cmdlet: LyncCmdlet, dep: LabDeployment, host: str) -> CmdletSpec:
    """The interpreter spec of ``cmdlet`` running on ``host`` against ``dep``.

    Whether it takes -WhatIf/-Confirm and whether it asks before acting come from the table in
    :mod:`lab.cmdlets.prompts` (with its sources). A cmdlet the table makes ShouldProcess but whose
    handler does not call ``inv.should_process`` itself only says what it would do under -WhatIf.
    """
    gate_what_if = not cmdlet.should_process
    prompt = PROMPTS.get(cmdlet.name)
    asks_unless_force = prompt is not None and prompt.kind == "ShouldContinue"

    def handler(inv: Invocation) -> Iterable[Any] | None:
        if gate_what_if and inv.common.get("WhatIf"):
            inv.should_process(_what_if_target(inv, host), cmdlet.name)
            return None
        if asks_unless_force and not inv.common.get("WhatIf") and not inv.get("Force"):
            raise prompt_unavailable(inv.spec)  # ShouldContinue: only -Force stops the question
        if cmdlet.duration > 0 and not inv.common.get("WhatIf"):
            if not dep.clock.sleep(cmdlet.duration, inv.session.cancelled):
                inv.check_cancelled()
        with dep.lock:
            dep.cmdlet_log.append((host, cmdlet.name, tuple(sorted(inv.params))))
            try:
                result = cmdlet.run(dep, host, inv)
                out = list(result) if result is not None else None
            except LabStateError as exc:
                raise inv.error(f"{exc}.", "ObjectNotFound", "LabObjectNotFound") from None
        if cmdlet.then is not None:
            cmdlet.then(dep, host, inv)
        return out

    return CmdletSpec(
        name=cmdlet.name,
        params=cmdlet.params,
        handler=handler,
        supports_should_process=supports_should_process(cmdlet.name, cmdlet.should_process),
        confirm_impact=confirm_impact(cmdlet.name, cmdlet.impact),
        default_set=cmdlet.default_set,
    )


# ------------------------------------------------------------------------ helpers
def status_enum(status: str) -> PSEnum:
    return PSEnum(status, SERVICE_STATUS[status], "System.ServiceProcess.ServiceControllerStatus")


def obj(type_name: str, **props: Any) -> PSObject:
    return PSObject(list(props.items()), type_name)


def local_server(dep: LabDeployment, host: str, inv: Invocation) -> LabServer:
    """The computer the cmdlet runs on; it must have Lync installed."""
    srv = dep.server(host)
    if srv.kind != "lync" or not srv.lync_installed:
        raise inv.error(
            f"Lync Server is not installed on {srv.fqdn}: the local configuration store is "
            "missing. Run the Deployment Wizard (Bootstrapper.exe) first.",
            "InvalidOperation", "LocalStoreMissing")
    return srv


def require_cms(dep: LabDeployment, inv: Invocation) -> None:
    """Fail like Lync when the Central Management store cannot be used (§5.1.6)."""
    problem = dep.cms_problem(master=False)
    if problem is not None:
        raise inv.error(
            "Cannot connect to the Central Management store: "
            f"{problem}. Configuration cannot be read or changed until the CMS is restored "
            "or failed over.", "ResourceUnavailable", "CmsUnavailable")


def real_path(dep: LabDeployment, host: str, inv: Invocation, path: str) -> Path:
    """The lab-disk path of ``path`` as ``host`` sees it; unreachable UNC servers fail."""
    try:
        full = inv.session.fs.absolute(path)
        if not dep.paths.reachable(full, host):
            raise inv.error(f"The network path was not found: '{path}'.", "ReadError", "NetworkPathNotFound")
        if dep.paths.hop_denied(full, host):
            raise inv.error(f"Access to the path '{path}' is denied.", "PermissionDenied",
                            "UnauthorizedAccess", exception="UnauthorizedAccessException")
        return dep.paths.resolve(full, host)
    except VFSError:
        raise inv.error(f"Cannot find path '{path}' because it does not exist.", "ObjectNotFound",
                        "PathNotFound") from None


def read_file(dep: LabDeployment, host: str, inv: Invocation, path: str) -> bytes:
    real = real_path(dep, host, inv, path)
    if not real.is_file():
        raise inv.error(f"Could not find file '{path}'.", "ObjectNotFound", "FileNotFound",
                        exception="FileNotFoundException")
    return real.read_bytes()


def write_file(dep: LabDeployment, host: str, inv: Invocation, path: str, data: bytes,
               *, overwrite: bool = True) -> None:
    real = real_path(dep, host, inv, path)
    if real.exists() and not overwrite:
        raise inv.error(f"The file '{path}' already exists. Specify a file name that does not "
                        "exist.", "ResourceExists", "FileExists")
    if not real.parent.is_dir():
        raise inv.error(f"Could not find a part of the path '{path}'.", "ObjectNotFound",
                        "DirectoryNotFound", exception="DirectoryNotFoundException")
    real.write_bytes(data)


def strip_prefix(value: str, *prefixes: str) -> str:
    """``service:ApplicationServer:pool`` -> ``pool`` (any of the §11.41 spellings)."""
    text = value.strip()
    changed = True
    while changed:
        changed = False
        for prefix in prefixes:
            if text.lower().startswith(prefix.lower()):
                text = text[len(prefix):].strip()
                changed = True
    return text.lower()


def pool_arg(dep: LabDeployment, inv: Invocation, value: str) -> str:
    """A pool FQDN parameter that must name a pool of the topology."""
    fqdn = value.strip().lower()
    if fqdn not in dep.pools:
        raise inv.error(f'Cannot find pool "{value}" in the topology.', "ObjectNotFound",
                        "PoolNotFound", target=value)
    return fqdn
