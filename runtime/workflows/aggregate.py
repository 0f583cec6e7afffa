"""Weighted averaging of model results (FedAvg's arithmetic), kept apart to test alone."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fljob.runtime.client_api.model import FLModel, ParamsType
from fljob.runtime.workflows.base import WorkflowError


def result_weight(model: FLModel) -> float:
    """``NUM_STEPS_CURRENT_ROUND`` of a result (1 when the site did not say)."""
    steps = model.num_steps
    if steps is None:
        return 1.0
    if steps < 0:
        raise WorkflowError(f"NUM_STEPS_CURRENT_ROUND is negative ({steps})")
    return steps


class WeightedAggregator:
    """FedAvg's running weighted average: results are folded in one at a time, as they
    arrive, so the server never holds every site's model at once.

    FULL results are averaged; DIFF results are averaged and added to the global model.
    Each key is averaged over the results that hold it, each result weighted by its
    ``NUM_STEPS_CURRENT_ROUND``; keys no result holds keep their global value. All
    results of one round must share one params type. Thread-safe: results may be added
    from the threads that receive them.

    Memory: with ``add(..., consume=True)`` (a result decoded from the wire, which
    nobody else uses) the result's own arrays are scaled in place and the first one
    becomes the running sum, so folding allocates nothing model-sized. Once a FULL
    result covered a key, the global value of that key is never needed again and the
    aggregator lets go of it (``global_params`` is a private copy of the mapping), so a
    large global model can be freed while the round goes on.
    """

    def __init__(self, global_params: Mapping[str, np.ndarray]) -> None:
        self.global_params = dict(global_params)
        self.shapes = {name: np.shape(value) for name, value in global_params.items()}
        self.sums: dict[str, np.ndarray] = {}
        self.weights: dict[str, float] = {}
        self.dtypes: dict[str, np.dtype] = {
            name: np.asarray(value).dtype for name, value in global_params.items()
        }
        self.params_type: ParamsType | None = None
        self.count = 0
        self._lock = threading.Lock()

    def add(self, site: str, model: FLModel, *, consume: bool = False) -> None:
        """Fold in one result (``WorkflowError`` when it cannot be averaged).

        ``consume=True``: the result's arrays may be modified and kept (see the class)."""
        if not isinstance(model.params, Mapping):
            raise WorkflowError(f"{site} sent no params")
        weight = result_weight(model)
        kind = ParamsType(model.params_type or ParamsType.FULL)
        with self._lock:
            if self.params_type is None:
                self.params_type = kind
            elif kind is not self.params_type:
                raise WorkflowError(
                    "results mix FULL and DIFF params in one round",
                    hint="use one params_transfer_type for every site",
                )
            arrays = {name: np.asarray(value) for name, value in model.params.items()}
            for name, array in arrays.items():
                expected = self.shapes.get(name)
                if expected is not None and array.shape != expected:
                    raise WorkflowError(
                        f"{site} sent {name} with shape {array.shape}, "
                        f"the global model has {expected}"
                    )
            for name, array in arrays.items():
                self.dtypes.setdefault(name, array.dtype)
                _accumulate(self.sums, name, array, weight, consume)
                self.weights[name] = self.weights.get(name, 0.0) + weight
                if kind is ParamsType.FULL and weight > 0:
                    self.global_params.pop(name, None)  # never needed again
            self.count += 1

    def result(self) -> dict[str, np.ndarray]:
        """The new global model."""
        if self.count == 0:
            raise WorkflowError("no results to aggregate")
        out = {name: np.asarray(value) for name, value in self.global_params.items()}
        for name, total in self.sums.items():
            if self.weights[name] == 0:
                continue  # every site trained zero steps: keep the global value
            total /= self.weights[name]  # in place: models can be large
            if self.params_type is ParamsType.DIFF and name in out:
                total += out[name]
            out[name] = total.astype(self.dtypes[name], copy=False)
        return out


def weighted_average(
    models: Sequence[tuple[str, FLModel]], global_params: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The new global model from ``(site, result)`` pairs (see :class:`WeightedAggregator`)."""
    aggregator = WeightedAggregator(global_params)
    for site, model in models:
        aggregator.add(site, model)
    return aggregator.result()


_BLOCK = 1 << 22  # elements per step when scaling into a temporary: bounded scratch


def _accumulate(
    sums: dict[str, np.ndarray], name: str, array: np.ndarray, weight: float, consume: bool
) -> None:
    """``sums[name] += weight * array`` without model-sized temporaries.

    Floating arrays accumulate in their own precision (float32 stays float32, as in
    FLARE's aggregator); integer arrays in float64. A consumable array of the sum's
    dtype is scaled in place and, for the first result, becomes the sum itself."""
    total = sums.get(name)
    dtype = np.result_type(array.dtype, np.float32) if array.dtype.kind in "fc" else np.float64
    in_place = (
        consume and array.dtype == dtype and array.flags.writeable and array.flags.c_contiguous
    )
    if total is None:
        if in_place:
            total = sums[name] = array
        else:
            total = sums[name] = np.array(array, dtype=dtype, copy=True)
        if weight != 1.0:
            total *= weight
        return
    if weight == 1.0:
        total += array
    elif in_place:
        array *= weight
        total += array
    else:
        flat_total, flat = total.reshape(-1), array.reshape(-1)
        for start in range(0, flat.size, _BLOCK):
            end = start + _BLOCK
            flat_total[start:end] += weight * flat[start:end]


def weighted_metrics(models: Sequence[tuple[str, FLModel]]) -> dict[str, float]:
    """The weighted mean of every numeric metric the results report."""
    sums: dict[str, float] = {}
    weights: dict[str, float] = {}
    for _, model in models:
        weight = result_weight(model)
        for name, value in (model.metrics or {}).items():
            number = _number(value)
            if number is None:
                continue
            sums[name] = sums.get(name, 0.0) + weight * number
            weights[name] = weights.get(name, 0.0) + weight
    return {name: sums[name] / weights[name] for name in sums if weights[name] > 0}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, np.generic | np.ndarray) and np.size(value) == 1:
        return float(np.asarray(value).reshape(()))
    return None
