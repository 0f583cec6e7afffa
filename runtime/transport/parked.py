"""Replies too large for a unary answer wait here until their caller fetches them.

Each parked reply is bound to the caller's identity and expires after ``ttl`` seconds
(its frames generator is closed, releasing the body); tickets are 128-bit random.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from fljob.runtime.transport.watchdog import Progress


@dataclass
class Parked:
    peer: str
    first: bytes  #: the reply's HEAD frame, already produced
    frames: Iterator[bytes]  #: the rest of the reply, produced as it is fetched
    progress: Progress
    expires: float


class ParkedReplies:
    def __init__(self, ttl: float):
        self._ttl = ttl
        self._items: dict[str, Parked] = {}
        self._lock = threading.Lock()

    def park(self, peer: str, first: bytes, frames: Iterator[bytes], progress: Progress) -> str:
        ticket = secrets.token_hex(16)
        now = time.monotonic()
        with self._lock:
            expired = [t for t, p in self._items.items() if p.expires < now]
            dropped = [self._items.pop(t) for t in expired]
            self._items[ticket] = Parked(peer, first, frames, progress, now + self._ttl)
        for item in dropped:
            _close(item.frames)
        return ticket

    def take(self, ticket: str, peer: str) -> Parked | None:
        with self._lock:
            item = self._items.get(ticket)
            if item is None or item.peer != peer:
                return None
            return self._items.pop(ticket)

    def clear(self) -> None:
        with self._lock:
            items, self._items = list(self._items.values()), {}
        for item in items:
            _close(item.frames)


def _close(frames: Iterator[bytes]) -> None:
    close = getattr(frames, "close", None)
    if close is not None:
        close()
