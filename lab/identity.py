"""Who a simulated host is acting for, and whether that logon can reach another host's share.

Windows gives a remote (network) logon no credentials of its own to present to a third machine:
a WinRM session authenticated with NTLM, or with Kerberos whose ticket was not forwarded, is
denied access to any other host's share ("Access is denied": the *second hop*). A session that
holds the user's credentials can go on: CredSSP hands the password to the host, and Kerberos
forwards the ticket-granting ticket when the host's account is trusted for delegation (the KDC
flags its tickets OK-AS-DELEGATE and the client forwards by policy).

The WinRM listener sets :data:`SESSION` for the thread that runs a command; the file system,
the native programs and the Lync cmdlets ask :func:`second_hop_denied` before touching a UNC
path. Outside a WinRM command (the lab's own hands at the console, the SQL Server service, which
reads backups as its own service account) nothing is set and access is as the lab's disk allows.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class NetworkLogon:
    """The logon a WinRM command runs under."""

    user: str
    method: str  # "ntlm", "kerberos", "credssp", "basic"
    delegated: bool  # the host holds credentials it can present to another machine

    @property
    def may_hop(self) -> bool:
        return self.delegated


SESSION: ContextVar[NetworkLogon | None] = ContextVar("lab_network_logon", default=None)


def unc_server(path: str) -> str | None:
    """The server of a UNC path (as written), or None for a local path."""
    full = path.replace("/", "\\")
    if not full.startswith("\\\\"):
        return None
    return full[2:].split("\\", 1)[0] or None


def second_hop_denied(path: str, host_fqdn: str, fqdn_of: Callable[[str], str]) -> bool:
    """Would the current WinRM logon be denied ``path`` on ``host_fqdn``? True for a UNC path on
    another server when the logon holds no credentials it could forward."""
    logon = SESSION.get()
    if logon is None or logon.may_hop:
        return False
    server = unc_server(path)
    return server is not None and fqdn_of(server) != fqdn_of(host_fqdn)
