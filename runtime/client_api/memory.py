"""The in-memory channel between a site's job process and a training script it runs itself
(``ScriptExecutor(launch_external_process=False)``, see
:mod:`fljob.runtime.executors.inprocess`).

The script runs in a thread of the job process, so its task and its result are handed
over as :class:`FLModel` objects, by reference: no serialisation, no copy of a tensor.
One :class:`MemoryChannel` serves one launch of the script; the site's executor uses
the same methods and fields as with :class:`~fljob.runtime.executors.channel.LocalChannel`
(``offer``, ``withdraw``, ``end``, ``cond``, ``result``, ``last_seen``), the script's
Client API uses :class:`MemorySession`.

Which channel a script's ``flare.init()`` finds: the one bound to its thread
(:func:`bind`), else, for a thread the script started itself, the only channel bound in
this process. This module imports nothing heavy: the Client API checks it first.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from fljob.runtime.client_api import protocol
from fljob.runtime.client_api.model import FLModel


class MemoryChannel:
    """One task at a time for a script thread of this process; results by reference."""

    def __init__(
        self,
        *,
        site_name: str,
        job_id: str,
        exchange_format: str,
        task_names: dict[str, str],
    ) -> None:
        self.cond = threading.Condition()
        self.site_name = site_name
        self.job_id = job_id
        self.exchange_format = exchange_format
        self.task_names = dict(task_names)
        self.pending: tuple[str, str, FLModel] | None = None
        self.current_id: str | None = None
        self.result: FLModel | None = None
        self.ended = False
        self.owner: threading.Thread | None = None  #: the script's thread, once bound
        self.session: MemorySession | None = None  #: the script's Client API session
        self._hello_at: float | None = None

    @property
    def last_seen(self) -> float | None:
        """None until the script called ``flare.init()``; then "now" while its thread
        runs (it shares this process: a live thread is its sign of life)."""
        if self._hello_at is None:
            return None
        if self.owner is not None and self.owner.is_alive():
            return time.monotonic()
        return self._hello_at

    # ----- the executor's side -----

    def offer(self, task_id: str, task_name: str, model: FLModel) -> None:
        with self.cond:
            self.pending = (task_id, task_name, model)
            self.current_id, self.result = task_id, None
            self.cond.notify_all()

    def withdraw(self) -> None:
        """The task is over: its result (taken by the executor) is let go here."""
        with self.cond:
            self.pending, self.current_id, self.result = None, None, None
            self.cond.notify_all()

    def end(self) -> None:
        with self.cond:
            self.ended = True
            self.cond.notify_all()

    # ----- the script's side -----

    def hello(self) -> None:
        with self.cond:
            self._hello_at = time.monotonic()
            self.cond.notify_all()

    def take(self, wait: float) -> tuple[str, str, FLModel] | None:
        """The next task, or None when the job has ended; waits up to ``wait`` seconds
        (then raises ``TimeoutError``)."""
        deadline = time.monotonic() + wait
        with self.cond:
            while True:
                if self.pending is not None:
                    task, self.pending = self.pending, None
                    return task
                if self.ended:
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                self.cond.wait(remaining)

    def put(self, task_id: str, model: FLModel) -> str | None:
        """Hand over the result of ``task_id``; the reason when it is refused."""
        with self.cond:
            if task_id != self.current_id or self.result is not None:
                return f"task {task_id} is not open"
            self.result = model
            self.cond.notify_all()
        return None


class MemorySession:
    """The Client API's session for an in-process script (same surface as the
    subprocess session in :mod:`.api`)."""

    def __init__(self, channel: MemoryChannel) -> None:
        self.channel = channel
        self.site_name = channel.site_name
        self.job_id = channel.job_id
        self.exchange_format = channel.exchange_format
        self.task_names = channel.task_names
        self.current: tuple[str, str, FLModel] | None = None
        self.last_task_name: str | None = None
        self.ended = False
        channel.hello()

    def fetch(self) -> None:
        """Block until the site hands over a task or ends the job."""
        while self.current is None and not self.ended:
            try:
                task = self.channel.take(protocol.RECEIVE_WAIT)
            except TimeoutError:
                continue
            if task is None:
                self.ended = True
                break
            task_id, name, model = task
            if self.exchange_format == "pytorch":
                from fljob.runtime.client_api.api import _to_torch

                # a shallow copy: the site keeps its numpy view, the tensors share memory
                model = replace(model, params=_to_torch(model.params), meta=dict(model.meta))
            self.current = (task_id, name, model)
            self.last_task_name = name

    def send(self, model: FLModel) -> None:
        from fljob.runtime.client_api.api import ClientAPIError, _to_numpy

        if self.current is None:
            raise ClientAPIError(
                "flare.send() called without a received task",
                hint="call flare.receive() first, then send one result",
            )
        task_id = self.current[0]
        self.current = None
        result = replace(model, params=_to_numpy(model.params), meta=dict(model.meta or {}))
        reason = self.channel.put(task_id, result)
        if reason is not None:
            raise ClientAPIError(f"the site refused the result of task {task_id}: {reason}")

    def close(self) -> None:
        """Nothing to release: the channel belongs to the site's executor."""


_bound: dict[int, MemoryChannel] = {}
_bound_lock = threading.Lock()


def bind(channel: MemoryChannel) -> None:
    """Make ``channel`` the one the calling thread's Client API uses."""
    thread = threading.current_thread()
    with _bound_lock:
        channel.owner = thread
        _bound[thread.ident or 0] = channel


def unbind() -> None:
    with _bound_lock:
        _bound.pop(threading.get_ident(), None)


def current_channel() -> MemoryChannel | None:
    """The channel of the calling script thread; for another thread, the only one bound
    in this process (a script's helper thread); None for a subprocess script."""
    with _bound_lock:
        if not _bound:
            return None
        channel = _bound.get(threading.get_ident())
        if channel is None and len(_bound) == 1:
            channel = next(iter(_bound.values()))
        return channel
