"""``StatisticsExecutor``: a site's half of federated statistics (task ``fed_stats``).

``data_loader`` names a function in the app's ``custom/`` folder (``"module.function"``)
that returns ``{dataset: {feature: array}}``. It is called once, on the first task; the
data never leaves the site, only the figures of :mod:`fljob.runtime.stats.local` do.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from fljob.runtime.executors.base import Executor, SiteContext, TaskFailed
from fljob.runtime.stats.local import Data, StatisticsError, check_data, deviations, summarize


class StatisticsExecutor(Executor):
    """Answers the ``summary`` and ``deviation`` phases of the Statistics workflow."""

    def __init__(self, data_loader: str) -> None:
        module, _, function = str(data_loader).rpartition(".")
        if not module or not function:
            raise TaskFailed(
                f"data_loader must be 'module.function', not {data_loader!r}",
                hint="the module lives in the app's custom/ folder",
            )
        self.data_loader = data_loader
        self._data: Data | None = None

    def _load(self, ctx: SiteContext) -> Data:
        if self._data is None:
            module, _, function = self.data_loader.rpartition(".")
            try:
                loader = getattr(importlib.import_module(module), function)
            except (ImportError, AttributeError) as exc:
                raise TaskFailed(
                    f"cannot import data_loader {self.data_loader!r}: {exc}",
                    hint="the module must be in the app's custom/ folder",
                ) from None
            try:
                data = loader(*_site_argument(loader, ctx.site_name))
            except Exception as exc:  # user code: report it as the task's error
                raise TaskFailed(
                    f"data_loader {self.data_loader!r} raised {type(exc).__name__}: {exc}"
                ) from None
            self._data = check_data(data)
            ctx.logger.info("statistics: loaded datasets %s", ", ".join(sorted(self._data)))
        return self._data

    def execute(self, task_name: str, data: Any, ctx: SiteContext) -> Any:
        if not isinstance(data, dict) or "phase" not in data:
            raise TaskFailed(f"task {task_name!r} carries no statistics phase")
        try:
            site_data = self._load(ctx)
            min_count = int(data.get("min_count", 0))
            if data["phase"] == "summary":
                return summarize(site_data, min_count=min_count)
            if data["phase"] == "deviation":
                return deviations(
                    site_data,
                    data.get("global_mean") or {},
                    data.get("bin_edges") or {},
                    min_count=min_count,
                )
        except StatisticsError as exc:
            raise TaskFailed(exc.message) from None
        raise TaskFailed(f"unknown statistics phase {data['phase']!r}")


def _site_argument(loader: Callable[..., Any], site_name: str) -> tuple[str, ...]:
    """``(site_name,)`` when the loader takes a parameter (e.g. ``load_data(site_name)``)."""
    try:
        params = list(inspect.signature(loader).parameters.values())
    except (TypeError, ValueError):
        return ()
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return (site_name,) if params and params[0].kind in positional else ()
