"""Client-side cross-site evaluation, after a swarm or cyclic training (or on its own).

Each site takes its local model (task ``submit_model`` through its own executor) and
sends it, sealed, to every other participant (``model {owner, params}``; ``params`` is
null when the site has no local model, so nobody waits for it). Each site validates
every model it receives, its own local model, and the job's final model when a
client-controlled training left one in its work folder (``global_model``). Metrics go to
the server in progress reports, which builds the matrix; model weights never do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fljob.runtime.ccwf.peer import DONE, FINAL_MODEL_FILE, Outbox, PeerExecutor
from fljob.runtime.client_api.model import FLModel, ParamsType
from fljob.runtime.executors.base import SiteContext, TaskFailed
from fljob.runtime.persistors.base import MODEL_SUFFIX, load_params

GLOBAL_MODEL = "global_model"


class CrossSiteEvalClientExecutor(PeerExecutor):
    """A site of client-side CSE (tasks ``cse_hello`` and ``cse_exchange``)."""

    prefix = "cse_"

    def __init__(
        self, validation_task_name: str = "validate", submit_model_task_name: str = "submit_model"
    ) -> None:
        super().__init__()
        self.validation_task_name = validation_task_name
        self.submit_model_task_name = submit_model_task_name
        self.heard: set[str] = set()  #: peers whose model (or its absence) arrived
        self.queue: list[tuple[str, dict[str, Any]]] = []  #: (owner, params) to validate

    def start(self, out: Outbox, ctx: SiteContext) -> None:
        params = self._local_model(out, ctx)
        for site in self.alive:
            if site != self.me:
                out.send(site, {"kind": "model", "owner": self.me, "params": params})
        if params is not None:
            self.queue.append((self.me, params))
        final = Path(ctx.work_dir) / f"{FINAL_MODEL_FILE}{MODEL_SUFFIX}"
        if final.is_file():
            self.queue.append((GLOBAL_MODEL, dict(load_params(final))))
        self.busy = True  # send the local model before validating anything

    def _local_model(self, out: Outbox, ctx: SiteContext) -> dict[str, Any] | None:
        try:
            model = self.run_task(ctx, self.submit_model_task_name, FLModel(params=None))
        except TaskFailed as exc:
            out.report("submit_model", ok=False, error=exc.message)
            return None
        if not model.params:
            out.report("submit_model", ok=False, error="the script returned no params")
            return None
        out.report("submit_model")
        return dict(model.params)

    def on_message(
        self, sender: str, message: dict[str, Any], out: Outbox, ctx: SiteContext
    ) -> None:
        if message.get("kind") != "model" or sender in self.heard:
            return
        self.heard.add(sender)
        if message.get("params"):
            self.queue.append((str(message.get("owner", sender)), message["params"]))

    def step(self, out: Outbox, ctx: SiteContext) -> None:
        if self.state == DONE:
            return
        if self.busy and out.items:
            return  # first exchange: let the local model go out first
        self.busy = False
        while self.queue:
            owner, params = self.queue.pop(0)
            self._validate(owner, params, out, ctx)
        if all(s in self.heard for s in self.alive if s != self.me):
            self.state = DONE
            out.report("done")

    def _validate(self, owner: str, params: dict[str, Any], out: Outbox, ctx: SiteContext) -> None:
        task = FLModel(params=params, params_type=ParamsType.FULL, meta={"model_owner": owner})
        try:
            result = self.run_task(ctx, self.validation_task_name, task)
        except TaskFailed as exc:
            out.report("validate", ok=False, model=owner, error=exc.message)
            return
        out.report("validate", model=owner, metrics=dict(result.metrics or {}))
