"""Pre-flight (#18 item 2): which cmdlets and parameters a composed procedure asks of each server,
and what a server's Get-Command rows say it lacks."""

from __future__ import annotations

from pathlib import Path

from wizard.plan import load_plan
from wizard.preflight import commands_used, findings
from wizard.procedures.compose import compose

REPO = Path(__file__).resolve().parents[2]


def _used() -> dict[str, dict[str, tuple[set[str], list[str]]]]:
    plan = load_plan(REPO / "plans" / "example-two-site.yaml").plan
    proc = compose(plan, "pool-failover", pool="lonpool.corp.contoso.com", backup_set="2026-11-24_0100")
    return commands_used(proc.steps)


def test_every_cmdlet_a_step_or_a_check_sends_is_counted_per_host_with_its_parameters() -> None:
    used = _used()
    assert used, "the procedure sends cmdlets somewhere"
    for host, cmdlets in used.items():
        assert host == host.lower() and "." in host
        for name, (_params, steps) in cmdlets.items():
            assert "-" in name, f"{name}: native programs are not cmdlets"
            assert steps, name
    everything = {name for cmdlets in used.values() for name in cmdlets}
    assert "Invoke-CsPoolFailover" in everything
    params = next(p for c in used.values() for n, (p, _) in c.items() if n == "Invoke-CsPoolFailover")
    assert {"PoolFqdn", "DisasterMode"} <= params
    assert "robocopy" not in everything and "Get-Item" in everything  # the file checks count too


def test_rows_name_what_a_server_lacks() -> None:
    used = {"Import-CsUserData": ({"PoolFqdn", "FileName", "Verbose"}, ["userdata-import"]),
            "Start-CsPool": ({"PoolFqdn"}, ["start"])}  # Lync 2013 has no such cmdlet (§8): Found false
    rows = [{"Cmdlet": "Import-CsUserData", "Found": True, "Parameters": ["PoolFqdn", "RoutingGroupFilter"]},
            {"Cmdlet": "Start-CsPool", "Found": False, "Parameters": []}]
    found = findings("fe01.contoso.com", used, rows)
    assert [(f.cmdlet, f.parameter) for f in found] == [("Import-CsUserData", "FileName"), ("Start-CsPool", None)]
    assert found[0].sentence().startswith("fe01.contoso.com: Import-CsUserData has no parameter -FileName "
                                          "(needed by userdata-import)")
    assert "has no cmdlet Start-CsPool" in found[1].sentence()
    # Verbose is a common parameter: every cmdlet has it, Get-Command lists it or not
    all_there = [{"Cmdlet": "Import-CsUserData", "Found": True, "Parameters": ["poolfqdn", "filename"]},
                 {"Cmdlet": "Start-CsPool", "Found": True, "Parameters": "PoolFqdn"}]
    assert findings("fe01.contoso.com", used, all_there) == []


def test_shares_of_other_servers_are_counted_per_host_not_its_own_nor_admin_shares() -> None:
    from wizard.preflight import denied_shares, shares_used

    shares = shares_used(_steps())
    every = {s for per_host in shares.values() for s in per_host}
    assert every, "the failover reads the vault from a Front End"
    assert all(s.startswith("\\\\") and s.count("\\") == 3 and not s.endswith("$") for s in every), every
    for host, per_host in shares.items():
        assert all(s[2:].split("\\")[0].split(".")[0] != host.split(".")[0] for s in per_host)
    host, per_host = next(iter(shares.items()))
    share = next(iter(per_host))
    rows = [{"Share": share, "Denied": True}, {"Cmdlet": "Get-Item", "Found": True, "Parameters": []}]
    said = denied_shares(host, per_host, rows)
    assert len(said) == 1 and said[0].startswith(f"{host} was denied access to {share}") and "second hop" in said[0]
    assert denied_shares(host, per_host, [{"Share": share, "Denied": False}]) == []


def _steps():  # type: ignore[no-untyped-def]
    plan = load_plan(REPO / "plans" / "example-two-site.yaml").plan
    return compose(plan, "pool-failover", pool="lonpool.corp.contoso.com", backup_set="2026-11-24_0100").steps
