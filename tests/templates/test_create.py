"""``create_job``: every built-in, --force, script folders, the template record, scaffolds."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fljob.compiler.templates import lint_template
from fljob.compiler.templates.create import JobExistsError, ScriptDirError, create_job
from fljob.compiler.templates.library import TemplateLibrary
from fljob.compiler.templates.model import read_template_record
from fljob.errors import ExitCode, OverrideError
from fljob.templates import BUILTIN_DIR
from tests.templates.conftest import FLJOB_TEMPLATE, prefixed
from tests.templates.test_library import BUILTINS

LIBRARY = TemplateLibrary.discover(environ={})


@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_creates_and_lints_clean(tmp_path: Path, name: str) -> None:
    from fljob.compiler.lint import lint_job

    template = LIBRARY.find(name)
    result = create_job(template, tmp_path / "job")
    job = result.job_dir
    assert (job / ".fljob" / "template.json").is_file()
    meta = next(job.glob("meta.*"))
    assert 'name = "job"' in meta.read_text()
    assert lint_job(job) == []
    record = read_template_record(job)
    assert record is not None and record.name == name and record.version == "1.0.0"
    assert record.hash.startswith("sha256:") and len(record.hash) == 71
    for variable in record.variables:  # declared keys point at job files
        assert variable.keys, variable.name
        for key in variable.keys:
            assert (job / key.file).is_file(), key


def test_builtin_library_lints_clean() -> None:
    assert lint_template(BUILTIN_DIR) == []


def test_deploy_map_template_has_one_folder_per_app(tmp_path: Path) -> None:
    job = create_job(
        LIBRARY.find("sag_pt_deploy_map"),
        tmp_path / "j",
        override_args=["-f", "app_2/config_fed_client.conf", "app_config=--epochs 3"],
    ).job_dir
    assert sorted(p.name for p in job.iterdir() if p.is_dir()) == [
        ".fljob",
        "app_1",
        "app_2",
        "app_server",
    ]
    assert (job / "app_server/custom/net.py").is_file()  # the persistor builds net.Net
    assert 'app_config = "--epochs 3"' in (job / "app_2/config/config_fed_client.conf").read_text()
    assert (
        'app_config = "--epochs 1 --lr 0.02"'
        in (job / "app_1/config/config_fed_client.conf").read_text()
    )


def test_record_holds_overrides(tmp_path: Path) -> None:
    result = create_job(
        LIBRARY.find("sag_pt"),
        tmp_path / "j",
        override_args=[
            "-f",
            "config_fed_server.conf",
            "num_rounds=7",
            "-f",
            "config_fed_client.conf",
            "heartbeat_timeout=30",
        ],
    )
    data = json.loads((result.job_dir / ".fljob/template.json").read_text())
    assert data["overrides"] == [
        {"file": "app/config/config_fed_server.conf", "key": "num_rounds", "value": 7},
        {
            "file": "app/config/config_fed_client.conf",
            "key": "executors[0].executor.args.heartbeat_timeout",
            "value": 30,
        },
    ]
    assert {"name", "version", "hash", "source", "overrides", "variables"} <= set(data)


def test_same_template_same_hash(tmp_path: Path) -> None:
    first = create_job(LIBRARY.find("sag_np"), tmp_path / "a").record.hash
    assert create_job(LIBRARY.find("sag_np"), tmp_path / "b").record.hash == first


def test_existing_folder_needs_force(tmp_path: Path) -> None:
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "notes.txt").write_text("mine")
    with pytest.raises(JobExistsError) as info:
        create_job(LIBRARY.find("sag_np"), tmp_path / "j")
    assert info.value.exit_code == ExitCode.USAGE and "--force" in (info.value.hint or "")


def test_force_overwrites_template_files_and_keeps_the_rest(tmp_path: Path) -> None:
    job = create_job(LIBRARY.find("sag_np"), tmp_path / "j").job_dir
    (job / "notes.txt").write_text("mine")
    (job / "app/custom/helper.py").write_text("# mine")
    (job / "app/config/config_fed_server.conf").write_text("broken {")
    create_job(
        LIBRARY.find("sag_np"),
        job,
        force=True,
        override_args=["-f", "config_fed_server.conf", "num_rounds=2"],
    )
    assert (job / "notes.txt").read_text() == "mine"
    assert (job / "app/custom/helper.py").read_text() == "# mine"
    assert "num_rounds = 2" in (job / "app/config/config_fed_server.conf").read_text()
    assert not list(tmp_path.glob(".j.fljob-*"))  # no staging folder left behind


def test_failed_create_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(OverrideError) as info:
        create_job(
            LIBRARY.find("sag_pt"),
            tmp_path / "j",
            override_args=["-f", "config_fed_server.conf", "num_rounds=0"],
        )
    assert not (tmp_path / "j").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    # the error names the job's file, not the staging copy
    assert info.value.diagnostics()[0].file == str(tmp_path / "j/app/config/config_fed_server.conf")


def test_script_dir_copy_skips_caches_vcs_job_and_outside_links(tmp_path: Path, tree) -> None:
    src = (
        tree(
            {
                "src/train.py": "print(1)\n",
                "src/pkg/util.py": "x = 1\n",
                "src/__pycache__/train.cpython-311.pyc": b"\0",
                "src/.git/HEAD": "ref\n",
                "secret.txt": "outside\n",
            }
        )
        / "src"
    )
    os.symlink(tmp_path / "secret.txt", src / "leak.txt")
    os.symlink(src / "train.py", src / "alias.py")  # inside: copied
    result = create_job(LIBRARY.find("sag_np"), src / "job", script_dir=src)
    custom = result.job_dir / "app/custom"
    copied = sorted(p.relative_to(custom).as_posix() for p in custom.rglob("*") if p.is_file())
    assert copied == ["alias.py", "pkg/util.py", "train.py"]
    assert (custom / "train.py").read_text() == "print(1)\n"  # the user's script wins


def test_missing_script_dir(tmp_path: Path) -> None:
    with pytest.raises(ScriptDirError):
        create_job(LIBRARY.find("sag_np"), tmp_path / "j", script_dir=tmp_path / "nope")


def test_meta_json_template_and_jinja_scaffold(tree, tmp_path: Path) -> None:
    files = {**FLJOB_TEMPLATE}
    del files["meta.conf"]
    files["meta.json"] = '{\n  "name": "tiny",\n  "deploy_map": {"app": ["@ALL"]}\n}\n'
    files["custom/settings.py.j2"] = "ROUNDS = {{ num_rounds }}\nJOB = '{{ job_name }}'\n"
    root = tree(prefixed("lib/tiny", files)) / "lib" / "tiny"
    template = TemplateLibrary.discover([root], environ={}).find("tiny")
    job = create_job(
        template,
        tmp_path / "out" / "myjob",
        override_args=["-f", "config_fed_server.conf", "num_rounds=9"],
    ).job_dir
    assert (job / "meta.json").read_text() == (
        '{\n  "name": "myjob",\n  "deploy_map": {"app": ["@ALL"]}\n}\n'
    )
    assert (job / "app/custom/settings.py").read_text() == "ROUNDS = 9\nJOB = 'myjob'\n"
    assert not (job / "app/custom/settings.py.j2").exists()


def test_later_overrides_use_the_recorded_declarations(tmp_path: Path) -> None:
    from fljob.compiler.overrides import apply_overrides, parse_override_args

    job = create_job(LIBRARY.find("sag_pt"), tmp_path / "j").job_dir
    with pytest.raises(OverrideError, match="below the minimum 1"):
        apply_overrides(job, parse_override_args(["-f", "config_fed_server.conf", "num_rounds=0"]))


def test_flare_template_variables_are_inferred(library: Path, tmp_path: Path) -> None:
    template = TemplateLibrary.discover([library], environ={}).find("sag_flare")
    record = create_job(template, tmp_path / "j").record
    inferred = {v.name: (v.type, v.default, [str(k) for k in v.keys]) for v in record.variables}
    assert inferred == {
        "num_rounds": ("int", 2, ["app/config/config_fed_server.conf:num_rounds"]),
        "app_script": ("str", "cifar10.py", ["app/config/config_fed_client.conf:app_script"]),
        "app_config": ("str", "", ["app/config/config_fed_client.conf:app_config"]),
    }
    assert not any(v.declared for v in record.variables)
    assert read_template_record(tmp_path / "j") == record


YAML_SERVER = """\
# FedAvg on the server
format_version: 2
num_rounds: 3  # rounds
workflows:
  - id: fedavg
    path: fljob.runtime.workflows.FedAvg
    args:
      num_rounds: "{num_rounds}"
