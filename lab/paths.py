"""Where the lab keeps the files of its simulated Windows machines.

The lab's servers are simulated, but their files are real: backup sets are real zip and .bak
files, file store shares are real folders that robocopy fills. This module decides where a
Windows path lives on the lab's disk so that every simulated host, the SQL engine and the tests
agree:

* ``C:\\Logs\\x.zip`` seen from host ``fe01.fabrikam.lab`` ->
  ``<state>/disk/hosts/fe01.fabrikam.lab/c/Logs/x.zip`` (each host has its own drives);
* ``\\\\bk01\\LyncBackup\\set`` or ``\\\\bk01.fabrikam.lab\\LyncBackup\\set`` (from any host) ->
  ``<state>/disk/unc/bk01.fabrikam.lab/LyncBackup/set`` (short names are expanded to the FQDN
  the deployment knows, so both spellings reach the same folder);
* an administrative share ``\\\\fe01\\c$\\Logs`` -> that host's ``c`` drive.

Names compare case-insensitively like NTFS. :class:`LabFS` plugs this mapping into the
PowerShell interpreter's :class:`~lab.powershell.vfs.VirtualFS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from lab.identity import second_hop_denied
from lab.powershell.vfs import AccessDenied, VFSError, VirtualFS, walk_case_insensitive

_DRIVE = re.compile(r"^([A-Za-z]):(?:[\\/]|$)")
_ADMIN_SHARE = re.compile(r"^([A-Za-z])\$$")


class LabPaths:
    """Maps Windows paths to folders under ``<state_dir>/disk``; knows the hosts' FQDNs."""

    def __init__(self, state_dir: Path, hosts: Iterable[str] = ()) -> None:
        self.root = Path(state_dir) / "disk"
        self.root.mkdir(parents=True, exist_ok=True)
        self._fqdn: dict[str, str] = {}
        #: set by the deployment: is this server down? Its shares then answer as Windows does
        #: for a machine that is gone ("The network path was not found", error 53)
        self.is_down: Callable[[str], bool] = lambda fqdn: False
        #: set by the deployment: is SMB from a host to a server dropped (host, server)? Its shares
        #: then answer that host as a server that is not there, and every other host as usual
        self.is_blocked: Callable[[str, str], bool] = lambda host, server: False
        for host in hosts:
            self.add_host(host)

    def add_host(self, fqdn: str) -> None:
        low = fqdn.lower()
        self._fqdn[low] = low
        self._fqdn.setdefault(low.split(".", 1)[0], low)

    def fqdn(self, name: str) -> str:
        """The FQDN for a short or full host name (unknown names are kept, lower-cased)."""
        return self._fqdn.get(name.lower(), name.lower())

    def resolve(self, path: str, host: str | None = None) -> Path:
        """The real path for ``path`` as seen from ``host`` (needed for drive-letter paths).

        Raises :class:`VFSError` for a malformed path or a local path without a host.
        """
        full = VirtualFS.normalize(path)
        if full.startswith("\\\\"):
            parts = full[2:].split("\\")
            if len(parts) < 2 or not parts[0] or not parts[1]:
                raise VFSError(f"The UNC path '{full}' has no share name.")
            server = self.fqdn(parts[0])
            admin = _ADMIN_SHARE.match(parts[1])
            segments = ["hosts", server, admin.group(1).lower(), *parts[2:]] if admin else ["unc", server, *parts[1:]]
        else:
            match = _DRIVE.match(full)
            if not match:
                raise VFSError(f"The path '{path}' is not a Windows path.")
            if host is None:
                raise VFSError(f"The path '{path}' is local to a host; no host was given.")
            rest = [p for p in full[3:].split("\\") if p]
            segments = ["hosts", self.fqdn(host), match.group(1).lower(), *rest]
        return walk_case_insensitive(self.root, segments, path)

    def reachable(self, path: str, host: str | None = None) -> bool:
        """False for a UNC path whose server is down or, seen from ``host``, whose server that
        host cannot reach over SMB (local paths are always reachable)."""
        full = path.replace("/", "\\")
        if not full.startswith("\\\\"):
            return True
        server = self.fqdn(full[2:].split("\\", 1)[0])
        if self.is_down(server):
            return False
        return host is None or not self.is_blocked(self.fqdn(host), server)

    def hop_denied(self, path: str, host: str) -> bool:
        """Is ``path`` another server's share that the WinRM logon running on ``host`` may not
        reach (NTLM, or Kerberos without a forwarded ticket: :mod:`lab.identity`)?"""
        return second_hop_denied(path, host, self.fqdn)

    def unc(self, server: str, share: str, *rest: str) -> Path:
        """The folder of ``\\\\server\\share\\rest...``."""
        return self.resolve("\\\\" + "\\".join([server, share, *rest]))

    def windows_path(self, real: Path, host: str | None = None) -> str:
        """The Windows path of a real path under the root (as ``host`` would write it)."""
        rel = real.relative_to(self.root).parts
        if len(rel) >= 3 and rel[0] == "unc":
            return "\\\\" + "\\".join(rel[1:])
        if len(rel) >= 3 and rel[0] == "hosts":
            drive = rel[2].upper()
            tail = "\\".join(rel[3:])
            if host is not None and self.fqdn(host) == rel[1]:
                return f"{drive}:\\{tail}"
            return f"\\\\{rel[1]}\\{rel[2]}$" + (f"\\{tail}" if tail else "")
        raise VFSError(f"'{real}' is not a lab path.")

    def resolver_for(self, host: str) -> Callable[[str], Path | None]:
        """A ``resolve_path`` callback for a SQL engine running on ``host`` (None = unusable)."""

        def resolve(path: str) -> Path | None:
            if not self.reachable(path, host):
                return None  # the SQL Server reports operating system error 53 as for any bad path
            try:
                return self.resolve(path, host)
            except VFSError:
                return None

        return resolve


class LabFS(VirtualFS):
    """The interpreter's file system for one simulated host, backed by :class:`LabPaths`."""

    def __init__(self, paths: LabPaths, host: str, cwd: str = "C:\\Users\\Administrator") -> None:
        self.paths = paths
        self.host = paths.fqdn(host)
        super().__init__(paths.root, cwd)

    def real(self, path: str) -> Path:
        full = self.absolute(path)
        if not self.paths.reachable(full, self.host):
            raise VFSError(f"The network path was not found: '{path}'.")
        if self.paths.hop_denied(full, self.host):
            raise AccessDenied(f"Access to the path '{path}' is denied.")
        return self.paths.resolve(full, self.host)

    def windows_path(self, real: Path) -> str:
        return self.paths.windows_path(real, self.host)
