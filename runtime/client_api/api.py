"""The Client API a training script uses: ``import fljob.client as flare``.

>>> import fljob.client as flare                                   # doctest: +SKIP
>>> flare.init()
>>> while flare.is_running():
...     model = flare.receive()
...     params = train(model.params)
...     flare.send(flare.FLModel(params=params, metrics={"accuracy": acc},
...                              meta={"NUM_STEPS_CURRENT_ROUND": steps}))

Two backends, one surface; :func:`init` picks one from the script's environment:

- in-process (``ScriptExecutor(launch_external_process=False)``): the script runs in a
  thread of the site's job process, bound to a :class:`.memory.MemoryChannel`; models
  are handed over by reference (no serialisation, no copy);
- subprocess (the default): the script is launched by its site (``SubprocessLauncher``)
  with the address of a local channel in ``FLJOB_CHANNEL``; :func:`init` connects to it
  (the transport's chunked streaming over a unix socket, see :mod:`.local_wire`: no grpc
  in the script, a model of any size).

Importing the facade stays cheap.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from fljob.errors import RuntimeProtocolError
from fljob.runtime.client_api import memory, protocol
from fljob.runtime.client_api.model import FLModel, model_from_payload, model_to_payload

TRAIN, VALIDATE, SUBMIT_MODEL = "train", "validate", "submit_model"


class ClientAPIError(RuntimeProtocolError):
    """The Client API was used out of order, or its site cannot be reached."""

    code = "FLJ730"


class _Session:
    """The one connection of this script to its site."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.client = _connect(address, timeout=60.0)
        info = self._call(protocol.HELLO, {"pid": os.getpid()}, timeout=60.0).headers
        self.site_name: str = info["site_name"]
        self.job_id: str = info["job_id"]
        self.exchange_format: str = info.get("exchange_format", "numpy")
        self.task_names: dict[str, str] = info.get("task_names", {})
        self.current: tuple[str, str, FLModel] | None = None  # task_id, task_name, model
        self.last_task_name: str | None = None
        self.ended = False
        self._stop = threading.Event()
        interval = float(info.get("heartbeat_interval") or 0)
        if interval > 0:
            threading.Thread(
                target=self._beat, args=(interval,), daemon=True, name="fljob-heartbeat"
            ).start()

    def _call(
        self, topic: str, headers: dict[str, Any], body: Any = b"", timeout: float | None = None
    ) -> Any:
        return self.client.call(topic, headers, body, timeout=timeout)

    def _beat(self, interval: float) -> None:
        """Signs of life on a connection of its own, while the main thread trains."""
        from fljob.runtime.client_api.local_wire import LocalClient

        try:
            beats = LocalClient(self.address)
        except RuntimeProtocolError:
            return
        with beats:
            while not self._stop.wait(interval):
                try:
                    beats.call(protocol.HEARTBEAT, {}, timeout=interval * 4)
                except RuntimeProtocolError:
                    return

    def fetch(self) -> None:
        """Block until the site hands over a task or ends the job."""
        from fljob.runtime import serde

        while self.current is None and not self.ended:
            try:
                reply = self._call(
                    protocol.RECEIVE,
                    {"wait": protocol.RECEIVE_WAIT},
                    timeout=protocol.RECEIVE_WAIT + 30,
                )
            except RuntimeProtocolError:
                self.ended = True  # the site's job process is gone: the job is over
                break
            status = reply.headers.get("status")
            if status == protocol.STATUS_END:
                self.ended = True
            elif status == protocol.STATUS_TASK:
                model = model_from_payload(serde.decode(reply.body))
                if self.exchange_format == "pytorch":
                    model.params = _to_torch(model.params)
                self.current = (reply.headers["task_id"], reply.headers["task_name"], model)
                self.last_task_name = reply.headers["task_name"]

    def send(self, model: FLModel) -> None:
        from fljob.runtime import serde

        if self.current is None:
            raise ClientAPIError(
                "flare.send() called without a received task",
                hint="call flare.receive() first, then send one result",
            )
        task_id = self.current[0]
        payload = model_to_payload(model)
        payload["params"] = _to_numpy(payload["params"])
        self.current = None
        reply = self._call(protocol.SEND, {"task_id": task_id}, serde.encode(payload))
        if not reply.headers.get("accepted", False):
            raise ClientAPIError(
                f"the site refused the result of task {task_id}: "
                f"{reply.headers.get('reason', 'no reason given')}"
            )

    def close(self) -> None:
        self._stop.set()
        self.client.close()


