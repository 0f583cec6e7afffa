"""Secure peer-to-peer envelopes: confidentiality, integrity, addressing, trust, replay."""

from __future__ import annotations

import os

import pytest

from fljob.runtime.p2p import (
    CertificateBook,
    NotForMeError,
    P2PError,
    PeerIdentity,
    ReplayedMessageError,
    ReplayGuard,
    SecureChannel,
    TamperedMessageError,
    UnknownPeerError,
    UntrustedCertificateError,
    envelope,
    keys,
)
from fljob.runtime.p2p.certs import common_name
from tests.workflows.certs import ProjectCa, key_pem, pem

SECRET = b"model weights: the quick brown fox jumps over the lazy dog " * 4


def _channels(ca: ProjectCa, sender_kind: str, receiver_kind: str, job: str = "job-1"):
    alice = SecureChannel(ca.identity("site-1", sender_kind), job_id=job)
    bob = SecureChannel(ca.identity("site-2", receiver_kind), job_id=job)
    alice.book.add(bob.identity.certificate_pem)
    bob.book.add(alice.identity.certificate_pem)
    return alice, bob


@pytest.fixture(scope="module")
def ec_ca() -> ProjectCa:
    return ProjectCa.create("ec")


@pytest.fixture(scope="module")
def rsa_ca() -> ProjectCa:
    return ProjectCa.create("rsa")


@pytest.mark.parametrize(
    ("sender_kind", "receiver_kind"),
    [("ec", "ec"), ("rsa", "rsa"), ("ec", "rsa"), ("rsa", "ec")],
    ids=["ec-to-ec", "rsa-to-rsa", "ec-to-rsa", "rsa-to-ec"],
)
def test_round_trip_hides_the_plaintext(ec_ca, sender_kind, receiver_kind) -> None:
    alice, bob = _channels(ec_ca, sender_kind, receiver_kind)
    frames = alice.seal("site-2", "swarm.result", SECRET)
    wire = b"".join(frames)
    assert SECRET[:16] not in wire and b"quick brown fox" not in wire
    opened = bob.open(wire, topic="swarm.result")
    assert (opened.sender, opened.topic, bytes(opened.payload)) == (
        "site-1",
        "swarm.result",
        SECRET,
    )


@pytest.mark.parametrize(
    "payload",
    [b"", [b"head", memoryview(b"tail" * 10)], os.urandom(envelope.SEGMENT_SIZE + 5)],
    ids=["empty", "frames", "two-segments"],
)
def test_payload_shapes(ec_ca, payload) -> None:
    alice, bob = _channels(ec_ca, "ec", "ec")
    expected = payload if isinstance(payload, bytes) else b"".join(bytes(p) for p in payload)
    assert bytes(bob.open(b"".join(alice.seal("site-2", "t", payload))).payload) == expected


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_every_changed_byte_is_rejected(ec_ca, kind) -> None:
    alice, bob = _channels(ec_ca, kind, kind)
    wire = bytearray(b"".join(alice.seal("site-2", "t", b"short secret payload")))
    for position in range(len(wire)):
        tampered = bytearray(wire)
        tampered[position] ^= 0x01
        with pytest.raises(P2PError):
            bob.open(bytes(tampered))
    assert bytes(bob.open(bytes(wire)).payload) == b"short secret payload"


@pytest.mark.parametrize(
    ("cut", "error"),
    [
        (lambda w: w[:-1], TamperedMessageError),
        (lambda w: w + b"x", TamperedMessageError),
        (lambda w: w[:10], TamperedMessageError),
        (lambda w: b"GARBAGE" + w, TamperedMessageError),
    ],
    ids=["truncated", "trailing-byte", "header-only", "bad-magic"],
)
def test_malformed_envelopes(ec_ca, cut, error) -> None:
    alice, bob = _channels(ec_ca, "ec", "ec")
    with pytest.raises(error):
        bob.open(cut(b"".join(alice.seal("site-2", "t", SECRET))))


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_wrong_receiver_cannot_decrypt(ec_ca, kind) -> None:
    alice, _bob = _channels(ec_ca, kind, kind)
    eve = SecureChannel(ec_ca.identity("site-3", kind), job_id="job-1")
    wire = b"".join(alice.seal("site-2", "t", SECRET))
    with pytest.raises(NotForMeError, match="for 'site-2', not 'site-3'"):
        eve.open(wire)
    # Even bypassing the address check, site-3's private key cannot unwrap the key.
    sealed = envelope.parse(wire)
    with pytest.raises(NotForMeError, match="cannot unwrap"):
        keys.unwrap_key(sealed.wrapped_key, eve.identity.private_key, sealed.header_bytes)


