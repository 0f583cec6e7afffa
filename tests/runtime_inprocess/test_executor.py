"""ScriptExecutor(launch_external_process=False): real scripts run in this process's threads."""

from __future__ import annotations

import json
import logging
import os
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

import fljob.client as flare
from fljob.runtime.client_api.model import FLModel, ParamsType
from fljob.runtime.executors.base import SiteContext, TaskFailed
from fljob.runtime.executors.inprocess import parse_script_command
from fljob.runtime.executors.script_executor import ScriptExecutor
from fljob.runtime.launchers import LaunchError, SubprocessLauncher

LOOP = """
import json, os, sys, time
import numpy as np
import fljob.client as flare
flare.init()
while flare.is_running():
    model = flare.receive()
    {body}
"""

BODIES = {
    # trains in place on the received arrays and sends them back: nothing is copied
    "inplace": """for v in model.params.values():
        v += 1
    flare.send(flare.FLModel(params=model.params,
                             metrics={"task": flare.get_task_name(),
                                      "site": flare.get_site_name(),
                                      "job": flare.get_job_id()},
                             meta={"NUM_STEPS_CURRENT_ROUND": 5}))""",
    "crash": """raise ValueError(f"bad data in round {model.current_round}")""",
    "exit": """sys.exit(4)""",
    "argv": """import logging
    handler = logging.StreamHandler()  # the script's own handler on sys.stderr: no loop
    logging.getLogger("test.inprocess").addHandler(handler)
    print("argv is", sys.argv[1:]); print("no newline", end="", file=sys.stderr)
    logging.getLogger("test.inprocess").removeHandler(handler)
    flare.send(flare.FLModel(params=model.params, metrics={
        "argv": sys.argv, "path0": sys.path[0], "cwd": os.getcwd(),
        "helper": __import__("helper").VALUE}))""",
    "torch": """import torch
    assert all(isinstance(v, torch.Tensor) for v in model.params.values())
    for v in model.params.values():
        v.mul_(2)
    flare.send(flare.FLModel(params=model.params, metrics={"n": len(model.params)}))""",
    "twice": """flare.send(flare.FLModel(params=model.params))
    flare.send(flare.FLModel(params=model.params))""",
}

NO_INIT = """
import time
while True:  # never calls flare.init(); stoppable between sleeps
    time.sleep(0.02)
"""


def make(
    tmp_path: Path, body: str, command: str = "python3 -u custom/train.py", **executor_args
) -> tuple[ScriptExecutor, SiteContext]:
    app = tmp_path / "app"
    (app / "custom").mkdir(parents=True)
    text = NO_INIT if body == "no_init" else textwrap.dedent(LOOP).format(body=BODIES[body])
    (app / "custom" / "train.py").write_text(text)
    (app / "custom" / "helper.py").write_text("VALUE = 42\n")
    ctx = SiteContext(
        "site-7",
        "job-3",
        app,
        tmp_path,
        {"launcher": SubprocessLauncher(command)},
        logging.getLogger("test.inprocess"),
    )
    return ScriptExecutor(launch_external_process=False, **executor_args), ctx


def task(round_num: int = 0) -> FLModel:
    return FLModel(params={"w": np.array([1.0, 2.0])}, current_round=round_num, total_rounds=2)


def test_tasks_and_results_are_handed_over_by_reference(tmp_path: Path) -> None:
    executor, ctx = make(tmp_path, "inplace")
    executor.initialize(ctx)
    try:
        for round_num in range(2):
            sent = task(round_num)
            result = executor.execute("train", sent, ctx)
            np.testing.assert_array_equal(result.params["w"], [2.0, 3.0])
            assert result.params["w"] is sent.params["w"]  # the same array, not a copy
            assert result.metrics == {"task": "train", "site": "site-7", "job": "job-3"}
            assert result.num_steps == 5
    finally:
        executor.finalize(ctx)
    assert executor._exit_code == 0  # the script left its loop when the job ended


