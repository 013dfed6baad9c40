"""The password prompt's plumbing, light enough for the UI's first frame to import.

:class:`PromptBridge` is the prompt callback handed to the credential store before the UI
exists; the UI attaches its masked dialog as the answerer when it starts. The credential store
itself (:mod:`wizard.remote.credentials`) needs the plan model and is loaded after the first
frame, so what the UI needs up front lives here.
"""

from __future__ import annotations

from collections.abc import Callable

from wizard.errors import ExitCode, WizardError

#: Asks the operator for a password: (credential id, username, what it is for) -> password.
PromptFn = Callable[[str, str, str], str]


class CredentialError(WizardError):
    title = "Credential unavailable"
    exit_code = ExitCode.INVALID_INPUT


class PromptBridge:
    """A prompt callback whose answerer is attached later: the CLI builds the credential store
    before the UI exists, and the UI attaches its masked dialog when it starts."""

    def __init__(self) -> None:
        self.answerer: PromptFn | None = None

    def __call__(self, cred_id: str, username: str, purpose: str) -> str:
        if self.answerer is None:
            raise CredentialError(f"credential '{cred_id}' ({username}) must be typed in, "
                                  "but there is no terminal to ask on")
        return self.answerer(cred_id, username, purpose)
