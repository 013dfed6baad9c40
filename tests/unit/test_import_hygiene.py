"""The core must never pull in Textual (ground rule 6; DESIGN.md layers)."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = [
    "wizard",
    "wizard.cli",
    "wizard.errors",
    "wizard.incident",
    "wizard.report",
    "wizard.app_entry",
    "wizard.journal",
    "wizard.session",
    "wizard.plan",
    "wizard.assess.recommend",
    "wizard.catalog.recommend",
    "wizard.procedures.compose",
    "wizard.procedures.engine",
    "wizard.remote.winrm",
    "wizard.remote.sql",
    "wizard.lab.runtime",
]


def _modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return set(out.split())


def test_importing_the_core_leaves_textual_out() -> None:
    for module in CORE_MODULES:
        loaded = _modules_after_import(module)
        assert module in loaded  # the import really happened
        leaked = sorted(m for m in loaded if m == "textual" or m.startswith(("textual.", "screens")))
        assert leaked == [], f"importing {module} loaded {leaked}"


#: Loaded by the app's worker after the start screen's first frame (wizard.opening), never before.
AFTER_FIRST_FRAME = ["yaml", "wizard.plan", "wizard.incident", "wizard.journal", "wizard.report",
                     "wizard.core_backend", "wizard.remote.credentials", "wizard.remote.winrm", "winrm",
                     "pyodbc", "screens.restore", "screens.widgets.checklist", "screens.modals", "screens.help"]


def test_the_first_frame_imports_none_of_the_heavy_core() -> None:
    """What `lync-restore run` imports before the start screen shows: the console script's module,
    the entry point and the app. The plan model, the journal and the transports come later."""
    loaded = _modules_after_import("wizard.cli, wizard.app_entry, screens.app")
    assert {"wizard.cli", "wizard.app_entry", "screens.app", "screens.start"} <= loaded
    early = sorted(m for m in AFTER_FIRST_FRAME if m in loaded)
    assert early == [], f"imported before the first frame: {early}"
