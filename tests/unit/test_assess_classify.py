"""Classification rules: every §5.3 class A-I, combined failures, §5.4 quorum, the decision.

The situations are stated as probe results over the lab plan (three paired/unpaired Enterprise
pools, a Standard Edition server, Edge, Persistent Chat, Monitoring), exactly what the runner
would have streamed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from wizard.assess.classify import QUESTIONS, classify
from wizard.assess.events import ProbeResult
from wizard.assess.findings import build_findings
from wizard.assess.probes import host_targets
from wizard.assess.recommend import (
    OverrideWithoutReason,
    decision_payload,
    recommend,
    record_decision,
)
from wizard.journal import Journal, Kind, read_journal
from wizard.plan import load_plan
from wizard.plan.model import CentralManagement, Plan

REPO = Path(__file__).resolve().parents[2]
DBS = {
    "be1": ("xds", "lis", "rtcxds", "rtcshared", "rgsconfig"),
    "be1-mirror": ("xds", "lis", "rtcxds", "rtcshared", "rgsconfig"),
    "be2": ("xds", "lis", "rtcxds", "rgsconfig"),
    "be3": ("rtcxds", "rgsconfig"),
    "mon": ("lcscdr", "qoemetrics", "lcslog"),
    "pchat-sql": ("mgc", "mgccomp"),
    "be1-witness": (),
}


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(REPO / "plans" / "lab.yaml").plan


class World:
    """Probe results of a deployment, healthy until told otherwise."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.r: dict[str, ProbeResult] = {}
        for t in host_targets(plan):
            self._put(f"dns:{t.fqdn}", "dns", t.fqdn, "ok", {"addresses": ["10.0.0.1"]})
            self._put(f"tcp-winrm:{t.fqdn}:5985", "tcp", t.fqdn, "ok", {"service": "winrm"})
            if "lync" in t.roles:
                self._put(f"lync:{t.fqdn}", "lync_host", t.fqdn, "ok",
                          {"services": {"RTCSRV": "RUNNING"}, "stopped": [],
                           "replica": {"UpToDate": True}})
        for inst in plan.topology.sql_instances:
            state = "RESTORING" if inst.id == "be1-mirror" else "ONLINE"
            self._put(f"sql:{inst.id}", "sql", inst.id, "ok",
                      {"databases": {d: state for d in DBS.get(inst.id, ())}})
        self._put("cms-replication", "cms_replication", "cms", "ok",
                  {"active_master": "pool1.fabrikam.lab", "stale": []})
        self._put("cms-scp", "cms_scp", "cms", "ok", {"matches": True})
        for fs in plan.topology.file_stores:
            self._put(f"fs:{fs.id}", "file_store", fs.id, "ok", {"answers": True})
        for p in ("pool1.fabrikam.lab", "pool2.fabrikam.lab"):
            self._put(f"pair:{p}", "pairing", p, "ok", {"relationship_ok": True})

    def _put(self, pid: str, kind: str, subject: str, status: str, data: dict[str, object],
             summary: str | None = None) -> None:
        self.r[pid] = ProbeResult(pid, kind, subject, status,  # type: ignore[arg-type]
                                  summary or f"{pid} {status}", data)

    def down(self, *hosts: str) -> World:
        for h in hosts:
            self._put(f"tcp-winrm:{h}:5985", "tcp", h, "failed", {"service": "winrm"},
                      f"{h} port 5985 (winrm) does not accept connections: connection refused.")
            if f"lync:{h}" in self.r:
                self._put(f"lync:{h}", "lync_host", h, "failed", {"error": "HostUnreachableError"},
                          f"{h}:5985 refused the connection.")
            for inst in self.plan.topology.sql_instances:
                if inst.server == h:
                    self._put(f"sql:{inst.id}", "sql", inst.id, "failed",
                              {"error": "SqlUnreachableError"}, f"{inst.server} cannot be reached.")
        return self

    def db(self, sql_id: str, name: str, state: str) -> World:
        data = dict(self.r[f"sql:{sql_id}"].data)
        data["databases"] = {**data["databases"], name: state}  # type: ignore[dict-item]
        self._put(f"sql:{sql_id}", "sql", sql_id, "ok", data,
                  f"SQL Server {sql_id}: {name} {state}.")
        return self

    def set(self, pid: str, **data: object) -> World:
        r = self.r[pid]
        self.r[pid] = dataclasses.replace(r, data={**r.data, **data},
                                          summary=f"{pid} " + ", ".join(f"{k}={v}" for k, v in data.items()))
        return self

    def assess(self, **answers: str):  # type: ignore[no-untyped-def]
        findings = build_findings(self.plan, self.r.values())
        failures = classify(self.plan, findings, answers)  # type: ignore[arg-type]
        return failures, recommend(self.plan, failures, answers)  # type: ignore[arg-type]


