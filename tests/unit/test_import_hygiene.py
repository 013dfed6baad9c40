"""The layers hold at run time as well as in import-linter's static graph: the core never pulls in
Textual, the product (``wizard``, ``screens``) never loads the lab, the lab uses only public names
of the core, and the first frame of ``run`` and ``drill`` loads none of the heavy core."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CORE_MODULES = [
    "wizard",
    "wizard.cli",
    "wizard.errors",
    "wizard.incident",
    "wizard.report",
    "wizard.app_entry",
    "wizard.journal",
    "wizard.incident_state",
    "wizard.plan",
    "wizard.assess.recommend",
    "wizard.catalog.recommend",
    "wizard.procedures.compose",
    "wizard.procedures.engine",
    "wizard.remote.winrm",
    "wizard.remote.sql",
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


def test_the_run_command_starts_its_app_with_none_of_the_heavy_core(tmp_path: Path) -> None:
    """`lync-restore run PLAN` itself, up to the app it runs: the command line, the incident id,
    the operator and the journal folder included (the generated id once loaded the incident
    module, the plan model and the journal before the first frame), and none of the other
    subcommands' parsers (the recovery paths are only for `runbook --help`)."""
    code = ("import sys, wizard.app_entry as entry\n"
            "def shown(opening, prompt_bridge=None):\n"
            "    entry.build_app(opening, prompt_bridge)\n"
            "    print('\\n'.join(sorted(sys.modules)))\n"
            "    return 0\n"
            "entry.open_app = shown\n"
            "from wizard.cli import main\n"
            f"sys.exit(main(['--journal-dir', {str(tmp_path)!r}, 'run', 'plans/lab.yaml']))\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=REPO).stdout
    loaded = set(out.split())
    assert {"wizard.cli", "wizard.app_entry", "screens.app", "screens.start"} <= loaded
    early = sorted(m for m in [*AFTER_FIRST_FRAME, "wizard.recovery_paths"] if m in loaded)
    assert early == [], f"imported before the first frame: {early}"


def test_the_generated_incident_id_is_the_incident_modules() -> None:
    """The start form's default id is made without the incident module, in its format."""
    import datetime as dt

    from wizard.app_entry import new_incident_id
    from wizard.incident import new_incident_id as incidents

    when = dt.datetime(2026, 11, 25, 3, 12, tzinfo=dt.UTC)
    assert new_incident_id(when) == incidents(when) == "INC-20261125-0312"


def test_the_command_line_parses_as_the_whole_parser_does() -> None:
    """`parse_args` builds only the first command word's group of subcommands when that parses;
    whatever it returns or refuses is what the whole parser returns or refuses."""
    from wizard.cli import build_parser, parse_args
    from wizard.errors import UsageError

    def outcome(parse: object, argv: list[str]) -> object:
        try:
            return vars(parse(argv))  # type: ignore[operator]
        except UsageError as err:
            return str(err)

    cases = [["run", "p.yaml"], ["--journal-dir", "d", "run", "p.yaml", "--drill"], ["--journal-dir", "run",
             "validate", "p.yaml"], ["--journal-dir", "drill", "run", "p.yaml"], ["runbook", "p", "--path", "x"],
             ["lab", "serve", "--scenario", "s"], ["journal", "verify", "j"], ["plan", "diff", "a", "b"],
             ["bench", "--quick"], ["drill", "--headless"], [], ["runn", "p.yaml"], ["run"], ["run", "a", "b"],
             ["report", "j", "--format", "pdf"], ["scenarios", "extra"]]
    for argv in cases:
        assert outcome(parse_args, argv) == outcome(build_parser().parse_args, argv), argv


def test_the_drill_command_shows_its_first_frame_before_starting_the_lab() -> None:
    """`lync-restore drill` (and `lync-restore` alone) load ``lab.entry``; the lab itself, its
    servers and the core behind it start in the app's worker."""
    loaded = _modules_after_import("wizard.cli, lab.entry, screens.app")
    assert {"lab.entry", "screens.start"} <= loaded
    early = sorted(m for m in [*AFTER_FIRST_FRAME, "lab.drill", "lab.runtime", "lab.model"] if m in loaded)
    assert early == [], f"imported before the first frame: {early}"


def _product_modules() -> list[str]:
    names = []
    for package in ("wizard", "screens"):
        for path in sorted((REPO / package).rglob("*.py")):
            if path.name == "__main__.py":  # runs the command line when imported
                continue
            parts = path.relative_to(REPO).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_no_product_module_loads_the_lab() -> None:
    """Every module of ``wizard`` and ``screens`` imported in one process: nothing of ``lab`` is
    loaded (the command line names the lab's handlers as strings and imports them only to run them)."""
    modules = _product_modules()
    assert "wizard.core_backend" in modules and "screens.app" in modules and len(modules) > 60
    loaded = _modules_after_import(", ".join(modules))
    assert set(modules) <= loaded
    leaked = sorted(m for m in loaded if m == "lab" or m.startswith("lab."))
    assert leaked == [], f"the product loaded the lab: {leaked}"


OURS = ("wizard", "screens", "lab")


def _private_names(tree: ast.AST) -> list[str]:
    """Private names (``_x``) imported from another module of ours."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in OURS:
            if any(part.startswith("_") for part in node.module.split(".")[1:]):
                found.append(node.module)
            found += [f"{node.module}.{a.name}" for a in node.names
                      if a.name.startswith("_") and not a.name.startswith("__")]
    return found


def test_private_names_are_found_by_the_scan() -> None:
    tree = ast.parse("from wizard.procedures.library.common import _private, public\nfrom wizard._x import y\n")
    assert _private_names(tree) == ["wizard.procedures.library.common._private", "wizard._x"]


def test_modules_use_only_public_names_of_each_other() -> None:
    """The lab uses only public names of the core, and no module reaches into another's privates
    (the lab's hands once imported the cmdlets' ``_create``)."""
    sources = [p for package in ("wizard", "screens", "lab") for p in sorted((REPO / package).rglob("*.py"))]
    private = {str(path.relative_to(REPO)): names for path in sources
               if (names := _private_names(ast.parse(path.read_text(encoding="utf-8"))))}
    assert private == {}
