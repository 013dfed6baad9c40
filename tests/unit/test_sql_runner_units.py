"""Pure pieces of the SQL runner: identifier quoting, connection strings, message parsing,
error sentences and driver discovery (no network; discovery gets fake lists)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wizard.errors import RemoteError, UsageError
from wizard.remote import sqlerrors as se
from wizard.remote.odbc import OdbcDriver, SqlEndpoint, connection_string, discover
from wizard.remote.sql import (
    SqlFinished,
    SqlMessage,
    SqlProgress,
    classify_message,
    quote_identifier,
    restored_database,
)

FT = OdbcDriver("/usr/lib/x86_64-linux-gnu/odbc/libtdsodbc.so", "freetds")
MS = OdbcDriver("ODBC Driver 18 for SQL Server", "msodbc")


@given(st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=128))
def test_quote_identifier_is_bracketed_and_doubles_closing_brackets(name: str) -> None:
    q = quote_identifier(name)
    assert q.startswith("[") and q.endswith("]")
    assert q[1:-1].replace("]]", "") .count("]") == 0
    assert q[1:-1].replace("]]", "]") == name


@pytest.mark.parametrize("bad", ["", "a\x00b", "x" * 129])
def test_quote_identifier_rejects(bad: str) -> None:
    with pytest.raises(UsageError):
        quote_identifier(bad)


def test_freetds_connection_string() -> None:
    ep = SqlEndpoint(server="sql01.contoso.com", instance="RTC", port=1500, encrypt="optional")
    cs = connection_string(ep, FT, "sa", "p;w{x")
    assert cs.startswith("DRIVER={/usr/lib/x86_64-linux-gnu/odbc/libtdsodbc.so};")
    assert "Server=sql01.contoso.com;Port=1500;TDS_Version=7.4;Encryption=request;" in cs
    assert "UID={sa};PWD={p;w{x};" in cs and "Encrypt=" not in cs


def test_freetds_refuses_a_closing_brace_in_the_password_without_showing_it() -> None:
    ep = SqlEndpoint(server="sql01", encrypt="off")
    with pytest.raises(se.SqlConfigError) as info:
        connection_string(ep, FT, "sa", "se}cret")
    assert "se}cret" not in str(info.value) and "closing brace" in info.value.message


def test_freetds_refuses_strict_encryption() -> None:
    with pytest.raises(se.SqlConfigError):
        connection_string(SqlEndpoint(server="s", encrypt="strict"), FT, "sa", "pw")


def test_microsoft_connection_string_instance_and_escaping() -> None:
    ep = SqlEndpoint(server="sql01.contoso.com", instance="RTC", address="10.0.0.5",
                     trust_server_certificate=True)
    cs = connection_string(ep, MS, "sa", "a}b")
    assert "Server=10.0.0.5\\RTC;Encrypt=yes;TrustServerCertificate=yes;" in cs
    assert "PWD={a}}b};" in cs
    strict = connection_string(SqlEndpoint(server="s", port=1433, encrypt="strict"), MS, "u", "p")
    assert "Server=tcp:s,1433;Encrypt=strict;TrustServerCertificate=no;" in strict


def test_windows_auth() -> None:
    ep = SqlEndpoint(server="s", auth="windows", encrypt="off")
    ms = connection_string(ep, MS, "CONTOSO\\admin", "pw")
    assert "Trusted_Connection=yes" in ms and "PWD" not in ms
    assert "UID={CONTOSO\\admin}" in connection_string(ep, FT, "CONTOSO\\admin", "pw")
    with pytest.raises(se.SqlConfigError):
        connection_string(ep, FT, "admin", "pw")


def test_discovery_prefers_18_then_17_then_freetds() -> None:
    names = ["FreeTDS", "ODBC Driver 17 for SQL Server", "ODBC Driver 18 for SQL Server"]
    assert discover(registered=lambda: names).name == "ODBC Driver 18 for SQL Server"
    assert discover(registered=lambda: names[:2]).name == "ODBC Driver 17 for SQL Server"
    assert discover(registered=lambda: names[:1]).kind == "freetds"


def test_discovery_names_the_missing_driver() -> None:
    with pytest.raises(se.DriverMissingError) as info:
        discover("ODBC Driver 17 for SQL Server", registered=lambda: ["FreeTDS"])
    assert "ODBC Driver 17 for SQL Server" in info.value.message
    with pytest.raises(se.DriverMissingError):
        discover(registered=lambda: [], exists=lambda p: False)
    assert discover("/opt/x/libtdsodbc.so", registered=lambda: [],
                    exists=lambda p: True).kind == "freetds"


@pytest.mark.parametrize(("state", "text", "expected"), [
    ("[01000] (3211)", "[FreeTDS][SQL Server]40 percent processed.",
     SqlProgress(40, "40 percent processed.")),
    ("[01000] (3014)", "[Microsoft][ODBC Driver 18 for SQL Server][SQL Server]RESTORE DATABASE "
     "successfully processed 5 pages in 0.1 seconds (0.3 MB/sec).",
     SqlFinished("RESTORE DATABASE successfully processed 5 pages in 0.1 seconds (0.3 MB/sec).")),
    ("[01000] (4035)", "[FreeTDS][SQL Server]Processed 5 pages.", SqlMessage(4035, "Processed 5 pages.")),
])
def test_classify_message(state: str, text: str, expected: object) -> None:
    assert classify_message(state, text) == expected


def test_restored_database() -> None:
    assert restored_database("  RESTORE DATABASE [a]]b] FROM DISK = N'x'") == "a]b"
    assert restored_database("restore log rtc from disk='x'") == "rtc"
    assert restored_database("BACKUP DATABASE [rtc] TO DISK = N'x'") is None


def _err(state: str, text: str, during: str = "statement") -> se.SqlServerError:
    return se.from_odbc_error((state, text), where="sql01\\RTC", address="sql01:1433",
                              driver="FreeTDS", during=during, timeout_s=15)


def test_first_real_cause_wins_over_3013() -> None:
    err = _err("42000", "[42000] [FreeTDS][SQL Server]Cannot open backup device '\\\\bk\\x.bak'. "
               "Operating system error 5(Access is denied.). (3201) (SQLExecDirectW); [42000] "
               "[FreeTDS][SQL Server]RESTORE DATABASE is terminating abnormally. (3013)")
    assert isinstance(err, se.BackupDeviceError) and isinstance(err, RemoteError)
    assert err.message == "SQL Server sql01\\RTC cannot open the backup file \\\\bk\\x.bak."
    assert err.hint is not None and "service account" in err.hint


def test_a_read_failing_part_way_names_the_file_and_the_cause_and_says_retry() -> None:
    err = _err("42000", '[42000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Read on '
               '"\\\\bk11\\LyncBackup\\s\\sql\\LcsCDR.bak" failed: 64(The specified network name is no longer '
               'available.) (3203) (SQLExecDirectW); [42000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]'
               'RESTORE DATABASE is terminating abnormally. (3013)')
    assert isinstance(err, se.BackupDeviceError)
    assert err.message == ("SQL Server sql01\\RTC lost its read of the backup file \\\\bk11\\LyncBackup\\s\\sql\\"
                           "LcsCDR.bak part way (64(The specified network name is no longer available.)).")
    assert err.hint is not None and "retry" in err.hint


@pytest.mark.parametrize(("state", "text", "during", "cls"), [
    ("IM002", "[IM002] [unixODBC][Driver Manager]Data source name not found and no default "
     "driver specified (0) (SQLDriverConnect)", "connect", se.DriverMissingError),
    ("01000", "[01000] [unixODBC][Driver Manager]Can't open lib '/x.so' : file not found (0) "
     "(SQLDriverConnect)", "connect", se.DriverMissingError),
    ("08S01", "[08S01] [FreeTDS][SQL Server]Unable to connect: Adaptive Server is unavailable "
     "or does not exist (20009) (SQLDriverConnect)", "connect", se.SqlUnreachableError),
    ("HYT00", "[HYT00] [Microsoft][ODBC Driver 18 for SQL Server]Login timeout expired (0) "
     "(SQLDriverConnect)", "connect", se.SqlUnreachableError),
    ("HYT00", "[HYT00] [FreeTDS][SQL Server]Query timeout expired (0) (SQLExecDirectW)",
     "statement", se.SqlTimeoutError),
    ("28000", "[28000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Login failed for "
     "user 'sa'. (18456) (SQLDriverConnect)", "connect", se.LoginRefusedError),
])
def test_driver_level_errors(state: str, text: str, during: str,
                             cls: type[se.SqlServerError]) -> None:
    err = _err(state, text, during)
    assert type(err) is cls
    assert err.message.endswith(".") and "\n" not in err.message


def test_trust_server_certificate_means_the_same_for_freetds_or_is_refused() -> None:
    """#15 item 4: FreeTDS's Encryption=require encrypts without checking the certificate, so a
    plan that asks for a validated certificate is refused with FreeTDS, not silently weakened."""
    strict = SqlEndpoint(server="sql01.contoso.com", port=1433, encrypt="mandatory", trust_server_certificate=False)
    with pytest.raises(se.SqlConfigError) as info:
        connection_string(strict, FT, "sa", "pw")
    assert "cannot validate the certificate" in info.value.message and "ODBC Driver 18" in (info.value.hint or "")
    trusting = SqlEndpoint(server="sql01.contoso.com", port=1433, encrypt="mandatory", trust_server_certificate=True)
    assert "Encryption=require;" in connection_string(trusting, FT, "sa", "pw")


def test_odbc_18_checks_the_certificate_against_the_fqdn_when_connecting_to_an_address() -> None:
    """#15: as for WinRM, the address is where to connect, the FQDN what the certificate names."""
    by_address = connection_string(SqlEndpoint(server="sql01.contoso.com", port=1433, address="10.0.0.5"),
                                   MS, "u", "p")
    assert "Server=tcp:10.0.0.5,1433;" in by_address and "HostNameInCertificate=sql01.contoso.com;" in by_address
    by_name = connection_string(SqlEndpoint(server="sql01.contoso.com", port=1433), MS, "u", "p")
    assert "HostNameInCertificate" not in by_name
