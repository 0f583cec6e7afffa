"""Admin authorization: the default policy as a table, policy files, error catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fljob.runtime.authz import (
    Admin,
    AuthorizationPolicyError,
    JobOwner,
    NotAuthorizedError,
    Right,
    default_policy,
    load_policy,
    policy_from_dict,
    policy_to_dict,
)

AMY = Admin("amy@a", "a", "lead")  # a lead of org a
PAT = Admin("pat@x", "x", "project_admin")
OLGA = Admin("olga@a", "a", "org_admin")
MIA = Admin("mia@a", "a", "member")
AMYS_JOB = JobOwner("amy@a", "a")
ORG_A_JOB = JobOwner("ann@a", "a")  # another admin of org a
ORG_B_JOB = JobOwner("bob@b", "b")

CASES = [
    # (admin, right, job, allowed)
    (PAT, Right.SUBMIT, None, True),
    (PAT, Right.ABORT, ORG_B_JOB, True),
    (PAT, Right.CLONE, ORG_B_JOB, True),
    (OLGA, Right.SUBMIT, None, False),
    (OLGA, Right.LIST, None, True),
    (OLGA, Right.ABORT, ORG_A_JOB, True),
    (OLGA, Right.DOWNLOAD, ORG_A_JOB, True),
    (OLGA, Right.ABORT, ORG_B_JOB, False),
    (OLGA, Right.LOGS, ORG_B_JOB, False),
    (AMY, Right.SUBMIT, None, True),
    (AMY, Right.ABORT, AMYS_JOB, True),
    (AMY, Right.DOWNLOAD, AMYS_JOB, True),
    (AMY, Right.ABORT, ORG_A_JOB, False),
    (AMY, Right.CLONE, ORG_B_JOB, False),
    (MIA, Right.LIST, None, True),
    (MIA, Right.SUBMIT, None, False),
    (MIA, Right.STATUS, ORG_A_JOB, False),
    (MIA, Right.ABORT, ORG_A_JOB, False),
    (Admin("eve@a", "a", "intruder"), Right.LIST, None, False),
]


@pytest.mark.parametrize(
    "admin, right, job, allowed",
    CASES,
    ids=[f"{a.role}-{r}-{j.submitter if j else 'none'}" for a, r, j, _ in CASES],
)
def test_default_policy(admin, right, job, allowed) -> None:
    decision = default_policy().decide(admin, right, job)
    assert decision.allowed is allowed, decision.reason
    if allowed:
        default_policy().check(admin, right, job)
    else:
        with pytest.raises(NotAuthorizedError, match="not authorized") as info:
            default_policy().check(admin, right, job)
        assert info.value.code == "FLJ712"


def test_refusal_names_role_scope_and_owner() -> None:
    reason = default_policy().decide(AMY, Right.ABORT, ORG_B_JOB).reason
    assert reason == (
        "lead 'amy@a' may abort only its own jobs; this job was submitted by 'bob@b' of "
        "organisation 'b'"
    )


def test_list_is_filtered_by_scope() -> None:
    policy = policy_from_dict({"roles": {"lead": {"list": "own_org"}}})
    jobs = [AMYS_JOB, ORG_A_JOB, ORG_B_JOB]
    assert policy.visible(AMY, jobs, lambda j: j) == [AMYS_JOB, ORG_A_JOB]
    assert default_policy().visible(MIA, jobs, lambda j: j) == jobs
    assert policy.visible(MIA, jobs, lambda j: j) == []  # role not in policy: nothing


def test_policy_round_trips_through_json(tmp_path: Path) -> None:
    path = tmp_path / "authorization.json"
    path.write_text(json.dumps(policy_to_dict(default_policy())))
    assert load_policy(path).roles == default_policy().roles


def test_yaml_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "authorization.yml"
    path.write_text("roles:\n  member: {list: any, status: any}\n")
    policy = load_policy(path)
    assert policy.decide(MIA, Right.STATUS, ORG_B_JOB).allowed
    assert policy.source == str(path)


BAD = [
    ("not-an-object", [1], "expected an object with only a 'roles' key"),
    ("extra-key", {"roles": {}, "users": {}}, "found ['users']"),
    ("roles-not-map", {"roles": [1]}, "'roles' must map role names"),
    ("unknown-role", {"roles": {"boss": {}}}, "unknown role 'boss'"),
    ("unknown-right", {"roles": {"lead": {"delete": "any"}}}, "unknown right 'delete'"),
    ("unknown-scope", {"roles": {"lead": {"abort": "mine"}}}, "unknown scope 'mine'"),
]


@pytest.mark.parametrize("data, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_policies(data, message) -> None:
    with pytest.raises(AuthorizationPolicyError) as info:
        policy_from_dict(data, source="authorization.json")
    assert message in str(info.value)
    assert all(d.code == "FLJ713" for d in info.value.diagnostics())


def test_every_problem_is_reported_at_once() -> None:
    data = {"roles": {"boss": {}, "lead": {"delete": "any", "abort": "mine"}}}
    with pytest.raises(AuthorizationPolicyError) as info:
        policy_from_dict(data)
    assert len(info.value.diagnostics()) == 3


@pytest.mark.parametrize(
    "name, text, where",
    [("p.json", '{"roles": ', "p.json:1:11"), ("p.yml", "roles: [a\n", "p.yml:2:1")],
    ids=["json", "yaml"],
)
def test_syntax_errors_are_located(tmp_path: Path, name, text, where) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(AuthorizationPolicyError) as info:
        load_policy(tmp_path / name)
    assert info.value.diagnostics()[0].location().endswith(where)
