"""Small numpy job folders for the workflow end-to-end tests (JSON configs, real scripts).

The training script is deterministic so that results can be checked independently:
site ``site-K`` adds ``K`` to every weight and reports ``K`` steps (its FedAvg weight);
``validate`` answers ``score = mean(w) + K``; ``submit_model`` returns ``w = K``. A site
listed in ``FLJOB_TEST_KILL`` (``site:round``) kills its own site process (SIGKILL)
when it receives that round's training task, which ends its job process too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TRAIN_SCRIPT = """
import os
import signal
import sys

import numpy as np

import fljob.client as flare

flare.init()
site = flare.get_site_name()
delta = float(site.rsplit("-", 1)[-1])
kill = dict(item.split(":") for item in os.environ.get("FLJOB_TEST_KILL", "").split(",") if item)
while flare.is_running():
    model = flare.receive()
    if model is None:
        break
    if flare.is_submit_model():
        flare.send(flare.FLModel(params={"w": np.full(4, delta, dtype=np.float32)}))
        continue
    if flare.is_evaluate():
        score = float(np.mean(model.params["w"])) + delta
        flare.send(flare.FLModel(metrics={"score": score}))
        continue
    if kill.get(site) == str(model.current_round):
        site_pid = int(open(f"/proc/{os.getppid()}/stat").read().split(")")[1].split()[1])
        os.kill(site_pid, signal.SIGKILL)
        os.kill(os.getppid(), signal.SIGKILL)
        sys.exit(0)
    new = {name: np.asarray(value) + delta for name, value in model.params.items()}
    flare.send(flare.FLModel(params=new, metrics={"mean_w": float(np.mean(new["w"]))},
                             meta={"NUM_STEPS_CURRENT_ROUND": delta}))
"""

INITIAL = {"w": [0.0, 0.0, 0.0, 0.0]}


def _script_executor(tasks: list[str]) -> dict[str, Any]:
    return {
        "tasks": tasks,
        "executor": {
            "path": "fljob.runtime.executors.ScriptExecutor",
            "args": {"launcher_id": "launcher", "heartbeat_timeout": 20},
        },
    }


def _components(with_persistor: bool) -> list[dict[str, Any]]:
    components = [
        {
            "id": "launcher",
            "path": "fljob.runtime.launchers.SubprocessLauncher",
            "args": {"script": "python3 -u custom/train.py"},
        }
    ]
    if with_persistor:
        components.append(
            {
                "id": "persistor",
                "path": "fljob.runtime.persistors.NumpyModelPersistor",
                "args": {"initial_model": INITIAL},
            }
        )
    return components


def write_job(
    root: Path,
    name: str,
    workflows: list[dict[str, Any]],
    client_executors: list[dict[str, Any]],
    *,
    min_clients: int = 2,
    server_components: list[dict[str, Any]] | None = None,
    client_persistor: bool = False,
) -> Path:
    """A job folder ``root/name`` with one app deployed everywhere."""
    job = root / name
    config = job / "app" / "config"
    config.mkdir(parents=True)
    (job / "app" / "custom").mkdir()
    (job / "app" / "custom" / "train.py").write_text(TRAIN_SCRIPT.lstrip())
    meta = {
        "name": name,
        "resource_spec": {},
        "min_clients": min_clients,
        "mandatory_clients": [],
        "deploy_map": {"app": ["@ALL"]},
    }
    (job / "meta.json").write_text(json.dumps(meta, indent=2))
    server = {
        "format_version": 2,
        "workflows": workflows,
        "components": server_components if server_components is not None else _components(True)[1:],
    }
    client = {
        "format_version": 2,
        "executors": client_executors,
        "task_data_filters": [],
        "task_result_filters": [],
        "components": _components(client_persistor),
    }
    (config / "config_fed_server.json").write_text(json.dumps(server, indent=2))
    (config / "config_fed_client.json").write_text(json.dumps(client, indent=2))
    return job


def swarm_job(
    root: Path, num_rounds: int = 3, *, with_cse: bool = True, min_responses: int = 1
) -> Path:
    workflows = [
        {
            "id": "swarm",
            "path": "fljob.runtime.ccwf.SwarmServerController",
            "args": {"num_rounds": num_rounds, "progress_timeout": 20},
        }
    ]
    executors = [
        {
            "tasks": ["swarm_*"],
            "executor": {
                "path": "fljob.runtime.ccwf.SwarmClientExecutor",
                "args": {"min_responses_required": min_responses},
            },
        },
        _script_executor(["train", "validate", "submit_model"]),
    ]
    if with_cse:
        workflows.append(
            {
                "id": "cse",
                "path": "fljob.runtime.ccwf.CrossSiteEvalServerController",
                "args": {"timeout": 20},
            }
        )
        executors.insert(
            1,
            {
                "tasks": ["cse_*"],
                "executor": {"path": "fljob.runtime.ccwf.CrossSiteEvalClientExecutor", "args": {}},
            },
        )
    return write_job(
        root, "swarm", workflows, executors, server_components=[], client_persistor=True
    )


def cyclic_cc_job(root: Path, num_rounds: int = 2, order: str = "fixed") -> Path:
    workflows = [
        {
            "id": "cyclic",
            "path": "fljob.runtime.ccwf.CyclicServerController",
            "args": {"num_rounds": num_rounds, "order": order, "progress_timeout": 20},
        }
    ]
    executors = [
        {
            "tasks": ["cyclic_hello", "cyclic_exchange"],
            "executor": {"path": "fljob.runtime.ccwf.CyclicClientExecutor", "args": {}},
        },
        _script_executor(["train"]),
    ]
    return write_job(
        root, "cyclic_cc", workflows, executors, server_components=[], client_persistor=True
    )


def server_cyclic_job(root: Path, num_rounds: int = 2, order: str = "fixed") -> Path:
    workflows = [
        {
            "id": "cyclic",
            "path": "fljob.runtime.workflows.Cyclic",
            "args": {"num_rounds": num_rounds, "order": order},
        }
    ]
    return write_job(root, "cyclic", workflows, [_script_executor(["train"])])


def fedavg_cse_job(root: Path, num_rounds: int = 2) -> Path:
    workflows = [
        {
            "id": "fedavg",
            "path": "fljob.runtime.workflows.FedAvg",
            "args": {"num_rounds": num_rounds, "min_clients": 2},
        },
        {"id": "cse", "path": "fljob.runtime.workflows.CrossSiteEval", "args": {}},
    ]
    return write_job(
        root, "sag_cse", workflows, [_script_executor(["train", "validate", "submit_model"])]
    )


def eval_only_job(root: Path, model_file: str, participating: list[str] | None) -> Path:
    """Cross-site evaluation of a given model file (no training)."""
    workflows = [
        {
            "id": "cse",
            "path": "fljob.runtime.workflows.CrossSiteEval",
            "args": {"participating_clients": participating},
        }
    ]
    persistor = {
        "id": "persistor",
        "path": "fljob.runtime.workflows.cross_site_eval.ModelFilesPersistor",
        "args": {"models": {"given": model_file}},
    }
    return write_job(
        root,
        "eval_only",
        workflows,
        [_script_executor(["validate", "submit_model"])],
        server_components=[persistor],
    )
