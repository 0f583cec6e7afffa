"""Command-line mistakes of the runtime commands: named, with exit code 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime.helpers import write_job


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "-n", "2", "--sites", "a,b"], "give either -n N or --sites a,b,c, not both"),
        (["run", "--sites", "a,a"], "--sites needs distinct names"),
        (["run", "--sites", "server,b"], "'server' is the server's name"),
        (["run", "-n", "0"], "0 is not in the range 1<=x<=64"),
        (["submit", "--startup-kit", "no/such/kit"], "an admin startup kit is needed"),
        (["jobs", "list", "--startup-kit", "no/such/kit"], "an admin startup kit is needed"),
    ],
    ids=[
        "n-and-sites",
        "duplicate-sites",
        "site-named-server",
        "zero-sites",
        "submit-no-kit",
        "list-no-kit",
    ],
)
def test_usage_errors(cli, tmp_path: Path, args, message) -> None:
    job = write_job(tmp_path)
    if args[0] in ("run", "submit"):
        args = [args[0], "-j", str(job), *args[1:]]
    result = cli(*args, env={"FLJOB_STARTUP_KIT": ""})
    assert result.exit_code == 2, result
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_override_names_the_users_file(cli, tmp_path: Path) -> None:
    job = write_job(tmp_path)
    result = cli(
        "run", "-j", job, "-w", tmp_path / "ws", "-f", "config_fed_server.json", "num_roundz=3"
    )
    assert result.exit_code == 1
    assert f"{job}/app/config/config_fed_server.json" in result.stderr
    assert "did you mean" in result.stderr


@pytest.mark.parametrize(
    ("meta", "args", "message"),
    [
        ({"min_clients": 3}, ["-n", "2"], "min_clients is 3, but it deploys to 2"),
        (
            {"min_clients": 1, "deploy_map": {"app": ["server", "site-9"]}},
            ["-n", "2"],
            "its deploy_map names site-9, which this run does not start",
        ),
        (
            {"mandatory_clients": ["hospital"]},
            ["-n", "2"],
            "its mandatory_clients hospital are not among this run's sites",
        ),
    ],
    ids=["too-few-sites", "named-site-missing", "mandatory-site-missing"],
)
def test_a_job_this_run_cannot_satisfy_is_refused(cli, tmp_path: Path, meta, args, message):
    import json

    job = write_job(tmp_path)
    meta_file = job / "meta.json"
    meta_file.write_text(json.dumps({**json.loads(meta_file.read_text()), **meta}))
    result = cli("run", "-j", job, "-w", tmp_path / "ws", *args)
    assert result.exit_code == 2, result
    assert message in result.stderr and "hint: start the sites it needs" in result.stderr
