"""Credentials for hosts and SQL instances, from the source the plan declares.

Sources (plan ``credentials.entries[].source``):

- ``env``: an environment variable named in the plan;
- ``keyring``: the system keyring (optional dependency ``lync-restore[keyring]``), looked up
  as (``keyring_service``, ``username``);
- ``prompt``: asked once per incident through a callback the UI (or the CLI) supplies, masked.

A password is held in memory only, wrapped in :class:`Secret` (whose ``repr`` and ``str`` are
masked, so it cannot leak through a dataclass repr or a log line), and registered with the
process-wide redaction registry the moment it is read, so the journal, reports and error
messages replace it wherever it appears.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from wizard.plan.model import Credential, Plan
from wizard.remote.endpoints import host_connection
from wizard.remote.prompt import CredentialError, PromptBridge, PromptFn
from wizard.secrets import MASK, REGISTRY, SecretRegistry

__all__ = ["CredentialError", "CredentialStore", "PromptBridge", "PromptFn", "Secret", "terminal_prompt"]

class Secret:
    """A password that never shows itself in ``repr``/``str``; call :meth:`reveal` to use it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class ResolvedCredential:
    id: str
    username: str
    password: Secret
    kind: str  # "windows" | "sql"


class CredentialStore:
    """Resolves, caches (per incident) and registers credentials for redaction."""

    def __init__(self, plan: Plan, *, prompt: PromptFn | None = None,
                 env: Mapping[str, str] | None = None, registry: SecretRegistry | None = None,
                 keyring_get: Callable[[str, str], str | None] | None = None) -> None:
        self._plan = plan
        self._prompt = prompt
        self._env = env if env is not None else os.environ
        self._registry = registry if registry is not None else REGISTRY
        self._keyring_get = keyring_get
        self._cache: dict[str, ResolvedCredential] = {}
        #: credentials whose prompt was declined (Esc): not asked again for every host that uses
        #: them (one credential, one prompt, #16 item 10) until :meth:`forget_refusals`
        self._refused: dict[str, CredentialError] = {}
        self._lock = threading.Lock()
        self._entries = {c.id: c for c in plan.credentials.entries}

    # ------------------------------------------------------------------ lookups
    def for_host(self, fqdn: str) -> ResolvedCredential:
        hc = host_connection(self._plan, fqdn)
        cred_id = hc.credential if hc and hc.credential else self._plan.credentials.winrm_default
        return self.get(cred_id, purpose=f"WinRM on {fqdn}")

    def for_sql(self, sql_id: str) -> ResolvedCredential:
        try:
            inst = self._plan.sql(sql_id)
            cred_id = inst.credential
            label = f"SQL Server {inst.server}"
        except KeyError:  # Standard Edition SQL Express: not a plan SQL instance
            cred_id, label = None, f"SQL Server {sql_id}"
        cred_id = cred_id or self._plan.credentials.sql_default or self._plan.credentials.winrm_default
        return self.get(cred_id, purpose=label)

    def get(self, cred_id: str, *, purpose: str) -> ResolvedCredential:
        with self._lock:
            cached = self._cache.get(cred_id)
            if cached is not None:
                return cached
            if cred_id in self._refused:
                raise self._refused[cred_id]
            entry = self._entries.get(cred_id)
            if entry is None:
                raise CredentialError(f"the plan has no credential '{cred_id}' (needed for {purpose})")
            try:
                password = self._read(entry, purpose)
            except CredentialError as exc:
                if entry.source == "prompt" and self._prompt is not None:
                    self._refused[cred_id] = exc
                raise
            self._registry.register(password)
            resolved = ResolvedCredential(entry.id, entry.username, Secret(password), entry.kind)
            self._cache[cred_id] = resolved
            return resolved

    def forget_refusals(self) -> None:
        """Ask again for the credentials whose prompt was declined (the operator probes again)."""
        with self._lock:
            self._refused.clear()

    # ------------------------------------------------------------------ sources
    def _read(self, entry: Credential, purpose: str) -> str:
        if entry.source == "ticket":
            if entry.kind == "sql" or not purpose.startswith("WinRM"):
                raise CredentialError(f"credential '{entry.id}' ({entry.username}) is a Kerberos ticket, "
                                      f"which serves WinRM only (needed for {purpose})")
            return ""  # no secret: the runner uses the ticket cache (KRB5CCNAME)
        if entry.source == "env":
            name = entry.env or ""
            value = self._env.get(name)
            if not value:
                raise CredentialError(f"the password of credential '{entry.id}' ({entry.username}) comes from "
                                      f"the environment variable {name}, which is not set (needed for {purpose})")
            return value
        if entry.source == "keyring":
            getter = self._keyring_get or _system_keyring()
            service = entry.keyring_service or ""
            try:
                value = getter(service, entry.username)
            except CredentialError:
                raise
            except Exception as exc:  # keyring backends raise their own types
                raise CredentialError(f"the system keyring could not be read for credential '{entry.id}' "
                                      f"(service {service}): {type(exc).__name__}") from None
            if not value:
                raise CredentialError(f"the system keyring has no password for {entry.username} under "
                                      f"service '{service}' (credential '{entry.id}')")
            return value
        if self._prompt is None:
            raise CredentialError(f"credential '{entry.id}' ({entry.username}) must be typed in, "
                                  "but there is no terminal to ask on")
        value = self._prompt(entry.id, entry.username, purpose)
        if not value:
            raise CredentialError(f"no password was given for {entry.username} (credential '{entry.id}')")
        return value


def _system_keyring() -> Callable[[str, str], str | None]:
    try:
        import keyring
    except ImportError:
        def missing(service: str, username: str) -> str | None:
            raise CredentialError("the plan reads a password from the system keyring, but the keyring "
                                  "package is not installed (pip install 'lync-restore[keyring]')")
        return missing

    def get(service: str, username: str) -> str | None:
        value = keyring.get_password(service, username)
        return value if isinstance(value, str) else None

    return get


def terminal_prompt(cred_id: str, username: str, purpose: str) -> str:
    """Masked prompt on the controlling terminal (CLI use; the UI has its own dialog)."""
    import getpass

    return getpass.getpass(f"Password for {username} ({purpose}): ")
