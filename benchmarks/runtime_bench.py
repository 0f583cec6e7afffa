"""Runtime timings: start-up, per-round framework overhead (2 and 8 sites), teardown,
and a whole 3-round 2-site ``fljob run`` of the numpy template as a cold process.

    .venv/bin/python benchmarks/runtime_bench.py [--rounds 10] [--json]
        [--nvflare-venv PATH --nvflare-job DIR]

Per-round overhead is measured with a no-op training script: the server's time from
sending a round's task to having aggregated and saved the round (``round_done``), minus
the longest time a site's script spent on its work, averaged over rounds 1..N-1 (round
0 also waits for the scripts to start). Start-up is the time from the run's start until
the first round starts (job compiled, certificates made, server and sites started, job
deployed and every site joined). Teardown is the time from the last round's result to
every process having exited. A job submitted to an idle running federation is timed
with and without warm spare job processes (``fljob server/site --warm-spare``). With
``--nvflare-venv`` (a virtual environment with
``nvflare``) and ``--nvflare-job`` (an equivalent numpy job folder), NVIDIA FLARE's
simulator runs the same way and the ratio is printed.

Targets (DESIGN section 10): overhead <= 50 ms per round for 2-8 sites, start-up <= 3 s
for 2 sites (5 s for 8), teardown < 1 s, the whole 3-round 2-site run < 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fedavg_job import write_fedavg_job

NOOP_SCRIPT = """
import time
import fljob.client as flare

flare.init()
while flare.is_running():
    model = flare.receive()
    if model is None:
        break
    started = time.perf_counter()
    params = model.params
    flare.send(flare.FLModel(params=params, metrics={"work_s": time.perf_counter() - started},
                             meta={"NUM_STEPS_CURRENT_ROUND": 1}))
