"""Client-controlled cyclic weight transfer: the sites pass the model among themselves.

Messages (sealed, relayed by the server):

- ``model {step, round, order, position, params}``: train it, then pass the result to the
  next alive site of ``order``; after the last site of a round, the next round starts
  (with a fresh shuffle when ``order`` is ``"random"``).
- ``final {step, round, params}``: the model after the last round; every site is done.

``step`` counts every hand-over, so a site ignores a model older than one it has seen.
Each site remembers the last model it passed on; if its receiver drops out, it passes
the same model to the next alive site instead. If the first site leaves before starting,
the next alive one starts with its own persistor's initial model.
"""

from __future__ import annotations

import random
from typing import Any

from fljob.runtime.ccwf.peer import DONE, Outbox, PeerExecutor
from fljob.runtime.client_api.model import FLModel, ParamsType
from fljob.runtime.executors.base import SiteContext, TaskFailed
from fljob.runtime.workflows.cyclic import apply_result


class CyclicClientExecutor(PeerExecutor):
    """A site of a client-controlled cyclic job (tasks ``cyclic_hello``, ``cyclic_exchange``)."""

    prefix = "cyclic_"

    def __init__(self, learn_task_name: str = "train", persistor_id: str = "persistor") -> None:
        super().__init__()
        self.learn_task_name = learn_task_name
        self.persistor_id = persistor_id
        self.seen_step = -1
        self.todo: dict[str, Any] | None = None  #: the model message to train next
        self.last_sent: tuple[str, dict[str, Any]] | None = None  #: (to, message)
        self._rng = random.Random()

    @property
    def num_rounds(self) -> int:
        return int(self.config.get("num_rounds", 1))

    def _order(self) -> list[str]:
        order = sorted(self.alive)
        if self.config.get("order") == "random":
            self._rng.shuffle(order)
        return order

    # ----- protocol -----

    def start(self, out: Outbox, ctx: SiteContext) -> None:
        if self.participants and self.alive and self.me == self._starter():
            self._begin_cycle(ctx)

    def _starter(self) -> str | None:
        first = self.participants[0]
        return first if first in self.alive else self.next_alive_after(first)

    def _begin_cycle(self, ctx: SiteContext) -> None:
        persistor = ctx.get_component(self.persistor_id)
        if not hasattr(persistor, "load_initial"):
            raise TaskFailed(f"component {self.persistor_id!r} is not a model persistor")
        order = self._order()
        if order[0] != self.me:  # the starter trains first in round 0
            order.remove(self.me)
            order.insert(0, self.me)
        self.todo = {
            "kind": "model",
            "step": 0,
            "round": 0,
            "order": order,
            "position": 0,
            "params": dict(persistor.load_initial(ctx.app_dir)),
        }
        self.seen_step = 0

    def on_message(
        self, sender: str, message: dict[str, Any], out: Outbox, ctx: SiteContext
    ) -> None:
        step = int(message.get("step", -1))
        if message.get("kind") == "final" and self.state != DONE:
            self._finish(message["params"], int(message.get("round", 0)), out, ctx, False)
        elif message.get("kind") == "model" and step > self.seen_step:
            self.seen_step = step
            self.todo = message

    def on_membership(self, gone: list[str], out: Outbox, ctx: SiteContext) -> None:
        if self.state == DONE:
            return
        if self.seen_step < 0 and self.me == self._starter():
            self._begin_cycle(ctx)  # the first site left before it started
            return
        if self.last_sent is None or self.last_sent[0] in self.alive:
            return
        lost, message = self.last_sent
        if message.get("step", -1) < self.seen_step:
            return  # the model already moved on past this site
        out.report("skip", message.get("round"), ok=False, error=f"{lost} is gone")
        self._pass_on(dict(message), message["order"].index(lost), out, ctx)

    def step(self, out: Outbox, ctx: SiteContext) -> None:
        self.busy = False
        if self.todo is None or self.state == DONE:
            return
        message, self.todo = self.todo, None
        round_num = int(message["round"])
        task = FLModel(
            params=message["params"],
            params_type=ParamsType.FULL,
            current_round=round_num,
            total_rounds=self.num_rounds,
        )
        try:
            trained = self.run_task(ctx, self.learn_task_name, task)
            params = apply_result(message["params"], trained, self.me)
        except TaskFailed as exc:
            out.report("train", round_num, ok=False, error=exc.message)
            raise
        except Exception as exc:  # a bad result (WorkflowError): this site fails the job
            raise TaskFailed(f"round {round_num}: {exc}") from None
        position = int(message["position"])
        last = not any(s in self.alive for s in message["order"][position + 1 :])
        out.report(
            "train", round_num, metrics=trained.metrics or {}, position=position, last_in_round=last
        )
        nxt = dict(message, params=params, step=int(message["step"]) + 1)
        self._pass_on(nxt, int(message["position"]), out, ctx)

    def _pass_on(
        self, message: dict[str, Any], position: int, out: Outbox, ctx: SiteContext
    ) -> None:
        """Send ``message`` to the alive site after ``position``, or start the next
        round, or end the job."""
        order = list(message["order"])
        for k in range(position + 1, len(order)):
            if order[k] in self.alive:
                message["position"] = k
                self._send(order[k], message, out)
                return
        round_num = int(message["round"]) + 1
        if round_num >= self.num_rounds:
            for site in self.alive:
                if site != self.me:
                    out.send(
                        site,
                        {
                            "kind": "final",
                            "round": round_num - 1,
                            "params": message["params"],
                            "step": message["step"],
                        },
                    )
            self._finish(message["params"], round_num - 1, out, ctx, True)
            return
        new_order = self._order()
        message.update(round=round_num, order=new_order, position=0)
        self._send(new_order[0], message, out)

    def _send(self, to: str, message: dict[str, Any], out: Outbox) -> None:
        self.last_sent = (to, message)
        if to == self.me:
            self.seen_step = int(message["step"])
            self.todo = message
            self.busy = True
        else:
            out.send(to, message)

    def _finish(
        self, params: dict[str, Any], round_num: int, out: Outbox, ctx: SiteContext, last: bool
    ) -> None:
        path = self.save_final(params, ctx)
        self.state = DONE
        if last:
            self.final_upload = {"params": params, "round": round_num}
        out.report("final", round_num, saved=path.name, last=last)
