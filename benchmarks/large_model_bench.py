"""A large PyTorch model through real FedAvg rounds, end to end.

Runs ``fljob run``'s machinery (``LocalRun``): a server, N site processes and their
training scripts, mutual TLS between server and sites, the local streaming channel
between each site and its script. The initial model is a PyTorch state dict of SIZE
bytes in several float32 tensors (``TorchModelPersistor``); each script receives it as
torch tensors, adds its site number to one small tensor and sends every tensor back.

Prints, for the last round (the first also waits for the scripts' start-up):

- per-direction throughput: server -> site -> script (from the round's start until the
  script holds the model) and script -> site -> server (from the script's ``send`` until
  the server has received and folded the result into the average), model bytes / time;
- each process's peak RSS (VmHWM) as a multiple of the model size: the server's job
  process, each site's job process, each training script;
- whether the new global model holds exactly what the sites sent.

With ``--in-process`` the sites' job processes run the script themselves
(``ScriptExecutor(launch_external_process=False)``): the second hop becomes a hand-over
by reference, and there is no script process (its memory is the site job's).

The last line is one JSON object for dashboards.

    .venv/bin/python benchmarks/large_model_bench.py               # 1 GiB, 1 site, 2 rounds
    .venv/bin/python benchmarks/large_model_bench.py --sites 2 --size 200MB
    .venv/bin/python benchmarks/large_model_bench.py --in-process  # script in the job process
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from fedavg_job import write_fedavg_job

MODEL = """
import torch


class Big(torch.nn.Module):
    \"\"\"``count`` float32 tensors of ``rows`` x 1024, tensor i filled with i.\"\"\"

    def __init__(self, count, rows):
        super().__init__()
        self.layers = torch.nn.ParameterList(
            torch.nn.Parameter(torch.full((rows, 1024), float(i)), requires_grad=False)
            for i in range(count)
        )
"""

SCRIPT = """
import resource, time
import torch
import fljob.client as flare

