"""Cold-process timings of the everyday template commands, side by side with FLARE's.

Each command runs as a fresh ``python -m fljob ...`` process (median of ``--runs``),
with bytecode cached as in an installed package (a warm-up run writes it to a private
``PYTHONPYCACHEPREFIX``). Wall time and CPU time (user + sys of the child) are both
reported: on a shared machine the CPU time is the steadier figure.

    .venv/bin/python benchmarks/cli_bench.py [--runs 7] [--json]
        [--nvflare-venv PATH [--nvflare-templates DIR]]

With ``--nvflare-venv`` (a virtual environment where ``import nvflare`` works) the
``nvflare job list_templates / create / show_variables`` equivalents run too.
Target: each fljob command under 0.3 s (DESIGN section 10).
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

TARGET_S = 0.3


def run_timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) of one process; fails loudly on a non-zero exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(
    name: str, make_argv: Callable[[int], list[str]], env: dict[str, str], cwd: Path, runs: int
) -> dict[str, object]:
    run_timed(make_argv(-1), env, cwd)  # warm-up: bytecode cache and file cache
    samples = [run_timed(make_argv(i), env, cwd) for i in range(runs)]
    walls, cpus = [s[0] for s in samples], [s[1] for s in samples]
    return {
        "command": name,
        "runs": runs,
        "wall_median_s": round(statistics.median(walls), 3),
        "wall_min_s": round(min(walls), 3),
        "cpu_median_s": round(statistics.median(cpus), 3),
    }


def fljob_rows(work: Path, runs: int) -> list[dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    env["FLJOB_TEMPLATES"] = ""
    fljob = [sys.executable, "-m", "fljob"]
    run_timed([*fljob, "create", "-j", str(work / "shown"), "-w", "sag_pt"], env, work)
    return [
        measure("fljob --help", lambda i: [*fljob, "--help"], env, work, runs),
        measure("fljob list_templates", lambda i: [*fljob, "list_templates"], env, work, runs),
        measure(
            "fljob create -w sag_pt -f ... num_rounds=7",
            lambda i: [
                *fljob,
                "create",
                "-j",
                str(work / f"job{i}"),
                "-w",
                "sag_pt",
                "-f",
                "config_fed_server.conf",
                "num_rounds=7",
            ],
            env,
            work,
            runs,
        ),
        measure(
            "fljob show_variables",
            lambda i: [*fljob, "show_variables", "-j", str(work / "shown")],
            env,
            work,
            runs,
        ),
    ]


# nvflare 2.4 refuses Python 3.11+ at start-up (a version gate, not a missing feature);
# the shim skips that one check and runs its CLI unchanged.
NVFLARE_SHIM = """
import sys
import nvflare.cli as cli
cli.check_python_version = lambda: None
sys.argv = ["nvflare", *sys.argv[1:]]
sys.exit(cli.main())
"""


def nvflare_rows(
    venv: Path, templates: Path | None, work: Path, runs: int
) -> list[dict[str, object]]:
    python = venv / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import nvflare"], capture_output=True)
    if probe.returncode != 0:
        print(f"nvflare is not importable in {venv}; skipping it", file=sys.stderr)
        return []
    shim = work / "nvflare_shim.py"
    shim.write_text(NVFLARE_SHIM)
    nvflare = [str(python), str(shim)]
    # nvflare keeps its template folder in ~/.nvflare/config.conf: use a private HOME.
    env = {**os.environ, "HOME": str(work / "nvflare_home")}
    if templates:
        run_timed([*nvflare, "config", "-jt", str(templates)], env, work)
    create = [*nvflare, "job", "create", "-w", "sag_pt", "-force"]
    run_timed([*create, "-j", str(work / "nv_shown")], env, work)
    return [
        measure(
            "nvflare job list_templates",
            lambda i: [*nvflare, "job", "list_templates"],
            env,
            work,
            runs,
        ),
        measure(
            "nvflare job create -w sag_pt -f ... num_rounds=7",
            lambda i: [
                *create,
                "-j",
                str(work / f"nv_job{i}"),
                "-f",
                "config_fed_server.conf",
                "num_rounds=7",
            ],
            env,
            work,
            runs,
        ),
        measure(
            "nvflare job show_variables",
            lambda i: [*nvflare, "job", "show_variables", "-j", str(work / "nv_shown")],
            env,
            work,
            runs,
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--nvflare-venv", type=Path)
    parser.add_argument(
        "--nvflare-templates",
        type=Path,
        help="a folder holding FLARE's sag_pt template (nvflare config -jt)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fljob-cli-bench-"))
    try:
        rows = fljob_rows(work, args.runs)
        if args.nvflare_venv:
            rows += nvflare_rows(args.nvflare_venv, args.nvflare_templates, work, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'command':52} {'wall median':>12} {'wall min':>9} {'cpu median':>11}")
        for row in rows:
            print(
                f"{row['command']:52} {row['wall_median_s']:>11.3f}s {row['wall_min_s']:>8.3f}s "
                f"{row['cpu_median_s']:>10.3f}s"
            )
        print(f"load average: {os.getloadavg()[0]:.2f} (target: each fljob command < {TARGET_S} s)")
    slow = [
        r
        for r in rows
        if str(r["command"]).startswith("fljob ")
        and "--help" not in str(r["command"])
        and float(r["cpu_median_s"]) >= TARGET_S
    ]  # type: ignore[arg-type]
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
