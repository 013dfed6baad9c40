"""Backup locations belong to sites (§3: keep backups where they will be available).

A site's own vault is usually lost with the site, so a path acting on a failed site reads from a
location outside it when one holds a usable set; the catalogue lists every location it can read,
names the ones it cannot, and never confuses equal set names in two vaults (issue #14, wrong
today 3: every path read ``backup.locations[0]``).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from tests.unit.test_catalog_sets import FakeVerifier, write_set
from wizard.catalog.discover import list_sets, merge_listings
from wizard.catalog.recommend import SetChoice, choose_set
from wizard.plan import load_plan
from wizard.plan.model import Plan
from wizard.procedures.compose import compose
from wizard.procedures.model import PsCommand
from wizard.procedures.runbook import render_markdown

REPO = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 24, 9, 0)
HQ_UNC = "\\\\bk01.fabrikam.lab\\LyncBackup"
DR_UNC = "\\\\bk11.fabrikam.lab\\LyncBackup"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(REPO / "plans" / "lab.yaml").plan


@pytest.fixture(scope="module")
def two_site() -> Plan:
    return load_plan(REPO / "plans" / "example-two-site.yaml").plan


# ------------------------------------------------------------------------- sites of locations


def test_a_location_is_in_its_declared_site_else_its_servers_else_off_site(plan: Plan) -> None:
    hq, dr = plan.backup.locations
    assert (plan.location_site(hq), plan.location_site(dr)) == ("HQ", "DR")
    # undeclared: the UNC server's site when the topology names it (fs11 is the DR file server)
    on_fs = type(hq)(name="on-fs", unc="\\\\fs11.fabrikam.lab\\Backups")
    assert plan.location_site(on_fs) == "DR"
    # a stand-alone backup server the topology does not name: off-site (§3)
    assert plan.location_site(type(hq)(name="nas", unc="\\\\nas9.example\\B")) is None


def test_a_path_on_a_failed_site_reads_outside_it_first(plan: Plan) -> None:
    assert [loc.name for loc in plan.locations_for("HQ")] == ["dr-vault", "hq-vault"]
    assert [loc.name for loc in plan.locations_for("DR")] == ["hq-vault", "dr-vault"]
    assert [loc.name for loc in plan.locations_for(None)] == ["hq-vault", "dr-vault"]


def test_pool_failover_of_london_reads_the_amsterdam_vault(two_site: Plan) -> None:
    """Fails on the old code: it read locations[0], the London vault lost with London."""
    proc = compose(two_site, "pool-failover", pool="lonpool.corp.contoso.com", backup_set="2026-11-24_0100")
    scripts = "\n".join(c.script() for s in proc.steps for c in s.commands if isinstance(c, PsCommand))
    assert "\\\\amsbk01.corp.contoso.com\\LyncBackup\\2026-11-24_0100\\E911Config.zip" in scripts
    assert "lonbk01" not in scripts
    assert "- Backup location: amsterdam-vault" in render_markdown(proc)


def test_a_chosen_set_is_read_from_its_own_location(two_site: Plan) -> None:
    proc = compose(two_site, "pool-failover", pool="lonpool.corp.contoso.com",
                   backup_set="london-vault/2026-11-24_0100")
    text = render_markdown(proc)
    assert "\\\\lonbk01.corp.contoso.com\\LyncBackup\\2026-11-24_0100\\E911Config.zip" in text
    assert "amsbk01" not in text.split("## ", 1)[1]
    assert "the chosen set is kept there" in text


def test_a_path_that_reads_no_backup_names_no_location(plan: Plan) -> None:
    proc = compose(plan, "quorum-recovery", pool="pool1.fabrikam.lab")
    assert proc.reads_from is None
    assert compose(plan, "cms-failover", pool="pool1.fabrikam.lab").reads_from is not None  # LIS (§6.15)


def test_set_keys_are_qualified_only_when_the_plan_has_several_locations(plan: Plan) -> None:
    assert plan.set_key("dr-vault", "2026-11-24_0200") == "dr-vault/2026-11-24_0200"
    loc, name = plan.resolve_set("dr-vault/2026-11-24_0200")
    assert loc is not None and (loc.name, name) == ("dr-vault", "2026-11-24_0200")
    assert plan.resolve_set("2026-11-24_0200") == (None, "2026-11-24_0200")
    single = load_plan(REPO / "plans" / "lab-se-cms.yaml").plan
    assert single.set_key("lab", "2026-11-24_0200") == "2026-11-24_0200"


# ------------------------------------------------------------------------- the catalogue


class TwoVaultVerifier(FakeVerifier):
    """SQL Server's RESTORE HEADERONLY / VERIFYONLY over the .bak files of two vaults."""

    def __init__(self, roots: dict[str, Path]) -> None:
        super().__init__(next(iter(roots.values())))
        self.roots = roots

    def _read(self, unc: str) -> bytes:
        for prefix, root in self.roots.items():
            if unc.startswith(prefix + "\\"):
                rel = unc[len(prefix) + 1:]
                return root.joinpath(*rel.split("\\")).read_bytes()
        raise AssertionError(f"no vault holds {unc}")


