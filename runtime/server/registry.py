"""Which sites are connected, and the work waiting for each (deploy or abort a job).

A site is alive while it calls in (heartbeat, work poll) at least once per ``timeout``
seconds; work is handed out by long polling, so a deployed job reaches a site at once.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Work:
    kind: str  #: "deploy" | "abort"
    headers: dict[str, Any]
    body: bytes = b""


@dataclass
class SiteInfo:
    name: str
    last_seen: float
    registered_at: float
    work: deque[Work] = field(default_factory=deque)
    jobs: list[str] = field(default_factory=list)


class SiteRegistry:
    """Thread-safe; shares the server's condition variable so schedulers wake on changes."""

    def __init__(
        self, cond: Any, *, timeout: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.cond = cond
        self.timeout = timeout
        self._clock = clock
        self._sites: dict[str, SiteInfo] = {}

    def register(self, name: str) -> None:
        with self.cond:
            now = self._clock()
            old = self._sites.get(name)
            self._sites[name] = SiteInfo(name, now, now, old.work if old else deque())
            self.cond.notify_all()

    def touch(self, name: str, jobs: list[str] | None = None) -> bool:
        with self.cond:
            info = self._sites.get(name)
            if info is None or self._expired(info):
                return False
            info.last_seen = self._clock()
            if jobs is not None:
                info.jobs = list(jobs)
            return True

    def alive(self) -> list[str]:
        with self.cond:
            return sorted(n for n, info in self._sites.items() if not self._expired(info))

    def describe(self) -> list[dict[str, Any]]:
        now = self._clock()
        with self.cond:
            return [
                {
                    "name": n,
                    "alive": not self._expired(i),
                    "seconds_since_seen": now - i.last_seen,
                    "jobs": list(i.jobs),
                }
                for n, i in sorted(self._sites.items())
            ]

    def post(self, name: str, work: Work) -> bool:
        with self.cond:
            info = self._sites.get(name)
            if info is None:
                return False
            info.work.append(work)
            self.cond.notify_all()
            return True

    def next_work(self, name: str, wait: float) -> Work | None:
        deadline = self._clock() + wait
        with self.cond:
            while True:
                info = self._sites.get(name)
                if info is None:
                    return None
                info.last_seen = self._clock()
                if info.work:
                    return info.work.popleft()
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return None
                self.cond.wait(remaining)

    def _expired(self, info: SiteInfo) -> bool:
        return self._clock() - info.last_seen > self.timeout
