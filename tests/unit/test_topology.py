"""``lync-restore plan from-topology``: the synthetic fixture of the topology document
(shared/domain/lync2013-topology-xml.md §4, "T§4") parses to what T§4 expects, in every encoding
and container T§2.1 and T§3 describe; mirror, witness and pairing are found by structure (T§2.8),
never by a Usage string; the draft fails validation until a person fills in what a topology
cannot know, and validates once they have; broken input is one sentence with FILE:LINE:COL."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO
from wizard.errors import PlanError
from wizard.plan import load_plan
from wizard.topology import TopologyError, draft_plan, read_topology, render_yaml

FIXTURE = REPO / "tests" / "data" / "topology" / "synthetic-ee.xml"
TEXT = FIXTURE.read_text(encoding="utf-8")


def _draft(path: Path, organisation: str | None = "Example Corp"):  # type: ignore[no-untyped-def]
    return draft_plan(read_topology(path), organisation)


def _pools(draft) -> dict[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    return {str(p["fqdn"]): p for p in draft.pools}


def test_the_fixture_parses_as_the_document_expects() -> None:
    d = _draft(FIXTURE)
    assert d.sip_domains == ["example.test"] and d.sites == [{"name": "HQ", "city": "Springfield"}]
    pools = _pools(d)
    assert set(pools) == {"pool01.example.test", "edgepool.example.test"}  # no SQL, file or other clusters
    fe = pools["pool01.example.test"]
    assert (fe["role"], fe["edition"], fe["servers"]) == ("front_end", "enterprise",
                                                          ["fe01.example.test", "fe02.example.test"])
    sql = {e["id"]: e for e in d.sql_instances}
    be = sql[str(fe["back_end"])]
    assert be["server"] == "sql01.example.test" and "instance" not in be  # the default instance
    assert sql[be["mirror"]]["server"] == "sql02.example.test"
    assert sql[be["witness"]]["server"] == "sqlwit.example.test"
    assert d.file_stores == [{"id": fe["file_store"], "server": "fs01.example.test", "share": "lyncshare",
                              "site": "HQ"}]
    edge = pools["edgepool.example.test"]
    assert (edge["role"], edge["servers"], edge["next_hop"]) == ("edge", ["edge01.example.test"],
                                                                 "pool01.example.test")
    assert d.cms_pool == "pool01.example.test"
    assert not any("paired_with" in p for p in d.pools)
    notes = "\n".join(d.notes)
    assert "sip.example.test" in notes and "mirrored to" in notes and "inferred" in notes
    assert "no pool pairing found" in notes


def test_mirror_is_found_by_structure_not_by_the_usage_string(tmp_path: Path) -> None:
    other = tmp_path / "other-usage.xml"
    other.write_text(TEXT.replace('Usage="Mirror"', 'Usage="Secondary"'), encoding="utf-8")
    d = _draft(other)
    be = next(e for e in d.sql_instances if e["server"] == "sql01.example.test")
    assert {e["id"]: e for e in d.sql_instances}[be["mirror"]]["server"] == "sql02.example.test"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-16-le"])
def test_every_encoding_powershell_writes(tmp_path: Path, encoding: str) -> None:
    """T§2.1: `>`/Out-File write UTF-16LE with a BOM; Set-Content and newer shells UTF-8."""
    f = tmp_path / f"topology-{encoding}.xml"
    f.write_bytes(TEXT.replace("\n", "\r\n").encode(encoding))
    assert _draft(f).pools == _draft(FIXTURE).pools


def test_export_csconfiguration_zip_as_markup_and_as_escaped_text(tmp_path: Path) -> None:
    """T§3: DocItemSet.xml holds the topology, as markup or escaped inside a document."""
    body = TEXT.split("-->", 1)[1]
    for name, item in (("markup", body), ("escaped", body.replace("&", "&amp;").replace("<", "&lt;"))):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("[Content_Types].xml", "<Types/>")
            zf.writestr("DocItemSet.xml", f'<DocItemSet><DocItem Name="urn:xml:topology"><Data>{item}</Data>'
                                          "</DocItem></DocItemSet>")
        f = tmp_path / f"config-{name}.zip"
        f.write_bytes(buf.getvalue())
        assert _draft(f).pools == _draft(FIXTURE).pools, name


SE = REPO / "tests" / "data" / "topology" / "se-director-paired.xml"


def test_standard_edition_director_pairing_and_server_order() -> None:
    d = _draft(SE, None)
    pools = _pools(d)
    se = pools["lync.corp.northwind.example"]
    assert (se["edition"], "back_end" in se) == ("standard", False)  # T§2.10: its store is on its own cluster
    assert pools["dir01.corp.northwind.example"]["role"] == "director"
    ee = pools["pool2.corp.northwind.example"]
    assert ee["edition"] == "enterprise" and ee["servers"] == ["fe21.corp.northwind.example",
                                                               "fe22.corp.northwind.example"]  # OrdinalInCluster
    assert {e["id"]: e for e in d.sql_instances}[str(ee["back_end"])]["instance"] == "lync"
    # a Registrar -> Registrar dependency across clusters: paired both ways (inferred, T§2.8)
    assert se["paired_with"] == "pool2.corp.northwind.example" and ee["paired_with"] == "lync.corp.northwind.example"
    assert d.sites == [{"name": "Head-Office"}] and d.organisation == "northwind.example"
    assert any("site 'Head Office' is written 'Head-Office'" in n for n in d.notes)
    assert any("organisation.name is the default SIP domain" in n for n in d.notes)


def _fill(draft: Path) -> Path:
    """What the administrator adds: a backup location, the objectives, the credential."""
    text = draft.read_text(encoding="utf-8")
    filled = (text.replace("  locations: []", '  locations:\n    - {name: nas, unc: "\\\\\\\\nas01.example.test'
                                              '\\\\LyncBackup", local_path: /mnt/lync}\n    #', 1)
              .replace("rpo: TODO", "rpo: 24h").replace("rto: TODO", "rto: 4h")
              .replace("username: TODO", "username: EXAMPLE\\\\svc-lync").replace("source: TODO", "source: prompt"))
    draft.write_text(filled, encoding="utf-8")
    return draft


def test_the_draft_is_refused_until_a_person_fills_it_in_then_it_validates(tmp_path: Path) -> None:
    draft = tmp_path / "draft.yaml"
    draft.write_text(render_yaml(_draft(FIXTURE), str(FIXTURE)), encoding="utf-8")
    with pytest.raises(PlanError) as refused:
        load_plan(draft)
    problems = "\n".join(refused.value.errors)
    assert "plan.backup.locations: needs at least 1 entry" in problems
    assert "plan.objectives.rpo: 'TODO' is not a duration" in problems
    assert "plan.objectives.rto: 'TODO' is not a duration" in problems
    assert "plan.credentials.entries[0].source" in problems
    assert len(refused.value.errors) == 4, problems
    _fill(draft)
    plan = load_plan(draft).plan
    assert plan.organisation.name == "Example Corp" and plan.cms_pool.fqdn == "pool01.example.test"
    be = plan.sql(plan.pool("pool01.example.test").back_end or "")
    assert (be.server, plan.sql(be.mirror or "").server, plan.sql(be.witness or "").server) == (
        "sql01.example.test", "sql02.example.test", "sqlwit.example.test")
    assert plan.pool("edgepool.example.test").next_hop == "pool01.example.test"
    assert plan.file_store("fs1").share == "lyncshare"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wizard", "plan", "from-topology", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=60)


def test_command_writes_the_draft_and_says_what_to_check(tmp_path: Path) -> None:
    out = tmp_path / "draft.yaml"
    proc = _cli(str(FIXTURE), "--organisation", "Example Corp", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out}: 2 pools, 3 SQL instances, 1 file stores" in proc.stderr
    assert "note: sql01 mirrored to sql02" in proc.stderr
    assert out.read_text(encoding="utf-8").startswith("# Draft plan from synthetic-ee.xml")


@pytest.mark.parametrize(("content", "expected"), [
    ("<Topology><Clusters>", ":1:21: not well-formed XML"),
    ('<!DOCTYPE x [<!ENTITY a "aaaa">]><Topology><Clusters/></Topology>', "holds a DOCTYPE or ENTITY declaration"),
    ("<Plan><Pools/></Plan>", "no Topology element with Clusters"),
    ("", ":1:1: not well-formed XML"),
])
def test_broken_input_is_one_sentence_with_where(tmp_path: Path, content: str, expected: str) -> None:
    f = tmp_path / "broken.xml"
    f.write_text(content, encoding="utf-8")
    proc = _cli(str(f))
    assert proc.returncode == 2, proc
    assert expected in proc.stderr and str(f) in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_missing_file_folder_and_foreign_zip(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="no such file"):
        read_topology(tmp_path / "absent.xml")
    with pytest.raises(TopologyError, match="is a folder"):
        read_topology(tmp_path)
    z = tmp_path / "other.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(TopologyError, match=r"without DocItemSet\.xml"):
        read_topology(z)


def _diff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wizard", "plan", "diff", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=60)


def test_plan_diff_finds_drift_by_fqdn_and_marks_inferred_facts(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(render_yaml(_draft(FIXTURE), str(FIXTURE)), encoding="utf-8")
    _fill(plan)
    same = _diff(str(plan), str(FIXTURE))
    assert same.returncode == 0 and same.stdout.strip().endswith("no differences"), same.stdout + same.stderr
    drifted = tmp_path / "drifted.yaml"
    drifted.write_text(plan.read_text(encoding="utf-8")
                       .replace("fe02.example.test]", "fe03.example.test]").replace("share: lyncshare", "share: old")
                       .replace("      mirror: sql02  # inferred: review\n", "")
                       .replace("      witness: sqlwit  # inferred: review\n", ""), encoding="utf-8")
    proc = _diff(str(drifted), str(FIXTURE))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert "pool pool01.example.test: servers in the plan only: fe03.example.test" in lines
    assert "pool pool01.example.test: servers in the topology only: fe02.example.test" in lines
    assert ("pool pool01.example.test: file store: plan \\\\fs01.example.test\\old, "
            "topology \\\\fs01.example.test\\lyncshare") in lines
    assert ("pool pool01.example.test: Back End mirror: plan none, topology sql02.example.test "
            "(topology side inferred, T§2.8)") in lines
    assert lines[-1].endswith("5 difference(s), 2 of them on inferred topology facts")
    other = _diff(str(REPO / "plans" / "lab.yaml"), str(FIXTURE))
    assert other.returncode == 1 and "pool pool1.fabrikam.lab: in the plan, not in the topology" in other.stdout
    assert "CMS: plan pool1.fabrikam.lab, topology pool01.example.test" in other.stdout
