"""The sealed envelope: framing, encryption and signature of one peer-to-peer message.

Layout (all integers big-endian)::

    b"FLP2P\\x01"
    u32 len | header      canonical JSON: v, alg, sender, receiver, job_id, topic,
                          msg_id, ts, size, segments
    u32 len | sender certificate (DER)
    u16 len | wrapped content key
    segments x (u32 len | AES-256-GCM ciphertext + tag)
    u16 len | signature   over SHA-256 of every byte before it

Each message gets a fresh random AES-256 key, so the GCM nonce can be the segment counter.
Segment ``i`` is authenticated with ``header || i || last-flag`` as associated data: the
header (sender, receiver, job, topic, message id) is bound to every byte, and reordering,
dropping or truncating segments fails. Large payloads are encrypted segment by segment
(8 MiB), so a model of any size never needs one contiguous plaintext copy to be sealed.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fljob.runtime.p2p import keys
from fljob.runtime.p2p.certs import (
    PeerIdentity,
    common_name,
    load_certificate,
    verify_certificate,
)
from fljob.runtime.p2p.errors import NotForMeError, P2PError, TamperedMessageError

MAGIC = b"FLP2P\x01"
SEGMENT_SIZE = 8 << 20
_MAX_HEADER = 64 << 10
_MAX_CERT = 16 << 10
_TAG = 16

Buffer = bytes | bytearray | memoryview


@dataclass(frozen=True)
class Header:
    """What the envelope says about itself; authenticated, not secret."""

    alg: str
    sender: str
    receiver: str
    job_id: str
    topic: str
    msg_id: str
    ts: float
    size: int
    segments: int

    def encode(self) -> bytes:
        data = {"v": 1, **self.__dict__}
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Header:
        try:
            data = json.loads(raw)
            if data.pop("v") != 1:
                raise ValueError("unknown envelope version")
            header = cls(**data)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise TamperedMessageError(f"malformed envelope header: {exc}") from None
        if not isinstance(header.segments, int) or not isinstance(header.size, int):
            raise TamperedMessageError("malformed envelope header: bad sizes")
        return header


@dataclass(frozen=True)
class Envelope:
    """A parsed (not yet verified) envelope; payload segments are views into the input."""

    header: Header
    header_bytes: bytes
    sender_cert: bytes
    wrapped_key: bytes
    segments: list[memoryview]
    signature: bytes
    signed_digest: bytes


def _pieces(payload: Buffer | Sequence[Buffer]) -> list[memoryview]:
    """Split the payload (one buffer or a list of frames) into segments of at most 8 MiB."""
    buffers = [payload] if isinstance(payload, bytes | bytearray | memoryview) else payload
    out: list[memoryview] = []
    for buf in buffers:
        view = memoryview(buf).cast("B")
        out.extend(view[i : i + SEGMENT_SIZE] for i in range(0, len(view), SEGMENT_SIZE))
    return out or [memoryview(b"")]


def _aad(header_bytes: bytes, index: int, last: bool) -> bytes:
    return header_bytes + struct.pack(">QB", index, int(last))


def _nonce(index: int) -> bytes:
    return struct.pack(">IQ", 0, index)


def seal(
    identity: PeerIdentity,
    receiver_cert: x509.Certificate,
    *,
    job_id: str,
    topic: str,
    payload: Buffer | Sequence[Buffer],
    msg_id: str | None = None,
    now: float | None = None,
) -> list[bytes]:
    """Encrypt and sign ``payload`` for the owner of ``receiver_cert`` (a verified
    ``x509.Certificate``). Returns the envelope as frames, to send without joining."""
    receiver_key = receiver_cert.public_key()
    pieces = _pieces(payload)
    header = Header(
        alg=keys.key_algorithm(receiver_key),
        sender=identity.name,
        receiver=common_name(receiver_cert),
        job_id=job_id,
        topic=topic,
        msg_id=msg_id or os.urandom(16).hex(),
        ts=time.time() if now is None else now,
        size=sum(len(p) for p in pieces),
        segments=len(pieces),
    )
    header_bytes = header.encode()
    content_key = AESGCM.generate_key(bit_length=256)
    wrapped = keys.wrap_key(content_key, receiver_key, header_bytes)
    cert = identity.certificate_der
    frames = [
        MAGIC
        + struct.pack(">I", len(header_bytes))
        + header_bytes
        + struct.pack(">I", len(cert))
        + cert
        + struct.pack(">H", len(wrapped))
        + wrapped
    ]
    aes = AESGCM(content_key)
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        ciphertext = aes.encrypt(_nonce(index), piece, _aad(header_bytes, index, last))
        frames.append(struct.pack(">I", len(ciphertext)))
        frames.append(ciphertext)
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(frame)
    signature = keys.sign_digest(digest.digest(), identity.private_key)
    frames.append(struct.pack(">H", len(signature)) + signature)
    return frames


class _Reader:
    def __init__(self, data: Buffer) -> None:
        self.view = memoryview(data).cast("B")
        self.pos = 0

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.view):
            raise TamperedMessageError(f"malformed envelope: truncated {what}")
        chunk = self.view[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def length(self, fmt: str, what: str, limit: int) -> int:
        (n,) = struct.unpack(fmt, self.take(struct.calcsize(fmt), what))
        if n > limit:
            raise TamperedMessageError(f"malformed envelope: {what} too large ({n} bytes)")
        return n


def parse(data: Buffer) -> Envelope:
    """Split an envelope into its parts; checks framing only, not authenticity."""
    reader = _Reader(data)
    if bytes(reader.take(len(MAGIC), "magic")) != MAGIC:
        raise TamperedMessageError("not a fljob peer-to-peer envelope (bad magic)")
    header_bytes = bytes(reader.take(reader.length(">I", "header", _MAX_HEADER), "header"))
    header = Header.decode(header_bytes)
    cert = bytes(reader.take(reader.length(">I", "certificate", _MAX_CERT), "certificate"))
    wrapped = bytes(reader.take(reader.length(">H", "wrapped key", 4096), "wrapped key"))
    if not 1 <= header.segments <= len(reader.view) // 4 + 1:
        raise TamperedMessageError("malformed envelope: bad segment count")
    segments = []
    for _ in range(header.segments):
        size = reader.length(">I", "segment", SEGMENT_SIZE + _TAG)
        segments.append(reader.take(size, "segment"))
    signed_digest = hashlib.sha256(reader.view[: reader.pos]).digest()
    signature = bytes(reader.take(reader.length(">H", "signature", 4096), "signature"))
    if reader.pos != len(reader.view):
        raise TamperedMessageError("malformed envelope: trailing bytes")
    return Envelope(header, header_bytes, cert, wrapped, segments, signature, signed_digest)


def verify_sender(envelope: Envelope, ca: x509.Certificate) -> None:
    """The sender's certificate chains to ``ca``, names the header's sender, and signed."""
    cert = load_certificate(envelope.sender_cert)
    verify_certificate(cert, ca, expected_name=envelope.header.sender)
    keys.verify_digest(envelope.signature, envelope.signed_digest, cert.public_key())


def decrypt(envelope: Envelope, identity: PeerIdentity) -> bytearray:
    """Unwrap the content key with this participant's key and decrypt every segment."""
    header = envelope.header
    if header.receiver != identity.name:
        raise NotForMeError(f"message is for {header.receiver!r}, not {identity.name!r}")
    content_key = keys.unwrap_key(envelope.wrapped_key, identity.private_key, envelope.header_bytes)
    aes = AESGCM(content_key)
    out = bytearray()
    for index, segment in _enumerate_last(envelope.segments):
        position, last = index
        try:
            out += aes.decrypt(
                _nonce(position), segment, _aad(envelope.header_bytes, position, last)
            )
        except InvalidTag:
            raise TamperedMessageError(
                f"segment {position} of message {header.msg_id} fails authentication"
            ) from None
    if len(out) != header.size:
        raise TamperedMessageError("decrypted size differs from the header")
    return out


def _enumerate_last(items: list[memoryview]) -> Iterator[tuple[tuple[int, bool], memoryview]]:
    for index, item in enumerate(items):
        yield (index, index == len(items) - 1), item


__all__ = [
    "MAGIC",
    "SEGMENT_SIZE",
    "Envelope",
    "Header",
    "P2PError",
    "decrypt",
    "parse",
    "seal",
    "verify_sender",
]
