"""The one-app FedAvg job folder the runtime benchmarks run (shared by runtime_bench.py
and large_model_bench.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def write_fedavg_job(
    job: Path,
    *,
    rounds: int,
    sites: int,
    persistor: Mapping[str, Any],
    script: str,
    custom: Mapping[str, str],
    executor_args: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``job``: FedAvg on the server with ``persistor`` (``{"path", "args"}``), a
    ScriptExecutor on every site running ``custom/<script>``; ``custom`` holds the files
    of ``custom/`` by name."""
    (job / "app" / "config").mkdir(parents=True)
    (job / "app" / "custom").mkdir()
    executor: dict[str, Any] = {"path": "fljob.runtime.executors.ScriptExecutor"}
    if executor_args:
        executor["args"] = dict(executor_args)
    files = {
        "meta.json": {"name": job.name, "min_clients": sites, "deploy_map": {"app": ["@ALL"]}},
        "app/config/config_fed_server.json": {
            "format_version": 2,
            "workflows": [
                {
                    "id": "fedavg",
                    "path": "fljob.runtime.workflows.FedAvg",
                    "args": {"num_rounds": rounds, "min_clients": sites},
                }
            ],
            "components": [{"id": "persistor", **persistor}],
        },
        "app/config/config_fed_client.json": {
            "format_version": 2,
            "executors": [{"tasks": ["train"], "executor": executor}],
            "components": [
                {
                    "id": "launcher",
                    "path": "fljob.runtime.launchers.SubprocessLauncher",
                    "args": {"script": f"python3 -u custom/{script}"},
                }
            ],
        },
    }
    for rel, data in files.items():
        (job / rel).write_text(json.dumps(data, indent=2))
    for name, text in custom.items():
        (job / "app" / "custom" / name).write_text(text)
    return job
