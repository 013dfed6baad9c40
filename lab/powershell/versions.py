"""Windows PowerShell versions: what ``$PSVersionTable`` says and what each version lacks.

A :class:`~lab.powershell.host.PowerShellHost` runs one version (``ps_version``: ``"3.0"``,
``"4.0"`` or ``"5.1"``, the default for the bare interpreter). What came later is refused the way
the older version refuses it, because it is simply not there:

- a command introduced later is unknown: "The term 'Get-FileHash' is not recognized as the name of
  a cmdlet, function, script file, or operable program. ..." (CommandNotFoundException);
- a parameter introduced later does not bind: "A parameter cannot be found that matches parameter
  name 'NoNewline'." (NamedParameterNotFound), common parameters included.

Sources (Microsoft's "What's New in Windows PowerShell" pages for 4.0 and 5.0, and the versioned
cmdlet references): Get-FileHash and the ``-PipelineVariable`` common parameter arrive in 4.0;
``-NoNewline`` of Set-Content/Add-Content/Out-File and ``-InformationAction``/
``-InformationVariable`` in 5.0 (the 2.0-4.0 syntax of Set-Content has no -NoNewline).
Everything else the interpreter offers already exists in 3.0: ConvertTo-Json/ConvertFrom-Json,
``Get-Content -Raw``, ``Get-ChildItem -File/-Directory``, ``[pscustomobject]``, ``[ordered]``,
member enumeration, ``$PSItem``, ``-in``/``-notin``. The interpreter has no ``class``, ``enum``,
``using``, ``::new()`` or ``.ForEach()``/``.Where()`` at all, so those fail on every version.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from lab.powershell.binding import CmdletSpec
from lab.powershell.values import Hashtable, PSObject


@dataclass(frozen=True)
class PSVersionInfo:
    """One Windows PowerShell release as ``$PSVersionTable`` reports it."""

    version: tuple[int, int, int, int]  # Major, Minor, Build, Revision (-1: not set)
    build_version: str
    clr_version: str
    wsman_stack: str
    edition: str | None  # PSEdition exists from 5.1 on

    @property
    def major_minor(self) -> tuple[int, int]:
        return self.version[0], self.version[1]

    def text(self) -> str:
        return ".".join(str(part) for part in self.version if part >= 0)


#: The versions a Lync Server 2013 host can run, and the interpreter's own default (5.1).
#: 3.0 ships with Windows Server 2012 and comes with WMF 3.0 on 2008 R2 SP1 (build 6.2.9200);
#: 4.0 ships with Windows Server 2012 R2 (build 6.3.9600).
VERSIONS: dict[str, PSVersionInfo] = {
    "3.0": PSVersionInfo((3, 0, -1, -1), "6.2.9200.16398", "4.0.30319.34209", "3.0", None),
    "4.0": PSVersionInfo((4, 0, -1, -1), "6.3.9600.17400", "4.0.30319.34209", "3.0", None),
    "5.1": PSVersionInfo((5, 1, 14393, 0), "10.0.14393.0", "4.0.30319.42000", "3.0", "Desktop"),
}

#: Commands newer than 3.0 (the oldest version a Lync Server 2013 host runs).
COMMAND_SINCE: dict[str, tuple[int, int]] = {"get-filehash": (4, 0)}
#: (command, parameter) pairs newer than 3.0.
PARAMETER_SINCE: dict[tuple[str, str], tuple[int, int]] = {
    ("set-content", "nonewline"): (5, 0),
    ("add-content", "nonewline"): (5, 0),
}
#: Common parameters newer than 3.0.
COMMON_SINCE: dict[str, tuple[int, int]] = {
    "PipelineVariable": (4, 0), "InformationAction": (5, 0), "InformationVariable": (5, 0),
}
#: Built-ins that Windows PowerShell ships as functions, not cmdlets (Get-Command's CommandType).
FUNCTIONS = frozenset({"get-filehash"})


def version_info(name: str) -> PSVersionInfo:
    try:
        return VERSIONS[name]
    except KeyError:
        raise ValueError(f"unknown Windows PowerShell version {name!r} "
                         f"(one of {', '.join(VERSIONS)})") from None


def version_object(info: PSVersionInfo) -> PSObject:
    """A System.Version: ``.Major``, ``.Minor``; prints as ``3.0`` or ``5.1.14393.0``."""
    major, minor, build, revision = info.version
    return PSObject([("Major", major), ("Minor", minor), ("Build", build), ("Revision", revision)],
                    type_name="System.Version", text=info.text())


def version_table(info: PSVersionInfo) -> Hashtable:
    """``$PSVersionTable`` as that version fills it."""
    compatible = [f"{major}.0" for major in range(1, info.version[0] + 1)]
    rows: list[tuple[str, object]] = [("PSVersion", version_object(info))]
    if info.edition is not None:
        rows.append(("PSEdition", info.edition))
    rows += [
        ("WSManStackVersion", info.wsman_stack),
        ("SerializationVersion", "1.1.0.1"),
        ("CLRVersion", info.clr_version),
        ("BuildVersion", info.build_version),
        ("PSCompatibleVersions", compatible),
        ("PSRemotingProtocolVersion", "2.2" if info.version[0] < 5 else "2.3"),
    ]
    return Hashtable(rows)


def available(specs: Iterable[CmdletSpec], info: PSVersionInfo) -> list[CmdletSpec]:
    """``specs`` as ``info``'s version has them: later commands left out, later parameters removed."""
    have = info.major_minor
    out: list[CmdletSpec] = []
    for spec in specs:
        key = spec.name.lower()
        if COMMAND_SINCE.get(key, (0, 0)) > have:
            continue
        params = [p for p in spec.params
                  if PARAMETER_SINCE.get((key, p.name.lower()), (0, 0)) <= have]
        out.append(spec if len(params) == len(spec.params) else dataclasses.replace(spec, params=params))
    return out


def too_new_common(common: Iterable[str], info: PSVersionInfo) -> list[str]:
    """The bound common parameters ``info``'s version does not have."""
    return [name for name in common if COMMON_SINCE.get(name, (0, 0)) > info.major_minor]


__all__ = ["COMMAND_SINCE", "COMMON_SINCE", "FUNCTIONS", "PARAMETER_SINCE", "VERSIONS",
           "PSVersionInfo", "available", "too_new_common", "version_info", "version_object",
           "version_table"]
