"""Time compiling a typical two-app job: in-process and through the CLI (cold process).

    python benchmarks/compile_bench.py [--runs N]

Prints the median and best of N runs for each.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

META = """\
name = "bench_job"
resource_spec {}
min_clients = 2
mandatory_clients = []
deploy_map {
  app_server = ["server"]
  app_client = ["site-1", "site-2"]
}
"""

SERVER = """\
format_version = 2
num_rounds = 5
min_clients = 2
key_metric = "accuracy"
# model built on the server from custom/net.py
model_class_path = "net.Net"
workflows = [
  {
    id = "fedavg"
    path = "fljob.runtime.workflows.FedAvg"
    args {
      num_rounds = "{num_rounds}"
      min_clients = "{min_clients}"
      persistor_id = "persistor"
      key_metric = "{key_metric}"
      train_timeout = 0
      wait_time_after_min_received = 0
    }
  }
  {
    id = "cse"
    path = "fljob.runtime.workflows.CrossSiteEval"
    args { persistor_id = "persistor", evaluate_global = true }
  }
]
components = [
  {
    id = "persistor"
    path = "fljob.runtime.persistors.TorchModelPersistor"
    args { model { path = "{model_class_path}", args {} } }
  }
]
"""

CLIENT = """\
format_version = 2
app_script = "train.py"
app_config = "--epochs 1 --batch-size 32"
executors = [
  {
    tasks = ["train", "validate", "submit_model"]
    executor {
      path = "fljob.runtime.executors.ScriptExecutor"
      args {
        launcher_id = "launcher"
        params_exchange_format = "pytorch"
        params_transfer_type = "FULL"
        heartbeat_timeout = 60
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
    args { script = "python3 -u custom/{app_script} {app_config} --site {SITE_NAME}" }
  }
]
"""


def make_job(root: Path) -> Path:
    job = root / "bench_job"
    files = {
        "meta.conf": META,
        "app_server/config/config_fed_server.conf": SERVER,
        "app_server/custom/net.py": "class Net:\n    pass\n",
        "app_client/config/config_fed_client.conf": CLIENT,
        "app_client/custom/train.py": "print('train')\n",
    }
    for rel, text in files.items():
        path = job / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return job


def time_in_process(job: Path, out_root: Path, runs: int) -> list[float]:
    from fljob.compiler.pipeline import compile_job

    times = []
    for i in range(runs + 1):  # the first run pays for imports; report the rest
        start = time.perf_counter()
        compile_job(job, out_root / f"inproc_{i}")
        times.append(time.perf_counter() - start)
    return times[1:]


def time_cli(job: Path, out_root: Path, runs: int) -> list[float]:
    times = []
    for i in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "fljob",
                "compile",
                "-j",
                str(job),
                "-o",
                str(out_root / f"cli_{i}"),
            ],
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - start)
    return times


def report(label: str, times: list[float]) -> None:
    print(
        f"{label:<34} median {statistics.median(times) * 1000:8.1f} ms"
        f"   best {min(times) * 1000:8.1f} ms   ({len(times)} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        job = make_job(root)
        report("compile, in-process", time_in_process(job, root, args.runs))
        report("fljob compile, cold process", time_cli(job, root, max(3, args.runs // 2)))


if __name__ == "__main__":
    main()
