"""The readiness audit's pieces without a network (#18 item 1): what the plan asks of each
server, the schedule held against a location's sets (§2.5, §3, §7.4), the quorum rule (§5.4),
and the three renderings, whose exit codes carry the Nagios meaning."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

from tests.conftest import REPO
from wizard.catalog.discover import list_sets
from wizard.plan import load_plan
from wizard.plan.model import Plan
from wizard.readiness.backups import location_findings, wanted_parts
from wizard.readiness.command import _quorum
from wizard.readiness.needs import host_needs
from wizard.readiness.probe import HostAnswer, domain_findings, host_findings
from wizard.readiness.report import Audit, Finding, Perf, Status, render_json, render_nagios, render_table, worst

PLAN = REPO / "plans" / "lab.yaml"
NOW = dt.datetime(2026, 12, 7, 9, 0)


def _plan() -> Plan:
    return load_plan(PLAN).plan


def test_every_member_of_a_pool_is_asked_what_any_member_may_be_asked() -> None:
    needs = host_needs(_plan())
    # pool1's members: the same cmdlets (any of them may be the survivor that runs a step)
    pool1 = [needs[f"fe0{i}.fabrikam.lab"] for i in (1, 2, 3)]
    assert pool1[0].cmdlets.keys() == pool1[1].cmdlets.keys() == pool1[2].cmdlets.keys()
    assert "Import-CsConfiguration" in pool1[0].cmdlets and "Import-CsUserData" in pool1[0].cmdlets
    assert all(n.reads_backups for n in pool1)
    # the backup vaults are locations, not "other shares"; the file stores are other shares
    assert not any("bk01" in s for s in pool1[1].shares) and any("fs01" in s for s in pool1[1].shares)
    assert needs["edge01.fabrikam.lab"].domain_member is False and needs["fe01.fabrikam.lab"].domain_member
    assert needs["fs01.fabrikam.lab"].pool is None


def _zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("DocItemSet.xml", "<DocItemSet/>")


def _set(root: Path, name: str, plan: Plan, *, skip: tuple[str, ...] = ()) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    for w in wanted_parts(plan):
        if w.req.label in skip:
            continue
        target = folder.joinpath(*w.req.label.split("\\"))
        if w.req.component == "file_store":  # two stores share the name lyncshare: copies are kept by id
            target = folder / "filestore" / str(w.req.key)
            target.mkdir(parents=True, exist_ok=True)
            (target / "a.txt").write_text("x", encoding="utf-8")
        elif target.suffix == ".zip":
            _zip(target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"not verified here")


def _findings(plan: Plan, root: Path) -> dict[str, Finding]:
    loc = plan.backup.locations[0]
    listing = list_sets(root, plan.backup.layout, loc.unc)
    found, perf = location_findings(plan, loc, listing, NOW, lambda sql_id: f"{sql_id} is not asked in this test")
    out = {f"{f.check}:{f.subject}": f for f in found}
    assert len(out) == len(found), "one finding per check and subject"
    assert perf[0].label == "sets_hq-vault" and perf[0].value == len(listing.sets)
    return out


def test_a_fresh_set_with_every_part_is_ok_and_bak_files_unverified_are_unknown(tmp_path: Path) -> None:
    plan = _plan()
    _set(tmp_path, "2026-12-07_0200", plan)
    got = _findings(plan, tmp_path)
    assert got["backups:hq-vault newest set"].status is Status.OK
    assert all(f.status is Status.OK for k, f in got.items() if k.startswith("backups:"))
    assert got["integrity:hq-vault Config.zip"].status is Status.OK
    # a .bak that no instance could be asked about is UNKNOWN, never OK
    lcslog = got["integrity:hq-vault sql\\LcsLog.bak"]
    assert lcslog.status is Status.UNKNOWN and "mon is not asked" in lcslog.message
    # two file stores share one share name: each is its own subject
    assert "backups:hq-vault filestore\\lyncshare (fs-hq)" in got
    assert "backups:hq-vault filestore\\lyncshare (fs-dr)" in got


def test_stale_missing_and_damaged_parts(tmp_path: Path) -> None:
    plan = _plan()
    _set(tmp_path, "2026-12-05_0200", plan)  # 55 h before NOW: over the 24h RPO
    _set(tmp_path, "2026-12-07_0200", plan, skip=("E911Config.zip", "sql\\LcsCDR.bak"))
    (tmp_path / "2026-12-07_0200" / "Config.zip").write_bytes(b"PK\x03\x04 damaged")
    got = _findings(plan, tmp_path)
    assert got["backups:hq-vault newest set"].status is Status.OK
    e911 = got["backups:hq-vault E911Config.zip"]
    assert e911.status is Status.CRITICAL and "does not hold it" in e911.message and "2026-12-05_0200" in e911.message
    # weekly Monitoring data (every 7d): an older copy within its interval is fine
    cdr = got["backups:hq-vault sql\\LcsCDR.bak"]
    assert cdr.status is Status.OK and "within its interval of 7d" in cdr.message
    assert got["integrity:hq-vault Config.zip"].status is Status.CRITICAL
    assert "not a readable zip" in got["integrity:hq-vault Config.zip"].message


def test_a_part_no_set_holds_and_a_stale_newest_set(tmp_path: Path) -> None:
    plan = _plan()
    _set(tmp_path, "2026-12-04_0200", plan, skip=("Rgs_pool2.fabrikam.lab.zip",))
    got = _findings(plan, tmp_path)
    assert got["backups:hq-vault newest set"].status is Status.CRITICAL
    assert "over the RPO of 24h" in got["backups:hq-vault newest set"].message
    assert got["backups:hq-vault Rgs_pool2.fabrikam.lab.zip"].status is Status.CRITICAL
    assert "no set in" in got["backups:hq-vault Rgs_pool2.fabrikam.lab.zip"].message


def test_a_location_holding_no_set_is_critical(tmp_path: Path) -> None:
    plan = _plan()
    got = _findings(plan, tmp_path)
    assert [f.status for f in got.values()] == [Status.CRITICAL]


def _answer(host: str, *, groups: list[str], shares: dict[str, tuple[bool, str, str]], version: str = "4.0",
            cmdlets: dict[str, list[str]] | None = None) -> HostAnswer:
    rows: list[object] = [{"Kind": "version", "Version": version},
                          {"Kind": "groups", "Lines": [f'"{g}","Group","S-1-5-21-1","Enabled group"' for g in groups],
                           "Error": ""}]
    rows += [{"Share": s, "Ok": ok, "Category": cat, "Message": msg} for s, (ok, cat, msg) in shares.items()]
    rows += [{"Cmdlet": c, "Found": True, "Parameters": p} for c, p in (cmdlets or {}).items()]
    return HostAnswer(host, "FABRIKAM\\lyncadmin", tuple(rows))  # type: ignore[arg-type]


def test_host_findings_second_hop_one_location_and_groups() -> None:
    plan = _plan()
    needs = host_needs(plan)["fe02.fabrikam.lab"]
    locs = [("hq-vault", "\\\\bk01.fabrikam.lab\\LyncBackup"), ("dr-vault", "\\\\bk11.fabrikam.lab\\LyncBackup")]
    denied = (False, "PermissionDenied", "Access is denied")
    gone = (False, "ObjectNotFound", "Cannot find path '\\\\bk11.fabrikam.lab\\LyncBackup' because it does not exist.")
    cmdlets = {c: sorted(p) for c, (p, _) in needs.cmdlets.items()}
    cmdlets.pop("Import-CsUserData")
    one = _answer("fe02.fabrikam.lab", groups=["BUILTIN\\Administrators", "FABRIKAM\\Domain Users"],
                  shares={locs[0][1]: (True, "", ""), locs[1][1]: gone}, version="2.0", cmdlets=cmdlets)
    got = {f"{f.check}:{f.subject}": f for f in host_findings(plan, needs, one, locs, False)}
    assert got["powershell:fe02.fabrikam.lab"].status is Status.CRITICAL
    assert got["cmdlets:fe02.fabrikam.lab Import-CsUserData"].status is Status.CRITICAL
    dr = got["location:fe02.fabrikam.lab dr-vault"]
    assert dr.status is Status.WARNING and "does not exist" in dr.message and "still read hq-vault" in dr.message
    assert got["membership:fe02.fabrikam.lab local Administrators"].status is Status.OK
    both = _answer("fe02.fabrikam.lab", groups=["FABRIKAM\\RTCUniversalServerAdmins"],
                   shares={locs[0][1]: denied, locs[1][1]: denied}, cmdlets=cmdlets)
    got = {f"{f.check}:{f.subject}": f for f in host_findings(plan, needs, both, locs, False)}
    hq = got["location:fe02.fabrikam.lab hq-vault"]
    assert hq.status is Status.CRITICAL and "second hop" in hq.message and "read no backup location" in hq.message
    assert got["membership:fe02.fabrikam.lab local Administrators"].status is Status.CRITICAL
    doms = {f.subject: f.status for f in domain_findings("FABRIKAM\\lyncadmin", "fe02", both.groups() or [], True)}
    assert doms == {"FABRIKAM\\lyncadmin RTCUniversalServerAdmins": Status.OK,
                    "FABRIKAM\\lyncadmin CsPersistentChatAdministrator": Status.CRITICAL}
    unreachable = host_findings(plan, needs, HostAnswer("fe02.fabrikam.lab", "x", error="It did not answer.",
                                                        down=True), locs, False)
    assert [(f.check, f.status) for f in unreachable] == [("host", Status.UNKNOWN)]


def test_quorum_start_and_running_thresholds() -> None:
    plan = _plan()
    pool1 = ["fe01.fabrikam.lab", "fe02.fabrikam.lab", "fe03.fabrikam.lab"]
    everyone = {h: HostAnswer(h, "a", ()) for h in host_needs(plan)}

    def status(down: int, refused: int = 0) -> Status:
        answers = dict(everyone)
        for h in pool1[:down]:
            answers[h] = HostAnswer(h, "a", error="gone", down=True)
        for h in pool1[down:down + refused]:
            answers[h] = HostAnswer(h, "a", error="401")
        return next(f.status for f in _quorum(plan, answers) if f.subject == "pool1.fabrikam.lab")

    # §5.4: 3 Front Ends: 3 to start, any 2 to keep running
    assert status(0) is Status.OK
    assert status(1) is Status.WARNING
    assert status(2) is Status.CRITICAL
    assert status(0, refused=1) is Status.UNKNOWN  # could decide either way
    assert status(2, refused=1) is Status.CRITICAL  # even if it answered, 1 < 2


def _audit(*statuses: Status) -> Audit:
    found = tuple(Finding("backups", f"s{i}", s, f"message {i} | with a pipe") for i, s in enumerate(statuses))
    perf = (Perf("checks", len(found)), Perf("age_hq-vault", 3600, "s", crit=86400))
    return Audit("plan.yaml", "Org", NOW, found, perf)


def test_status_ranks_unknown_between_warning_and_critical() -> None:
    assert worst([Status.OK, Status.WARNING]) is Status.WARNING
    assert worst([Status.WARNING, Status.UNKNOWN]) is Status.UNKNOWN
    assert worst([Status.UNKNOWN, Status.CRITICAL]) is Status.CRITICAL
    assert worst([]) is Status.OK


def test_nagios_line_json_and_table_tell_the_same_audit() -> None:
    audit = _audit(Status.OK, Status.WARNING, Status.CRITICAL)
    line = render_nagios(audit)
    assert "\n" not in line
    head, perf = line.split(" | ")
    assert head.startswith("LYNC-RESTORE CRITICAL - 1 critical, 1 warning of 3 checks: s2: message 2 / with a pipe")
    assert head.endswith("(+1 more)")
    assert perf == "checks=3;;;0 age_hq-vault=3600s;;86400;0"
    data = json.loads(render_json(audit))
    assert data["status"] == "CRITICAL" and data["exit_code"] == 2
    assert [f["status"] for f in data["findings"]] == ["OK", "WARNING", "CRITICAL"]
    assert data["counts"] == {"OK": 1, "WARNING": 1, "CRITICAL": 1, "UNKNOWN": 0}
    table = render_table(audit)
    rows = [ln for ln in io.StringIO(table).read().splitlines() if ln.startswith(("OK", "WARNING", "CRITICAL"))]
    assert [r.split()[0] for r in rows] == ["CRITICAL", "WARNING", "OK"]  # problems first, worst first
    assert table.rstrip().endswith("exit 2")
    assert all(len(ln) <= 80 for ln in table.splitlines()[1:])
    assert render_nagios(_audit(Status.OK)).startswith("LYNC-RESTORE OK - all 1 checks OK |")
