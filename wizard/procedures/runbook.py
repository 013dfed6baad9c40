"""Runbook export: the whole composed procedure, every command exactly as the wizard runs it.

For a change ticket, or for working by hand when the terminal UI is not an option:
``lync-restore runbook PLAN --path P [--pool F] [--server S] [--backup-set S] [--format md|html]``.
The PowerShell shown is psbuild's own rendering (the text the runner sends, after the fixed
non-prompting preamble printed once at the top); T-SQL is the statement the SQL runner sends.
"""

from __future__ import annotations

import argparse
import html
import sys
from pathlib import Path

from wizard.errors import ExitCode, InputFileError, UsageError
from wizard.plan import load_plan
from wizard.procedures.compose import Procedure, compose
from wizard.procedures.model import Check, PsCommand, Step
from wizard.remote.backup_store import BackupStoreError, check_set_name
from wizard.remote.psbuild import PREAMBLE


def _duration(seconds: int) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _check_line(check: Check) -> str:
    wait = f" (waits up to {_duration(int(check.wait_s))})" if check.wait_s else ""
    return f"{check.describe()}{wait}"


def _check_block(check: Check) -> list[str]:
    lang = "powershell" if isinstance(check.command, PsCommand) else "sql"
    return [f"```{lang}", f"# on {check.command.where}", *check.command.lines(), "```"]


def render_markdown(proc: Procedure) -> str:
    out: list[str] = [
        f"# Runbook: {proc.path.title}",
        "",
        f"- Organisation: {proc.organisation}",
        f"- Recovery path: `{proc.path.id}` (domain reference §{', §'.join(proc.path.sections)})",
    ]
    if proc.pool:
        out.append(f"- Target pool: {proc.pool}")
    if proc.server:
        out.append(f"- Target server: {proc.server}")
    out.append(f"- Backup set: {proc.backup_set or '(not chosen: <backup-set> in paths)'}")
    if proc.reads_from:
        out.append(f"- Backup location: {proc.reads_from}")
    total = sum(s.duration_s for s in proc.steps)
    out += [f"- Steps: {len(proc.steps)}, expected duration about {_duration(total)}", ""]
    out += ["Every PowerShell script starts with this preamble (it never prompts), then `Import-Module Lync`:",
            "", "```powershell", *PREAMBLE, "```", ""]
    if proc.omitted:
        out += ["## Left out", ""]
        out += [f"- {o.title} (`{o.step_id}`): {o.reason}" for o in proc.omitted]
        out.append("")
    out += ["## Steps", ""]
    for n, step in enumerate(proc.steps, 1):
        out += _step_md(n, step)
    return "\n".join(out).rstrip() + "\n"


def _step_md(n: int, step: Step) -> list[str]:
    out = [f"### {n}. {step.title}", "", f"`{step.id}` · §{step.section} · about {_duration(step.duration_s)}", "",
           f"Why: {step.why}", ""]
    if step.applies:
        out += [f"Applies when: {step.applies}", ""]
    flags = []
    if step.destructive:
        flags.append(f"DESTRUCTIVE: type `{step.confirm_text}` to confirm")
    if step.second_operator:
        flags.append("a second operator must confirm")
    if flags:
        out += ["**" + "; ".join(flags) + ".**", ""]
    if step.only_if is not None:
        out += [f"Only if: {_check_line(step.only_if)} (otherwise skip this step: it is not needed).", "",
                *_check_block(step.only_if), ""]
    if step.already_done is not None:
        out += [f"Already done if: {_check_line(step.already_done)} (then offer to skip).", ""]
        out += [*_check_block(step.already_done), ""]
    for check in step.requires:
        out += [f"Safe to run only if: {_check_line(check)}", "", *_check_block(check), ""]
    if step.manual is not None:
        out += [f"By hand ({step.manual.tool}, on {step.manual.where}):", ""]
        out += [f"{i}. {line}" for i, line in enumerate(step.manual.instructions, 1)]
        out += ["", "Then confirm it is done.", ""]
    for command in step.commands:
        lang = "powershell" if isinstance(command, PsCommand) else "sql"
        out += [f"Run on {command.where}:", "", f"```{lang}", *command.lines(), "```", ""]
    for check in step.post_checks:
        out += [f"Proves it worked: {_check_line(check)}", "", *_check_block(check), ""]
    out += [f"Undo: {step.undo}", ""]
    return out


def render_html(proc: Procedure) -> str:
    """The Markdown runbook in a minimal self-contained HTML page (code blocks kept verbatim)."""
    body: list[str] = []
    in_code = False
    in_list = ""
    for line in render_markdown(proc).splitlines():
        if line.startswith("```"):
            body.append("</code></pre>" if in_code else "<pre><code>")
            in_code = not in_code
            continue
        if in_code:
            body.append(html.escape(line))
            continue
        esc = html.escape(line)
        for tag in ("###", "##", "#"):
            if line.startswith(tag + " "):
                level = len(tag)
                body.append(f"<h{level}>{esc[level + 1:]}</h{level}>")
                break
        else:
            if line.startswith("- "):
                if in_list != "ul":
                    body.append("<ul>")
                    in_list = "ul"
                body.append(f"<li>{esc[2:]}</li>")
            elif line and line.split(". ", 1)[0].isdigit():
                if in_list != "ol":
                    body.append("<ol>")
                    in_list = "ol"
                body.append(f"<li>{html.escape(line.split('. ', 1)[1])}</li>")
            else:
                if in_list:
                    body.append(f"</{in_list}>")
                    in_list = ""
                if line:
                    body.append(f"<p>{esc}</p>")
    if in_list:
        body.append(f"</{in_list}>")
    title = html.escape(f"Runbook: {proc.path.title}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title><style>pre{{background:#f4f4f4;padding:.5em;overflow-x:auto}}</style>"
            "</head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def runbook_command(args: argparse.Namespace) -> int:
    """``lync-restore runbook PLAN --path P [--pool F] [--server S] [--backup-set S] [--format md|html]``."""
    loaded = load_plan(args.plan)
    opt = vars(args)  # tests and callers may pass a Namespace with only what they need
    if opt.get("backup_set") is not None:
        location, name = loaded.plan.resolve_set(opt["backup_set"])
        try:
            check_set_name(name if location is not None else opt["backup_set"])
        except BackupStoreError as exc:
            raise UsageError(f"--backup-set {exc.message}") from None
    proc = compose(loaded.plan, args.path, pool=opt.get("pool"), server=opt.get("server"),
                   backup_set=opt.get("backup_set"), new_pool=opt.get("new_pool"))
    text = render_html(proc) if opt.get("format") == "html" else render_markdown(proc)
    if opt.get("output"):
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputFileError(f"{args.output}: cannot be written ({exc.strerror})") from None
        print(f"{args.output}: {len(proc.steps)} steps written", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return ExitCode.OK