def _vaults(tmp_path: Path, plan: Plan, *, corrupt_in: str) -> tuple[Path, Path]:
    """The same nightly set in both vaults; the copy in ``corrupt_in`` is damaged."""
    hq, dr = tmp_path / "hq", tmp_path / "dr"
    when = NOW - dt.timedelta(hours=7)
    for root in (hq, dr):
        write_set(root, plan, when, corrupt=("sql\\LcsCDR.bak",) if root.name == corrupt_in else ())
    return hq, dr


def test_equal_set_names_in_two_vaults_are_two_sets(tmp_path: Path, plan: Plan) -> None:
    hq_root, dr_root = _vaults(tmp_path, plan, corrupt_in="hq")
    hq, dr = plan.backup.locations
    listing = merge_listings(plan, [(hq, list_sets(hq_root, plan.backup.layout, HQ_UNC)),
                                    (dr, list_sets(dr_root, plan.backup.layout, DR_UNC))], [], None)
    keys = [s.key for s in listing.sets]
    assert len(keys) == 2 and len(set(keys)) == 2
    assert {k.split("/")[0] for k in keys} == {"hq-vault", "dr-vault"}
    assert {s.unc.split("\\")[2] for s in listing.sets} == {"bk01.fabrikam.lab", "bk11.fabrikam.lab"}


def _choose_for_hq(tmp_path: Path, plan: Plan, corrupt_in: str) -> tuple[SetChoice, TwoVaultVerifier]:
    """The set a path acting on HQ is offered when ``corrupt_in``'s copy is damaged."""
    hq_root, dr_root = _vaults(tmp_path, plan, corrupt_in=corrupt_in)
    hq, dr = plan.backup.locations
    listings = [(hq, list_sets(hq_root, plan.backup.layout, HQ_UNC)),
                (dr, list_sets(dr_root, plan.backup.layout, DR_UNC))]
    verifier = TwoVaultVerifier({HQ_UNC: hq_root, DR_UNC: dr_root})
    return choose_set(plan, merge_listings(plan, listings, [], "HQ"), "monitoring-archiving-restore",
                      now=NOW, verifier=verifier), verifier


def test_a_failed_site_reads_the_intact_copy_outside_it(tmp_path: Path, plan: Plan) -> None:
    """HQ failed and its vault's copy is damaged: the DR vault's copy is chosen by its key, and
    only the DR vault's files are opened for it."""
    choice, verifier = _choose_for_hq(tmp_path, plan, "hq")
    assert choice.chosen is not None and choice.chosen.name.startswith("dr-vault/")
    assert choice.passed_over == ()  # the DR copy is examined first: outside the failed site
    assert all(DR_UNC in c for c in verifier.calls)


def test_inside_the_failed_site_only_when_nothing_outside_is_usable(tmp_path: Path, plan: Plan) -> None:
    choice, _ = _choose_for_hq(tmp_path, plan, "dr")
    assert choice.chosen is not None and choice.chosen.name.startswith("hq-vault/")
    assert [v.name.split("/")[0] for v in choice.passed_over] == ["dr-vault"]


def test_an_unreadable_location_is_named_not_fatal(tmp_path: Path, plan: Plan) -> None:
    hq_root, dr_root = _vaults(tmp_path, plan, corrupt_in="none")
    shutil.rmtree(hq_root)
    dr = plan.backup.locations[1]
    listing = merge_listings(plan, [(dr, list_sets(dr_root, plan.backup.layout, DR_UNC))],
                             ["Backup location hq-vault (site HQ) could not be read: gone."], "HQ")
    assert [s.location for s in listing.sets] == ["dr-vault"]
    assert listing.unreadable == ("Backup location hq-vault (site HQ) could not be read: gone.",)
