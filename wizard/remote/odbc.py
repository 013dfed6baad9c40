"""ODBC driver discovery and connection strings for SQL Server.

Two driver families reach SQL Server from Linux and they disagree on keywords: Microsoft's
ODBC Driver 17/18 take ``Encrypt=``/``TrustServerCertificate=`` and ``Server=host,port``;
FreeTDS ignores ``Encrypt=`` (its keyword is ``Encryption=``), needs ``TDS_Version`` pinned and
does not unescape ``}}`` in a braced password. One place builds both, so the runner never does.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from .sqlerrors import INSTALL_HINT, DriverMissingError, SqlConfigError

Encrypt = Literal["strict", "mandatory", "optional", "off"]
Auth = Literal["sql", "windows"]
DriverKind = Literal["msodbc", "freetds"]

PREFERRED_NAMES = ("ODBC Driver 18 for SQL Server", "ODBC Driver 17 for SQL Server", "FreeTDS")
FREETDS_PATHS = (
    "/usr/lib/x86_64-linux-gnu/odbc/libtdsodbc.so",
    "/usr/lib/aarch64-linux-gnu/odbc/libtdsodbc.so",
    "/usr/lib64/libtdsodbc.so.0",
    "/usr/local/lib/libtdsodbc.so",
    "/opt/homebrew/lib/libtdsodbc.so",
)
MSODBC_GLOBS = ("/opt/microsoft/msodbcsql18/lib64/libmsodbcsql-18.*.so*",
                "/opt/microsoft/msodbcsql17/lib64/libmsodbcsql-17.*.so*")


@dataclass(frozen=True)
class SqlEndpoint:
    """Where and how to reach one SQL Server instance (from the plan; holds no secret)."""

    server: str
    """The instance's FQDN, as Lync's topology names it."""
    instance: str | None = None
    """Named instance (``RTC``), or None for the default instance."""
    port: int | None = None
    """TCP port; None = 1433 for a default instance, SQL Browser lookup for a named one."""
    address: str | None = None
    """What to connect to when it differs from ``server`` (an IP, the lab's 127.0.0.1)."""
    driver: str | None = None
    """ODBC driver name or absolute path; None = discover (18, then 17, then FreeTDS)."""
    encrypt: Encrypt = "mandatory"
    trust_server_certificate: bool = False
    ca_bundle: str | None = None
    """PEM file of the CAs to check the certificate against (ODBC Driver 17/18, via OpenSSL's
    SSL_CERT_FILE while connecting); None = the system store."""
    login_timeout_s: float = 15.0
    query_timeout_s: float = 60.0
    auth: Auth = "sql"

    @property
    def display(self) -> str:
        """``sql01.contoso.com\\RTC`` — how messages name the instance."""
        return f"{self.server}\\{self.instance}" if self.instance else self.server

    @property
    def target(self) -> str:
        """``host:port`` or ``host\\instance`` actually connected to."""
        host = self.address or self.server
        if self.port is not None:
            return f"{host}:{self.port}"
        return f"{host}\\{self.instance}" if self.instance else f"{host}:1433"


@dataclass(frozen=True)
class OdbcDriver:
    """A usable driver: ``name`` goes in ``DRIVER={...}`` (a registered name or a path)."""

    name: str
    kind: DriverKind


def classify(name: str) -> OdbcDriver:
    lowered = name.lower()
    if "freetds" in lowered or "tdsodbc" in lowered:
        return OdbcDriver(name, "freetds")
    return OdbcDriver(name, "msodbc")


def bundled_msodbc18() -> str | None:
    """Microsoft ODBC Driver 18 from the ``mssql-python-odbc`` wheel, if installed."""
    try:
        import mssql_python_odbc  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        return None
    libs = str(mssql_python_odbc.get_libs_dir())
    hits = sorted(glob.glob(os.path.join(libs, "linux", "debian_ubuntu", os.uname().machine,
                                         "lib", "libmsodbcsql-18.*.so*")))
    return hits[-1] if hits else None


def _registered() -> list[str]:
    import pyodbc

    return list(pyodbc.drivers())


def discover(preferred: str | None = None, *,
             registered: Callable[[], Sequence[str]] = _registered,
             exists: Callable[[str], bool] = os.path.exists) -> OdbcDriver:
    """Pick the driver: the plan's choice if usable, else 18, 17, FreeTDS (registered first).

    Raises :class:`DriverMissingError` naming the driver and what to install.
    """
    names = list(registered())
    if preferred:
        if os.path.isabs(preferred):
            if exists(preferred):
                return classify(preferred)
        elif preferred in names:
            return classify(preferred)
        raise DriverMissingError(f"The ODBC driver {preferred} is not installed on this machine.",
                                 hint=INSTALL_HINT)
    for wanted in PREFERRED_NAMES:
        if wanted in names:
            return classify(wanted)
    candidates = [p for g in MSODBC_GLOBS for p in sorted(glob.glob(g))]
    bundled = bundled_msodbc18()
    candidates += [bundled] if bundled else []
    candidates += list(FREETDS_PATHS)
    for path in candidates:
        if exists(path):
            return classify(path)
    raise DriverMissingError("No ODBC driver for SQL Server is installed on this machine.",
                             hint=INSTALL_HINT)


def brace(value: str) -> str:
    """An ODBC connection-string value in braces, ``}`` doubled (ODBC's only escape)."""
    if "\x00" in value:
        raise SqlConfigError("A connection setting contains a NUL character.")
    return "{" + value.replace("}", "}}") + "}"


def connection_string(endpoint: SqlEndpoint, driver: OdbcDriver, username: str,
                      password: str) -> str:
    """The full ODBC connection string. It contains the password: never log or show it."""
    host = endpoint.address or endpoint.server
    parts = [f"DRIVER={brace(driver.name)}"]
    if driver.kind == "freetds":
        if endpoint.port is not None:
            parts += [f"Server={host}", f"Port={endpoint.port}"]
        elif endpoint.instance:
            parts.append(f"Server={host}\\{endpoint.instance}")
        else:
            parts += [f"Server={host}", "Port=1433"]
        parts.append("TDS_Version=7.4")
        if endpoint.encrypt == "strict":
            raise SqlConfigError(
                f"The FreeTDS driver cannot use strict (TDS 8) encryption for {endpoint.display}.",
                hint="Use Microsoft ODBC Driver 18, or set encrypt to mandatory in the plan.")
        if endpoint.encrypt == "mandatory" and not endpoint.trust_server_certificate:
            # Encryption=require encrypts but checks no certificate: "validated" would be a lie
            raise SqlConfigError(
                f"The FreeTDS driver cannot validate the certificate of {endpoint.display}, which the "
                "plan asks for (encrypt: mandatory, trust_server_certificate: false).",
                hint="Use Microsoft ODBC Driver 18 (it validates), or set trust_server_certificate: "
                     "true for this instance to encrypt without validating.")
        parts.append("Encryption=" + {"mandatory": "require", "optional": "request",
                                      "off": "off"}[endpoint.encrypt])
        if "}" in password:
            raise SqlConfigError(
                f"The password for {endpoint.display} contains a closing brace, which the "
                "FreeTDS driver cannot pass.",
                hint="Use Microsoft ODBC Driver 18 for this instance, or change the password.")
        if endpoint.auth == "windows" and "\\" not in username:
            raise SqlConfigError(
                f"Windows authentication to {endpoint.display} with FreeTDS needs the user "
                "as DOMAIN\\user.")
        parts += [f"UID={brace(username)}", f"PWD={brace(password)}"]
    else:
        if endpoint.port is not None:
            parts.append(f"Server=tcp:{host},{endpoint.port}")
        elif endpoint.instance:
            parts.append(f"Server={host}\\{endpoint.instance}")
        else:
            parts.append(f"Server=tcp:{host},1433")
        parts.append("Encrypt=" + {"strict": "strict", "mandatory": "yes", "optional": "no",
                                   "off": "no"}[endpoint.encrypt])
        parts.append("TrustServerCertificate=" + ("yes" if endpoint.trust_server_certificate
                                                  else "no"))
        if endpoint.address and endpoint.address.lower() != endpoint.server.lower():
            # connected to an address (a jump route, the lab): the certificate must still name
            # the instance's FQDN, as WinRM's does (ODBC Driver 18 checks it against this name)
            parts.append(f"HostNameInCertificate={endpoint.server}")
        if endpoint.auth == "windows":
            parts.append("Trusted_Connection=yes")
        else:
            parts += [f"UID={brace(username)}", f"PWD={brace(password)}"]
    parts.append("APP=lync-restore")
    return ";".join(parts) + ";"
