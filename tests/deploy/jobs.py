"""A small numpy FedAvg job folder for the deploy tests (JSON configs, written inline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: each site adds 1.0 per round; ``hang`` makes site-1 wait in round 0 until its job
#: process is gone (to abort a job mid-round), after writing a marker file
SCRIPT = """
import os, sys, time
import numpy as np
import fljob.client as flare

flare.init()
site = flare.get_site_name()
parent = os.getppid()
while flare.is_running():
    model = flare.receive()
    if model is None:
        break
    if @HANG@ and site == "site-1":
        open(os.path.join(@MARKERS@, f"{os.getpid()}.hanging"), "w").close()
        while os.getppid() == parent:
            time.sleep(0.05)
        sys.exit(0)
    params = {k: np.asarray(v) + 1.0 for k, v in model.params.items()}
    flare.send(flare.FLModel(params=params, metrics={"accuracy": 0.5},
                             meta={"NUM_STEPS_CURRENT_ROUND": 1}))
"""


def write_job(
    root: Path,
    *,
    name: str = "numpy-job",
    num_rounds: int = 1,
    min_clients: int = 1,
    hang: bool = False,
    markers: Path | None = None,
    **meta: Any,
) -> Path:
    """A job folder deployed to every site (``meta`` adds e.g. ``mandatory_clients``)."""
    job = root / name
    app = job / "app"
    (app / "config").mkdir(parents=True, exist_ok=True)
    (app / "custom").mkdir(parents=True, exist_ok=True)
    _dump(
        job / "meta.json",
        {"name": name, "min_clients": min_clients, "deploy_map": {"app": ["@ALL"]}, **meta},
    )
    _dump(
        app / "config" / "config_fed_server.json",
        {
            "format_version": 2,
            "workflows": [
                {
                    "id": "fedavg",
                    "path": "fljob.runtime.workflows.FedAvg",
                    "args": {"num_rounds": num_rounds, "min_clients": min_clients},
                }
            ],
            "components": [
                {
                    "id": "persistor",
                    "path": "fljob.runtime.persistors.NumpyModelPersistor",
                    "args": {"initial_model": {"w": [1.0, 2.0]}},
                }
            ],
        },
    )
    _dump(
        app / "config" / "config_fed_client.json",
        {
            "format_version": 2,
            "executors": [
                {
                    "tasks": ["train"],
                    "executor": {
                        "path": "fljob.runtime.executors.ScriptExecutor",
                        "args": {"launcher_id": "launcher"},
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
        },
    )
    script = SCRIPT.replace("@HANG@", str(hang)).replace("@MARKERS@", repr(str(markers or root)))
    (app / "custom" / "train.py").write_text(script, encoding="utf-8")
    return job


def _dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
