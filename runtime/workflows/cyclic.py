"""Server-controlled cyclic weight transfer: the model visits the sites one after another.

Each round the server sends the current model to the first site of the round's order,
takes its result as the new model, sends that to the next site, and so on. The order is
the sorted site list (``order="fixed"``) or a fresh shuffle every round (``"random"``).
A site that fails is skipped (the model goes on unchanged to the next site); a site that
fails twice in a row is dropped; when fewer than ``min_clients`` sites remain, or a round
ends with no site having trained, the job fails with the reason.
"""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np

from fljob.runtime.ccwf.records import RoundRecorder
from fljob.runtime.client_api.model import FLModel, ParamsType
from fljob.runtime.persistors.base import ModelPersistor, Params
from fljob.runtime.workflows.base import Task, Workflow, WorkflowContext, WorkflowError

GLOBAL_MODEL = "global_model"
ORDERS = ("fixed", "random")
#: consecutive failures after which a site is left out of later rounds
MAX_CONSECUTIVE_FAILURES = 2


def apply_result(params: Params, result: FLModel, site: str) -> Params:
    """The model after ``site``'s result: its params (FULL) or ``params`` + its diff."""
    if not isinstance(result.params, dict) or not result.params:
        raise WorkflowError(f"{site} sent no params")
    out = {name: np.asarray(value) for name, value in params.items()}
    for name, value in result.params.items():
        array = np.asarray(value)
        if name in out and array.shape != out[name].shape:
            raise WorkflowError(
                f"{site} sent {name} with shape {array.shape}, the model has {out[name].shape}"
            )
        if result.params_type is ParamsType.DIFF and name in out:
            out[name] = (out[name] + array).astype(out[name].dtype)
        else:
            out[name] = array
    return out


def round_order(sites: list[str], order: str, rng: random.Random) -> list[str]:
    ordered = sorted(sites)
    if order == "random":
        rng.shuffle(ordered)
    return ordered


class Cyclic(Workflow):
    """The model travels site to site, ``num_rounds`` times around."""

    def __init__(
        self,
        num_rounds: int = 3,
        persistor_id: str = "persistor",
        order: str = "fixed",
        train_task_name: str = "train",
        min_clients: int = 1,
    ) -> None:
        if order not in ORDERS:
            raise WorkflowError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
        if num_rounds < 0 or min_clients < 1:
            raise WorkflowError("Cyclic needs num_rounds >= 0 and min_clients >= 1")
        self.num_rounds = int(num_rounds)
        self.persistor_id = persistor_id
        self.order = order
        self.train_task_name = train_task_name
        self.min_clients = int(min_clients)
        self._rng = random.Random()
        self._failures: dict[str, int] = {}

    def run(self, ctx: WorkflowContext) -> None:
        persistor = ctx.get_component(self.persistor_id, ModelPersistor)
        recorder = RoundRecorder(ctx.result_dir, "Cyclic")
        params = persistor.load_initial(ctx.app_dir)
        try:
            for round_num in range(self.num_rounds):
                ctx.check_abort()
                params = self._round(ctx, recorder, params, round_num)
                persistor.save(params, ctx.result_dir / GLOBAL_MODEL)
        except WorkflowError as exc:
            recorder.write_summary("failed", exc.message)
            raise
        path = persistor.save(params, ctx.result_dir / GLOBAL_MODEL)
        recorder.write_summary("finished", None, rounds=self.num_rounds, final_model=path.name)
        ctx.logger.info("Cyclic finished after %d rounds; model in %s", self.num_rounds, path)

    def _eligible(self, ctx: WorkflowContext) -> list[str]:
        sites = [s for s in ctx.comm.sites() if self._failures.get(s, 0) < MAX_CONSECUTIVE_FAILURES]
        if len(sites) < self.min_clients:
            dropped = sorted(s for s, n in self._failures.items() if n >= MAX_CONSECUTIVE_FAILURES)
            raise WorkflowError(
                f"only {len(sites)} usable site(s), min_clients is "
                f"{self.min_clients}"
                + (f" (dropped after repeated failures: {', '.join(dropped)})" if dropped else "")
            )
        return sites

    def _round(
        self, ctx: WorkflowContext, recorder: RoundRecorder, params: Params, round_num: int
    ) -> Params:
        started = time.monotonic()
        order = round_order(self._eligible(ctx), self.order, self._rng)
        ctx.emit("round_started", round=round_num, total_rounds=self.num_rounds, sites=order)
        metrics: dict[str, dict[str, Any]] = {}
        failed: list[str] = []
        for site in order:
            ctx.check_abort()
            params, ok = self._visit(ctx, recorder, params, round_num, site, metrics)
            if not ok:
                failed.append(site)
        if not metrics:
            raise WorkflowError(
                f"round {round_num}: no site trained the model (failed: {', '.join(failed)})"
            )
        ctx.emit(
            "round_done",
            round=round_num,
            total_rounds=self.num_rounds,
            metrics=metrics,
            failed=failed,
            order=order,
            seconds=time.monotonic() - started,
        )
        return params

    def _visit(
        self,
        ctx: WorkflowContext,
        recorder: RoundRecorder,
        params: Params,
        round_num: int,
        site: str,
        metrics: dict[str, dict[str, Any]],
    ) -> tuple[Params, bool]:
        task = Task(
            self.train_task_name,
            FLModel(
                params=params,
                params_type=ParamsType.FULL,
                current_round=round_num,
                total_rounds=self.num_rounds,
            ),
        )
        result = ctx.comm.send_and_wait(task, site)
        try:
            if not result.ok:
                raise WorkflowError(result.error or "failed")
            new_params = apply_result(params, result.model, site)
        except WorkflowError as exc:
            self._failures[site] = self._failures.get(site, 0) + 1
            ctx.logger.warning("round %d: %s failed, skipped: %s", round_num, site, exc.message)
            recorder.record(round_num, site, "train", False, error=exc.message)
            return params, False
        self._failures[site] = 0
        site_metrics = dict(result.model.metrics or {})
        metrics[site] = site_metrics
        ctx.log_metrics(round_num, site, site_metrics, num_steps=result.model.num_steps)
        recorder.record(round_num, site, "train", True, metrics=site_metrics)
        return new_params, True
