"""``whoami.exe`` on the lab's Windows hosts: the logon's user name and the groups of its token.

The user is the WinRM logon's (:data:`lab.identity.SESSION`; outside a WinRM command, the lab's
administrator at the console). The token holds, in Windows' order: Everyone, the host's local
groups the account is in (``BUILTIN\\Administrators`` only where the lab's directory lists it in
that host's local Administrators, :mod:`lab.directory`), ``BUILTIN\\Users``, the logon type (a
WinRM command is a network logon: ``NT AUTHORITY\\NETWORK``), Authenticated Users, This
Organization, the account's domain groups, ``NT AUTHORITY\\NTLM Authentication`` for an NTLM
logon, and the integrity label (High for an administrator, Medium otherwise).

Supported: ``whoami``, ``/user``, ``/groups``, ``/fo table|list|csv``, ``/nh`` (table and CSV).
Any other switch (``/priv``, ``/all``, ``/upn``, ...) is refused with whoami's own message.
"""

from __future__ import annotations

from collections.abc import Sequence

from lab.directory import Directory, short_name
from lab.identity import SESSION
from lab.powershell.evaluator import NativeContext
from lab.windows import WS2008R2, release_of

_ENABLED = "Mandatory group, Enabled by default, Enabled group"
_OWNER = _ENABLED + ", Group owner"
_USAGE = 'Type "WHOAMI /?" for usage.'
_FORMATS = ("table", "list", "csv")


def _refuse(ctx: NativeContext, message: str) -> int:
    ctx.write_stderr(f"ERROR: {message}\n{_USAGE}")
    return 1


def whoami(directory: Directory, admin: str, host: str, ctx: NativeContext) -> int:
    """Run ``whoami`` with ``ctx.args`` for the current logon on ``host``."""
    logon = SESSION.get()
    user = logon.user if logon is not None else admin
    sections: list[str] = []
    fmt = "table"
    header = True
    args = list(ctx.args)
    i = 0
    while i < len(args):
        arg = args[i]
        switch = "/" + arg[1:].lower() if arg[:1] in ("/", "-") else arg.lower()
        if switch in ("/user", "/groups") and switch not in sections:
            sections.append(switch)
        elif switch == "/fo":
            if i + 1 >= len(args):
                return _refuse(ctx, f"Invalid syntax. Value expected for '{arg}'.")
            i += 1
            if args[i].lower() not in _FORMATS:
                return _refuse(ctx, f"Invalid argument/option - '{args[i]}'.")
            fmt = args[i].lower()
        elif switch == "/nh":
            header = False
        else:
            return _refuse(ctx, f"Invalid argument/option - '{arg}'.")
        i += 1
    if not sections:
        if args:  # /fo or /nh alone: nothing to format
            return _refuse(ctx, f"Invalid argument/option - '{args[0]}'.")
        ctx.write_stdout(_display_name(directory, user))
        return 0
    if not header and fmt == "list":
        return _refuse(ctx, f"Invalid argument/option - '{next(a for a in args if a.lower()[1:] == 'nh')}'.")
    out: list[str] = []
    columns: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    for section in sections:
        if section == "/user":
            title = "USER INFORMATION"
            columns = ("User Name", "SID")
            rows = [(_display_name(directory, user), _user_sid(directory, user))]
        else:
            title = "GROUP INFORMATION"
            columns = ("Group Name", "Type", "SID", "Attributes")
            rows = token_groups(directory, user, host, logon.method if logon is not None else None)
        if out:
            out.append("")
        out += _format(title, columns, rows, fmt, header)
    ctx.write_stdout("\n".join(out))
    return 0


def token_groups(directory: Directory, user: str, host: str,
                 method: str | None) -> list[tuple[str, str, str, str]]:
    """The groups of ``user``'s token on ``host`` as whoami lists them (name, type, SID,
    attributes); ``method``: the WinRM logon's authentication, None at the console."""
    account = directory.account(user)
    admin = directory.is_local_admin(user, host)
    rows = [("Everyone", "Well-known group", "S-1-1-0", _ENABLED)]
    if admin:
        rows.append(("BUILTIN\\Administrators", "Alias", "S-1-5-32-544", _OWNER))
    rows.append(("BUILTIN\\Users", "Alias", "S-1-5-32-545", _ENABLED))
    if method is not None:
        rows.append(("NT AUTHORITY\\NETWORK", "Well-known group", "S-1-5-2", _ENABLED))
    else:
        rows.append(("NT AUTHORITY\\INTERACTIVE", "Well-known group", "S-1-5-4", _ENABLED))
        if release_of(host) != WS2008R2:  # CONSOLE LOGON: Windows Server 2012 onwards
            rows.append(("CONSOLE LOGON", "Well-known group", "S-1-2-1", _ENABLED))
    rows.append(("NT AUTHORITY\\Authenticated Users", "Well-known group", "S-1-5-11", _ENABLED))
    rows.append(("NT AUTHORITY\\This Organization", "Well-known group", "S-1-5-15", _ENABLED))
    if method is None:
        rows.append(("LOCAL", "Well-known group", "S-1-2-0", _ENABLED))
    for name in account.groups if account is not None else ():
        group, rid = directory.group(name)
        rows.append((f"{directory.netbios}\\{group}", "Group", f"{directory.sid}-{rid}", _ENABLED))
    if method == "ntlm":
        rows.append(("NT AUTHORITY\\NTLM Authentication", "Well-known group", "S-1-5-64-10", _ENABLED))
    if admin:
        rows.append(("Mandatory Label\\High Mandatory Level", "Label", "S-1-16-12288", ""))
    else:
        rows.append(("Mandatory Label\\Medium Mandatory Level", "Label", "S-1-16-8192", ""))
    return rows


def _display_name(directory: Directory, user: str) -> str:
    """``domain\\user`` in lower case, as whoami prints it."""
    account = directory.account(user)
    name = account.name if account is not None else short_name(user)
    return f"{directory.netbios}\\{name}".lower()


def _user_sid(directory: Directory, user: str) -> str:
    account = directory.account(user)
    return f"{directory.sid}-{account.rid}" if account is not None else f"{directory.sid}-500"


def _format(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], fmt: str,
            header: bool) -> list[str]:
    if fmt == "csv":
        lines = [",".join(f'"{c}"' for c in columns)] if header else []
        return lines + [",".join(f'"{v}"' for v in row) for row in rows]
    lines = ["", title, "-" * len(title), ""]
    if fmt == "list":
        width = max(len(c) for c in columns) + 1
        for n, row in enumerate(rows):
            if n:
                lines.append("")
            lines += [f"{c + ':':<{width}} {v}" for c, v in zip(columns, row, strict=True)]
        return lines
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    if header:
        lines.append(" ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
        lines.append(" ".join("=" * w for w in widths))
    lines += [" ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    return lines
