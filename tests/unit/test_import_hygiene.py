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
