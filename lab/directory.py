"""The lab's Active Directory accounts and groups, and each Windows host's local Administrators.

§10 names what the Lync administrator needs: RTCUniversalServerAdmins for every backup and
restore command, local Administrators on the server for the Deployment Wizard and the service
cmdlets, CsPersistentChatAdministrator for the Persistent Chat exports, SQL sysadmin (kept by
each SQL instance, :attr:`lab.sqlstate.SqlInstanceState.sysadmins`). :class:`Directory` holds
the domain part: the domain's SID, each account's domain groups (``Domain Users`` plus the
universal groups Lync's forest preparation creates), and per host the accounts in its
``BUILTIN\\Administrators``. ``whoami`` (:mod:`lab.whoami`) builds the logon's token from it.

SIDs are the domain's ``S-1-5-21-a-b-c`` (derived from its DNS name, so every lab of one
plan agrees) plus a relative id: 513 for Domain Users (well known), 1100 upward for the groups
Lync setup creates and the accounts, in a fixed order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

#: the domain groups an account of the lab belongs to unless a fault says otherwise
DEFAULT_GROUPS = ("Domain Users", "RTCUniversalServerAdmins", "RTCUniversalUserAdmins",
                  "RTCUniversalReadOnlyAdmins", "CsAdministrator", "CsPersistentChatAdministrator")
#: the universal groups forest preparation creates (relative ids from 1100 in this order)
_LYNC_GROUPS = ("RTCUniversalServerAdmins", "RTCUniversalUserAdmins", "RTCUniversalReadOnlyAdmins",
                "RTCUniversalServerReadOnlyGroup", "RTCComponentUniversalServices", "CsAdministrator",
                "CsUserAdministrator", "CsServerAdministrator", "CsViewOnlyAdministrator",
                "CsPersistentChatAdministrator")
_WELL_KNOWN_RIDS = {"Domain Admins": 512, "Domain Users": 513, "Domain Computers": 515}
#: the local group every Windows host has (an alias of the BUILTIN domain)
LOCAL_ADMINISTRATORS = "Administrators"


class DirectoryError(ValueError):
    """An account or group the lab's directory does not know."""


@dataclass
class Account:
    """A domain user account."""

    name: str  # sAMAccountName as created (``lyncadmin``)
    rid: int
    groups: list[str] = field(default_factory=list)  # domain group names, in DEFAULT_GROUPS order


@dataclass
class Directory:
    """The domain's accounts and groups and each host's local Administrators."""

    netbios: str  # FABRIKAM
    dns: str  # fabrikam.lab
    accounts: dict[str, Account] = field(default_factory=dict)  # case-folded name -> account
    groups: dict[str, tuple[str, int]] = field(default_factory=dict)  # case-folded -> (name, rid)
    #: host FQDN -> case-folded account names in its local Administrators group
    local_admins: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, dns_domain: str, accounts: Iterable[str], hosts: Iterable[str]) -> Directory:
        """The lab's domain: ``accounts`` (``DOMAIN\\name`` or ``name``) in :data:`DEFAULT_GROUPS`
        and in the local Administrators of every host in ``hosts``."""
        dns = (dns_domain or "fabrikam.lab").lower()
        found = cls(netbios=dns.split(".")[0].upper(), dns=dns)
        for name, rid in _WELL_KNOWN_RIDS.items():
            found.groups[name.casefold()] = (name, rid)
        for i, name in enumerate(_LYNC_GROUPS):
            found.groups[name.casefold()] = (name, 1100 + i)
        rid = 1100 + len(_LYNC_GROUPS)
        for user in accounts:
            short = short_name(user)
            if short.casefold() in found.accounts:
                continue
            found.accounts[short.casefold()] = Account(short, rid, list(DEFAULT_GROUPS))
            rid += 1
        for host in hosts:
            found.local_admins[host.lower()] = set(found.accounts)
        return found

    @property
    def sid(self) -> str:
        """The domain's SID (``S-1-5-21-a-b-c``), fixed for a DNS name."""
        digest = hashlib.sha256(self.dns.encode()).digest()
        parts = [int.from_bytes(digest[i:i + 4], "little") % 4_000_000_000 for i in (0, 4, 8)]
        return "S-1-5-21-" + "-".join(str(p) for p in parts)

    def account(self, user: str) -> Account | None:
        """The account of a logon name (``DOMAIN\\name``, ``name@realm`` or ``name``)."""
        return self.accounts.get(short_name(user).casefold())

    def group(self, name: str) -> tuple[str, int]:
        """A domain group's name as created and its relative id (``FABRIKAM\\`` may prefix it)."""
        key = name.rsplit("\\", 1)[-1].casefold()
        if key not in self.groups:
            raise DirectoryError(f"The group {name!r} does not exist in {self.dns}.")
        return self.groups[key]

    def is_local_admin(self, user: str, host: str) -> bool:
        account = self.account(user)
        return account is not None and account.name.casefold() in self.local_admins.get(host.lower(), set())

    def remove_membership(self, user: str, group: str) -> None:
        """Take ``user`` out of a domain group, or (``Administrators``) out of every host's local
        Administrators group."""
        account = self.account(user)
        if account is None:
            raise DirectoryError(f"The account {user!r} does not exist in {self.dns}.")
        if group.rsplit("\\", 1)[-1].casefold() == LOCAL_ADMINISTRATORS.casefold():
            for members in self.local_admins.values():
                members.discard(account.name.casefold())
            return
        name, _ = self.group(group)
        account.groups = [g for g in account.groups if g.casefold() != name.casefold()]


def short_name(user: str) -> str:
    """``FABRIKAM\\lyncadmin`` / ``lyncadmin@FABRIKAM.LAB`` / ``lyncadmin`` -> ``lyncadmin``."""
    return user.rsplit("\\", 1)[-1].split("@", 1)[0]
