"""Credentials come from env, keyring or a prompt; they are cached per incident and redacted."""

from __future__ import annotations

import pytest

from tests.conftest import REPO
from wizard.plan import load_plan
from wizard.remote.credentials import CredentialError, CredentialStore, Secret
from wizard.secrets import SecretRegistry

LAB = load_plan(REPO / "plans" / "lab.yaml").plan
TWO_SITE = load_plan(REPO / "plans" / "example-two-site.yaml").plan
CANARY = "Canary-Pa55-credentials"


def test_env_source_registers_the_secret_and_masks_repr() -> None:
    reg = SecretRegistry()
    store = CredentialStore(LAB, env={"LYNC_LAB_PASSWORD": CANARY, "LYNC_LAB_SQL_PASSWORD": "sql-pw-123"},
                            registry=reg)
    cred = store.for_host("fe01.fabrikam.lab")
    assert (cred.id, cred.username, cred.password.reveal()) == ("lab-admin", "FABRIKAM\\lyncadmin", CANARY)
    assert CANARY not in repr(cred) and CANARY not in str(cred.password)
    assert reg.redact(f"x {CANARY} y") == "x ******** y"
    assert store.for_sql("be1").username == "lyncsql"
    assert store.for_sql("be1").password == Secret("sql-pw-123")


def test_missing_env_variable_is_one_sentence() -> None:
    store = CredentialStore(LAB, env={}, registry=SecretRegistry())
    with pytest.raises(CredentialError, match="LYNC_LAB_PASSWORD, which is not set"):
        store.for_host("fe01.fabrikam.lab")


def test_prompt_is_asked_once_per_incident() -> None:
    asked: list[tuple[str, str, str]] = []

    def prompt(cid: str, user: str, purpose: str) -> str:
        asked.append((cid, user, purpose))
        return CANARY

    store = CredentialStore(TWO_SITE, prompt=prompt, registry=SecretRegistry(),
                            keyring_get=lambda s, u: "from-keyring")
    assert store.for_sql("lon-be").password.reveal() == CANARY
    assert store.for_sql("ams-be").password.reveal() == CANARY
    assert len(asked) == 1 and asked[0][0] == "dba"
    # hosts use the keyring credential; the per-host override names the same one
    assert store.for_host("lonedge01.corp.contoso.com").password.reveal() == "from-keyring"


def test_no_terminal_for_a_prompt_credential() -> None:
    store = CredentialStore(TWO_SITE, prompt=None, registry=SecretRegistry())
    with pytest.raises(CredentialError, match="no terminal to ask on"):
        store.for_sql("lon-be")


def test_keyring_without_entry() -> None:
    store = CredentialStore(TWO_SITE, registry=SecretRegistry(), keyring_get=lambda s, u: None)
    with pytest.raises(CredentialError, match="has no password for CORP\\\\svc-lyncrestore"):
        store.for_host("lonfe01.corp.contoso.com")


def test_a_declined_prompt_is_not_asked_again_for_every_instance() -> None:
    """#16 item 10: Esc on the SQL password was followed by a prompt per instance (9 of them)."""
    asked: list[str] = []

    def declined(cid: str, user: str, purpose: str) -> str:
        asked.append(purpose)
        return ""

    store = CredentialStore(TWO_SITE, prompt=declined, registry=SecretRegistry())
    for sql_id in ("lon-be", "ams-be", "lon-be"):
        with pytest.raises(CredentialError, match="no password was given"):
            store.for_sql(sql_id)
    assert len(asked) == 1  # one credential, one prompt
    store.forget_refusals()  # the operator probes again: asked once more
    with pytest.raises(CredentialError):
        store.for_sql("ams-be")
    assert len(asked) == 2
