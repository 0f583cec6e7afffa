"""KEY=VALUE overrides: parsing, file and key resolution, typed conversion, in-place edits."""

from __future__ import annotations

from pathlib import Path

import pytest

from fljob.compiler.overrides import (
    apply_overrides,
    find_config_file,
    parse_override,
    parse_override_args,
)
from fljob.compiler.templates.model import Variable, VariableKey
from fljob.compiler.templates.types import convert
from fljob.errors import OverrideError

SERVER_CONF = """
{
  # rounds
  num_rounds = 5
  run_name = "010"
  workflows = [
    { id = "fedavg", path = "fljob.runtime.workflows.FedAvg",
      args { num_rounds = "{num_rounds}", persistor_id = "persistor" } }
    { id = "cse", path = "fljob.runtime.workflows.CrossSiteEval",
      args { persistor_id = "persistor", evaluate_global = true } }
  ]
}
"""


META_JSON = '{"name": "job", "min_clients": 2, "deploy_map": {"app": ["@ALL"]}}\n'
CLIENT_JSON = '{\n  "lr": 0.1,\n  "tasks": ["train"]\n}\n'


@pytest.fixture
def job(tree) -> Path:
    return (
        tree(
            {
                "job/meta.json": META_JSON,
                "job/app/config/config_fed_server.conf": SERVER_CONF,
                "job/app/config/config_fed_client.json": CLIENT_JSON,
            }
        )
        / "job"
    )


def overrides(job: Path, *args: str, variables=()):
    return apply_overrides(job, parse_override_args(args), variables=variables)


@pytest.mark.parametrize(
    ("text", "key", "value", "op"),
    [
        ("num_rounds=7", "num_rounds", "7", "set"),
        ("app_config=--epochs 2 --lr=0.1", "app_config", "--epochs 2 --lr=0.1", "set"),
        ("+args.momentum=0.9", "args.momentum", "0.9", "add"),
        ("task_data_filters-", "task_data_filters", None, "delete"),
        ("name=", "name", "", "set"),
    ],
    ids=["set", "value-with-equals", "add", "delete", "empty-value"],
)
def test_parse_override(text, key, value, op) -> None:
    parsed = parse_override(text)
    assert (parsed.key, parsed.value, parsed.op) == (key, value, op)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["num_rounds=7"], "unexpected argument 'num_rounds=7'"),
        (["-f"], "-f needs a config file name"),
        (["-f", "a.conf", "num_rounds"], "expected KEY=VALUE, +KEY=VALUE or KEY-"),
        (["-f", "a.conf", "=7"], "bad override '=7'"),
    ],
    ids=["no-file", "file-missing", "no-equals", "empty-key"],
)
def test_parse_override_args_errors(args, message) -> None:
    with pytest.raises(OverrideError) as info:
        parse_override_args(args)
    assert message in str(info.value)


def test_parse_groups() -> None:
    groups = parse_override_args(["-f", "a.conf", "x=1", "y-", "-f", "b.json", "+z=2"])
    assert [(g.file, [o.text for o in g.overrides]) for g in groups] == [
        ("a.conf", ["x=1", "y-"]),
        ("b.json", ["+z=2"]),
    ]


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("config_fed_server.conf", "app/config/config_fed_server.conf"),
        ("config_fed_server.json", "app/config/config_fed_server.conf"),
        ("config_fed_client.conf", "app/config/config_fed_client.json"),
        ("app/config_fed_client.yml", "app/config/config_fed_client.json"),
        ("app/config/config_fed_server", "app/config/config_fed_server.conf"),
        ("meta.conf", "meta.json"),
    ],
    ids=[
        "exact",
        "json-asked-conf-present",
        "conf-asked-json-present",
        "app-scoped",
        "no-extension",
        "meta-other-format",
    ],
)
def test_find_config_file(job: Path, name: str, found: str) -> None:
    assert find_config_file(job, name) == job / found


