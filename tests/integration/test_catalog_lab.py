"""The catalogue against the lab's real backup sets, .bak files verified by the lab's SQL
Server through the real SQL runner (pyodbc + FreeTDS): RESTORE HEADERONLY and VERIFYONLY."""

from __future__ import annotations

import pytest

from lab.runtime import LabRuntime
from lab.scenarios import scenario
from wizard.assess.transports import sql_endpoint
from wizard.catalog.discover import list_sets
from wizard.catalog.integrity import SqlBakVerifier
from wizard.catalog.recommend import choose_set
from wizard.plan import load_plan
from wizard.remote.credentials import CredentialStore
from wizard.remote.sql import SqlRunner

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def _choose(faults: dict[str, bool], path: str):  # type: ignore[no-untyped-def]
    with LabRuntime(scenario("monitoring-db-lost").with_faults(**faults)) as lab:
        plan = load_plan(lab.plan_path).plan
        loc = plan.backup.locations[0]
        listing = list_sets(lab.dep.paths.resolve(loc.unc), plan.backup.layout, loc.unc)
        creds = CredentialStore(plan, env={"LYNC_LAB_PASSWORD": lab.win_password,
                                           "LYNC_LAB_SQL_PASSWORD": lab.sql_password})
        cred = creds.for_sql("be2")
        with SqlRunner(sql_endpoint(plan, "be2", 10), cred.username,
                       cred.password.reveal()) as runner:
            now = lab.dep.now
            return choose_set(plan, listing, path, now=now, verifier=SqlBakVerifier(runner))


def test_newest_set_corrupt_older_set_recommended() -> None:
    choice = _choose({"corrupt_newest_set": True}, "monitoring-archiving-restore")
    assert choice.listed == 3
    assert choice.chosen is not None and choice.chosen.name == "2026-11-23_0200"
    rejected = choice.passed_over[0]
    assert rejected.name == "2026-11-24_0200"
    assert any("VERIFYONLY of sql\\LcsCDR.bak failed" in r for r in rejected.reasons), rejected.reasons
    good = choice.chosen.integrity
    assert good is not None and good.intact
    facts = next(c.facts for c in good.checks if c.rel == "sql\\LcsCDR.bak")
    assert facts is not None and facts["database"] == "LcsCDR" and facts["finish"]
    assert "Passed over 2026-11-24_0200" in choice.summary


def test_set_without_e911_is_incomplete_for_a_cms_restore() -> None:
    choice = _choose({"missing_e911": True}, "cms-restore")
    assert choice.chosen is not None and choice.chosen.name == "2026-11-23_0200"
    assert choice.passed_over[0].reasons == ("incomplete: no E911Config.zip",)
    assert choice.chosen.within_rpo is False  # 31 h old against the lab's 24 h RPO
    assert "OVER the RPO of 24h" in choice.summary