def test_diff_transfer_keeps_the_received_values(tmp_path: Path) -> None:
    executor, ctx = make(tmp_path, "inplace", params_transfer_type="DIFF")
    sent = task()
    try:
        result = executor.execute("train", sent, ctx)
    finally:
        executor.finalize(ctx)
    assert result.params_type is ParamsType.DIFF
    np.testing.assert_array_equal(result.params["w"], [1.0, 1.0])
    np.testing.assert_array_equal(sent.params["w"], [1.0, 2.0])


def test_read_only_arrays_reach_the_script_writable(tmp_path: Path) -> None:
    executor, ctx = make(tmp_path, "inplace")
    frozen = np.array([1.0, 2.0])
    frozen.flags.writeable = False
    try:
        result = executor.execute("train", FLModel(params={"w": frozen}), ctx)
    finally:
        executor.finalize(ctx)
    np.testing.assert_array_equal(result.params["w"], [2.0, 3.0])


def test_pytorch_exchange_shares_memory_with_the_task(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    executor, ctx = make(tmp_path, "torch", params_exchange_format="pytorch")
    sent = FLModel(params={"a": np.ones(4, dtype=np.float32), "b": np.zeros(2, dtype=np.float32)})
    try:
        result = executor.execute("train", sent, ctx)
    finally:
        executor.finalize(ctx)
    assert isinstance(result.params["a"], np.ndarray)  # the site never holds torch tensors
    np.testing.assert_array_equal(result.params["a"], [2.0] * 4)
    assert np.shares_memory(result.params["a"], sent.params["a"])
    assert result.metrics == {"n": 2}


def test_argv_path_and_cwd_are_set_for_the_script_and_restored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="test.inprocess")
    before = (list(sys.argv), list(sys.path), os.getcwd(), sys.stdout, sys.stderr)
    executor, ctx = make(tmp_path, "argv", command='python3 -u custom/train.py --epochs 1 "a b"')
    try:
        result = executor.execute("train", task(), ctx)
    finally:
        executor.finalize(ctx)
    argv = result.metrics["argv"]
    assert Path(argv[0]).parts[-2:] == ("custom", "train.py")
    assert argv[1:] == ["--epochs", "1", "a b"]
    assert result.metrics["path0"] == str(ctx.app_dir / "custom")
    assert result.metrics["cwd"] == str(ctx.app_dir)
    assert result.metrics["helper"] == 42  # a module of custom/ is importable
    assert (list(sys.argv), list(sys.path), os.getcwd(), sys.stdout, sys.stderr) == before
    # what the script printed is in the job's log, as a subprocess script's output is
    assert "[script] argv is ['--epochs', '1', 'a b']" in caplog.text
    assert "[script] no newline" in caplog.text


@pytest.mark.parametrize(
    ("body", "expected", "logged"),
    [
        (
            "crash",
            ["raised ValueError: bad data in round 0", "traceback (last lines)", "train.py"],
            "raised ValueError: bad data in round 0",
        ),
        ("exit", ["raised SystemExit: 4 before sending a result"], "raised SystemExit: 4"),
    ],
    ids=["exception", "sys-exit"],
)
def test_failing_script_fails_the_task_clearly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, body: str, expected: list[str], logged: str
) -> None:
    executor, ctx = make(tmp_path, body)
    caplog.set_level(logging.INFO, logger="test.inprocess")
    try:
        with pytest.raises(TaskFailed) as info:
            executor.execute("train", task(), ctx)
        for text in expected:
            assert text in info.value.message
        assert "in-process training script" in info.value.message
        assert logged in caplog.text  # also in the job's log
    finally:
        executor.finalize(ctx)


def test_a_crashed_script_is_relaunched_for_the_next_task(tmp_path: Path) -> None:
    executor, ctx = make(tmp_path, "crash")
    try:
        for round_num in range(2):
            with pytest.raises(TaskFailed, match=f"bad data in round {round_num}"):
                executor.execute("train", task(round_num), ctx)
    finally:
        executor.finalize(ctx)


