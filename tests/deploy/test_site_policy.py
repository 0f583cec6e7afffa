"""Site policies: accept rules, safety policy and checkers, event plug-ins and vetoes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fljob.errors import UnsafeJobError
from fljob.runtime.site_policy import (
    BUILD,
    DEPLOY,
    SUBMIT,
    JobEvent,
    JobVetoedError,
    SitePolicy,
    SitePolicyError,
    Submitter,
    find_policy_file,
    load_site_policy,
    policy_for_kit,
    policy_from_dict,
)

P = "tests.deploy.plugins"
LEAD_A = Submitter("amy@a", "a", "lead")
MEMBER_B = Submitter("bob@b", "b", "member")
CONFIG = {
    "workflows": [
        {"id": "fedavg", "path": "fljob.runtime.workflows.FedAvg", "args": {"num_rounds": 50}}
    ],
    "components": [
        {
            "id": "persistor",
            "path": "fljob.runtime.persistors.NumpyModelPersistor",
            "args": {"initial_model": {}},
        }
    ],
}


def event(kind: str = DEPLOY, submitter: Submitter = LEAD_A, name: str = "job") -> JobEvent:
    return JobEvent(kind, "site-1", "j-1", name, {"name": name}, submitter)


VETO_CASES = [
    # id, policy, event, expected reason (None: accepted)
    ("default-accepts", {}, event(), None),
    ("role-accepted", {"accept": {"roles": ["lead"]}}, event(), None),
    (
        "role-refused",
        {"accept": {"roles": ["lead"]}},
        event(submitter=MEMBER_B),
        "it accepts jobs from roles lead only; the submitter 'bob@b' is role 'member'",
    ),
    (
        "org-refused",
        {"accept": {"orgs": ["a"]}},
        event(submitter=MEMBER_B),
        "it accepts jobs from organisations a only; the submitter 'bob@b' is organisation 'b'",
    ),
    (
        "submitter-refused",
        {"accept": {"submitters": ["amy@a"]}},
        event(submitter=MEMBER_B),
        "it accepts jobs from submitters amy@a only",
    ),
    (
        "accept-rule-not-at-build",
        {"accept": {"roles": ["lead"]}},
        event(BUILD, submitter=MEMBER_B),
        None,
    ),
    ("plugin-accepts", {"plugins": [f"{P}.accept_all"]}, event(), None),
    (
        "plugin-reason",
        {"plugins": [f"{P}:no_jobs_named_forbidden"]},
        event(name="forbidden"),
        "jobs named 'forbidden' are not run here (plug-in tests.deploy.plugins:no_jobs_named_",
    ),
    ("plugin-raises-veto", {"plugins": [f"{P}.raises_veto"]}, event(), "not on weekends"),
    (
        "plugin-crash-fails-closed",
        {"plugins": [f"{P}.crashes"]},
        event(),
        "the plug-in failed (ZeroDivisionError: oops), so the job is refused",
    ),
    (
        "plugin-other-event",
        {"plugins": [{"path": f"{P}.raises_veto", "events": ["submit"]}]},
        event(DEPLOY),
        None,
    ),
    (
        "class-plugin-accepts",
        {"plugins": [{"path": f"{P}.OnlyOrg", "args": {"org": "a"}}]},
        event(),
        None,
    ),
    (
        "class-plugin-refuses",
        {"plugins": [{"path": f"{P}.OnlyOrg", "args": {"org": "a"}}]},
        event(SUBMIT, submitter=MEMBER_B),
        "refused (plug-in tests.deploy.plugins.OnlyOrg)",
    ),
]


@pytest.mark.parametrize(
    "data, ev, reason", [c[1:] for c in VETO_CASES], ids=[c[0] for c in VETO_CASES]
)
def test_vetoes(data, ev, reason) -> None:
    policy = policy_from_dict(data, source="site_policy.yml")
    if reason is None:
        policy.check(ev)
        return
    with pytest.raises(JobVetoedError) as info:
        policy.check(ev)
    message = str(info.value)
    assert reason in message
    when = {SUBMIT: "at submission", DEPLOY: "at deployment", BUILD: "before building it"}
    assert f"site-1 refused job '{ev.job_name}' {when[ev.kind]}" in message
    assert info.value.code == "FLJ715"


def test_component_plugin_sees_each_component_and_lists_every_veto() -> None:
    policy = policy_from_dict(
        {
            "plugins": [
                {"path": f"{P}.max_rounds", "events": ["build_component"], "args": {"limit": 10}}
            ]
        }
    )
    with pytest.raises(JobVetoedError) as info:
        policy.check_components(event(), {"app/config/config_fed_server": CONFIG})
    assert info.value.message.startswith(
        "site-1 refused job 'job' before building it: "
        "fljob.runtime.workflows.FedAvg at app/config/config_fed_server workflows[0]: "
        "num_rounds 50 is above this site's limit of 10"
    )
    relaxed = dataclasses.replace(
        policy, plugins=(dataclasses.replace(policy.plugins[0], args={"limit": 100}),)
    )
    relaxed.check_components(event(), {"app/config/config_fed_server": CONFIG})
    hook = relaxed.component_hook(event())
    hook("app/config/config_fed_server", CONFIG)


def test_site_safety_policy_and_checkers(tmp_path: Path) -> None:
    (tmp_path / "safety.yml").write_text("name: strict\nallow: ['fljob.runtime.workflows.*']\n")
    (tmp_path / "site_policy.yml").write_text(
        "safety_policy: safety.yml\ncheckers: ['tests.deploy.plugins:accept_all']\n"
    )
    policy = load_site_policy(tmp_path / "site_policy.yml")
    safety = policy.safety_policy()
    assert safety.name == "strict"
    assert safety.checkers == ("tests.deploy.plugins:accept_all",)
    from fljob.safety import enforce

    with pytest.raises(UnsafeJobError, match="NumpyModelPersistor"):
        enforce({"app/config/config_fed_server": CONFIG}, policy=safety)


def test_default_policy_uses_builtin_safety() -> None:
    assert SitePolicy().safety_policy().name == "default"


BAD = [
    ("not-object", [1], "a site policy must be an object"),
    ("unknown-key", {"acept": {}}, "unknown key 'acept'"),
    ("unknown-accept-key", {"accept": {"role": ["lead"]}}, "unknown key 'role'"),
    ("unknown-role", {"accept": {"roles": ["boss"]}}, "unknown role 'boss'"),
    ("roles-not-list", {"accept": {"roles": "lead"}}, "accept.roles must be a list of strings"),
    ("plugin-bad-shape", {"plugins": [{"events": ["deploy"]}]}, "a plug-in is a dotted path"),
    (
        "plugin-bad-event",
        {"plugins": [{"path": f"{P}.accept_all", "events": ["run"]}]},
        "unknown event 'run'",
    ),
    ("plugin-missing", {"plugins": [f"{P}.nope"]}, "plug-in tests.deploy.plugins.nope cannot"),
    ("checker-missing", {"checkers": ["no_such_module.check"]}, "checker no_such_module.check"),
    ("resources-not-map", {"resources": [1]}, "resources must map names to amounts"),
    ("safety-missing-file", {"safety_policy": "nope.yml"}, "safety_policy: cannot read"),
]


@pytest.mark.parametrize("data, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_policies(tmp_path: Path, data, message) -> None:
    with pytest.raises(SitePolicyError) as info:
        policy_from_dict(data, source="site_policy.yml", base_dir=tmp_path)
    assert message in str(info.value)
    assert {d.code for d in info.value.diagnostics()} == {"FLJ714"}


def test_policy_files_in_a_kit(tmp_path: Path) -> None:
    assert policy_for_kit(tmp_path) == SitePolicy()
    (tmp_path / "site_policy.json").write_text('{"resources": {"num_of_gpus": 2}}')
    assert policy_for_kit(tmp_path).resources == {"num_of_gpus": 2}
    (tmp_path / "site_policy.yml").write_text("resources: {}\n")
    with pytest.raises(SitePolicyError, match="two policy files"):
        find_policy_file(tmp_path)
