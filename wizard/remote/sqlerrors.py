"""Turn ODBC failures into one operator sentence each, with the likely fix.

pyodbc reports SQL Server errors as ``[driver][SQL Server]<text> (<number>) (<call>)``; the
restore steps need to know *which* failure it was (3201: the service account cannot read the
path; 3101: sessions still connected ...) and the operator needs to read it at 3 a.m. Numbers
and sentences follow SQL Server 2012 (the Lync 2013 back end).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypedDict

from wizard.errors import RemoteError

_SERVER_MSG = re.compile(r"\[SQL Server\](?P<text>.*?) \((?P<num>\d+)\)(?: \(SQL\w+\))?(?:;|$)",
                         re.S)
_DRIVER_MSG = re.compile(r"^\[[0-9A-Z]{5}\] |(?:\[[^\]]*\])+|\s*\(\d+\)\s*\(SQL\w+\)\s*$")


@dataclass(frozen=True)
class ServerMessage:
    """One SQL Server error or message: its number and its text without driver prefixes."""

    number: int
    text: str


def parse_server_messages(text: str) -> list[ServerMessage]:
    """Every ``[SQL Server]text (number)`` in a pyodbc error or ``cursor.messages`` entry."""
    return [ServerMessage(int(m["num"]), m["text"].strip()) for m in _SERVER_MSG.finditer(text)]


def driver_text(text: str) -> str:
    """The message of a driver-level error without ``[state] [vendor][driver]`` prefixes."""
    return _DRIVER_MSG.sub("", text).strip()


class SqlServerError(RemoteError):
    """A statement or login failed on SQL Server; ``number`` is SQL Server's error number."""

    title = "SQL Server error"
    number: int | None = None

    def __init__(self, message: str, *, hint: str | None = None, number: int | None = None,
                 server_text: str = "", sqlstate: str = "") -> None:
        super().__init__(message, hint=hint)
        if number is not None:
            self.number = number
        self.server_text = server_text
        self.sqlstate = sqlstate


class BackupDeviceError(SqlServerError):
    title = "Backup file not reachable"
    number = 3201


class RestoreTerminatedError(SqlServerError):
    title = "Restore terminated"
    number = 3013


class WrongBackupSetError(SqlServerError):
    title = "Backup holds another database"
    number = 3154


class DatabaseInUseError(SqlServerError):
    title = "Database in use"
    number = 3101


class TailLogError(SqlServerError):
    title = "Tail of the log not backed up"
    number = 3159


class CannotOpenDatabaseError(SqlServerError):
    title = "Cannot open database"
    number = 4060


class LoginRefusedError(SqlServerError):
    title = "SQL login refused"
    number = 18456


class DamagedBackupError(SqlServerError):
    title = "Backup file damaged"
    number = 3241


class SqlUnreachableError(SqlServerError):
    title = "SQL Server unreachable"


class SqlEncryptionError(SqlServerError):
    """The connection's encryption or the server's certificate failed (it was reached)."""

    title = "SQL Server encryption"


class SqlTimeoutError(SqlServerError):
    title = "SQL statement timed out"


class SqlCancelledError(SqlServerError):
    title = "SQL statement cancelled"


class DriverMissingError(SqlServerError):
    title = "ODBC driver missing"


class SqlConfigError(SqlServerError):
    """The endpoint settings cannot work with this driver (found before connecting)."""

    title = "SQL connection settings"


class _Extra(TypedDict):
    number: int | None
    server_text: str
    sqlstate: str


_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")


def _quoted(text: str, default: str) -> str:
    m = _QUOTED.search(text)
    if m is None:
        return default
    return m.group(1) if m.group(1) is not None else m.group(2)


INSTALL_HINT = ("Install Microsoft ODBC Driver 18 for SQL Server (package msodbcsql18) or FreeTDS "
                "(package tdsodbc), or name an installed driver in the plan.")


