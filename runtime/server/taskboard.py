"""The server job's task board: the :class:`~fljob.runtime.workflows.base.Communicator`
behind the controller API.

Workflows post tasks here; each site's job process takes its tasks by long polling
(:meth:`TaskBoard.next_task`) and posts results (:meth:`TaskBoard.submit_result`). Both
sides block on one condition variable, so a task or a result wakes its waiter at once.
A site is alive while it calls in (polls, heartbeats, results) at least once per
``heartbeat_timeout``; a silent site is marked gone and its open tasks fail, so a dead
site never hangs a workflow.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fljob.errors import FljobError
from fljob.runtime.workflows.base import JobAborted, Task, TaskResult, WorkflowError

#: returned by :meth:`TaskBoard.next_task` when the job is over for that site
END = "end"


@dataclass
class Assignment:
    """One task for one site, and its result once it arrives."""

    task_id: str
    site: str
    task: Task
    body: Any  #: the task's encoded data, shared by every site of a broadcast
    fetched: bool = False
    result: TaskResult | None = None
    on_result: Callable[[TaskResult], None] | None = None


@dataclass
class _Site:
    name: str
    last_seen: float
    gone: str | None = None  #: why the site is gone, or None while alive
    queue: deque[Assignment] = field(default_factory=deque)


class TaskBoard:
    """Task queues per site plus the blocking calls workflows use."""

    def __init__(
        self,
        *,
        heartbeat_timeout: float = 10.0,
        encode: Callable[[Any], Any] = lambda data: data,
        clock: Callable[[], float] = time.monotonic,
        keep_task_data: bool = True,
    ) -> None:
        self.heartbeat_timeout = heartbeat_timeout
        self._encode = encode
        # False when sites take the encoded body only: the board then holds no reference
        # to the task's model once it is encoded, so a large model can be freed as soon
        # as every site has downloaded it and the workflow let it go.
        self._keep_task_data = keep_task_data
        self._clock = clock
        self._cond = threading.Condition()
        self._sites: dict[str, _Site] = {}
        self._open: dict[str, Assignment] = {}
        self._ids = itertools.count(1)
        self._ended = False
        self.abort_event = threading.Event()

    # ----- the sites' side (called by the job process's RPC handlers) -----

    def join(self, site: str) -> None:
        with self._cond:
            state = self._sites.get(site)
            if state is None or state.gone:
                self._sites[site] = _Site(site, self._clock())
            self._cond.notify_all()

    def touch(self, site: str) -> bool:
        """A sign of life from ``site``; False when the site is not (or no longer) in the job."""
        with self._cond:
            state = self._sites.get(site)
            if state is None or state.gone:
                return False
            state.last_seen = self._clock()
            return True

    def leave(self, site: str, reason: str) -> None:
        """``site`` is out of the job (its job process failed or ended): fail its tasks.

        A site that leaves before it joined (its deploy failed) is recorded as gone, so
        :meth:`wait_for_sites` stops waiting for it."""
        with self._cond:
            state = self._sites.get(site)
            if state is None:
                self._sites[site] = _Site(site, self._clock(), gone=reason)
            elif not state.gone:
                self._mark_gone(state, reason)
            self._cond.notify_all()

    def gone_reasons(self) -> dict[str, str]:
        """Why each site that left the job is gone."""
        with self._cond:
            return {n: s.gone for n, s in sorted(self._sites.items()) if s.gone}

    def next_task(self, site: str, wait: float) -> Assignment | str | None:
        """The site's next task, :data:`END`, or None after ``wait`` seconds without one."""
        deadline = self._clock() + wait
        with self._cond:
            while True:
                state = self._sites.get(site)
                if state is None or state.gone:
                    return END
                state.last_seen = self._clock()
                if self._ended:
                    return END
                if state.queue:
                    assignment = state.queue.popleft()
                    assignment.fetched = True
                    return assignment
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def submit_result(
        self,
        site: str,
        task_id: str,
        *,
        ok: bool,
        data: Any = None,
        error: str | None = None,
        props: dict[str, Any] | None = None,
        owned: bool = False,
    ) -> bool:
        """Record a result; False when the task is unknown, someone else's, or cancelled.

        ``owned``: ``data`` was decoded for this result alone (see ``TaskResult.owned``)."""
        with self._cond:
            assignment = self._open.get(task_id)
            state = self._sites.get(site)
            if assignment is None or assignment.site != site or assignment.result is not None:
                return False
            if state is not None:
                state.last_seen = self._clock()
            result = TaskResult(
                site,
                assignment.task.name,
                ok,
                data,
                None if ok else (error or "failed"),
                dict(props or {}),
                owned=owned,
            )
            if ok and assignment.on_result is not None:
                try:
                    assignment.on_result(result)
                except Exception as exc:  # the workflow cannot use it: this task failed
                    error = exc.message if isinstance(exc, FljobError) else str(exc)
                    result = TaskResult(
                        site,
                        result.task_name,
                        False,
                        None,
                        f"result refused: {error}",
                        result.props,
                    )
            assignment.result = result
            del self._open[task_id]
            self._cond.notify_all()
            return True

    # ----- the workflow's side (the Communicator protocol) -----

    def sites(self) -> list[str]:
        with self._cond:
            self._expire()
            return sorted(name for name, s in self._sites.items() if not s.gone)

    def wait_for_sites(self, expected: Sequence[str], timeout: float) -> list[str]:
        """Wait until every expected site joined or left (or ``timeout`` passed); the
        sites alive then."""
        deadline = self._clock() + timeout
        with self._cond:
            while True:
                settled = all(name in self._sites for name in expected)
                remaining = deadline - self._clock()
                if settled or remaining <= 0 or self.abort_event.is_set():
                    return sorted(n for n, s in self._sites.items() if not s.gone)
                self._cond.wait(remaining)

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
        targets = list(targets) if targets is not None else self.sites()
        if len(set(targets)) != len(targets):
            raise WorkflowError(f"duplicate targets in {targets}")
        body = self._encode(task.data)
        if not self._keep_task_data:
            task = replace(task, data=None)
        with self._cond:
            assignments = [self._post(task, site, body, on_result) for site in targets]
            del body  # each assignment holds it until its site takes it
            self._cond.notify_all()
            self._wait(
                assignments,
                min_responses or len(assignments),
                timeout,
                wait_time_after_min_received,
            )
            return [self._finish(a) for a in assignments]

    def send_and_wait(self, task: Task, target: str, *, timeout: float = 0) -> TaskResult:
        return self.broadcast_and_wait(task, [target], timeout=timeout)[0]

    def end(self) -> None:
        """The job is over: every poll answers :data:`END` from now on."""
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def abort(self) -> None:
        self.abort_event.set()
        with self._cond:
            self._cond.notify_all()

    # ----- internals (called with the lock held) -----

    def _post(
        self, task: Task, site: str, body: Any, on_result: Callable[[TaskResult], None] | None
    ) -> Assignment:
        assignment = Assignment(f"t{next(self._ids)}", site, task, body, on_result=on_result)
        state = self._sites.get(site)
        if state is None:
            assignment.result = TaskResult(site, task.name, False, error="not a site of this job")
        elif state.gone:
            assignment.result = TaskResult(site, task.name, False, error=f"gone: {state.gone}")
        else:
            state.queue.append(assignment)
            self._open[assignment.task_id] = assignment
        return assignment

    def _wait(
        self, assignments: list[Assignment], min_good: int, timeout: float, grace: float
    ) -> None:
        now = self._clock()
        deadline = now + timeout if timeout > 0 else float("inf")
        grace_deadline = float("inf")
        while True:
            if self.abort_event.is_set():
                for a in assignments:
                    self._cancel(a, "job aborted")
                raise JobAborted("the job was aborted")
            self._expire()
            pending = [a for a in assignments if a.result is None]
            good = sum(1 for a in assignments if a.result is not None and a.result.ok)
            if not pending:
                return
            now = self._clock()
            if good >= min(min_good, len(assignments)) and grace_deadline == float("inf"):
                grace_deadline = now + grace
            if now >= min(deadline, grace_deadline):
                reason = "timed out" if now >= deadline else "not needed: enough results"
                for a in pending:
                    self._cancel(a, reason)
                return
            self._cond.wait(min(deadline, grace_deadline, self._next_expiry(pending)) - now)

    def _next_expiry(self, pending: list[Assignment]) -> float:
        times = [
            self._sites[a.site].last_seen + self.heartbeat_timeout
            for a in pending
            if a.site in self._sites
        ]
        return min(times, default=float("inf"))

    def _expire(self) -> None:
        now = self._clock()
        for state in self._sites.values():
            if not state.gone and now - state.last_seen > self.heartbeat_timeout:
                self._mark_gone(state, f"no sign of life for {self.heartbeat_timeout:g} s")

    def _mark_gone(self, state: _Site, reason: str) -> None:
        state.gone = reason
        state.queue.clear()
        for a in list(self._open.values()):
            if a.site == state.name:
                self._cancel(a, f"site gone: {reason}")

    def _cancel(self, assignment: Assignment, reason: str) -> None:
        if assignment.result is None:
            assignment.result = TaskResult(
                assignment.site, assignment.task.name, False, error=reason
            )
        self._open.pop(assignment.task_id, None)
        state = self._sites.get(assignment.site)
        if state is not None and assignment in state.queue:
            state.queue.remove(assignment)

    @staticmethod
    def _finish(assignment: Assignment) -> TaskResult:
        assert assignment.result is not None
        return assignment.result