def test_find_config_file_ambiguous_between_apps(tree) -> None:
    job = (
        tree(
            {
                "j/app_1/config/config_fed_client.conf": "a = 1\n",
                "j/app_2/config/config_fed_client.conf": "a = 1\n",
            }
        )
        / "j"
    )
    with pytest.raises(OverrideError) as info:
        find_config_file(job, "config_fed_client.conf")
    text = str(info.value)
    assert "FLJ622" in text and "app_1/config/config_fed_client.conf" in text
    assert "app_2/config/config_fed_client.conf" in text and "-f app_1/config_fed_client" in text


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["-f", "config_fed_sever.conf", "num_rounds=7"],
            "FLJ622",
            "did you mean 'app/config/config_fed_server.conf'?",
        ),
        (["-f", "config_fed_server.conf", "num_round=7"], "FLJ623", "did you mean 'num_rounds'?"),
        (
            ["-f", "config_fed_server.conf", "persistor_id=p"],
            "FLJ624",
            "workflows[0].args.persistor_id, workflows[1].args.persistor_id",
        ),
        (
            ["-f", "config_fed_server.conf", "num_rounds=abc"],
            "FLJ625",
            "bad value for num_rounds (int): expected an int, got 'abc'",
        ),
        (
            ["-f", "config_fed_server.conf", "workflows[0].args.num_rounds=x"],
            "FLJ625",
            "(int): expected an int",
        ),
        (
            ["-f", "config_fed_server.conf", "evaluate_global=yes"],
            "FLJ625",
            "expected true or false",
        ),
        (["-f", "config_fed_client.conf", "tasks=train"], "FLJ625", "expected a list"),
        (["-f", "config_fed_server.conf", "+num_rounds=3"], "FLJ621", "already exists"),
        (["-f", "config_fed_server.conf", "+nope.x=3"], "FLJ623", "unknown key 'nope'"),
        (["-f", "config_fed_server.conf", "workflows[9].id-"], "FLJ623", "unknown key"),
    ],
    ids=[
        "unknown-file",
        "unknown-key",
        "ambiguous-leaf",
        "bad-int",
        "bad-int-via-reference",
        "bool-never-yes",
        "list-needs-json",
        "add-existing",
        "add-under-unknown",
        "index-out-of-range",
    ],
)
def test_override_errors(job: Path, args, code, message) -> None:
    before = (job / "app/config/config_fed_server.conf").read_text()
    with pytest.raises(OverrideError) as info:
        overrides(job, *args)
    text = str(info.value)
    assert code in text and message in text, text
    assert (job / "app/config/config_fed_server.conf").read_text() == before


def test_all_errors_reported_at_once_and_nothing_written(job: Path) -> None:
    before = (job / "app/config/config_fed_client.json").read_text()
    with pytest.raises(OverrideError) as info:
        overrides(
            job,
            "-f",
            "config_fed_client.conf",
            "lr=0.5",
            "-f",
            "config_fed_server.conf",
            "num_round=1",
            "run_nam=2",
        )
    assert [d.code for d in info.value.diagnostics()] == ["FLJ623", "FLJ623"]
    assert (job / "app/config/config_fed_client.json").read_text() == before


def test_overrides_typed_and_in_place(job: Path) -> None:
    records = overrides(
        job,
        "-f",
        "config_fed_server.conf",
        "num_rounds=7",
        "run_name=011",
        "workflows[1].args.evaluate_global=false",
        "run_name=012",
        "-f",
        "config_fed_client.conf",
        "lr=1",
        'tasks=["train", "validate"]',
        "+momentum=0.9",
    )
    server = (job / "app/config/config_fed_server.conf").read_text()
    assert "  # rounds\n  num_rounds = 7\n" in server
    assert 'run_name = "012"' in server  # "010"-like values stay strings for a string key
    assert "evaluate_global = false" in server
    client = (job / "app/config/config_fed_client.json").read_text()
    assert client == ('{\n  "lr": 1.0,\n  "tasks": ["train", "validate"],\n  "momentum": 0.9\n}\n')
    assert [(r.key, r.value, r.op) for r in records][-1] == ("momentum", 0.9, "add")