def _pairs(failures) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(f.outage_class, f.path) for f in failures]


def test_healthy_deployment_recommends_nothing(plan: Plan) -> None:
    failures, rec = World(plan).assess()
    assert failures == [] and rec.path is None
    assert "troubleshoot first" in rec.summary


# --------------------------------------------------------------------------- A and quorum
def test_A_one_front_end_lost_pool_keeps_quorum(plan: Plan) -> None:
    failures, rec = World(plan).down("fe02.fabrikam.lab").assess()
    assert _pairs(failures) == [("A", "member-rebuild")]
    assert failures[0].subject == "fe02.fabrikam.lab"
    assert any("2 of 3 Front Ends" in r and "keeps quorum" in r for r in rec.reasons)
    assert any("fe02.fabrikam.lab:5985 refused" in r for r in rec.reasons)


def test_A_routing_group_quorum_loss_comes_before_the_rebuild(plan: Plan) -> None:
    failures, _ = World(plan).down("fe22.fabrikam.lab").assess(routing_group_quorum="yes")
    assert _pairs(failures) == [("A", "quorum-recovery"), ("A", "member-rebuild")]


def test_pool_level_quorum_loss_in_a_paired_pool_fails_over(plan: Plan) -> None:
    failures, rec = World(plan).down("fe02.fabrikam.lab", "fe03.fabrikam.lab").assess()
    assert _pairs(failures) == [("E", "pool-failover")]
    assert any("needs any 2 to keep running" in r for r in rec.reasons)
    assert any("Start-CsPool" in n for n in failures[0].notes)  # never offered, explained
    assert [a.path for a in rec.alternatives] == ["member-rebuild"]


def test_pool_level_quorum_loss_unpaired_rebuilds_members(plan: Plan) -> None:
    failures, rec = World(plan).down("fe22.fabrikam.lab", "fe23.fabrikam.lab").assess()
    assert _pairs(failures) == [("E", "member-rebuild")]
    assert rec.alternatives == ()


def test_quorum_counts_running_front_end_service_not_just_reachability(plan: Plan) -> None:
    w = World(plan).down("fe21.fabrikam.lab")
    w.set("lync:fe22.fabrikam.lab", services={"RTCSRV": "STOPPED"}, stopped=["RTCSRV"])
    failures, _ = w.assess()
    assert _pairs(failures) == [("E", "member-rebuild")]  # 1 of 3 running < 2


# --------------------------------------------------------------------------- B
def test_B_unpaired_back_end_lost_restores_it(plan: Plan) -> None:
    failures, rec = World(plan).down("sql21.fabrikam.lab").assess()
    assert _pairs(failures) == [("B", "be-restore")]
    assert rec.steps[0].consequence.restores_from_backup
    assert "age of the set" in rec.steps[0].consequence.rpo


def test_B_paired_back_end_lost_fails_over_unless_users_can_wait(plan: Plan) -> None:
    failures, rec = World(plan).down("sql11.fabrikam.lab").assess()
    assert _pairs(failures) == [("B", "pool-failover")]
    assert [a.path for a in rec.alternatives] == ["be-restore"]
    assert rec.steps[0].consequence.rto == "30 min"
    failures, rec = World(plan).down("sql11.fabrikam.lab").assess(urgent="no")
    assert _pairs(failures) == [("B", "be-restore")]
    alt = rec.alternatives[0]
    assert (alt.path, alt.rto_s, alt.rpo_s, alt.within_rpo) == ("pool-failover", 1800, 1800, True)


def test_B_mirrored_primary_lost_with_witness(plan: Plan) -> None:
    w = World(plan).down("sql01.fabrikam.lab")
    for name in ("xds", "lis", "rtcxds"):
        w.db("be1-mirror", name, "ONLINE")
    failures, rec = w.assess()
    # #14 wrong-today 1: the mirror carries the CMS, but publishing needs the primary CMS database
    # online (§5.3 C, S20, S22): the CMS procedures come first, then the mirror path
    assert _pairs(failures) == [("C", "cms-failover"), ("B", "be-mirror-primary")]
    assert any("no topology can be published" in e.text for e in failures[0].evidence)
    assert "automatically" in failures[1].notes[0]
    assert [s.failure.path for s in rec.steps] == ["cms-failover", "be-mirror-primary"]


