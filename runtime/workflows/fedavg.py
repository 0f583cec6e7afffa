"""Scatter-and-gather FedAvg, on the controller API of :mod:`.base`."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from fljob.runtime.client_api.model import FLModel, ParamsType
from fljob.runtime.persistors.base import MODEL_SUFFIX, ModelPersistor, Params
from fljob.runtime.workflows.aggregate import WeightedAggregator, weighted_metrics
from fljob.runtime.workflows.base import (
    Task,
    TaskResult,
    Workflow,
    WorkflowContext,
    WorkflowError,
)

GLOBAL_MODEL = "global_model"
BEST_MODEL = "best_global_model"


class FedAvg(Workflow):
    """Each round: send the global model to every site, average the results weighted by
    ``NUM_STEPS_CURRENT_ROUND``, save the new global model.

    Each round waits for every site that is alive (a failing site answers with its error
    at once, a dead one is dropped after the job's heartbeat timeout, ``train_timeout``
    bounds the round); with ``wait_time_after_min_received > 0`` it waits at most that
    long once ``min_clients`` results are in. A round goes on when at least
    ``min_clients`` sites answered well (the others are logged and skipped); with
    fewer, the job fails. The global model is saved
    after every round and at the end (``global_model.safetensors``); the one with the
    best weighted ``key_metric`` (reported by the sites along with their update, so it
    measures the model they received) is kept as ``best_global_model.safetensors``.
    """

    def __init__(
        self,
        num_rounds: int = 5,
        min_clients: int = 1,
        wait_time_after_min_received: float = 0,
        train_timeout: float = 0,
        persistor_id: str = "persistor",
        key_metric: str = "accuracy",
        train_task_name: str = "train",
    ) -> None:
        if num_rounds < 0 or min_clients < 1:
            raise WorkflowError("FedAvg needs num_rounds >= 0 and min_clients >= 1")
        self.num_rounds = int(num_rounds)
        self.min_clients = int(min_clients)
        self.wait_time_after_min_received = float(wait_time_after_min_received)
        self.train_timeout = float(train_timeout)
        self.persistor_id = persistor_id
        self.key_metric = key_metric
        self.train_task_name = train_task_name
        self.best_metric: float | None = None

    def run(self, ctx: WorkflowContext) -> None:
        persistor = ctx.get_component(self.persistor_id, ModelPersistor)
        # The global model lives in this one-item box, never in a variable of this
        # frame: each round takes it out, so once every site has it and the results
        # cover it, nothing keeps a large model alive (see WeightedAggregator).
        box = [persistor.load_initial(ctx.app_dir)]
        ctx.logger.info("FedAvg: %d rounds, min_clients=%d", self.num_rounds, self.min_clients)
        for round_num in range(self.num_rounds):
            ctx.check_abort()
            box.append(self._round(ctx, persistor, box, round_num))
        if self.num_rounds == 0:  # otherwise the last round saved it already
            persistor.save(box[0], ctx.result_dir / GLOBAL_MODEL)
        ctx.logger.info("FedAvg finished after %d rounds", self.num_rounds)

    def _round(
        self, ctx: WorkflowContext, persistor: ModelPersistor, box: list[Params], round_num: int
    ) -> Params:
        started = time.monotonic()
        targets = ctx.comm.sites()
        ctx.emit(
            "round_started",
            round=round_num,
            total_rounds=self.num_rounds,
            sites=targets,
            started_at=time.time(),  # wall clock: lets a benchmark time each direction
        )
        aggregator = WeightedAggregator(box[0])
        # wait_time_after_min_received == 0: wait for every site still alive (a failed or
        # gone site answers at once with an error); > 0: once min_clients results are
        # in, wait at most that long for the others.
        grace = self.wait_time_after_min_received
        arrivals: dict[str, float] = {}  # site -> seconds from the round's start to its fold
        results = ctx.comm.broadcast_and_wait(
            self._task(box.pop(), round_num),
            targets,
            min_responses=self.min_clients if grace > 0 else 0,
            timeout=self.train_timeout,
            wait_time_after_min_received=grace,
            on_result=lambda result: _fold(aggregator, result, arrivals, started),
        )
        ctx.check_abort()
        good = []
        for result in results:
            if not result.ok:
                ctx.logger.warning("round %d: %s failed: %s", round_num, result.site, result.error)
                continue
            good.append((result.site, result.model))
            ctx.log_metrics(
                round_num, result.site, result.model.metrics or {}, num_steps=result.model.num_steps
            )
        if len(good) < self.min_clients:
            errors = "; ".join(f"{r.site}: {r.error}" for r in results if not r.ok)
            raise WorkflowError(
                f"round {round_num}: {len(good)} good result(s), "
                f"min_clients is {self.min_clients}" + (f" ({errors})" if errors else "")
            )
        params = aggregator.result()
        metrics = weighted_metrics(good)
        saved = persistor.save(params, ctx.result_dir / GLOBAL_MODEL)
        self._keep_best(ctx, saved, metrics, round_num)
        ctx.emit(
            "round_done",
            round=round_num,
            total_rounds=self.num_rounds,
            metrics={site: dict(model.metrics or {}) for site, model in good},
            failed=[r.site for r in results if not r.ok],
            aggregate=metrics,
            seconds=time.monotonic() - started,
            arrivals=arrivals,
        )
        return params

    def _task(self, params: Params, round_num: int) -> Task:
        model = FLModel(
            params=params,
            params_type=ParamsType.FULL,
            current_round=round_num,
            total_rounds=self.num_rounds,
        )
        return Task(self.train_task_name, model)

    def _keep_best(
        self, ctx: WorkflowContext, saved: Path, metrics: dict[str, float], round_num: int
    ) -> None:
        """Keep the model just saved as the best one when its key metric improved."""
        value = metrics.get(self.key_metric)
        if value is None or (self.best_metric is not None and value <= self.best_metric):
            return
        self.best_metric = value
        _link_or_copy(saved, ctx.result_dir / (BEST_MODEL + MODEL_SUFFIX))
        ctx.logger.info("round %d: new best %s = %.6g", round_num, self.key_metric, value)


def _fold(
    aggregator: WeightedAggregator, result: TaskResult, arrivals: dict[str, float], started: float
) -> None:
    """Add a site's model to the round's average as it arrives, then let it go: the
    server holds one running sum, not every site's model."""
    model = result.model
    aggregator.add(result.site, model, consume=result.owned)
    model.params = None
    arrivals[result.site] = time.monotonic() - started


def _link_or_copy(source: Path, target: Path) -> None:
    """``target`` gets ``source``'s content without serializing the model again: a hard
    link (the next round's save replaces the global file, the link keeps this one)."""
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)
