"""Every lab cmdlet handler through the real WinRM client, table-driven: a script (Lync cmdlet
and its parameters) on one host -> the output shape or the effect on the deployment it must
have. Then the PowerShell failures a wrong command meets (unknown cmdlet, unknown parameter),
streaming output of a long cmdlet, 401 on a bad password and the operation timeout of an idle
held Receive, all with pywinrm / the wizard's PowerShellRunner.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError
from winrm.protocol import Protocol

from lab.backupset import read_rgs_zip, read_user_data_zip, user_data_format, write_backup_sets
from lab.cmdlets import ALL_CMDLETS
from lab.model import LabDeployment
from lab.runtime import LabRuntime
from wizard.remote.errors import BadCredentialsError
from wizard.remote.winrm import PowerShellRunner, PsResult, RunnerEvent, ShellOutput

pytestmark = pytest.mark.integration

SET = r"\\bk01.fabrikam.lab\LyncBackup\2026-11-24_0200"
BK = r"\\bk01.fabrikam.lab\LyncBackup"
FE1, FE3, FE11 = "fe01.fabrikam.lab", "fe03.fabrikam.lab", "fe11.fabrikam.lab"
P1, P2, P3 = "pool1.fabrikam.lab", "pool2.fabrikam.lab", "pool3.fabrikam.lab"
Check = Callable[[PsResult, LabDeployment], Any]


@dataclass(frozen=True)
class Case:
    script: str
    check: Check
    host: str = FE1
    exit_code: int = 0


def js(r: PsResult) -> Any:
    return json.loads(r.stdout)


def lines(r: PsResult) -> list[str]:
    return [line for line in r.stdout.splitlines() if line.strip()]


def bk(dep: LabDeployment, name: str) -> Path:
    return dep.paths.resolve(f"{BK}\\{name}")


def svc(dep: LabDeployment, host: str, name: str) -> str:
    service = dep.server(host).service(name)
    assert service is not None
    return service.status


def _config_imported(r: PsResult, dep: LabDeployment) -> bool:
    cfg = dep.cms_config()
    return cfg is not None and bool(cfg.get("imported_from"))


def _synthetic(name: str, target: str = P1) -> Case:
    return Case(f"Test-Cs{name} -TargetFqdn {target} | Select-Object -ExpandProperty Result",
                lambda r, d: r.stdout.strip() == "Success")



def _only_pool2s(rgs: dict[str, object]) -> bool:
    flows = rgs["workflows"]
    return rgs["owner"] == P2 and isinstance(flows, list) and bool(flows) and all(
        str(w).startswith("pool2-") for w in flows)

CASES: list[Case] = [
    # --------------------------------------------------------------- services (§7.2)
    Case(f"Get-CsWindowsService -ComputerName {FE1} | ConvertTo-Json -Compress",
         lambda r, d: {s["Name"] for s in js(r)} >= {"RTCSRV", "FabricHostSvc"}
         and {s["Status"] for s in js(r)} == {4}),
    Case(f"Stop-CsWindowsService -ComputerName {FE3} -Name RTCSRV -Graceful",
         lambda r, d: svc(d, FE3, "RTCSRV") == "Stopped" and svc(d, FE3, "RTCRGS") == "Stopped"),
    Case(f"Get-CsWindowsService -ComputerName {FE3} | Where-Object {{$_.Status -ne 'Running'}}"
         " | Start-CsWindowsService",
         lambda r, d: svc(d, FE3, "RTCSRV") == "Running" and svc(d, FE3, "RTCRGS") == "Running"),
    Case(f"Get-CsComputer -Pool {P1} | Select-Object -ExpandProperty Fqdn",
         lambda r, d: lines(r) == [FE1, "fe02.fabrikam.lab", FE3]),
    Case("Get-CsService -CentralManagement | ConvertTo-Json -Compress",
         lambda r, d: js(r)["Identity"] == f"CentralManagement:{P1}"),
    Case("Test-CsReplica -Verbose",
         lambda r, d: 'VERBOSE: "Test-CsReplica" processing has completed successfully' in r.stderr and not r.errors),
    Case(rf"Test-CsComputer -Report '{BK}\computer.html' -Verbose",
         lambda r, d: "Success" in bk(d, "computer.html").read_text()),
    Case(f"Test-CsTopology -Service 'Registrar:{P1}' | ConvertTo-Json -Compress",
         lambda r, d: js(r)["Result"] == "Success"),
    # --------------------------------------------------------------- CMS (§6.2, §6.15)
    Case(rf"Export-CsConfiguration -FileName '{BK}\cfg.zip'",
         lambda r, d: bk(d, "cfg.zip").read_bytes()[:2] == b"PK"),
    Case("Export-CsConfiguration -AsBytes | Import-CsConfiguration -LocalStore",
         lambda r, d: d.replica_up_to_date(d.server(FE1))),
    Case(rf"Import-CsConfiguration -FileName '{SET}\Config.zip'", _config_imported),
    Case(rf"Export-CsLisConfiguration -FileName '{BK}\lis.zip'",
         lambda r, d: bk(d, "lis.zip").is_file()),
    Case(rf"Import-CsLisConfiguration -FileName '{SET}\E911Config.zip'",
         lambda r, d: d.cms_instance().database("lis").content["published"] is False),  # type: ignore[union-attr]
    Case("Publish-CsLisConfiguration",
         lambda r, d: d.cms_instance().database("lis").content["published"] is True),  # type: ignore[union-attr]
    Case("Set-CsConfigurationStoreLocation -SqlServerFqdn sql01.fabrikam.lab -SqlInstanceName rtc"
         " -MirrorSqlServerFqdn sql02.fabrikam.lab -MirrorSqlInstanceName rtc",
         lambda r, d: d.scp is not None and d.scp.mirror_server == "sql02.fabrikam.lab"),
    Case("Get-CsConfigurationStoreLocation",
         lambda r, d: r.stdout.strip() == "sql01.fabrikam.lab\\rtc"),
    Case("Enable-CsTopology -SkipPrepareCheck $true", lambda r, d: d.cms_functional()),
    Case("Publish-CsTopology -Document (Get-CsTopology -AsXml)",
         lambda r, d: d.cms_config()["topology"]["central_management"] == P1  # type: ignore[index]
         and d.cmdlet_log[-1][1:] == ("Publish-CsTopology", ("Document",))),
    Case("Get-CsTopology | ConvertTo-Json -Compress",
         lambda r, d: js(r)["Sites"] == ["HQ", "DR"]),
    Case("Invoke-CsManagementStoreReplication",
         lambda r, d: all(d.replica_up_to_date(s) for s in d.lync_servers())),
    Case("Get-CsManagementStoreReplicationStatus | ConvertTo-Json -Compress",
         lambda r, d: len(js(r)) == len(d.lync_servers()) and all(x["UpToDate"] for x in js(r))),
    Case("Get-CsManagementStoreReplicationStatus -CentralManagementStoreStatus | ConvertTo-Json"
         " -Compress", lambda r, d: js(r)["ActiveMasterFqdn"] == FE1),
    Case("Invoke-CsManagementServerFailover -WhatIf",
         lambda r, d: r.stdout.startswith("What if:") and d.cms_pool == P1, host=FE11),
    Case("Set-CsEdgeServer -Identity EdgeServer:edge.fabrikam.lab -Registrar "
         f"Registrar:{P2}", lambda r, d: d.edge_next_hop("edge.fabrikam.lab") == P2),
    # --------------------------------------------------------------- databases (§6.4-§6.6)
    Case("Install-CsDatabase -ConfiguredDatabases -SqlServerFqdn sqlmon.fabrikam.lab",
         lambda r, d: d.instance_by_id("mon").database("LcsCDR").state == "ONLINE"),  # type: ignore[union-attr]
    Case("Test-CsDatabase -ConfiguredDatabases -SqlServerFqdn sql01.fabrikam.lab | "
         "ConvertTo-Json -Compress",
         lambda r, d: len(js(r)) >= 3 and all(x["Succeed"] for x in js(r))),
    Case(f"Invoke-CsDatabaseFailover -PoolFqdn {P1} -DatabaseType User -NewPrincipal Mirror "
         "-Force", lambda r, d: d.principal_sql(P1).server == "sql02.fabrikam.lab"),  # type: ignore[union-attr]
    Case(f"Get-CsDatabaseMirrorState -PoolFqdn {P1} -DatabaseType User | "
         "Select-Object -ExpandProperty DatabaseName", lambda r, d: "rtcxds" in lines(r)),
    Case(f"Invoke-CsDatabaseFailover -PoolFqdn {P1} -DatabaseType User -NewPrincipal Primary "
         "-Force", lambda r, d: d.principal_sql(P1).server == "sql01.fabrikam.lab"),  # type: ignore[union-attr]
    Case("Uninstall-CsMirrorDatabase -DatabaseType Application -SqlServerFqdn sql01.fabrikam.lab"
         " -SqlInstanceName rtc -DropExistingDatabasesOnMirror",
         lambda r, d: d.instance_by_id("be1-mirror").database("rgsconfig") is None),  # type: ignore[union-attr]
    Case(r"Install-CsMirrorDatabase -DatabaseType Application -SqlServerFqdn sql01.fabrikam.lab"
         r" -FileShare \\fs01.fabrikam.lab\mirror -Confirm:$false",  # it asks (lab/cmdlets/prompts.py)
         lambda r, d: d.instance_by_id("be1-mirror").database("rgsconfig").mirroring_role  # type: ignore[union-attr]
         == "MIRROR"),
    # --------------------------------------------------------------- pools (§5.4, §6.16)
    Case(f"Get-CsPoolFabricState -PoolFqdn {P1} -Type All",
         lambda r, d: lines(r)[-1] == "Pool quorum: OK" and len(lines(r)) == 8),
    Case(f"Reset-CsPoolRegistrarState -PoolFqdn {P1} -ResetType ServiceReset -Confirm:$false",
         lambda r, d: r.stdout.strip() == f"ServiceReset completed for pool {P1}."),
    Case(f"Invoke-CsPoolFailover -PoolFqdn {P1} -WaitTime 00:00:30",
         lambda r, d: d.pool(P1).failed_over_to == P2),
    Case(f"Invoke-CsPoolFailback -PoolFqdn {P1}", lambda r, d: d.pool(P1).failed_over_to is None),
    Case(f"Get-CsBackupServiceStatus -PoolFqdn {P1} | Select-Object -ExpandProperty "
         "BackupModules | ConvertTo-Json -Compress",
         lambda r, d: [m["BackupModule"] for m in js(r)] == ["UserServices.PresenceFocus",
                                                             "ConfServices.DataConf",
                                                             "CentralMgmt.CMSMaster"]),
    Case(f"Invoke-CsBackupServiceSync -PoolFqdn {P1} -BackupModule ConfServices.DataConf",
         lambda r, d: d.backup_service[(P1, P2)]["ConfServices.DataConf"][0] == "FinalState"),
    Case(f"Get-CsPoolBackupRelationship -PoolFqdn {P1} | Select-Object -ExpandProperty "
         "BackupPoolFqdn", lambda r, d: r.stdout.strip() == P2),
    Case("Get-CsUserPoolInfo 'sip:ann.pool1@fabrikam.lab' | ConvertTo-Json -Compress",
         lambda r, d: js(r)["PrimaryPoolPrimaryRegistrar"] == FE1),
    *[_synthetic(n) for n in ("Registration", "IM", "Presence", "AVConference", "P2PAV",
                              "GroupIM", "DataConference", "ASConference", "AddressBookService",
                              "AddressBookWebQuery", "WebApp", "LisConfiguration",
                              "PersistentChatMessage", "ExUMConnectivity",
                              "ClientAuthentication")],
    _synthetic("AVEdgeConnectivity", "edge.fabrikam.lab"),
    Case("Test-CsFederatedPartner -TargetFqdn edge.fabrikam.lab -Domain contoso.com | "
         "Select-Object -ExpandProperty Result", lambda r, d: r.stdout.strip() == "Success"),
    # --------------------------------------------------------------- data (§6.11-§6.13)
    Case(rf"Export-CsUserData -PoolFqdn {P1} -FileName '{BK}\ud1.zip'",
         lambda r, d: read_user_data_zip(bk(d, "ud1.zip").read_bytes())["pool"] == P1),
    Case(rf"Stop-CsWindowsService; Import-CsUserData -PoolFqdn se01.fabrikam.lab -FileName "
         rf"'{SET}\UserData_se01.fabrikam.lab.zip'; Start-CsWindowsService",
         lambda r, d: d.principal_sql("se01.fabrikam.lab").database("rtcxds")  # type: ignore[union-attr]
         .content["user_data"]["backup_set"], host="se01.fabrikam.lab"),
    Case(rf"Update-CsUserData -FileName '{BK}\ud1.zip' -UserFilter ann.pool1@fabrikam.lab",
         lambda r, d: d.principal_sql(P1).database("rtcxds")  # type: ignore[union-attr]
         .content["user_data"]["updated_users"] == ["ann.pool1@fabrikam.lab"]),
    Case(rf"Convert-CsUserData -InputFile '{BK}\ud1.zip' -OutputFile '{BK}\ud1-2010.zip' "
         "-TargetVersion Lync2010",
         lambda r, d: user_data_format(bk(d, "ud1-2010.zip").read_bytes()) == "Lync2010"),
    Case(rf"Export-CsRgsConfiguration -Source 'service:ApplicationServer:{P1}' -FileName "
         rf"'{BK}\rgs1.zip'", lambda r, d: bk(d, "rgs1.zip").is_file()),
    # §6.16 step 5 / T13: into the paired backup pool without -OverwriteOwner, still owned by pool2
    Case(rf"Import-CsRgsConfiguration -Destination 'service:ApplicationServer:{P1}' -FileName "
         rf"'{SET}\Rgs_pool2.fabrikam.lab.zip'",
         lambda r, d: P2 in d.principal_sql(P1).database("rgsconfig").content["rgs"]["owners"]),  # type: ignore[union-attr]
    Case(f"Get-CsRgsWorkflow -Identity 'service:ApplicationServer:{P1}' -ShowAll | "
         "Select-Object -ExpandProperty Name", lambda r, d: "pool2-helpdesk" in lines(r)),
    Case(f"Get-CsRgsWorkflow -Identity 'service:ApplicationServer:{P1}' | "
         "Select-Object -ExpandProperty Name", lambda r, d: "pool2-helpdesk" not in lines(r) and bool(lines(r))),
    Case(f"Get-CsRgsQueue -Identity 'service:ApplicationServer:{P1}' -Owner "
         f"'service:ApplicationServer:{P2}' | Select-Object -ExpandProperty Name",
         lambda r, d: sorted(lines(r)) == ["pool2-helpdesk-q"]),
    # §6.17 step 4: -Owner exports only pool2's groups
    Case(rf"Export-CsRgsConfiguration -Source 'service:ApplicationServer:{P1}' -Owner "
         rf"'service:ApplicationServer:{P2}' -FileName '{BK}\rgs-home.zip'",
         lambda r, d: _only_pool2s(read_rgs_zip(bk(d, "rgs-home.zip").read_bytes()))),
    Case(f"Get-CsRgsAgentGroup -Identity 'service:ApplicationServer:{P1}' -ShowAll | "
         "Select-Object -ExpandProperty Name", lambda r, d: "pool2-agents" in lines(r)),
    Case(f"Get-CsRgsHoursOfBusiness -Identity 'service:ApplicationServer:{P1}' -ShowAll | "
         "Select-Object -ExpandProperty Name", lambda r, d: "pool2-business-hours" in lines(r)),
    Case(f"Get-CsRgsHolidaySet -Identity 'service:ApplicationServer:{P1}' | "
         "Select-Object -ExpandProperty Name", lambda r, d: lines(r) == ["pool1-holidays"]),
    Case(rf"Export-CsPersistentChatData -DBInstance 'sqlpc.fabrikam.lab\pchat' -FileName "
         rf"'{BK}\pc.zip' -Level All", lambda r, d: bk(d, "pc.zip").is_file()),
    Case(rf"Import-CsPersistentChatData -DBInstance 'sqlpc.fabrikam.lab\pchat' -FileName "
         rf"'{BK}\pc.zip'", lambda r, d: True),
    Case("Set-CsPersistentChatState -Identity 'service:pchat.fabrikam.lab' -PoolState FailedOver",
         lambda r, d: d.pool("pchat.fabrikam.lab").pchat_state == "FailedOver"),
    Case("Get-CsPersistentChatState -Identity 'service:pchat.fabrikam.lab' | "
         "Select-Object -ExpandProperty PoolState", lambda r, d: r.stdout.strip() == "FailedOver"),
    Case("Set-CsPersistentChatActiveServer -Identity 'service:pchat.fabrikam.lab' "
         "-ActiveServers @{Replace='pchat01.fabrikam.lab'}",
         lambda r, d: d.pool("pchat.fabrikam.lab").pchat_active == ["pchat01.fabrikam.lab"]),
    # --------------------------------------------------------------- Backup Service (§8)
    Case(f"Backup-CsPool -PoolFqdn {P2} -FullBackup",
         lambda r, d: d.backup_service[(P2, P1)]["UserServices.PresenceFocus"][0] == "FinalState"),
    Case("Set-CsBackupServiceConfiguration -SyncInterval 00:05:00 -AuthorizedUniversalGroups "
         "CsAdministrator; Get-CsBackupServiceConfiguration | ConvertTo-Json -Compress",
         lambda r, d: js(r)["AuthorizedUniversalGroups"] == ["CsAdministrator"]
         and js(r)["SyncInterval"]["TotalSeconds"] == 300),
    Case(f"Remove-CsUserStoreBackupData -PoolFqdn {P2}", lambda r, d: (P1, P2) in d.backup_service),
    Case(f"Invoke-CsStorageServiceFlush -PoolFqdn {P1} -FlushType FullFlush", lambda r, d: True),
    Case(f"Sync-CsUserData -PoolFqdn {P1}",
         lambda r, d: d.backup_service[(P1, P2)]["UserServices.PresenceFocus"][0] == "FinalState"),
    # --------------------------------------------------------------- moves (§6.15b, §6.19, §6.21)
    Case("Set-CsSite -Identity HQ -XmppExternalFederationRoute edge01.fabrikam.lab",
         lambda r, d: d.cms_config()["sites"]["HQ"]["xmpp_route"] == "edge01.fabrikam.lab"),  # type: ignore[index]
    Case(f"Move-CsUser -Identity 'sip:bob.pool3@fabrikam.lab' -Target {P1} -Force -Confirm:$false; "
         "Get-CsUserPoolInfo 'sip:bob.pool3@fabrikam.lab' | Select-Object -ExpandProperty "
         "PrimaryPoolFqdn", lambda r, d: r.stdout.strip() == P1),
    Case(f"Move-CsConferenceDirectory -Identity 3 -TargetPool {P1} -Force",
         lambda r, d: d.conference_directory_moves == {"3": P1}),
    Case(f"Move-CsApplicationEndpoint -Identity 'sip:caa.pool3@fabrikam.lab' "
         f"-TargetApplicationPool {P1} -Force",
         lambda r, d: d.application_endpoint_moves == {"sip:caa.pool3@fabrikam.lab": P1}),
    Case(f"Move-CsManagementServer -TargetFqdn {P2} -Force -Confirm:$false",
         lambda r, d: d.cms_pool == P2 and d.cms_functional()
         and any(FE1 in line for line in lines(r)), host=FE11),
]


def _cmdlets_in(script: str) -> set[str]:
    known = {c.name.lower(): c.name for c in ALL_CMDLETS}
    return {known[w.lower()] for w in re.findall(r"\b[A-Z][a-z]+-Cs\w+", script)
            if w.lower() in known}


def test_the_table_covers_every_cmdlet_handler() -> None:
    covered = set().union(*(_cmdlets_in(c.script) for c in CASES))
    assert sorted({c.name for c in ALL_CMDLETS} - covered) == []
    assert len(ALL_CMDLETS) >= 80


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabRuntime]:
    runtime = LabRuntime(None, state_dir=tmp_path_factory.mktemp("lab"), time_factor=50_000)
    write_backup_sets(runtime.dep)
    with runtime:
        yield runtime


@pytest.fixture(scope="module")
def runners(lab: LabRuntime) -> Iterator[dict[tuple[str, str], PowerShellRunner]]:
    made: dict[tuple[str, str], PowerShellRunner] = {}
    yield made
    for runner in made.values():
        runner.close()


@pytest.mark.parametrize("case", CASES, ids=[f"{i:02d}-{c.script.split()[0]}"
                                             for i, c in enumerate(CASES)])
def test_cmdlet_through_real_winrm(case: Case, lab: LabRuntime,
                                   runners: dict[tuple[str, str], PowerShellRunner]) -> None:
    # Kerberos with the ticket forwarded (the production default) or Basic: both logons can reach
    # the backup share the import and export cmdlets read and write (NTLM could not: the second hop)
    auth = "kerberos" if CASES.index(case) % 2 else "basic"
    runner = runners.get((case.host, auth))
    if runner is None:
        runner = runners[(case.host, auth)] = lab.runner(case.host, auth)  # type: ignore[arg-type]
    before = len(lab.dep.cmdlet_log)
    result = runner.run(case.script, deadline_s=30)
    assert result.exit_code == case.exit_code, result.stderr
    ran = {name for _, name, _ in lab.dep.cmdlet_log[before:]}
    assert _cmdlets_in(case.script) <= ran
    assert case.check(result, lab.dep), (result.stdout, result.stderr)


# ------------------------------------------------------------------ what a wrong command meets
@pytest.mark.parametrize("auth", ["basic", "ntlm", "kerberos"])
def test_unknown_cmdlet_and_parameter_fail_as_powershell_does(lab: LabRuntime, auth: str) -> None:
    with lab.runner(FE1, auth) as runner:  # type: ignore[arg-type]
        nope = runner.run(f"Start-CsPool -PoolFqdn {P1}", deadline_s=10)
        bad = runner.run(f"Get-CsPoolFabricState -PoolFqdn {P1} -Verbosity 3", deadline_s=10)
    assert nope.exit_code == 1 and nope.errors[0].fully_qualified_error_id == \
        "CommandNotFoundException"
    assert "'Start-CsPool' is not recognized as the name of a cmdlet" in nope.errors[0].message
    assert bad.exit_code == 1 and bad.errors[0].message == (
        "A parameter cannot be found that matches parameter name 'Verbosity'.")
    assert bad.errors[0].fully_qualified_error_id == \
        "NamedParameterNotFound,Get-CsPoolFabricState"


@pytest.mark.timeout(120)  # a safety net only
def test_long_cmdlet_streams_line_by_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each cmdlet of a long script reports when it is done, not all at the end."""
    with LabRuntime(None, state_dir=tmp_path, time_factor=200) as lab:
        before = len(lab.dep.cmdlet_log)
        seen: list[str] = []
        stops_when_seen: list[int] = []  # how many Stop-CsWindowsService had run at each line
        stalled: list[int] = []
        arrived = threading.Condition()

        def stops_run() -> int:
            return sum(name == "Stop-CsWindowsService" for _, name, _ in lab.dep.cmdlet_log[before:])

        def on_event(event: RunnerEvent) -> None:
            if isinstance(event, ShellOutput) and event.stream == "stdout":
                with arrived:
                    stops_when_seen.append(stops_run())
                    seen.append(event.text)
                    arrived.notify_all()

        # Each Stop-CsWindowsService after the first starts only once the client holds the line
        # written after the previous one: a host or runner that sent the output at the end
        # would leave the script waiting (recorded in ``stalled``).
        play = lab.clock.sleep

        def next_cmdlet_waits_for_the_client(sim_seconds: float,
                                             cancelled: threading.Event | None = None) -> bool:
            done = stops_run()
            with arrived:
                if done and not stalled and not arrived.wait_for(lambda: len(seen) >= done, 10):
                    stalled.append(done)
            return play(sim_seconds, cancelled)

        monkeypatch.setattr(lab.clock, "sleep", next_cmdlet_waits_for_the_client)
        script = "; ".join(f"Stop-CsWindowsService -ComputerName {FE3} -Name RTCCAA; "
                           f"Write-Output 'step {i}'" for i in range(4))
        with lab.runner(FE1, "ntlm", poll_s=1) as runner:
            result = runner.run(script, deadline_s=60, on_event=on_event)
        assert result.exit_code == 0
        assert seen == [f"step {i}" for i in range(4)]
        assert stalled == [], f"'step {stalled[0] - 1}' did not reach the client while the script ran"
        # 'step i' comes after the i-th Stop-CsWindowsService and before the next one
        assert stops_when_seen == [1, 2, 3, 4]


