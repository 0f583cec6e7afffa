"""The site's part in a client-controlled workflow: a protocol driven by peer messages.

:class:`PeerExecutor` answers the hub's two tasks (see :mod:`.hub`): ``<prefix>hello``
with this site's certificate, and ``<prefix>exchange`` by opening the sealed envelopes
it carries, handing each message to the protocol (:meth:`PeerExecutor.on_message`),
letting the protocol work (:meth:`PeerExecutor.step`, e.g. train) and sealing whatever
it wants to send. Subclasses implement the protocol; they never touch bytes or keys.

The site's identity (certificate and private key) comes from ``ctx.identity``; other
tasks of the same app (``train``, ``validate``, ``submit_model``) run through
``ctx.run_task``, i.e. through the app's own executors such as the ScriptExecutor.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from fljob.runtime.client_api.model import FLModel
from fljob.runtime.executors.base import Executor, SiteContext, TaskFailed
from fljob.runtime.p2p import CertificateBook, P2PError, PeerIdentity, SecureChannel

RUNNING, DONE, FAILED = "running", "done", "failed"
FINAL_MODEL_FILE = "ccwf_final_model"


class Outbox:
    """What one exchange sends back: sealed messages and progress reports."""

    def __init__(self, channel: SecureChannel, topic: str) -> None:
        self.channel = channel
        self.topic = topic
        self.items: list[dict[str, Any]] = []
        self.reports: list[dict[str, Any]] = []
        self.local: list[tuple[str, dict[str, Any]]] = []  #: messages to this site itself

    def send(self, to: str, message: Mapping[str, Any]) -> None:
        """Seal ``message`` (a serde-encodable dict) for ``to``; to oneself it stays local."""
        from fljob.runtime import serde

        if to == self.channel.name:
            self.local.append((to, dict(message)))
            return
        frames = self.channel.seal(to, self.topic, serde.encode(dict(message)))
        self.items.append({"to": to, "envelope": b"".join(frames)})

    def report(
        self, action: str, round_num: int | None = None, ok: bool = True, **fields: Any
    ) -> None:
        self.reports.append({"action": action, "round": round_num, "ok": ok, **fields})


class PeerExecutor(Executor, abc.ABC):
    """Base of the client-controlled executors; ``prefix`` names its two tasks."""

    prefix = "ccwf_"

    def __init__(self) -> None:
        self.channel: SecureChannel | None = None
        self.me = ""
        self.participants: list[str] = []
        self.alive: list[str] = []
        self.config: dict[str, Any] = {}
        self.state = RUNNING
        self.reason: str | None = None
        self.final_upload: dict[str, Any] | None = None  #: final model for the server
        self.busy = False  #: the protocol has work left without new messages
        self.fatal = False  #: the failure ends the workflow for every site

    # ----- the protocol (subclasses) -----

    @abc.abstractmethod
    def start(self, out: Outbox, ctx: SiteContext) -> None:
        """The first exchange: ``self.config`` and ``self.participants`` are set."""

    @abc.abstractmethod
    def on_message(
        self, sender: str, message: dict[str, Any], out: Outbox, ctx: SiteContext
    ) -> None:
        """One authenticated, decrypted message from a peer."""

    def on_membership(self, gone: list[str], out: Outbox, ctx: SiteContext) -> None:
        """Some peers left (``self.alive`` is already updated)."""

    def step(self, out: Outbox, ctx: SiteContext) -> None:
        """Do pending work after the messages of an exchange were handled."""

    # ----- Executor -----

    def execute(self, task_name: str, data: Any, ctx: SiteContext) -> Any:
        if task_name == f"{self.prefix}hello":
            return {"cert": self._identity(ctx).certificate_pem.decode()}
        if task_name == f"{self.prefix}exchange":
            if not isinstance(data, dict):
                raise TaskFailed(f"{task_name} carries no exchange data")
            return self._exchange(data, ctx)
        raise TaskFailed(
            f"{type(self).__name__} does not handle task {task_name!r}",
            hint=f"its tasks are {self.prefix}hello and {self.prefix}exchange",
        )

    def _identity(self, ctx: SiteContext) -> PeerIdentity:
        identity = getattr(ctx, "identity", None)
        if identity is None:
            raise TaskFailed("this site has no identity for peer-to-peer messages")
        return (
            identity
            if isinstance(identity, PeerIdentity)
            else PeerIdentity.from_tls_identity(identity)
        )

    def _begin(self, start: Mapping[str, Any], ctx: SiteContext) -> None:
        identity = self._identity(ctx)
        self.me = identity.name
        book = CertificateBook(identity.ca)
        for name, pem in dict(start.get("certs") or {}).items():
            try:
                book.add(pem.encode() if isinstance(pem, str) else pem, name=name)
            except P2PError as exc:
                raise TaskFailed(f"certificate of peer {name!r} refused: {exc.message}") from None
        self.channel = SecureChannel(identity, job_id=ctx.job_id, book=book)
        self.config = dict(start.get("config") or {})
        self.participants = sorted(start.get("participants") or [])

    def _exchange(self, data: dict[str, Any], ctx: SiteContext) -> dict[str, Any]:
        from fljob.runtime import serde

        first = "start" in data
        if first:
            self._begin(data["start"], ctx)
        if self.channel is None:
            raise TaskFailed("exchange before start")
        out = Outbox(self.channel, self.prefix.rstrip("_"))
        alive = sorted(data.get("alive") or [])
        gone = [s for s in self.alive if s not in alive]
        self.alive = alive
        try:
            if first:
                self.start(out, ctx)
            elif gone:
                self.on_membership(gone, out, ctx)
            for envelope in data.get("inbox") or []:
                try:
                    opened = self.channel.open(envelope, topic=out.topic)
                    message = serde.decode(opened.payload)
                except P2PError as exc:
                    ctx.logger.warning("peer message refused: %s", exc.message)
                    out.report("message_refused", ok=False, error=exc.message)
                    continue
                if isinstance(message, dict):
                    self.on_message(opened.sender, message, out, ctx)
            self._work(out, ctx)
        except TaskFailed as exc:
            self.fail(exc.message, out)
        return {
            "outbox": out.items,
            "reports": out.reports,
            "state": self.state,
            "reason": self.reason,
            "fatal": self.fatal,
            "final": self.final_upload,
            "wait": not self.busy,
        }

    def _work(self, out: Outbox, ctx: SiteContext) -> None:
        """Alternate the protocol's work and the messages it sent itself until quiet."""
        while self.state == RUNNING:
            while out.local:
                to, message = out.local.pop(0)
                self.on_message(to, message, out, ctx)
            self.step(out, ctx)
            if not out.local:
                return

    # ----- helpers for protocols -----

    def fail(self, reason: str, out: Outbox, *, fatal: bool = False) -> None:
        """Leave the workflow. ``fatal``: it cannot go on for anyone (the server ends the
        job); otherwise only this site drops out and the others skip it."""
        self.state, self.reason, self.fatal = FAILED, reason, fatal
        out.report("failed", ok=False, error=reason, fatal=fatal)

    def run_task(self, ctx: SiteContext, name: str, model: FLModel) -> FLModel:
        """Run task ``name`` through this app's executor for it; raises TaskFailed."""
        run = getattr(ctx, "run_task", None)
        if run is None:
            raise TaskFailed("this site cannot run local tasks for a client-controlled workflow")
        result = run(name, model)
        if isinstance(result, Mapping) and not isinstance(result, FLModel):
            return FLModel(params=None, metrics=dict(result))
        if not isinstance(result, FLModel):
            raise TaskFailed(f"task {name!r} returned {type(result).__name__}, not an FLModel")
        return result

    def next_alive_after(self, site: str, order: list[str] | None = None) -> str | None:
        """The first alive site after ``site`` in ``order`` (cyclic), or None."""
        order = order or self.participants
        if not order:
            return None
        start = order.index(site) if site in order else -1
        for k in range(1, len(order) + 1):
            candidate = order[(start + k) % len(order)]
            if candidate in self.alive:
                return candidate
        return None

    def save_final(self, params: Mapping[str, Any], ctx: SiteContext) -> Path:
        """Keep the final model in this site's work folder (for a later CSE)."""
        from fljob.runtime.persistors.base import save_params

        return save_params(
            {k: np.asarray(v) for k, v in params.items()}, Path(ctx.work_dir) / FINAL_MODEL_FILE
        )
