"""The language subset: syntax, operators, variables, control flow, files, command lines,
and the hand-written admin scripts of the runbooks (domain doc §6, §7)."""

from __future__ import annotations

import base64
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.powershell import (
    CmdletSpec,
    Invocation,
    NativeContext,
    ParamSpec,
    PowerShellHost,
    PSEnum,
    PSObject,
    VirtualFS,
    split_command_line,
)
from lab.powershell.testing import Capture, run

STATUS = "System.ServiceProcess.ServiceControllerStatus"
CALLS: list[tuple[str, dict[str, Any]]] = []
SERVICES: dict[str, str] = {}


def _service(name: str) -> PSObject:
    value = 4 if SERVICES[name] == "Running" else 1
    return PSObject({"Status": PSEnum(SERVICES[name], value, STATUS), "Name": name,
                     "ActivityLevel": ""}, "Microsoft.Rtc.Management.Deployment.Core.NTService",
                    name)


def _get_service(inv: Invocation) -> list[Any]:
    return [_service(name) for name in SERVICES]


def _start_service(inv: Invocation) -> None:
    target = inv.get("InputObject")
    name = target.get("Name") if isinstance(target, PSObject) else inv.get("Name")
    CALLS.append(("start", {"Name": name}))
    SERVICES[name] = "Running"


def _stop_service(inv: Invocation) -> None:
    CALLS.append(("stop", dict(inv.params)))
    for name in SERVICES:
        SERVICES[name] = "Stopped"


def _backup_status(inv: Invocation) -> list[Any]:
    modules = [PSObject({"BackupModuleId": "CentralMgmt.CMSMaster", "State": "NormalState"}),
               PSObject({"BackupModuleId": "UserServices.PresenceFocus", "State": "NormalState"})]
    return [PSObject({"PoolFqdn": inv.get("PoolFqdn"), "BackupModules": modules})]


def _replication(inv: Invocation) -> list[Any]:
    return [PSObject({"UniqueId": "x", "ReplicaFqdn": "fe01.lab.test", "UpToDate": True}),
            PSObject({"UniqueId": "y", "ReplicaFqdn": "edge01.lab.test", "UpToDate": False})]


def _import_user_data(inv: Invocation) -> None:
    CALLS.append(("import", dict(inv.params)))


def _robocopy(ctx: NativeContext) -> int:
    CALLS.append(("robocopy", {"args": ctx.args}))
    ctx.write_stdout("   ROBOCOPY     ::     Robust File Copy for Windows")
    return 1  # one or more files copied


SPECS = [
    CmdletSpec("Get-CsWindowsService", [ParamSpec("ComputerName"), ParamSpec("Name")],
               _get_service),
    CmdletSpec("Start-CsWindowsService",
               [ParamSpec("ComputerName"), ParamSpec("Name", set="Name"),
                ParamSpec("InputObject", "object", pipeline="value", set="InputObject"),
                ParamSpec("NoWait", "switch")], _start_service, default_set="Name"),
    CmdletSpec("Stop-CsWindowsService",
               [ParamSpec("ComputerName"), ParamSpec("Name"), ParamSpec("Force", "switch"),
                ParamSpec("Graceful", "switch")], _stop_service),
    CmdletSpec("Get-CsBackupServiceStatus",
               [ParamSpec("PoolFqdn", mandatory=True),
                ParamSpec("Category", choices=("CMS", "UserData"))], _backup_status),
    CmdletSpec("Get-CsManagementStoreReplicationStatus", [ParamSpec("ReplicaFqdn")],
               _replication),
    CmdletSpec("Import-CsUserData",
               [ParamSpec("PoolFqdn", set="Pool"), ParamSpec("Identity", set="Identity"),
                ParamSpec("FileName", mandatory=True), ParamSpec("Force", "switch")],
               _import_user_data),
]


@pytest.fixture
def host(tmp_path: Path) -> PowerShellHost:
    CALLS.clear()
    SERVICES.clear()
    SERVICES.update({"RTCSRV": "Stopped", "RTCCPS": "Running", "FabricHostSvc": "Stopped"})
    return PowerShellHost(SPECS, natives={"robocopy": _robocopy}, fs=VirtualFS(tmp_path),
                          host_name="fe01.lab.test")


def out(host: PowerShellHost, script: str) -> list[str]:
    result = run(host, script)
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    return result.lines


# -- the runbook scripts -----------------------------------------------------------------------


def test_stop_services(host: PowerShellHost) -> None:
    assert out(host, "Stop-CsWindowsService -ComputerName 'fe01.lab.test' -Force") == []
    assert CALLS == [("stop", {"ComputerName": "fe01.lab.test", "Force": True})]