"""


def write_noop_job(root: Path, rounds: int, sites: int) -> Path:
    return write_fedavg_job(
        root / "noop_job",
        rounds=rounds,
        sites=sites,
        persistor={
            "path": "fljob.runtime.persistors.NumpyModelPersistor",
            "args": {"initial_model": {"w": [[0.5] * 10] * 10, "b": [0.0] * 10}},
        },
        script="noop.py",
        custom={"noop.py": NOOP_SCRIPT},
    )


def measure_overhead(sites: int, rounds: int) -> dict[str, Any]:
    """Run the no-op job on ``sites`` sites; start-up, per-round overhead, teardown."""
    from fljob.runtime.local_run import LocalRun, RunOptions

    root = Path(tempfile.mkdtemp(prefix="fljob-bench-"))
    rounds_seen: list[dict[str, Any]] = []
    try:
        job = write_noop_job(root, rounds, sites)
        run = LocalRun(
            RunOptions(
                job_dir=job, workspace=root / "ws", sites=[f"site-{i}" for i in range(1, sites + 1)]
            ),
            on_event=lambda e: rounds_seen.append(e) if e["kind"] == "round_done" else None,
        )
        summary = run.run()
        if not summary.ok:
            raise SystemExit(f"benchmark job failed: {summary.error}")
        overheads = []
        for event in rounds_seen[1:]:
            work = max(m.get("work_s", 0.0) for m in event["metrics"].values())
            overheads.append(event["seconds"] - work)
        t = summary.timings
        return {
            "sites": sites,
            "rounds": rounds,
            "startup_s": t["first_round"],
            "first_round_s": rounds_seen[0]["seconds"],
            "overhead_per_round_ms": 1000 * sum(overheads) / len(overheads),
            "overhead_max_ms": 1000 * max(overheads),
            "teardown_s": t["stopped"] - t["last_round_done"],
            "total_s": t["stopped"],
            "phases": {k: round(v, 3) for k, v in t.items()},
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _start_participant(args: list[str], log: Path) -> tuple[subprocess.Popen, dict]:
    with log.open("ab") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fljob", *args],
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
    for raw in proc.stdout:
        event = json.loads(raw)
        if event.get("event") == "ready":
            return proc, event
    raise SystemExit(f"{args[0]} did not start; see {log}")


def submit_to_running_federation(warm_spare: bool, rounds: int = 3) -> dict[str, Any]:
    """A job submitted to an idle, running federation (server + 2 sites): the time from
    submit to its first round, and to its end (with or without warm spare processes)."""
    from fljob.runtime.local_run import compile_with_overrides
    from fljob.runtime.pki import provision
    from fljob.runtime.server.admin import AdminClient

    root = Path(tempfile.mkdtemp(prefix="fljob-bench-"))
    procs: list[subprocess.Popen] = []
    spare = "--warm-spare" if warm_spare else "--no-warm-spare"
    try:
        pki = provision(root / "pki", project="b", sites=["site-1", "site-2"], admins=["a@b"])
        server, ready = _start_participant(
            [
                "server",
                "--kit",
                str(pki.kit_dir("server")),
                "-w",
                str(root / "server"),
                "--port",
                "0",
                spare,
            ],
            root / "server.txt",
        )
        procs.append(server)
        for site in ("site-1", "site-2"):
            procs.append(
                _start_participant(
                    [
                        "site",
                        "--kit",
                        str(pki.kit_dir(site)),
                        "-w",
                        str(root / site),
                        "--server",
                        ready["address"],
                        spare,
                    ],
                    root / f"{site}.txt",
                )[0]
            )
        bundle = compile_with_overrides(write_noop_job(root, rounds, 2), root / "bundle")
        time.sleep(3.0)  # an idle federation: spares (if any) have warmed up
        admin = AdminClient(ready["address"], pki.kit_dir("a@b"))
        started = time.perf_counter()
        job_id = admin.submit(bundle)
        first = None
        for event in admin.follow(job_id):
            if event["kind"] == "round_started" and first is None:
                first = time.perf_counter() - started
        done = time.perf_counter() - started
        admin.close()
        return {"warm_spare": warm_spare, "to_first_round_s": first, "job_s": done}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)
            proc.stdout.close()
        shutil.rmtree(root, ignore_errors=True)


def whole_numpy_run() -> dict[str, Any]:
    """``fljob create`` from sag_np, then a cold ``fljob run`` of 3 rounds on 2 sites."""
    root = Path(tempfile.mkdtemp(prefix="fljob-bench-"))
    try:
        fljob = [sys.executable, "-m", "fljob"]
        subprocess.run(
            [*fljob, "create", "-j", str(root / "job"), "-w", "sag_np"],
            check=True,
            capture_output=True,
        )
        started = time.perf_counter()
        proc = subprocess.run(
            [
                *fljob,
                "run",
                "-j",
                str(root / "job"),
                "-n",
                "2",
                "-w",
                str(root / "ws"),
                "--format",
                "json",
                "-f",
                "config_fed_server.conf",
                "num_rounds=3",
            ],
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"fljob run failed:\n{proc.stderr}")
        summary = json.loads(proc.stdout)
        accuracy = [
            sum(m["accuracy"] for m in r["metrics"].values()) / len(r["metrics"])
            for r in summary["rounds"]
        ]
        return {"wall_s": wall, "status": summary["status"], "mean_accuracy": accuracy}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def nvflare_run(venv: Path, job: Path) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="nvflare-bench-"))
    try:
        started = time.perf_counter()
        proc = subprocess.run(
            [
                str(venv / "bin" / "nvflare"),
                "simulator",
                str(job),
                "-n",
                "2",
                "-t",
                "2",
                "-w",
                str(root / "ws"),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": ""},
        )
        return {"wall_s": time.perf_counter() - started, "exit_code": proc.returncode}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--nvflare-venv", type=Path)
    parser.add_argument("--nvflare-job", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = {
        "overhead_2_sites": measure_overhead(2, args.rounds),
        "overhead_8_sites": measure_overhead(8, args.rounds),
        "whole_numpy_run": whole_numpy_run(),
        "running_federation_warm": submit_to_running_federation(True),
        "running_federation_cold": submit_to_running_federation(False),
    }
    if args.nvflare_venv and args.nvflare_job:
        results["nvflare_simulator"] = nvflare_run(args.nvflare_venv, args.nvflare_job)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for key in ("overhead_2_sites", "overhead_8_sites"):
        r = results[key]
        print(
            f"{r['sites']} sites, {r['rounds']} no-op rounds: start-up {r['startup_s']:.2f} s, "
            f"overhead {r['overhead_per_round_ms']:.1f} ms/round (max "
            f"{r['overhead_max_ms']:.1f}), first round {r['first_round_s']:.2f} s, "
            f"teardown {r['teardown_s']:.2f} s, total {r['total_s']:.2f} s"
        )
    whole = results["whole_numpy_run"]
    print(
        f"fljob run sag_np, 3 rounds, 2 sites (cold process): {whole['wall_s']:.2f} s, "
        f"{whole['status']}, mean accuracy per round "
        + ", ".join(f"{a:.3f}" for a in whole["mean_accuracy"])
    )
    for key in ("running_federation_warm", "running_federation_cold"):
        r = results[key]
        print(
            f"submit to a running 2-site federation "
            f"({'warm spares' if r['warm_spare'] else 'no spares'}): "
            f"first round after {r['to_first_round_s']:.2f} s, 3-round job done after "
            f"{r['job_s']:.2f} s"
        )
    if "nvflare_simulator" in results:
        nv = results["nvflare_simulator"]
        print(
            f"nvflare simulator: {nv['wall_s']:.2f} s (exit {nv['exit_code']}), "
            f"ratio {nv['wall_s'] / whole['wall_s']:.1f}x"
        )


if __name__ == "__main__":
    main()
