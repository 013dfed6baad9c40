"""A canary password used through failures never shows up anywhere (ground rule 4).

The canary is the *right* password for some calls and a *wrong* one for others; every failure
path of both transports is exercised; then the exception texts and reprs, every log record any
library emitted (DEBUG, all loggers), the servers' transcripts and an incident journal that
recorded the failures are searched for it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lab.tds import TdsServer
from lab.tds.toy import ToyBackend
from lab.wsman import WsmanServer
from lab.wsman.toyhost import ToyHost
from wizard.errors import RemoteError
from wizard.journal import Journal, Kind
from wizard.remote.sql import SqlEndpoint, SqlRunner
from wizard.remote.winrm import PowerShellRunner, WinRMEndpoint
from wizard.secrets import REGISTRY

pytestmark = pytest.mark.integration

CANARY = "Canary-9f1c-Pa55word"
USER = "FABRIKAM\\lyncadmin"
FREETDS = "/usr/lib/x86_64-linux-gnu/odbc/libtdsodbc.so"


def test_canary_never_leaks(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    REGISTRY.register(CANARY)
    journal = Journal.create(tmp_path, incident="INC-CANARY", operator="tester", drill=True, payload={})
    failures: list[BaseException] = []

    with WsmanServer("fe01.fabrikam.lab", ToyHost(), {USER: "the-real-one"}, allow_unencrypted=True) as wsman:
        for auth in ("basic", "ntlm"):
            ep = WinRMEndpoint("fe01.fabrikam.lab", address="127.0.0.1", port=wsman.port, scheme="http",
                               auth=auth, insecure=True)  # type: ignore[arg-type]
            runner = PowerShellRunner(ep, USER, CANARY, operation_timeout_s=2, connect_timeout_s=2)
            with pytest.raises(RemoteError) as info:
                runner.run("Write-Output 'hello'", deadline_s=10)
            failures.append(info.value)
        # unreachable port with the canary as password
        closed = WinRMEndpoint("fe09.fabrikam.lab", address="127.0.0.1", port=1, scheme="http",
                               auth="basic", insecure=True)
        with pytest.raises(RemoteError) as info:
            PowerShellRunner(closed, USER, CANARY, connect_timeout_s=2).run("x", deadline_s=5)
        failures.append(info.value)
        wsman_transcript = "\n".join(repr(e) for e in wsman.transcript)

    with TdsServer(ToyBackend(users={"sa": "the-real-one"})) as tds:
        ep_sql = SqlEndpoint("sql01.fabrikam.lab", instance="rtc", port=tds.port, address="127.0.0.1",
                             driver=FREETDS, encrypt="off", login_timeout_s=3)
        with pytest.raises(RemoteError) as info:
            SqlRunner(ep_sql, "sa", CANARY).query("SELECT 1")
        failures.append(info.value)
        sql_transcript = "\n".join(tds.transcript)
    with pytest.raises(RemoteError) as info:
        SqlRunner(SqlEndpoint("sql09.fabrikam.lab", port=1, address="127.0.0.1", driver=FREETDS,
                              encrypt="off", login_timeout_s=2), "sa", CANARY).query("SELECT 1")
    failures.append(info.value)

    for exc in failures:
        journal.append(Kind.ERROR, {"title": getattr(exc, "title", ""), "message": str(exc),
                                    "repr": repr(exc), "args": [str(a) for a in exc.args]})
    journal.close()

    assert len(failures) == 5
    places = {
        "exception texts": "\n".join(f"{e}\n{e!r}\n{e.args!r}\n{e.__cause__!r}\n{e.__context__!r}"
                                     for e in failures),
        "log records": "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records),
        "WinRM transcript": wsman_transcript,
        "TDS transcript": sql_transcript,
        "journal": (tmp_path / "INC-CANARY" / "journal.jsonl").read_text(),
    }
    for where, text in places.items():
        assert CANARY not in text, f"the canary leaked into the {where}"
    assert "rejected the credentials" in places["exception texts"]
    assert "18456" in places["exception texts"] or "Login failed" in places["exception texts"]
