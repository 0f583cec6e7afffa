"""ScriptExecutor and the Client API over the real local channel, with real scripts."""

from __future__ import annotations

import logging
import pickle
import textwrap
from pathlib import Path

import numpy as np
import pytest

from fljob.runtime.client_api.model import FLModel, ParamsType
from fljob.runtime.executors.base import SiteContext, TaskFailed
from fljob.runtime.executors.script_executor import ScriptExecutor
from fljob.runtime.launchers import SubprocessLauncher

LOOP = """
import os, signal, sys
import numpy as np
import fljob.client as flare
flare.init()
while flare.is_running():
    model = flare.receive()
    {body}
"""

BODIES = {
    "echo": """flare.send(flare.FLModel(params={k: v + 1 for k, v in model.params.items()},
                                     metrics={"task": flare.get_task_name(),
                                              "site": flare.get_site_name()},
                                     meta={"NUM_STEPS_CURRENT_ROUND": 5}))""",
    "crash": """print("about to fail", flush=True); sys.exit(3)""",
    "freeze": """os.kill(os.getpid(), signal.SIGSTOP)""",
    "not_a_model": """flare.send({"w": 1})""",
}


def make(tmp_path: Path, body: str, **executor_args) -> tuple[ScriptExecutor, SiteContext]:
    app = tmp_path / "app"
    (app / "custom").mkdir(parents=True)
    script = textwrap.dedent(LOOP).format(
        body=textwrap.indent(BODIES.get(body, body), "    ").lstrip()
    )
    (app / "custom" / "train.py").write_text(script)
    launcher = SubprocessLauncher("python3 -u custom/train.py")
    ctx = SiteContext(
        "site-9", "job-1", app, tmp_path, {"launcher": launcher}, logging.getLogger("test.site")
    )
    return ScriptExecutor(**executor_args), ctx


def task(round_num: int = 0) -> FLModel:
    return FLModel(params={"w": np.array([1.0, 2.0])}, current_round=round_num, total_rounds=2)


def test_script_serves_every_task_and_exits_at_the_end(tmp_path: Path) -> None:
    executor, ctx = make(tmp_path, "echo")
    executor.initialize(ctx)
    try:
        for round_num in range(2):
            result = executor.execute("train", task(round_num), ctx)
            np.testing.assert_array_equal(result.params["w"], [2.0, 3.0])
            assert result.metrics == {"task": "train", "site": "site-9"}
            assert result.num_steps == 5
    finally:
        executor.finalize(ctx)
    assert executor._exit_code == 0  # the script left its loop when the job ended


def test_diff_transfer_sends_the_change(tmp_path: Path) -> None:
    executor, ctx = make(tmp_path, "echo", params_transfer_type="DIFF")
    try:
        result = executor.execute("train", task(), ctx)
    finally:
        executor.finalize(ctx)
    assert result.params_type is ParamsType.DIFF
    np.testing.assert_array_equal(result.params["w"], [1.0, 1.0])


@pytest.mark.parametrize(
    ("body", "timeout", "message"),
    [
        (
            "crash",
            30,
            "exited with code 3 before sending a result; its last output:\nabout to fail",
        ),
        ("freeze", 1.0, "the training script gave no sign of life for 1 s"),
        ("import time; time.sleep(60)  # never reached", 1.0, None),
        ("not_a_model", 30, "exited with code 1"),
    ],
    ids=["crash", "frozen", "never-connects", "sends-a-dict"],
)
def test_failing_scripts_end_the_task_with_a_clear_error(tmp_path, body, timeout, message):
    if message is None:  # a script that never calls flare.init()
        body = "pass"
        executor, ctx = make(tmp_path, body, heartbeat_timeout=timeout)
        (ctx.app_dir / "custom" / "train.py").write_text("import time\ntime.sleep(60)\n")
        message = "the training script did not connect for 1 s"
    else:
        executor, ctx = make(tmp_path, body, heartbeat_timeout=timeout)
    try:
        with pytest.raises(TaskFailed) as info:
            executor.execute("train", task(), ctx)
    finally:
        executor.finalize(ctx)
    assert message in info.value.message


