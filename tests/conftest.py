"""Tests are sealed from the host: their own HOME, XDG dirs and no proxy variables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

_PROXY_VARS = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


@pytest.fixture(autouse=True)
def _sealed_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    for var in _PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("LYNC_RESTORE_OPERATOR", raising=False)
    monkeypatch.delenv("LYNC_RESTORE_SCENARIOS", raising=False)
    yield home


REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


_TIERS = {"integration": pytest.mark.integration, "bench": pytest.mark.slow}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The folder decides the tier as well as the file's own marks: everything under
    ``tests/integration`` drives real clients against the lab (``integration``), ``tests/bench``
    runs the benchmark command (``slow``). The fast tier is ``-m "not integration and not slow"``."""
    for item in items:
        folder = Path(str(item.path)).relative_to(REPO / "tests").parts[0]
        mark = _TIERS.get(folder)
        if mark is not None and mark.name not in {m.name for m in item.iter_markers()}:
            item.add_marker(mark)