def test_bad_password_is_401(lab: LabRuntime) -> None:
    session = winrm.Session(lab.winrm_urls()[FE1], auth=(lab.win_user, "wrong-password"),
                            transport="ntlm", proxy=None, ca_trust_path=None,
                            server_cert_validation="ignore")  # by address: see test_wsman_https
    with pytest.raises(InvalidCredentialsError) as err:
        session.run_ps("Get-CsWindowsService")
    assert err.value.code == 401
    runner = PowerShellRunner(lab.winrm_endpoint(FE1, "basic"), lab.win_user, "wrong-password")
    with pytest.raises(BadCredentialsError) as bad:
        runner.run("Get-CsWindowsService", deadline_s=10)
    assert "wrong-password" not in str(bad.value)


@pytest.mark.timeout(60)  # a safety net only
def test_idle_receive_times_out_with_the_wsman_fault(tmp_path: Path) -> None:
    """A held Receive with nothing to say returns the operation-timeout fault (2150858793),
    which pywinrm raises as WinRMOperationTimeoutError; the command keeps running."""
    with LabRuntime(None, state_dir=tmp_path, time_factor=20) as lab:
        proto = Protocol(lab.winrm_urls()[FE1], transport="basic", username=lab.win_user,
                         password=lab.win_password, operation_timeout_sec=1, read_timeout_sec=5,
                         proxy=None, ca_trust_path=None, server_cert_validation="ignore")
        shell = proto.open_shell()
        try:
            # Invoke-CsPoolFailover lasts 300 simulated s: 15 s here, far past one Receive
            cmd = proto.run_command(shell, "powershell", ["-Command",
                                                          f"Invoke-CsPoolFailover -PoolFqdn {P2}"])
            # The client asks for 1 s: a listener holding the Receive any longer (its own 60 s)
            # would run into the 5 s read timeout (requests.ReadTimeout), not this fault.
            with pytest.raises(WinRMOperationTimeoutError):
                proto.get_command_output_raw(shell, cmd)
            assert [(e.action, e.detail) for e in lab.wsman[FE1].transcript
                    if e.command_id == cmd][1:] == [("Fault", "operation timeout")]
            assert lab.dep.pool(P2).failed_over_to is None  # the command keeps running
            proto.cleanup_command(shell, cmd)  # Signal terminate: the failover never happens
        finally:
            proto.close_shell(shell)
        assert lab.dep.pool(P2).failed_over_to is None
        assert not any(name == "Invoke-CsPoolFailover" for _, name, _ in lab.dep.cmdlet_log)