def test_a_crashed_script_is_relaunched_for_the_next_task(tmp_path: Path) -> None:
    body = (
        "if model.current_round == 0:\n    sys.exit(5)\n"
        "flare.send(flare.FLModel(params=model.params))"
    )
    executor, ctx = make(tmp_path, body)
    try:
        with pytest.raises(TaskFailed, match="code 5"):
            executor.execute("train", task(0), ctx)
        result = executor.execute("train", task(1), ctx)
    finally:
        executor.finalize(ctx)
    np.testing.assert_array_equal(result.params["w"], [1.0, 2.0])


def test_a_pickle_payload_on_the_local_channel_is_rejected(tmp_path: Path) -> None:
    from fljob.runtime.client_api import protocol
    from fljob.runtime.client_api.local_wire import LocalClient
    from fljob.runtime.executors.channel import LocalChannel

    channel = LocalChannel(
        site_name="s",
        job_id="j",
        exchange_format="numpy",
        heartbeat_interval=0,
        task_names={},
        logger=logging.getLogger("test"),
    )
    channel.start()
    try:
        channel.offer("t1", "train", b"")
        payload = pickle.dumps({"kind": "fljob.FLModel", "params": {"w": [1.0]}})
        with LocalClient(channel.address) as client:
            reply = client.call(protocol.SEND, {"task_id": "t1"}, payload, timeout=10)
        assert reply.headers["accepted"] is False
        assert reply.headers["reason"].startswith("malformed result")
        assert channel.result is None
    finally:
        channel.stop()


def test_client_api_outside_a_job_says_how_to_run_it(monkeypatch) -> None:
    import fljob.client as flare

    monkeypatch.delenv("FLJOB_CHANNEL", raising=False)
    with pytest.raises(flare.ClientAPIError, match="not launched by a site"):
        flare.init()
    with pytest.raises(flare.ClientAPIError, match="not initialized"):
        flare.receive()
    with pytest.raises(flare.ClientAPIError, match="takes an FLModel"):
        flare.send({"w": 1})


LEARNER = """
import numpy as np
import fljob.client as flare


class Learner(flare.ModelLearner):
    def initialize(self):
        self.calls = 0

    def train(self, model):
        self.calls += 1
        return flare.FLModel(params={k: v * 2 for k, v in model.params.items()},
                             meta={"NUM_STEPS_CURRENT_ROUND": self.calls})

    def validate(self, model):
        return flare.FLModel(metrics={"sum": float(sum(v.sum() for v in model.params.values())),
                                      "site": self.site_name})


Learner().run()
"""


def test_model_learner_serves_train_and_validate_tasks(tmp_path: Path) -> None:
    executor, ctx = make(tmp_path, "pass")
    (ctx.app_dir / "custom" / "train.py").write_text(textwrap.dedent(LEARNER))
    try:
        trained = executor.execute("train", task(), ctx)
        validated = executor.execute("validate", task(), ctx)
        trained_again = executor.execute("train", task(1), ctx)
        with pytest.raises(TaskFailed, match="unknown task 'other'"):
            executor.execute("other", task(), ctx)
    finally:
        executor.finalize(ctx)
    np.testing.assert_array_equal(trained.params["w"], [2.0, 4.0])
    assert validated.metrics == {"sum": 3.0, "site": "site-9"}
    assert trained_again.num_steps == 2  # one learner instance serves every task


def test_launch_once_false_starts_a_script_per_task(tmp_path: Path) -> None:
    executor, ctx = make(
        tmp_path, "flare.send(flare.FLModel(params={'pid': np.array([os.getpid()])}))"
    )
    ctx.components["launcher"].launch_once = False
    try:
        first = executor.execute("train", task(0), ctx)
        second = executor.execute("train", task(1), ctx)
    finally:
        executor.finalize(ctx)
    assert first.params["pid"][0] != second.params["pid"][0]
    assert executor._exit_code == 0
