"""One participant's end of the secure peer-to-peer channel: seal for a peer, open from one.

The channel knows its own identity, the verified certificates of its peers and the job it
serves; it refuses messages for another receiver or job, from a certificate outside the
project CA, with any byte changed, or seen before (replay window).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fljob.runtime.p2p import envelope
from fljob.runtime.p2p.certs import CertificateBook, PeerIdentity
from fljob.runtime.p2p.errors import NotForMeError, ReplayedMessageError

#: Seconds a message stays acceptable (and its id remembered), each side of "now". Long:
#: a sealed result may wait in the relay while its receiver trains for a long round, and
#: remembering ids costs a few bytes per message; the job id already bounds the scope.
DEFAULT_REPLAY_WINDOW = 24 * 3600.0


@dataclass(frozen=True)
class OpenedMessage:
    """An authenticated, decrypted message."""

    sender: str
    topic: str
    msg_id: str
    timestamp: float
    payload: bytearray


class ReplayGuard:
    """Remembers message ids for ``window`` seconds and rejects stale or repeated ones.

    A message older than the window would otherwise be accepted again once its id is
    forgotten, so timestamps outside ``now +- window`` are refused as well.
    """

    def __init__(
        self, window: float = DEFAULT_REPLAY_WINDOW, clock: Callable[[], float] = time.time
    ) -> None:
        self.window = window
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(self, msg_id: str, timestamp: float) -> None:
        now = self._clock()
        if abs(now - timestamp) > self.window:
            raise ReplayedMessageError(
                f"message {msg_id} is {now - timestamp:+.0f} s from now, outside the "
                f"{self.window:.0f} s replay window",
                hint="check that the clocks of the sites agree",
            )
        with self._lock:
            self._forget_before(now - self.window)
            if msg_id in self._seen:
                raise ReplayedMessageError(f"message {msg_id} was already received (replay)")
            self._seen[msg_id] = timestamp

    def _forget_before(self, limit: float) -> None:
        stale = [key for key, ts in self._seen.items() if ts < limit]
        for key in stale:
            del self._seen[key]


class SecureChannel:
    """Seal messages for peers and open messages from them, for one job.

    Example::

        channel = SecureChannel(PeerIdentity.from_tls_identity(tls), job_id="j1",
                                book=CertificateBook(ca, fetch=ask_server_for_cert))
        frames = channel.seal("site-2", "swarm.result", serde_frames)
        ... relay frames ...
        message = other_channel.open(received_bytes)     # OpenedMessage
    """

    def __init__(
        self,
        identity: PeerIdentity,
        *,
        job_id: str,
        book: CertificateBook | None = None,
        replay: ReplayGuard | None = None,
    ) -> None:
        self.identity = identity
        self.job_id = job_id
        self.book = book or CertificateBook(identity.ca)
        self.replay = replay or ReplayGuard()

    @property
    def name(self) -> str:
        return self.identity.name

    def seal(
        self, receiver: str, topic: str, payload: envelope.Buffer | Sequence[envelope.Buffer]
    ) -> list[bytes]:
        """The envelope for ``receiver`` as frames (send them without joining)."""
        return envelope.seal(
            self.identity, self.book.get(receiver), job_id=self.job_id, topic=topic, payload=payload
        )

    def open(self, data: envelope.Buffer, *, topic: str | None = None) -> OpenedMessage:
        """Verify and decrypt one envelope; raises a :class:`P2PError` subclass."""
        sealed = envelope.parse(data)
        envelope.verify_sender(sealed, self.identity.ca)
        header = sealed.header
        if header.job_id != self.job_id:
            raise NotForMeError(f"message belongs to job {header.job_id!r}, not {self.job_id!r}")
        if topic is not None and header.topic != topic:
            raise NotForMeError(f"message topic is {header.topic!r}, expected {topic!r}")
        if header.receiver != self.name:
            raise NotForMeError(f"message is for {header.receiver!r}, not {self.name!r}")
        # Only authentic messages reach the replay window, so forgeries cannot fill it.
        self.replay.check(header.msg_id, header.ts)
        payload = envelope.decrypt(sealed, self.identity)
        return OpenedMessage(header.sender, header.topic, header.msg_id, header.ts, payload)
