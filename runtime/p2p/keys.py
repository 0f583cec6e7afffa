"""Public-key operations of the envelope: wrap a content key for a receiver, sign, verify.

- RSA receivers: the 32-byte content key is encrypted with RSA-OAEP (SHA-256).
- EC receivers (ECIES style): a fresh ephemeral key on the receiver's curve, ECDH with the
  receiver's public key, HKDF-SHA256 to a key-encryption key (bound to the ephemeral point
  and the envelope header), then AES key wrap (RFC 3394) of the content key. The wrapped
  blob is ``ephemeral point (X9.62 uncompressed) || wrapped key``.
- Signatures: ECDSA-SHA256 for EC keys, RSA-PSS-SHA256 for RSA keys, over a SHA-256 digest
  of everything before the signature (so a large ciphertext is hashed once, streaming).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from fljob.runtime.p2p.certs import PrivateKey
from fljob.runtime.p2p.errors import NotForMeError, P2PError, TamperedMessageError

_HKDF_INFO = b"fljob-p2p/1 key-encryption-key"
_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
_PREHASHED = utils.Prehashed(hashes.SHA256())


def key_algorithm(public_key: CertificatePublicKeyTypes) -> str:
    """The envelope's ``alg`` label for a receiver key."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RSA-OAEP-256+A256GCM"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"ECDH-ES-{public_key.curve.name}+HKDF-SHA256+A256KW+A256GCM"
    raise P2PError(f"unsupported receiver key type {type(public_key).__name__}")


def _kek(shared: bytes, ephemeral_point: bytes, context: bytes) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=ephemeral_point,
        info=_HKDF_INFO + b"\x00" + context,
    )
    return hkdf.derive(shared)


def wrap_key(content_key: bytes, receiver: CertificatePublicKeyTypes, context: bytes) -> bytes:
    """Encrypt ``content_key`` so that only the holder of ``receiver``'s private key reads it.

    ``context`` (the envelope header) is bound into the EC key derivation; for RSA the
    header is bound by the content cipher's associated data and the signature instead.
    """
    if isinstance(receiver, rsa.RSAPublicKey):
        return receiver.encrypt(content_key, _OAEP)
    if isinstance(receiver, ec.EllipticCurvePublicKey):
        ephemeral = ec.generate_private_key(receiver.curve)
        point = ephemeral.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        shared = ephemeral.exchange(ec.ECDH(), receiver)
        return point + aes_key_wrap(_kek(shared, point, context), content_key)
    raise P2PError(f"unsupported receiver key type {type(receiver).__name__}")


def unwrap_key(wrapped: bytes, own_key: PrivateKey, context: bytes) -> bytes:
    """Recover the content key; raises :class:`NotForMeError` if this key cannot."""
    try:
        if isinstance(own_key, rsa.RSAPrivateKey):
            return own_key.decrypt(wrapped, _OAEP)
        point_len = 1 + 2 * ((own_key.curve.key_size + 7) // 8)
        point, blob = wrapped[:point_len], wrapped[point_len:]
        peer = ec.EllipticCurvePublicKey.from_encoded_point(own_key.curve, point)
        shared = own_key.exchange(ec.ECDH(), peer)
        return aes_key_unwrap(_kek(shared, point, context), blob)
    except (ValueError, InvalidUnwrap, InvalidTag):
        raise NotForMeError(
            "this participant's key cannot unwrap the message key "
            "(addressed to someone else, or tampered)"
        ) from None


def sign_digest(digest: bytes, key: PrivateKey) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(digest, _PSS, _PREHASHED)
    return key.sign(digest, ec.ECDSA(_PREHASHED))


def verify_digest(signature: bytes, digest: bytes, key: CertificatePublicKeyTypes) -> None:
    """Raises :class:`TamperedMessageError` when the signature does not verify."""
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, digest, _PSS, _PREHASHED)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(_PREHASHED))
        else:
            raise TamperedMessageError("sender key type is not supported")
    except InvalidSignature:
        raise TamperedMessageError("the sender's signature does not verify") from None
