"""The server's part in a client-controlled workflow: lifecycle and a blind relay.

The sites run the workflow among themselves; the server only

1. says hello to every participant (task ``<prefix>hello``) and collects its certificate,
2. keeps one exchange going per site (task ``<prefix>exchange``): the task carries the
   sealed envelopes waiting for that site plus the current membership (``alive``); the
   site answers with the envelopes it wants delivered (``outbox``, each addressed to a
   peer), progress reports for the records, and its state (running, done, failed),
3. tells everyone when a site is gone, so they can skip it,
4. ends the workflow when every site is done, when one fails, or when nothing moved for
   ``progress_timeout`` seconds.

The envelopes are :mod:`fljob.runtime.p2p` messages: the server sees only their sizes and
addresses. Sites never listen; each exchange is an ordinary task pulled by the site, so
this needs nothing from the transport beyond the controller API.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fljob.runtime.ccwf.records import RoundRecorder
from fljob.runtime.workflows.base import Task, WorkflowContext, WorkflowError

RUNNING, DONE, FAILED = "running", "done", "failed"


@dataclass
class HubOutcome:
    """How the sites ended: the final replies of those that finished, and why it stopped."""

    finished: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  #: site -> reason (failed or gone)
    reason: str | None = None  #: why the workflow stopped early, None when every site ended
    relayed_bytes: int = 0
    relayed_messages: int = 0


class RelayHub:
    """Runs one client-controlled workflow's exchanges with its sites."""

    def __init__(
        self,
        ctx: WorkflowContext,
        prefix: str,
        recorder: RoundRecorder,
        progress_timeout: float,
        total_rounds: int | None = None,
    ) -> None:
        self.ctx = ctx
        self.total_rounds = total_rounds
        self.prefix = prefix
        self.recorder = recorder
        self.progress_timeout = progress_timeout if progress_timeout > 0 else 3600.0
        self._cond = threading.Condition()
        self._mail: dict[str, list[bytes]] = {}
        self._alive: list[str] = []
        self._version = 0  #: bumps when membership changes
        self._stop: str | None = None
        self._last_progress = time.monotonic()
        self.outcome = HubOutcome()

    # ----- setup -----

    def hello(self, sites: list[str], config: Mapping[str, Any]) -> dict[str, str]:
        """Send ``<prefix>hello``; returns ``{site: certificate PEM}`` of the sites that
        answered (the others are recorded and left out)."""
        task = Task(f"{self.prefix}hello", {"config": dict(config)})
        certs: dict[str, str] = {}
        for result in self.ctx.comm.broadcast_and_wait(task, sites, timeout=self.progress_timeout):
            cert = result.data.get("cert") if isinstance(result.data, dict) else None
            if result.ok and isinstance(cert, str | bytes):
                certs[result.site] = cert.decode() if isinstance(cert, bytes) else cert
            else:
                error = result.error or "answered hello without a certificate"
                self.outcome.failed[result.site] = error
                self.recorder.record(None, result.site, "hello", False, error=error)
        return certs

    # ----- the exchange loop -----

    def run(self, sites: list[str], start: Mapping[str, Any]) -> HubOutcome:
        """Exchange with every site until all ended, one failed, or progress stalls."""
        self._alive = sorted(sites)
        self._mail = {s: [] for s in sites}
        threads = [
            threading.Thread(target=self._serve, args=(s, start), daemon=True, name=f"ccwf-{s}")
            for s in sites
        ]
        for thread in threads:
            thread.start()
        with self._cond:
            while any(t.is_alive() for t in threads) and self._stop is None:
                if self.ctx.aborted:
                    self._stop = "aborted"
                    break
                idle = time.monotonic() - self._last_progress
                if idle > self.progress_timeout:
                    self._stop = f"no progress for {self.progress_timeout:g} s"
                    break
                self._cond.wait(min(1.0, self.progress_timeout - idle + 0.01))
            self.outcome.reason = self._stop
            self._cond.notify_all()
        self.ctx.check_abort()
        return self.outcome

    def _serve(self, site: str, start: Mapping[str, Any]) -> None:
        seen_version, wait, first = -1, False, True
        while True:
            with self._cond:
                while (
                    self._stop is None
                    and wait
                    and not self._mail[site]
                    and seen_version == self._version
                ):
                    self._cond.wait()
                if self._stop is not None or site not in self._alive:
                    return
                inbox, self._mail[site] = self._mail[site], []
                seen_version = self._version
                data: dict[str, Any] = {"inbox": inbox, "alive": list(self._alive)}
            if first:
                data["start"] = dict(start)
                first = False
            result = self.ctx.comm.send_and_wait(
                Task(f"{self.prefix}exchange", data), site, timeout=self.progress_timeout
            )
            if not result.ok or not isinstance(result.data, dict):
                self._gone(site, result.error or "answered without an exchange reply")
                return
            wait = bool(self._take_reply(site, result.data))
            if result.data.get("state", RUNNING) != RUNNING:
                return

    def _take_reply(self, site: str, reply: dict[str, Any]) -> bool:
        """Route the outbox, record the reports; returns whether the site wants to wait."""
        for report in reply.get("reports") or []:
            if isinstance(report, dict):
                self._record(site, report)
        state = reply.get("state", RUNNING)
        with self._cond:
            for item in reply.get("outbox") or []:
                self._route(site, item)
            if reply.get("reports") or reply.get("outbox") or state != RUNNING:
                self._last_progress = time.monotonic()
            if state == DONE:
                self.outcome.finished[site] = reply
            elif state == FAILED:
                reason = str(reply.get("reason") or "failed")
                if reply.get("fatal"):
                    self.outcome.failed[site] = reason
                    self._stop = self._stop or f"{site}: {reason}"
                else:  # only this site drops out; the others skip it
                    self._gone(site, reason)
            self._cond.notify_all()
        return bool(reply.get("wait", True))

    def _route(self, sender: str, item: Any) -> None:
        to = item.get("to") if isinstance(item, dict) else None
        envelope = item.get("envelope") if isinstance(item, dict) else None
        if not isinstance(to, str) or not isinstance(envelope, bytes | bytearray | memoryview):
            self.recorder.record(None, sender, "relay", False, error="malformed outbox item")
            return
        if to not in self._alive:
            self.recorder.record(
                None,
                sender,
                "relay",
                False,
                to=to,
                error=f"{to} is not an alive participant; message dropped",
            )
            return
        self._mail[to].append(bytes(envelope))
        self.outcome.relayed_messages += 1
        self.outcome.relayed_bytes += len(envelope)

    def _record(self, site: str, report: dict[str, Any]) -> None:
        report = dict(report)
        round_num = report.pop("round", None)
        action = str(report.pop("action", "report"))
        ok = bool(report.pop("ok", True))
        metrics = report.pop("metrics", None)
        error = report.pop("error", None)
        self.recorder.record(round_num, site, action, ok, metrics=metrics, error=error, **report)
        if metrics and ok:
            self.ctx.log_metrics(
                round_num,
                site,
                metrics,
                action=action,
                **{k: v for k, v in report.items() if k == "model"},
            )
        if ok and (action == "aggregate" or report.get("last_in_round")):
            self.ctx.emit(
                "round_done",
                round=round_num,
                total_rounds=self.total_rounds,
                aggregator=site,
                metrics={site: metrics or {}},
                contributors=report.get("contributors", []),
            )

    def _gone(self, site: str, error: str) -> None:
        with self._cond:
            if site in self._alive:
                self._alive.remove(site)
                self._version += 1
            self.outcome.failed.setdefault(site, error)
            self._last_progress = time.monotonic()
            self._cond.notify_all()
        self.ctx.logger.warning("%s left the %s workflow: %s", site, self.prefix.rstrip("_"), error)
        self.recorder.record(None, site, "gone", False, error=error)
        self.ctx.emit("site_gone", site=site, error=error)


def check_participants(
    ctx: WorkflowContext, requested: list[str] | None, minimum: int = 1
) -> list[str]:
    """The participating sites (requested ones must be alive), at least ``minimum``."""
    alive = ctx.comm.sites()
    if requested:
        missing = [s for s in requested if s not in alive]
        if missing:
            raise WorkflowError(
                f"participating client(s) not in the job or gone: {', '.join(missing)}",
                hint=f"alive sites: {', '.join(alive)}",
            )
        alive = sorted(requested)
    if len(alive) < minimum:
        raise WorkflowError(f"{len(alive)} participating site(s), at least {minimum} needed")
    return alive
