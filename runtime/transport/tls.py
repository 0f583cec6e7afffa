"""Mutual TLS: the identity a process presents, and who the peer of a call is."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fljob.runtime.transport.errors import TransportError

LOCAL_PEER = "local"  #: peer name and role on a ``unix:`` channel (no certificate)


@dataclass(frozen=True, slots=True)
class TlsIdentity:
    """PEM files: the project CA certificate, this participant's certificate and key."""

    ca_cert: Path
    cert: Path
    key: Path

    def read(self) -> tuple[bytes, bytes, bytes]:
        """``(ca, cert, key)`` PEM bytes; TransportError naming a missing file."""
        out = []
        for label, path in (
            ("CA certificate", self.ca_cert),
            ("certificate", self.cert),
            ("private key", self.key),
        ):
            try:
                out.append(Path(path).read_bytes())
            except OSError as exc:
                raise TransportError(
                    f"cannot read the {label} {path}: {exc.strerror}",
                    path=str(path),
                    hint="provision certificates with `fljob provision` (fljob.runtime.pki)",
                ) from None
        return out[0], out[1], out[2]


def is_unix(address: str) -> bool:
    return address.startswith(("unix:", "unix-abstract:"))


def server_credentials(identity: TlsIdentity) -> Any:
    import grpc

    ca, cert, key = identity.read()
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=True
    )


def channel_credentials(identity: TlsIdentity) -> Any:
    import grpc

    ca, cert, key = identity.read()
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )


def peer_of(context: Any) -> tuple[str, str]:
    """``(common name, role)`` of the authenticated caller of a gRPC call."""
    auth = context.auth_context()
    pem = auth.get("x509_pem_cert")
    if not pem:
        return LOCAL_PEER, LOCAL_PEER
    return _names_in_cert(pem[0])


@functools.lru_cache(maxsize=256)
def _names_in_cert(pem: bytes) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    subject = x509.load_pem_x509_certificate(pem).subject

    def first(oid: Any) -> str:
        values = subject.get_attributes_for_oid(oid)
        return str(values[0].value) if values else ""

    return first(NameOID.COMMON_NAME), first(NameOID.ORGANIZATIONAL_UNIT_NAME)
