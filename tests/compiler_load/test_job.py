"""find_config and load_job: search order, shadowing, mixed formats, collected errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from fljob.compiler.load import ConfigChoice, find_config, load_job
from fljob.errors import ConfigSyntaxError, LoadError, Severity

META_CONF = 'name = "demo"\nmin_clients = 2\ndeploy_map { app = ["@ALL"] }\n'
SERVER_JSON = '{"format_version": 2, "workflows": []}'
CLIENT_YAML = "format_version: 2\nexecutors: []\n"


@pytest.mark.parametrize(
    ("files", "chosen", "shadowed"),
    [
        (["c.json", "c.conf", "c.yml", "c.yaml"], "c.json", ["c.conf", "c.yml", "c.yaml"]),
        (["c.conf", "c.yaml"], "c.conf", ["c.yaml"]),
        (["c.yml", "c.yaml"], "c.yml", ["c.yaml"]),
        (["c.yaml"], "c.yaml", []),
        (["c.txt", "other.json"], None, []),
        ([], None, []),
    ],
    ids=["all-four", "conf-over-yaml", "yml-over-yaml", "only-yaml", "none-matching", "empty"],
)
def test_find_config_order(tmp_path: Path, files, chosen, shadowed):
    for name in files:
        (tmp_path / name).write_text("{}")
    choice = find_config(tmp_path, "c")
    if chosen is None:
        assert choice is None
    else:
        assert choice == ConfigChoice(tmp_path / chosen, tuple(tmp_path / s for s in shadowed))


def test_find_config_never_recurses_and_ignores_folders(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.json").write_text("{}")
    (tmp_path / "c.json").mkdir()  # a folder with a config's name is not a config
    assert find_config(tmp_path, "c") is None


def test_job_with_mixed_formats(tree):
    root = tree(
        {
            "job/meta.conf": META_CONF,
            "job/app/config/config_fed_server.json": SERVER_JSON,
            "job/app/config/config_fed_client.yml": CLIENT_YAML,
            "job/app/config/extra.txt": "kept verbatim",
            "job/app/config/sub/more.json": "{}",
            "job/app/custom/train.py": "print('hi')",
            "job/notes/readme.md": "not an app: no config/ folder",
        }
    )
    job = load_job(root / "job")
    assert job.name == "demo" and job.root == root / "job"
    assert job.meta.format == "hocon" and job.meta.data["min_clients"] == 2
    assert list(job.apps) == ["app"]
    app = job.apps["app"]
    assert app.custom_dir == root / "job/app/custom"
    assert {n: c.document.format for n, c in app.configs.items()} == {
        "config_fed_server": "json",
        "config_fed_client": "yaml",
    }
    assert app.configs["config_fed_client"].key == "app/config/config_fed_client"
    assert app.extra_config_files == (
        root / "job/app/config/extra.txt",
        root / "job/app/config/sub/more.json",
    )
    assert job.warnings == ()
    assert [c.name for c in job.config_files()] == ["config_fed_server", "config_fed_client"]


def test_job_with_several_apps_and_no_custom(tree):
    root = tree(
        {
            "job/meta.json": (
                '{"name": 5, "deploy_map": {"app_server": ["server"], "app_1": ["site-1"]}}'
            ),
            "job/app_server/config/config_fed_server.conf": "workflows = []",
            "job/app_1/config/config_fed_client.conf": "executors = []",
        }
    )
    job = load_job(root / "job")
    assert job.name == "job"  # meta name is not a string: the folder name
    assert list(job.apps) == ["app_1", "app_server"]
    assert job.apps["app_1"].custom_dir is None
    assert list(job.apps["app_server"].configs) == ["config_fed_server"]


def test_shadowed_files_are_warnings(tree):
    root = tree(
        {
            "job/meta.json": '{"name": "x"}',
            "job/meta.yml": "name: y",
            "job/app/config/config_fed_client.conf": "a = 1",
            "job/app/config/config_fed_client.yaml": "a: 2",
        }
    )
    job = load_job(root / "job")
    assert job.name == "x"
    assert job.meta_shadowed == (root / "job/meta.yml",)
    assert job.apps["app"].configs["config_fed_client"].shadowed == (
        root / "job/app/config/config_fed_client.yaml",
    )
    assert job.apps["app"].configs["config_fed_client"].document.data == {"a": 1}
    assert [(w.code, w.severity, Path(w.file).name) for w in job.warnings] == [
        ("FLJ103", Severity.WARNING, "config_fed_client.yaml"),
        ("FLJ103", Severity.WARNING, "meta.yml"),
    ]
    assert "meta.json wins" in job.warnings[1].message
    # shadowed files are not extra files
    assert job.apps["app"].extra_config_files == ()


def test_duplicate_key_warning_reaches_the_job(tree):
    root = tree(
        {
            "job/meta.json": '{"name": "x", "name": "y"}',
            "job/app/config/config_fed_client.json": "{}",
        }
    )
    job = load_job(root / "job")
    assert job.name == "y"
    assert [w.code for w in job.warnings] == ["FLJ106"]


def test_missing_meta_names_folder_and_candidates(tree):
    root = tree({"job/app/config/config_fed_client.json": "{}"})
    with pytest.raises(LoadError) as info:
        load_job(root / "job")
    (diag,) = info.value.diagnostics()
    assert diag.code == "FLJ102" and diag.file == str(root / "job")
    assert str(root / "job") in diag.message
    assert "meta.json, meta.conf, meta.yml, meta.yaml" in diag.hint


def test_app_without_configs(tree):
    root = tree({"job/meta.json": "{}", "job/app/config/other.json": "{}"})
    with pytest.raises(LoadError) as info:
        load_job(root / "job")
    (diag,) = info.value.diagnostics()
    assert diag.code == "FLJ102" and "app 'app'" in diag.message
    assert "config_fed_server.json" in diag.hint and "config_fed_client.yaml" in diag.hint


def test_job_without_apps(tree):
    root = tree({"job/meta.json": "{}"})
    with pytest.raises(LoadError, match="no app"):
        load_job(root / "job")


def test_every_error_of_every_file_is_collected(tree):
    root = tree(
        {
            "job/meta.conf": "name = [1,, 2]",
            "job/app/config/config_fed_server.json": '{"a": 1,}',
            "job/app/config/config_fed_client.yml": "- not an object",
            "job/app2/config/readme.txt": "no configs",
        }
    )
    with pytest.raises(LoadError) as info:
        load_job(root / "job")
    found = sorted((d.code, Path(d.file).name) for d in info.value.diagnostics())
    assert found == [
        ("FLJ101", "config_fed_server.json"),
        ("FLJ101", "meta.conf"),
        ("FLJ102", "config"),
        ("FLJ104", "config_fed_client.yml"),
    ]
    assert not isinstance(info.value, ConfigSyntaxError)


def test_only_syntax_errors_raise_config_syntax_error(tree):
    root = tree({"job/meta.json": "{", "job/app/config/config_fed_client.conf": "a = [1"})
    with pytest.raises(ConfigSyntaxError) as info:
        load_job(root / "job")
    assert [d.code for d in info.value.diagnostics()] == ["FLJ101", "FLJ101"]


def test_missing_job_folder(tmp_path: Path):
    with pytest.raises(LoadError) as info:
        load_job(tmp_path / "nope")
    assert info.value.diagnostics()[0].code == "FLJ001"


def test_include_may_reach_the_job_root_but_not_beyond(tree):
    root = tree(
        {
            "job/meta.json": "{}",
            "job/common.conf": "lr = 0.5",
            "job/app/config/config_fed_client.conf": 'include "../../common.conf"\nx = ${lr}',
            "job2/meta.json": "{}",
            "job2/app/config/config_fed_client.conf": 'include "../../../job/common.conf"',
        }
    )
    job = load_job(root / "job")
    assert job.apps["app"].configs["config_fed_client"].document.data == {"lr": 0.5, "x": 0.5}
    with pytest.raises(LoadError) as info:
        load_job(root / "job2")
    assert info.value.diagnostics()[0].code == "FLJ107"
