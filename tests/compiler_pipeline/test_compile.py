"""``fljob compile`` and ``fljob render`` end to end, through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

HELLO = REPO_ROOT / "examples" / "hello_job"

SERVER_JSON = """
{
  "format_version": 2,
  "num_rounds": 4,
  "workflows": [{"id": "fedavg", "path": "fljob.runtime.workflows.FedAvg",
                 "args": {"num_rounds": "{num_rounds}", "min_clients": 2}}],
  "components": [{"id": "persistor", "path": "fljob.runtime.persistors.NumpyModelPersistor",
                  "args": {"initial_model": {"w": [0.0, 1.0]}}}]
}
"""
SERVER_CONF = """
format_version = 2
num_rounds = 4
workflows = [
  { id = "fedavg", path = "fljob.runtime.workflows.FedAvg",
    args { num_rounds = "{num_rounds}", min_clients = 2 } }
]
components = [
  { id = "persistor", path = "fljob.runtime.persistors.NumpyModelPersistor",
    args { initial_model { w = [0.0, 1.0] } } }
]
"""
SERVER_YAML = """
format_version: 2
num_rounds: 4
workflows:
  - id: fedavg
    path: fljob.runtime.workflows.FedAvg
    args: {num_rounds: "{num_rounds}", min_clients: 2}
components:
  - id: persistor
    path: fljob.runtime.persistors.NumpyModelPersistor
    args:
      initial_model: {w: [0.0, 1.0]}
"""
CLIENT = {
    "json": """
{
  "format_version": 2,
  "app_script": "train.py",
  "executors": [{"tasks": ["train"], "executor": {
      "path": "fljob.runtime.executors.ScriptExecutor", "args": {"launcher_id": "launcher"}}}],
  "components": [{"id": "launcher", "path": "fljob.runtime.launchers.SubprocessLauncher",
                  "args": {"script": "python3 custom/{app_script} --site {SITE_NAME}"}}]
}
""",
    "conf": """
format_version = 2
app_script = "train.py"
executors = [
  { tasks = ["train"], executor { path = "fljob.runtime.executors.ScriptExecutor",
                                  args { launcher_id = "launcher" } } }
]
components = [
  { id = "launcher", path = "fljob.runtime.launchers.SubprocessLauncher",
    args { script = "python3 custom/{app_script} --site {SITE_NAME}" } }
]
""",
    "yml": """
format_version: 2
app_script: train.py
executors:
  - tasks: [train]
    executor:
      path: fljob.runtime.executors.ScriptExecutor
      args: {launcher_id: launcher}
components:
  - id: launcher
    path: fljob.runtime.launchers.SubprocessLauncher
    args:
      script: "python3 custom/{app_script} --site {SITE_NAME}"
