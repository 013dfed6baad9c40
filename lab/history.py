"""``lync-restore drill history [TRAINEE]`` (#19 item 4): a trainee's scored drills, read from
their journals, per outage class (§5.3), with how score and time to restore trend, as a table and
a small terminal chart; and the pick of ``drill --random``, which favours the classes a trainee
has practised least.

Only what the journals hold is shown: a drill's score is its journaled ``drill_score`` entry (the
hash chain covers it); a journal whose chain is broken is left out and named. Nothing is written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from wizard.app_entry import default_operator
from wizard.errors import JournalError
from wizard.journal import JOURNAL_FILE, Kind, read_journal

#: the chart's characters, lowest to highest (they need no colour, and a 16-colour console shows them)
BARS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Drill:
    incident: str
    when: dt.datetime
    scenario: str
    outage_class: str
    total: int
    of: int
    restore_s: int
    hints: int

    @property
    def percent(self) -> float:
        return 100.0 * self.total / self.of if self.of else 0.0


def scored_drills(journal_dir: Path, trainee: str | None = None) -> tuple[list[Drill], list[str]]:
    """Every scored drill under ``journal_dir`` (of ``trainee`` when given: the operator who opened
    it), oldest first; and the folders left out, each with why."""
    drills: list[Drill] = []
    skipped: list[str] = []
    for journal in sorted(journal_dir.glob(f"*/{JOURNAL_FILE}")):
        folder = journal.parent
        try:
            result = read_journal(folder)
        except (JournalError, OSError) as exc:
            skipped.append(f"{folder.name}: {getattr(exc, 'message', exc)}")
            continue
        entries = result.entries
        if not entries or not entries[0].drill:
            continue
        if trainee is not None and entries[0].operator.casefold() != trainee.casefold():
            continue
        if not result.intact:
            skipped.append(f"{folder.name}: its hash chain is broken; its score cannot be trusted")
            continue
        score = next((e for e in reversed(entries) if e.kind == Kind.SCORE), None)
        if score is None:
            continue
        p = score.payload
        drills.append(Drill(entries[0].incident, entries[0].when, str(p.get("scenario") or "?"),
                            str(p.get("outage_class") or "?"), int(p.get("total") or 0), int(p.get("of") or 0),
                            int(p.get("restore_s") or 0), int((p.get("facts") or {}).get("hints") or 0)))
    drills.sort(key=lambda d: d.when)
    return drills, skipped


def chart(values: Sequence[float], lo: float = 0.0, hi: float = 100.0) -> str:
    """One character per value, from ▁ (``lo``) to █ (``hi``)."""
    span = (hi - lo) or 1.0
    return "".join(BARS[min(len(BARS) - 1, max(0, int((v - lo) / span * (len(BARS) - 1) + 0.5)))] for v in values)


def _trend(values: Sequence[float]) -> str:
    if len(values) < 2:
        return "first drill"
    delta = values[-1] - values[0]
    return "steady" if abs(delta) < 0.5 else f"{'+' if delta > 0 else ''}{delta:.0f} since the first"


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def render(drills: Sequence[Drill], trainee: str) -> str:
    if not drills:
        return f"No scored drills of {trainee} yet."
    lines = [f"Drill history of {trainee}: {len(drills)} scored drills", ""]
    lines.append(f"{'class':<6}{'drills':>7}  {'last':>5}  {'best':>5}  {'score trend':<24}{'time to restore'}")
    by_class: dict[str, list[Drill]] = {}
    for d in drills:
        by_class.setdefault(d.outage_class, []).append(d)
    for cls in sorted(by_class):
        ds = by_class[cls]
        scores = [d.percent for d in ds]
        times = [d.restore_s for d in ds]
        slow = max(times) or 1
        lines.append(f"{cls:<6}{len(ds):>7}  {scores[-1]:>4.0f}%  {max(scores):>4.0f}%  "
                     f"{chart(scores[-12:]):<12}{_trend(scores):<12}{chart(times[-12:], 0, slow):<12} "
                     f"{_hours(times[-1])}")
    lines += ["", f"{'when':<17}{'class':<6}{'scenario':<30}{'score':>9}{'time':>8}{'hints':>6}"]
    for d in drills[-20:]:
        lines.append(f"{d.when:%Y-%m-%d %H:%M}  {d.outage_class:<6}{d.scenario[:29]:<30}"
                     f"{d.total:>4}/{d.of:<4}{_hours(d.restore_s):>8}{d.hints:>6}")
    return "\n".join(lines)


def history_command(args: argparse.Namespace, journal_dir: Path) -> int:
    trainee = getattr(args, "trainee", None) or default_operator(getattr(args, "operator", None))
    drills, skipped = scored_drills(journal_dir, trainee)
    print(render(drills, trainee))
    for s in skipped:
        print(f"left out: {s}")
    return 0


def unfinished_scenario(journal_dir: Path, trainee: str, prefix: str) -> str | None:
    """The scenario of ``trainee``'s newest unfinished drill whose incident id starts with
    ``prefix``: its journal's plan is the drill plan kept under ``.labs/<scenario>/``."""
    found: list[tuple[str, str]] = []
    for journal in journal_dir.glob(f"{prefix}*/{JOURNAL_FILE}"):
        try:
            entries = read_journal(journal.parent).entries
        except (JournalError, OSError):
            continue
        if not entries or entries[0].operator.casefold() != trainee.casefold():
            continue
        if any(e.kind == Kind.CLOSED for e in entries):
            continue
        parts = Path(str(entries[0].payload.get("plan") or "")).parts
        if ".labs" in parts and parts.index(".labs") + 1 < len(parts):
            found.append((entries[0].time, parts[parts.index(".labs") + 1]))
    return max(found)[1] if found else None


def pick_random(names_by_class: Mapping[str, Sequence[str]], practised: Iterable[Drill], seed: int | None) -> str:
    """A scenario for ``drill --random``: each class weighted 1/(1 + drills of it already scored),
    so the least-practised classes come up more often; then a scenario of that class at random."""
    counts: dict[str, int] = {}
    for d in practised:
        counts[d.outage_class] = counts.get(d.outage_class, 0) + 1
    rng = random.Random(seed)
    classes = sorted(names_by_class)
    cls = rng.choices(classes, weights=[1.0 / (1 + counts.get(c, 0)) for c in classes])[0]
    return rng.choice(sorted(names_by_class[cls]))