_session: _Session | None = None
_lock = threading.Lock()


def init(address: str | None = None) -> None:
    """Connect to the site that runs this script (idempotent).

    A script run in-process by its site's job process uses the in-memory channel bound
    to its thread; otherwise ``address`` or ``FLJOB_CHANNEL`` names the local socket."""
    global _session
    with _lock:
        channel = memory.current_channel() if address is None else None
        if channel is not None:
            if channel.session is None:
                channel.session = memory.MemorySession(channel)
            return
        if _session is not None:
            return
        address = address or os.environ.get(protocol.ENV_CHANNEL)
        if not address:
            raise ClientAPIError(
                f"{protocol.ENV_CHANNEL} is not set: this script was not launched by a site",
                hint="run it through a job ('fljob run -j JOB'), not directly",
            )
        _session = _Session(address)


def _require() -> _Session | memory.MemorySession:
    channel = memory.current_channel()
    session = channel.session if channel is not None else _session
    if session is None:
        raise ClientAPIError(
            "the Client API is not initialized", hint="call flare.init() at the start of the script"
        )
    return session


def is_running() -> bool:
    """True while the job goes on; blocks until the next task (or the end) is known."""
    session = _require()
    session.fetch()
    return not session.ended


def receive(timeout: float | None = None) -> FLModel | None:
    """The model of the current task, or ``None`` once the job has ended."""
    del timeout  # kept for FLARE compatibility; the site's long poll decides
    session = _require()
    session.fetch()
    return None if session.current is None else session.current[2]


def send(model: FLModel, clear_cache: bool = True) -> None:
    """Send the result of the current task to the site."""
    del clear_cache
    if not isinstance(model, FLModel):
        raise ClientAPIError(
            f"flare.send() takes an FLModel, not {type(model).__name__}",
            hint="flare.send(flare.FLModel(params=..., metrics=...))",
        )
    _require().send(model)


def get_site_name() -> str:
    return _require().site_name


def get_job_id() -> str:
    return _require().job_id


def get_task_name() -> str | None:
    """The name of the current (or last) task: ``train``, ``validate``, ``submit_model``..."""
    return _require().last_task_name


def _is(kind: str) -> bool:
    session = _require()
    return session.last_task_name == session.task_names.get(kind, kind)


def is_train() -> bool:
    return _is(TRAIN)


def is_evaluate() -> bool:
    return _is(VALIDATE)


def is_submit_model() -> bool:
    return _is(SUBMIT_MODEL)


def system_info() -> dict[str, str]:
    session = _require()
    return {"site_name": session.site_name, "job_id": session.job_id}


def shutdown() -> None:
    """Close the channel (called at interpreter exit too)."""
    global _session
    with _lock:
        channel = memory.current_channel()
        if channel is not None:
            channel.session = None
        elif _session is not None:
            _session.close()
            _session = None


def _connect(address: str, timeout: float) -> Any:
    """Connect to the site's channel. The site opens it while this script starts, so
    retry briefly until it listens (start-up only, a few milliseconds at most)."""
    import time

    from fljob.runtime.client_api.local_wire import LocalClient

    deadline = time.monotonic() + timeout
    while True:
        try:
            return LocalClient(address)
        except RuntimeProtocolError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _to_torch(params: Any) -> Any:
    if not isinstance(params, dict):
        return params
    import numpy as np
    import torch

    return {
        k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v
        for k, v in params.items()
    }


def _to_numpy(params: Any) -> Any:
    """Torch tensors become numpy arrays, so the site never needs torch."""
    if not isinstance(params, dict):
        return params
    out = {}
    for key, value in params.items():
        if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        out[key] = value
    return out