def test_B_mirrored_primary_lost_before_failover_is_still_the_mirror_path(plan: Plan) -> None:
    w = World(plan).down("sql01.fabrikam.lab", "sqlwit.fabrikam.lab")
    w.set("cms-replication", active_master=None)
    failures, _ = w.assess()
    assert _pairs(failures) == [("C", "cms-failover"), ("B", "be-mirror-primary")]
    assert "Invoke-CsDatabaseFailover" in failures[1].notes[0]


def test_B_mirrored_cms_primary_lost_unpaired_goes_to_the_cms_restore(plan: Plan) -> None:
    """No working partner to fail the CMS over to: restore the CMS, both nodes from the surviving
    copy (§5.3 C, S20); no separate mirror path."""
    w = World(plan).down("sql01.fabrikam.lab", *[s for p in plan.topology.pools
                                                if p.fqdn == "pool2.fabrikam.lab" for s in p.servers])
    for name in ("xds", "lis", "rtcxds"):
        w.db("be1-mirror", name, "ONLINE")
    failures, _ = w.assess()
    assert ("C", "cms-restore") in _pairs(failures) and ("B", "be-mirror-primary") not in _pairs(failures)
    cms = next(f for f in failures if f.path == "cms-restore")
    assert any("restore both the primary and the mirror" in n for n in cms.notes)


def test_B_mirror_only_lost(plan: Plan) -> None:
    failures, _ = World(plan).down("sql02.fabrikam.lab").assess()
    assert _pairs(failures) == [("B", "be-mirror-mirror")]


def test_B_standard_edition_server_lost(plan: Plan) -> None:
    failures, _ = World(plan).down("se01.fabrikam.lab").assess()
    assert _pairs(failures) == [("B", "se-restore")]


# --------------------------------------------------------------------------- C (+ combined)
def test_C_and_back_end_lost_together_cms_path_first(plan: Plan) -> None:
    w = World(plan).down("sql01.fabrikam.lab", "sql02.fabrikam.lab")
    w.set("cms-replication", active_master=None)
    failures, rec = w.assess()
    assert _pairs(failures) == [("C", "cms-failover"), ("B", "pool-failover")]
    assert rec.path == "cms-failover"
    assert [s.failure.path for s in rec.steps] == ["cms-failover", "pool-failover"]
    assert any("No active CMS master" in r or "active_master=None" in r for r in rec.reasons)
    assert rec.steps[0].consequence.rto == "about 5 min"
    assert [a.path for a in rec.alternatives] == ["cms-restore"]


def test_C_unpaired_cms_is_restored_then_the_back_end(plan: Plan) -> None:
    moved = dataclasses.replace(plan, topology=dataclasses.replace(
        plan.topology, central_management=CentralManagement(pool="pool3.fabrikam.lab")))
    w = World(moved).down("sql21.fabrikam.lab")
    w.set("cms-replication", active_master=None)
    failures, rec = w.assess()
    assert _pairs(failures) == [("C", "cms-restore"), ("B", "be-restore")]
    assert rec.alternatives == ()


def test_C_cms_databases_suspect_while_the_server_answers(plan: Plan) -> None:
    w = World(plan).db("be1", "xds", "SUSPECT").db("be1-mirror", "xds", "RESTORING")
    w.down("sql02.fabrikam.lab").set("cms-replication", active_master=None)
    failures, rec = w.assess()
    assert failures[0].outage_class == "C"
    assert any("xds SUSPECT" in r for r in rec.reasons)


# --------------------------------------------------------------------------- D
def test_D_file_store_share_does_not_answer(plan: Plan) -> None:
    w = World(plan).set("fs:fs-hq", answers=False)
    failures, rec = w.assess()
    assert _pairs(failures) == [("D", "file-store-restore")]
    assert [a.path for a in rec.alternatives] == ["conference-content-sync"]  # pool1 is paired


def test_D_file_server_down_unpaired_store(plan: Plan) -> None:
    w = World(plan).down("fs11.fabrikam.lab")
    failures, _ = w.assess()
    assert _pairs(failures) == [("D", "file-store-restore")]


