"""The controller API: what a server-side workflow uses to drive its sites.

A workflow is a class with a ``run(ctx)`` method (:class:`Workflow`). ``ctx`` is a
:class:`WorkflowContext`; through ``ctx.comm`` (a :class:`Communicator`) the workflow
sends :class:`Task` objects to sites and gets :class:`TaskResult` objects back. Every
call blocks on events, never on fixed sleeps: a result wakes its waiter at once.

Example, a minimal scatter-and-gather round::

    class OneRound(Workflow):
        def __init__(self, min_clients: int = 1, timeout: float = 0):
            self.min_clients, self.timeout = min_clients, timeout

        def run(self, ctx: WorkflowContext) -> None:
            task = Task("train", FLModel(params=start, current_round=0, total_rounds=1))
            results = ctx.comm.broadcast_and_wait(task, min_responses=self.min_clients,
                                                  timeout=self.timeout)
            good = [r for r in results if r.ok]
            if len(good) < self.min_clients:
                raise WorkflowError(f"only {len(good)} of {self.min_clients} sites answered")
            for r in good:
                ctx.log_metrics(0, r.site, r.model.metrics or {})

Semantics every workflow can rely on:

- ``targets=None`` means every site of the job that is alive now (``ctx.comm.sites()``).
- ``timeout=0`` means no task timeout; the call still returns when every target has
  answered or is gone (a site is gone when it stops answering within the job's
  heartbeat timeout, or its job process reports a failure). So a dead site never hangs
  a workflow.
- A failed task (the site's executor raised, the training script crashed, the site is
  gone, the timeout passed) is a :class:`TaskResult` with ``ok=False`` and ``error`` set;
  the call itself does not raise. Only an aborted job raises :class:`JobAborted`.
- Task data and result data are :class:`FLModel` objects or plain serde-encodable
  values (dicts of str, numbers, lists, numpy arrays). Nothing is pickled.
- ``ctx.components`` holds the server app's components by id (persistors, ...).
- Raise :class:`WorkflowError` to end the job as failed with a clear message.
"""

from __future__ import annotations

import abc
import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from fljob.errors import JobFailedError
from fljob.runtime.client_api.model import FLModel

T = TypeVar("T")


class WorkflowError(JobFailedError):
    """A workflow cannot go on (too few results, a missing component...)."""

    code = "FLJ740"


class JobAborted(JobFailedError):
    """The job was aborted (by an admin, or because the server is stopping)."""

    code = "FLJ741"


@dataclass
class Task:
    """A unit of work for a site.

    ``name`` selects the site's executor (``train``, ``validate``, ``submit_model``...);
    ``data`` is an :class:`FLModel` or any serde-encodable value; ``props`` are small
    JSON values sent alongside (e.g. ``{"model_owner": "site-1"}``).
    """

    name: str
    data: FLModel | Any = None
    props: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskResult:
    """What one site answered to one task."""

    site: str
    task_name: str
    ok: bool
    data: FLModel | Any = None
    error: str | None = None
    props: dict[str, Any] = field(default_factory=dict)
    #: True when ``data`` was decoded for this result alone (it came over the wire): a
    #: workflow may then modify its arrays in place instead of copying them
    owned: bool = False

    @property
    def model(self) -> FLModel:
        """``data`` as an :class:`FLModel` (``WorkflowError`` when it is something else)."""
        if not isinstance(self.data, FLModel):
            raise WorkflowError(
                f"{self.site} answered task {self.task_name!r} with "
                f"{type(self.data).__name__}, not an FLModel"
            )
        return self.data


class Communicator(Protocol):
    """Sends tasks to the sites of one job and gathers their results."""

    def sites(self) -> list[str]:
        """Names of the job's sites that are alive now, sorted."""

    def broadcast_and_wait(
        self,
        task: Task,
        targets: Sequence[str] | None = None,
        *,
        min_responses: int = 0,
        timeout: float = 0,
        wait_time_after_min_received: float = 0,
        on_result: Callable[[TaskResult], None] | None = None,
    ) -> list[TaskResult]:
        """Send ``task`` to every target and wait; one result per target, in order.

        Returns when every target answered (or is gone), or, once ``min_responses``
        (0 = all targets) good results are in, after ``wait_time_after_min_received``
        more seconds, or when ``timeout`` (0 = none) passes. Targets that have not
        answered then get ``ok=False`` results and their tasks are cancelled.

        ``on_result(result)``, if given, is called with each good result as it arrives
        (from the receiving thread, one at a time, before the waiter sees it), e.g. to
        fold a large model into a running aggregate and drop it (``FedAvg`` does). If
        it raises, that result becomes ``ok=False`` with the message as its error.
        """

    def send_and_wait(self, task: Task, target: str, *, timeout: float = 0) -> TaskResult:
        """Send ``task`` to one site and wait for its result."""


@dataclass
class WorkflowContext:
    """Everything a workflow needs while it runs on the server."""

    job_id: str
    comm: Communicator
    components: Mapping[str, Any]
    app_dir: Path  #: the server app's folder in the job's workspace
    result_dir: Path  #: where results go (downloadable by ``fljob jobs download``)
    logger: logging.Logger
    abort_event: threading.Event = field(default_factory=threading.Event)
    #: called with (event name, data) for progress shown by ``fljob run``
    on_event: Callable[[str, dict[str, Any]], None] | None = None
    _metrics_lock: threading.Lock = field(default_factory=threading.Lock)

    def get_component(self, component_id: str, expected: type[T] | None = None) -> T:
        """The server component ``component_id``, optionally checked to be ``expected``."""
        if component_id not in self.components:
            known = ", ".join(sorted(self.components)) or "none"
            raise WorkflowError(
                f"no component with id {component_id!r} (known: {known})",
                hint="add it to 'components' in config_fed_server",
            )
        component = self.components[component_id]
        if expected is not None and not isinstance(component, expected):
            raise WorkflowError(
                f"component {component_id!r} is a {type(component).__name__}, "
                f"not a {expected.__name__}"
            )
        return component

    @property
    def aborted(self) -> bool:
        return self.abort_event.is_set()

    def check_abort(self) -> None:
        if self.aborted:
            raise JobAborted(f"job {self.job_id} was aborted")

    def emit(self, event: str, **data: Any) -> None:
        """Report progress (``round_started``, ``round_done``...) to whoever watches."""
        if self.on_event is not None:
            self.on_event(event, data)

    def log_metrics(
        self, round_num: int | None, site: str, metrics: Mapping[str, Any], **extra: Any
    ) -> None:
        """Append one line to ``metrics.jsonl``: ``{round, site, metrics, ...extra}``."""
        record = {"round": round_num, "site": site, "metrics": _jsonable(metrics), **extra}
        line = json.dumps(record, sort_keys=True) + "\n"
        with self._metrics_lock, (self.result_dir / "metrics.jsonl").open("a") as f:
            f.write(line)


class Workflow(abc.ABC):
    """A server-side workflow. Constructor arguments come from the config's ``args``."""

    @abc.abstractmethod
    def run(self, ctx: WorkflowContext) -> None:
        """Drive the job; return normally when it finished well."""


def _jsonable(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Numbers (numpy scalars included) as floats/ints; anything else as text."""
    out: dict[str, Any] = {}
    for name, value in metrics.items():
        if isinstance(value, bool | int | float | str) or value is None:
            out[str(name)] = value
        elif hasattr(value, "item"):
            out[str(name)] = value.item()
        else:
            out[str(name)] = str(value)
    return out
