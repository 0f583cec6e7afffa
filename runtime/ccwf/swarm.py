"""Swarm learning: each round one site aggregates, the others send it their results.

Messages between sites (all sealed, relayed by the server):

- ``learn {round, params, aggregator}``: train round ``round`` on ``params`` and send the
  result to ``aggregator``. The starting site sends ``learn`` for round 0 with its
  persistor's initial model; each aggregator sends it for the next round with the new
  aggregate and the next aggregator (picked at random among the alive sites).
- ``result {round, params, params_type, metrics, num_steps}``: a site's training result.
- ``final {round, params}``: the last aggregate; every site keeps it and is done.

A site that drops out is skipped: the aggregator stops waiting for it once the server says
it is gone. If the aggregator itself drops, the next alive site after it (sorted order)
takes over the round; every site resends its cached result of that round there, so
nobody trains twice. With fewer sites left than ``min_responses_required``, the
aggregator fails the workflow with the reason.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from fljob.runtime.ccwf.peer import DONE, Outbox, PeerExecutor
from fljob.runtime.client_api.model import FLModel, ParamsType
from fljob.runtime.executors.base import SiteContext, TaskFailed
from fljob.runtime.workflows.aggregate import weighted_average, weighted_metrics
from fljob.runtime.workflows.base import WorkflowError


class SwarmClientExecutor(PeerExecutor):
    """A site of a swarm (tasks ``swarm_hello`` and ``swarm_exchange``)."""

    prefix = "swarm_"

    def __init__(
        self,
        learn_task_name: str = "train",
        persistor_id: str = "persistor",
        min_responses_required: int = 1,
    ) -> None:
        super().__init__()
        self.learn_task_name = learn_task_name
        self.persistor_id = persistor_id
        self.min_responses_required = max(1, int(min_responses_required))
        self.round = -1  #: the round this site works on (-1: none yet)
        self.model: dict[str, Any] | None = None  #: the model of ``self.round``
        self.aggregator: str | None = None  #: who aggregates ``self.round``
        self.result: dict[str, Any] | None = None  #: this site's result of ``self.round``
        self.collected: dict[str, dict[str, Any]] = {}  #: results, when aggregating
        self.pending_train = False
        self._rng = random.Random()

    @property
    def num_rounds(self) -> int:
        return int(self.config.get("num_rounds", 1))

    # ----- protocol -----

    def start(self, out: Outbox, ctx: SiteContext) -> None:
        starter = self.config.get("starting_client") or self.participants[0]
        self.aggregator = starter if starter in self.alive else self.next_alive_after(starter)
        if self.aggregator == self.me:
            self._open_round(0, self._initial_model(ctx), self.me, out)

    def on_message(
        self, sender: str, message: dict[str, Any], out: Outbox, ctx: SiteContext
    ) -> None:
        kind, round_num = message.get("kind"), int(message.get("round", -1))
        if kind == "learn" and round_num >= self.round:
            self._learn(round_num, message["params"], str(message["aggregator"]))
        elif kind == "result" and round_num == self.round and self.aggregator == self.me:
            self.collected[sender] = message
        elif kind == "final" and self.state != DONE:
            self._finish(message["params"], round_num, out, ctx, aggregated=False)

    def on_membership(self, gone: list[str], out: Outbox, ctx: SiteContext) -> None:
        if self.aggregator is None or self.aggregator in self.alive:
            return
        lost = self.aggregator
        self.aggregator = self.next_alive_after(lost)
        out.report(
            "aggregator_lost",
            self.round,
            ok=False,
            error=f"{lost} is gone",
            takeover=self.aggregator,
        )
        if self.aggregator != self.me:
            if self.result is not None and self.aggregator is not None:
                out.send(self.aggregator, self.result)  # resend, do not retrain
            return
        if self.round < 0:  # the starting site left before round 0 began
            self._open_round(0, self._initial_model(ctx), self.me, out)
            return
        self.collected = {}
        if self.result is not None:
            self.collected[self.me] = self.result

    def step(self, out: Outbox, ctx: SiteContext) -> None:
        # Deliver what is ready (e.g. ``learn`` to the peers) before training, so the
        # peers start at once; the hub calls again right away while ``busy``.
        if self.pending_train and not out.items:
            self._train(out, ctx)
        if self.aggregator == self.me and self.state != DONE and self.round >= 0:
            self._maybe_aggregate(out, ctx)
        self.busy = self.pending_train and self.state != DONE

    # ----- steps -----

    def _initial_model(self, ctx: SiteContext) -> dict[str, Any]:
        persistor = ctx.get_component(self.persistor_id)
        if not hasattr(persistor, "load_initial"):
            raise TaskFailed(f"component {self.persistor_id!r} is not a model persistor")
        return dict(persistor.load_initial(ctx.app_dir))

    def _open_round(
        self, round_num: int, params: dict[str, Any], aggregator: str, out: Outbox
    ) -> None:
        message = {"kind": "learn", "round": round_num, "params": params, "aggregator": aggregator}
        for site in self.alive:
            if site != self.me:
                out.send(site, message)
        self._learn(round_num, params, aggregator)

    def _learn(self, round_num: int, params: dict[str, Any], aggregator: str) -> None:
        if aggregator not in self.alive:  # it left since: the same takeover rule for all
            aggregator = self.next_alive_after(aggregator) or aggregator
        if round_num == self.round:
            # A second start of this round (a takeover raced with the original): keep the
            # model, the training and the results collected so far.
            self.aggregator = aggregator
            return
        self.round, self.model, self.aggregator = round_num, params, aggregator
        self.result, self.collected, self.pending_train = None, {}, True

    def _train(self, out: Outbox, ctx: SiteContext) -> None:
        self.pending_train = False
        task = FLModel(
            params=self.model,
            params_type=ParamsType.FULL,
            current_round=self.round,
            total_rounds=self.num_rounds,
        )
        try:
            trained = self.run_task(ctx, self.learn_task_name, task)
        except TaskFailed as exc:
            out.report("train", self.round, ok=False, error=exc.message)
            raise
        # FLModel turns a str params_type into ParamsType when it is built.
        params_type = (
            trained.params_type.value if isinstance(trained.params_type, ParamsType) else "FULL"
        )
        self.result = {
            "kind": "result",
            "round": self.round,
            "params": trained.params,
            "params_type": params_type,
            "metrics": dict(trained.metrics or {}),
            "num_steps": trained.num_steps,
        }
        out.report("train", self.round, metrics=trained.metrics or {}, aggregator=self.aggregator)
        assert self.aggregator is not None
        out.send(self.aggregator, self.result)

    def _maybe_aggregate(self, out: Outbox, ctx: SiteContext) -> None:
        waiting = [s for s in self.alive if s not in self.collected]
        if waiting:
            if len(self.alive) < self.min_responses_required:
                self.fail(
                    f"round {self.round}: only {len(self.alive)} site(s) left, "
                    f"min_responses_required is {self.min_responses_required}",
                    out,
                    fatal=True,
                )
            return
        if len(self.collected) < self.min_responses_required:
            self.fail(
                f"round {self.round}: {len(self.collected)} result(s), "
                f"min_responses_required is {self.min_responses_required}",
                out,
                fatal=True,
            )
            return
        results = [(site, _as_model(m)) for site, m in sorted(self.collected.items())]
        try:
            base = {k: np.asarray(v) for k, v in (self.model or {}).items()}
            new_params = weighted_average(results, base)
        except WorkflowError as exc:
            self.fail(f"round {self.round}: aggregation failed: {exc.message}", out, fatal=True)
            return
        out.report(
            "aggregate",
            self.round,
            metrics=weighted_metrics(results),
            contributors=[s for s, _ in results],
        )
        if self.round + 1 >= self.num_rounds:
            for site in self.alive:
                if site != self.me:
                    out.send(site, {"kind": "final", "round": self.round, "params": new_params})
            self._finish(new_params, self.round, out, ctx, aggregated=True)
            return
        next_aggregator = self._rng.choice(self.alive)
        self._open_round(self.round + 1, new_params, next_aggregator, out)

    def _finish(
        self,
        params: dict[str, Any],
        round_num: int,
        out: Outbox,
        ctx: SiteContext,
        *,
        aggregated: bool,
    ) -> None:
        path = self.save_final(params, ctx)
        self.state = DONE
        self.pending_train = False
        if aggregated:
            self.final_upload = {"params": params, "round": round_num}
        out.report("final", round_num, saved=path.name, aggregator=aggregated)


def _as_model(message: dict[str, Any]) -> FLModel:
    meta = {}
    if message.get("num_steps") is not None:
        meta["NUM_STEPS_CURRENT_ROUND"] = message["num_steps"]
    return FLModel(
        params=message.get("params"),
        params_type=message.get("params_type"),
        metrics=message.get("metrics"),
        meta=meta,
    )
