"""Stall detection: a stream that makes no progress for ``timeout`` seconds is cancelled.

Deadlines bound whole calls, and keepalive pings find dead connections; neither catches a
peer that is alive but stops moving a body mid-way. Every streaming phase holds a
:class:`Progress` token that it ticks on each frame (one attribute store, no lock); one
daemon thread per process looks at the tokens twice a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Progress:
    """One streaming call's progress; ``paused`` while a handler works (long-poll)."""

    __slots__ = ("last", "on_stall", "paused", "stalled", "timeout")

    def __init__(self, timeout: float, on_stall: Callable[[], None]):
        self.timeout, self.on_stall = timeout, on_stall
        self.last = time.monotonic()
        self.paused = False
        self.stalled = False

    def tick(self) -> None:
        self.last = time.monotonic()

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.last = time.monotonic()
        self.paused = False


class _Watchdog:
    def __init__(self, interval: float = 0.5):
        self._interval = interval
        self._tokens: set[Progress] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, timeout: float, on_stall: Callable[[], None]) -> Progress:
        return self.add(Progress(timeout, on_stall))

    def add(self, token: Progress) -> Progress:
        """Watch an existing token (e.g. a parked reply's, once it is fetched)."""
        token.last = time.monotonic()
        with self._lock:
            self._tokens.add(token)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="fljob-stream-watchdog", daemon=True
                )
                self._thread.start()
        return token

    def release(self, token: Progress) -> None:
        with self._lock:
            self._tokens.discard(token)

    def _run(self) -> None:
        while True:
            time.sleep(self._interval)
            now = time.monotonic()
            with self._lock:
                stalled = [t for t in self._tokens if not t.paused and now - t.last > t.timeout]
                self._tokens.difference_update(stalled)
            for token in stalled:
                token.stalled = True
                token.on_stall()


WATCHDOG = _Watchdog()