def for_server_message(msg: ServerMessage, *, where: str, sqlstate: str = "",
                       terminated: bool = False) -> SqlServerError:
    """The error for one SQL Server error number, phrased for the operator."""
    n, text = msg.number, msg.text
    kw = _Extra(number=n, server_text=text, sqlstate=sqlstate)
    if n == 3201:
        path = _quoted(text, "the backup file")
        return BackupDeviceError(
            f"SQL Server {where} cannot open the backup file {path}.",
            hint="The path must be reachable and readable by the SQL Server service account "
                 "(use a UNC share it has rights on, not a mapped drive).", **kw)
    if n == 3203:  # "Read on "<device>" failed: <OS error>": the device failed part way (MSSQLSERVER_3203)
        path = _quoted(text, "the backup file")
        cause = text.split("failed:", 1)[1].strip().rstrip(".") if "failed:" in text else "a read error"
        return BackupDeviceError(
            f"SQL Server {where} lost its read of the backup file {path} part way ({cause}).",
            hint="The share or disk holding the backup failed during the restore; once the SQL Server reaches it "
                 "again, retry: the restore starts again from the beginning.", **kw)
    if n == 3241:
        path = _quoted(text, "the backup file")
        return DamagedBackupError(
            f"The backup file {path} is damaged or is not a SQL Server backup ({where}).",
            hint="Copy it again from the backup set or pick another set; RESTORE VERIFYONLY "
                 "checks a file before restoring.", **kw)
    if n == 3154:
        return WrongBackupSetError(
            f"The backup file holds a different database than the one being restored on {where}.",
            hint="Check that the file is the right one; overwriting the existing database "
                 "needs WITH REPLACE.", **kw)
    if n == 3101:
        return DatabaseInUseError(
            f"The database on {where} is in use, so the restore cannot get exclusive access.",
            hint="Stop the Lync services that use it (Stop-CsWindowsService) or close the other "
                 "sessions, then retry.", **kw)
    if n == 3159:
        db = _quoted(text, "the database")
        return TailLogError(
            f"The tail of the log of {db} on {where} has not been backed up.",
            hint="Back up the log WITH NORECOVERY first, or restore WITH REPLACE if losing "
                 "that work is intended.", **kw)
    if n == 4060:
        db = _quoted(text, "the database")
        return CannotOpenDatabaseError(
            f"SQL Server {where} cannot open database {db} for this login.",
            hint="Check that the database exists and that the login has access to it.", **kw)
    if n == 18456:
        user = _quoted(text, "this user")
        return LoginRefusedError(
            f"SQL Server {where} refused the login for {user}.",
            hint="Check the user name and password and that the instance allows this kind "
                 "of authentication.", **kw)
    if n == 3013:
        return RestoreTerminatedError(
            f"The restore or backup on {where} terminated abnormally: {text}",
            hint="SQL Server gave no other cause here; its error log on the server has one.", **kw)
    sentence = f"SQL Server {where} failed the statement with error {n}: {text}"
    if terminated:
        sentence += " (the restore or backup was terminated)"
    return SqlServerError(sentence if sentence.endswith(".") else sentence + ".", **kw)


def _tls_sentence(text: str, where: str, address: str) -> tuple[str, str] | None:
    """Encryption and certificate failures, each in its own words (not "cannot reach"): what
    Microsoft ODBC Driver 18's SSL provider and its encryption negotiation report (FreeTDS says
    only "Unable to connect" for a server that cannot encrypt)."""
    low = text.lower()
    if "encryption not supported" in low:
        return (f"SQL Server {where} at {address} does not offer encryption, and the plan requires it.",
                "Give the instance a certificate (SQL Server Configuration Manager, Protocols, "
                "Certificate), or set encrypt to optional for it in the plan.")
    if "ssl provider" in low or "certificate verify failed" in low:
        if "does not match host name" in low or "target principal name" in low:
            return (f"SQL Server {where} presented a certificate that does not name it.",
                    "The certificate is checked against the instance's FQDN; check the certificate "
                    "the instance uses.")
        if "self-signed" in low or "self signed" in low or "unable to get local issuer" in low:
            return (f"SQL Server {where} presented a certificate from a CA this machine does not trust.",
                    "Add that CA to this machine's trust store (or SSL_CERT_FILE), or, for this "
                    "instance only, set trust_server_certificate in the plan.")
        return (f"The TLS connection to SQL Server {where} failed.",
                "Check the instance's certificate and the encryption settings in the plan.")
    return None


def from_odbc_error(args: tuple[object, ...], *, where: str, address: str, driver: str,
                    during: str, timeout_s: float | None = None) -> SqlServerError:
    """Map the ``args`` of a ``pyodbc.Error`` (sqlstate, text) to an operator error.

    ``during`` is ``"connect"`` or ``"statement"``.
    """
    sqlstate = str(args[0]) if args else ""
    text = str(args[1]) if len(args) > 1 else (str(args[0]) if args else "")
    # FreeTDS reports its own client-side failures (20000-20999, e.g. 20009 "Unable to
    # connect") with a [SQL Server] prefix too: those are not server errors.
    messages = [m for m in parse_server_messages(text)
                if m.number != 0 and not 20000 <= m.number < 21000]
    if messages and not sqlstate.startswith("08"):
        first = next((m for m in messages if m.number != 3013), messages[0])
        return for_server_message(first, where=where, sqlstate=sqlstate,
                                  terminated=any(m.number == 3013 for m in messages))
    detail = driver_text(text)
    kw = _Extra(number=None, server_text=detail, sqlstate=sqlstate)
    if sqlstate == "IM002" or "Can't open lib" in text or "file not found" in text:
        return DriverMissingError(f"The ODBC driver {driver} is not installed on this machine.",
                                  hint=INSTALL_HINT, **kw)
    if sqlstate == "HY008":
        return SqlCancelledError(f"The statement on {where} was cancelled.", **kw)
    if sqlstate == "HYT00":
        limit = f" within {timeout_s:g} s" if timeout_s else ""
        if during == "connect":
            return SqlUnreachableError(f"SQL Server {where} at {address} did not answer{limit}.",
                                       hint="Check that the server is up and the port is open "
                                            "in the firewall.", **kw)
        return SqlTimeoutError(f"The statement on {where} did not finish{limit}.", **kw)
    tls = _tls_sentence(text, where, address)
    if tls is not None:
        return SqlEncryptionError(tls[0], hint=tls[1], **kw)
    if during == "connect" or sqlstate.startswith("08"):
        return SqlUnreachableError(
            f"Cannot reach SQL Server {where} at {address}.",
            hint="Check that the server is up, that the SQL Server service listens on TCP/IP, "
                 "and that the port is open in the firewall.", **kw)
    return SqlServerError(f"The ODBC driver failed talking to {where}: {detail}", **kw)
