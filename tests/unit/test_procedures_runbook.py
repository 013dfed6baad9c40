"""Runbook export: the golden two-site "whole pool lost, paired" runbook, HTML and the command."""

from __future__ import annotations

import argparse

import pytest

from tests.conftest import DATA, REPO
from wizard.cli import main
from wizard.plan import load_plan
from wizard.procedures.compose import compose
from wizard.procedures.model import PsCommand
from wizard.procedures.runbook import render_html, render_markdown, runbook_command

GOLDEN = DATA / "golden" / "runbook-two-site-pool-failover.md"


def _proc():  # type: ignore[no-untyped-def]
    plan = load_plan(REPO / "plans" / "example-two-site.yaml").plan
    return compose(plan, "pool-failover", pool="lonpool.corp.contoso.com", backup_set="2026-11-24_0100")


def test_golden_two_site_pool_failover() -> None:
    text = render_markdown(_proc())
    assert text == GOLDEN.read_text(encoding="utf-8"), (
        "the runbook changed; if intended, regenerate tests/data/golden/runbook-two-site-pool-failover.md")


def test_every_command_appears_exactly_as_rendered() -> None:
    proc = _proc()
    text = render_markdown(proc)
    for step in proc.steps:
        for command in step.all_commands():
            if isinstance(command, PsCommand):
                for line in command.lines():
                    assert line in text
    assert "Invoke-CsPoolFailover -PoolFqdn 'lonpool.corp.contoso.com' -DisasterMode -Verbose" in text
    assert text.index("Invoke-CsManagementServerFailover") < text.index("Set-CsEdgeServer") < text.index(
        "Invoke-CsPoolFailover -PoolFqdn") < text.index("Import-CsLisConfiguration")


def test_html_keeps_code_verbatim_and_escaped() -> None:
    page = render_html(_proc())
    assert page.startswith("<!DOCTYPE html>")
    assert "Set-CsEdgeServer -Identity &#x27;EdgeServer:lonedge.corp.contoso.com&#x27;" in page
    assert page.count("<pre><code>") == page.count("</code></pre>") > 20


def test_runbook_command_prints(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(plan=str(REPO / "plans" / "example-standard.yaml"), path="se-restore",
                              pool="lync.corp.northwind.example",
                              server=None, backup_set=None, new_pool=None, format="md")
    with pytest.raises(Exception, match="cms-restore"):
        runbook_command(args)
    args.path, args.pool = "cms-restore", None
    assert runbook_command(args) == 0
    out = capsys.readouterr().out
    assert "Install-CsDatabase -CentralManagementDatabase -Clean -SqlServerFqdn 'lync.corp.northwind.example'" in out
    assert "<backup-set>" in out


@pytest.mark.parametrize("name", ["..\\..\\Windows", "..", "a/b", "set\x00", "x\x01y", 'x"y'])
def test_a_backup_set_name_is_one_folder(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """#17 finding 6: `runbook --backup-set '..\\..\\Windows'` printed an Import-CsConfiguration
    reading outside the backup location."""
    rc = main(["runbook", str(REPO / "plans" / "example-two-site.yaml"), "--path", "cms-restore",
               "--backup-set", name])
    err = capsys.readouterr().err
    assert rc == 2 and "is not a backup set folder name" in err and "Traceback" not in err
    assert "\x00" not in err and "\x01" not in err


def test_runbook_sql_can_be_pasted_as_it_is() -> None:
    """#16 item 13: the runbook's SQL had ? placeholders and could not be pasted into SSMS."""
    from wizard.procedures.model import SqlCommand

    cmd = SqlCommand("sql01", "rtc", "SELECT name FROM sys.databases WHERE name = ? AND [x?] = 'a?b' AND id > ?",
                     ("O'Brien", 5))
    assert cmd.lines()[0] == "SELECT name FROM sys.databases WHERE name = N'O''Brien' AND [x?] = 'a?b' AND id > 5"
    plan = load_plan(REPO / "plans" / "lab.yaml").plan
    text = render_markdown(compose(plan, "monitoring-archiving-restore", pool="pool1.fabrikam.lab"))
    assert "= ?" not in text and "(?" not in text