def test_backup_service_status_member_access(host: PowerShellHost) -> None:
    lines = out(host, "$s = Get-CsBackupServiceStatus -PoolFqdn 'pool1.lab.test'; "
                      "$s.BackupModules")
    assert lines == ["", "BackupModuleId             State", "--------------             -----",
                     "CentralMgmt.CMSMaster      NormalState",
                     "UserServices.PresenceFocus NormalState", ""]


def test_start_what_is_not_running(host: PowerShellHost) -> None:
    assert out(host, 'Get-CsWindowsService | Where-Object {$_.Status -ne "Running"} | '
                     "Start-CsWindowsService") == []
    assert CALLS == [("start", {"Name": "RTCSRV"}), ("start", {"Name": "FabricHostSvc"})]
    assert set(SERVICES.values()) == {"Running"}


def test_replication_status_selection(host: PowerShellHost) -> None:
    assert out(host, "Get-CsManagementStoreReplicationStatus | Select-Object ReplicaFqdn, "
                     "UpToDate") == ["", "ReplicaFqdn     UpToDate", "-----------     --------",
                                     "fe01.lab.test       True", "edge01.lab.test    False", ""]


def test_import_user_data_with_unc_path_in_double_quotes(host: PowerShellHost) -> None:
    out(host, 'Import-CsUserData -PoolFqdn "pool1.lab.test" -FileName '
              '"\\\\bk01\\LyncBackup\\2026-11-24_0200\\UserData_pool1.lab.test.zip"')
    assert CALLS == [("import", {
        "PoolFqdn": "pool1.lab.test",
        "FileName": "\\\\bk01\\LyncBackup\\2026-11-24_0200\\UserData_pool1.lab.test.zip",
    })]


def test_robocopy_gets_raw_arguments_and_sets_lastexitcode(host: PowerShellHost) -> None:
    result = run(host, "robocopy \\\\bk01\\LyncBackup\\set\\filestore\\lyncshare "
                       "\\\\fs01\\lyncshare /E /XF Meeting.Active")
    assert CALLS == [("robocopy", {"args": [
        "\\\\bk01\\LyncBackup\\set\\filestore\\lyncshare", "\\\\fs01\\lyncshare", "/E", "/XF",
        "Meeting.Active"]})]
    assert result.lines == ["   ROBOCOPY     ::     Robust File Copy for Windows"]
    assert result.code == 1  # -Command semantics: a failing last native makes $? false
    assert out(host, "robocopy a b | Out-Null; \"code=$LASTEXITCODE\"") == ["code=1"]


