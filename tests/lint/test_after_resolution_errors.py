"""A resolution error does not hide the job's other findings."""

from __future__ import annotations

from fljob.compiler.lint import lint_job

JOB = {
    "meta.conf": """
        name = "bad"
        min_clinets = 2
        deploy_map { app = ["@ALL", "site-1"] }
    """,
    "app/config/config_fed_server.conf": """
        format_version = 2
        num_rounds = 3
        workflows = [
          { id = "fedavg", path = "fljob.runtime.workflows.FedAvg",
            args { num_rounds = "{num_round}", min_clients = "two", persistor_id = "persistr" } }
        ]
        components = [
          { id = "persistor", path = "fljob.runtime.persistors.NumpyModelPersistor",
            args { initial_model { w = [1] } } }
        ]
    """,
    "app/config/config_fed_client.conf": """
        format_version = 2
        executors = [
          { tasks = ["train"], executor {
              path = "fljob.runtime.executors.ScriptExecutor", args { launcher_id = "launcher" } } }
        ]
        components = [
          { id = "launcher", path = "fljob.runtime.launchers.SubprocessLauncher",
            args { script = "python3 train.py; rm -rf /" } }
        ]
    """,
}


def test_every_stage_reports_at_once(tmp_path, tree) -> None:
    job = tree(JOB, tmp_path / "bad")
    found = {(d.code, d.key_path) for d in lint_job(job)}
    assert found == {
        ("FLJ201", "workflows[0].args.num_rounds"),  # resolution
        ("FLJ211", "num_rounds"),  # never used, since the reference is misspelt
        ("FLJ403", "workflows[0].args.min_clients"),  # catalog type
        ("FLJ406", "workflows[0].args.persistor_id"),  # dangling component id
        ("FLJ301", "min_clinets"),  # meta schema
        ("FLJ311", "deploy_map.app"),  # deploy map
        ("FLJ503", "components[0].args.script"),  # safety
    }
