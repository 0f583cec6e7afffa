"""Server controllers of the client-controlled workflows: lifecycle and records only.

Each one picks the participants, says hello (collecting certificates), starts the sites
with their configuration and every participant's certificate, relays their sealed
messages (:class:`~fljob.runtime.ccwf.hub.RelayHub`), and, when they are done, writes the
records: ``rounds.jsonl``, ``summary.json`` and the final model the last aggregating (or
last training) site uploads (``global_model.safetensors``), or for CSE the matrix
``cross_site_val.json``. A workflow that cannot go on fails the job with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fljob.runtime.ccwf.hub import HubOutcome, RelayHub, check_participants
from fljob.runtime.ccwf.records import RoundRecorder, format_matrix, jsonable
from fljob.runtime.persistors.base import save_params
from fljob.runtime.workflows.base import Workflow, WorkflowContext, WorkflowError

GLOBAL_MODEL = "global_model"
ORDERS = ("fixed", "random")


class _PeerController(Workflow):
    """Shared run: hello, start, relay, then :meth:`conclude`."""

    name = "ccwf"
    prefix = "ccwf_"
    minimum_sites = 1

    def __init__(
        self, participating_clients: Sequence[str] | None, progress_timeout: float
    ) -> None:
        self.participating_clients = list(participating_clients or []) or None
        self.progress_timeout = float(progress_timeout)

    def config(self) -> dict[str, Any]:
        return {}

    def run(self, ctx: WorkflowContext) -> None:
        recorder = RoundRecorder(ctx.result_dir, self.name)
        try:
            outcome = self._relay(ctx, recorder)
            self.conclude(ctx, recorder, outcome)
        except WorkflowError as exc:
            recorder.write_summary("failed", exc.message)
            raise

    def _relay(self, ctx: WorkflowContext, recorder: RoundRecorder) -> HubOutcome:
        sites = check_participants(ctx, self.participating_clients, self.minimum_sites)
        hub = RelayHub(
            ctx, self.prefix, recorder, self.progress_timeout, self.config().get("num_rounds")
        )
        ctx.emit("round_started", round=0, workflow=self.name, sites=sites)
        certs = hub.hello(sites, self.config())
        sites = sorted(certs)
        if len(sites) < self.minimum_sites:
            raise WorkflowError(
                f"{self.name}: only {len(sites)} site(s) answered hello "
                f"({_reasons(hub.outcome.failed)})"
            )
        start = {"config": self.config(), "participants": sites, "certs": certs}
        outcome = hub.run(sites, start)
        ctx.logger.info(
            "%s: relayed %d sealed message(s), %d bytes",
            self.name,
            outcome.relayed_messages,
            outcome.relayed_bytes,
        )
        if outcome.reason is not None:
            raise WorkflowError(f"{self.name} stopped: {outcome.reason}")
        if not outcome.finished:
            raise WorkflowError(f"{self.name}: no site finished ({_reasons(outcome.failed)})")
        return outcome

    def conclude(self, ctx: WorkflowContext, recorder: RoundRecorder, outcome: HubOutcome) -> None:
        final = next(
            (r["final"] for r in outcome.finished.values() if isinstance(r.get("final"), Mapping)),
            None,
        )
        if final is None or not isinstance(final.get("params"), Mapping):
            raise WorkflowError(f"{self.name}: the sites finished without a final model")
        path = save_params(final["params"], ctx.result_dir / GLOBAL_MODEL)
        recorder.write_summary(
            "finished",
            None,
            final_model=path.name,
            finished=sorted(outcome.finished),
            dropped=jsonable(outcome.failed),
            relayed_messages=outcome.relayed_messages,
            relayed_bytes=outcome.relayed_bytes,
        )
        ctx.logger.info("%s finished; final model %s", self.name, path)


def _reasons(failed: Mapping[str, str]) -> str:
    return "; ".join(f"{s}: {r}" for s, r in sorted(failed.items())) or "no reason given"


class SwarmServerController(_PeerController):
    """Swarm learning: the sites aggregate in turn; the server only relays and records."""

    name = "Swarm"
    prefix = "swarm_"

    def __init__(
        self,
        num_rounds: int = 3,
        starting_client: str | None = None,
        participating_clients: Sequence[str] | None = None,
        progress_timeout: float = 3600,
    ) -> None:
        super().__init__(participating_clients, progress_timeout)
        if num_rounds < 1:
            raise WorkflowError("SwarmServerController needs num_rounds >= 1")
        self.num_rounds = int(num_rounds)
        self.starting_client = starting_client

    def config(self) -> dict[str, Any]:
        return {"num_rounds": self.num_rounds, "starting_client": self.starting_client}

    def run(self, ctx: WorkflowContext) -> None:
        if self.starting_client is not None and self.starting_client not in ctx.comm.sites():
            raise WorkflowError(
                f"starting_client {self.starting_client!r} is not an alive site of the job",
                hint=f"sites: {', '.join(ctx.comm.sites())}",
            )
        super().run(ctx)


class CyclicServerController(_PeerController):
    """Client-controlled cyclic training: the sites pass the model on themselves."""

    name = "CyclicCC"
    prefix = "cyclic_"

    def __init__(
        self,
        num_rounds: int = 3,
        order: str = "fixed",
        participating_clients: Sequence[str] | None = None,
        progress_timeout: float = 3600,
    ) -> None:
        super().__init__(participating_clients, progress_timeout)
        if order not in ORDERS:
            raise WorkflowError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
        if num_rounds < 1:
            raise WorkflowError("CyclicServerController needs num_rounds >= 1")
        self.num_rounds = int(num_rounds)
        self.order = order

    def config(self) -> dict[str, Any]:
        return {"num_rounds": self.num_rounds, "order": self.order}


class CrossSiteEvalServerController(_PeerController):
    """Client-side cross-site evaluation; the server builds the matrix from the reports."""

    name = "CrossSiteEvalCC"
    prefix = "cse_"

    def __init__(
        self, participating_clients: Sequence[str] | None = None, timeout: float = 0
    ) -> None:
        super().__init__(participating_clients, timeout)

    def conclude(self, ctx: WorkflowContext, recorder: RoundRecorder, outcome: HubOutcome) -> None:
        from fljob.runtime.workflows.cross_site_eval import save_matrix

        matrix: dict[str, dict[str, dict[str, Any]]] = {}
        for record in recorder.records:
            if record["action"] == "validate" and record["ok"]:
                matrix.setdefault(record["model"], {})[record["site"]] = record.get("metrics", {})
        if not matrix:
            raise WorkflowError("client-side cross-site evaluation: no site validated a model")
        path = save_matrix(matrix, ctx.result_dir)
        table = format_matrix(matrix)
        recorder.write_summary(
            "finished",
            None,
            result_file=path.name,
            models=sorted(matrix),
            dropped=jsonable(outcome.failed),
        )
        ctx.logger.info("cross-site evaluation:\n%s", table)
        ctx.emit("cross_site_eval_done", matrix=jsonable(matrix), table=table, path=str(path))
