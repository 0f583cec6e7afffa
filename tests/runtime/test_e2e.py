"""End to end: real server, site, job and script processes on 127.0.0.1 over mutual TLS."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from fljob.runtime.local_run import LocalRun, RunOptions
from fljob.runtime.persistors import load_params
from tests.runtime.helpers import expected_fedavg, write_job

pytestmark = pytest.mark.e2e


def _run(job: Path, workspace: Path, **options) -> tuple[LocalRun, object]:
    run = LocalRun(RunOptions(job_dir=job, workspace=workspace, **options))
    return run, run.run()


def test_two_site_fedavg_matches_independent_weighted_average(tmp_path: Path) -> None:
    job = write_job(tmp_path, num_rounds=3)
    run, summary = _run(job, tmp_path / "ws", sites=["site-1", "site-2"])
    assert summary.status == "FINISHED_OK", summary.error
    result = Path(summary.result_dir)
    model = load_params(result / "global_model.safetensors")
    expected = expected_fedavg(["site-1", "site-2"], 3)
    assert set(model) == set(expected)
    for name in expected:
        np.testing.assert_allclose(model[name], expected[name], rtol=1e-6)
    lines = [json.loads(x) for x in (result / "metrics.jsonl").read_text().splitlines()]
    assert [(x["round"], x["site"]) for x in lines] == [
        (r, s) for r in range(3) for s in ("site-1", "site-2")
    ]
    assert [r["round"] for r in summary.rounds] == [0, 1, 2]
    assert summary.rounds[0]["metrics"]["site-2"]["delta"] == 10.0
    assert (result / "best_global_model.safetensors").is_file()
    for log in ("server", "site-1", "site-2"):
        assert (result / "logs" / f"{log}.log").stat().st_size > 0
    assert all(child.proc.poll() is not None for child in run.children) or not run.children


def test_site_failing_a_round_is_tolerated_with_min_clients(tmp_path: Path) -> None:
    job = write_job(tmp_path, num_rounds=2, min_clients=1, behaviour="crash:site-1:0")
    _, summary = _run(job, tmp_path / "ws", sites=["site-1", "site-2"])
    assert summary.status == "FINISHED_OK", summary.error
    assert sorted(summary.rounds[0]["metrics"]) == ["site-2"]
    assert sorted(summary.rounds[1]["metrics"]) == ["site-1", "site-2"]  # script relaunched
    log = (Path(summary.result_dir) / "logs" / "site-1.log").read_text()
    assert "boom on site-1 in round 0" in log
    assert "exited with code 1 before sending a result" in log


def test_crashing_script_fails_the_job_with_a_clear_error(tmp_path: Path) -> None:
    job = write_job(tmp_path, num_rounds=2, min_clients=2, behaviour="crash:all")
    _, summary = _run(job, tmp_path / "ws", sites=["site-1", "site-2"])
    assert summary.status == "FAILED"
    assert "round 0: 0 good result(s), min_clients is 2" in summary.error
    assert "exited with code 1" in summary.error
    assert "RuntimeError: boom on site-1" in summary.error


def test_site_killed_mid_round_does_not_hang_the_job(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    job = write_job(
        tmp_path, num_rounds=3, min_clients=1, behaviour="hang:site-2:1", marker_dir=str(markers)
    )
    run = LocalRun(
        RunOptions(
            job_dir=job,
            workspace=tmp_path / "ws",
            sites=["site-1", "site-2"],
            heartbeat_timeout=1.0,
        )
    )
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(run.run()))
    worker.start()
    deadline = time.monotonic() + 60
    while not (markers / "site-2.hanging").exists():  # test-side wait for the marker
        assert time.monotonic() < deadline and worker.is_alive()
        time.sleep(0.05)
    site2 = next(c for c in run.children if c.name == "site-2")
    os.killpg(site2.proc.pid, signal.SIGKILL)  # the site process and its job process
    worker.join(60)
    assert not worker.is_alive()
    summary = outcome[0]
    assert summary.status == "FINISHED_OK", summary.error
    assert sorted(summary.rounds[0]["metrics"]) == ["site-1", "site-2"]
    assert sorted(summary.rounds[1]["metrics"]) == ["site-1"]
    assert sorted(summary.rounds[2]["metrics"]) == ["site-1"]


def test_fljob_run_json_summary_and_exit_code(tmp_path: Path, cli) -> None:
    job = write_job(tmp_path, num_rounds=1)
    result = cli(
        "run",
        "-j",
        job,
        "-n",
        "2",
        "-w",
        tmp_path / "ws",
        "--format",
        "json",
        "-f",
        "config_fed_server.json",
        "workflows[0].args.num_rounds=2",
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "FINISHED_OK"
    assert [r["round"] for r in summary["rounds"]] == [0, 1]  # the override took effect
    assert set(summary["rounds"][1]["metrics"]) == {"site-1", "site-2"}
    assert Path(summary["result_dir"], "global_model.safetensors").is_file()


def test_fljob_run_failed_job_exits_1(tmp_path: Path, cli) -> None:
    job = write_job(tmp_path, num_rounds=1, behaviour="crash:all")
    result = cli("run", "-j", job, "--sites", "alpha,beta", "-w", tmp_path / "ws")
    assert result.exit_code == 1
    assert "FAILED" in result.stderr
    assert not list((tmp_path / "ws").glob("*/spare.log"))  # fljob run starts no spares
