"""The lab's WS-Management listener: one loopback port per simulated Windows host."""

from __future__ import annotations

from lab.wsman.server import (
    CommandHost,
    CommandIO,
    TranscriptEntry,
    TransportFaults,
    WsmanServer,
)
from lab.wsman.soap import decode_powershell

__all__ = [
    "CommandHost",
    "CommandIO",
    "TranscriptEntry",
    "TransportFaults",
    "WsmanServer",
    "decode_powershell",
]
