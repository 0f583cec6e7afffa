"""Admission control for large request bodies in a server job process.

When every site of a round uploads its result at once, a server that received them all
together would hold every site's model at the same time. :class:`BodyAdmission` lets at
most ``slots`` bodies of ``threshold`` bytes or more be received at once; the others wait
before their first chunk is held (their senders are held back by flow control, nothing
polls or sleeps). The job's handler releases its slot as soon as it has folded the result
into the running average, before it long-polls for the site's next task; the transport
releases it in any case once the handler returns or the request fails.

Small bodies (tasks polls, heartbeats, metrics) are never delayed, so small-model rounds
cost nothing extra.
"""

from __future__ import annotations

import threading
from typing import Any

#: bodies at least this large take a slot (a model, not a heartbeat or a log)
DEFAULT_THRESHOLD = 16 << 20


class BodyAdmission:
    """The transport's ``Admission`` for a server job: a semaphore held per receiving
    thread (the transport receives a request and runs its handler on one thread).

    >>> admission = BodyAdmission(slots=1)
    >>> server = RpcServer(address, identity, handlers, admission=admission)  # doctest: +SKIP
    """

    def __init__(self, slots: int = 1, threshold: int = DEFAULT_THRESHOLD) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.threshold = threshold
        self._slots = threading.BoundedSemaphore(slots)
        self._held = threading.local()

    def enter(self, topic: str, headers: dict[str, Any], size: int) -> None:
        if size < self.threshold:
            return
        self._slots.acquire()
        self._held.slot = True

    def leave(self) -> None:
        """Release this thread's slot, if it holds one (idempotent)."""
        if getattr(self._held, "slot", False):
            self._held.slot = False
            self._slots.release()
