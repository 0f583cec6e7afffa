"""Site-side executors (``fljob.runtime.executors.ScriptExecutor`` ...).

Classes load lazily by name so that a site pays only for the executors its job uses;
add new ones to :data:`_EXECUTORS`.
"""

from __future__ import annotations

import importlib
from typing import Any

from fljob.runtime.executors.base import Executor, SiteContext, TaskFailed

_EXECUTORS: dict[str, str] = {
    "ScriptExecutor": "fljob.runtime.executors.script_executor",
    "StatisticsExecutor": "fljob.runtime.executors.statistics",
}


def __getattr__(name: str) -> Any:
    if name in _EXECUTORS:
        return getattr(importlib.import_module(_EXECUTORS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Executor", "SiteContext", "TaskFailed", *_EXECUTORS]
