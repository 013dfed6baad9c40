"""Kerberos and CredSSP for the WinRM runner, with the service principal taken from the FQDN.

pywinrm's own Kerberos needs pykerberos, takes its service principal from the URL's host (the
*address* a plan connects to, ``127.0.0.1`` in the lab or a jump route) and cannot use a
password. :class:`KerberosAuth` uses pyspnego (GSSAPI underneath, MIT Kerberos on Linux):

* the service principal is ``HTTP/<fqdn>`` of the host the plan names, never its address;
* the account's password when the plan's credential gives one (an initial ticket is obtained
  in memory, nothing is written to the user's ticket cache), else the caller's ticket cache
  (``kinit`` first; ``KRB5CCNAME``);
* ``delegate``: the ticket is forwarded *by policy*, only when the KDC flags the service
  OK-AS-DELEGATE (the host's computer account is trusted for delegation), as a Windows client
  does; the host can then reach other hosts' shares (the second hop);
* mutual authentication (the server's last token is checked) and WinRM message encryption
  (``wrap_winrm``/``unwrap_winrm``, for pywinrm's :class:`winrm.encryption.Encryption`).

:class:`CredSSPAuth` is requests-credssp's handler with the inner Kerberos/NTLM exchange named
after the FQDN too. Every failure is a :class:`KerberosError` whose message is one sentence
naming the realm, the account or the principal and what to install or check.
"""

from __future__ import annotations

import base64
import os
import re
import threading
from typing import Any
from urllib.parse import urlparse

import requests
from requests.auth import AuthBase

from wizard.remote.errors import BadCredentialsError, WinRMFailure

_NEGOTIATE = re.compile(r"(?:Negotiate|Kerberos)\s+([A-Za-z0-9+/=]+)", re.I)
_ENV_LOCK = threading.Lock()
#: what the Kerberos support needs, for the sentence when it is missing
INSTALL_HINT = ("install lync-restore's kerberos extra (pip install 'lync-restore[kerberos]', "
                "which needs MIT Kerberos' libkrb5-dev to build; bash bootstrap.sh setup does both)")


class KerberosError(WinRMFailure):
    title = "Kerberos failure"


def kerberos_principal(username: str, realm: str | None) -> str:
    """The Kerberos principal of a plan account: ``DOMAIN\\user`` -> ``user@REALM`` (the realm of
    the AD domain, not the NetBIOS name); ``user@domain`` keeps its domain, in capitals."""
    if "@" in username:
        user, _, domain = username.partition("@")
        return f"{user}@{domain.upper()}"
    user = username.rsplit("\\", 1)[-1]
    return f"{user}@{realm}" if realm else user


def kerberos_missing() -> str | None:
    """None when GSSAPI Kerberos can be used here, else what is missing (one clause)."""
    try:
        import gssapi  # noqa: F401
        import krb5  # noqa: F401
    except ImportError as exc:
        return f"the Python module {exc.name or 'gssapi'} is not installed"
    except OSError as exc:  # the module is there but MIT Kerberos' library is not
        return f"MIT Kerberos' library could not be loaded ({type(exc).__name__})"
    return None


def require_kerberos(where: str) -> None:
    """Raise the one sentence that says what to install when Kerberos cannot work here."""
    missing = kerberos_missing()
    if missing is not None:
        raise KerberosError(f"{where} is set to Kerberos, but {missing}: {INSTALL_HINT}, or set "
                            "the plan's winrm auth to ntlm.", where=where)


