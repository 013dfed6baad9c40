"""Recognising the *second hop*: a WinRM session that cannot reach another server's share.

Windows gives a network logon no credentials to present to a third machine. A session that
authenticated with NTLM, or with Kerberos whose ticket was not forwarded, is denied every other
server's share: ``Get-ChildItem`` says "Access is denied", .NET "Access to the path '\\\\...' is
denied.", robocopy "ERROR 5 (0x00000005) ... Access is denied." The file is there; only this
session cannot reach it. Reporting that as a missing file or a failed restore would send the
operator after the wrong problem, so the catalogue and the step engine ask :func:`denied_unc`
and say :func:`hop_sentence` instead: what happened, where, and the ways out.
"""

from __future__ import annotations

import re

_DENIED = (
    re.compile(r"Access to the path '(?P<path>\\\\[^']+)' is denied", re.I),
    re.compile(r"ERROR 5 \(0x00000005\) Accessing (?:Source|Destination) Directory (?P<path>\\\\\S+)", re.I),
)
_PLAIN_DENIED = re.compile(r"\bAccess is denied\b", re.I)
_UNC = re.compile(r"\\\\[A-Za-z0-9._-]+\\[^\s'\":()]+")  # as PowerShell prints it: ends at ":String)"


def _server(unc: str) -> str:
    return unc[2:].split("\\", 1)[0].lower()


def _same_host(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    return a == b or (a.split(".", 1)[0] == b.split(".", 1)[0] and ("." not in a or "." not in b))


def denied_unc(host: str, text: str, candidates: tuple[str, ...] = ()) -> str | None:
    """The UNC path on *another* server that ``host`` was denied, as its output says; None when
    the output shows no such denial. ``candidates``: the UNC paths the command used, for outputs
    that say only "Access is denied" (Get-ChildItem)."""
    for pattern in _DENIED:
        for match in pattern.finditer(text):
            path = match.group("path").rstrip("\\")
            if not _same_host(_server(path), host):
                return path
    if _PLAIN_DENIED.search(text):
        named = [m.group(0) for m in _UNC.finditer(text)] + list(candidates)
        for path in named:
            if path.startswith("\\\\") and not _same_host(_server(path), host):
                return path.rstrip("\\")
    return None


def hop_sentence(host: str, unc: str, *, reading: bool = False, probing: bool = False) -> str:
    """One sentence: ``host`` was denied ``unc`` on the second hop, and the choices.
    ``reading``: a backup location being listed, where two more ways exist (reading through the
    share's own server, or a mount on the wizard's machine); ``probing``: an assessment probe,
    which cannot tell whether the share is there."""
    server = _server(unc)
    ways = [f"CredSSP for {host} (connections.hosts.{host}.winrm.auth: credssp)",
            f"Kerberos delegation ({host} trusted for delegation in Active Directory, and winrm "
            "delegate: true)"]
    if reading:
        ways += [f"reading through a host that has the share locally (read_via: {server})",
                 "a mount of the share on this machine (local_path)"]
    else:
        ways += [f"copying the file to {host} first"]
    what = (f"{unc} could not be checked from {host}, which was denied access to it" if probing
            else f"{host} was denied access to {unc} although the share is there")
    return (f"{what}: a WinRM session authenticated with NTLM, or with Kerberos without "
            "delegation, cannot reach another server's share (the second hop); choose "
            f"{', '.join(ways[:-1])} or {ways[-1]}.")


def hops_sentence(denials: list[tuple[str, str]]) -> str:
    """One sentence for several backup locations each denied to the host listing it."""
    if len(denials) == 1:
        return hop_sentence(*denials[0], reading=True)
    pairs = [f"{host} {unc}" for host, unc in denials]
    return (f"Every backup location was denied to the host listing it ({', '.join(pairs[:-1])} and "
            f"{pairs[-1]}) although the shares are there: a WinRM session authenticated with NTLM, or "
            "with Kerberos without delegation, cannot reach another server's share (the second hop); "
            "choose CredSSP for those hosts (winrm auth: credssp), Kerberos delegation (the hosts "
            "trusted for delegation in Active Directory, and winrm delegate: true), reading through "
            "the share's own server (read_via) or a mount of the shares on this machine (local_path).")

