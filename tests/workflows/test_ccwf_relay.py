"""Client-controlled workflows on the real task board and relay hub, sites as threads.

The sites run the real client executors with real certificates (the runtime's own
provisioning); only their learner is a small deterministic function instead of a
training script, so each case checks exact models. The relay is observed (and, in one
case, made malicious) by subclassing the hub the server uses.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fljob.runtime import serde
from fljob.runtime.ccwf.hub import RelayHub
from fljob.runtime.ccwf.server import CyclicServerController, SwarmServerController
from fljob.runtime.ccwf.swarm import SwarmClientExecutor
from fljob.runtime.client_api.model import FLModel
from fljob.runtime.executors.base import SiteContext, TaskFailed
from fljob.runtime.persistors import NumpyModelPersistor, load_params
from fljob.runtime.pki import provision
from fljob.runtime.server.taskboard import END, TaskBoard
from fljob.runtime.workflows.base import WorkflowContext, WorkflowError

# A weight whose float64 bytes are easy to look for in the relayed traffic.
MARKER = 1234.5678901234
LOG = logging.getLogger("test.ccwf")


def _learner(site: str, fail_round: int | None = None):
    delta = float(site.rsplit("-", 1)[-1])

    def run_task(name: str, model: FLModel) -> FLModel:
        if model.current_round == fail_round:
            raise TaskFailed(f"{site} cannot train round {fail_round}")
        params = {k: np.asarray(v) + delta for k, v in model.params.items()}
        return FLModel(
            params=params,
            metrics={"mean_w": float(np.mean(params["w"]))},
            meta={"NUM_STEPS_CURRENT_ROUND": delta},
        )

    return run_task


class Federation:
    """A task board, N site threads running ``make_executor(site)``, one workflow."""

    def __init__(self, tmp: Path, sites: list[str], make_executor, learners=None) -> None:
        self.pki = provision(tmp / "pki", project="t", sites=sites)
        self.board = TaskBoard(heartbeat_timeout=5.0)
        self.tmp = tmp
        self.sites = sites
        self.stop = threading.Event()
        self.threads = []
        for site in sites:
            self.board.join(site)
            executor = make_executor(site)
            ctx = SiteContext(
                site,
                "job-1",
                tmp,
                tmp / site,
                {"persistor": NumpyModelPersistor({"w": [MARKER, MARKER, 0.0]})},
                LOG,
                identity=self.pki.identity(site),
                run_task=(learners or {}).get(site, _learner(site)),
            )
            (tmp / site).mkdir()
            thread = threading.Thread(
                target=self._site_loop, args=(site, executor, ctx), daemon=True
            )
            thread.start()
            self.threads.append(thread)

    def _site_loop(self, site: str, executor: Any, ctx: SiteContext) -> None:
        while not self.stop.is_set():
            got = self.board.next_task(site, 0.2)
            if got == END:
                return
            if got is None:
                continue
            try:
                result = executor.execute(got.task.name, got.task.data, ctx)
                self.board.submit_result(site, got.task_id, ok=True, data=result)
            except TaskFailed as exc:
                self.board.submit_result(site, got.task_id, ok=False, error=exc.message)

    def run(self, workflow: Any) -> WorkflowContext:
        result_dir = self.tmp / "result"
        result_dir.mkdir(exist_ok=True)
        ctx = WorkflowContext("job-1", self.board, {}, self.tmp, result_dir, LOG)
        try:
            workflow.run(ctx)
        finally:
            self.board.end()
            self.stop.set()
        return ctx


class RecordingHub(RelayHub):
    relayed: list[bytes] = []

    def _route(self, sender: str, item: Any) -> None:
        RecordingHub.relayed.append(bytes(item["envelope"]))
        super()._route(sender, item)


class TamperingHub(RelayHub):
    def _route(self, sender: str, item: Any) -> None:
        damaged = bytearray(item["envelope"])
        damaged[-100] ^= 0x40  # inside the ciphertext, before the signature
        super()._route(sender, {"to": item["to"], "envelope": bytes(damaged)})


@pytest.fixture
def hub_class(monkeypatch):
    """Swap the hub class the controllers use (a relay we observe or corrupt)."""

    def use(cls: type[RelayHub]) -> None:
        monkeypatch.setattr("fljob.runtime.ccwf.server.RelayHub", cls)

    return use


def test_swarm_relay_carries_only_ciphertext(tmp_path, hub_class) -> None:
    hub_class(RecordingHub)
    RecordingHub.relayed = []
    fed = Federation(tmp_path, ["site-1", "site-2", "site-3"], lambda site: SwarmClientExecutor())
    fed.run(SwarmServerController(num_rounds=2, progress_timeout=20))
    final = load_params(tmp_path / "result" / "global_model.safetensors")
    # Each round adds the steps-weighted mean delta (1*1 + 2*2 + 3*3) / 6 to every weight.
    np.testing.assert_allclose(final["w"], np.array([MARKER, MARKER, 0.0]) + 2 * 14 / 6)
    marker = np.float64(MARKER).tobytes()
    plain = b"".join(bytes(f) for f in serde.encode({"w": np.array([MARKER])}))
    assert marker in plain  # the control: unencrypted, the marker would show
    assert len(RecordingHub.relayed) >= 6
    assert not any(
        marker in env or np.float32(MARKER).tobytes() in env for env in RecordingHub.relayed
    )


def test_tampering_relay_is_detected_and_the_job_ends(tmp_path, hub_class) -> None:
    hub_class(TamperingHub)
    fed = Federation(tmp_path, ["site-1", "site-2"], lambda site: SwarmClientExecutor())
    with pytest.raises(WorkflowError, match=r"no progress for 1\.5 s"):
        fed.run(SwarmServerController(num_rounds=2, progress_timeout=1.5))
    rounds = (tmp_path / "result" / "rounds.jsonl").read_text()
    assert '"action": "message_refused"' in rounds
    assert "signature does not verify" in rounds


@pytest.mark.parametrize(
    ("min_responses", "failing", "message"),
    [
        (3, {}, "min_responses_required is 3"),
        (1, {"site-1": 0, "site-2": 0}, "no site finished .*site-1: site-1 cannot train"),
    ],
    ids=["too-few-sites", "every-site-fails"],
)
def test_swarm_that_cannot_go_on_fails_with_the_reason(
    tmp_path, min_responses, failing, message
) -> None:
    learners = {site: _learner(site, fail_round=r) for site, r in failing.items()}
    fed = Federation(
        tmp_path,
        ["site-1", "site-2"],
        lambda site: SwarmClientExecutor(min_responses_required=min_responses),
        learners,
    )
    with pytest.raises(WorkflowError, match=message):
        fed.run(SwarmServerController(num_rounds=3, progress_timeout=10))
    summary = (tmp_path / "result" / "summary.json").read_text()
    assert '"status": "failed"' in summary


@pytest.mark.parametrize(
    ("failing", "fail_round"),
    [("site-1", 0), ("site-3", 1)],
    ids=["starting-aggregator", "trainer"],
)
def test_swarm_skips_a_site_that_drops_out(tmp_path, failing, fail_round) -> None:
    # site-1 starts and aggregates round 0; the failing site leaves in ``fail_round``.
    fed = Federation(
        tmp_path,
        ["site-1", "site-2", "site-3"],
        lambda site: SwarmClientExecutor(),
        {failing: _learner(failing, fail_round=fail_round)},
    )
    fed.run(SwarmServerController(num_rounds=3, progress_timeout=10))
    final = load_params(tmp_path / "result" / "global_model.safetensors")
    rest = [k for k in (1, 2, 3) if f"site-{k}" != failing]
    expected = fail_round * 14 / 6 + (3 - fail_round) * sum(k * k for k in rest) / sum(rest)
    np.testing.assert_allclose(final["w"][2], expected, rtol=1e-6)
    records = [
        json.loads(line) for line in (tmp_path / "result" / "rounds.jsonl").read_text().splitlines()
    ]
    assert {"site": failing, "action": "gone"} in [
        {"site": r["site"], "action": r["action"]} for r in records
    ]
    aggregated = [r for r in records if r["action"] == "aggregate"]
    assert [r["round"] for r in aggregated] == [0, 1, 2]
    assert all(failing not in r["contributors"] for r in aggregated[fail_round:])


@pytest.mark.parametrize("order", ["fixed", "random"])
def test_cyclic_cc_passes_the_model_round(tmp_path, order) -> None:
    from fljob.runtime.ccwf.cyclic import CyclicClientExecutor

    fed = Federation(tmp_path, ["site-1", "site-2", "site-3"], lambda site: CyclicClientExecutor())
    fed.run(CyclicServerController(num_rounds=2, order=order, progress_timeout=20))
    final = load_params(tmp_path / "result" / "global_model.safetensors")
    np.testing.assert_allclose(final["w"], np.array([MARKER, MARKER, 0.0]) + 2 * (1 + 2 + 3))
    trains = [
        line
        for line in (tmp_path / "result" / "rounds.jsonl").read_text().splitlines()
        if '"action": "train"' in line
    ]
    assert len(trains) == 6


@pytest.mark.parametrize(
    ("controller", "message"),
    [
        (lambda: SwarmServerController(num_rounds=0), "num_rounds >= 1"),
        (lambda: CyclicServerController(order="sideways"), "order must be one of"),
        (lambda: SwarmServerController(starting_client="site-9"), "starting_client 'site-9'"),
    ],
    ids=["zero-rounds", "bad-order", "unknown-starter"],
)
def test_bad_controller_arguments(tmp_path, controller, message) -> None:
    with pytest.raises(WorkflowError, match=message):
        fed = Federation(tmp_path, ["site-1"], lambda site: SwarmClientExecutor())
        fed.run(controller())
