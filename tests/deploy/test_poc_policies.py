"""One POC of a three-organisation project (real processes, module-scoped): admin
authorization, site policies and plug-ins, scheduling, abort, and the jobs commands."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from fljob.runtime import poc
from fljob.runtime.provision import kit_address
from fljob.runtime.server.admin import AdminClient
from tests.deploy.conftest import REPO_ROOT, family, wait_gone
from tests.deploy.jobs import write_job

pytestmark = pytest.mark.e2e

PROJECT = """
name: fed
server: {{host: 127.0.0.1, port: {port}}}
sites:
  - {{name: site-1, org: a}}
  - name: site-2
    org: b
    policy:
      plugins:
        - {{path: tests.deploy.plugins.no_jobs_named_forbidden, events: [deploy]}}
  - name: site-3
    org: b
    resources: {{num_of_gpus: 1}}
    policy: {{accept: {{roles: [project_admin, org_admin]}}}}
admins:
  - {{name: admin@a, org: a, role: project_admin}}
  - {{name: lead@b, org: b, role: lead}}
  - {{name: member@b, org: b, role: member}}
"""


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    root = tmp_path_factory.mktemp("fed")
    saved = {k: os.environ.get(k) for k in ("XDG_STATE_HOME", "XDG_DATA_HOME", "PYTHONPATH")}
    os.environ.update(
        XDG_STATE_HOME=str(root / "state"),
        XDG_DATA_HOME=str(root / "data"),
        PYTHONPATH=str(REPO_ROOT),
    )
    workspace = root / "poc"
    try:
        project = root / "project.yml"
        project.write_text(PROJECT.format(port=poc.free_port()))
        from fljob.cli.cmd_provision import load_project_file

        poc.prepare(workspace, project=load_project_file(project), project_text="")
        poc.start(workspace)
        kits = workspace / "kits"
        yield {
            "root": root,
            "workspace": workspace,
            "kits": kits,
            "address": kit_address(kits / "admin@a"),
        }
    finally:
        poc.stop(workspace, quiet=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def as_(fed, admin: str) -> list[str]:
    """CLI flags to act as ``admin``: only the kit (the server address is in it)."""
    return ["--startup-kit", str(fed["kits"] / admin)]


def wait_done(fed, job_id: str, timeout: float = 60) -> dict:
    admin = AdminClient(fed["address"], fed["kits"] / "admin@a")
    try:
        deadline = time.monotonic() + timeout
        while True:
            reply = admin.status(job_id, wait=1.0)
            if reply["job"]["status"] in ("FINISHED_OK", "FAILED", "ABORTED"):
                return reply
            assert time.monotonic() < deadline, reply
    finally:
        admin.close()


def submit(fed, cli, tmp_path: Path, admin: str = "admin@a", **job) -> str:
    result = cli("submit", "-j", write_job(tmp_path, **job), *as_(fed, admin))
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


REFUSALS = [
    (
        "plugin",
        "admin@a",
        {"name": "forbidden"},
        "site-2 refused job 'forbidden' at deployment: jobs named 'forbidden' are not run here "
        "(plug-in tests.deploy.plugins.no_jobs_named_forbidden)",
    ),
    (
        "role",
        "lead@b",
        {},
        "site-3 refused job 'numpy-job' at deployment: it accepts jobs from roles project_admin, "
        "org_admin only; the submitter 'lead@b' is role 'lead'",
    ),
]


@pytest.mark.parametrize(
    "admin, job, reason", [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_a_site_policy_refusal_reaches_the_submitter(fed, cli, tmp_path, admin, job, reason):
    job_id = submit(fed, cli, tmp_path, admin, min_clients=3, **job)
    assert wait_done(fed, job_id)["job"]["status"] == "FAILED"
    shown = cli("jobs", "status", job_id, *as_(fed, admin))
    assert shown.exit_code == 0, shown.stderr
    assert reason in shown.stdout, shown.stdout


AUTHZ = [
    (
        "member-submits",
        "member@b",
        ["submit", "-j", "JOB"],
        "not authorized: member 'member@b' may not submit jobs",
    ),
    (
        "member-status",
        "member@b",
        ["jobs", "status", "JOB_ID"],
        "not authorized: member 'member@b' may not status jobs",
    ),
    (
        "lead-aborts-others",
        "lead@b",
        ["jobs", "abort", "JOB_ID"],
        "not authorized: lead 'lead@b' may abort only its own jobs; this job was submitted by "
        "'admin@a' of organisation 'a'",
    ),
    (
        "lead-downloads-others",
        "lead@b",
        ["jobs", "download", "JOB_ID", "-o", "OUT"],
        "lead 'lead@b' may download only its own jobs",
    ),
]


@pytest.fixture(scope="module")
def finished_job(fed, tmp_path_factory) -> str:
    """A job admin@a submitted and that finished well."""
    from fljob.compiler.pipeline import compile_job

    root = tmp_path_factory.mktemp("job")
    bundle = compile_job(write_job(root), root / "bundle").bundle
    admin = AdminClient(fed["address"], fed["kits"] / "admin@a")
    try:
        job_id = admin.submit(Path(bundle))
    finally:
        admin.close()
    assert wait_done(fed, job_id)["job"]["status"] == "FINISHED_OK"
    return job_id


@pytest.mark.parametrize(
    "admin, command, message", [a[1:] for a in AUTHZ], ids=[a[0] for a in AUTHZ]
)
def test_unauthorized_admins_are_refused(
    fed, cli, tmp_path, finished_job, admin, command, message
) -> None:
    values = {"JOB": str(write_job(tmp_path)), "JOB_ID": finished_job, "OUT": str(tmp_path / "o")}
    result = cli(*[values.get(part, part) for part in command], *as_(fed, admin))
    assert result.exit_code != 0
    assert message in result.stderr, result.stderr
    assert not (tmp_path / "o").exists()


def test_unknown_admin_certificate_is_refused(fed, cli, tmp_path) -> None:
    # provisioned into the same CA but not in the server's roster (a later re-provision)
    import yaml

    from fljob.runtime.provision import parse_project, provision_project

    data = yaml.safe_load(PROJECT.format(port=1))
    data["admins"] = [{"name": "eve@x", "org": "x", "role": "project_admin"}]
    kits = tmp_path / "kits"
    import shutil

    shutil.copytree(fed["kits"], kits)
    provision_project(parse_project(data), kits)
    result = cli("jobs", "list", "--startup-kit", kits / "eve@x", "--server", fed["address"])
    assert result.exit_code != 0
    assert "'eve@x' is not an admin of this project" in result.stderr


def test_a_job_that_can_never_run_is_refused_at_submission(fed, cli, tmp_path) -> None:
    job = write_job(
        tmp_path, mandatory_clients=["site-3"], resource_spec={"site-3": {"num_of_gpus": 2}}
    )
    result = cli("submit", "-j", job, *as_(fed, "admin@a"))
    assert result.exit_code != 0
    assert "can never be scheduled: site-3 declares 1 num_of_gpus, the job asks 2" in result.stderr


def test_list_status_download_logs_clone_as_json(fed, cli, tmp_path, finished_job) -> None:
    listed = cli("jobs", "list", "--format", "json", "--timeout", "20", *as_(fed, "member@b"))
    assert listed.exit_code == 0, listed.stderr
    jobs = {j["job_id"]: j for j in json.loads(listed.stdout)["jobs"]}
    assert jobs[finished_job]["submitter"] == "admin@a"
    status = json.loads(
        cli("jobs", "status", finished_job, "--format", "json", *as_(fed, "admin@a")).stdout
    )
    assert status["job"]["status"] == "FINISHED_OK"
    out = tmp_path / "dl"
    downloaded = cli(
        "jobs", "download", finished_job, "-o", out, "--format", "json", *as_(fed, "admin@a")
    )
    assert downloaded.exit_code == 0, downloaded.stderr
    assert json.loads(downloaded.stdout)["path"] == str(out)
    assert (out / "metrics.jsonl").is_file()
    logs = cli(
        "jobs", "logs", finished_job, "--site", "site-1", "--format", "json", *as_(fed, "admin@a")
    )
    assert "deployed app app" in json.loads(logs.stdout)["text"]
    cloned = cli("jobs", "clone", finished_job, "--format", "json", *as_(fed, "admin@a"))
    assert cloned.exit_code == 0, cloned.stderr
    clone_id = json.loads(cloned.stdout)["job_id"]
    assert clone_id != finished_job
    assert wait_done(fed, clone_id)["job"]["status"] == "FINISHED_OK"


def test_timeout_applies_to_the_session(fed, cli, finished_job) -> None:
    result = cli("jobs", "status", finished_job, "--timeout", "0.000001", *as_(fed, "admin@a"))
    assert result.exit_code != 0 and "FLJ721" in result.stderr, result


def _cwd(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""


def test_abort_mid_round_leaves_no_job_process(fed, cli, tmp_path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    job_id = submit(fed, cli, tmp_path, num_rounds=3, hang=True, markers=markers)
    deadline = time.monotonic() + 30
    while not list(markers.glob("*.hanging")):
        assert time.monotonic() < deadline, "site-1's script never started its round"
        time.sleep(0.05)
    # the job's processes work in its folders (warm spares, idle, do not)
    during = [r for r in family(fed["workspace"]) if job_id in _cwd(int(r["pid"]))]
    assert len(during) >= 7  # server job process, 3 site job processes, 3 scripts
    aborted = cli("jobs", "abort", job_id, *as_(fed, "admin@a"))
    assert aborted.exit_code == 0, aborted.stderr
    assert wait_done(fed, job_id)["job"]["status"] == "ABORTED"
    assert wait_gone(during, timeout=10) == []