def kerberos_sentence(exc: BaseException, *, where: str, principal: str, spn: str,
                      realm: str | None, krb5_config: str | None) -> KerberosError:
    """One sentence for a failed Kerberos step (what MIT Kerberos and GSSAPI say, mapped)."""
    said = " ".join(str(part) for part in _chain(exc))
    low = said.lower()
    conf = krb5_config or os.environ.get("KRB5_CONFIG") or "/etc/krb5.conf"
    in_realm = f" for realm {realm}" if realm else ""
    if "cannot contact any kdc" in low or "cannot find kdc" in low or "unable to reach any kdc" in low:
        text = (f"Kerberos could not reach a KDC{in_realm} (to authenticate to {where}): check the "
                f"realm's kdc in {conf} and that the domain controller answers on port 88.")
    elif "cannot resolve network address for kdc" in low or "no kdc" in low:
        text = f"Kerberos finds no KDC{in_realm} in {conf}: add the realm's kdc there."
    elif any(s in low for s in ("preauthentication failed", "decrypt integrity check failed",
                                "password incorrect", "pre-authentication information was invalid")):
        text = f"The KDC{in_realm} refused the password of {principal}: check the credential."
    elif "client" in low and "not found in kerberos database" in low:
        text = f"The KDC{in_realm} has no account {principal}: check the plan's user name."
    elif "server" in low and "not found in kerberos database" in low:
        text = (f"The KDC{in_realm} has no service principal {spn}: register it (setspn -S {spn} "
                f"on the host's account) or check the host's FQDN.")
    elif "clock skew" in low:
        text = (f"This machine's clock is too far from the KDC's{in_realm}: synchronise it (NTP) "
                "and try again.")
    elif any(s in low for s in ("no credentials cache", "no kerberos credentials",
                                "credentials cache file", "no credentials were supplied",
                                "can't find client principal")):
        text = (f"There is no Kerberos ticket for {principal} on this machine: run kinit "
                f"{principal} first, or give the plan's credential a password source.")
    elif "expired" in low:
        text = (f"The Kerberos ticket for {principal} has expired: run kinit {principal} again, "
                "or give the plan's credential a password source.")
    elif "realm" in low and ("unknown" in low or "not local" in low or "configuration file does not specify" in low):
        text = f"Kerberos does not know the realm {realm or '?'}: add it to {conf}."
    else:
        text = (f"Kerberos authentication of {principal} to {spn} failed "
                f"({_summary(said)}): check the realm in {conf} and the account.")
    return KerberosError(text, where=where)


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    item: BaseException | None = exc
    while item is not None and item not in out:
        out.append(item)
        item = item.__cause__ or item.__context__
    return out


def _summary(text: str) -> str:
    first = " ".join(text.split())[:120]
    return first.rstrip(". ") or "no detail"


