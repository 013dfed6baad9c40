"""The lab's SQL instance state and the .bak file format."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from lab.sqlstate import (
    BakError,
    DatabaseState,
    SqlInstanceState,
    corrupt_bak,
    read_bak,
    truncate_bak,
    write_bak,
)

T0 = dt.datetime(2026, 11, 24, 2, 0, 0)


def _lab() -> SqlInstanceState:
    return SqlInstanceState.for_lync(
        "be1.fabrikam.com", "rtc", ["BackendStore", "CentralMgmtStore", "MonitoringStore"],
        content={"set": "2026-11-24_0200"},
    )


def test_for_lync_creates_catalogue_databases_and_files() -> None:
    state = _lab()
    names = sorted(state.databases, key=str.casefold)
    assert names == sorted(["master", "tempdb", "model", "msdb", "rtcxds", "rtcshared", "xds", "lis",
                            "LcsCDR", "QoEMetrics"], key=str.casefold)
    rtcxds = state.databases["RTCXDS"]  # case-insensitive
    assert rtcxds.files[0].physical_name == "D:\\CsData\\BackendStore\\rtc\\DbPath\\rtcxds.mdf"
    assert rtcxds.files[1].type == "L"
    assert rtcxds.recovery_model == "FULL"
    assert rtcxds.content == {"set": "2026-11-24_0200", "database": "rtcxds"}
    assert "FABRIKAM\\RTCComponentUniversalServices" in rtcxds.role_members["ServerRole"]
    assert state.name == "BE1\\RTC"
    assert len({db.database_id for db in state.databases.values()}) == len(state.databases)


def test_for_lync_rejects_unknown_store() -> None:
    with pytest.raises(ValueError, match="BogusStore"):
        SqlInstanceState.for_lync("be1.fabrikam.com", "rtc", ["BogusStore"])


def _write(tmp_path: Path, db: DatabaseState) -> Path:
    path = tmp_path / "sql" / "rtcxds.bak"
    write_bak(path, database=db.snapshot(), server="be1.fabrikam.com", instance="rtc", kind="D",
              start=T0, finish=T0 + dt.timedelta(seconds=40), first_lsn=db.last_lsn - 10,
              last_lsn=db.last_lsn, backup_set_name="rtcxds-Full")
    return path


def test_bak_round_trip(tmp_path: Path) -> None:
    db = _lab().databases["rtcxds"]
    path = _write(tmp_path, db)
    bak = read_bak(path)
    assert bak.database == "rtcxds"
    assert bak.server == "BE1\\RTC"
    assert bak.kind == "D"
    assert bak.content == db.content
    assert bak.last_lsn == db.last_lsn
    assert [f.logical_name for f in bak.files] == ["rtcxds", "rtcxds_log"]
    assert bak.start == T0
    assert path.read_bytes()[:5] == b"LRBAK"


def test_corrupt_payload_fails_verify_but_not_header(tmp_path: Path) -> None:
    path = _write(tmp_path, _lab().databases["rtcxds"])
    corrupt_bak(path)
    assert read_bak(path, verify=False).database == "rtcxds"
    with pytest.raises(BakError) as err:
        read_bak(path, device="\\\\backup\\LyncBackup\\x\\rtcxds.bak")
    assert err.value.number == 3241
    assert "\\\\backup\\LyncBackup\\x\\rtcxds.bak" in err.value.message


def test_corrupt_header_fails_everything(tmp_path: Path) -> None:
    path = _write(tmp_path, _lab().databases["rtcxds"])
    corrupt_bak(path, header=True)
    with pytest.raises(BakError) as err:
        read_bak(path, verify=False)
    assert err.value.number == 3241


def test_truncated_and_missing(tmp_path: Path) -> None:
    path = _write(tmp_path, _lab().databases["rtcxds"])
    truncate_bak(path, keep_fraction=0.9)
    with pytest.raises(BakError) as err:
        read_bak(path)
    assert err.value.number == 3203
    with pytest.raises(BakError) as err2:
        read_bak(tmp_path / "nope.bak", device="D:\\nope.bak")
    assert err2.value.number == 3201
    assert "D:\\nope.bak" in err2.value.message
    junk = tmp_path / "junk.bak"
    junk.write_bytes(b"this is not a backup at all, just text" * 3)
    with pytest.raises(BakError) as err3:
        read_bak(junk)
    assert err3.value.number == 3241
