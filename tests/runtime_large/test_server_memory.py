"""What bounds the server's memory in a round: admission of large result bodies, and a
running average that folds each result in place and lets the global model go."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from fljob.runtime import pki as pki_module
from fljob.runtime.client_api.model import FLModel, ParamsType
from fljob.runtime.server.admission import BodyAdmission
from fljob.runtime.transport import Message, RpcClient, RpcServer
from fljob.runtime.workflows.aggregate import WeightedAggregator, weighted_average

LARGE = 4 << 20


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> pki_module.Pki:
    return pki_module.provision(
        tmp_path_factory.mktemp("pki"), project="large-tests", sites=["site-1", "site-2", "site-3"]
    )


def test_large_bodies_are_received_one_at_a_time_small_ones_never_wait(pki) -> None:
    admission = BodyAdmission(slots=1, threshold=LARGE)
    lock = threading.Lock()
    held, peak, order = [0], [0], []

    def upload(ctx, msg):
        with lock:
            held[0] += 1
            peak[0] = max(peak[0], held[0])
        time.sleep(0.2)  # the handler works on the body (a fold): others must wait
        with lock:
            held[0] -= 1
            order.append(ctx.peer)
        return Message({"n": msg.body.nbytes})

    def ping(ctx, msg):
        order.append("ping")
        return Message({})

    server = RpcServer(
        "127.0.0.1:0", pki.identity("server"), {"upload": upload, "ping": ping}, admission=admission
    )
    port = server.start()
    sites = ["site-1", "site-2", "site-3"]
    clients = {s: RpcClient(f"127.0.0.1:{port}", pki.identity(s)) for s in sites}
    body = bytes(LARGE + 1)
    try:
        threads = [
            threading.Thread(target=clients[s].call, args=("upload", Message({}, body), 30))
            for s in sites
        ]
        for t in threads:
            t.start()
        time.sleep(0.05)
        clients["site-1"].call("ping", Message({}, b"small"), timeout=5)
        for t in threads:
            t.join()
    finally:
        for c in clients.values():
            c.close()
        server.stop()
    assert peak[0] == 1
    assert order.index("ping") < 2  # the small call went by while large ones queued
    assert sorted(o for o in order if o != "ping") == sites


def test_a_handler_may_release_its_slot_early_and_leave_is_idempotent() -> None:
    admission = BodyAdmission(slots=1, threshold=10)
    admission.enter("t", {}, 100)
    admission.leave()
    admission.leave()  # the transport's own leave, after the handler's
    admission.enter("t", {}, 100)  # free again, would block otherwise
    admission.leave()
    admission.enter("t", {}, 5)  # small: takes nothing
    admission.leave()


def model(params, steps=1.0, kind=ParamsType.FULL) -> FLModel:
    return FLModel(params=params, params_type=kind, meta={"NUM_STEPS_CURRENT_ROUND": steps})


def results():
    rng = np.random.default_rng(7)
    return [
        ("site-1", {"w": rng.random((64, 8), np.float32), "n": np.arange(4)}, 1.0),
        ("site-2", {"w": rng.random((64, 8), np.float32), "n": np.arange(4) * 3}, 3.0),
        ("site-3", {"w": rng.random((64, 8), np.float32)}, 0.5),
    ]


GLOBAL = {"w": np.zeros((64, 8), np.float32), "n": np.ones(4, np.int64), "b": np.ones(2)}


@pytest.mark.parametrize("kind", [ParamsType.FULL, ParamsType.DIFF], ids=["full", "diff"])
def test_consuming_results_gives_the_same_average_without_copies(kind) -> None:
    expected = weighted_average(
        [(s, model({k: v.copy() for k, v in p.items()}, w, kind)) for s, p, w in results()],
        GLOBAL,
    )
    aggregator = WeightedAggregator(GLOBAL)
    first = None
    for site, params, weight in results():
        first = first if first is not None else params["w"]
        aggregator.add(site, model(params, weight, kind), consume=True)
    assert np.shares_memory(aggregator.sums["w"], first)  # the first result is the sum
    got = aggregator.result()
    assert got.keys() == expected.keys()
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-6)
        assert got[key].dtype == GLOBAL[key].dtype
    # FULL results covered w and n: their global values were let go; b stays
    held = {"full": ["b"], "diff": ["b", "n", "w"]}[kind.value.lower()]
    assert sorted(aggregator.global_params) == held


def test_without_consume_results_are_left_untouched() -> None:
    params = {"w": np.full((4, 4), 2.0, np.float32)}
    aggregator = WeightedAggregator({"w": np.zeros((4, 4), np.float32)})
    aggregator.add("site-1", model(params, 3.0))
    aggregator.add("site-2", model({"w": np.full((4, 4), 6.0, np.float32)}, 1.0))
    np.testing.assert_array_equal(params["w"], 2.0)
    np.testing.assert_array_equal(aggregator.result()["w"], 3.0)


def test_zero_steps_everywhere_keeps_the_global_value() -> None:
    aggregator = WeightedAggregator({"w": np.full(3, 5.0, np.float32)})
    aggregator.add("site-1", model({"w": np.ones(3, np.float32)}, 0.0), consume=True)
    np.testing.assert_array_equal(aggregator.result()["w"], 5.0)


def test_the_persistor_holds_a_torch_model_once(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from fljob.runtime.persistors import TorchModelPersistor

    (tmp_path / "custom").mkdir()
    (tmp_path / "custom" / "held_once_net.py").write_text(
        "import torch\nclass Net(torch.nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.fc = torch.nn.Linear(4, 2)\n"
    )
    params = TorchModelPersistor({"path": "held_once_net.Net"}).load_initial(tmp_path)
    assert {k: v.shape for k, v in params.items()} == {"fc.weight": (2, 4), "fc.bias": (2,)}
    # views of the module's tensors (kept alive by the arrays), not copies of them
    assert not any(v.flags.owndata for v in params.values())