""",
}
META = {
    "json": '{"name": "same", "min_clients": 2, "deploy_map": {"app": ["@ALL"]}}\n',
    "conf": 'name = "same"\nmin_clients = 2\ndeploy_map { app = ["@ALL"] }\n',
    "yml": "name: same\nmin_clients: 2\ndeploy_map:\n  app: ['@ALL']\n",
}
SERVER = {"json": SERVER_JSON, "conf": SERVER_CONF, "yml": SERVER_YAML}


def job_in(fmt: str, root: Path, tree) -> Path:
    return tree(
        {
            f"meta.{fmt}": META[fmt],
            f"app/config/config_fed_server.{fmt}": SERVER[fmt],
            f"app/config/config_fed_client.{fmt}": CLIENT[fmt],
            "app/custom/train.py": "print('train')\n",
        },
        root,
    )


def read_tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_job_in_three_formats_compiles_to_identical_bundles(tmp_path, tree, cli) -> None:
    bundles = {}
    for fmt in ("json", "conf", "yml"):
        job = job_in(fmt, tmp_path / f"job_{fmt}" / "same", tree)
        result = cli("compile", "-j", job, "-o", tmp_path / f"out_{fmt}")
        assert result.exit_code == 0, result.stderr
        bundles[fmt] = read_tree(tmp_path / f"out_{fmt}")
    assert bundles["json"] == bundles["conf"] == bundles["yml"]
    manifest = json.loads(bundles["json"]["MANIFEST.json"])
    assert manifest["system_variables"] == ["SITE_NAME"]
    assert manifest["deploy_refs"] == {
        "app/config/config_fed_client.json": {"components[0].args.script": ["SITE_NAME"]}
    }
    server = json.loads(bundles["json"]["app/config/config_fed_server.json"])
    assert server["workflows"][0]["args"]["num_rounds"] == 4


def test_zip_bundles_are_reproducible(tmp_path, cli) -> None:
    for name in ("a.zip", "b.zip"):
        result = cli("compile", "-j", HELLO, "-o", tmp_path / name, "--zip")
        assert result.exit_code == 0, result.stderr
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_failed_compile_leaves_nothing_behind(tmp_path, cli) -> None:
    job = tmp_path / "job"
    shutil.copytree(HELLO, job)
    server = job / "app/config/config_fed_server.json"
    server.write_text(server.read_text().replace('"{num_rounds}"', '"{num_roundz}"'))
    out = tmp_path / "out"
    result = cli("compile", "-j", job, "-o", out)
    assert result.exit_code == 1
    assert "FLJ201" in result.stderr and "num_roundz" in result.stderr
    assert "did you mean" in result.stderr.lower()
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert list(tmp_path.glob(".out*")) == []


def test_existing_output_needs_force(tmp_path, cli) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = cli("compile", "-j", HELLO, "-o", out)
    assert result.exit_code != 0
    assert "output exists" in result.stderr and "--force" in result.stderr
    assert cli("compile", "-j", HELLO, "-o", out, "--force").exit_code == 0


@pytest.mark.parametrize(
    ("args", "expected_code", "expected_text"),
    [
        (("compile", "-j", "/nonexistent/job", "-o", "x"), 2, "does not exist"),
        (("compile", "-j", "."), 2, "Missing option"),
        (("render", "-j", str(HELLO), "--env", "NOEQUALS"), 2, "KEY=VALUE"),
        (("render", "-j", str(HELLO), "--site", "a", "--sys", "NOPE=1"), 2, "unknown system"),
        (("compiel",), 2, "Did you mean 'compile'"),
    ],
    ids=["missing-job", "missing-out", "bad-env-pair", "unknown-sys", "typo-command"],
)
def test_usage_errors_exit_2(cli, args, expected_code, expected_text) -> None:
    result = cli(*args)
    assert result.exit_code == expected_code, result
    assert expected_text in result.stderr


def test_render_without_site_keeps_deploy_time_references(cli) -> None:
    result = cli("render", "-j", HELLO)
    assert result.exit_code == 0, result.stderr
    view = json.loads(result.stdout)
    assert set(view) == {"meta", "configs"}
    assert set(view["configs"]) == {"app/config/config_fed_server", "app/config/config_fed_client"}
    script = view["configs"]["app/config/config_fed_client"]["components"][0]["args"]["script"]
    assert script == "python3 -u custom/train.py --lr 0.5 --steps 20 --site {SITE_NAME}"
    assert (
        view["configs"]["app/config/config_fed_server"]["workflows"][0]["args"]["num_rounds"] == 3
    )


def test_render_for_a_site_resolves_system_variables(cli) -> None:
    result = cli("render", "-j", HELLO, "--site", "site-7", "--format", "yaml")
    assert result.exit_code == 0, result.stderr
    assert "--site site-7" in result.stdout


def test_render_resolves_environment_from_flags(tmp_path, tree, cli) -> None:
    job = tree(
        {
            "meta.json": '{"name": "envjob", "deploy_map": {"app": ["@ALL"]}}',
            "app/config/config_fed_client.json": (
                '{"format_version": 2, "data": "{$DATA_DIR}/x", "n": "{$N:-3}"}'
            ),
            "app/config/config_fed_server.json": '{"format_version": 2}',
        },
        tmp_path / "envjob",
    )
    missing = cli("render", "-j", job, "--site", "s1")
    assert missing.exit_code == 1 and "DATA_DIR" in missing.stderr
    result = cli("render", "-j", job, "--site", "s1", "--env", "DATA_DIR=/data")
    assert result.exit_code == 0, result.stderr
    client = json.loads(result.stdout)["configs"]["app/config/config_fed_client"]
    assert client["data"] == "/data/x"
    assert client["n"] == 3
