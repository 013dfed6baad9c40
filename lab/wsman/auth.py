"""Server side of WinRM authentication for the lab: Basic, NTLM and Kerberos with message
encryption, and CredSSP.

pywinrm's NTLM transport authenticates the TCP connection (three legs over keep-alive) and then
seals every SOAP body in a ``multipart/encrypted`` MIME envelope. pyspnego's NTLM acceptor does
the cryptography but reads its accounts from the file named by the process-wide environment
variable ``NTLM_USER_FILE``. Several lab hosts run in one process with different accounts, so
each :class:`AccountStore` writes its own private file (0600, NT hashes, never plain text)
and the acceptor steps run under one lock with the variable pointing at that file.

Kerberos tickets are accepted with the service keys of the lab's realm (:class:`KerberosKeys`,
the keytab :mod:`lab.kerberos` writes); a connection knows whether its client forwarded its
ticket (``delegated``), and a CredSSP connection holds the user's password once it completes:
the two logons that can reach another host's share (:mod:`lab.identity`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import os
import shutil
import struct
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import spnego
from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1
from spnego.exceptions import SpnegoError

ENCRYPTED_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
ENCRYPTED_CONTENT_TYPE = (
    f'multipart/encrypted;protocol="{ENCRYPTED_PROTOCOL}";boundary="Encrypted Boundary"'
)
_BOUNDARY = b"--Encrypted Boundary"
_NTLM_ENV_LOCK = threading.Lock()


class AuthFailed(Exception):
    """The client's credentials or token were refused (answer 401)."""


class EncryptionFailed(Exception):
    """A sealed body could not be opened (answer 400)."""


def split_user(name: str) -> tuple[str, str]:
    """``DOMAIN\\user`` -> (DOMAIN, user); a name without a backslash has an empty domain."""
    if "\\" in name:
        domain, user = name.split("\\", 1)
        return domain, user
    return "", name


def same_user(left: str, right: str) -> bool:
    """Windows compares account names without regard to case."""
    return split_user(left)[0].upper() == split_user(right)[0].upper() and (
        split_user(left)[1].upper() == split_user(right)[1].upper()
    )


class AccountStore:
    """The accounts of one lab host, plus the private NTLM hash file pyspnego reads."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = dict(users)
        self._dir: str | None = None
        self._file: str | None = None

    def open(self) -> None:
        """Write the 0600 hash file in a fresh 0700 directory."""
        self._dir = tempfile.mkdtemp(prefix="lab-ntlm-")
        self._file = os.path.join(self._dir, "users")
        fd = os.open(self._file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for name, password in self._users.items():
                # smbpasswd layout: NAME:UID:LM:NT:FLAGS:LCT (hashes, so colons in a password
                # cannot break the line and no plain password touches the disk).
                lm = base64.b16encode(lmowfv1(password)).decode()
                nt = base64.b16encode(ntowfv1(password)).decode()
                out.write(f"{name}:1000:{lm}:{nt}:[U]:LCT-0\n")

    def close(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = self._file = None

    def check_basic(self, header_value: str) -> str:
        """The user name of a valid ``Basic`` Authorization value; AuthFailed otherwise."""
        try:
            raw = base64.b64decode(header_value.split(" ", 1)[1].strip(), validate=True)
        except (IndexError, binascii.Error) as exc:
            raise AuthFailed("malformed Basic header") from exc
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError:
            decoded = raw.decode("latin-1")  # what requests sends for non-ASCII str credentials
        name, _, password = decoded.partition(":")
        for known, secret in self._users.items():
            if same_user(known, name) and hmac.compare_digest(
                secret.encode("utf-8"), password.encode("utf-8")
            ):
                return known
        raise AuthFailed(f"Basic credentials refused for {name}")

    def knows(self, name: str) -> bool:
        return any(same_user(known, name) for known in self._users)

    @contextmanager
    def ntlm_environment(self) -> Iterator[None]:
        """Point pyspnego at this host's hash file while one acceptor call runs."""
        if self._file is None:
            raise AuthFailed("credential store is closed")
        with _NTLM_ENV_LOCK:
            previous = os.environ.get("NTLM_USER_FILE")
            os.environ["NTLM_USER_FILE"] = self._file
            try:
                yield
            finally:
                if previous is None:
                    os.environ.pop("NTLM_USER_FILE", None)
                else:
                    os.environ["NTLM_USER_FILE"] = previous


