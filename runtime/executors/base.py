"""What a site-side executor is: ``execute(task_name, data, ctx) -> result data``.

An executor is built from the client config's ``executors`` list. The site's job
process calls :meth:`Executor.initialize` once after deploying, :meth:`Executor.execute`
for every task whose name the entry lists, in the order the server sends them, and
:meth:`Executor.finalize` once when the job ends.
Raise :class:`TaskFailed` to answer a task with a clear error instead of a result.
"""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fljob.errors import JobFailedError


class TaskFailed(JobFailedError):
    """A task could not be done; the message goes to the server as the task's error."""

    code = "FLJ761"


@dataclass
class SiteContext:
    """What an executor knows about the job it serves on this site."""

    site_name: str
    job_id: str
    app_dir: Path  #: the app's folder (holds config/ and custom/)
    work_dir: Path  #: a private scratch folder of this job on this site
    components: Mapping[str, Any]
    logger: logging.Logger
    abort_event: threading.Event = field(default_factory=threading.Event)
    props: dict[str, Any] = field(default_factory=dict)  #: the current task's props
    #: this site's TlsIdentity; client-controlled workflows sign and unwrap peer messages
    identity: Any = None
    #: ``run_task(name, data) -> result`` runs another task of this app through its
    #: executor (client-controlled workflows train and validate this way)
    run_task: Callable[[str, Any], Any] | None = None

    def get_component(self, component_id: str) -> Any:
        if component_id not in self.components:
            known = ", ".join(sorted(self.components)) or "none"
            raise TaskFailed(f"no component with id {component_id!r} (known: {known})")
        return self.components[component_id]


class Executor(abc.ABC):
    @abc.abstractmethod
    def execute(self, task_name: str, data: Any, ctx: SiteContext) -> Any:
        """Do one task and return its result (an FLModel or a serde-encodable value)."""

    def initialize(self, ctx: SiteContext) -> None:  # noqa: B027 - optional hook
        """Prepare before the first task (called once, right after the job is deployed)."""

    def finalize(self, ctx: SiteContext) -> None:  # noqa: B027 - optional hook
        """Release what the executor holds; called once when the job ends."""
