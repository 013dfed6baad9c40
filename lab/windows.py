"""The Windows release of each simulated host, and the Windows PowerShell it runs.

Lync Server 2013 runs on Windows Server 2008 R2 SP1, 2012 and 2012 R2, and needs Windows
PowerShell 3.0 on every server of the topology: 2012 includes 3.0, 2012 R2 includes 4.0 (the
Windows PowerShell system requirements), and 2008 R2 SP1 gets 3.0 from Windows Management
Framework 3.0, installed as a prerequisite ("Installing Windows PowerShell 3.0 for Lync Server
2013", JJ205328, v-hearya/OfficeDocs-SkypeforBusiness-Test-pr
``server-2013/lync-server-2013-installing-windows-powershell-3-0.md``).

The bundled lab (``plans/lab.yaml``, ``plans/lab-se-cms.yaml``) mixes them on purpose, so the
wizard meets both a 3.0 and a 4.0 host: fe01, the host that reads the HQ backup vault and hashes
the catalogue's files (``read_via``), is a 2008 R2 SP1 server with WMF 3.0; fe11, which reads the
DR vault, is 2012 R2. A host the table does not name (other plans) is 2012 R2.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WindowsRelease:
    name: str
    #: the Windows PowerShell version a Lync Server 2013 host of this release runs
    powershell: str


WS2008R2 = WindowsRelease("Windows Server 2008 R2 SP1 (WMF 3.0)", "3.0")
WS2012 = WindowsRelease("Windows Server 2012", "3.0")
WS2012R2 = WindowsRelease("Windows Server 2012 R2", "4.0")

DEFAULT = WS2012R2

#: The bundled lab's hosts (FQDNs are compared in lower case).
HOSTS: dict[str, WindowsRelease] = {
    # pool1 (HQ, the CMS pool): one host per release
    "fe01.fabrikam.lab": WS2008R2,
    "fe02.fabrikam.lab": WS2012,
    "fe03.fabrikam.lab": WS2012R2,
    # pool2 (DR, paired with pool1)
    "fe11.fabrikam.lab": WS2012R2,
    "fe12.fabrikam.lab": WS2008R2,
    "fe13.fabrikam.lab": WS2012,
    # pool3 (DR)
    "fe21.fabrikam.lab": WS2012,
    "fe22.fabrikam.lab": WS2012R2,
    "fe23.fabrikam.lab": WS2012R2,
    "se01.fabrikam.lab": WS2008R2,
    "edge01.fabrikam.lab": WS2012,
    "pchat01.fabrikam.lab": WS2012R2,
    "sql01.fabrikam.lab": WS2012,
    "sql02.fabrikam.lab": WS2012,
    "sql11.fabrikam.lab": WS2008R2,
}


def release_of(fqdn: str) -> WindowsRelease:
    return HOSTS.get(fqdn.lower(), DEFAULT)


def powershell_version(fqdn: str) -> str:
    """The Windows PowerShell version ``fqdn`` runs (``$PSVersionTable.PSVersion``)."""
    return release_of(fqdn).powershell


__all__ = ["DEFAULT", "HOSTS", "WindowsRelease", "powershell_version", "release_of"]
