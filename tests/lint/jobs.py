# ruff: noqa: E501  (config texts: the catalogue asserts exact columns on long lines)
"""A small valid job (HOCON), and helpers to write variants of it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

META = """\
name = "j"
min_clients = 1
deploy_map { app = ["@ALL"] }
"""

SERVER = """\
format_version = 2
workflows = [
  { id = "fedavg", path = "fljob.runtime.workflows.FedAvg", args { num_rounds = 2 } }
]
components = [
  { id = "persistor", path = "fljob.runtime.persistors.NumpyModelPersistor", args { initial_model { w = [0.0] } } }
]
"""

CLIENT = """\
format_version = 2
executors = [
  { tasks = ["train"], executor { path = "fljob.runtime.executors.ScriptExecutor", args { launcher_id = "launcher" } } }
]
components = [
  { id = "launcher", path = "fljob.runtime.launchers.SubprocessLauncher", args { script = "python3 -u custom/train.py" } }
]
"""

SERVER_FILE = "app/config/config_fed_server.conf"
CLIENT_FILE = "app/config/config_fed_client.conf"


def job_files(**overrides: str | None) -> dict[str, str]:
    """The valid job's files; keyword ``meta``/``server``/``client`` replace one (None
    removes it); other keywords are extra files by path with ``__`` for ``/``."""
    files: dict[str, str | None] = {
        "meta.conf": META,
        SERVER_FILE: SERVER,
        CLIENT_FILE: CLIENT,
        "app/custom/train.py": "print('train')\n",
    }
    names = {"meta": "meta.conf", "server": SERVER_FILE, "client": CLIENT_FILE}
    for key, text in overrides.items():
        files[names.get(key, key.replace("__", "/"))] = text
    return {k: v for k, v in files.items() if v is not None}


def write(root: Path, files: Mapping[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