"""
JSON_SERVER = """\
{
  "format_version": 2,
  "num_rounds": 3,
  "workflows": [
    {"id": "fedavg", "path": "fljob.runtime.workflows.FedAvg",
     "args": {"num_rounds": "{num_rounds}"}}
  ]
}
"""


@pytest.mark.parametrize(
    ("ext", "text", "expected"),
    [
        (".yml", YAML_SERVER, YAML_SERVER.replace("num_rounds: 3  #", "num_rounds: 8  #")),
        (".json", JSON_SERVER, JSON_SERVER.replace('"num_rounds": 3', '"num_rounds": 8')),
    ],
    ids=["yaml", "json"],
)
def test_templates_in_other_formats_keep_their_format(
    tree, tmp_path: Path, ext, text, expected
) -> None:
    files = {k: v for k, v in FLJOB_TEMPLATE.items() if k != "config_fed_server.conf"}
    files["info.conf"] = files["info.conf"].replace(
        "config_fed_server.conf", "config_fed_server" + ext
    )
    files["config_fed_server" + ext] = text
    root = tree(prefixed("lib/t", files)) / "lib" / "t"
    template = TemplateLibrary.discover([root], environ={}).find("t")
    job = create_job(
        template, tmp_path / "j", override_args=["-f", "config_fed_server.conf", "num_rounds=8"]
    ).job_dir  # .conf asked: the file wins
    assert (job / f"app/config/config_fed_server{ext}").read_text() == expected
    with pytest.raises(OverrideError, match="above the maximum 100"):
        create_job(
            template,
            tmp_path / "k",
            override_args=["-f", "config_fed_server" + ext, "num_rounds=101"],
        )
