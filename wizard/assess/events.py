"""What an assessment tells the screens while it runs: small frozen events and probe results.

Probes run concurrently and finish in any order; every result leaves the runner as a
:class:`ProbeFinished` the moment it is known, so the assessment screen can fill its table row
by row and the operator sees a hung host as "timed out" after its own timeout, not at the end.
Results carry plain data (JSON-able ``data``) so the classifier, the journal and the report can
all read the same evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ProbeKind = Literal[
    "dns", "tcp", "lync_host", "sql", "cms_scp", "cms_replication", "file_store", "pairing",
]
ProbeStatus = Literal["ok", "failed", "timeout", "skipped", "error"]


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one probe.

    ``status``: ``ok`` (the probe answered; ``data`` says what it found, which may itself be
    bad news such as a stopped service), ``failed`` (the target did not answer or refused),
    ``timeout`` (no answer within the probe's own timeout), ``skipped`` (not needed or not
    possible, ``summary`` says why) or ``error`` (the probe itself broke: a bug to report).
    ``summary`` is one plain sentence naming the target.
    """

    probe_id: str
    kind: ProbeKind
    subject: str  # host FQDN, SQL instance id, file store id, pool FQDN or "cms"
    status: ProbeStatus
    summary: str
    data: Mapping[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    via: str | None = None  # the host a deployment probe ran on

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_evidence(self) -> dict[str, Any]:
        """A JSON-able record for the journal."""
        return {"probe": self.probe_id, "status": self.status, "summary": self.summary,
                "via": self.via, "duration_s": round(self.duration_s, 3)}


@dataclass(frozen=True)
class ProbeStarted:
    probe_id: str
    kind: ProbeKind
    subject: str
    via: str | None = None


@dataclass(frozen=True)
class ProbeFinished:
    result: ProbeResult


@dataclass(frozen=True)
class AssessmentFinished:
    """Every probe has a result (late answers from abandoned probes are ignored)."""

    results: tuple[ProbeResult, ...]
    elapsed_s: float
    abandoned: int  # probes whose worker was still busy when their timeout passed


AssessEvent = ProbeStarted | ProbeFinished | AssessmentFinished
