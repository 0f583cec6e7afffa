"""The site's end of the local channel to a training script (see
:mod:`fljob.runtime.client_api.protocol`).

One :class:`LocalChannel` per job and executor: it holds at most one task for the
script, hands it over on the script's long poll, and keeps the script's result and its
last sign of life. The executor waits on :attr:`LocalChannel.cond`; every handler
notifies it, so a result is seen the moment it arrives.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from fljob.runtime.client_api import protocol
from fljob.runtime.client_api.local_wire import LocalMessage, LocalServer
from fljob.runtime.client_api.model import FLModel, model_from_payload


class LocalChannel:
    """Serves one script over ``unix:<private dir>/channel.sock``."""

    def __init__(
        self,
        *,
        site_name: str,
        job_id: str,
        exchange_format: str,
        heartbeat_interval: float,
        task_names: dict[str, str],
        logger: logging.Logger,
    ) -> None:
        self.cond = threading.Condition()
        self.logger = logger
        self._info = {
            "site_name": site_name,
            "job_id": job_id,
            "exchange_format": exchange_format,
            "heartbeat_interval": heartbeat_interval,
            "task_names": task_names,
        }
        self.pending: tuple[str, str, Any] | None = None  # task_id, name, encoded body
        self.current_id: str | None = None
        self.result: FLModel | None = None
        self.result_error: str | None = None
        self.last_seen: float | None = None  # None until the script says hello
        self.ended = False
        self._dir = Path(tempfile.mkdtemp(prefix="fljob-ch-"))
        self.address = f"unix:{self._dir / 'channel.sock'}"
        self._server: Any = None

    @property
    def started(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        handlers = {
            protocol.HELLO: self._hello,
            protocol.RECEIVE: self._receive,
            protocol.SEND: self._send,
            protocol.HEARTBEAT: self._heartbeat,
        }
        self._server = LocalServer(self.address, handlers)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        for path in self._dir.glob("*"):
            path.unlink(missing_ok=True)
        self._dir.rmdir()

    # ----- the executor's side -----

    def offer(self, task_id: str, task_name: str, body: Any) -> None:
        with self.cond:
            self.pending = (task_id, task_name, body)
            self.current_id, self.result, self.result_error = task_id, None, None
            self.cond.notify_all()

    def withdraw(self) -> None:
        """The task is over: its result (taken by the executor) is let go here, else a
        large model would stay alive while the next one arrives."""
        with self.cond:
            self.pending, self.current_id, self.result = None, None, None
            self.cond.notify_all()

    def end(self) -> None:
        with self.cond:
            self.ended = True
            self.cond.notify_all()

    def reset_contact(self) -> None:
        """A new script process starts: it has not said hello yet, and the job goes on
        for it (a per-task script was told the job ended after its task)."""
        with self.cond:
            self.last_seen = None
            self.ended = False

    # ----- the script's side (transport handlers) -----

    def _seen(self) -> None:
        self.last_seen = time.monotonic()
        self.cond.notify_all()

    def _hello(self, ctx: Any, request: Any) -> Any:
        with self.cond:
            self._seen()
        self.logger.info("training script connected (pid %s)", request.headers.get("pid"))
        return LocalMessage(dict(self._info))

    def _heartbeat(self, ctx: Any, request: Any) -> Any:
        with self.cond:
            self._seen()
        return LocalMessage({})

    def _receive(self, ctx: Any, request: Any) -> Any:
        wait = min(float(request.headers.get("wait", protocol.RECEIVE_WAIT)), protocol.RECEIVE_WAIT)
        deadline = time.monotonic() + wait
        with self.cond:
            while True:
                self._seen()
                if self.pending is not None:
                    task_id, name, body = self.pending
                    self.pending = None
                    return LocalMessage(
                        {"status": protocol.STATUS_TASK, "task_id": task_id, "task_name": name},
                        body,
                    )
                if self.ended:
                    return LocalMessage({"status": protocol.STATUS_END})
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not ctx.is_active():
                    return LocalMessage({"status": protocol.STATUS_WAIT})
                self.cond.wait(min(remaining, 1.0))  # 1 s: notice a caller that left

    def _send(self, ctx: Any, request: Any) -> Any:
        from fljob.runtime import serde

        task_id = request.headers.get("task_id")
        try:
            model = model_from_payload(serde.decode(request.body))
        except Exception as exc:  # a malformed result: refuse it, tell the script why
            with self.cond:
                self._seen()
            return LocalMessage({"accepted": False, "reason": f"malformed result: {exc}"})
        with self.cond:
            self._seen()
            if task_id != self.current_id or self.result is not None:
                return LocalMessage({"accepted": False, "reason": f"task {task_id} is not open"})
            self.result = model
            self.cond.notify_all()
        return LocalMessage({"accepted": True})
