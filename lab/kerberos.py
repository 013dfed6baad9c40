"""A real MIT Kerberos KDC for the lab's Active Directory domain, on loopback.

A production Lync estate authenticates its administrators with Kerberos: the domain controllers
are the KDCs of the AD domain's realm (``FABRIKAM.LAB`` for ``fabrikam.lab``), each server's WinRM
listener holds the key of its ``HTTP/<fqdn>`` service principal, and a computer account that is
*trusted for delegation* gets service tickets flagged OK-AS-DELEGATE, the flag a Windows client
(and an MIT client asked for "delegation by policy") waits for before it forwards its ticket.

:class:`LabKdc` builds that with Debian's ``krb5-kdc`` (``kdb5_util``, ``krb5kdc``) and
``krb5-admin-server`` (``kadmin.local``), all inside the lab's own folder (``<state>/kdc``):

* ``krb5.conf``: the client configuration (realm, the KDC's loopback port, no DNS lookups); what
  ``lab serve --json`` prints as ``krb5_config`` and what the plan copy names;
* ``kdc.conf``, the database, its stash and the KDC's log;
* ``http.keytab``: the keys of every host's ``HTTP/<fqdn>``, read by the lab's WinRM listeners
  (:mod:`lab.wsman.auth`) as a server's own keytab is.

Nothing here touches ``/etc`` or a system service: ``KRB5_CONFIG`` and ``KRB5_KDC_PROFILE`` point
every tool at the lab's files. When the programs are missing, :class:`KerberosUnavailable` says
which Debian packages to install.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

#: the Debian packages that carry the programs the lab runs (bootstrap.sh installs them)
PACKAGES = ("krb5-kdc", "krb5-admin-server", "krb5-user")
_PROGRAMS = {"krb5kdc": "krb5-kdc", "kdb5_util": "krb5-kdc", "kadmin.local": "krb5-admin-server"}
_SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")


class KerberosUnavailable(RuntimeError):
    """The lab cannot run its KDC (programs missing, or the KDC did not start)."""


def realm_of(ad_domain: str) -> str:
    """The Kerberos realm of an AD DNS domain: the same name in capitals (as AD makes it)."""
    return ad_domain.strip(".").upper()


def principal_of(account: str, realm: str) -> str:
    """``DOMAIN\\user`` or ``user@domain`` or ``user`` -> ``user@REALM``."""
    if "@" in account:
        user, _, domain = account.partition("@")
        return f"{user}@{domain.upper()}"
    return f"{account.rsplit(chr(92), 1)[-1]}@{realm}"


def _program(name: str) -> str:
    found = shutil.which(name) or next(
        (str(Path(d) / name) for d in _SBIN if (Path(d) / name).is_file()), None)
    if found is None:
        raise KerberosUnavailable(
            f"The lab's Kerberos KDC needs {name}, which is not installed: install the Debian "
            f"packages {' '.join(PACKAGES)} (bash bootstrap.sh setup does).")
    return found


def kdc_available() -> bool:
    """Are the KDC's programs installed?"""
    try:
        for name in _PROGRAMS:
            _program(name)
    except KerberosUnavailable:
        return False
    return True


