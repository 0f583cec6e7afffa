"""The controller API's semantics, on a real TaskBoard with site threads calling in."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from fljob.runtime.server.taskboard import END, Assignment, TaskBoard
from fljob.runtime.workflows.base import JobAborted, Task

# A site's behaviour for one task: returns (ok, data, error) or None to stay silent.
Behaviour = Callable[[Assignment], "tuple[bool, object, str | None] | None"]


def echo(assignment: Assignment) -> tuple[bool, object, str | None]:
    return True, {"from": assignment.site, "got": assignment.body}, None


def fail(assignment: Assignment) -> tuple[bool, object, str | None]:
    return False, None, "script crashed"


def silent(assignment: Assignment) -> None:
    return None


def start_site(
    board: TaskBoard, name: str, behaviour: Behaviour, *, heartbeat: bool = True, delay: float = 0.0
) -> threading.Event:
    """A site thread: join, poll tasks, answer by ``behaviour``; heartbeats while alive."""
    stop = threading.Event()
    board.join(name)

    def poll() -> None:
        while not stop.is_set():
            got = board.next_task(name, 0.2)
            if got == END:
                return
            if isinstance(got, Assignment):
                if delay:
                    stop.wait(delay)
                answer = behaviour(got)
                if answer is None:
                    return  # the site dies holding its task: it stops calling in
                ok, data, error = answer
                board.submit_result(name, got.task_id, ok=ok, data=data, error=error)

    def beat() -> None:
        while not stop.wait(0.05):
            board.touch(name)

    threading.Thread(target=poll, daemon=True).start()
    if heartbeat:
        threading.Thread(target=beat, daemon=True).start()
    return stop


@pytest.fixture
def board():
    b = TaskBoard(heartbeat_timeout=0.5)
    yield b
    b.end()


def test_broadcast_gathers_one_result_per_target_in_order(board: TaskBoard) -> None:
    for name in ("b", "a", "c"):
        start_site(board, name, echo)
    results = board.broadcast_and_wait(Task("train", data=7))
    assert [r.site for r in results] == ["a", "b", "c"]
    assert all(r.ok and r.data == {"from": r.site, "got": 7} for r in results)
    assert {r.task_name for r in results} == {"train"}


@pytest.mark.parametrize(
    ("behaviours", "kwargs", "expected"),
    [
        ({"a": echo, "b": fail}, {}, {"a": (True, None), "b": (False, "script crashed")}),
        (
            {"a": echo, "b": silent},
            {"timeout": 0.3},
            {"a": (True, None), "b": (False, "timed out")},
        ),
        (
            {"a": echo, "b": silent},
            {"min_responses": 1, "wait_time_after_min_received": 0.1},
            {"a": (True, None), "b": (False, "not needed: enough results")},
        ),
    ],
    ids=["failure-is-a-result", "timeout", "min-responses-then-grace"],
)
def test_failed_and_missing_results(board, behaviours, kwargs, expected) -> None:
    for name, behaviour in behaviours.items():
        start_site(board, name, behaviour)
    results = {r.site: (r.ok, r.error) for r in board.broadcast_and_wait(Task("t"), **kwargs)}
    assert results == expected


def test_a_silent_site_is_marked_gone_and_never_hangs_the_wait(board: TaskBoard) -> None:
    start_site(board, "alive", echo)
    start_site(board, "dead", silent, heartbeat=False)
    started = time.monotonic()
    results = board.broadcast_and_wait(Task("t"))  # no timeout: liveness decides
    assert time.monotonic() - started < 3
    by_site = {r.site: r for r in results}
    assert by_site["alive"].ok
    assert not by_site["dead"].ok and "site gone: no sign of life" in by_site["dead"].error
    assert board.sites() == ["alive"]
    [later] = board.broadcast_and_wait(Task("t"), ["dead"])
    assert not later.ok and later.error.startswith("gone:")


def test_send_and_wait_and_unknown_target(board: TaskBoard) -> None:
    start_site(board, "a", echo)
    assert board.send_and_wait(Task("t", data=1), "a").data == {"from": "a", "got": 1}
    result = board.send_and_wait(Task("t"), "nobody")
    assert not result.ok and result.error == "not a site of this job"


def test_results_from_the_wrong_site_or_twice_are_refused(board: TaskBoard) -> None:
    board.join("a")
    board.join("b")
    holder: list[object] = []
    waiter = threading.Thread(
        target=lambda: holder.append(board.broadcast_and_wait(Task("t"), ["a"], timeout=5))
    )
    waiter.start()
    got = board.next_task("a", 2)
    assert isinstance(got, Assignment)
    assert not board.submit_result("b", got.task_id, ok=True, data=1)
    assert board.submit_result("a", got.task_id, ok=True, data=2)
    assert not board.submit_result("a", got.task_id, ok=True, data=3)
    waiter.join(5)
    assert holder[0][0].data == 2


def test_abort_raises_in_the_waiting_workflow(board: TaskBoard) -> None:
    start_site(board, "a", silent)
    threading.Timer(0.1, board.abort).start()
    with pytest.raises(JobAborted):
        board.broadcast_and_wait(Task("t"))


def test_end_answers_every_poll_with_end(board: TaskBoard) -> None:
    board.join("a")
    board.end()
    assert board.next_task("a", 1) == END
    assert board.next_task("unknown", 1) == END


def test_wait_for_sites_returns_when_enough_joined(board: TaskBoard) -> None:
    threading.Timer(0.05, board.join, args=("a",)).start()
    threading.Timer(0.1, board.join, args=("b",)).start()
    threading.Timer(0.1, board.leave, args=("c", "deploy failed")).start()
    assert board.wait_for_sites(["a", "b", "c"], timeout=5) == ["a", "b"]
    assert board.gone_reasons() == {"c": "deploy failed"}
    assert board.wait_for_sites(["a", "b", "x"], timeout=0.05) == ["a", "b"]


def test_broadcast_data_is_encoded_once() -> None:
    calls: list[object] = []
    board = TaskBoard(heartbeat_timeout=5, encode=lambda data: calls.append(data) or b"x")
    for name in ("a", "b", "c"):
        start_site(board, name, echo)
    results = board.broadcast_and_wait(Task("t", data="payload"))
    board.end()
    assert calls == ["payload"]
    assert {r.data["got"] for r in results} == {b"x"}


def test_on_result_sees_each_good_result_and_can_refuse_one(board: TaskBoard) -> None:
    for name in ("a", "b"):
        start_site(board, name, echo)
    start_site(board, "c", fail)
    seen: list[str] = []

    def fold(result) -> None:
        seen.append(result.site)
        if result.site == "b":
            raise ValueError("wrong shape")

    results = {r.site: r for r in board.broadcast_and_wait(Task("t", data=1), on_result=fold)}
    assert sorted(seen) == ["a", "b"]  # failures are not passed on
    assert results["a"].ok
    assert not results["b"].ok and results["b"].error == "result refused: wrong shape"
    assert not results["c"].ok and results["c"].error == "script crashed"
