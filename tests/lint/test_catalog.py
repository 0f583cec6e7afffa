"""The component catalog is well formed and knows the documented components."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fljob.compiler import catalog
from fljob.compiler.catalog import REQUIRED

REPO = Path(__file__).resolve().parents[2]
COMPONENTS = catalog.all_components()


@pytest.mark.parametrize("spec", COMPONENTS, ids=lambda c: c.short_name)
def test_defaults_fit_their_own_types(spec) -> None:
    for arg in spec.args.values():
        if arg.default is not REQUIRED:
            assert arg.accepts(arg.default), f"{spec.path}.{arg.name}"
            if arg.choices is not None:
                assert arg.default in arg.choices, f"{spec.path}.{arg.name}"
        if arg.ref is not None and not arg.ref_list:
            assert arg.accepts("some_id")


def test_every_architecture_component_is_known() -> None:
    """docs/architecture.md lists fljob's runtime components: the catalog has them all."""
    text = (REPO / "docs" / "architecture.md").read_text()
    paths = set(re.findall(r"`(fljob\.runtime\.[a-z_]+\.[A-Z][A-Za-z]+)`", text))
    assert paths and paths <= {c.path for c in COMPONENTS}, sorted(
        paths - {c.path for c in COMPONENTS}
    )


@pytest.mark.parametrize(
    "path",
    [
        "nvflare.app_common.workflows.scatter_and_gather.ScatterAndGather",
        "nvflare.app_common.workflows.cross_site_model_eval.CrossSiteModelEval",
        "nvflare.app_common.workflows.cyclic_ctl.CyclicController",
        "nvflare.app_common.ccwf.swarm_server_ctl.SwarmServerController",
        "nvflare.app_common.ccwf.swarm_client_ctl.SwarmClientController",
        "nvflare.app_opt.pt.file_model_persistor.PTFileModelPersistor",
        "nvflare.app_common.aggregators.intime_accumulate_model_aggregator.InTimeAccumulateWeightedAggregator",
        "nvflare.app_opt.pt.client_api_launcher_executor.PTClientAPILauncherExecutor",
        "nvflare.fuel.utils.pipe.cell_pipe.CellPipe",
        "nvflare.fuel.utils.pipe.file_pipe.FilePipe",
        "nvflare.app_common.widgets.metric_relay.MetricRelay",
        "nvflare.app_common.filters.exclude_vars.ExcludeVars",
    ],
)
def test_flare_common_components_are_known(path: str) -> None:
    assert catalog.lookup(path) is not None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("fljob.runtime.workflows.FedAvgg", "fljob.runtime.workflows.FedAvg"),
        (
            "nvflare.app_common.workflows.ScatterAndGather",
            "nvflare.app_common.workflows.scatter_and_gather.ScatterAndGather",
        ),
        ("totally.Unrelated", None),
    ],
)
def test_closest_path(query: str, expected: str | None) -> None:
    assert catalog.closest_path(query) == expected


def test_short_names() -> None:
    assert catalog.lookup_name("ScatterAndGather").path.endswith("ScatterAndGather")
    assert catalog.lookup_name("SubprocessLauncher") is None  # fljob's and FLARE's: ambiguous


def test_references_name_kinds_that_exist() -> None:
    categories = {c.category for c in COMPONENTS}
    wanted = {a.ref for c in COMPONENTS for a in c.args.values() if a.ref and a.ref != "any"}
    # converters, learners and statistics generators live in user code
    assert wanted - categories <= {
        "converter",
        "learner",
        "statistics_generator",
        "metric_comparator",
    }


def test_catalog_imports_nothing_from_flare_or_the_job() -> None:
    import subprocess
    import sys

    code = (
        "import sys, fljob.compiler.catalog as c; c.all_components(); "
        "print('nvflare' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