def _decoded(token_b64: str, what: str) -> bytes:
    """The bytes of a base64 token from an Authorization header; AuthFailed when malformed."""
    try:
        return base64.b64decode(token_b64, validate=True)
    except binascii.Error as exc:
        raise AuthFailed(f"malformed {what} token") from exc


class _Sealing:
    """Message encryption over plain HTTP (MS-WSMV 2.2.9.1.1): the same MIME framing for NTLM
    and Kerberos, the context's WinRM wrap doing the cryptography."""

    context: Any
    user: str | None

    @property
    def authenticated(self) -> bool:
        return self.user is not None

    def unseal(self, body: bytes) -> bytes:
        """Open a ``multipart/encrypted`` request body."""
        if self.context is None or not self.authenticated:
            raise EncryptionFailed("sealed body on a connection that is not authenticated")
        parts = [part for part in body.split(_BOUNDARY + b"\r\n") if part]
        if len(parts) < 2:
            raise EncryptionFailed("sealed body without its two MIME parts")
        header, payload = parts[0], parts[1]
        try:
            expected = int(header.split(b"Length=")[1].split(b"\r\n")[0])
        except (IndexError, ValueError) as exc:
            raise EncryptionFailed("sealed body without a Length") from exc
        if payload.endswith(_BOUNDARY + b"--\r\n"):
            payload = payload[: -len(_BOUNDARY + b"--\r\n")]
        payload = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
        (sig_len,) = struct.unpack("<i", payload[:4])
        signature, sealed = payload[4 : 4 + sig_len], payload[4 + sig_len :]
        try:
            message: bytes = self.context.unwrap_winrm(signature, sealed)
        except SpnegoError as exc:
            raise EncryptionFailed("sealed body failed its integrity check") from exc
        if len(message) != expected:
            raise EncryptionFailed("sealed body length does not match")
        return message

    def seal(self, message: bytes) -> bytes:
        """Seal a response body the way pywinrm's Encryption class expects to open it."""
        if self.context is None:
            raise EncryptionFailed("no security context to seal with")
        wrapped = self.context.wrap_winrm(message)
        signature: bytes = wrapped.header
        sealed: bytes = wrapped.data
        return (
            _BOUNDARY + b"\r\n"
            b"\tContent-Type: " + ENCRYPTED_PROTOCOL.encode() + b"\r\n"
            b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
            + str(len(message)).encode() + b"\r\n"
            + _BOUNDARY + b"\r\n"
            b"\tContent-Type: application/octet-stream\r\n"
            + struct.pack("<i", len(signature)) + signature + sealed
            + _BOUNDARY + b"--\r\n"
        )


@dataclass
class NtlmConnection(_Sealing):
    """The NTLM state of one TCP connection: the acceptor context once it has started."""

    store: AccountStore
    context: Any = None
    user: str | None = None
    method = "ntlm"
    delegated = False  # an NTLM logon holds nothing it could present to a third machine

    def step(self, token_b64: str) -> str | None:
        """Feed one client token; return the challenge to send back (None when complete)."""
        token = _decoded(token_b64, "NTLM")
        try:
            with self.store.ntlm_environment():
                if self.context is None or token[8:12] == b"\x01\x00\x00\x00":
                    # A NEGOTIATE message (type 1) starts a fresh context.
                    self.context = spnego.server(protocol="ntlm")
                    self.user = None
                answer = self.context.step(token)
        except SpnegoError as exc:
            self.context = None
            raise AuthFailed("NTLM authentication refused") from exc
        if self.context.complete:
            principal = self.context.client_principal or ""
            if not self.store.knows(principal):
                self.context = None
                raise AuthFailed("NTLM user unknown on this host")
            self.user = principal
            return None
        return base64.b64encode(answer or b"").decode("ascii")



class KerberosKeys:
    """The service keys of the lab's hosts (``HTTP/<fqdn>``, one keytab: lab/kerberos.py) and
    its realm: what a host's WinRM service accepts Kerberos tickets with."""

    def __init__(self, keytab: str, realm: str) -> None:
        self.keytab = keytab
        self.realm = realm
        self._credential: Any = None
        self._lock = threading.Lock()

    def credential(self) -> Any:
        """The acceptor credential from the keytab (not the process's default keytab)."""
        with self._lock:
            if self._credential is None:
                import gssapi

                self._credential = gssapi.Credentials(usage="accept", store={b"keytab": self.keytab.encode()})
            return self._credential


