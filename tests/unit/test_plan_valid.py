"""Shipped plans validate; the summary says what matters; the JSON Schema is current."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO
from wizard.plan import load_plan, schema_document
from wizard.plan.schema import Duration, where

SHIPPED = sorted((REPO / "plans").glob("*.yaml"))


def test_at_least_three_plans_ship() -> None:
    names = {p.name for p in SHIPPED}
    assert {"lab.yaml", "example-standard.yaml", "example-two-site.yaml"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_plan_validates_through_the_cli(path: object) -> None:
    proc = subprocess.run([sys.executable, "-m", "wizard", "validate", str(path)],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "valid plan for" in out and "CMS:" in out and "RPO" in out and "Backup:" in out
    assert len(out.splitlines()) <= 24
    assert all(len(line) <= 80 for line in out.splitlines()), out  # an 80-column terminal, uncut
    # each backup location says where it lives (§3: a path acting on a site reads outside it)
    assert all("site " in line or "off-site" in line for line in out.splitlines() if line.startswith("Backup:"))


def test_two_site_plan_model() -> None:
    plan = load_plan(REPO / "plans" / "example-two-site.yaml").plan
    lon = plan.pool("LONPOOL.corp.contoso.com")  # FQDN lookups ignore case
    assert lon.paired_with == "amspool.corp.contoso.com"
    be = plan.sql(lon.back_end or "")
    assert (be.server, be.instance, be.mirror, be.witness) == (
        "lonsql01.corp.contoso.com", "rtc", "lon-be-mirror", "lon-witness")
    assert plan.cms_pool is lon
    assert plan.objectives.rpo == Duration.parse("1d") and plan.objectives.rto.seconds == 7200
    assert plan.interval("config") == Duration.parse("4h")
    assert [c.hook for c in plan.custom_steps] == ["before_restore", "before_verify"]
    # positions are remembered for later checks
    assert where(lon, "back_end").line > where(lon).line


def test_schema_json_is_current() -> None:
    shipped = json.loads((REPO / "plans" / "schema.json").read_text())
    assert shipped == schema_document(), (
        "plans/schema.json is stale: regenerate with "
        "python -c 'import json; from wizard.plan import schema_document; "
        "print(json.dumps(schema_document(), indent=2))' > plans/schema.json")


def test_schema_forbids_unknown_keys_and_names_required_ones() -> None:
    doc = schema_document()
    assert doc["additionalProperties"] is False
    assert set(doc["required"]) == {"version", "organisation", "topology", "backup", "objectives",
                                    "credentials"}
    cred = doc["$defs"]["Credential"]
    assert "password" not in cred["properties"]
    assert cred["properties"]["source"]["enum"] == ["prompt", "env", "keyring", "ticket"]


@pytest.mark.parametrize("text,seconds", [("30m", 1800), ("4h", 14400), ("1d", 86400),
                                          ("1h30m", 5400), ("90s", 90)])
def test_durations(text: str, seconds: int) -> None:
    assert Duration.parse(text).seconds == seconds


@pytest.mark.parametrize("text", ["", "0m", "4 hours", "h", "-1h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        Duration.parse(text)
