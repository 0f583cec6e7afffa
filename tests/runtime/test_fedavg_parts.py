"""FedAvg's arithmetic, the persistors, and the FedAvg workflow on a real TaskBoard."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import numpy as np
import pytest

from fljob.runtime.client_api.model import FLModel, ParamsType
from fljob.runtime.persistors import (
    NumpyModelPersistor,
    PersistorError,
    load_params,
    save_params,
)
from fljob.runtime.server.taskboard import END, Assignment, TaskBoard
from fljob.runtime.workflows import FedAvg, WorkflowContext, WorkflowError
from fljob.runtime.workflows.aggregate import weighted_average, weighted_metrics

G = {"w": np.array([1.0, 1.0], dtype=np.float32), "b": np.array([0.0], dtype=np.float32)}


def m(params, steps=None, kind=ParamsType.FULL, metrics=None) -> FLModel:
    meta = {} if steps is None else {"NUM_STEPS_CURRENT_ROUND": steps}
    return FLModel(params=params, params_type=kind, meta=meta, metrics=metrics)


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        (
            [
                ("a", m({"w": [3.0, 3.0], "b": [1.0]}, 1)),
                ("b", m({"w": [7.0, 7.0], "b": [5.0]}, 3)),
            ],
            {"w": [6.0, 6.0], "b": [4.0]},
        ),
        ([("a", m({"w": [2.0, 4.0]})), ("b", m({"w": [4.0, 6.0]}))], {"w": [3.0, 5.0], "b": [0.0]}),
        (
            [
                ("a", m({"w": [1.0, 1.0]}, 1, ParamsType.DIFF)),
                ("b", m({"w": [5.0, 5.0]}, 1, ParamsType.DIFF)),
            ],
            {"w": [4.0, 4.0], "b": [0.0]},
        ),
        (
            [("a", m({"w": [2.0, 2.0]}, 0)), ("b", m({"w": [4.0, 4.0]}, 0))],
            {"w": [1.0, 1.0], "b": [0.0]},
        ),
        (
            [("a", m({"w": [2.0, 2.0], "b": [2.0]}, 1)), ("b", m({"w": [4.0, 4.0]}, 1))],
            {"w": [3.0, 3.0], "b": [2.0]},
        ),
    ],
    ids=[
        "weighted-full",
        "unweighted-defaults-to-1",
        "diff-added-to-global",
        "zero-steps-keep-global",
        "key-averaged-over-holders",
    ],
)
def test_weighted_average(results, expected) -> None:
    out = weighted_average(results, G)
    assert set(out) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(out[name], value)
        assert out[name].dtype == np.float32  # the global model's dtype is kept


@pytest.mark.parametrize(
    ("results", "message"),
    [
        (
            [("a", m({"w": [1.0, 1.0]}, 1)), ("b", m({"w": [1.0, 1.0]}, 1, ParamsType.DIFF))],
            "mix FULL and DIFF",
        ),
        ([("a", m({"w": [1.0, 1.0, 1.0]}, 1))], "a sent w with shape (3,)"),
        ([("a", m(None, 1))], "a sent no params"),
        ([("a", m({"w": [1.0, 1.0]}, -2))], "NUM_STEPS_CURRENT_ROUND is negative"),
        ([], "no results to aggregate"),
    ],
    ids=["mixed-types", "shape-mismatch", "no-params", "negative-steps", "empty"],
)
def test_weighted_average_errors(results, message) -> None:
    with pytest.raises(WorkflowError, match=message.replace("(", r"\(").replace(")", r"\)")):
        weighted_average(results, G)


def test_weighted_metrics_skip_non_numbers() -> None:
    out = weighted_metrics(
        [
            ("a", m({}, 1, metrics={"acc": 0.5, "name": "x", "flag": True})),
            ("b", m({}, 3, metrics={"acc": np.float32(0.9)})),
        ]
    )
    assert out == pytest.approx({"acc": 0.8})


def test_safetensors_round_trip_and_torch_can_read_it(tmp_path: Path) -> None:
    path = save_params({"w": np.arange(6, dtype=np.float32).reshape(2, 3)}, tmp_path / "m")
    assert path.name == "m.safetensors"
    np.testing.assert_array_equal(load_params(path)["w"], np.arange(6).reshape(2, 3))
    assert path.read_bytes()[:8] != b"\x80\x04\x95"[:8]  # not a pickle
    header_len = int.from_bytes(path.read_bytes()[:8], "little")
    header = json.loads(path.read_bytes()[8 : 8 + header_len])
    assert header["w"]["dtype"] == "F32" and header["w"]["shape"] == [2, 3]


@pytest.mark.parametrize(
    ("args", "message"),
    [({}, "needs 'initial_model'"), ({"initial_model": {"w": [[1, 2], [3]]}}, "initial_model.w")],
    ids=["missing", "ragged"],
)
def test_numpy_persistor_errors(tmp_path: Path, args, message) -> None:
    with pytest.raises(PersistorError, match=message):
        NumpyModelPersistor(**args).load_initial(tmp_path)


def _sites(board: TaskBoard, answers: dict[str, tuple[float, int] | None]) -> None:
    """Sites that add ``delta`` to every param and report ``steps``; None fails the task."""

    def serve(name: str, answer: tuple[float, int] | None) -> None:
        while True:
            got = board.next_task(name, 0.5)
            if got == END:
                return
            if isinstance(got, Assignment):
                model = got.task.data
                if answer is None:
                    board.submit_result(name, got.task_id, ok=False, error="broken")
                    continue
                delta, steps = answer
                params = {k: v + delta for k, v in model.params.items()}
                board.submit_result(
                    name,
                    got.task_id,
                    ok=True,
                    data=m(params, steps, metrics={"accuracy": float(model.current_round)}),
                )

    for name, answer in answers.items():
        board.join(name)
        threading.Thread(target=serve, args=(name, answer), daemon=True).start()


def _ctx(tmp_path: Path, board: TaskBoard, events: list) -> WorkflowContext:
    persistor = NumpyModelPersistor({"w": [1.0, 2.0]})
    return WorkflowContext(
        job_id="j",
        comm=board,
        components={"persistor": persistor},
        app_dir=tmp_path,
        result_dir=tmp_path,
        logger=logging.getLogger("t"),
        on_event=lambda name, data: events.append((name, data)),
    )


def test_fedavg_workflow_rounds_models_metrics_and_best(tmp_path: Path) -> None:
    board = TaskBoard(heartbeat_timeout=5)
    _sites(board, {"a": (1.0, 1), "b": (5.0, 3), "c": None})
    events: list = []
    FedAvg(num_rounds=2, min_clients=2).run(_ctx(tmp_path, board, events))
    board.end()
    np.testing.assert_allclose(
        load_params(tmp_path / "global_model.safetensors")["w"], [1.0 + 2 * 4.0, 2.0 + 2 * 4.0]
    )
    assert (tmp_path / "best_global_model.safetensors").is_file()
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [(x["round"], x["site"], x["num_steps"]) for x in lines] == [
        (0, "a", 1.0),
        (0, "b", 3.0),
        (1, "a", 1.0),
        (1, "b", 3.0),
    ]
    done = [data for name, data in events if name == "round_done"]
    assert [d["failed"] for d in done] == [["c"], ["c"]]
    assert done[1]["metrics"] == {"a": {"accuracy": 1.0}, "b": {"accuracy": 1.0}}


def test_fedavg_refuses_a_result_it_cannot_average_and_goes_on(tmp_path: Path) -> None:
    board = TaskBoard(heartbeat_timeout=5)
    _sites(board, {"a": (1.0, 1)})
    board.join("odd")

    def odd_site() -> None:  # answers with a model of the wrong shape
        while True:
            got = board.next_task("odd", 0.5)
            if got == END:
                return
            if isinstance(got, Assignment):
                board.submit_result("odd", got.task_id, ok=True, data=m({"w": [1.0, 2.0, 3.0]}, 1))

    threading.Thread(target=odd_site, daemon=True).start()
    events: list = []
    FedAvg(num_rounds=1, min_clients=1).run(_ctx(tmp_path, board, events))
    board.end()
    np.testing.assert_allclose(load_params(tmp_path / "global_model.safetensors")["w"], [2.0, 3.0])
    [done] = [data for name, data in events if name == "round_done"]
    assert done["failed"] == ["odd"] and list(done["metrics"]) == ["a"]


def test_fedavg_fails_when_too_few_sites_answer(tmp_path: Path) -> None:
    board = TaskBoard(heartbeat_timeout=5)
    _sites(board, {"a": (1.0, 1), "c": None})
    with pytest.raises(
        WorkflowError,
        match=r"round 0: 1 good result\(s\), min_clients is 2 "
        r"\(c: broken\)",
    ):
        FedAvg(num_rounds=3, min_clients=2).run(_ctx(tmp_path, board, []))
    board.end()


def test_fedavg_needs_a_persistor(tmp_path: Path) -> None:
    board = TaskBoard()
    ctx = _ctx(tmp_path, board, [])
    with pytest.raises(WorkflowError, match="no component with id 'model'"):
        FedAvg(persistor_id="model").run(ctx)


def test_torch_persistor_state_dict_round_trips_through_safetensors(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    from fljob.runtime.persistors import TorchModelPersistor

    (tmp_path / "custom").mkdir()
    (tmp_path / "custom" / "tiny_net.py").write_text(
        "import torch\n"
        "class Net(torch.nn.Module):\n"
        "    def __init__(self, width=3):\n"
        "        super().__init__()\n"
        "        self.fc = torch.nn.Linear(width, 2)\n"
    )
    persistor = TorchModelPersistor({"path": "tiny_net.Net", "args": {"width": 4}})
    params = persistor.load_initial(tmp_path)
    assert {k: v.shape for k, v in params.items()} == {"fc.weight": (2, 4), "fc.bias": (2,)}
    path = persistor.save(params, tmp_path / "global_model")
    model = persistor.build_model(tmp_path)
    model.load_state_dict(load_file(str(path)))  # a torch state dict, no pickle involved
    assert torch.equal(model.fc.weight, torch.from_numpy(params["fc.weight"]))


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (None, "needs 'model'"),
        ({"path": "nomodule"}, "is not 'module.Class'"),
        ({"path": "missing_mod.Net"}, "cannot import model 'missing_mod.Net'"),
    ],
    ids=["missing", "no-module", "unknown-module"],
)
def test_torch_persistor_errors(tmp_path: Path, model, message) -> None:
    from fljob.runtime.persistors import TorchModelPersistor

    with pytest.raises(PersistorError, match=message):
        TorchModelPersistor(model).load_initial(tmp_path)
