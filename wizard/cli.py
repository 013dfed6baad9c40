"""The ``lync-restore`` command line.

argparse only; each subcommand's work lives in the module that owns it, imported when the
subcommand runs so that ``lync-restore validate`` never pays for the lab, the transports or
Textual. The UI (``screens``) is imported by name through importlib: the core has no static
dependency on it (import-linter contract), and only ``run``/``drill`` load it.

Every failure reaches the operator as one line ``lync-restore: message`` and a documented exit
code (see :class:`wizard.errors.ExitCode`); a traceback is a bug.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, MutableMapping, Sequence
from typing import TextIO

from wizard import __version__
from wizard.errors import ExitCode, PlanError, UsageError, WizardError

Handler = Callable[[argparse.Namespace], int]

# subcommand -> "module:function", imported when the subcommand runs. The lab's commands (drill,
# serve, lab serve, scenarios, bench) live in the ``lab`` package: loaded by name, never imported.
HANDLERS: dict[str, str] = {
    "run": "wizard.app_entry:run_command",
    "drill": "lab.entry:drill_command",
    "validate": "wizard.plan.commands:validate_command",
    "check": "wizard.readiness.command:check_command",
    "runbook": "wizard.procedures.runbook:runbook_command",
    "lab serve": "lab.serve:serve_command",
    "serve": "lab.classroom:serve_command",
    "scenarios": "lab.scenarios:scenarios_command",
    "scenarios validate": "lab.scenarios:validate_command",
    "report": "wizard.report:report_command",
    "journal verify": "wizard.journal:verify_command",
    "journal key": "wizard.journal:key_command",
    "plan from-topology": "wizard.topology:from_topology_command",
    "plan diff": "wizard.topology:plan_diff_command",
    "bench": "lab.bench.table:bench_command",
}


def _path_ids() -> list[str]:
    from wizard.recovery_paths import BY_ID

    return list(BY_ID)


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so errors share one output path."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``command`` (a first word, e.g. ``run``), only the group of
    subcommands holding it: what :func:`parse_args` tries first, so that ``run`` does not build
    the other 18 parsers (nor load the recovery paths for ``runbook --help``) before its first
    frame."""
    p = _Parser(
        prog="lync-restore",
        description="Restoration wizard for Microsoft Lync Server 2013. "
        "With no arguments: a drill against the bundled lab.",
    )
    p.add_argument("--version", action="version", version=f"lync-restore {__version__}")
    p.add_argument(
        "--journal-dir",
        metavar="DIR",
        help="where incident journals live (default: the user state directory)",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    # One function per group of subcommands, called in the order --help lists them.
    for add in (_GROUPS[command],) if command in _GROUPS else dict.fromkeys(_GROUPS.values()):
        add(sub)
    return p


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``build_parser().parse_args(argv)``, with the parser of the first command word's group
    only when that parses: the first positional word is the subcommand in both parsers, so they
    agree; anything else (a typo, top-level --help) is parsed again by the whole parser, for its
    message and help."""
    words = list(sys.argv[1:] if argv is None else argv)
    command = next((w for w in words if w in _GROUPS), None)
    if command is not None and not {"-h", "--help"} & set(words[:words.index(command)]):
        try:
            return build_parser(command).parse_args(words)
        except UsageError:
            pass
    return build_parser().parse_args(words)


#: What ``add_subparsers`` returns; each function below adds one group of subcommands to it.
_Subparsers = argparse._SubParsersAction


def _add_incident_commands(sub: _Subparsers[_Parser]) -> None:
    """run (a real incident) and drill (a rehearsal against the lab)."""
    run = sub.add_parser("run", help="open a plan and start (or resume) an incident", description=(
        "Open the organisation's restore plan and start an incident, or resume an unfinished one of the "
        "same plan from the start screen (Ctrl+R). Every decision and command is journaled under "
        "--journal-dir/<incident id>/ (journal.jsonl); exit 0 when the incident was closed, 130 when it "
        "was left open to resume."))
    run.add_argument("plan", metavar="PLAN",
                     help="the organisation's restore plan (YAML; see plans/example-*.yaml and plans/schema.json)")
    run.add_argument("--operator", help="who is at the keyboard (default: $LYNC_RESTORE_OPERATOR or the login name)")
    run.add_argument("--incident", metavar="ID", help="incident id (default: generated)")
    run.add_argument("--drill", action="store_true", help="mark the session as a drill")

    drill = sub.add_parser("drill", help="rehearse a scenario against the bundled lab", description=(
        "Rehearse a recovery against the bundled simulated Lync 2013 deployment (loopback only: a drill never "
        "leaves this machine). The lab keeps running in the background while an incident is open, so the "
        "same command resumes it after a lost terminal; it stops when the incident is closed, or with --stop."))
    drill.add_argument("what", nargs="?", choices=("history",), metavar="history",
                       help="'history [TRAINEE]': a trainee's scored drills per outage class, with trends")
    drill.add_argument("trainee", nargs="?", metavar="TRAINEE", help="history: whose drills (default: the operator)")
    drill.add_argument("--scenario", metavar="NAME", help="scenario to play (see 'scenarios'): built-in or instructor")
    drill.add_argument("--scenario-file", metavar="FILE",
                       help="play the instructor scenario in FILE (docs/scenarios.md)")
    drill.add_argument("--random", action="store_true",
                       help="a scenario at random, its name hidden until the score; the classes you practised "
                            "least come up more often (an unfinished random drill is resumed first)")
    drill.add_argument("--seed", type=int, default=None, metavar="N", help="with --random: the same pick each time")
    drill.add_argument("--time-factor", type=float, default=None, metavar="F",
                       help="speed of simulated time (higher = faster restores)")
    drill.add_argument("--operator", help="who is at the keyboard")
    drill.add_argument("--auth", choices=("kerberos", "ntlm", "credssp", "basic"), default=None,
                       help="WinRM authentication the drill uses (default: the lab plan's, kerberos with "
                            "delegation); an ntlm session cannot make the second hop")
    drill.add_argument("--headless", action="store_true",
                       help="play the drill without the UI, one line per event (exit 0 = service restored)")
    drill.add_argument("--answers", metavar="FILE", help="headless: answers file (YAML or JSON)")
    drill.add_argument("--journal-dir", metavar="DIR", dest="drill_journal_dir",
                       help="where the drill's journal is written")
    drill.add_argument("--stop", action="store_true",
                       help="stop the labs kept running for resumes (of --scenario, else all) and exit")


def _add_plan_check_commands(sub: _Subparsers[_Parser]) -> None:
    """validate, check and runbook: read a plan, run nothing."""
    val = sub.add_parser("validate", help="check a plan; print a one-screen summary", description=(
        "Read PLAN (YAML) and check it against the schema and the topology's own rules; every problem is "
        "printed as FILE:LINE:COL. Exit 0 when valid, 2 when not. Connects to nothing."))
    val.add_argument("plan", metavar="PLAN")

    chk = sub.add_parser("check", help="readiness audit of a plan, for people and schedulers (Nagios exit codes)",
                         description=(
        "Audit whether the organisation could restore today: the newest copy of every scheduled backup component "
        "in every location (present, within its interval and the RPO, intact: zips tested, .bak files verified by "
        "the SQL instance that would restore them), every backup location read from every server that reads it "
        "in a restore (over WinRM on that server, the second hop included), the memberships of section 10, every "
        "Front End pool's start quorum (5.4), each server's PowerShell version and the Lync cmdlets and parameters "
        "the plan's recovery paths send it. Never prompts. Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (a check "
        "that could not be made, or a plan that cannot be read)."))
    chk.add_argument("plan", metavar="PLAN")
    chk.add_argument("--format", choices=("table", "json", "nagios"), default="table",
                     help="table (people, default), json (programs), nagios (one status line with performance data)")

    rb = sub.add_parser("runbook", help="print the procedure with exact commands, run nothing", description=(
        "Print the steps of one recovery path for PLAN, in the documented order, with the exact PowerShell "
        "and T-SQL each step runs, its section of the domain reference, what it checks before and after, "
        "and where backups are read from. Runs nothing. Paths that act on a pool need --pool, a member "
        "rebuild --server."))
    rb.add_argument("plan", metavar="PLAN")
    rb.add_argument("--path", required=True, metavar="P",
                    help="recovery path id: " + ", ".join(sorted(_path_ids())))
    rb.add_argument("--backup-set", metavar="S", help="backup set folder name")
    rb.add_argument("--format", choices=("md", "html"), default="md")
    rb.add_argument("--pool", metavar="FQDN", help="the pool the path acts on (failed or target pool)")
    rb.add_argument("--server", metavar="FQDN", help="the server the path acts on (member rebuilds)")
    rb.add_argument("--new-pool", metavar="FQDN", help="the new pool C of an ABC failover (§6.19)")
    rb.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of standard output")


def _add_lab_commands(sub: _Subparsers[_Parser]) -> None:
    """lab serve and scenarios: the simulated deployment."""
    lab = sub.add_parser("lab", help="the simulated Lync 2013 deployment")
    lab_sub = lab.add_subparsers(dest="lab_command", metavar="LAB_COMMAND", parser_class=_Parser)
    serve = lab_sub.add_parser("serve", help="run a scenario's simulated servers on loopback until interrupted "
                               "(no wizard: for 'run --drill' and scripts; the browser classroom is 'serve')")
    serve.add_argument("--scenario", required=True, metavar="NAME")
    serve.add_argument("--time-factor", type=float, default=None, metavar="F",
                       help="simulated seconds per real second (default 60; 1 with --wall-clock)")
    serve.add_argument("--wall-clock", action="store_true",
                       help="start the lab at the real time (UTC) instead of its epoch: backup sets "
                            "dated from the last nights")
    serve.add_argument("--json", action="store_true", help="print one JSON line with endpoints")
    serve.add_argument("--state-dir", metavar="DIR", help="where the lab keeps its disk (default: a temporary folder)")
    serve.add_argument("--latency-ms", action="append", metavar="N|HOST=N",
                       help="the network's one-way delay of every WinRM and SQL answer, in milliseconds (a round "
                            "trip costs it once); HOST=N for one host (repeatable); replaces the scenario's "
                            "network: block")

    sc = sub.add_parser("scenarios", help="list the lab's drill scenarios (built-in and instructor ones)",
                        description="Instructor scenarios are YAML files (docs/scenarios.md) found in --dir, in each "
                                    "folder of $LYNC_RESTORE_SCENARIOS and in the user's config folder "
                                    "(~/.config/lync-restore/scenarios).")
    sc.add_argument("--dir", action="append", metavar="DIR", help="also look for instructor scenarios here")
    sc_sub = sc.add_subparsers(dest="scenarios_command", metavar="SCENARIOS_COMMAND", parser_class=_Parser)
    val = sc_sub.add_parser("validate", help="check scenario files: every error as FILE:LINE:COL (exit 2)")
    val.add_argument("files", nargs="+", metavar="FILE")


def _add_classroom_command(sub: _Subparsers[_Parser]) -> None:
    """serve: drills in a browser."""
    srv = sub.add_parser("serve", help="the classroom: drills in a browser (textual-serve), one wizard per tab",
                         description=(
        "Serve the wizard's drills to browsers through textual-serve, for trainees without a terminal: each "
        "browser tab runs its own 'lync-restore drill' (the scenario of --scenario, or the page's ?scenario=NAME); "
        "never a live plan. Binds to loopback unless told otherwise: reach it through an SSH tunnel "
        "(ssh -L 8000:127.0.0.1:8000 HOST). Any other address needs an access token (--token or "
        "$LYNC_RESTORE_SERVE_TOKEN), which the page asks for. Not 'lab serve', which runs a lab's simulated "
        "servers for scripts."))
    srv.add_argument("--host", metavar="H", help="address to listen on (default 127.0.0.1)")
    srv.add_argument("--port", type=int, metavar="P", help="port to listen on (default 8000)")
    srv.add_argument("--token", metavar="T",
                     help="access token the page asks for (at least 16 characters); required off loopback. "
                          "Prefer $LYNC_RESTORE_SERVE_TOKEN: a command line is visible to other local users")
    srv.add_argument("--scenario", metavar="NAME", help="the drill each tab plays unless its URL says "
                     "?scenario=NAME (default: the drill's default; see 'scenarios')")


def _add_journal_commands(sub: _Subparsers[_Parser]) -> None:
    """report, journal verify and journal key: what an incident leaves behind."""
    rep = sub.add_parser("report", help="write the incident report from a journal", description=(
        "Write the report of an incident from its journal: objectives met or missed, decisions and "
        "overrides, steps, §7 results, the timeline and the journal's integrity. Exit 4 when the journal "
        "is damaged (the report says where)."))
    rep.add_argument("journal", metavar="JOURNAL",
                     help="an incident folder (<journal dir>/<incident id>) or its journal.jsonl")
    rep.add_argument("--format", choices=("md", "html"), default="md")
    rep.add_argument("--output", "-o", metavar="FILE")

    jr = sub.add_parser("journal", help="incident journals")
    jr_sub = jr.add_subparsers(dest="journal_command", metavar="JOURNAL_COMMAND", parser_class=_Parser)
    ver = jr_sub.add_parser("verify", help="check a journal: sealed/open, intact or what is wrong, its final hash")
    ver.add_argument("journal", metavar="PATH")
    ver.add_argument("--expect", metavar="HASH",
                     help="the final hash kept outside the journal (the report prints it): fail if it differs")
    jr_sub.add_parser("key", help="make this installation's journal key (HMAC chain); never overwrites one")


def _add_plan_commands(sub: _Subparsers[_Parser]) -> None:
    """plan from-topology and plan diff."""
    plan = sub.add_parser("plan", help="create or compare plans")
    plan_sub = plan.add_subparsers(dest="plan_command", metavar="PLAN_COMMAND", parser_class=_Parser)
    ft = plan_sub.add_parser("from-topology", help="draft a plan from Get-CsTopology -AsXml output "
                             "(or an Export-CsConfiguration zip)")
    ft.add_argument("file", metavar="FILE")
    ft.add_argument("--organisation", metavar="NAME", help="the organisation's name (default: the SIP domain)")
    ft.add_argument("--output", "-o", metavar="OUT", help="write the draft to OUT instead of standard output")
    pd = plan_sub.add_parser("diff", help="compare a plan with a topology export, or two topology exports "
                             "(e.g. before and after a change); exit 1 when they differ, one line each",
                             description="OLD and NEW are each a plan (YAML) or a topology export: "
                             "Get-CsTopology -AsXml output or an Export-CsConfiguration zip, told apart by suffix "
                             "(.yaml/.yml, .xml/.zip) or else by content. Exit 0: no differences; 1: differences.")
    pd.add_argument("plan", metavar="OLD", help="a plan or a topology export")
    pd.add_argument("file", metavar="NEW", help="a plan or a topology export")


def _add_bench_command(sub: _Subparsers[_Parser]) -> None:
    """bench: every benchmark."""
    bench = sub.add_parser("bench", help="run every benchmark and print a table of figures")
    bench.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    bench.add_argument("--only", action="append", metavar="GROUP",
                       help="run only this group of benchmarks (repeatable): plan, journal, winrm, sql, lab, "
                            "assess, catalog, ui, stages (requests and wall time per stage at 0 and 50 ms), "
                            "memory (peak resident memory)")


#: First word -> the function adding its group of subcommands (in the order --help lists them).
_GROUPS: dict[str, Callable[[_Subparsers[_Parser]], None]] = {
    "run": _add_incident_commands, "drill": _add_incident_commands,
    "validate": _add_plan_check_commands, "check": _add_plan_check_commands, "runbook": _add_plan_check_commands,
    "lab": _add_lab_commands, "scenarios": _add_lab_commands,
    "serve": _add_classroom_command,
    "report": _add_journal_commands, "journal": _add_journal_commands,
    "plan": _add_plan_commands,
    "bench": _add_bench_command,
}


def _command_key(args: argparse.Namespace) -> str | None:
    cmd: str | None = args.command
    for group in ("lab", "journal", "plan"):
        if cmd == group:
            child = getattr(args, f"{group}_command", None)
            if child is None:
                raise UsageError(f"'{group}' needs a subcommand (see 'lync-restore {group} --help')")
            return f"{group} {child}"
    if cmd == "scenarios" and getattr(args, "scenarios_command", None):
        return f"scenarios {args.scenarios_command}"
    return cmd


def _resolve(key: str) -> Handler:
    module_name, func_name = HANDLERS[key].split(":")
    handler: Handler = getattr(importlib.import_module(module_name), func_name)
    return handler


def report_error(err: WizardError, stream: TextIO) -> None:
    if isinstance(err, PlanError):
        for line in err.errors:
            print(line, file=stream)
    print(f"lync-restore: {err}", file=stream)


#: over SSH every frame crosses the link: fewer of them, and no animation (#16); an explicit
#: TEXTUAL_FPS / TEXTUAL_ANIMATIONS in the environment wins
SSH_FPS, SSH_ANIMATIONS = "15", "none"


def terminal_settings(environ: MutableMapping[str, str] | None = None) -> None:
    """Set Textual's frame rate and animation level for the link the terminal is on. Called
    before Textual is imported: it reads both from the environment once, at import."""
    env = os.environ if environ is None else environ
    if env.get("SSH_CONNECTION"):
        env.setdefault("TEXTUAL_FPS", SSH_FPS)
        env.setdefault("TEXTUAL_ANIMATIONS", SSH_ANIMATIONS)


def main(argv: Sequence[str] | None = None) -> int:
    terminal_settings()
    try:
        args = parse_args(argv)
        key = _command_key(args) or "drill"
        if args.command is None:
            args = parse_args(["drill", *(argv or [])[len(argv or []):]])
        return _resolve(key)(args)
    except WizardError as err:
        report_error(err, sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("lync-restore: interrupted; the journal is intact and the incident can be resumed.",
              file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.OK
