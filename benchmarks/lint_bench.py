# ruff: noqa: E501  (the corpus templates copy FLARE's long class paths verbatim)
"""Time ``fljob lint`` on a corpus of job folders, side by side with check-jsonschema.

    python benchmarks/lint_bench.py [--jobs 300] [--runs 3] [--keep DIR]

Generates N job folders shaped like NVIDIA FLARE 2.4's ``sag_pt`` job (HOCON, comments,
system-variable references, a PyTorch persistor, Client API executor, pipes, metric
relay), plus the same documents as JSON. Then times, each as a cold process:

1. ``fljob lint`` on the HOCON corpus (load, resolve, schemas, catalog, safety);
2. ``fljob lint`` on the JSON corpus;
3. check-jsonschema validating the same meta / server / client files (JSON) against the
   same schemas (one run per schema, summed).

Prints the median and best of ``--runs`` runs for each.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "schemas"

META = """\
{{
  # job {i}: FedAvg with the Client API
  name = "sag_pt_{i}"
  resource_spec {{}}
  min_clients = {min_clients}
  mandatory_clients = []
  deploy_map {{
    # one app for the server and every site
    app = ["@ALL"]
  }}
}}
"""

SERVER = """\
{{
  # version of the configuration format
  format_version = 2

  # This is the application script which will be invoked. Client can replace this script
  # with user's own training script.
  model_class_path = "net.Net"
  num_rounds = {num_rounds}
  min_clients = {min_clients}

  # workflows: Array of workflows the control the Federated Learning job lifecycle.
  workflows = [
    {{
      # 1st workflow
      id = "scatter_and_gather"
      path = "nvflare.app_common.workflows.scatter_and_gather.ScatterAndGather"
      args {{
        # argument of the ScatterAndGather class.
        min_clients = "{{min_clients}}"
        num_rounds = "{{num_rounds}}"
        start_round = 0
        wait_time_after_min_received = 0
        aggregator_id = "aggregator"
        persistor_id = "persistor"
        shareable_generator_id = "shareable_generator"
        train_task_name = "train"
        train_timeout = 0
      }}
    }}
  ]

  # List of components used in the server side workflow.
  components = [
    {{
      # This is the persistence component used in above workflow.
      id = "persistor"
      path = "nvflare.app_opt.pt.file_model_persistor.PTFileModelPersistor"
      args {{
        model {{
          path = "{{model_class_path}}"
        }}
      }}
    }}
    {{
      # This component is not directly used in Workflow.
      id = "shareable_generator"
      path = "nvflare.app_common.shareablegenerators.full_model_shareable_generator.FullModelShareableGenerator"
      args {{}}
    }}
    {{
      # This is the aggregator that perform the weighted average aggregation.
      id = "aggregator"
      path = "nvflare.app_common.aggregators.intime_accumulate_model_aggregator.InTimeAccumulateWeightedAggregator"
      args {{
        expected_data_kind = "WEIGHT_DIFF"
      }}
    }}
    {{
      id = "model_selector"
      path = "nvflare.app_common.widgets.intime_model_selector.IntimeModelSelector"
      args {{
        key_metric = "accuracy"
      }}
    }}
    {{
      id = "receiver"
      path = "nvflare.app_opt.tracking.tb.tb_receiver.TBAnalyticsReceiver"
      args {{
        events = ["fed.analytix_log_stats"]
      }}
    }}
    {{
      id = "model_locator"
      path = "nvflare.app_opt.pt.file_model_locator.PTFileModelLocator"
      args {{
        pt_persistor_id = "persistor"
      }}
    }}
    {{
      id = "json_generator"
      path = "nvflare.app_common.widgets.validation_json_generator.ValidationJsonGenerator"
      args {{}}
    }}
  ]
}}
"""

CLIENT = """\
{{
  # version of the configuration format
  format_version = 2

  # This is the application script which will be invoked. Client can replace this script
  # with user's own training script.
  app_script = "cifar10_{i}.py"

  # Additional arguments needed by the training code.
  app_config = "--epochs {epochs}"

  # Client Computing Executors.
  executors = [
    {{
      # tasks the executors are defined to handle
      tasks = ["train"]
      executor {{
        path = "nvflare.app_opt.pt.client_api_launcher_executor.PTClientAPILauncherExecutor"
        args {{
          # launcher_id is used to locate the Launcher object in "components"
          launcher_id = "launcher"
          # pipe_id is used to locate the Pipe object in "components"
          pipe_id = "pipe"
          heartbeat_timeout = 60
          params_exchange_format = "pytorch"
          params_transfer_type = "DIFF"
          train_with_evaluation = true
        }}
      }}
    }}
  ]

  # this defines an array of task data filters.
  task_data_filters = []

  # this defines an array of task result filters.
  task_result_filters = []

  components = [
    {{
      # component id is "launcher"
      id = "launcher"
      path = "nvflare.app_common.launchers.subprocess_launcher.SubprocessLauncher"
      args {{
        # the script to launch, relative to the app folder
        script = "python3 -u custom/{{app_script}}  {{app_config}} "
        launch_once = true
      }}
    }}
    {{
      id = "pipe"
      path = "nvflare.fuel.utils.pipe.cell_pipe.CellPipe"
      args {{
        mode = "PASSIVE"
        site_name = "{{SITE_NAME}}"
        token = "{{JOB_ID}}"
        root_url = "{{ROOT_URL}}"
        secure_mode = "{{SECURE_MODE}}"
        workspace_dir = "{{WORKSPACE}}"
      }}
    }}
    {{
      id = "metrics_pipe"
      path = "nvflare.fuel.utils.pipe.cell_pipe.CellPipe"
      args {{
        mode = "PASSIVE"
        site_name = "{{SITE_NAME}}"
        token = "{{JOB_ID}}"
        root_url = "{{ROOT_URL}}"
        secure_mode = "{{SECURE_MODE}}"
        workspace_dir = "{{WORKSPACE}}"
      }}
    }}
    {{
      id = "metric_relay"
      path = "nvflare.app_common.widgets.metric_relay.MetricRelay"
      args {{
        pipe_id = "metrics_pipe"
        event_type = "fed.analytix_log_stats"
        # how fast should it read from the peer
        read_interval = 0.1
      }}
    }}
    {{
      # we use this component so the client api `flare.init()` can get required information
      id = "config_preparer"
      path = "nvflare.app_common.widgets.external_configurator.ExternalConfigurator"
      args {{
        component_ids = ["metric_relay"]
      }}
    }}
  ]
}}
"""


def generate(root: Path, count: int) -> tuple[Path, Path]:
    """Write ``count`` HOCON jobs under root/hocon and the same documents as JSON under
    root/json; return both corpus folders."""
    from pyhocon import ConfigFactory, HOCONConverter  # noqa: F401  (dev dependency)

    hocon, as_json = root / "hocon", root / "json"
    for i in range(count):
        values = {"i": i, "min_clients": 2 + i % 3, "num_rounds": 1 + i % 7, "epochs": 1 + i % 4}
        files = {
            "meta.conf": META,
            "app/config/config_fed_server.conf": SERVER,
            "app/config/config_fed_client.conf": CLIENT,
        }
        for rel, template in files.items():
            text = template.format(**values)
            target = hocon / f"job_{i:03d}" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            data = ConfigFactory.parse_string(text).as_plain_ordered_dict()
            json_target = (as_json / f"job_{i:03d}" / rel).with_suffix(".json")
            json_target.parent.mkdir(parents=True, exist_ok=True)
            json_target.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return hocon, as_json


#: CPU seconds (user + system) of finished child processes, for a load-independent figure.
CPU = {"seconds": 0.0}


def timed(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU["seconds"] += (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, proc


def run_lint(corpus: Path) -> float:
    seconds, proc = timed([sys.executable, "-m", "fljob", "lint", str(corpus)])
    if proc.returncode != 0:
        sys.exit(f"fljob lint failed on the corpus:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return seconds


def run_check_jsonschema(corpus: Path) -> float:
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    if exe is None:
        sys.exit("check-jsonschema is not installed (pip install -e '.[dev]')")
    groups = {
        "meta": "meta.json",
        "config_fed_server": "app/config/config_fed_server.json",
        "config_fed_client": "app/config/config_fed_client.json",
    }
    total = 0.0
    for schema, rel in groups.items():
        files = sorted(str(p) for p in corpus.glob(f"*/{rel}"))
        seconds, proc = timed([exe, "--schemafile", str(SCHEMAS / f"{schema}.schema.json"), *files])
        if proc.returncode != 0:
            sys.exit(f"check-jsonschema failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        total += seconds
    return total


def schema_checks_in_process(corpus: Path) -> None:
    """Schema validation alone, in this process: fljob's compiled checks against plain
    jsonschema (what check-jsonschema runs per file), same files, same schemas."""
    from fljob.compiler.validate import schemas

    groups = {
        "meta": "meta.json",
        "config_fed_server": "app/config/config_fed_server.json",
        "config_fed_client": "app/config/config_fed_client.json",
    }
    docs = [
        (schema, json.loads(p.read_text()))
        for schema, rel in groups.items()
        for p in sorted(corpus.glob(f"*/{rel}"))
    ]
    for label, check in (
        ("fljob compiled schema checks", lambda s, d: schemas.fast_check(s)(d)),
        (
            "jsonschema Draft202012Validator",
            lambda s, d: not any(schemas.validator(s).iter_errors(d)),
        ),
    ):
        check(*docs[0])  # compile outside the timing
        start = time.perf_counter()
        assert all(check(schema, data) for schema, data in docs)
        seconds = time.perf_counter() - start
        print(
            f"{label + ' (in-process)':<44} {seconds * 1000:7.1f} ms for {len(docs)} files "
            f"({1e6 * seconds / len(docs):.0f} us/file)"
        )


def measure(label: str, run: Callable[[], float], runs: int, files: int) -> None:
    """Print wall-clock median and best, and CPU seconds per run (all processes)."""
    CPU["seconds"] = 0.0
    samples = [run() for _ in range(runs)]
    median = statistics.median(samples)
    print(
        f"{label:<44} wall median {median:5.2f} s  best {min(samples):5.2f} s  "
        f"cpu {CPU['seconds'] / runs:5.2f} s/run  ({1000 * median / files:.2f} ms/file)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the corpus here and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="fljob-lint-bench-"))
    try:
        hocon, as_json = generate(root, args.jobs)
        files = args.jobs * 3
        print(f"corpus: {args.jobs} jobs, {files} files, under {root}")
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        measure(
            "fljob lint, HOCON corpus (cold process)", lambda: run_lint(hocon), args.runs, files
        )
        measure(
            "fljob lint, JSON corpus (cold process)", lambda: run_lint(as_json), args.runs, files
        )
        measure(
            "check-jsonschema, JSON corpus (3 schemas)",
            lambda: run_check_jsonschema(as_json),
            args.runs,
            files,
        )
        schema_checks_in_process(as_json)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
