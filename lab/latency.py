"""The network between the jump host and the lab's servers: a one-way delay per answer, per host.

On loopback every round trip is free, so a drill or a benchmark hides how the wizard's cost grows
with the network (issue #20). :class:`Latency` says how long each host's answers take to come
back: every WinRM HTTP answer (:mod:`lab.wsman.server`) and every TDS answer to a client message
(:mod:`lab.tds.server`) waits that long before it is written. The delay is one way and once per
answer, so a request and its answer cost it once: 50 ms here is a 50 ms round trip. Nothing else
changes: the servers do the same work, in the same time, whatever the delay.

Set it with ``LabRuntime(..., latency=Latency(...))``, a scenario file's ``network:`` block
(``docs/scenarios.md``) or ``lync-restore lab serve --latency-ms N`` (``HOST=N`` for one host).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Latency:
    """``default_s`` for every host, ``hosts`` (FQDN, any case -> seconds) for the ones that differ."""

    default_s: float = 0.0
    hosts: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.default_s < 0 or any(s < 0 for s in self.hosts.values()):
            raise ValueError("a network delay cannot be negative")
        object.__setattr__(self, "hosts", {h.lower(): float(s) for h, s in self.hosts.items()})

    @classmethod
    def ms(cls, default_ms: float = 0.0, hosts_ms: Mapping[str, float] | None = None) -> Latency:
        """The same, given in milliseconds (as scenario files and the command line give it)."""
        return cls(default_ms / 1000.0, {h: v / 1000.0 for h, v in (hosts_ms or {}).items()})

    def of(self, host: str) -> float:
        """The one-way delay, in seconds, of ``host``'s answers."""
        return self.hosts.get(host.lower(), self.default_s)

    def __bool__(self) -> bool:
        return self.default_s > 0 or any(s > 0 for s in self.hosts.values())

    def describe(self) -> str:
        """``20 ms (fe01.fabrikam.lab 50 ms)``: for ``lab serve``'s banner."""
        text = f"{self.default_s * 1000:g} ms"
        if self.hosts:
            text += " (" + ", ".join(f"{h} {s * 1000:g} ms" for h, s in sorted(self.hosts.items())) + ")"
        return text
