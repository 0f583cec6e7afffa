"""Scheduling decisions as a table: ready, waiting (and why), impossible (and why)."""

from __future__ import annotations

import pytest

from fljob.runtime.scheduler import (
    JobRequest,
    ResourceLedger,
    ResourceSpecError,
    SiteState,
    plan_job,
)

ALL3 = {"app": ["@ALL"]}


def sites(
    *online: str, offline: tuple[str, ...] = (), gpus: dict | None = None, used: dict | None = None
) -> dict[str, SiteState]:
    out = {}
    for name in (*online, *offline):
        declared = {"num_of_gpus": (gpus or {}).get(name, 0), "gpu_type": "a100"}
        out[name] = SiteState(
            name, name in online, declared, {"num_of_gpus": (used or {}).get(name, 0)}
        )
    return out


def meta(deploy_map=None, min_clients=1, mandatory=None, resources=None) -> dict:
    out = {"deploy_map": deploy_map or ALL3, "min_clients": min_clients}
    if mandatory is not None:
        out["mandatory_clients"] = mandatory
    if resources is not None:
        out["resource_spec"] = resources
    return out


CASES = [
    # id, meta, sites, closed_world, status, sites or reasons (substrings)
    (
        "all-online",
        meta(min_clients=2),
        sites("site-1", "site-2"),
        True,
        "ready",
        ["site-1", "site-2"],
    ),
    (
        "min-clients-wait",
        meta(min_clients=3),
        sites("site-1", "site-2", offline=("site-3",)),
        True,
        "waiting",
        ["2 of min_clients 3 site(s) available (site-1, site-2)", "site-3 offline"],
    ),
    (
        "mandatory-offline",
        meta(mandatory=["site-3"]),
        sites("site-1", offline=("site-3",)),
        True,
        "waiting",
        ["waiting for mandatory site(s) site-3", "site-3 offline"],
    ),
    (
        "mandatory-unknown",
        meta(mandatory=["site-9"]),
        sites("site-1"),
        True,
        "impossible",
        ["mandatory client site-9 is not a site of this project"],
    ),
    (
        "mandatory-unknown-open-world",
        meta(mandatory=["site-9"]),
        sites("site-1"),
        False,
        "waiting",
        ["waiting for mandatory site(s) site-9"],
    ),
    (
        "mandatory-not-deployed",
        meta({"app": ["server", "site-1"]}, mandatory=["site-2"]),
        sites("site-1", "site-2"),
        True,
        "impossible",
        ["mandatory client site-2 is not in the job's deploy_map"],
    ),
    (
        "explicit-unknown-site",
        meta({"app": ["server", "site-1", "site-7"]}, min_clients=2),
        sites("site-1"),
        True,
        "impossible",
        ["site-7 is not a site of this project", "min_clients is 2 but only 1"],
    ),
    (
        "explicit-partial-ok",
        meta({"app": ["server", "site-1", "site-2"]}),
        sites("site-1", offline=("site-2",)),
        True,
        "ready",
        ["site-1"],
    ),
    (
        "gpus-never",
        meta(mandatory=["site-3"], resources={"site-3": {"num_of_gpus": 2}}),
        sites("site-1", "site-3", gpus={"site-3": 1}),
        True,
        "impossible",
        ["site-3 declares 1 num_of_gpus, the job asks 2"],
    ),
    (
        "gpus-never-too-few-sites",
        meta(min_clients=2, resources={"site-1": {"num_of_gpus": 4}, "site-2": {"num_of_gpus": 4}}),
        sites("site-1", "site-2", gpus={"site-1": 2, "site-2": 8}),
        True,
        "impossible",
        [
            "min_clients is 2 but only 1 site(s) could ever run the job (site-2)",
            "site-1 declares 2 num_of_gpus, the job asks 4",
        ],
    ),
    (
        "gpus-exclude-one-site",
        meta(min_clients=1, resources={"site-1": {"num_of_gpus": 4}}),
        sites("site-1", "site-2", gpus={"site-1": 2}),
        True,
        "ready",
        ["site-2"],
    ),
    (
        "gpus-busy",
        meta(mandatory=["site-1"], resources={"site-1": {"num_of_gpus": 2}}),
        sites("site-1", gpus={"site-1": 3}, used={"site-1": 2}),
        True,
        "waiting",
        ["site-1 busy: 2 of 3 num_of_gpus in use, the job asks 2"],
    ),
    (
        "gpus-fit",
        meta(resources={"site-1": {"num_of_gpus": 2, "gpu_type": "a100"}}),
        sites("site-1", gpus={"site-1": 3}, used={"site-1": 1}),
        True,
        "ready",
        ["site-1"],
    ),
    (
        "string-mismatch",
        meta(mandatory=["site-1"], resources={"site-1": {"gpu_type": "h100"}}),
        sites("site-1"),
        True,
        "impossible",
        ["site-1 declares gpu_type='a100', the job asks 'h100'"],
    ),
    (
        "undeclared-resource",
        meta(mandatory=["site-1"], resources={"site-1": {"tpus": 1}}),
        sites("site-1"),
        True,
        "impossible",
        ["site-1 declares no tpus, the job asks 1"],
    ),
    (
        "no-sites-at-all",
        meta({"app": ["server"]}),
        sites("site-1"),
        True,
        "impossible",
        ["the deploy_map deploys the job to no site"],
    ),
    ("nobody-connected-open-world", meta(), {}, False, "waiting", ["no site is connected"]),
]


@pytest.mark.parametrize(
    "meta_, sites_, closed, status, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_plan(meta_, sites_, closed, status, expected) -> None:
    plan = plan_job(JobRequest.from_meta(meta_), sites_, closed_world=closed)
    assert plan.status == status, plan
    if status == "ready":
        assert list(plan.sites) == expected
    else:
        for text in expected:
            assert any(text in reason for reason in plan.reasons), (text, plan.reasons)


BAD_META = [
    ("min-clients-zero", {"min_clients": 0}, "min_clients must be an integer >= 1, not 0"),
    ("min-clients-text", {"min_clients": "2"}, "min_clients must be an integer >= 1"),
    ("mandatory-not-list", {"mandatory_clients": "site-1"}, "mandatory_clients must be a list"),
    ("spec-not-map", {"resource_spec": ["gpu"]}, "resource_spec must map site names"),
    ("site-spec-not-map", {"resource_spec": {"site-1": 2}}, "expected {resource: amount}"),
    (
        "negative",
        {"resource_spec": {"site-1": {"num_of_gpus": -1}}},
        "num_of_gpus must be a number >= 0",
    ),
]


@pytest.mark.parametrize("extra, message", [b[1:] for b in BAD_META], ids=[b[0] for b in BAD_META])
def test_bad_meta(extra, message) -> None:
    with pytest.raises(ResourceSpecError) as info:
        JobRequest.from_meta({"deploy_map": ALL3, **extra})
    assert message in str(info.value)
    assert info.value.diagnostics()[0].code == "FLJ717"


def test_ledger_holds_numeric_resources_until_release() -> None:
    request = JobRequest.from_meta(
        meta(resources={"site-1": {"num_of_gpus": 2, "gpu_type": "a100"}})
    )
    ledger = ResourceLedger()
    ledger.reserve("job-1", request, ["site-1", "site-2"])
    ledger.reserve("job-2", request, ["site-1"])
    assert ledger.in_use("site-1") == {"num_of_gpus": 4.0}
    assert ledger.in_use("site-2") == {}
    ledger.release("job-1")
    assert ledger.in_use("site-1") == {"num_of_gpus": 2.0}
    ledger.release("job-2")
    assert ledger.in_use("site-1") == {}
