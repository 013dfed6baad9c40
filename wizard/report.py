"""The incident report, rebuilt from the journal alone (Markdown and HTML).

After an incident someone asks: what happened, when, who decided what and why, did we meet the
RTO, how much data did we lose against the RPO, what was skipped or overridden, was the session
interrupted. The journal holds all of it, so the report is a pure function of the journal: the
Summary screen and ``lync-restore report JOURNAL`` produce the same text.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wizard.errors import ExitCode, InputFileError
from wizard.incident_state import replay
from wizard.journal import Entry, Kind, ReadResult, chain_words, read_journal, verdict, write_private
from wizard.recovery_paths import BY_ID


def _when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def fmt_duration(seconds: float) -> str:
    """``3h05m``, ``12m04s``, ``9s`` — compact and unambiguous."""
    s = round(abs(seconds))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    sign = "-" if seconds < 0 else ""
    if d:
        return f"{sign}{d}d{h:02d}h"
    if h:
        return f"{sign}{h}h{m:02d}m"
    if m:
        return f"{sign}{m}m{s:02d}s"
    return f"{sign}{s}s"


def _short_time(text: str) -> str:
    return _when(text).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class TimelineRow:
    seq: int
    time: str
    offset_s: float
    operator: str
    what: str


@dataclass(frozen=True)
class DecisionRow:
    seq: int
    time: str
    question: str
    choice: str
    recommended: str | None
    reason: str
    overridden: bool


@dataclass(frozen=True)
class CheckRow:
    """A §7 check as it was last shown (journaled ``check_result``)."""

    check_id: str
    title: str
    status: str
    detail: str


@dataclass(frozen=True)
class StepRow:
    step_id: str
    status: str
    attempts: int
    duration_s: float | None
    reason: str = ""  # why a step was skipped or found already done (the wizard's evidence, or the operator's)

    @property
    def closed_by_wizard(self) -> bool:
        """Closed without running and without anyone asked: not needed now, or found already done."""
        return self.status in ("skipped", "already_done") and self.reason.startswith(
            ("not needed", "work already done"))


@dataclass(frozen=True)
class Report:
    """Everything the report says, computed once; the renderers only format it."""

    path: Path
    incident: str
    organisation: str
    mode: str
    operators: tuple[str, ...]
    plan: str
    opened: str
    closed: str | None
    outcome: str | None
    recovery_path: str | None
    backup_set: str | None
    restored_after_s: float | None  # incident opened -> service restored (verify reached / closed)
    elapsed_s: float  # opened -> last entry
    rto_s: int | None
    data_loss_s: float | None  # backup taken -> incident opened (by the clock the set was judged by)
    rpo_s: int | None
    decisions: tuple[DecisionRow, ...]
    skipped_or_overridden: tuple[DecisionRow, ...]
    steps: tuple[StepRow, ...]
    in_doubt: tuple[str, ...]
    interruptions: tuple[TimelineRow, ...]
    resumes: int
    torn_tails: int
    torn_now: bool
    chain_intact: bool
    integrity: str  # journal verify's verdict: "sealed, intact", "open, intact (N entries)" or what is wrong
    chain: str  # keyed or unkeyed, in words
    final_hash: str  # the anchor to keep outside the journal (the change ticket)
    timeline: tuple[TimelineRow, ...]
    checks: tuple[CheckRow, ...] = ()  # §7, the last result of each check shown


def _resumed(e: Entry, p: dict[str, Any]) -> str:
    doubt = p.get("in_doubt") or []
    return "resumed" + (f"; in doubt: {', '.join(doubt)}" if doubt else "")


def _decision(e: Entry, p: dict[str, Any]) -> str:
    why = f" ({p['reason']})" if p.get("reason") else ""
    return f"decision {p.get('question')}: {p.get('choice')}{why}"


def _interrupted(e: Entry, p: dict[str, Any]) -> str:
    step = p.get("step")
    return "interrupted" + (f" during {step}" if step else "") + f": {p.get('reason', '')}"


_DESCRIBE: dict[str, Callable[[Entry, dict[str, Any]], str]] = {
    Kind.OPENED: lambda e, p: f"incident opened ({p.get('mode', 'drill')}) for {p.get('organisation', '?')}",
    Kind.RESUMED: _resumed,
    Kind.STAGE: lambda e, p: f"stage {p.get('from')} -> {p.get('to')}",
    Kind.DECISION: _decision,
    Kind.ACTION_STARTED: lambda e, p: f"step {p.get('step')} started on {p.get('host')} "
    f"(attempt {p.get('attempt', 1)})",
    Kind.ACTION_FINISHED: lambda e, p: f"step {p.get('step')} {p.get('status')}" + (
        f", exit {p['exit_code']}" if p.get("exit_code") is not None else ""),
    Kind.OUTPUT: lambda e, p: f"output of {p.get('step')}: {len(p.get('lines') or [])} lines",
    Kind.NOTE: lambda e, p: f"note: {p.get('text')}",
    Kind.WARNING: lambda e, p: f"warning: {p.get('message')}",
    Kind.ERROR: lambda e, p: f"error: {p.get('title')}: {p.get('message')}",
    Kind.INTERRUPTED: _interrupted,
    Kind.TORN_TAIL: lambda e, p: f"torn tail of {p.get('bytes')} bytes set aside in {p.get('kept_in')}",
    Kind.HANDED_OVER: lambda e, p: f"{p.get('by', e.operator)} handed the incident over"
    + (f": {p['note']}" if p.get("note") else ""),
    Kind.TOOK_OVER: lambda e, p: f"{e.operator} took the incident over from {p.get('from')} ({p.get('why')})",
    Kind.HINT: lambda e, p: f"hint asked at {p.get('step') or p.get('stage')}: {p.get('text')}",
    Kind.SCORE: lambda e, p: f"drill scored {p.get('total')}/{p.get('of')}",
    Kind.CLOSED: lambda e, p: f"incident closed: {p.get('outcome')}",
    Kind.CHECK: lambda e, p: f"check {p.get('check')}: {p.get('status')}",
}


def score_lines(score: Mapping[str, Any]) -> list[str]:
    """A drill's score for a terminal: the total, then each deduction with its reason and the
    section to read (#19 item 1)."""
    lines = [f"Score: {score.get('total')}/{score.get('of')}" + (
        f" ({score.get('scenario')})" if score.get("scenario") else "")]
    for d in score.get("deductions") or []:
        sect = f" (read §{d['section']})" if d.get("section") else ""
        lines.append(f"  -{d.get('points')} {d.get('component')}: {d.get('reason')}{sect}")
    if not score.get("deductions"):
        lines.append("  no deductions")
    return lines


def score_markdown(score: Mapping[str, Any], incident: str) -> str:
    """``score.md`` beside the journal: what the score is made of, each deduction with the § to read."""
    out = [f"# Drill score: {incident}", "",
           f"**{score.get('total')} of {score.get('of')}**" + (f" (scenario {_md(score.get('scenario'))})"
                                                               if score.get("scenario") else ""), ""]
    facts = score.get("facts") or {}
    if facts:
        out += ["| fact | value |", "|---|---|"] + [f"| {_md_cell(k)} | {_md_cell(v)} |" for k, v in facts.items()]
        out.append("")
    out += ["| component | weight | lost |", "|---|---|---|"]
    lost: dict[str, int] = {}
    for d in score.get("deductions") or []:
        lost[str(d.get("component"))] = lost.get(str(d.get("component")), 0) + int(d.get("points") or 0)
    for name, weight in (score.get("weights") or {}).items():
        out.append(f"| {_md_cell(name)} | {weight} | {lost.get(name, 0)} |")
    out += ["", "## Deductions", ""]
    for d in score.get("deductions") or []:
        sect = f" Read §{d['section']}." if d.get("section") else ""
        out.append(f"- **-{d.get('points')} {_md(d.get('component'))}**: {_md(d.get('reason'))}.{sect}")
    if not score.get("deductions"):
        out.append("None: full marks.")
    out += ["", "This score is journaled (entry `drill_score`): the journal's hash chain covers it.", ""]
    return "\n".join(out)


def describe_entry(e: Entry) -> str:
    """One line for one journal entry (the journal viewer, the follower, the report)."""
    describe = _DESCRIBE.get(e.kind)
    return describe(e, e.payload) if describe is not None else e.kind


def _last_checks(entries: Sequence[Entry]) -> tuple[CheckRow, ...]:
    """Each §7 check's last journaled result, in the order the checks were first shown."""
    last: dict[str, CheckRow] = {}
    for e in entries:
        if e.kind == Kind.CHECK:
            p = e.payload
            last[str(p.get("check"))] = CheckRow(str(p.get("check")), str(p.get("title") or ""),
                                                 str(p.get("status") or ""), str(p.get("detail") or ""))
    return tuple(last.values())


def _evidence_value(evidence: list[Any], key: str) -> str | None:
    for item in evidence:
        if isinstance(item, str) and item.startswith(key + "="):
            return item.split("=", 1)[1]
    return None


def _plan_objectives(plan_path: str) -> tuple[int | None, int | None]:
    """RTO and RPO from the plan the journal names, when it can still be read."""
    from wizard.errors import WizardError
    from wizard.plan import load_plan

    try:
        objectives = load_plan(plan_path).plan.objectives
    except WizardError:
        return None, None
    return objectives.rto.seconds, objectives.rpo.seconds


def build_report(result: ReadResult, *, rto_s: int | None = None, rpo_s: int | None = None) -> Report:
    """Compute the report. RTO/RPO default to those journaled at the opening, else to the plan the
    journal names (if still readable)."""
    entries = result.entries
    if not entries:
        raise InputFileError(f"{result.path}: holds no complete entry, so there is nothing to report")
    st = replay(entries)
    rto_s = st.rto_s if rto_s is None else rto_s  # journaled at the opening
    rpo_s = st.rpo_s if rpo_s is None else rpo_s
    if rto_s is None or rpo_s is None:  # an older journal: the plan it names, if still readable
        plan_rto, plan_rpo = _plan_objectives(st.plan_path)
        rto_s = plan_rto if rto_s is None else rto_s
        rpo_s = plan_rpo if rpo_s is None else rpo_s
    t0 = _when(entries[0].time)

    def row(e: Entry) -> TimelineRow:
        return TimelineRow(e.seq, e.time, (_when(e.time) - t0).total_seconds(), e.operator, describe_entry(e))

    timeline = tuple(row(e) for e in entries if e.kind != Kind.OUTPUT)
    decisions: list[DecisionRow] = []
    for e in st.decisions:
        p = e.payload
        rec = p.get("recommended")
        overridden = rec is not None and p.get("choice") != rec
        decisions.append(DecisionRow(e.seq, e.time, str(p.get("question")), str(p.get("choice")),
                                     None if rec is None else str(rec), str(p.get("reason") or ""), overridden))
    flagged = tuple(d for d in decisions if d.overridden or d.question in ("skip_step", "done_by_hand"))

    restored_at: dt.datetime | None = None
    closed_entry = next((e for e in entries if e.kind == Kind.CLOSED), None)
    for e in entries:
        if e.kind == Kind.STAGE and e.payload.get("to") == "verify":
            restored_at = _when(e.time)
            break
    if restored_at is None and closed_entry is not None and closed_entry.payload.get("outcome") == "restored":
        restored_at = _when(closed_entry.time)

    data_loss: float | None = None
    for d in reversed(st.decisions):
        if d.payload.get("question") == "backup_set":
            evidence = list(d.payload.get("evidence") or [])
            taken, age = _evidence_value(evidence, "taken_at"), _evidence_value(evidence, "age_s")
            if age and age.isdigit():  # the set's age when chosen, by the clock the choice was judged by
                data_loss = int(age) - (_when(d.time) - t0).total_seconds()  # (a drill: the lab's)
            elif taken:
                data_loss = (t0 - _when(taken)).total_seconds()
            break

    steps = tuple(StepRow(s.step_id, s.status, s.attempts,
                          float(s.detail["duration_s"]) if "duration_s" in s.detail else None,
                          str(s.detail.get("reason") or ""))
                  for s in st.steps.values())
    operators = tuple(dict.fromkeys(e.operator for e in entries))
    return Report(
        path=result.path, incident=st.incident, organisation=st.organisation,
        mode="drill" if st.drill else "live", operators=operators, plan=st.plan_path,
        opened=entries[0].time, closed=closed_entry.time if closed_entry else None,
        outcome=str(closed_entry.payload.get("outcome")) if closed_entry else None,
        recovery_path=st.recovery_path, backup_set=st.backup_set,
        restored_after_s=(restored_at - t0).total_seconds() if restored_at else None,
        elapsed_s=(_when(entries[-1].time) - t0).total_seconds(), rto_s=rto_s,
        data_loss_s=data_loss, rpo_s=rpo_s, decisions=tuple(decisions), skipped_or_overridden=flagged,
        steps=steps, in_doubt=tuple(st.in_doubt),
        interruptions=tuple(row(e) for e in entries if e.kind == Kind.INTERRUPTED),
        resumes=st.resumes, torn_tails=st.torn_tails, torn_now=result.torn is not None,
        chain_intact=result.intact, integrity=verdict(result).text, chain=chain_words(result),
        final_hash=result.last_hash, timeline=timeline, checks=_last_checks(entries),
    )


# --------------------------------------------------------------------------- sentences


def restore_sentence(r: Report) -> str:
    rto = f"the RTO of {fmt_duration(r.rto_s)}" if r.rto_s else "the RTO (unknown: plan not readable)"
    if r.restored_after_s is None:
        return f"Service not yet restored after {fmt_duration(r.elapsed_s)}, against {rto}."
    verdict = ""
    if r.rto_s:
        verdict = " (within the RTO)" if r.restored_after_s <= r.rto_s else " (RTO MISSED)"
    return f"Service restored after {fmt_duration(r.restored_after_s)}, against {rto}{verdict}."


def data_loss_sentence(r: Report) -> str:
    if r.data_loss_s is None:
        path = BY_ID.get(r.recovery_path or "")
        if path is not None and not path.restores_from_backup:
            return f"No data restored from a backup: the path {path.id} does not restore from one."
        return "No backup set was chosen, so there is no data-loss window to report."
    rpo = f"the RPO of {fmt_duration(r.rpo_s)}" if r.rpo_s else "the RPO (unknown)"
    verdict = ""
    if r.rpo_s:
        verdict = " (within the RPO)" if r.data_loss_s <= r.rpo_s else " (RPO MISSED)"
    return (f"Data-loss window {fmt_duration(r.data_loss_s)} (backup set {r.backup_set} to the incident), "
            f"against {rpo}{verdict}.")


def integrity_sentence(r: Report) -> str:
    parts = [f"Journal {r.integrity}." if r.chain_intact else f"JOURNAL HASH CHAIN BROKEN: {r.integrity}.",
             f"Chain {r.chain}.", f"Final hash {r.final_hash} (keep it in the change ticket: "
             "`lync-restore journal verify --expect` checks the journal against it)."]
    if r.torn_tails:
        parts.append(f"{r.torn_tails} torn tail(s) set aside after a crash.")
    if r.torn_now:
        parts.append("The journal ends in a torn tail (an incomplete write).")
    return " ".join(parts)


def interruption_sentence(r: Report) -> str:
    n = len(r.interruptions)
    return (f"{n} interruption(s) and {r.resumes} resume(s); torn tails: {r.torn_tails}."
            + (f" Steps still in doubt: {', '.join(r.in_doubt)}." if r.in_doubt else ""))


# --------------------------------------------------------------------------- renderers


_MD_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\\": "\\\\", "`": "\\`", "*": "\\*",
                            "[": "\\[", "]": "\\]", "\n": " ", "\r": " "})