def account_of(store: AccountStore, principal: str, realm: str | None) -> str | None:
    """The host's account for a Kerberos principal ``user@REALM`` (or an NTLM ``DOMAIN\\user``)."""
    if "@" not in principal:
        return next((known for known in store._users if same_user(known, principal)), None)
    user, _, got_realm = principal.partition("@")
    if realm is not None and got_realm.upper() != realm.upper():
        return None
    names = [known for known in store._users if split_user(known)[1].upper() == user.upper()]
    names.sort(key=lambda known: "\\" not in known)  # the DOMAIN\user spelling first
    return names[0] if names else None


@dataclass
class KerberosConnection(_Sealing):
    """Kerberos on one TCP connection: a single leg (AP-REQ in, AP-REP out for mutual
    authentication); ``delegated`` when the client forwarded its ticket-granting ticket."""

    store: AccountStore
    keys: KerberosKeys
    context: Any = None
    user: str | None = None
    method = "kerberos"
    delegated: bool = False

    def step(self, token_b64: str) -> str:
        """Accept one AP-REQ; return the AP-REP to send with the answer."""
        from spnego._gss import GSSAPIProxy  # the acceptor with the lab's keytab, not the default

        token = _decoded(token_b64, "Kerberos")
        self.user, self.delegated = None, False
        try:
            context = GSSAPIProxy(usage="accept", protocol="kerberos",
                                  _gssapi_credential=self.keys.credential())
            answer = context.step(token)
        except Exception as exc:  # gssapi's GSSError and pyspnego's errors: a refused ticket
            self.context = None
            raise AuthFailed(f"Kerberos ticket refused: {type(exc).__name__}") from exc
        if not context.complete:
            raise AuthFailed("Kerberos needs more than one leg")
        user = account_of(self.store, context.client_principal or "", self.keys.realm)
        if user is None:
            raise AuthFailed("Kerberos user unknown on this host")
        self.context, self.user = context, user
        self.delegated = bool(context.context_attr & spnego.ContextReq.delegate)
        return base64.b64encode(answer or b"").decode("ascii")


@dataclass
class CredSSPConnection:
    """CredSSP on one TCP connection (MS-CSSP over WinRM, HTTPS only here): TLS inside the
    Authorization headers, Negotiate (Kerberos or NTLM) inside that, then the user's password
    handed to the host (``delegated``: the host can present it to a third machine)."""

    store: AccountStore
    keys: KerberosKeys | None
    tls: Any = None
    context: Any = None
    user: str | None = None
    method = "credssp"
    delegated: bool = False

    def step(self, token_b64: str) -> str | None:
        token = _decoded(token_b64, "CredSSP")
        try:
            with contextlib.ExitStack() as scope:
                scope.enter_context(self.store.ntlm_environment())
                if self.keys is not None:
                    # the Negotiate acceptor inside reads the default keytab (same lock held)
                    previous = os.environ.get("KRB5_KTNAME")
                    os.environ["KRB5_KTNAME"] = f"FILE:{self.keys.keytab}"
                    scope.callback(_restore_env, "KRB5_KTNAME", previous)
                if self.context is None:
                    kwargs = {"credssp_tls_context": self.tls} if self.tls is not None else {}
                    self.context = spnego.server(protocol="credssp", **kwargs)
                    self.user, self.delegated = None, False
                answer = self.context.step(token)
        except SpnegoError as exc:
            self.context = None
            raise AuthFailed("CredSSP authentication refused") from exc
        if self.context.complete:
            principal = self.context.client_principal or ""
            user = account_of(self.store, principal, self.keys.realm if self.keys else None)
            if user is None:
                self.context = None
                raise AuthFailed("CredSSP user unknown on this host")
            self.user = user
            self.delegated = self.context.get_extra_info("client_credential") is not None
        return base64.b64encode(answer).decode("ascii") if answer else None


def _restore_env(name: str, previous: str | None) -> None:
    if previous is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = previous
