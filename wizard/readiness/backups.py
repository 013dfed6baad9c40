"""The backup schedule against the sets each location holds (§2.5, §3, §7.4).

For every location and every part a scheduled component puts in a set (``UserData_<pool>.zip``
for each pool, ``LcsCDR.bak``, the copy of each file store...), the newest set that holds it:

* no set holds it: CRITICAL (the backup job does not produce it);
* its age is over both the component's interval and the RPO: CRITICAL (a restore would lose
  more than the business accepts);
* over the interval but within the RPO: WARNING (a scheduled run was missed);
* otherwise OK. A component backed up less often than the RPO (weekly Monitoring data) is held
  to its own interval: the plan accepted that.

That newest copy is then checked for integrity by :mod:`wizard.catalog.integrity`: zip archives
by their CRCs (a mounted share) or size and SHA-256 against the set's manifest (a share read
through WinRM), file store copies counted against the manifest, and every ``.bak`` by
``RESTORE HEADERONLY`` and ``RESTORE VERIFYONLY`` run by *the instance that would restore it*
(its service account, not this machine, reads the share). A part that could not be checked is
UNKNOWN, never OK.

Sets are read newest first and only until every part's newest copy is found, so a year of sets
is not all scanned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from wizard.catalog.components import Part, Requirement, SetContents, aliases, component_requirements, scan_set
from wizard.catalog.discover import Listing, SetEntry
from wizard.catalog.integrity import BakVerifier, check_parts
from wizard.plan.model import BackupLocation, Plan
from wizard.plan.schema import Duration
from wizard.readiness.report import Finding, Perf, Status


def _age(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:.1f} h" if hours < 72 else f"{hours / 24:.1f} days"


@dataclass(frozen=True)
class Wanted:
    req: Requirement
    every_s: float
    every: str


def wanted_parts(plan: Plan) -> list[Wanted]:
    out: list[Wanted] = []
    for entry in plan.backup.schedule:
        out += [Wanted(r, entry.every.seconds, str(entry.every)) for r in component_requirements(plan, entry.component)]
    return out


def restoring_instances(plan: Plan) -> dict[str, str]:
    """The SQL instance id that would restore each database backup (key as the catalogue names
    it: lcscdr, qoemetrics, lcslog, mgc), from the pools that use them (§6.10, §6.11)."""
    out: dict[str, str] = {}
    for pool in plan.topology.pools:
        if pool.monitoring_store:
            out.setdefault("lcscdr", pool.monitoring_store)
            out.setdefault("qoemetrics", pool.monitoring_store)
        if pool.archiving_store:
            out.setdefault("lcslog", pool.archiving_store)
        if pool.persistent_chat_store:
            out.setdefault("mgc", pool.persistent_chat_store)
    return out


def location_findings(plan: Plan, loc: BackupLocation, listing: Listing, now: dt.datetime,
                      verifier_for: Callable[[str], BakVerifier | str]) -> tuple[list[Finding], list[Perf]]:
    """Findings for one listed location. ``verifier_for(sql_id)`` gives the instance's verifier,
    or the sentence saying why it cannot be asked."""
    rpo = plan.objectives.rpo
    wanted = wanted_parts(plan)
    newest: dict[Requirement, tuple[SetContents, list[Part]]] = {}
    perf = [Perf(f"sets_{loc.name}", len(listing.sets))]
    if not listing.sets:
        return [Finding("backups", loc.name, Status.CRITICAL, f"{loc.unc} holds no backup set.", "3")], perf
    perf.append(Perf(f"age_{loc.name}", round((now - listing.sets[0].created).total_seconds()), "s",
                     crit=rpo.seconds))
    for entry in listing.sets:  # newest first; stop once every part's newest copy is known
        if len(newest) == len(wanted):
            break
        contents = scan_set(entry, plan.backup.layout)
        for w in wanted:
            if w.req not in newest:
                parts = contents.find(w.req.component, w.req.key, aliases(plan, w.req))
                if parts:
                    newest[w.req] = (contents, parts)
    head = listing.sets[0]
    head_age = (now - head.created).total_seconds()
    facts = {"set": head.name, "age_s": round(head_age), "rpo": str(rpo), "sets": len(listing.sets)}
    if head_age > rpo.seconds:
        findings = [Finding("backups", f"{loc.name} newest set", Status.CRITICAL,
                            f"the newest set in {loc.unc} is {head.name}, {_age(head_age)} old: over the RPO of "
                            f"{rpo}; a restore now would lose more than the plan accepts (is the backup job "
                            "running?).", "3", facts)]
    else:
        findings = [Finding("backups", f"{loc.name} newest set", Status.OK,
                            f"{head.name}, {_age(head_age)} old (RPO {rpo}); {len(listing.sets)} sets", "3", facts)]
    for w in wanted:
        findings.append(_part_finding(loc, w, newest.get(w.req), head, now, rpo, len(listing.sets)))
    findings += _integrity(plan, loc, newest, verifier_for)
    return findings, perf


def part_subject(loc: BackupLocation, req: Requirement) -> str:
    key = f" ({req.key})" if req.component == "file_store" and req.key else ""
    return f"{loc.name} {req.label}{key}"


def _part_finding(loc: BackupLocation, w: Wanted, copy: tuple[SetContents, list[Part]] | None, head: SetEntry,
                  now: dt.datetime, rpo: Duration, sets: int) -> Finding:
    """One scheduled part: in the newest set (its age is the location's finding, unless the part
    is due more often than the RPO), or only in an older set, or in none."""
    subject = part_subject(loc, w.req)
    if copy is None:
        return Finding("backups", subject, Status.CRITICAL,
                       f"no set in {loc.unc} holds {w.req.label} ({w.req.component}, scheduled every {w.every}); "
                       f"{sets} sets read.", "2.5")
    entry = copy[0].entry
    age_s = (now - entry.created).total_seconds()
    facts = {"set": entry.name, "age_s": round(age_s), "every": w.every, "rpo": str(rpo)}
    if entry is head:
        if w.every_s < age_s <= rpo.seconds:
            return Finding("backups", subject, Status.WARNING,
                           f"the newest copy is in the newest set {entry.name}, {_age(age_s)} old: a scheduled run "
                           f"(every {w.every}) was missed, still within the RPO of {rpo}.", "7.4", facts)
        return Finding("backups", subject, Status.OK, f"in the newest set {entry.name}", "3", facts)
    where = f"the newest set {head.name} does not hold it; the newest copy is in {entry.name}, {_age(age_s)} old"
    if age_s > max(w.every_s, rpo.seconds):
        return Finding("backups", subject, Status.CRITICAL,
                       f"{where}: over the RPO of {rpo} (scheduled every {w.every}); a restore now would lose more "
                       "than the plan accepts.", "3", facts)
    if age_s > w.every_s:
        return Finding("backups", subject, Status.WARNING,
                       f"{where}: a scheduled run (every {w.every}) was missed, still within the RPO of {rpo}.",
                       "7.4", facts)
    return Finding("backups", subject, Status.OK, f"{where}, within its interval of {w.every}", "3", facts)


def _integrity(plan: Plan, loc: BackupLocation, newest: Mapping[Requirement, tuple[SetContents, list[Part]]],
               verifier_for: Callable[[str], BakVerifier | str]) -> list[Finding]:
    """The newest copy of every wanted part checked; one far-side hash request per set for its
    zips, and the .bak files asked of the instance that restores each."""
    instances = restoring_instances(plan)
    label = {(c.entry.name, p.rel): part_subject(loc, r) for r, (c, parts) in newest.items() for p in parts}
    by_set: dict[str, tuple[SetContents, list[Part]]] = {}
    for contents, parts in newest.values():
        by_set.setdefault(contents.entry.name, (contents, []))[1].extend(parts)
    out: list[Finding] = []
    for name, (contents, parts) in by_set.items():
        batches: dict[str | None, list[Part]] = {}
        for part in dict.fromkeys(parts):  # one part may hold two requirements' data
            sql_id = instances.get((part.key or "").lower(), "") if part.kind in ("bak", "log") else None
            batches.setdefault(sql_id, []).append(part)
        for sql_id, batch in batches.items():
            verifier: BakVerifier | None = None
            if sql_id is not None:
                got = verifier_for(sql_id) if sql_id else "the plan names no instance that restores it"
                if isinstance(got, str):
                    out += [Finding("integrity", label[(name, p.rel)], Status.UNKNOWN,
                                    f"{p.rel} in {name} was not verified: {got.rstrip('.')}.", "7.4") for p in batch]
                    continue
                verifier = got
            asked = f", asked of {sql_label(plan, sql_id)}" if sql_id else ""
            for check in check_parts(contents, batch, verifier).checks:
                status = {True: Status.OK, False: Status.CRITICAL, None: Status.UNKNOWN}[check.ok]
                text = check.detail.rstrip(".")
                if check.ok is not True:
                    text = f"{text} (set {name}{asked})."
                subject = label.get((name, check.rel), f"{loc.name} {check.rel}")
                out.append(Finding("integrity", subject, status, text, "7.4", {"set": name, **(check.facts or {})}))
    return out


def sql_label(plan: Plan, sql_id: str) -> str:
    inst = plan.sql(sql_id)
    return f"{inst.server}\\{inst.instance}" if inst.instance else inst.server
