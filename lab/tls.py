"""The lab's certificate authority: a CA of its own and a server certificate per host FQDN, as an
enterprise CA issues them for WinRM HTTPS listeners and SQL Server (#15).

A host's certificate names its FQDN only (subjectAltName DNS), never the loopback address the
lab listens on: a client that connects to an address must still check the certificate against
the FQDN, as it must on a real estate reached through a jump route. Keys and certificates are
written under the lab's state folder (0600); the CA bundle (``ca.pem``) is what a plan's
``ca_bundle`` points at."""

from __future__ import annotations

import datetime as dt
import secrets
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from wizard.journal import write_private

CA_FILE = "ca.pem"
_VALID = dt.timedelta(days=825)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Fabrikam Lab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class LabCA:
    """A CA in ``folder`` (made on first use, kept: a revived lab keeps its certificates)."""

    def __init__(self, folder: Path, *, now: dt.datetime | None = None) -> None:
        self.folder = Path(folder)
        self._now = now or dt.datetime.now(dt.UTC)
        self._lock = threading.Lock()
        self.folder.mkdir(parents=True, exist_ok=True)
        ca_key, ca_cert = self.folder / "ca.key", self.folder / CA_FILE
        if ca_key.is_file() and ca_cert.is_file():
            loaded = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
            assert isinstance(loaded, ec.EllipticCurvePrivateKey)
            self._key = loaded
            self._cert = x509.load_pem_x509_certificate(ca_cert.read_bytes())
            return
        self._key = ec.generate_private_key(ec.SECP256R1())
        start = self._now - dt.timedelta(days=1)
        # a name of its own, as every enterprise CA has: OpenSSL finds an issuer by its subject, so
        # two labs' CAs trusted together (one process, several labs) must not share a name
        subject = _name(f"Fabrikam Lab Root CA {secrets.token_hex(4)}")
        self._cert = (x509.CertificateBuilder().subject_name(subject)
                      .issuer_name(subject).public_key(self._key.public_key())
                      .serial_number(x509.random_serial_number()).not_valid_before(start)
                      .not_valid_after(start + _VALID)
                      .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                      .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                                   key_encipherment=False, data_encipherment=False,
                                                   key_agreement=False, key_cert_sign=True, crl_sign=True,
                                                   encipher_only=False, decipher_only=False), critical=True)
                      .sign(self._key, hashes.SHA256()))
        write_private(ca_key, _pem_key(self._key))
        write_private(ca_cert, self._cert.public_bytes(serialization.Encoding.PEM))

    @property
    def bundle(self) -> Path:
        """The PEM file of the lab's CA: what a client trusts (a plan's ``ca_bundle``)."""
        return self.folder / CA_FILE

    def host_files(self, fqdn: str) -> tuple[Path, Path]:
        """The certificate chain and key of ``fqdn`` (issued once), as PEM files."""
        name = fqdn.lower()
        cert, key = self.folder / f"{name}.pem", self.folder / f"{name}.key"
        with self._lock:
            if cert.is_file() and key.is_file():
                return cert, key
            host_key = ec.generate_private_key(ec.SECP256R1())
            start = self._now - dt.timedelta(days=1)
            issued = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(self._cert.subject)
                      .public_key(host_key.public_key()).serial_number(x509.random_serial_number())
                      .not_valid_before(start).not_valid_after(start + _VALID)
                      .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                      .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                      .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                      .sign(self._key, hashes.SHA256()))
            write_private(key, _pem_key(host_key))
            write_private(cert, issued.public_bytes(serialization.Encoding.PEM)
                          + self._cert.public_bytes(serialization.Encoding.PEM))
        return cert, key

    def server_context(self, fqdn: str, *, sql_server: bool = False) -> ssl.SSLContext:
        """A TLS server context presenting ``fqdn``'s certificate (TLS 1.2 or newer). SQL Server
        2012's TDS 7.4 encryption (``sql_server``) goes up to TLS 1.2: TLS 1.3 arrived with TDS 8."""
        cert, key = self.host_files(fqdn)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if sql_server:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(cert, key)
        return ctx
