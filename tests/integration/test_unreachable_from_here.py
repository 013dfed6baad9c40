"""Live, from a machine that reaches nothing of the deployment (#16 item 10): the two-site example
plan's hosts do not resolve here, every probe fails at once, and the wizard must say "unreachable
from here" instead of recommending restores of production. The real resolver and transports run;
nothing is mocked."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from wizard.core_backend import BackendOptions, CoreBackend, UnreachableFromHere
from wizard.plan import load_plan
from wizard.remote.credentials import CredentialStore

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

PLAN = Path(__file__).resolve().parents[2] / "plans" / "example-two-site.yaml"


def test_no_host_resolves_so_nothing_is_recommended() -> None:
    loaded = load_plan(PLAN)
    backend = CoreBackend(BackendOptions(CredentialStore(loaded.plan, env={})))
    try:
        probes = list(backend.probe(loaded, threading.Event()))
        assert probes and all(p.status != "ok" for p in probes if p.check == "dns")
        with pytest.raises(UnreachableFromHere) as blind:
            backend.recommend(loaded, probes, {})
    finally:
        backend.close()
    text = str(blind.value)
    assert "do not resolve in DNS from this machine" in text or "answers from this machine" in text
    assert "nothing is recommended" in text and "VPN" in text
    assert blind.value.title == "Unreachable from here"
