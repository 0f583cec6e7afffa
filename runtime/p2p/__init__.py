"""Secure peer-to-peer messages between sites, relayed by a server that cannot read them.

Every message gets a fresh AES-256-GCM key, wrapped with the receiver's certificate public
key (RSA-OAEP, or ECDH + HKDF for EC keys), and is signed by the sender (ECDSA or RSA-PSS)
over header and ciphertext. The header binds sender, receiver, job, topic and a message id
(replay window). See :mod:`.envelope` for the byte layout.
"""

from fljob.runtime.p2p.certs import CertificateBook, PeerIdentity, verify_certificate
from fljob.runtime.p2p.channel import OpenedMessage, ReplayGuard, SecureChannel
from fljob.runtime.p2p.errors import (
    NotForMeError,
    P2PError,
    ReplayedMessageError,
    TamperedMessageError,
    UnknownPeerError,
    UntrustedCertificateError,
)

__all__ = [
    "CertificateBook",
    "NotForMeError",
    "OpenedMessage",
    "P2PError",
    "PeerIdentity",
    "ReplayGuard",
    "ReplayedMessageError",
    "SecureChannel",
    "TamperedMessageError",
    "UnknownPeerError",
    "UntrustedCertificateError",
    "verify_certificate",
]
