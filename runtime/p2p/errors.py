"""Why a peer-to-peer message was refused. Each is a :class:`RuntimeProtocolError`."""

from __future__ import annotations

from fljob.errors import RuntimeProtocolError


class P2PError(RuntimeProtocolError):
    """A secure peer-to-peer message cannot be sealed or opened."""

    code = "FLJ780"


class UntrustedCertificateError(P2PError):
    """A certificate does not chain to the project CA, is expired, or names someone else."""

    code = "FLJ781"


class TamperedMessageError(P2PError):
    """A message is malformed, or its signature or authentication tag does not verify."""

    code = "FLJ782"


class ReplayedMessageError(P2PError):
    """A message id was seen before, or its timestamp lies outside the replay window."""

    code = "FLJ783"


class NotForMeError(P2PError):
    """A message is addressed to another participant or another job."""

    code = "FLJ784"


class UnknownPeerError(P2PError, KeyError):
    """No certificate is known for the peer a message is addressed to."""

    code = "FLJ785"

    def __str__(self) -> str:  # KeyError would quote the message
        return P2PError.__str__(self)