def _md(text: object) -> str:
    """Text that came from people or servers, safe in Markdown: no raw HTML (``<``, ``>``, ``&`` as
    entities), no emphasis, links or code spans of its own, one line."""
    return str(text).translate(_MD_ESCAPES)


def _md_cell(text: object) -> str:
    return _md(text).replace("|", "\\|")


def _md_code(text: object) -> str:
    """A path in a code span (backticks cannot close it early; nothing inside is HTML)."""
    return "`" + str(text).replace("`", "'").replace("\n", " ") + "`"


def render_markdown(r: Report) -> str:
    out: list[str] = [f"# Incident {_md(r.incident)}: {_md(r.organisation)}", ""]
    out.append(f"- Mode: **{r.mode.upper()}**")
    out.append(f"- Operators: {', '.join(_md(o) for o in r.operators)}")
    out.append(f"- Plan: {_md_code(r.plan)}")
    out.append(f"- Opened: {_short_time(r.opened)} UTC")
    out.append(f"- Closed: {_short_time(r.closed) + ' UTC, ' + _md(r.outcome) if r.closed else 'not closed'}")
    out.append(f"- Recovery path: {_md(r.recovery_path or 'none chosen')}; backup set: {_md(r.backup_set or 'none')}")
    out += ["", "## Objectives", "", f"- {_md(restore_sentence(r))}", f"- {_md(data_loss_sentence(r))}", ""]
    out += ["## Interruptions", "", f"- {_md(interruption_sentence(r))}"]
    out += [f"- {_short_time(i.time)} {_md(i.what)}" for i in r.interruptions]
    out += ["", "## Skipped and overridden decisions", ""]
    if r.skipped_or_overridden:
        out += [f"- #{d.seq} {_md(d.question)}: **{_md(d.choice)}**"
                + (f" over the recommended {_md(d.recommended)}" if d.overridden else "")
                + f". Reason: {_md(d.reason or '(none given)')}" for d in r.skipped_or_overridden]
    else:
        out.append("- None: every recommendation was followed and no step was skipped.")
    by_wizard = [s for s in r.steps if s.closed_by_wizard]
    if by_wizard:
        out += ["", "Steps the wizard closed without running them (nobody was asked; the evidence):", ""]
        out += [f"- {_md(s.step_id)}: {_md(s.status.replace('_', ' '))}: {_md(s.reason)}" for s in by_wizard]
    out += ["", "## Decisions", "", "| # | time | question | choice | recommended | reason |",
            "|---|---|---|---|---|---|"]
    out += [f"| {d.seq} | {_short_time(d.time)} | {_md_cell(d.question)} | {_md_cell(d.choice)} | "
            f"{_md_cell(d.recommended or '')} | {_md_cell(d.reason)} |" for d in r.decisions]
    out += ["", "## Steps", "", "| step | status | attempts | duration | why |", "|---|---|---|---|---|"]
    out += [f"| {_md_cell(s.step_id)} | {_md_cell(s.status)} | {s.attempts} | "
            f"{fmt_duration(s.duration_s) if s.duration_s is not None else ''} | {_md_cell(s.reason)} |"
            for s in r.steps]
    out += ["", "## Verification (§7)", ""]
    out += (["| check | result | detail |", "|---|---|---|"]
            + [f"| {_md_cell(c.title)} | {_md_cell(c.status.upper())} | {_md_cell(c.detail)} |" for c in r.checks]
            if r.checks else ["- No §7 check was run."])
    out += ["", "## Timeline", "", "| # | time (UTC) | +elapsed | operator | what |", "|---|---|---|---|---|"]
    out += [f"| {t.seq} | {_short_time(t.time)} | +{fmt_duration(t.offset_s)} | {_md_cell(t.operator)} | "
            f"{_md_cell(t.what)} |" for t in r.timeline]
    out += ["", "## Journal", "", f"- {_md_code(r.path)}", f"- {integrity_sentence(r)}", ""]
    return "\n".join(out)


