"""The server's access decisions from a provisioned kit: roster + authorization +
server policy + scheduling (no processes: the kit is real, the records are plain)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from fljob.runtime.access import ServerAccess, UnschedulableError
from fljob.runtime.authz import NotAuthorizedError, Right
from fljob.runtime.provision import parse_project, provision_project
from fljob.runtime.site_policy import JobVetoedError

PROJECT = {
    "name": "p",
    "server": {
        "host": "127.0.0.1",
        "port": 8102,
        "policy": {
            "plugins": [
                {"path": "tests.deploy.plugins.no_jobs_named_forbidden", "events": ["submit"]}
            ]
        },
    },
    "sites": [
        {"name": "site-1", "org": "a", "resources": {"num_of_gpus": 2}},
        {"name": "site-2", "org": "b", "resources": {"num_of_gpus": 1}},
    ],
    "admins": [
        {"name": "pat@a", "org": "a", "role": "project_admin"},
        {"name": "olga@a", "org": "a", "role": "org_admin"},
        {"name": "lee@b", "org": "b", "role": "lead"},
        {"name": "mia@b", "org": "b", "role": "member"},
    ],
}


@dataclass
class Record:
    job_id: str
    submitter: str
    name: str = "job"
    meta: dict = field(default_factory=lambda: {"deploy_map": {"app": ["@ALL"]}})


@pytest.fixture(scope="module")
def access(tmp_path_factory) -> ServerAccess:
    kits = tmp_path_factory.mktemp("kits")
    provision_project(parse_project(PROJECT), kits)
    return ServerAccess.from_kit(kits / "server")


PAT_JOB, LEE_JOB = Record("1", "pat@a"), Record("2", "lee@b")
AUTH = [
    ("pat@a", Right.ABORT, LEE_JOB, None),
    ("olga@a", Right.ABORT, PAT_JOB, None),
    ("olga@a", Right.ABORT, LEE_JOB, "org_admin 'olga@a' may abort only jobs of organisation"),
    ("olga@a", Right.SUBMIT, None, "org_admin 'olga@a' may not submit jobs"),
    ("lee@b", Right.SUBMIT, None, None),
    ("lee@b", Right.DOWNLOAD, LEE_JOB, None),
    ("lee@b", Right.CLONE, PAT_JOB, "lead 'lee@b' may clone only its own jobs"),
    ("mia@b", Right.SUBMIT, None, "member 'mia@b' may not submit jobs"),
    ("mia@b", Right.LOGS, LEE_JOB, "member 'mia@b' may not logs jobs"),
    ("eve@x", Right.LIST, None, "'eve@x' is not an admin of this project"),
]


@pytest.mark.parametrize(
    "who, right, record, refusal",
    AUTH,
    ids=[f"{a[0]}-{a[1]}-{a[2].submitter if a[2] else '-'}" for a in AUTH],
)
def test_authorize_from_the_roster(access, who, right, record, refusal) -> None:
    if refusal is None:
        access.authorize(who, right, record)
    else:
        with pytest.raises(NotAuthorizedError, match=refusal):
            access.authorize(who, right, record)


def test_listing_is_filtered_and_needs_the_right(access) -> None:
    assert access.visible("mia@b", [PAT_JOB, LEE_JOB]) == [PAT_JOB, LEE_JOB]
    with pytest.raises(NotAuthorizedError):
        access.visible("eve@x", [PAT_JOB])


SUBMISSIONS = [
    ("ok", Record("3", "lee@b"), None, None),
    (
        "server-plugin-veto",
        Record("4", "lee@b", name="forbidden"),
        JobVetoedError,
        "server refused job 'forbidden' at submission: jobs named 'forbidden' are not run here",
    ),
    (
        "never-enough-gpus",
        Record(
            "5",
            "lee@b",
            meta={
                "deploy_map": {"app": ["@ALL"]},
                "mandatory_clients": ["site-2"],
                "resource_spec": {"site-2": {"num_of_gpus": 2}},
            },
        ),
        UnschedulableError,
        "can never be scheduled: site-2 declares 1 num_of_gpus, the job asks 2",
    ),
    (
        "unknown-site",
        Record("6", "lee@b", meta={"deploy_map": {"app": ["server", "site-9"]}}),
        UnschedulableError,
        "site-9 is not a site of this project",
    ),
]


@pytest.mark.parametrize(
    "record, error, message", [s[1:] for s in SUBMISSIONS], ids=[s[0] for s in SUBMISSIONS]
)
def test_submission_checks(access, record, error, message) -> None:
    if error is None:
        access.check_submission(record)
    else:
        with pytest.raises(error) as info:
            access.check_submission(record)
        assert message in info.value.message


def test_plans_use_reported_resources_and_the_ledger(access) -> None:
    job = Record(
        "7",
        "pat@a",
        meta={
            "deploy_map": {"app": ["@ALL"]},
            "min_clients": 1,
            "mandatory_clients": ["site-1"],
            "resource_spec": {"site-1": {"num_of_gpus": 2}},
        },
    )
    assert access.plan(job, alive=["site-2"]).reasons[0] == "waiting for mandatory site(s) site-1"
    plan = access.plan(job, alive=["site-1", "site-2"])
    assert plan.status == "ready" and plan.sites == ("site-1", "site-2")
    access.started(job, plan.sites)
    busy = access.plan(Record("8", "pat@a", meta=job.meta), alive=["site-1", "site-2"])
    assert busy.status == "waiting"
    assert "site-1 busy: 2 of 2 num_of_gpus in use, the job asks 2" in busy.reasons
    assert access.waiting_changed("8", busy) and not access.waiting_changed("8", busy)
    access.ended("7")
    assert access.plan(Record("8", "pat@a", meta=job.meta), ["site-1"]).status == "ready"
    access.site_registered("site-1", {"num_of_gpus": 1})  # the site's own policy says less
    assert access.plan(Record("8", "pat@a", meta=job.meta), ["site-1"]).status == "impossible"
    access.reported.clear()


def test_a_kit_without_roster_trusts_its_admin(tmp_path: Path) -> None:
    from fljob.runtime.pki import provision

    pki = provision(tmp_path, project="local", sites=["site-1"], admins=["admin@local"])
    access = ServerAccess.from_kit(pki.kit_dir("server"))
    access.authorize("admin@local", Right.ABORT, Record("1", "someone"))
    plan = access.plan(
        Record("1", "admin@local", meta={"deploy_map": {"app": ["@ALL"]}, "min_clients": 2}),
        ["site-1"],
    )
    assert plan.status == "waiting"  # an open world: another site may still come


def test_project_file_yaml_round_trip() -> None:
    assert parse_project(yaml.safe_load(yaml.safe_dump(PROJECT))).address == "127.0.0.1:8102"
