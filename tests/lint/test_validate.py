"""``validate(job)``: raises once with every finding; warnings pass through."""

from __future__ import annotations

from pathlib import Path

import pytest

from fljob.compiler.lint import lint_job
from fljob.compiler.load import load_job
from fljob.compiler.resolve import resolve_job
from fljob.compiler.validate import validate
from fljob.errors import UnsafeJobError, ValidationError
from fljob.safety import policy_from_dict
from tests.lint.jobs import CLIENT, SERVER, job_files, write


def _resolved(tmp_path: Path, **files: str | None):
    return resolve_job(load_job(write(tmp_path / "job", job_files(**files))))


def test_valid_job(tmp_path: Path) -> None:
    validated = validate(_resolved(tmp_path))
    assert validated.warnings == ()
    assert validated.resolved.meta.data["name"] == "j"


def test_every_error_at_once(tmp_path: Path) -> None:
    job = _resolved(
        tmp_path,
        meta='name = "j"\nmin_clinets = 1\ndeploy_map { app = ["site-1"] }\n',
        server=SERVER.replace("num_rounds = 2", "num_round = 2"),
        client=CLIENT.replace("custom/train.py", "custom/train.py; ls"),
    )
    with pytest.raises(ValidationError) as info:
        validate(job)
    assert sorted(d.code for d in info.value.diagnostics()) == [
        "FLJ301",
        "FLJ312",
        "FLJ402",
        "FLJ503",
    ]


def test_only_safety_errors_raise_unsafe_job_error(tmp_path: Path) -> None:
    job = _resolved(tmp_path, client=CLIENT.replace("python3 -u custom/train.py", "/bin/sh x.sh"))
    with pytest.raises(UnsafeJobError) as info:
        validate(job)
    assert [d.code for d in info.value.diagnostics()] == ["FLJ504"]
    assert "policy 'default' (built-in)" in info.value.message


def test_policy_argument_is_used(tmp_path: Path) -> None:
    job = _resolved(tmp_path)
    with pytest.raises(UnsafeJobError, match="site-x"):
        validate(
            job, policy=policy_from_dict({"name": "site-x", "deny": ["fljob.runtime.launchers.*"]})
        )


def test_warnings_pass_through(tmp_path: Path) -> None:
    server = SERVER.replace("format_version = 2", "format_version = 2\nunused = 1").replace(
        "FedAvg", "FedAvgg"
    )
    validated = validate(_resolved(tmp_path, server=server))
    assert sorted(d.code for d in validated.warnings) == ["FLJ211", "FLJ401"]


WEIRD = [
    ("meta-list", {"meta": None, "meta.yml": "- 1\n- 2\n"}),
    ("deploy-map-list", {"meta": 'name = "j"\ndeploy_map = ["app"]\n'}),
    ("sites-not-strings", {"meta": 'name = "j"\ndeploy_map { app = [1, null, "server"] }\n'}),
    (
        "min-clients-bool",
        {"meta": 'name = "j"\nmin_clients = true\ndeploy_map { app = ["@ALL"] }\n'},
    ),
    ("workflows-object", {"server": "workflows { a = 1 }\n"}),
    ("executors-strings", {"client": 'executors = ["x", 1]\n'}),
    (
        "args-list",
        {
            "server": 'workflows = [{ id = "a", path = "fljob.runtime.workflows.FedAvg", '
            "args = [1] }]\n"
        },
    ),
    ("path-not-string", {"server": 'workflows = [{ id = "a", path = 3 }]\n'}),
    (
        "id-not-string",
        {"server": 'workflows = [{ id = 3, path = "fljob.runtime.workflows.FedAvg" }]\n'},
    ),
    (
        "refs-not-strings",
        {"client": CLIENT.replace('launcher_id = "launcher"', "launcher_id = [1]")},
    ),
    ("empty-files", {"server": "", "client": ""}),
    ("no-apps", {"server": None, "client": None, "app__custom__train.py": None}),
]


@pytest.mark.parametrize("files", [w[1] for w in WEIRD], ids=[w[0] for w in WEIRD])
def test_odd_shapes_become_diagnostics(tmp_path: Path, files: dict) -> None:
    found = lint_job(write(tmp_path / "job", job_files(**files)))
    assert found and any(d.is_error for d in found)
    assert all(d.code.startswith("FLJ") and d.file for d in found)