# -- syntax and semantics ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("'it''s' + \"`t|\" + 'x'", ["it's\t|x"]),
        ("$n = 'w'; \"a $n $($n.ToUpper()) ${n}x `$n\"", ["a w W wx $n"]),
        ("\"say \"\"hi\"\"\"", ['say "hi"']),
        ("@'\n'raw' $x\n'@", ["'raw' $x"]),
        ("$x = 'v'; @\"\nexp $x $($x * 2) \"q\"\n\"@", ['exp v vv "q"']),
        ("<# c #> 1 # tail\n2 `\n + 3", ["1", "5"]),
        ("1 + 2 * 3; (1 + 2) * 3; 7 / 2; 6 / 3; 7 % 3; -5 + 1", ["7", "9", "3.5", "2", "1", "-4"]),
        ("'ab' * 2; 1, 2 + 3; (1, 2).Count", ["abab", "1", "2", "3", "2"]),
        ("'A' -eq 'a'; 'A' -ceq 'a'; 5 -gt '10'; '5' -gt 10", ["True", "False", "False", "True"]),
        ("'abc' -like 'A?C'; 'abc' -notlike '*b'; 'x' -in 'a','x'; 1,2 -contains 2",
         ["True", "True", "True", "True"]),
        ("if ('Lync2013' -match '^(?<p>\\D+)(\\d+)$') { $Matches.p; $Matches[2] }",
         ["Lync", "2013"]),
        ("'a-b-c' -replace '-(\\w)', '+$1'; 'a,b;c' -split '[,;]'; 'x','y' -join '/'",
         ["a+b+c", "a", "b", "c", "x/y"]),
        ("1, 5, 10 -gt 3; -not $true; !$false; $true -and $false -or $true",
         ["5", "10", "False", "True", "True"]),
        ("'{0}:{1,3}:{2:N1}' -f 'a', 7, 2.25", ["a:  7:2.3"]),
        ("[int]'42' + 1; [string]1 + 1; [bool]'x'; [int]2.5; [int]3.5", ["43", "11", "True",
                                                                       "2", "4"]),
        ("$a = @(); $a += 1; $a += 'b'; $a.Count; $a[-1]; @($null).Count; @().Count",
         ["2", "b", "1", "0"]),
        ("$h = @{Name = 'x'; 'Other Key' = 2}; $h.name; $h['OTHER KEY']; $h.Keys.Count",
         ["x", "2", "2"]),
        ("$o = [pscustomobject]@{A = 1}; $o.A = 5; $o.a; $o.Missing -eq $null", ["5", "True"]),
        ("foreach ($i in 1..5) { if ($i -eq 2) { continue }; if ($i -eq 4) { break }; $i }",
         ["1", "3"]),
        ("$i = 0; while ($i -lt 3) { $i++ }; $i; for ($j = 0; $j -lt 2; $j++) { \"j$j\" }",
         ["3", "j0", "j1"]),
        ("$i = 0; while ($true) { $i++; if ($i -eq 2) { continue }; if ($i -gt 3) { break }; \"w$i\" }; "
         "for ($j = 0; $j -lt 9; $j++) { if ($j -eq 1) { continue }; if ($j -eq 3) { break }; \"f$j\" }",
         ["w1", "w3", "f0", "f2"]),
        ("if ($false) { 1 } elseif ($null) { 2 } else { 3 }", ["3"]),
        ("try { throw 'bad' } catch { \"caught $_\" } finally { 'fin' }", ["caught bad", "fin"]),
        ("try { Get-Nope } catch [System.Management.Automation.CommandNotFoundException] "
         "{ 'cnf' }", ["cnf"]),
        ("function Add-Two { param($a, $b = 2) $a + $b }; Add-Two 1; Add-Two -b 5 -a 1",
         ["3", "6"]),
        ("$sb = { param($x) $x * 2 }; & $sb 4; $sb.Invoke(5)", ["8", "10"]),
        ("$c = 0; 1..3 | ForEach-Object { $c += $_ }; $c", ["6"]),
        ("'b', 'a', 'C' | Sort-Object; 3, 1, 2 | Sort-Object -Descending | Select-Object -First 1",
         ["a", "b", "C", "3"]),
        ("[System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String('aMOp'))",
         ["hé"]),
        ("$s = [ScriptBlock]::Create('param($p) \"got $p\"'); & $s 'z'", ["got z"]),
        ("Invoke-Expression \"'iex' + 1\"", ["iex1"]),
        ("$env:LR_X = 'set'; $env:LR_X; $env:COMPUTERNAME", ["set", "FE01"]),
        ("'  pad  '.Trim(); 'a.b.c'.Split('.').Count; 'abc'.Substring(1); 'Abc'.ToLower()",
         ["pad", "3", "bc", "abc"]),
        ("(Get-Date -Date '2026-11-24 02:00:00').AddDays(1).ToString('yyyy-MM-dd_HHmm')",
         ["2026-11-25_0200"]),
        ("$x = $null; $x.Foo.Bar -eq $null; $?", ["True", "True"]),
        ("Write-Output 'gone' > $null; 'kept'", ["kept"]),
    ],
)
def test_expressions(host: PowerShellHost, script: str, expected: list[str]) -> None:
    assert out(host, script) == expected


def test_errors_with_messages_from_powershell(host: PowerShellHost) -> None:
    cases = {
        "1 / 0": "Attempted to divide by zero.",
        "$null.Foo()": "You cannot call a method on a null-valued expression.",
        "'x'.Nope()": "Method invocation failed because [System.String] does not contain a "
                      "method named 'Nope'.",
        "[Nope]::X": "Unable to find type [Nope].",
        "[int]'abc'": 'Cannot convert value "abc" to type "System.Int32".',
        "[System.Convert]::FromBase64String('@@')": 'Exception calling "FromBase64String" with '
                                                    '"1" argument(s): "The input is not a valid '
                                                    'Base-64 string',
        "$true = 1": "Cannot overwrite variable true because it is read-only or constant.",
    }
    for script, message in cases.items():
        result = run(host, script)
        assert result.code == 1, script
        assert message in result.stderr, (script, result.stderr)


def test_streams(host: PowerShellHost) -> None:
    result = run(host, "Write-Host 'h1' 'h2'; Write-Output 'o'; Write-Warning 'w'; "
                       "Write-Verbose 'hidden'; Write-Verbose 'shown' -Verbose; "
                       "$VerbosePreference = 'Continue'; Write-Verbose 'pref'")
    assert result.lines == ["h1 h2", "o"]
    assert result.stderr == "WARNING: w\r\nVERBOSE: shown\r\nVERBOSE: pref\r\n"
    result = run(host, "Write-Error 'e1' -ErrorAction SilentlyContinue; $Error.Count; "
                       "Write-Warning 'x' -WarningAction SilentlyContinue")
    assert result.lines == ["1"] and result.stderr == ""


