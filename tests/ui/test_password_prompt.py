"""A credential whose plan source is "prompt" is asked in a masked dialog, from the worker
thread that needs it; the password reaches the credential store and never the screen."""

from __future__ import annotations

import threading
from pathlib import Path

from screens.app import WizardApp
from screens.modals import PasswordDialog
from tests.ui.conftest import wait_for
from tests.ui.screen_text import screen_text
from tests.ui.scripted_backend import ScriptedBackend
from wizard.opening import Opening, loaded_source
from wizard.plan import load_plan
from wizard.remote.credentials import CredentialError, CredentialStore, PromptBridge
from wizard.secrets import SecretRegistry

PLAN = Path(__file__).resolve().parents[2] / "plans" / "example-standard.yaml"
SECRET = "Pr0mpted-Canary-77"


HOST = "lync.corp.northwind.example"


def _prompting_app(tmp_path: Path) -> tuple[WizardApp, CredentialStore]:
    """The app with its masked dialog attached to the bridge of a credential store on the plan."""
    loaded = load_plan(PLAN)
    bridge = PromptBridge()
    store = CredentialStore(loaded.plan, prompt=bridge, registry=SecretRegistry())
    app = WizardApp(Opening(loaded_source(loaded, ScriptedBackend()), "example-standard.yaml", tmp_path, "alice",
                            "INC-PW", "live"),
                    prompt_bridge=bridge)
    return app, store


def _lookup_in_a_thread(store: CredentialStore, got: list[object]) -> threading.Thread:
    """What a thread worker does when it first reaches a host: the password, or the error."""

    def worker() -> None:
        try:
            got.append(store.for_host(HOST).password.reveal())
        except CredentialError as exc:
            got.append(exc)

    t = threading.Thread(target=worker)
    t.start()
    return t


async def test_prompt_credential_is_asked_masked_and_cached(tmp_path: Path) -> None:
    app, store = _prompting_app(tmp_path)
    got: list[object] = []
    async with app.run_test(size=(80, 24)) as pilot:
        t = _lookup_in_a_thread(store, got)
        await wait_for(pilot, lambda: isinstance(app.screen, PasswordDialog), 10)
        assert "NORTHWIND\\svc-lyncrestore" in screen_text(app)
        await pilot.press(*SECRET)
        assert SECRET not in screen_text(app)  # masked
        await pilot.press("enter")
        await wait_for(pilot, lambda: not t.is_alive(), 10)
        assert got == [SECRET]
        # once per incident: the second lookup does not ask again
        assert store.for_host(HOST).password.reveal() == SECRET
        assert not isinstance(app.screen, PasswordDialog)


async def test_escape_gives_one_sentence(tmp_path: Path) -> None:
    app, store = _prompting_app(tmp_path)
    got: list[object] = []
    async with app.run_test(size=(80, 24)) as pilot:
        t = _lookup_in_a_thread(store, got)
        await wait_for(pilot, lambda: isinstance(app.screen, PasswordDialog), 10)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not t.is_alive(), 10)
    assert isinstance(got[0], CredentialError)
    assert "no password was given for NORTHWIND\\svc-lyncrestore" in str(got[0])
