"""End to end with in-process scripts: real server, site and job processes over mutual TLS,
the training scripts run by the sites' job processes themselves."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from fljob.runtime.local_run import LocalRun, RunOptions
from fljob.runtime.persistors import load_params
from tests.runtime.helpers import expected_fedavg, write_job

pytestmark = pytest.mark.e2e

SITES = ["site-1", "site-2"]


def in_process_job(tmp_path: Path, *, external: bool = False, **job_args) -> Path:
    """tests/runtime's numpy FedAvg job, its ScriptExecutor set to ``external``."""
    job = write_job(tmp_path, **job_args)
    config = job / "app" / "config" / "config_fed_client.json"
    data = json.loads(config.read_text())
    data["executors"][0]["executor"]["args"]["launch_external_process"] = external
    config.write_text(json.dumps(data, indent=2))
    return job


def run(job: Path, workspace: Path) -> object:
    return LocalRun(RunOptions(job_dir=job, workspace=workspace, sites=SITES)).run()


@pytest.mark.parametrize("external", [False, True], ids=["in-process", "subprocess"])
def test_two_site_fedavg_matches_independent_weighted_average(
    tmp_path: Path, external: bool
) -> None:
    job = in_process_job(tmp_path, external=external, num_rounds=2)
    summary = run(job, tmp_path / "ws")
    assert summary.status == "FINISHED_OK", summary.error
    result = Path(summary.result_dir)
    model = load_params(result / "global_model.safetensors")
    expected = expected_fedavg(SITES, 2)
    assert set(model) == set(expected)
    for name in expected:
        np.testing.assert_allclose(model[name], expected[name], rtol=1e-6)
    assert summary.rounds[1]["metrics"]["site-2"]["delta"] == 10.0
    log = (result / "logs" / "site-1.log").read_text()
    if external:
        assert "launching" in log and "in-process" not in log
    else:
        assert "running custom/train.py in-process" in log and "launching" not in log


def test_crashing_in_process_script_fails_the_job_with_a_clear_error(tmp_path: Path) -> None:
    job = in_process_job(tmp_path, num_rounds=2, behaviour="crash:all")
    summary = run(job, tmp_path / "ws")
    assert summary.status == "FAILED"
    assert "round 0: 0 good result(s), min_clients is 2" in summary.error
    assert "in-process training script raised RuntimeError: boom on site-1 in round 0" in (
        summary.error
    )
    assert "traceback (last lines)" in summary.error
    log = (Path(summary.result_dir) / "logs" / "site-1.log").read_text()
    assert "raised RuntimeError: boom on site-1 in round 0" in log
    assert 'train.py", line' in log  # the script's own traceback line


def test_a_site_whose_script_crashes_once_rejoins_the_next_round(tmp_path: Path) -> None:
    job = in_process_job(tmp_path, num_rounds=2, min_clients=1, behaviour="crash:site-1:0")
    summary = run(job, tmp_path / "ws")
    assert summary.status == "FINISHED_OK", summary.error
    assert sorted(summary.rounds[0]["metrics"]) == ["site-2"]
    assert sorted(summary.rounds[1]["metrics"]) == SITES  # the script ran again


def test_script_that_never_answers_hits_the_task_timeout(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    job = in_process_job(
        tmp_path,
        num_rounds=1,
        min_clients=1,
        train_timeout=1.5,
        behaviour="hang:site-2:0",
        marker_dir=str(markers),
    )
    started = time.monotonic()
    summary = run(job, tmp_path / "ws")
    assert summary.status == "FINISHED_OK", summary.error
    assert (markers / "site-2.hanging").exists()
    assert sorted(summary.rounds[0]["metrics"]) == ["site-1"]
    assert time.monotonic() - started < 30
