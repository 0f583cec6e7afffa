"""The pieces of the server-controlled workflows and the statistics executor, alone."""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest

from fljob.runtime.client_api.model import FLModel, ParamsType
from fljob.runtime.executors.base import SiteContext, TaskFailed
from fljob.runtime.executors.statistics import StatisticsExecutor
from fljob.runtime.persistors import PersistorError, save_params
from fljob.runtime.workflows.base import TaskResult, WorkflowError
from fljob.runtime.workflows.cross_site_eval import ModelFilesPersistor, metrics_of
from fljob.runtime.workflows.cyclic import Cyclic, apply_result, round_order
from fljob.runtime.workflows.statistics import Statistics

BASE = {"w": np.array([1.0, 2.0], dtype=np.float32)}


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (FLModel(params={"w": [5.0, 5.0]}), [5.0, 5.0]),
        (FLModel(params={"w": [0.5, 0.5]}, params_type=ParamsType.DIFF), [1.5, 2.5]),
    ],
    ids=["full", "diff"],
)
def test_cyclic_applies_full_and_diff_results(result, expected) -> None:
    out = apply_result(BASE, result, "site-1")
    np.testing.assert_allclose(out["w"], expected)
    assert out["w"].dtype == np.float32 or result.params_type is ParamsType.FULL


@pytest.mark.parametrize(
    ("result", "message"),
    [(FLModel(params=None), "sent no params"), (FLModel(params={"w": [1.0]}), "shape")],
    ids=["no-params", "wrong-shape"],
)
def test_cyclic_refuses_bad_results(result, message) -> None:
    with pytest.raises(WorkflowError, match=message):
        apply_result(BASE, result, "site-1")


def test_round_order_fixed_and_random() -> None:
    sites = ["site-3", "site-1", "site-2"]
    assert round_order(sites, "fixed", random.Random(0)) == ["site-1", "site-2", "site-3"]
    orders = {tuple(round_order(sites, "random", random.Random(seed))) for seed in range(20)}
    assert len(orders) > 1 and all(sorted(o) == sorted(sites) for o in orders)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Cyclic(order="sideways"), "order must be one of fixed, random"),
        (lambda: Cyclic(min_clients=0), "min_clients >= 1"),
        (lambda: Statistics(statistics=["count", "stdev"]), "did you mean 'stddev'"),
        (lambda: Statistics(histogram_bins=0), "histogram_bins >= 1"),
    ],
    ids=["cyclic-order", "cyclic-min-clients", "stats-typo", "stats-bins"],
)
def test_bad_workflow_arguments(make, message) -> None:
    with pytest.raises(WorkflowError, match=message):
        make()


def test_model_files_persistor(tmp_path) -> None:
    (tmp_path / "custom").mkdir()
    save_params({"w": np.ones(3, dtype=np.float32)}, tmp_path / "custom" / "a.safetensors")
    np.savez(tmp_path / "custom" / "b.npz", w=np.zeros(2))
    models = ModelFilesPersistor({"a": "custom/a.safetensors", "b": "custom/b.npz"})
    loaded = models.load_models(tmp_path)
    assert {k: v.tolist() for k, v in loaded["a"].items()} == {"w": [1.0, 1.0, 1.0]}
    assert loaded["b"]["w"].tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("models", "message"),
    [
        ({"x": "../outside.safetensors"}, "outside the app folder"),
        ({"x": "custom/missing.safetensors"}, "does not exist"),
        ({}, "needs 'models'"),
    ],
    ids=["escapes", "missing", "empty"],
)
def test_model_files_persistor_refuses(tmp_path, models, message) -> None:
    with pytest.raises(PersistorError, match=message):
        ModelFilesPersistor(models).load_models(tmp_path / "app")


@pytest.mark.parametrize(
    ("data", "expected"),
    [(FLModel(metrics={"acc": 0.5}), {"acc": 0.5}), ({"acc": 0.25}, {"acc": 0.25})],
    ids=["flmodel", "dict"],
)
def test_metrics_of_validate_results(data, expected) -> None:
    assert metrics_of(TaskResult("site-1", "validate", True, data)) == expected


def _site_ctx(tmp_path) -> SiteContext:
    return SiteContext("site-1", "job", tmp_path, tmp_path, {}, logging.getLogger("t"))


@pytest.mark.parametrize(
    ("loader", "data", "message"),
    [
        ("nodot", {"phase": "summary"}, "must be 'module.function'"),
        ("no_such_module_xyz.load", {"phase": "summary"}, "cannot import data_loader"),
        ("math.sqrt", {"phase": "summary"}, "raised TypeError"),
        ("os.getcwd", {"phase": "nope"}, "must return {dataset"),
        ("os.getcwd", None, "carries no statistics phase"),
    ],
    ids=["not-dotted", "missing-module", "loader-raises", "bad-return", "no-phase"],
)
def test_statistics_executor_errors(tmp_path, loader, data, message) -> None:
    with pytest.raises(TaskFailed, match=message):
        StatisticsExecutor(loader).execute("fed_stats", data, _site_ctx(tmp_path))