def test_wrong_job_and_topic_are_refused(ec_ca) -> None:
    alice, bob = _channels(ec_ca, "ec", "ec")
    other_job = SecureChannel(bob.identity, job_id="job-2")
    wire = b"".join(alice.seal("site-2", "swarm.result", SECRET))
    with pytest.raises(NotForMeError, match="job 'job-1'"):
        other_job.open(wire)
    with pytest.raises(NotForMeError, match="topic"):
        bob.open(wire, topic="cyclic.model")


def test_sender_from_another_ca_is_refused(ec_ca, rsa_ca) -> None:
    _alice, bob = _channels(ec_ca, "ec", "ec")
    mallory = rsa_ca.identity("site-1")  # right name, wrong CA
    # The receiver's certificate is public: anyone can seal for it.
    forged = envelope.seal(
        mallory, bob.identity.certificate, job_id="job-1", topic="t", payload=SECRET
    )
    with pytest.raises(UntrustedCertificateError, match="not issued by the project CA"):
        bob.open(b"".join(forged))
    with pytest.raises(UntrustedCertificateError, match="not issued by the project CA"):
        bob.book.add(mallory.certificate_pem)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda ca: pem(ca.issue("site-9", valid_days=-0.5)[0]), "expired"),
        (lambda ca: pem(ca.cert), "is a CA"),
        (lambda ca: pem(ca.issue("site-2")[0]), "expected 'site-7'"),
        (
            lambda ca: b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n",
            "not a certificate",
        ),
    ],
    ids=["expired", "ca-as-peer", "name-mismatch", "garbage"],
)
def test_certificate_book_refuses(ec_ca, make, message) -> None:
    book = CertificateBook(ec_ca.cert)
    with pytest.raises(UntrustedCertificateError, match=message):
        book.add(make(ec_ca), name="site-7" if message.startswith("expected") else None)


def test_certificate_book_fetches_unknown_peers_and_verifies_them(ec_ca, rsa_ca) -> None:
    good = pem(ec_ca.issue("site-5")[0])
    forged = pem(rsa_ca.issue("site-6")[0])
    book = CertificateBook(ec_ca.cert, fetch={"site-5": good, "site-6": forged}.get)
    assert common_name(book.get("site-5")) == "site-5"
    with pytest.raises(UntrustedCertificateError):
        book.get("site-6")
    with pytest.raises(UnknownPeerError, match="site-8"):
        book.get("site-8")


def test_identity_with_a_foreign_key_is_refused(ec_ca) -> None:
    cert, _key = ec_ca.issue("site-1")
    _other_cert, other_key = ec_ca.issue("site-1")
    with pytest.raises(UntrustedCertificateError, match="does not match"):
        PeerIdentity.from_pem(pem(ec_ca.cert), pem(cert), key_pem(other_key))


def test_replayed_and_stale_messages_are_refused(ec_ca) -> None:
    alice, bob = _channels(ec_ca, "ec", "ec")
    wire = b"".join(alice.seal("site-2", "t", SECRET))
    bob.open(wire)
    with pytest.raises(ReplayedMessageError, match="already received"):
        bob.open(wire)
    stale = envelope.seal(
        alice.identity,
        alice.book.get("site-2"),
        job_id="job-1",
        topic="t",
        payload=SECRET,
        now=1000.0,
    )
    with pytest.raises(ReplayedMessageError, match="replay window"):
        bob.open(b"".join(stale))


def test_replay_guard_forgets_after_the_window() -> None:
    now = [1000.0]
    guard = ReplayGuard(window=10, clock=lambda: now[0])
    guard.check("a", 1000.0)
    now[0] = 1011.0
    guard.check("b", 1010.0)  # "a" is forgotten; a late copy of it is stale anyway
    with pytest.raises(ReplayedMessageError, match="replay window"):
        guard.check("a", 1000.0)


def test_a_message_that_waited_an_hour_in_the_relay_is_accepted_once() -> None:
    now = [5000.0]
    guard = ReplayGuard(clock=lambda: now[0])
    now[0] += 3600  # the receiver trained for an hour before reading its mailbox
    guard.check("m1", 5000.0)
    with pytest.raises(ReplayedMessageError, match="already received"):
        guard.check("m1", 5000.0)
