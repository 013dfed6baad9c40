"""The Lync Server 2013 cmdlets of the lab, registered with the PowerShell interpreter.

``lync_cmdlets(dep, host)`` gives the :class:`~lab.powershell.binding.CmdletSpec` list
for one simulated host. Only cmdlets and parameters listed in the domain doc (§6, §7.2, §8)
exist: anything else fails as PowerShell does ("is not recognized as the name of a cmdlet",
"A parameter cannot be found that matches parameter name"). ``Start-CsPool`` in particular does
not exist in Lync 2013.
"""

from __future__ import annotations

from lab.cmdlets import backupsvc, cms, data, databases, moves, pools, services
from lab.cmdlets.base import LyncCmdlet, to_spec
from lab.model import LabDeployment
from lab.powershell.binding import CmdletSpec

ALL_CMDLETS: tuple[LyncCmdlet, ...] = (
    *services.CMDLETS, *cms.CMDLETS, *databases.CMDLETS, *pools.CMDLETS, *data.CMDLETS,
    *moves.CMDLETS, *backupsvc.CMDLETS,
)


def lync_cmdlets(dep: LabDeployment, host: str) -> list[CmdletSpec]:
    """Every lab Lync cmdlet, acting on ``dep`` as if run on ``host``."""
    return [to_spec(c, dep, host) for c in ALL_CMDLETS]


__all__ = ["ALL_CMDLETS", "LyncCmdlet", "lync_cmdlets"]