# --------------------------------------------------------------------------- E
def test_E_whole_paired_pool_lost(plan: Plan) -> None:
    w = World(plan).down("fe11.fabrikam.lab", "fe12.fabrikam.lab", "fe13.fabrikam.lab",
                         "sql11.fabrikam.lab")
    failures, rec = w.assess(recoverable="no")
    assert _pairs(failures) == [("E", "pool-failover")]
    assert any("ABC" in n for n in failures[0].notes)
    assert [a.path for a in rec.alternatives] == ["pool-restore"]


def test_E_cms_pool_site_lost_cms_failover_then_pool_failover(plan: Plan) -> None:
    w = World(plan).down("fe01.fabrikam.lab", "fe02.fabrikam.lab", "fe03.fabrikam.lab",
                         "sql01.fabrikam.lab", "sql02.fabrikam.lab", "sqlwit.fabrikam.lab")
    w.set("cms-replication", active_master=None)
    failures, _ = w.assess()
    assert _pairs(failures)[:2] == [("C", "cms-failover"), ("E", "pool-failover")]
    assert any("fail it over first" in n for n in failures[1].notes)


def test_E_whole_unpaired_pool_is_restored_from_backup(plan: Plan) -> None:
    w = World(plan).down("fe21.fabrikam.lab", "fe22.fabrikam.lab", "fe23.fabrikam.lab")
    failures, rec = w.assess()
    assert _pairs(failures) == [("E", "pool-restore")]
    assert rec.steps[0].consequence.rpo.startswith("up to the backup interval (24 h)")


def test_no_failover_to_a_partner_that_is_down_too(plan: Plan) -> None:
    w = World(plan).down("sql11.fabrikam.lab", "fe01.fabrikam.lab", "fe02.fabrikam.lab")
    failures, _ = w.assess()
    assert ("B", "be-restore") in _pairs(failures)


# --------------------------------------------------------------------------- F G H I
def test_F_edge_server_lost(plan: Plan) -> None:
    failures, _ = World(plan).down("edge01.fabrikam.lab").assess()
    assert _pairs(failures) == [("F", "member-rebuild")]


def test_G_monitoring_database_lost(plan: Plan) -> None:
    failures, rec = World(plan).db("mon", "lcscdr", "SUSPECT").assess()
    assert _pairs(failures) == [("G", "monitoring-archiving-restore")]
    assert any("lcscdr SUSPECT" in r for r in rec.reasons)
    assert "Not needed for service" in failures[0].notes[0]


def test_H_persistent_chat_database_and_server(plan: Plan) -> None:
    failures, _ = World(plan).db("pchat-sql", "mgc", "SUSPECT").assess()
    assert _pairs(failures) == [("H", "pchat-restore")]
    failures, _ = World(plan).db("pchat-sql", "mgc", "SUSPECT").assess(pchat_log_shipping="yes")
    assert _pairs(failures) == [("H", "pchat-failover")]
    failures, _ = World(plan).down("pchat01.fabrikam.lab").assess()
    assert _pairs(failures) == [("H", "member-rebuild")]


def test_I_bad_change_rolls_configuration_back_after_the_cms(plan: Plan) -> None:
    failures, rec = World(plan).assess(bad_change="yes")
    assert _pairs(failures) == [("I", "config-rollback")]
    assert any(e.source == "answer:bad_change" for e in rec.evidence)
    w = World(plan).down("sql01.fabrikam.lab", "sql02.fabrikam.lab")
    w.set("cms-replication", active_master=None)
    failures, _ = w.assess(bad_change="yes")
    assert _pairs(failures)[0] == ("C", "cms-failover") and _pairs(failures)[-1][0] == "I"


def test_questions_are_data_with_a_reason() -> None:
    ids = [q.id for q in QUESTIONS]
    assert len(ids) == len(set(ids)) and {"recoverable", "urgent"} <= set(ids)
    assert all("§" in q.why and q.text.endswith("?") for q in QUESTIONS)


# --------------------------------------------------------------------------- the decision
def test_decision_accept_and_override_are_journaled_with_evidence(plan: Plan,
                                                                  tmp_path: Path) -> None:
    _, rec = World(plan).down("sql11.fabrikam.lab").assess()
    with pytest.raises(OverrideWithoutReason):
        decision_payload(rec, "be-restore", "  ")
    journal = Journal.create(tmp_path, incident="INC-1", operator="alice", drill=True,
                             payload={})
    accepted = record_decision(journal, rec, "pool-failover")
    overridden = record_decision(journal, rec, "be-restore", "Partner site is on generator power")
    journal.close()
    entries = [e for e in read_journal(journal.path).entries if e.kind == Kind.DECISION]
    assert [e.payload["choice"] for e in entries] == ["pool-failover", "be-restore"]
    assert entries[0].payload["accepted"] is True and entries[1].payload["accepted"] is False
    assert entries[1].payload["reason"] == "Partner site is on generator power"
    assert entries[1].payload["consequence"]["path"] == "be-restore"
    assert any("sql11" in e["text"] for e in entries[0].payload["evidence"])
    assert accepted["alternatives"][0]["path"] == "be-restore"
    assert overridden["recommended"] == "pool-failover"


