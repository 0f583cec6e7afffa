"""Every workflow end to end through ``fljob run``: compile, real server and site
processes on 127.0.0.1 with mutual TLS, results checked against values computed here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fljob.runtime.persistors import load_params, save_params
from tests.workflows import jobs

pytestmark = pytest.mark.e2e


def _run(cli, job: Path, workspace: Path, *args: str, env=None, fmt: str = "json"):
    result = cli("run", "-j", job, "-w", workspace, "--format", fmt, *args, env=env)
    if fmt == "json":
        summary = json.loads(result.stdout)
        return result, summary, Path(summary["result_dir"])
    return result, None, Path(result.stdout.strip().splitlines()[-1])


def _records(result_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (result_dir / "rounds.jsonl").read_text().splitlines()]


def _matrix(result_dir: Path) -> dict:
    return json.loads((result_dir / "cross_site_val.json").read_text())


def test_statistics_template(cli, tmp_path) -> None:
    assert cli("create", "-j", tmp_path / "job", "-w", "stats_np").exit_code == 0
    result, _, out = _run(cli, tmp_path / "job", tmp_path / "ws", "-n", "2")
    assert result.exit_code == 0, result.stderr
    report = json.loads((out / "statistics.json").read_text())
    assert set(report["age"]["count"]) == {"Global", "site-1", "site-2"}
    counts = report["age"]["count"]
    assert counts["Global"]["train"] == counts["site-1"]["train"] + counts["site-2"]["train"]
    assert (
        sum(c for _, _, c in report["age"]["histogram"]["Global"]["train"])
        == counts["Global"]["train"]
    )
    assert (out / "statistics_histograms.png").read_bytes()[:4] == b"\x89PNG"


def test_server_cyclic(cli, tmp_path) -> None:
    job = jobs.server_cyclic_job(tmp_path, num_rounds=2)
    result, summary, out = _run(cli, job, tmp_path / "ws", "-n", "3")
    assert result.exit_code == 0, result.stderr
    # FULL results in sequence: each visit adds the site's number.
    np.testing.assert_allclose(load_params(out / "global_model.safetensors")["w"], 12.0)
    visits = [(r["round"], r["site"]) for r in _records(out) if r["action"] == "train"]
    assert visits == [(r, f"site-{k}") for r in (0, 1) for k in (1, 2, 3)]
    assert [r["round"] for r in summary["rounds"]] == [0, 1]


def test_fedavg_then_cross_site_eval_prints_the_matrix(cli, tmp_path) -> None:
    job = jobs.fedavg_cse_job(tmp_path, num_rounds=2)
    result, _, out = _run(cli, job, tmp_path / "ws", "-n", "2", fmt="text")
    assert result.exit_code == 0, result.stderr
    global_w = 2 * (1 * 1 + 2 * 2) / 3  # FedAvg weighted by steps (1 and 2)
    matrix = _matrix(out)
    assert sorted(matrix) == ["global_model", "site-1", "site-2"]
    for k in (1, 2):
        assert matrix["global_model"][f"site-{k}"]["score"] == pytest.approx(global_w + k)
        assert matrix[f"site-{k}"]["site-2"]["score"] == pytest.approx(k + 2)
    assert "cross-site evaluation" in result.stderr
    assert "global_model  score   4.333   5.333" in result.stderr


def test_evaluation_only_of_a_given_model_file(cli, tmp_path) -> None:
    job = jobs.eval_only_job(tmp_path, "custom/given.safetensors", ["site-2"])
    save_params({"w": np.full(4, 10.0, dtype=np.float32)}, job / "app/custom/given.safetensors")
    result, _, out = _run(cli, job, tmp_path / "ws", "-n", "2")
    assert result.exit_code == 0, result.stderr
    assert _matrix(out) == {
        "given": {"site-2": {"score": 12.0}},
        "site-2": {"site-2": {"score": 4.0}},
    }


def test_swarm_with_a_site_killed_then_client_side_cse(cli, tmp_path) -> None:
    job = jobs.swarm_job(tmp_path, num_rounds=3)
    result, _, out = _run(
        cli,
        job,
        tmp_path / "ws",
        "-n",
        "3",
        "--heartbeat-timeout",
        "2",
        env={"FLJOB_TEST_KILL": "site-3:1"},
    )
    assert result.exit_code == 0, result.stderr
    # Round 0 with all three sites (weights 1, 2, 3); rounds 1 and 2 without site-3.
    expected = (1 + 4 + 9) / 6 + 2 * (1 + 4) / 3
    np.testing.assert_allclose(
        load_params(out / "global_model.safetensors")["w"], expected, rtol=1e-6
    )
    records = _records(out)
    gone = [r for r in records if r["action"] == "gone"]
    assert [r["site"] for r in gone] == ["site-3"]
    aggregates = [r for r in records if r["action"] == "aggregate"]
    assert [a["contributors"] for a in aggregates] == [
        ["site-1", "site-2", "site-3"],
        ["site-1", "site-2"],
        ["site-1", "site-2"],
    ]
    matrix = _matrix(out)
    assert sorted(matrix) == ["global_model", "site-1", "site-2"]
    assert matrix["global_model"]["site-2"]["score"] == pytest.approx(expected + 2)
    workflows = json.loads((out / "summary.json").read_text())["workflows"]
    assert [w["status"] for w in workflows] == ["finished", "finished"]
    assert workflows[0]["dropped"] == {"site-3": "site gone: no sign of life for 2 s"}


def test_client_controlled_cyclic(cli, tmp_path) -> None:
    job = jobs.cyclic_cc_job(tmp_path, num_rounds=2, order="random")
    result, summary, out = _run(cli, job, tmp_path / "ws", "-n", "2")
    assert result.exit_code == 0, result.stderr
    np.testing.assert_allclose(load_params(out / "global_model.safetensors")["w"], 6.0)
    trains = [r for r in _records(out) if r["action"] == "train"]
    assert sorted(r["site"] for r in trains) == ["site-1", "site-1", "site-2", "site-2"]
    assert [r["round"] for r in summary["rounds"]] == [0, 1]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda root: jobs.swarm_job(root, with_cse=False, min_responses=3),
            "min_responses_required is 3",
        ),
        (
            lambda root: jobs.eval_only_job(root, "custom/missing.safetensors", ["site-9"]),
            "participating client(s) not in the job or gone: site-9",
        ),
    ],
    ids=["swarm-too-few-sites", "cse-unknown-participant"],
)
def test_a_workflow_that_cannot_proceed_fails_clearly(cli, tmp_path, make, message) -> None:
    result, summary, out = _run(cli, make(tmp_path), tmp_path / "ws", "-n", "2")
    assert result.exit_code == 1
    assert summary["status"] == "FAILED"
    assert message in summary["error"]
    assert json.loads((out / "summary.json").read_text())["workflows"][-1]["status"] == "failed"