def _free_port() -> int:
    """A port free for both TCP and UDP on loopback (the KDC listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise KerberosUnavailable("The lab found no free port for its KDC on 127.0.0.1.")


class LabKdc:
    """The KDC of one lab's realm. ``start`` creates the database on first use (a revived lab
    keeps its principals and keys) and runs ``krb5kdc`` in the foreground as a child."""

    def __init__(self, folder: Path, ad_domain: str) -> None:
        self.folder = Path(folder)
        self.realm = realm_of(ad_domain)
        self.domain = ad_domain.strip(".").lower()
        self.krb5_config = self.folder / "krb5.conf"
        self.keytab = self.folder / "http.keytab"
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ files
    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KRB5")}
        env.update(KRB5_CONFIG=str(self.krb5_config), KRB5_KDC_PROFILE=str(self.folder / "kdc.conf"))
        return env

    def _write_configs(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        f = self.folder
        (f / "kdc.conf").write_text(
            "[kdcdefaults]\n"
            f"    kdc_ports = {self.port}\n"
            f"    kdc_tcp_ports = {self.port}\n"
            "[realms]\n"
            f"    {self.realm} = {{\n"
            f"        database_name = {f / 'principal'}\n"
            f"        key_stash_file = {f / 'stash'}\n"
            f"        acl_file = {f / 'kadm5.acl'}\n"
            "        max_life = 10h 0m 0s\n"
            "        max_renewable_life = 7d 0h 0m 0s\n"
            "        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal\n"
            "    }\n"
            "[logging]\n"
            f"    kdc = FILE:{f / 'kdc.log'}\n", encoding="utf-8")
        (f / "kadm5.acl").write_text("", encoding="utf-8")
        # what a domain-joined Linux jump host has: the realm, its KDC, no reverse lookups (the
        # service principal is built from the FQDN the plan names, never from an address)
        self.krb5_config.write_text(
            "[libdefaults]\n"
            f"    default_realm = {self.realm}\n"
            "    dns_lookup_kdc = false\n"
            "    dns_lookup_realm = false\n"
            "    dns_canonicalize_hostname = false\n"
            "    rdns = false\n"
            "    forwardable = true\n"
            "    udp_preference_limit = 1\n"
            "    kdc_timeout = 3s\n"
            "    max_retries = 1\n"
            "[realms]\n"
            f"    {self.realm} = {{\n"
            f"        kdc = 127.0.0.1:{self.port}\n"
            "    }\n"
            "[domain_realm]\n"
            f"    .{self.domain} = {self.realm}\n"
            f"    {self.domain} = {self.realm}\n", encoding="utf-8")

    def _run(self, argv: list[str], stdin: str = "") -> str:
        done = subprocess.run(argv, input=stdin.encode(), env=self._env(), capture_output=True,
                              timeout=60, check=False)
        out = (done.stdout + done.stderr).decode("utf-8", "replace")
        if done.returncode != 0 or ("error" in out.lower() and "kadmin.local" in argv[0]):
            raise KerberosUnavailable(f"The lab's KDC set-up failed ({Path(argv[0]).name}): "
                                      + " ".join(out.split())[:300])
        return out

    # ------------------------------------------------------------------ principals
    @property
    def created(self) -> bool:
        return (self.folder / "principal").exists()

    def create(self, users: Mapping[str, str], hosts: Iterable[str],
               trusted_for_delegation: Iterable[str] = ()) -> None:
        """The realm's database: a principal per user (with its password), ``HTTP/<fqdn>`` per
        host (random keys, written to the keytab) and OK-AS-DELEGATE on the hosts trusted for
        delegation."""
        self._write_configs()
        if not self.created:
            self._run([_program("kdb5_util"), "-r", self.realm, "create", "-s", "-W",
                       "-P", secrets.token_urlsafe(16)])
        lines: list[str] = []
        seen: set[str] = set()
        for account, password in users.items():
            principal = principal_of(account, self.realm)
            if principal.lower() in seen:
                continue
            seen.add(principal.lower())
            if '"' in password:
                raise KerberosUnavailable("The lab's passwords may not contain a double quote.")
            lines.append(f'addprinc -pw "{password}" {principal}')
        trusted = {t.lower() for t in trusted_for_delegation}
        for fqdn in sorted({h.lower() for h in hosts}):
            spn = f"HTTP/{fqdn}@{self.realm}"
            lines.append(f"addprinc -randkey {spn}")
            if fqdn in trusted:
                lines.append(f"modprinc +ok_as_delegate {spn}")
            lines.append(f"ktadd -k {self.keytab} {spn}")
        self._run([_program("kadmin.local"), "-r", self.realm], "\n".join(lines) + "\n")
        os.chmod(self.keytab, 0o600)

    def set_delegation(self, fqdn: str, trusted: bool) -> None:
        """Trust (or stop trusting) one host for delegation, as in its AD computer account."""
        flag = "+ok_as_delegate" if trusted else "-ok_as_delegate"
        self._run([_program("kadmin.local"), "-r", self.realm, "-q",
                   f"modprinc {flag} HTTP/{fqdn.lower()}@{self.realm}"])

    # ------------------------------------------------------------------ the KDC process
    def start(self) -> LabKdc:
        if self._proc is not None:
            return self
        self.port = _free_port()
        self._write_configs()  # the port is new at every start (a revived lab included)
        if not self.created:
            raise KerberosUnavailable("The lab's realm has no database yet (create it first).")
        self._stop_leftover()
        log = (self.folder / "krb5kdc.out").open("ab")
        argv = [_program("krb5kdc"), "-n", "-r", self.realm]
        setpriv = shutil.which("setpriv")  # util-linux: the KDC ends with the lab (PR_SET_PDEATHSIG)
        if setpriv is not None:
            argv = [setpriv, "--pdeathsig", "TERM", "--", *argv]
        self._proc = subprocess.Popen(argv, env=self._env(),
                                      stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                      start_new_session=True)
        log.close()
        (self.folder / "krb5kdc.pid").write_text(str(self._proc.pid), encoding="ascii")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                raise KerberosUnavailable("The lab's KDC stopped at start: see "
                                          f"{self.folder / 'krb5kdc.out'}.")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return self
            time.sleep(0.02)
        self.stop()
        raise KerberosUnavailable(f"The lab's KDC did not listen on 127.0.0.1:{self.port} within 10 s.")

    def _stop_leftover(self) -> None:
        """End the KDC a killed lab left running on this realm's files (a kept lab whose keeper
        was SIGKILLed: its child outlived it); only a krb5kdc whose command line names this realm."""
        pid_file = self.folder / "krb5kdc.pid"
        try:
            pid = int(pid_file.read_text(encoding="ascii"))
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return
        if cmdline and Path(cmdline[0].decode(errors="replace")).name == "krb5kdc" and self.realm.encode() in cmdline:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        pid_file.unlink(missing_ok=True)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        (self.folder / "krb5kdc.pid").unlink(missing_ok=True)
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None