_CSS = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:.2em .5em;text-align:left}.live{color:#fff;background:#b00;"
        "padding:.2em .5em}.missed{color:#b00;font-weight:bold}")


def render_html(r: Report) -> str:
    e = html.escape

    def table(head: list[str], rows: list[list[str]]) -> str:
        th = "".join(f"<th>{e(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"

    def sentence(text: str) -> str:
        cls = ' class="missed"' if "MISSED" in text or "BROKEN" in text else ""
        return f"<p{cls}>{e(text)}</p>"

    mode = '<span class="live">LIVE</span>' if r.mode == "live" else "DRILL"
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Incident {e(r.incident)}"
             f"</title><style>{_CSS}</style></head><body>",
             f"<h1>Incident {e(r.incident)}: {e(r.organisation)}</h1>",
             f"<ul><li>Mode: {mode}</li><li>Operators: {e(', '.join(r.operators))}</li>"
             f"<li>Plan: <code>{e(r.plan)}</code></li><li>Opened: {e(_short_time(r.opened))} UTC</li>"
             f"<li>Closed: {e(_short_time(r.closed) + ' UTC, ' + str(r.outcome) if r.closed else 'not closed')}</li>"
             f"<li>Recovery path: {e(r.recovery_path or 'none chosen')}; backup set: {e(r.backup_set or 'none')}"
             "</li></ul>",
             "<h2>Objectives</h2>", sentence(restore_sentence(r)), sentence(data_loss_sentence(r)),
             "<h2>Interruptions</h2>", sentence(interruption_sentence(r)),
             table(["time", "what"], [[_short_time(i.time), i.what] for i in r.interruptions]),
             "<h2>Skipped and overridden decisions</h2>",
             table(["#", "question", "choice", "recommended", "reason"],
                   [[str(d.seq), d.question, d.choice, d.recommended or "", d.reason or "(none given)"]
                    for d in r.skipped_or_overridden]),
             "<h2>Decisions</h2>",
             table(["#", "time", "question", "choice", "recommended", "reason"],
                   [[str(d.seq), _short_time(d.time), d.question, d.choice, d.recommended or "", d.reason]
                    for d in r.decisions]),
             "<h2>Steps</h2>",
             table(["step", "status", "attempts", "duration", "why"],
                   [[s.step_id, s.status, str(s.attempts),
                     fmt_duration(s.duration_s) if s.duration_s is not None else "", s.reason] for s in r.steps]),
             "<h2>Verification (§7)</h2>",
             table(["check", "result", "detail"], [[c.title, c.status.upper(), c.detail] for c in r.checks])
             if r.checks else sentence("No §7 check was run."),
             "<h2>Timeline</h2>",
             table(["#", "time (UTC)", "+elapsed", "operator", "what"],
                   [[str(t.seq), _short_time(t.time), "+" + fmt_duration(t.offset_s), t.operator, t.what]
                    for t in r.timeline]),
             "<h2>Journal</h2>", f"<p><code>{e(str(r.path))}</code></p>", sentence(integrity_sentence(r)),
             "</body></html>"]
    return "\n".join(parts) + "\n"


def render(r: Report, fmt: str) -> str:
    return render_html(r) if fmt == "html" else render_markdown(r)


def report_command(args: argparse.Namespace) -> int:
    """``lync-restore report JOURNAL [--format md|html] [-o FILE]``."""
    result = read_journal(args.journal)
    text = render(build_report(result), args.format)
    if args.output:
        try:
            write_private(Path(args.output), text.encode("utf-8"))
        except OSError as exc:
            raise InputFileError(f"cannot write the report to {args.output}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)
    return ExitCode.OK if result.intact else ExitCode.JOURNAL
