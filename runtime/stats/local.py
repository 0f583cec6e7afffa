"""What each site computes on its own data, in two passes, without showing the data.

Pass 1 (:func:`summarize`): per dataset and feature, the count, sum, min and max of the
finite values. The server combines them into global means and global histogram ranges.

Pass 2 (:func:`deviations`): with the global mean and bin edges from the server, the sum of
squared deviations from the *global* mean (for the global standard deviation), the site's
own sum of squared deviations from its own mean (for its local standard deviation), and the
histogram over the global bins. Every site thus bins on the same edges, so histograms add.

A feature whose count on a site is below ``min_count`` is withheld entirely (the privacy
filter): the site reports only that it was withheld, no number about it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fljob.errors import JobFailedError

Data = Mapping[str, Mapping[str, Any]]  #: {dataset: {feature: array-like}}


class StatisticsError(JobFailedError):
    """Site data or a statistics request is unusable."""

    code = "FLJ790"


def _values(data: Data, dataset: str, feature: str) -> np.ndarray:
    try:
        array = np.asarray(data[dataset][feature], dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise StatisticsError(
            f"feature {feature!r} of dataset {dataset!r} is not numeric: {exc}"
        ) from None
    return array[np.isfinite(array)]


def check_data(data: Any) -> Data:
    """``data`` must be ``{dataset: {feature: array}}`` with string keys."""
    if not isinstance(data, Mapping) or not data:
        raise StatisticsError(
            "the data loader must return {dataset: {feature: array}}, "
            f"got {type(data).__name__}"
        )
    for dataset, features in data.items():
        if not isinstance(dataset, str) or not isinstance(features, Mapping):
            raise StatisticsError(f"dataset {dataset!r} must map feature names to arrays")
        for feature in features:
            if not isinstance(feature, str):
                raise StatisticsError(
                    f"dataset {dataset!r} has a non-text feature name {feature!r}"
                )
    return data


def summarize(data: Data, *, min_count: int = 0) -> dict[str, dict[str, dict[str, float]]]:
    """Pass 1: ``{dataset: {feature: {count, sum, min, max}}}``; features under
    ``min_count`` become ``{"withheld": True}``."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for dataset in sorted(check_data(data)):
        out[dataset] = {}
        for feature in sorted(data[dataset]):
            values = _values(data, dataset, feature)
            if len(values) < max(min_count, 1):
                out[dataset][feature] = {"withheld": True, "count": 0}
                continue
            out[dataset][feature] = {
                "count": len(values),
                "sum": float(values.sum()),
                "min": float(values.min()),
                "max": float(values.max()),
            }
    return out


def deviations(
    data: Data,
    global_mean: Mapping[str, Mapping[str, float]],
    bin_edges: Mapping[str, list[float]],
    *,
    min_count: int = 0,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Pass 2: ``{dataset: {feature: {sum_sq_global, sum_sq_local, histogram}}}``.

    ``global_mean`` is ``{dataset: {feature: mean}}``; ``bin_edges`` is ``{feature: edges}``
    (one range per feature over every site and dataset, so histograms compare).
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for dataset in sorted(check_data(data)):
        out[dataset] = {}
        for feature in sorted(data[dataset]):
            values = _values(data, dataset, feature)
            if len(values) < max(min_count, 1):
                out[dataset][feature] = {"withheld": True}
                continue
            entry: dict[str, Any] = {}
            mean = global_mean.get(dataset, {}).get(feature)
            if mean is not None:
                entry["sum_sq_global"] = float(np.sum((values - mean) ** 2))
                entry["sum_sq_local"] = float(np.sum((values - values.mean()) ** 2))
            edges = bin_edges.get(feature)
            if edges is not None:
                counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
                entry["histogram"] = [int(c) for c in counts]
            out[dataset][feature] = entry
    return out