def test_files_on_the_virtual_file_system(host: PowerShellHost, tmp_path: Path) -> None:
    lines = out(host, "New-Item -ItemType Directory -Path 'C:\\Work' | Out-Null; "
                      "$p = Join-Path 'C:\\Work\\' 'a.txt'; $p; "
                      "Set-Content -Path $p -Value 'one','two' -Encoding ASCII; "
                      "Add-Content -LiteralPath $p -Value 'three' -NoNewline; "
                      "Get-Content $p; (Get-Content $p -Raw).Length; Test-Path $p; "
                      "Get-ChildItem 'c:\\work' | ForEach-Object Name; "
                      "Remove-Item $p; Test-Path -Path $p")
    assert lines == ["C:\\Work\\a.txt", "one", "two", "three", "15", "True", "a.txt", "False"]
    result = run(host, "Get-Content 'C:\\nope.txt'")
    assert result.code == 1
    assert "Cannot find path 'C:\\nope.txt' because it does not exist." in result.stderr
    out(host, "New-Item -ItemType Directory '\\\\bk01\\LyncBackup\\set1' | Out-Null; "
              "Set-Content '\\\\bk01\\LyncBackup\\set1\\x.txt' 'y'")
    assert (tmp_path / "unc" / "bk01" / "LyncBackup" / "set1" / "x.txt").read_bytes() == b"y\r\n"


# -- command lines -------------------------------------------------------------------------------


def _enc(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode()


@pytest.mark.parametrize(
    "line",
    [
        "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand {}",
        "POWERSHELL -encodedcommand {}",
        "powershell -nop -noni -enc {}",
        "powershell -ec {}",
        "powershell -e {}",
        "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe /NoProfile /enc {}",
        "cmd /c powershell -NonInteractive -EncodedCommand {}",
    ],
)
def test_encoded_command_lines(host: PowerShellHost, line: str) -> None:
    io = Capture()
    assert host.run_command_line(line.format(_enc("'a' + 'b'; exit 5")), [], io) == 5
    assert io.stdout == "ab\r\n"


def test_command_and_arguments_and_native_lines(host: PowerShellHost) -> None:
    io = Capture()
    assert host.run_command_line("powershell", ["-NoProfile", "-Command", "'x' + 1"], io) == 0
    assert io.stdout == "x1\r\n"
    io = Capture()
    assert host.run_command_line("robocopy.exe \\\\a\\b \\\\c\\d /MIR", [], io) == 1
    assert CALLS[-1] == ("robocopy", {"args": ["\\\\a\\b", "\\\\c\\d", "/MIR"]})
    assert io.stdout.startswith("   ROBOCOPY")
    io = Capture()
    assert host.run_command_line("nosuch.exe /x", [], io) == 9009
    assert "'nosuch.exe' is not recognized as an internal or external command" in io.stderr
    io = Capture()
    assert host.run_command_line("powershell -EncodedCommand !!!", [], io) == 1
    assert "not properly encoded" in io.stderr


def test_split_command_line_follows_windows_rules() -> None:
    assert split_command_line('a "b c" d\\"e "f""g" h\\\\"i j"') == [
        "a", "b c", 'd"e', 'f"g', 'h\\i j']


def test_each_command_line_is_a_fresh_process(host: PowerShellHost) -> None:
    io = Capture()
    host.run_command_line("powershell -Command $global:lrX = 1", [], io)
    io = Capture()
    host.run_command_line("powershell -Command \"[string]($lrX -eq $null)\"", [], io)
    assert io.stdout == "True\r\n"


GARBAGE_TOKENS = [
    "$a", "=", "1", "'s'", '"d$a"', "(", ")", "{", "}", "[", "]", "@(", "@{", "|", ";", "\n",
    ",", ".", "::", "-eq", "-not", "+", "-", "*", "/", "%", "..", "Write-Output", "%", "?",
    "if", "else", "foreach", "in", "try", "catch", "throw", "`", "#", "<#", "#>", "$_", "[int]",
    "Select-Object", "-First", "&", "!", "$null", "x", "Count", "ToString()", "@'", "'@", "-f",
    "-match", "2>&1", ">", "$env:TEMP", "Get-Date", "ConvertTo-Json", "while", "break",
    "function", "param", "return", "$", "'", '"', "\u2019", "\u2013x",
]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tokens=st.lists(st.sampled_from(GARBAGE_TOKENS), max_size=20))
def test_garbage_never_breaks_the_interpreter(host: PowerShellHost, tokens: list[str]) -> None:
    cancelled = threading.Event()
    timer = threading.Timer(2.0, cancelled.set)  # a generated `while ($true) {}` stops here
    timer.start()
    try:
        result = run(host, " ".join(tokens), cancelled=cancelled)
    finally:
        timer.cancel()
    assert isinstance(result.code, int)
    if result.code == 1 and not result.stdout:
        assert result.stderr  # a failure always says why
