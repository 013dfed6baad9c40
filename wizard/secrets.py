"""Secrets registry: every password the process learns is registered here, once.

Anything that writes text somewhere durable or visible (the journal, reports, logs, error
messages shown to the operator) passes it through :meth:`SecretRegistry.redact` first. A
secret is registered in its raw form and in the escaped forms it takes inside JSON and
PowerShell single-quoted strings, so it is caught however it was embedded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable

MASK = "********"
#: Very short "secrets" would redact ordinary words; refuse to treat them as secrets.
MIN_SECRET_LENGTH = 4


class SecretRegistry:
    """Thread-safe set of secrets with redaction of text and nested JSON-like values."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._forms: list[str] = []
        for s in secrets:
            self.register(s)

    def register(self, secret: str) -> None:
        if not secret or len(secret) < MIN_SECRET_LENGTH:
            return
        forms = {secret, json.dumps(secret)[1:-1], secret.replace("'", "''")}
        with self._lock:
            for form in forms:
                if form not in self._forms:
                    self._forms.append(form)
            self._forms.sort(key=len, reverse=True)  # longest first: no partial masking

    def __len__(self) -> int:
        return len(self._forms)

    def redact(self, text: str) -> str:
        with self._lock:
            forms = list(self._forms)
        for form in forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def redact_value(self, value: object) -> object:
        """A copy of a JSON-like value with every string (keys too) redacted."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self.redact(str(k)): self.redact_value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.redact_value(v) for v in value]
        return value


#: The process-wide registry (credentials register here as soon as they are read).
REGISTRY = SecretRegistry()
