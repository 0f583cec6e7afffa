"""Server-side workflows and the controller API they are written on (see :mod:`.base`).

Workflow classes load lazily by name (``fljob.runtime.workflows.FedAvg``), so a job
pays only for the workflows it uses. To add one, add its name and module to
:data:`_WORKFLOWS`.
"""

from __future__ import annotations

import importlib
from typing import Any

from fljob.runtime.workflows.base import (
    Communicator,
    JobAborted,
    Task,
    TaskResult,
    Workflow,
    WorkflowContext,
    WorkflowError,
)

#: public class name -> module that defines it
_WORKFLOWS: dict[str, str] = {
    "FedAvg": "fljob.runtime.workflows.fedavg",
    "CrossSiteEval": "fljob.runtime.workflows.cross_site_eval",
    "Cyclic": "fljob.runtime.workflows.cyclic",
    "Statistics": "fljob.runtime.workflows.statistics",
}


def __getattr__(name: str) -> Any:
    if name in _WORKFLOWS:
        return getattr(importlib.import_module(_WORKFLOWS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Communicator",
    "JobAborted",
    "Task",
    "TaskResult",
    "Workflow",
    "WorkflowContext",
    "WorkflowError",
    *_WORKFLOWS,
]
