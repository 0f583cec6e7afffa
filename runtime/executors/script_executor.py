"""``ScriptExecutor``: runs tasks through a training script that uses the Client API.

The script is started by the launcher component (``launcher_id``) on the first task, once
per job (``launch_once``), and served over a :class:`LocalChannel`. A task ends with a
clear :class:`TaskFailed` when the script exits before answering (its exit code and last
output lines are in the message and the job's log), when it stops giving signs of life
for ``heartbeat_timeout`` seconds, or when it does not connect within that time.

With ``launch_external_process=False`` (FLARE's option of the same name) the job process
runs the script itself, in a thread (:mod:`.inprocess`): the launcher's command must be
``python3 [-u] custom/SCRIPT.py [ARGS...]``, and the Client API hands tasks and results
over by reference through an in-memory channel (no serialisation, no copy: the second
hop of a large model disappears). Trade-off: the script shares the job process, so a
crash in native code (or a leak) takes the job process down -- still not the site, since
each job has its own process. A Python exception only fails the task, with its type,
message and last traceback lines. A script that never calls ``flare.init()`` hits
``heartbeat_timeout``; one that never answers hits the workflow's task timeout, as with
a subprocess. Tensors given to ``flare.send`` are streamed to the server after ``send``
returns: a script must not change them in place before its next ``flare.receive()``
returns (the usual loop never does). With ``params_transfer_type="DIFF"`` the received
params are copied once, since the script may train on them in place.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from fljob.runtime.client_api.model import FLModel, ParamsType, model_to_payload
from fljob.runtime.executors.base import Executor, SiteContext, TaskFailed
from fljob.runtime.executors.channel import LocalChannel

if TYPE_CHECKING:
    from fljob.runtime.client_api.memory import MemoryChannel
    from fljob.runtime.executors.inprocess import InProcessScript
from fljob.runtime.launchers.subprocess_launcher import LaunchedScript, SubprocessLauncher


class ScriptExecutor(Executor):
    def __init__(
        self,
        launcher_id: str = "launcher",
        params_exchange_format: str = "numpy",
        params_transfer_type: str = "FULL",
        heartbeat_timeout: float = 60,
        train_task_name: str = "train",
        evaluate_task_name: str = "validate",
        submit_model_task_name: str = "submit_model",
        launch_external_process: bool = True,
    ) -> None:
        if params_exchange_format not in ("numpy", "pytorch"):
            raise ValueError("params_exchange_format must be 'numpy' or 'pytorch'")
        self.launcher_id = launcher_id
        self.exchange_format = params_exchange_format
        self.transfer_type = ParamsType(str(params_transfer_type).upper())
        self.heartbeat_timeout = float(heartbeat_timeout)
        self.task_names = {
            "train": train_task_name,
            "validate": evaluate_task_name,
            "submit_model": submit_model_task_name,
        }
        self.launch_external_process = bool(launch_external_process)
        self._channel: LocalChannel | MemoryChannel | None = None
        self._script: LaunchedScript | InProcessScript | None = None
        self._exit_code: int | None = None
        self._count = 0

    # ----- Executor -----

    def initialize(self, ctx: SiteContext) -> None:
        """With ``launch_once``, start the script now: it loads while the job starts."""
        if self._launcher(ctx).launch_once:
            self._ensure_channel(ctx)
            self._ensure_script(ctx)

    def execute(self, task_name: str, data: Any, ctx: SiteContext) -> Any:
        from fljob.runtime import serde

        if not isinstance(data, FLModel):
            raise TaskFailed(f"task {task_name!r} carries no FLModel for the script")
        self._ensure_channel(ctx)
        self._ensure_script(ctx)  # in-process: a relaunch brings a fresh channel
        channel = self._channel
        assert channel is not None
        self._count += 1
        task_id = f"{task_name}-{self._count}"
        if isinstance(channel, LocalChannel):
            channel.offer(task_id, task_name, serde.encode(model_to_payload(data)))
        else:
            channel.offer(task_id, task_name, self._for_script(data))
        try:
            result = self._wait_result(channel, ctx, task_name)
        finally:
            channel.withdraw()
        if not self._launcher(ctx).launch_once:
            channel.end()  # a per-task script leaves its loop after one task
            self._finish_script(ctx, grace=self.heartbeat_timeout)
        return self._as_transfer_type(result, data)

    def finalize(self, ctx: SiteContext) -> None:
        if self._channel is not None:
            self._channel.end()
        self._finish_script(ctx, grace=0.2 if ctx.abort_event.is_set() else 5.0)
        if isinstance(self._channel, LocalChannel):
            self._channel.stop()
        self._channel = None

    # ----- internals -----

    def _launcher(self, ctx: SiteContext) -> SubprocessLauncher:
        launcher = ctx.get_component(self.launcher_id)
        if not hasattr(launcher, "launch"):
            raise TaskFailed(f"component {self.launcher_id!r} is not a launcher")
        return launcher

    def _ensure_channel(self, ctx: SiteContext) -> LocalChannel | MemoryChannel:
        if self._channel is None and not self.launch_external_process:
            self._channel = self._memory_channel(ctx)
        if self._channel is None:
            interval = max(min(self.heartbeat_timeout / 4, 5.0), 0.05)
            self._channel = LocalChannel(
                site_name=ctx.site_name,
                job_id=ctx.job_id,
                exchange_format=self.exchange_format,
                heartbeat_interval=interval,
                task_names=self.task_names,
                logger=ctx.logger,
            )
        return self._channel

    def _memory_channel(self, ctx: SiteContext) -> MemoryChannel:
        from fljob.runtime.client_api.memory import MemoryChannel

        return MemoryChannel(
            site_name=ctx.site_name,
            job_id=ctx.job_id,
            exchange_format=self.exchange_format,
            task_names=self.task_names,
        )

    def _ensure_script(self, ctx: SiteContext) -> None:
        if self._script is not None and self._exit_code is None:
            return
        if not self.launch_external_process:
            self._start_in_process(ctx)
            return
        from fljob.runtime.client_api import protocol

        assert isinstance(self._channel, LocalChannel)
        self._channel.reset_contact()
        self._exit_code = None
        env = {
            protocol.ENV_CHANNEL: self._channel.address,
            protocol.ENV_SITE_NAME: ctx.site_name,
            protocol.ENV_JOB_ID: ctx.job_id,
        }
        self._script = self._launcher(ctx).launch(ctx.app_dir, env, ctx.logger)
        if not self._channel.started:
            # Started after the launch: the script's start-up (interpreter, imports)
            # overlaps with the channel's; its hello waits for the socket.
            self._channel.start()
        threading.Thread(
            target=self._watch, args=(self._script, self._channel), daemon=True, name="script-watch"
        ).start()

    def _start_in_process(self, ctx: SiteContext) -> None:
        from fljob.runtime.executors.inprocess import InProcessScript

        if self._script is not None or self._channel is None:
            # a relaunch: a fresh channel, so that a script thread that was abandoned
            # (blocked in native code) can never take the new script's tasks
            if self._channel is not None:
                self._channel.end()
            self._channel = self._memory_channel(ctx)
        channel = self._channel
        assert not isinstance(channel, LocalChannel)
        self._exit_code = None
        launcher = self._launcher(ctx)
        self._script = InProcessScript(launcher.script, ctx.app_dir, channel, ctx.logger)
        self._script.start()
        threading.Thread(
            target=self._watch, args=(self._script, channel), daemon=True, name="script-watch"
        ).start()

    def _for_script(self, data: FLModel) -> FLModel:
        """The task's model for an in-process script: the same arrays (made writable;
        copied only for DIFF, which needs the received values after training)."""
        params = data.params
        if isinstance(params, dict):
            params = {
                k: _writable(v, copy=self.transfer_type is ParamsType.DIFF)
                for k, v in params.items()
            }
        return dataclasses.replace(data, params=params, meta=dict(data.meta))

    def _watch(self, script: LaunchedScript | InProcessScript, channel: Any) -> None:
        code = script.wait()
        with channel.cond:
            if script is self._script:
                self._exit_code = code
            channel.cond.notify_all()

    def _wait_result(
        self, channel: LocalChannel | MemoryChannel, ctx: SiteContext, task_name: str
    ) -> FLModel:
        started = time.monotonic()
        with channel.cond:
            while True:
                if channel.result is not None:
                    return channel.result
                if ctx.abort_event.is_set():
                    raise TaskFailed(f"task {task_name!r} aborted")
                if self._exit_code is not None:
                    raise TaskFailed(self._crash_message(task_name))
                seen = channel.last_seen if channel.last_seen is not None else started
                silent_for = time.monotonic() - max(seen, started)
                if silent_for > self.heartbeat_timeout:
                    what = (
                        "did not connect" if channel.last_seen is None else "gave no sign of life"
                    )
                    self._stop_script(ctx)
                    raise TaskFailed(
                        f"task {task_name!r}: the training script {what} for "
                        f"{self.heartbeat_timeout:g} s (heartbeat_timeout); "
                        f"it was stopped"
                    )
                channel.cond.wait(self.heartbeat_timeout - silent_for + 0.01)

    def _crash_message(self, task_name: str) -> str:
        tail = self._script.output_tail() if self._script is not None else ""
        error = getattr(self._script, "error", None)
        if not self.launch_external_process:
            message = (
                f"task {task_name!r}: the in-process training script "
                + (f"raised {error}" if error else f"ended (exit code {self._exit_code})")
                + " before sending a result"
            )
            return message + (f"; traceback (last lines):\n{tail}" if tail else "")
        message = (
            f"task {task_name!r}: the training script exited with code "
            f"{self._exit_code} before sending a result"
        )
        return message + (f"; its last output:\n{tail}" if tail else "")

    def _stop_script(self, ctx: SiteContext) -> None:
        if self._script is not None:
            ctx.logger.warning(
                "stopping training script (%s)",
                "in-process" if not self.launch_external_process else f"pid {self._script.pid}",
            )
            self._exit_code = self._script.stop()

    def _finish_script(self, ctx: SiteContext, grace: float) -> None:
        script = self._script
        if script is None:
            return
        code = script.wait(grace)
        if code is None:
            ctx.logger.warning("training script did not exit within %.1f s; stopping it", grace)
            code = script.stop()
        self._exit_code = code
        ctx.logger.info("training script exited with code %s", code)

    def _as_transfer_type(self, result: FLModel, sent: FLModel) -> FLModel:
        """With DIFF transfer, a FULL result becomes its difference to the received model."""
        if (
            self.transfer_type is ParamsType.DIFF
            and result.params_type is ParamsType.FULL
            and isinstance(result.params, dict)
            and isinstance(sent.params, dict)
        ):
            result.params = {
                k: np.asarray(v) - np.asarray(sent.params[k]) if k in sent.params else v
                for k, v in result.params.items()
            }
            result.params_type = ParamsType.DIFF
        return result


def _writable(value: Any, *, copy: bool) -> Any:
    """A numpy array the script may change in place (a small body arrives read-only)."""
    if isinstance(value, np.ndarray) and (copy or not value.flags.writeable):
        return np.array(value)
    return value
