"""The catalogue through the REMOTE backup store against the running lab: the lab plan's backup
location has only ``read_via`` (a Front End), so the sets are listed with Get-ChildItem over real
WinRM (pywinrm), manifests read with Get-Content -Raw, zips and the file store copy checked by
far-side Get-FileHash against the manifest, and .bak files verified by the lab's SQL Server
through the real SQL runner (pyodbc + FreeTDS)."""

from __future__ import annotations

import pytest

from lab.runtime import LabRuntime
from lab.scenarios import scenario
from wizard.assess.transports import sql_endpoint
from wizard.catalog.discover import list_store_sets
from wizard.catalog.integrity import SqlBakVerifier
from wizard.catalog.recommend import SetChoice, choose_set
from wizard.plan import load_plan
from wizard.remote.backup_store import RemoteBackupStore, runner_stdout
from wizard.remote.credentials import CredentialStore
from wizard.remote.sql import SqlRunner

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def _choose(faults: dict[str, bool], paths: list[str]) -> list[SetChoice]:
    with LabRuntime(scenario("monitoring-db-lost").with_faults(**faults)) as lab:
        plan = load_plan(lab.plan_path).plan
        loc = plan.backup.locations[0]
        assert loc.local_path is None and loc.read_via
        runner = lab.runner(loc.read_via, "basic")
        store = RemoteBackupStore(runner_stdout(runner), loc.unc, loc.read_via, modules=())
        listing = list_store_sets(store, plan.backup.layout, loc.unc)
        assert all(e.path is None for e in listing.sets)  # nothing is read from the lab's disk
        creds = CredentialStore(plan, env={"LYNC_LAB_PASSWORD": lab.win_password,
                                           "LYNC_LAB_SQL_PASSWORD": lab.sql_password})
        cred = creds.for_sql("be2")
        try:
            with SqlRunner(sql_endpoint(plan, "be2", 10), cred.username,
                           cred.password.reveal()) as sql:
                return [choose_set(plan, listing, p, now=lab.dep.now,
                                   verifier=SqlBakVerifier(sql)) for p in paths]
        finally:
            runner.close()


def test_newest_set_corrupt_through_the_remote_store() -> None:
    monitoring, cms = _choose({"corrupt_newest_set": True},
                              ["monitoring-archiving-restore", "cms-restore"])
    for choice in (monitoring, cms):
        assert choice.listed == 3
        assert choice.chosen is not None and choice.chosen.name == "2026-11-23_0200"
        assert choice.passed_over[0].name == "2026-11-24_0200"
        assert "Passed over 2026-11-24_0200" in choice.summary
    reasons = monitoring.passed_over[0].reasons
    assert any("VERIFYONLY of sql\\LcsCDR.bak failed" in r for r in reasons), reasons
    reasons = cms.passed_over[0].reasons
    assert any(r.startswith("Config.zip differs from the manifest (SHA-256 mismatch, checked by "
                            "hash on the far side, not opened)") for r in reasons), reasons
    good = cms.chosen.integrity if cms.chosen else None
    assert good is not None and good.intact
    config = next(c for c in good.checks if c.rel == "Config.zip")
    assert config.ok is True and "checked by hash on the far side, not opened" in config.detail
    bak = next(c for c in monitoring.chosen.integrity.checks  # type: ignore[union-attr]
               if c.rel == "sql\\LcsCDR.bak")
    assert bak.ok is True and bak.facts is not None and bak.facts["database"] == "LcsCDR"


def test_set_incomplete_through_the_remote_store() -> None:
    (choice,) = _choose({"missing_e911": True}, ["cms-restore"])
    assert choice.chosen is not None and choice.chosen.name == "2026-11-23_0200"
    assert choice.passed_over[0].reasons == ("incomplete: no E911Config.zip",)
    assert choice.chosen.within_rpo is False
    assert "OVER the RPO of 24h" in choice.summary


def test_file_store_copy_checked_by_far_side_hashes() -> None:
    (choice,) = _choose({}, ["file-store-restore"])
    assert choice.chosen is not None and choice.chosen.name == "2026-11-24_0200"
    integrity = choice.chosen.integrity
    assert integrity is not None
    folders = [c for c in integrity.checks if c.rel.lower().startswith("filestore\\")]
    assert folders and all(c.ok is True for c in folders), folders
    assert all("sizes and SHA-256 match" in c.detail for c in folders)


def test_listing_thirty_sets_through_the_remote_store_figure() -> None:
    """Figure (printed): list and recognise 30 sets through WinRM against the lab."""
    from lab.bench.catalog import remote_rows

    rows = list(remote_rows(30))
    assert rows[0].value > 0 and "30" in rows[0].name
    print("\n" + "\n".join(f"{r.name}: {r.value:.0f} {r.unit}" for r in rows))


def test_core_backend_reads_the_plan_location_through_read_via() -> None:
    """No backup_root: the core lists the lab plan's location (read_via only) over WinRM."""
    from wizard.core_backend import BackendOptions, CoreBackend

    with LabRuntime(scenario("monitoring-db-lost").with_faults(corrupt_newest_set=True)) as lab:
        loaded = load_plan(lab.plan_path)
        creds = CredentialStore(loaded.plan, env={"LYNC_LAB_PASSWORD": lab.win_password,
                                                  "LYNC_LAB_SQL_PASSWORD": lab.sql_password})
        backend = CoreBackend(BackendOptions(creds, loopback_only=True, now=lambda: lab.dep.now))
        try:
            choice = backend.backup_sets(loaded, "cms-restore")
        finally:
            backend.close()
    # both vaults (each read through its own read_via host) hold the damaged copy of the newest set
    assert choice.recommended == "hq-vault/2026-11-23_0200", choice
    assert [s.name for s in choice.sets][:4] == ["hq-vault/2026-11-24_0200", "dr-vault/2026-11-24_0200",
                                                 "hq-vault/2026-11-23_0200", "dr-vault/2026-11-23_0200"]
    assert "Config.zip differs from the manifest" in choice.reason


def test_set_ages_are_judged_by_the_servers_clock_not_the_jump_hosts() -> None:
    """#16 item 12: ``run --drill`` against ``lab serve`` judged the lab's sets by this machine's
    clock ("13d00h, RPO MISSED" where the drill showed hours). Built as ``run`` builds it (no
    ``now``): the ages come from the clock of the server that lists the location, which in the
    lab is the lab's simulated time ([DateTime]::UtcNow there, as Get-Date)."""
    import datetime as dt

    from wizard.core_backend import BackendOptions, CoreBackend

    with LabRuntime(scenario("monitoring-db-lost")) as lab:
        loaded = load_plan(lab.plan_path)
        creds = CredentialStore(loaded.plan, env={"LYNC_LAB_PASSWORD": lab.win_password,
                                                  "LYNC_LAB_SQL_PASSWORD": lab.sql_password})
        backend = CoreBackend(BackendOptions(creds, loopback_only=True))
        try:
            choice = backend.backup_sets(loaded, "cms-restore")
            lab_now = lab.dep.now
        finally:
            backend.close()
    judged = choice.judged_at()
    lab_utc = lab_now if lab_now.tzinfo else lab_now.replace(tzinfo=dt.UTC)
    assert abs((judged - lab_utc).total_seconds()) < 120, (judged, lab_now)
    assert abs((judged - dt.datetime.now(dt.UTC)).total_seconds()) > 86400  # not this machine's clock
    newest = next(s for s in choice.sets if s.name == choice.recommended)
    assert newest.age_s(judged) < 86400, "the newest set is hours old on the lab's clock, within the RPO"
