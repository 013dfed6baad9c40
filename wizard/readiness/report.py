"""What the readiness audit found, and the three ways it is told: a table for people, JSON for
programs, one Nagios status line for a monitoring system.

Every finding has a status with the Nagios plugin meaning (exit codes 0 OK, 1 WARNING,
2 CRITICAL, 3 UNKNOWN, from the Nagios Plugin API / Monitoring Plugins development
guidelines). A check that could not be made is UNKNOWN with the reason, never OK. The audit's
status is the worst of its findings, where UNKNOWN ranks between WARNING and CRITICAL: readiness
that could not be established is worse than a known, tolerable problem, but a known failure is
worse still.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


class Status(enum.IntEnum):
    """Nagios plugin return codes."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def rank(self) -> int:
        return {Status.OK: 0, Status.WARNING: 1, Status.UNKNOWN: 2, Status.CRITICAL: 3}[self]


def worst(statuses: Sequence[Status]) -> Status:
    return max(statuses, key=lambda s: s.rank, default=Status.OK)


@dataclass(frozen=True)
class Finding:
    """One check's outcome. ``check`` is the kind (``backups``, ``integrity``, ``location``,
    ``membership``, ``quorum``, ``powershell``, ``cmdlets``, ``host``, ``sql``); ``subject`` what it
    is about (a location and component, a server, an account); ``section`` the domain reference
    section that asks for it."""

    check: str
    subject: str
    status: Status
    message: str
    section: str = ""
    facts: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"check": self.check, "subject": self.subject, "status": self.status.name,
                               "message": self.message}
        if self.section:
            out["section"] = self.section
        if self.facts:
            out["facts"] = self.facts
        return out


@dataclass(frozen=True)
class Perf:
    """One Nagios performance figure: ``'label'=value[uom];[warn];[crit];[min];[max]``."""

    label: str
    value: float
    uom: str = ""
    warn: float | None = None
    crit: float | None = None
    minimum: float | None = 0

    def render(self) -> str:
        plain = re.fullmatch(r"[A-Za-z0-9_.-]+", self.label)
        label = self.label if plain else "'" + self.label.replace("'", "''") + "'"

        def num(v: float | None) -> str:
            return "" if v is None else (str(int(v)) if float(v).is_integer() else f"{v:.1f}")

        text = f"{label}={num(self.value)}{self.uom};{num(self.warn)};{num(self.crit)};{num(self.minimum)}"
        return text.rstrip(";")


@dataclass(frozen=True)
class Audit:
    plan: str
    organisation: str
    checked_at: dt.datetime  # UTC
    findings: tuple[Finding, ...]
    perf: tuple[Perf, ...] = ()

    @property
    def status(self) -> Status:
        return worst([f.status for f in self.findings])

    def counts(self) -> dict[str, int]:
        c = Counter(f.status.name for f in self.findings)
        return {s.name: c.get(s.name, 0) for s in Status}

    def problems(self) -> list[Finding]:
        """The findings that are not OK, worst first (stable within a status)."""
        return sorted((f for f in self.findings if f.status is not Status.OK), key=lambda f: -f.status.rank)


def _summary(audit: Audit) -> str:
    c = audit.counts()
    parts = [f"{c[s.name]} {s.name.lower()}" for s in (Status.CRITICAL, Status.UNKNOWN, Status.WARNING) if c[s.name]]
    return (", ".join(parts) + " of " if parts else "all ") + f"{len(audit.findings)} checks" + (
        "" if parts else " OK")


def render_nagios(audit: Audit) -> str:
    """One status line: ``LYNC-RESTORE <STATUS> - <summary>: <worst finding> | <perfdata>``."""
    problems = audit.problems()
    head = f"LYNC-RESTORE {audit.status.name} - {_summary(audit)}"
    if problems:
        first = problems[0]
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        head += f": {first.subject}: {first.message}{more}"
    head = head.replace("|", "/").replace("\n", " ")  # '|' starts the performance data
    perf = " ".join(p.render() for p in audit.perf)
    return f"{head} | {perf}" if perf else head


def render_json(audit: Audit) -> str:
    return json.dumps({
        "plan": audit.plan,
        "organisation": audit.organisation,
        "checked_at": audit.checked_at.replace(microsecond=0).isoformat(),
        "status": audit.status.name,
        "exit_code": int(audit.status),
        "counts": audit.counts(),
        "findings": [f.as_dict() for f in audit.findings],
        "perfdata": {p.label: {"value": p.value, "uom": p.uom, "warn": p.warn, "crit": p.crit} for p in audit.perf},
    }, indent=2)


def render_table(audit: Audit, width: int = 80) -> str:
    """For people: problems first (worst first), then what is fine; the detail wrapped under its
    line, so it reads in an 80-column terminal."""
    lines = [f"Readiness of {audit.organisation} ({audit.plan}), checked "
             f"{audit.checked_at.strftime('%Y-%m-%d %H:%M')} UTC", ""]
    rows = audit.problems() + [f for f in audit.findings if f.status is Status.OK]
    lines.append(f"{'STATUS':<9}{'CHECK':<11}SUBJECT")
    for f in rows:
        if f.status is Status.OK:  # one line each; the whole message is in --format json
            line = f"{f.status.name:<9}{f.check:<11}{f.subject}: {f.message}"
            lines.append(line if len(line) <= width else line[:width - 3] + "...")
            continue
        lines.append(f"{f.status.name:<9}{f.check:<11}{f.subject}")
        sect = f" (§{f.section})" if f.section else ""
        lines += textwrap.wrap(f.message + sect, width=width - 4, initial_indent="    ",
                               subsequent_indent="    ", break_on_hyphens=False, break_long_words=False)
    lines += ["", f"Readiness: {audit.status.name} ({_summary(audit)}); exit {int(audit.status)}"]
    return "\n".join(lines)
