"""#19 item 2, timed faults: trouble that strikes once, at a moment of the recovery, as the
real clients see it. A SQL restore that stops at a percent: SQL Server's 3203 then 3013, the
database left RESTORING, the same RESTORE then succeeds (through FreeTDS). A WinRM connection lost while a
cmdlet runs: the runner's ConnectionLostError (pywinrm saw the TCP connection closed mid-request),
the cmdlet ran on, the next command works."""

from __future__ import annotations

from pathlib import Path

import pyodbc
import pytest

from lab.runtime import LabRuntime
from lab.scenarios import ConnectionDrop, SqlRestoreFails, scenario
from wizard.remote.errors import ConnectionLostError
from wizard.remote.odbc import FREETDS_PATHS

pytestmark = pytest.mark.integration

BAK = r"\\bk11.fabrikam.lab\LyncBackup\2026-11-24_0200\sql\LcsCDR.bak"
RESTORE = f"RESTORE DATABASE [LcsCDR] FROM DISK = N'{BAK}' WITH REPLACE, RECOVERY, STATS = 20"


def _restore(lab: LabRuntime) -> list[str]:
    with pyodbc.connect(lab.odbc_connection_string("mon", FREETDS_PATHS[0]), autocommit=True, timeout=10) as conn:
        cur = conn.cursor()
        cur.execute(RESTORE)
        messages = [str(m[1]) for m in cur.messages]
        while cur.nextset():
            messages += [str(m[1]) for m in cur.messages]
        return messages


def test_a_restore_fails_at_its_percent_once_then_succeeds(tmp_path: Path) -> None:
    s = scenario("monitoring-db-lost").with_faults(sql_restore_fails=(SqlRestoreFails("mon", 60, "LcsCDR"),))
    with LabRuntime(s, state_dir=tmp_path, time_factor=1e5) as lab:
        with pytest.raises(pyodbc.Error) as err:
            _restore(lab)
        text = str(err.value.args[1])  # the driver reports the first error; 3013 follows it
        assert f'Read on "{BAK}" failed: 64(The specified network name is no longer available.) (3203)' in text, text
        db = lab.dep.instance_by_id("mon").database("LcsCDR")  # type: ignore[union-attr]
        assert db is not None and db.state == "RESTORING"
        messages = _restore(lab)  # once: the same statement now goes through
        assert [m for m in messages if "percent processed" in m][-1].endswith("100 percent processed.")
        assert any("RESTORE DATABASE successfully processed" in m for m in messages)
        assert lab.dep.instance_by_id("mon").database("LcsCDR").state == "ONLINE"  # type: ignore[union-attr]


def test_a_restore_of_another_database_is_not_the_one_that_fails(tmp_path: Path) -> None:
    s = scenario("monitoring-db-lost").with_faults(sql_restore_fails=(SqlRestoreFails("mon", 40, "QoEMetrics"),))
    with LabRuntime(s, state_dir=tmp_path, time_factor=1e5) as lab:
        assert any("successfully processed" in m for m in _restore(lab))  # LcsCDR: untouched by the fault
        assert lab.dep.instance_by_id("mon").restore_faults == [("QoEMetrics", 40)]  # type: ignore[union-attr]


def test_the_connection_drops_while_the_cmdlet_runs_once(tmp_path: Path) -> None:
    fe = "fe01.fabrikam.lab"
    s = scenario("fe-lost").with_faults(connection_drops=(ConnectionDrop(fe, "Get-CsWindowsService"),))
    script = "Get-CsWindowsService -Name RTCSRV | Select-Object -ExpandProperty Status"
    with LabRuntime(s, state_dir=tmp_path, time_factor=1e5) as lab, lab.runner(fe, "ntlm") as runner:
        assert runner.run("Get-Date | Out-Null; 'before'", deadline_s=30).stdout.strip() == "before"
        with pytest.raises(ConnectionLostError) as err:
            runner.run(script, deadline_s=30)
        assert err.value.message == f"{fe}:{lab.wsman[fe].port} closed the connection unexpectedly."
        assert any(e.action == "Fault" and "in flight" in e.detail for e in lab.wsman[fe].transcript)
        assert runner.run(script, deadline_s=30).stdout.strip() == "Running"  # once: the next run answers
        assert lab.dep.connection_drops == []