flare.init()
site_number = float(flare.get_site_name().rsplit("-", 1)[-1])
while flare.is_running():
    model = flare.receive()
    if model is None:
        break
    received = time.time()
    params = model.params
    first = next(iter(params))
    params[first][0, :4] += site_number  # a trace of this site, checked in the result
    sending = time.time()
    flare.send(flare.FLModel(
        params=params,
        metrics={"received_at": received, "sending_at": sending,
                 "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024},
        meta={"NUM_STEPS_CURRENT_ROUND": 1}))
    del model, params  # else this round's model stays alive while the next one arrives
"""

ROLES = {
    "fljob.runtime.server.job_process": "server_job",
    "fljob.runtime.site.job_process": "site_job",
    "custom/train.py": "script",
}


def parse_size(text: str) -> int:
    units = {"GIB": 1 << 30, "MIB": 1 << 20, "GB": 10**9, "MB": 10**6, "B": 1}
    upper = text.strip().upper()
    for unit, factor in units.items():
        if upper.endswith(unit):
            return int(float(upper[: -len(unit)]) * factor)
    return int(upper)


def write_job(
    root: Path, size: int, sites: int, rounds: int, in_process: bool = False
) -> tuple[Path, int]:
    """The job folder; returns it and the model's exact size in bytes."""
    rows = 16 * 1024  # 64 MiB tensors
    count = max(1, round(size / (rows * 1024 * 4)))
    if size < rows * 1024 * 4:
        rows = max(1, size // 4096)
    job = write_fedavg_job(
        root / "large_job",
        rounds=rounds,
        sites=sites,
        persistor={
            "path": "fljob.runtime.persistors.TorchModelPersistor",
            "args": {"model": {"path": "net.Big", "args": {"count": count, "rows": rows}}},
        },
        executor_args={
            "params_exchange_format": "pytorch",
            "launch_external_process": not in_process,
        },
        script="train.py",
        custom={"net.py": MODEL, "train.py": SCRIPT},
    )
    return job, count * rows * 1024 * 4


class PeakWatcher:
    """Peak RSS (VmHWM, kept by the kernel) of every process below this one, by role."""

    def __init__(self) -> None:
        self.peaks: dict[str, dict[int, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(0.05):
            for child in me.children(recursive=True):
                try:
                    role = _role(child.cmdline())
                    if role is not None:
                        peak = _hwm_mb(child.pid)
                        seen = self.peaks.setdefault(role, {})
                        seen[child.pid] = max(seen.get(child.pid, 0.0), peak)
                except (psutil.Error, OSError, ValueError):
                    continue


def _role(cmdline: list[str]) -> str | None:
    text = " ".join(cmdline)
    for marker, role in ROLES.items():
        if marker in text:
            return role
    return None


def _hwm_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise ValueError("no VmHWM")


def run(size: int, sites: int, rounds: int, in_process: bool = False) -> dict[str, Any]:
    from fljob.runtime.local_run import LocalRun, RunOptions

    root = Path(tempfile.mkdtemp(prefix="fljob-large-"))
    events: list[dict[str, Any]] = []
    try:
        job, nbytes = write_job(root, size, sites, rounds, in_process)
        names = [f"site-{i}" for i in range(1, sites + 1)]
        options = RunOptions(job_dir=job, workspace=root / "ws", sites=names)
        with PeakWatcher() as watcher:
            summary = LocalRun(options, on_event=events.append).run()
        if not summary.ok:
            raise SystemExit(f"benchmark job failed: {summary.error}")
        result = _figures(events, nbytes, names, watcher.peaks, in_process)
        result["global_ok"] = _check_global(Path(summary.result_dir), names, rounds)
        return result
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _figures(
    events: list[dict[str, Any]],
    nbytes: int,
    names: list[str],
    peaks: dict[str, dict],
    in_process: bool = False,
) -> dict[str, Any]:
    started = {e["round"]: e for e in events if e["kind"] == "round_started"}
    done = {e["round"]: e for e in events if e["kind"] == "round_done"}
    last = max(done)
    t0 = started[last]["started_at"]
    rounds = []
    for r in sorted(done):
        per_site = {}
        for site in names:
            m = done[r]["metrics"][site]
            down = m["received_at"] - started[r]["started_at"]
            up = started[r]["started_at"] + done[r]["arrivals"][site] - m["sending_at"]
            per_site[site] = {"down_s": round(down, 3), "up_s": round(up, 3)}
        rounds.append({"round": r, "seconds": round(done[r]["seconds"], 3), "sites": per_site})
    down = max(
        done[last]["metrics"][s]["received_at"] - t0 for s in names
    )  # the last site to hold the model
    up = max(t0 + done[last]["arrivals"][s] - done[last]["metrics"][s]["sending_at"] for s in names)
    model_mb = nbytes / 2**20
    peak = {role: max(pids.values()) for role, pids in peaks.items()}
    if not in_process:  # in-process, the script's rss_mb is its site job process's
        peak["script"] = max(
            peak.get("script", 0.0), *(done[last]["metrics"][s]["rss_mb"] for s in names)
        )
    return {
        "mode": "in-process" if in_process else "subprocess",
        "size_bytes": nbytes,
        "sites": len(names),
        "down_MBps": round(nbytes * len(names) / down / 1e6, 1),
        "up_MBps": round(nbytes / up / 1e6, 1) if len(names) == 1 else None,
        "per_site_down_MBps": round(nbytes / down / 1e6, 1),
        "per_site_up_MBps": round(nbytes / up / 1e6, 1),
        "rounds": rounds,
        "peak_rss_mb": {k: round(v, 1) for k, v in sorted(peak.items())},
        "peak_rss_x_model": {k: round(v / model_mb, 2) for k, v in sorted(peak.items())},
    }


def _check_global(result_dir: Path, names: list[str], rounds: int) -> bool:
    """Every tensor keeps its value i, except the first row's first four entries, which
    gain the mean of the site numbers every round."""
    import numpy as np
    from safetensors.numpy import load_file

    model = load_file(str(result_dir / "global_model.safetensors"))
    shift = rounds * sum(float(n.rsplit("-", 1)[1]) for n in names) / len(names)
    for key, value in model.items():
        index = float(key.rsplit(".", 1)[-1]) if key.rsplit(".", 1)[-1].isdigit() else None
        if index is None:
            return False
        expected_first = index + (shift if index == 0 else 0.0)
        if not (np.all(value[0, :4] == expected_first) and np.all(value[1:] == index)):
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("1GiB"))
    parser.add_argument("--sites", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the script in the site's job process (launch_external_process=false)",
    )
    args = parser.parse_args()
    result = run(args.size, args.sites, args.rounds, in_process=args.in_process)
    if not args.json:
        mb = result["size_bytes"] / 2**20
        ok = result["global_ok"]
        print(
            f"model {mb:.0f} MiB, {result['sites']} site(s), script {result['mode']}, "
            f"global model ok={ok}"
        )
        for r in result["rounds"]:
            print(f"  round {r['round']}: {r['seconds']:.2f} s  {r['sites']}")
        print(
            f"server -> site -> script {result['per_site_down_MBps']:.0f} MB/s per site, "
            f"script -> site -> server {result['per_site_up_MBps']:.0f} MB/s per site"
        )
        for role, x in result["peak_rss_x_model"].items():
            print(f"  peak RSS {role:10s} {result['peak_rss_mb'][role]:8.0f} MB = {x:.2f}x model")
    print(json.dumps(result))
    sys.stdout.flush()
    os._exit(0)  # LocalRun's reader threads are daemons; nothing else to wait for


if __name__ == "__main__":
    main()
