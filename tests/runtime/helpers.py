"""Small numpy job folders for the runtime tests, written inline (JSON configs)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

#: a deterministic "training": add a per-site constant, report per-site steps
ADD_SCRIPT = """
import os, sys, time
import numpy as np
import fljob.client as flare

DELTA = {"site-1": 1.0, "site-2": 10.0, "site-3": 100.0}
STEPS = {"site-1": 1, "site-2": 3, "site-3": 4}

flare.init()
site = flare.get_site_name()
parent = os.getppid()
while flare.is_running():
    model = flare.receive()
    if model is None:
        break
    behaviour = os.environ.get("TEST_BEHAVIOUR", "") + "," + "@BEHAVIOUR@"
    if f"crash:{site}:{model.current_round}" in behaviour or "crash:all" in behaviour:
        raise RuntimeError(f"boom on {site} in round {model.current_round}")
    if f"hang:{site}:{model.current_round}" in behaviour:
        open(os.path.join("@MARKER_DIR@", f"{site}.hanging"), "w").close()
        while os.getppid() == parent:  # until the site's job process is gone
            time.sleep(0.05)
        sys.exit(0)
    params = {k: np.asarray(v) + DELTA[site] for k, v in model.params.items()}
    flare.send(flare.FLModel(params=params, metrics={"accuracy": 0.1 * (model.current_round + 1),
                                                     "delta": DELTA[site]},
                             meta={"NUM_STEPS_CURRENT_ROUND": STEPS[site]}))
"""

INITIAL = {"w": [[1.0, 2.0], [3.0, 4.0]], "b": [0.5]}


def write_job(
    root: Path,
    *,
    num_rounds: int = 2,
    min_clients: int = 2,
    behaviour: str = "",
    marker_dir: str = "",
    train_timeout: float = 0,
    transfer: str = "FULL",
    heartbeat_timeout: float = 10,
) -> Path:
    """A job folder with one app for the server and every site."""
    job = root / "job"
    app = job / "app"
    (app / "config").mkdir(parents=True, exist_ok=True)
    (app / "custom").mkdir(parents=True, exist_ok=True)
    meta = {"name": "addjob", "min_clients": min_clients, "deploy_map": {"app": ["@ALL"]}}
    server = {
        "format_version": 2,
        "workflows": [
            {
                "id": "fedavg",
                "path": "fljob.runtime.workflows.FedAvg",
                "args": {
                    "num_rounds": num_rounds,
                    "min_clients": min_clients,
                    "train_timeout": train_timeout,
                    "key_metric": "accuracy",
                },
            }
        ],
        "components": [
            {
                "id": "persistor",
                "path": "fljob.runtime.persistors.NumpyModelPersistor",
                "args": {"initial_model": INITIAL},
            }
        ],
    }
    client = {
        "format_version": 2,
        "executors": [
            {
                "tasks": ["train"],
                "executor": {
                    "path": "fljob.runtime.executors.ScriptExecutor",
                    "args": {
                        "launcher_id": "launcher",
                        "params_transfer_type": transfer,
                        "heartbeat_timeout": heartbeat_timeout,
                    },
                },
            }
        ],
        "components": [
            {
                "id": "launcher",
                "path": "fljob.runtime.launchers.SubprocessLauncher",
                "args": {"script": "python3 -u custom/train.py"},
            }
        ],
    }
    _dump(job / "meta.json", meta)
    _dump(app / "config" / "config_fed_server.json", server)
    _dump(app / "config" / "config_fed_client.json", client)
    script = (
        textwrap.dedent(ADD_SCRIPT)
        .replace("@BEHAVIOUR@", behaviour)
        .replace("@MARKER_DIR@", marker_dir)
    )
    (app / "custom" / "train.py").write_text(script, encoding="utf-8")
    return job


def _dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def expected_fedavg(sites: list[str], rounds: int, *, transfer: str = "FULL") -> dict[str, Any]:
    """The global model FedAvg must produce with ADD_SCRIPT, computed independently."""
    import numpy as np

    delta = {"site-1": 1.0, "site-2": 10.0, "site-3": 100.0}
    steps = {"site-1": 1, "site-2": 3, "site-3": 4}
    model = {k: np.asarray(v, dtype=np.float64) for k, v in INITIAL.items()}
    for _ in range(rounds):
        total = sum(steps[s] for s in sites)
        shift = sum(steps[s] * delta[s] for s in sites) / total
        model = {k: v + shift for k, v in model.items()}
    return model
