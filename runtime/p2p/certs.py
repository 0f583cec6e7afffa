"""Identities and trusted peer certificates for peer-to-peer messages.

A site learns a peer's certificate from the server relay, which it does not trust: every
certificate is checked here against the project CA (issuer and signature, validity period,
not a CA itself) and its common name must be the name it is used for. A relaying server
therefore cannot slip in a key of its own choosing without the CA's private key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from fljob.runtime.p2p.errors import UnknownPeerError, UntrustedCertificateError

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


class _PemIdentity(Protocol):
    """What a transport ``TlsIdentity`` offers: three PEM file paths."""

    ca_cert: Path
    cert: Path
    key: Path


def common_name(cert: x509.Certificate) -> str:
    """The certificate's subject CN (the participant name), or ``""`` when it has none."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def load_certificate(data: bytes) -> x509.Certificate:
    """A certificate from PEM or DER bytes; a malformed one is untrusted."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except (ValueError, x509.InvalidVersion) as exc:
        raise UntrustedCertificateError(f"not a certificate: {exc}") from None


def verify_certificate(
    cert: x509.Certificate,
    ca: x509.Certificate,
    *,
    expected_name: str | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Check that ``cert`` was issued by ``ca`` and is usable now; returns its CN.

    Raises :class:`UntrustedCertificateError` naming what failed.
    """
    try:
        return _verify(cert, ca, expected_name, now or dt.datetime.now(dt.UTC))
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        # Certificates parse lazily: a damaged field surfaces only when it is read.
        raise UntrustedCertificateError(f"malformed certificate: {exc}") from None


def _verify(
    cert: x509.Certificate, ca: x509.Certificate, expected_name: str | None, moment: dt.datetime
) -> str:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        raise UntrustedCertificateError(
            f"certificate of {common_name(cert)!r} is not issued by the project CA",
            hint="every participant's certificate must come from the same provisioning run",
        ) from None
    name = common_name(cert)
    if not cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
        raise UntrustedCertificateError(f"certificate of {name!r} is expired or not yet valid")
    if _is_ca(cert):
        raise UntrustedCertificateError(f"certificate of {name!r} is a CA, not a participant")
    if expected_name is not None and name != expected_name:
        raise UntrustedCertificateError(f"certificate is for {name!r}, expected {expected_name!r}")
    if not isinstance(cert.public_key(), ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise UntrustedCertificateError(f"certificate of {name!r} has an unsupported key type")
    return name


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


@dataclass(frozen=True)
class PeerIdentity:
    """This participant's own certificate, private key and the project CA."""

    name: str
    certificate: x509.Certificate
    private_key: PrivateKey
    ca: x509.Certificate

    @classmethod
    def from_pem(cls, ca_pem: bytes, cert_pem: bytes, key_pem: bytes) -> PeerIdentity:
        ca = load_certificate(ca_pem)
        cert = load_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise UntrustedCertificateError("private key must be EC or RSA")
        # Public keys compare by value; a certificate key of another type (Ed25519 ...),
        # which has no public_numbers(), is simply not equal.
        if key.public_key() != cert.public_key():
            raise UntrustedCertificateError("private key does not match the certificate")
        name = verify_certificate(cert, ca)
        return cls(name, cert, key, ca)

    @classmethod
    def from_files(cls, ca_cert: Path, cert: Path, key: Path) -> PeerIdentity:
        return cls.from_pem(
            Path(ca_cert).read_bytes(), Path(cert).read_bytes(), Path(key).read_bytes()
        )

    @classmethod
    def from_tls_identity(cls, identity: _PemIdentity) -> PeerIdentity:
        """Build from the transport's ``TlsIdentity`` (the same PEM files as mutual TLS)."""
        return cls.from_files(identity.ca_cert, identity.cert, identity.key)

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


class CertificateBook:
    """Peer certificates by participant name, each verified against the project CA.

    ``fetch(name) -> bytes`` (PEM or DER), when given, is asked for a name not yet known,
    e.g. a relay query to the server; what it returns is verified like any other.
    """

    def __init__(
        self, ca: x509.Certificate, fetch: Callable[[str], bytes | None] | None = None
    ) -> None:
        self._ca = ca
        self._fetch = fetch
        self._certs: dict[str, x509.Certificate] = {}

    def add(self, data: bytes | x509.Certificate, *, name: str | None = None) -> str:
        """Verify and store a certificate; returns its participant name."""
        cert = data if isinstance(data, x509.Certificate) else load_certificate(data)
        cn = verify_certificate(cert, self._ca, expected_name=name)
        self._certs[cn] = cert
        return cn

    def get(self, name: str) -> x509.Certificate:
        """The verified certificate of ``name``; raises :class:`UnknownPeerError`."""
        cert = self._certs.get(name)
        if cert is None and self._fetch is not None:
            data = self._fetch(name)
            if data:
                self.add(data, name=name)
                cert = self._certs[name]
        if cert is None:
            raise UnknownPeerError(f"no certificate known for peer {name!r}")
        return cert

    def __contains__(self, name: object) -> bool:
        return name in self._certs