def test_script_that_never_connects_hits_the_heartbeat_timeout(tmp_path: Path) -> None:
    executor, ctx = make(tmp_path, "no_init", heartbeat_timeout=0.3)
    try:
        with pytest.raises(TaskFailed, match=r"did not connect for 0\.3 s"):
            executor.execute("train", task(), ctx)
        assert executor._exit_code == 1  # stopped: the thread ended
    finally:
        executor.finalize(ctx)


def test_second_send_for_one_task_ends_the_script_with_a_clear_error(tmp_path: Path) -> None:
    executor, ctx = make(tmp_path, "twice")
    try:
        result = executor.execute("train", task(), ctx)  # the first send is the result
        np.testing.assert_array_equal(result.params["w"], [1.0, 2.0])
        script = executor._script
        assert script is not None and script.wait(10) == 1
        assert "flare.send() called without a received task" in (script.error or "")
        assert script.output_tail().startswith("Traceback")
        assert 'train.py", line' in script.output_tail().splitlines()[1]  # the script's frame
    finally:
        executor.finalize(ctx)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("python3 -u custom/train.py --epochs 1", ("custom/train.py", ["--epochs", "1"])),
        ("python custom/train.py", ("custom/train.py", [])),
        (f"{sys.executable} -B -u t.py 'a b'", ("t.py", ["a b"])),
        ("python3.12 custom/train.py", ("custom/train.py", [])),
    ],
    ids=["python3-u-args", "python", "sys-executable", "python3.12"],
)
def test_parse_accepts_python_running_a_file(command: str, expected: tuple) -> None:
    path, argv = parse_script_command(command)
    assert (path, argv[1:]) == expected
    assert argv[0] == path


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("bash run.sh", "does not start with python/python3"),
        ("python3 -m trainer", "expected a .py script after the interpreter, found '-m'"),
        ("python3 -c 'print(1)'", "found '-c'"),
        ("python3 -u", "found 'no script'"),
        ("python3 custom/run", "found 'custom/run'"),
        ("python3 'unclosed", "cannot parse script"),
    ],
    ids=["other-program", "module", "code", "no-script", "not-py", "bad-quotes"],
)
def test_parse_rejects_everything_else(command: str, message: str) -> None:
    with pytest.raises(LaunchError) as info:
        parse_script_command(command)
    assert message in info.value.message


def test_bad_command_fails_initialize_with_a_clear_error(tmp_path: Path) -> None:
    executor, ctx = make(tmp_path, "inplace", command="python3 -m train")
    with pytest.raises(LaunchError, match="cannot run 'python3 -m train' in-process"):
        executor.initialize(ctx)
    executor.finalize(ctx)


def test_client_api_outside_a_script_is_not_initialized() -> None:
    errors: list[Exception] = []

    def call() -> None:
        try:
            flare.get_site_name()
        except flare.ClientAPIError as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    thread.join()
    assert [e.message for e in errors] == ["the Client API is not initialized"]


def test_results_are_plain_json_metrics(tmp_path: Path) -> None:
    executor, ctx = make(tmp_path, "inplace")
    try:
        result = executor.execute("validate", task(), ctx)
    finally:
        executor.finalize(ctx)
    assert json.loads(json.dumps(result.metrics))["task"] == "validate"


def test_per_task_script_runs_again_for_every_task(tmp_path: Path) -> None:
    executor, ctx = make(tmp_path, "inplace")
    ctx.components["launcher"].launch_once = False
    scripts = []
    try:
        for round_num in range(2):
            result = executor.execute("train", task(round_num), ctx)
            np.testing.assert_array_equal(result.params["w"], [2.0, 3.0])
            scripts.append(executor._script)
            assert executor._exit_code == 0  # it left its loop after its one task
    finally:
        executor.finalize(ctx)
    assert scripts[0] is not scripts[1]


def test_missing_script_fails_initialize_with_a_clear_error(tmp_path: Path) -> None:
    executor, ctx = make(tmp_path, "inplace", command="python3 custom/missing.py")
    with pytest.raises(LaunchError, match=r"in-process script 'custom/missing\.py' not found"):
        executor.initialize(ctx)
    executor.finalize(ctx)