class KerberosAuth(AuthBase):
    """Negotiate (Kerberos) for one host's WinRM connection; see the module's notes."""

    def __init__(self, fqdn: str, principal: str, password: str | None, *, where: str,
                 delegate: bool = False, realm: str | None = None,
                 krb5_config: str | None = None) -> None:
        self.fqdn = fqdn.lower()
        self.principal = principal
        self._password = password or None
        self.where = where
        self.delegate = delegate
        self.realm = realm
        self.krb5_config = krb5_config
        self.spn = f"HTTP/{self.fqdn}"
        self._context: Any = None
        self.winrm_encryption_available = True

    # ------------------------------------------------------------------ the exchange
    def _failure(self, exc: BaseException) -> KerberosError:
        return kerberos_sentence(exc, where=self.where, principal=self.principal, spn=self.spn,
                                 realm=self.realm, krb5_config=self.krb5_config)

    def _first_token(self) -> bytes:
        require_kerberos(self.where)
        import spnego
        from spnego.exceptions import SpnegoError

        flags = spnego.ContextReq.default
        if self.delegate:
            flags |= spnego.ContextReq.delegate_policy  # forwarded only to OK-AS-DELEGATE hosts
        try:
            with _krb5_config(self.krb5_config):
                self._context = spnego.client(
                    self.principal if self._password else None, self._password,
                    hostname=self.fqdn, service="HTTP", protocol="kerberos", context_req=flags)
                token: bytes | None = self._context.step()
        except (SpnegoError, OSError, ValueError, RuntimeError) as exc:
            raise self._failure(exc) from None
        except Exception as exc:  # krb5.Krb5Error and gssapi's GSSError derive from Exception only
            if type(exc).__module__.split(".")[0] in ("krb5", "gssapi"):
                raise self._failure(exc) from None
            raise
        return token or b""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._context is None or not self._context.complete:
            request.headers["Authorization"] = "Kerberos " + base64.b64encode(self._first_token()).decode()
        request.register_hook("response", self._answered)  # type: ignore[no-untyped-call]
        return request

    def _answered(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        """Check the server's mutual-authentication token (AP-REP) or report a refusal. A 401 to
        a request sent without a token is a new TCP connection (the old one dropped): the
        connection is authenticated again, once, as HTTP.sys expects."""
        offered = response.headers.get("WWW-Authenticate", "")
        match = _NEGOTIATE.search(offered)
        if response.status_code == 401 and "Authorization" not in response.request.headers:
            response.content  # noqa: B018  (read it so the connection can be reused)
            response.raw.release_conn()
            retry = response.request.copy()
            retry.headers["Authorization"] = "Kerberos " + base64.b64encode(self._first_token()).decode()
            again: requests.Response = response.connection.send(retry, **kwargs)
            again.history.append(response)
            return self._answered(again, **kwargs)
        if response.status_code == 401:
            raise BadCredentialsError(
                f"{self.where} refused the Kerberos ticket of {self.principal} for {self.spn}: "
                "check that the account may use WinRM there and that the host's keytab is current.",
                where=self.where)
        if match and self._context is not None and not self._context.complete:
            try:
                with _krb5_config(self.krb5_config):
                    self._context.step(base64.b64decode(match.group(1)))
            except Exception as exc:
                raise self._failure(exc) from None
        if self._context is not None and not self._context.complete:
            raise KerberosError(f"{self.where} did not prove it is {self.spn} (no mutual "
                                "authentication token): the answer did not come from the host's "
                                "WinRM service.", where=self.where)
        return response

    @property
    def delegated(self) -> bool:
        """Was the ticket forwarded (the KDC flagged the host OK-AS-DELEGATE)?"""
        import spnego

        return bool(self._context is not None and self._context.complete
                    and self._context.context_attr & spnego.ContextReq.delegate)

    # ------------------------------------------------------------------ pywinrm's Encryption
    def wrap_winrm(self, host: str, message: bytes) -> tuple[bytes, bytes]:
        wrapped = self._context.wrap_winrm(message)
        return wrapped.data, wrapped.header

    def unwrap_winrm(self, host: str, message: bytes, header: bytes) -> bytes:
        data: bytes = self._context.unwrap_winrm(header, message)
        return data


class _Krb5ConfigScope:
    """``KRB5_CONFIG`` set while a Kerberos context is made (MIT reads it per context)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.previous: str | None = None

    def __enter__(self) -> None:
        if self.path is None:
            return
        _ENV_LOCK.acquire()
        self.previous = os.environ.get("KRB5_CONFIG")
        os.environ["KRB5_CONFIG"] = self.path

    def __exit__(self, *exc: object) -> None:
        if self.path is None:
            return
        try:
            if self.previous is None:
                os.environ.pop("KRB5_CONFIG", None)
            else:
                os.environ["KRB5_CONFIG"] = self.previous
        finally:
            _ENV_LOCK.release()


def _krb5_config(path: str | None) -> _Krb5ConfigScope:
    return _Krb5ConfigScope(path)


def credssp_auth(fqdn: str, username: str, password: str, *, where: str,
                 mechanism: str, realm: str | None, krb5_config: str | None) -> AuthBase:
    """requests-credssp's handler, its inner exchange named after ``fqdn`` (not the address).
    ``mechanism``: ``kerberos`` (the account as ``user@REALM``) or ``ntlm``."""
    try:
        from requests_credssp import HttpCredSSPAuth  # type: ignore[import-untyped]
        from requests_credssp.credssp import CredSSPContext  # type: ignore[import-untyped]
    except ImportError:
        raise KerberosError(f"{where} is set to CredSSP, but requests-credssp is not installed: "
                            "install lync-restore's credssp extra (bash bootstrap.sh setup does), "
                            "or choose another auth.", where=where) from None
    if mechanism == "kerberos":
        require_kerberos(where)
        username = kerberos_principal(username, realm)

    class _FqdnCredSSP(HttpCredSSPAuth):  # type: ignore[misc]
        def handle_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
            with _krb5_config(krb5_config):  # the inner Kerberos reads it at every step
                return self._exchange(response, **kwargs)

        def _exchange(self, response: requests.Response, **kwargs: Any) -> requests.Response:
            host = urlparse(response.url).hostname or fqdn
            context = CredSSPContext(fqdn, self.username, self.password, self.auth_mechanism,
                                     self.disable_tlsv1_2, self.minimum_version)
            self.contexts[host] = context
            generator = context.credssp_generator()
            pattern = re.compile(r"CredSSP ([^,\s]*)$", re.I)
            out_token, step_name = next(generator)
            while True:
                try:
                    response.content  # noqa: B018  (read it so the connection can be reused)
                    response.raw.release_conn()
                    request = response.request.copy()
                    self._set_credssp_token(request, out_token)
                    response = response.connection.send(request, **kwargs)
                    if response.status_code == 200:
                        break
                    in_token = self._get_credssp_token(response, pattern, step_name)
                    out_token, step_name = generator.send(in_token)
                except StopIteration:
                    break
            return response

    return _FqdnCredSSP(username, password, auth_mechanism=mechanism, minimum_version=2)