def _eight_front_end_plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    from lab.bench.table import generated_plan

    path = tmp_path_factory.mktemp("plan8") / "plan.yaml"
    path.write_text(generated_plan(16, per_pool=8))
    return load_plan(path).plan


def test_pool_level_quorum_counts_only_the_first_seven_of_eight(tmp_path_factory: pytest.TempPathFactory) -> None:
    """#14: §5.4 "any 4 of the first 7" for 8-9 Front Ends (FIRST_OF was defined and never used).
    Four run, but only three of them are among the first seven started: quorum is lost."""
    plan8 = _eight_front_end_plan(tmp_path_factory)
    pool = next(p for p in plan8.topology.pools if p.fqdn != plan8.cms_pool.fqdn)
    assert len(pool.servers) == 8
    first_four = pool.servers[:4]
    failures, _ = World(plan8).down(*first_four).assess()
    lost = next(f for f in failures if f.subject == pool.fqdn.lower() and f.outage_class == "E")
    assert lost.title.endswith("lost quorum")
    assert any("(3 of the first 7)" in e.text and "needs any 4 of the first 7" in e.text for e in lost.evidence)
    assert any("QuorumLossRecovery does not work while the pool is in pool-level quorum loss" in n
               for n in lost.notes)  # §11.31: not offered as a way out
    last_four = pool.servers[4:]
    failures, _ = World(plan8).down(*last_four).assess()
    assert all(not f.title.endswith("lost quorum") for f in failures if f.subject == pool.fqdn.lower())


def test_E_cms_pool_lost_after_its_cms_was_failed_over_needs_no_cms_path(plan: Plan) -> None:
    """#14 wrong today 4: the CMS already runs in pool2 (failed over earlier; no failback is
    required, §6.15 step 7), so losing pool1 is a pool outage only; the old classifier told the
    operator to fail the CMS over first and the composition would restore it in pool1."""
    from wizard.assess.classify import cms_pool_now

    w = World(plan).down("fe01.fabrikam.lab", "fe02.fabrikam.lab", "fe03.fabrikam.lab",
                         "sql01.fabrikam.lab", "sql02.fabrikam.lab", "sqlwit.fabrikam.lab")
    w.set("cms-replication", active_master="fe11.fabrikam.lab")
    failures, _ = w.assess()
    assert _pairs(failures) == [("E", "pool-failover")]
    assert not any("fail it over first" in n for n in failures[0].notes)
    assert any("already failed over to pool2.fabrikam.lab" in n for n in failures[0].notes)
    findings = build_findings(plan, w.r.values())
    assert cms_pool_now(plan, findings) == "pool2.fabrikam.lab"
    w.set("cms-replication", active_master="pool1.fabrikam.lab")
    assert cms_pool_now(plan, build_findings(plan, w.r.values())) is None


def test_unreachable_from_here_only_when_most_names_fail_or_nothing_answers(plan: Plan) -> None:
    """#16 item 10: a jump host that reaches nothing is not an outage; a lost site is."""
    from wizard.assess.findings import unreachable_from_here

    w = World(plan)
    hosts = [t.fqdn for t in host_targets(plan)]
    for h in hosts:  # nothing resolves from here
        w._put(f"dns:{h}", "dns", h, "failed", {}, f"{h} does not resolve.")
    text = unreachable_from_here(build_findings(plan, w.r.values()))
    assert text is not None and "do not resolve in DNS from this machine" in text
    site = World(plan).down("fe01.fabrikam.lab", "fe02.fabrikam.lab", "fe03.fabrikam.lab", "sql01.fabrikam.lab",
                            "sql02.fabrikam.lab", "sqlwit.fabrikam.lab")  # HQ's pool lost: an outage
    assert unreachable_from_here(build_findings(plan, site.r.values())) is None
    silent = World(plan).down(*hosts)  # names resolve, but not one host answers
    text = unreachable_from_here(build_findings(plan, silent.r.values()))
    assert text is not None and "Not one of the plan's" in text
