"""Client-controlled workflows: the sites run the workflow, the server only manages the
lifecycle and relays sealed peer-to-peer messages it cannot read.

Server side (``workflows``): ``SwarmServerController``, ``CyclicServerController``,
``CrossSiteEvalServerController``. Site side (``executors``): ``SwarmClientExecutor``
(tasks ``swarm_hello``, ``swarm_exchange``), ``CyclicClientExecutor`` (``cyclic_hello``,
``cyclic_exchange``), ``CrossSiteEvalClientExecutor`` (``cse_hello``, ``cse_exchange``).
Classes load lazily by name.
"""

from __future__ import annotations

import importlib
from typing import Any

_CLASSES: dict[str, str] = {
    "SwarmServerController": "fljob.runtime.ccwf.server",
    "CyclicServerController": "fljob.runtime.ccwf.server",
    "CrossSiteEvalServerController": "fljob.runtime.ccwf.server",
    "SwarmClientExecutor": "fljob.runtime.ccwf.swarm",
    "CyclicClientExecutor": "fljob.runtime.ccwf.cyclic",
    "CrossSiteEvalClientExecutor": "fljob.runtime.ccwf.cse",
}

#: the task names each client executor answers, for client configs
TASKS: dict[str, tuple[str, str]] = {
    "SwarmClientExecutor": ("swarm_hello", "swarm_exchange"),
    "CyclicClientExecutor": ("cyclic_hello", "cyclic_exchange"),
    "CrossSiteEvalClientExecutor": ("cse_hello", "cse_exchange"),
}


def __getattr__(name: str) -> Any:
    if name in _CLASSES:
        return getattr(importlib.import_module(_CLASSES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["TASKS", *_CLASSES]