def test_declared_type_and_bounds_win(job: Path) -> None:
    declared = [
        Variable(
            "rounds",
            "int",
            5,
            "FedAvg rounds",
            minimum=1,
            keys=(VariableKey("app/config/config_fed_server.conf", ("num_rounds",)),),
        ),
        Variable(
            "run",
            "str",
            "010",
            choices=("010", "020"),
            keys=(VariableKey("app/config/config_fed_server.json", ("run_name",)),),
        ),
    ]
    with pytest.raises(OverrideError) as info:
        overrides(
            job, "-f", "config_fed_server.conf", "num_rounds=0", "run_name=030", variables=declared
        )
    text = str(info.value)
    assert "0 is below the minimum 1" in text and "not one of the choices" in text
    overrides(job, "-f", "config_fed_server.conf", "run_name=020", variables=declared)
    assert 'run_name = "020"' in (job / "app/config/config_fed_server.conf").read_text()


def test_delete_in_place(job: Path) -> None:
    overrides(job, "-f", "meta.json", "min_clients-")
    assert (job / "meta.json").read_text() == '{"name": "job", "deploy_map": {"app": ["@ALL"]}}\n'


@pytest.mark.parametrize(
    ("text", "type_name", "value"),
    [
        ("010", "str", "010"),
        ("7", "int", 7),
        ("-3", "int", -3),
        ("0.5", "float", 0.5),
        ("7", "float", 7.0),
        ("1e-3", "float", 0.001),
        ("TRUE", "bool", True),
        ("[1, 2]", "list", [1, 2]),
        ('{"a": 1}', "dict", {"a": 1}),
        ("010", "any", "010"),
        ("10", "any", 10),
        ("null", "any", None),
        ("y", "any", "y"),
        ("2.5", "any", 2.5),
        ("[1]", "any", [1]),
    ],
    ids=lambda v: repr(v),
)
def test_convert(text, type_name, value) -> None:
    assert convert(text, type_name) == value


@pytest.mark.parametrize(
    ("text", "type_name"),
    [
        ("010", "int"),
        ("7.5", "int"),
        ("abc", "float"),
        ("y", "bool"),
        ("1", "bool"),
        ("[1", "list"),
        ("[1]", "dict"),
    ],
    ids=lambda v: repr(v),
)
def test_convert_errors(text, type_name) -> None:
    with pytest.raises(ValueError, match="expected"):
        convert(text, type_name)


CATALOG_CLIENT = """
{
  executors = [
    { tasks = ["train"], executor {
        path = "fljob.runtime.executors.ScriptExecutor"
        args { launcher_id = "launcher", heartbeat_timeout = 60 } } }
  ]
  workflows = [
    { id = "cse", path = "fljob.runtime.workflows.CrossSiteEval", args { timeout = 0 } }
  ]
}
"""


@pytest.mark.parametrize(
    ("override", "expected", "error"),
    [
        ("heartbeat_timeout=1.5", "heartbeat_timeout = 1.5", None),
        (
            "+executors[0].executor.args.params_exchange_format=pytorch",
            'params_exchange_format = "pytorch"',
            None,
        ),
        (
            "+executors[0].executor.args.params_exchange_format=tf",
            None,
            'not one of the choices: "numpy", "pytorch"',
        ),
        ("timeout=-1", None, "-1.0 is below the minimum 0"),
        ("+workflows[0].args.participating_clients=null", "participating_clients = null", None),
        (
            '+workflows[0].args.participating_clients=["site-1"]',
            'participating_clients = ["site-1"]',
            None,
        ),
    ],
    ids=[
        "float-arg-holding-an-int",
        "add-with-choice",
        "bad-choice",
        "below-minimum",
        "nullable-null",
        "nullable-list",
    ],
)
def test_catalog_types_component_arguments(tree, override, expected, error) -> None:
    job = tree({"j/app/config/config_fed_client.conf": CATALOG_CLIENT}) / "j"
    if error:
        with pytest.raises(OverrideError, match=error):
            overrides(job, "-f", "config_fed_client.conf", override)
    else:
        overrides(job, "-f", "config_fed_client.conf", override)
        assert expected in (job / "app/config/config_fed_client.conf").read_text()
