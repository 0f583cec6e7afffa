"""Template folders written inline: an fljob template and a plain FLARE 2.4 one."""

from __future__ import annotations

import pytest

FLJOB_TEMPLATE = {
    "info.conf": """
        {
          description = "A tiny numpy FedAvg"
          controller_type = "server"
          execution_api_type = "client_api"
          version = "2.1"
          variables {
            num_rounds {
              type = "int", default = 3, min = 1, max = 100
              description = "FedAvg rounds"
              key = "config_fed_server.conf:num_rounds"
            }
          }
        }
    """,
    "info.md": "# tiny\n",
    "meta.conf": """
        {
          name = "tiny"
          min_clients = 1
          deploy_map { app = ["@ALL"] }
        }
    """,
    "config_fed_server.conf": """
        {
          format_version = 2
          # rounds
          num_rounds = 3
          workflows = [
            { id = "fedavg", path = "fljob.runtime.workflows.FedAvg",
              args { num_rounds = "{num_rounds}", min_clients = 1 } }
          ]
          components = [
            { id = "persistor", path = "fljob.runtime.persistors.NumpyModelPersistor",
              args { initial_model { w = [0.0] } } }
          ]
        }
    """,
    "config_fed_client.conf": """
        {
          format_version = 2
          app_script = "train.py"
          executors = [
            { tasks = ["train"], executor {
                path = "fljob.runtime.executors.ScriptExecutor"
                args { launcher_id = "launcher" } } }
          ]
          components = [
            { id = "launcher", path = "fljob.runtime.launchers.SubprocessLauncher",
              args { script = "python3 -u custom/{app_script}" } }
          ]
        }
    """,
    "custom/train.py": "print('train')\n",
}

# A FLARE 2.4 template as FLARE ships it: no version, no variables, meta.json.
FLARE_TEMPLATE = {
    "info.conf": """
        {
          description = "scatter & gather workflow using numpy"
          execution_api_type = "client_api"
          controller_type = "server"
        }
    """,
    "info.md": "# sag\n",
    "meta.json": (
        '{\n  "name": "sag_np_flare",\n  "resource_spec": {},\n  "min_clients": 2,\n'
        '  "deploy_map": {\n    "app": ["@ALL"]\n  }\n}\n'
    ),
    "config_fed_server.conf": """
        {
          format_version = 2
          # the number of rounds
          num_rounds = 2
          workflows = [
            {
              id = "fedavg"
              path = "fljob.runtime.workflows.FedAvg"
              args {
                num_rounds = "{num_rounds}"
                min_clients = 2
              }
            }
          ]
          components = [
            {
              id = "persistor"
              path = "fljob.runtime.persistors.NumpyModelPersistor"
              args { initial_model { w = [0.0, 0.0] } }
            }
          ]
        }
    """,
    "config_fed_client.conf": """
        {
          format_version = 2
          app_script = "cifar10.py"
          app_config = ""
          executors = [
            {
              tasks = ["train"]
              executor {
                path = "fljob.runtime.executors.ScriptExecutor"
                args {
                  launcher_id = "launcher"
                  params_exchange_format = "numpy"
                }
              }
            }
          ]
          task_data_filters = []
          task_result_filters = []
          components = [
            {
              id = "launcher"
              path = "fljob.runtime.launchers.SubprocessLauncher"
              args.script = "python3 custom/{app_script} {app_config}"
            }
          ]
        }
    """,
}


def prefixed(prefix: str, files: dict[str, str]) -> dict[str, str]:
    return {f"{prefix}/{rel}": text for rel, text in files.items()}


@pytest.fixture
def library(tree):
    """A library folder holding ``tiny`` (fljob format) and ``sag_flare`` (FLARE format)."""
    return (
        tree({**prefixed("lib/tiny", FLJOB_TEMPLATE), **prefixed("lib/sag_flare", FLARE_TEMPLATE)})
        / "lib"
    )
