"""fljob's JSON Schemas: valid draft 2020-12, offline, and the fast check agrees with
jsonschema on valid and invalid documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from fljob.compiler.validate import schemas
from fljob.compiler.validate.fastschema import SchemaCompiler, Unsupported
from fljob.schemas import SCHEMA_DIR

SCHEMA_FILES = sorted(Path(SCHEMA_DIR).glob("*.schema.json"))
COMPONENT = {"id": "a", "path": "m.C", "args": {}}

CASES = [
    ("meta", {"name": "j", "min_clients": 2, "deploy_map": {"app": ["@ALL"]}}),
    ("meta", {"name": "j", "min_clinets": 2}),
    ("meta", {"name": "", "deploy_map": {"app": "server"}}),
    ("meta", {"min_clients": 2.0}),  # JSON Schema: 2.0 is an integer
    ("meta", {"min_clients": True}),
    ("meta", {"mandatory_clients": ["", 3]}),
    ("config_fed_server", {"format_version": 2, "workflows": [COMPONENT], "anything": {"x": 1}}),
    ("config_fed_server", {"workflows": [{"id": "a", "name": "ScatterAndGather"}]}),
    ("config_fed_server", {"workflows": [{"id": "a"}]}),
    ("config_fed_server", {"workflows": [{"path": "m.C"}]}),
    ("config_fed_server", {"workflows": [dict(COMPONENT, arg={})]}),
    ("config_fed_server", {"workflows": [dict(COMPONENT, args=[])]}),
    ("config_fed_server", {"format_version": "2", "workflows": []}),
    ("config_fed_server", {"components": []}),
    ("config_fed_server", {"workflows": [], "task_data_filters": [{"tasks": [], "filters": []}]}),
    ("config_fed_client", {"executors": [{"tasks": ["train"], "executor": {"path": "m.E"}}]}),
    ("config_fed_client", {"executors": [{"tasks": ["train"], "executor": {"args": {}}}]}),
    ("config_fed_client", {"executors": [{"tasks": "train", "executor": {"path": "m.E"}}]}),
    ("config_fed_client", {"executors": [{"tasks": ["t"], "executor": {"path": "bad path!"}}]}),
    (
        "config_fed_client",
        {"executors": [], "task_result_filters": [{"filters": [{"path": "f.F"}]}]},
    ),
    (
        "template_info",
        {
            "description": "d",
            "version": "1.0",
            "variables": {"n": {"type": "int", "min": 1, "key": "a.conf:n"}},
        },
    ),
    ("template_info", {"description": "d", "variables": {"n": {"type": "int", "key": "no-colon"}}}),
    ("template_info", {"description": "d", "controller_type": "both"}),
    ("template_info", {"descripton": "d"}),
]


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_schema_files_are_valid_and_offline(path: Path) -> None:
    schema = json.loads(path.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    refs = [v for k, v in _walk(schema) if k == "$ref"]
    assert all(r.startswith("#") or r.split("#")[0] in {p.name for p in SCHEMA_FILES} for r in refs)


def _walk(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


@pytest.mark.parametrize(
    ("schema", "instance"), CASES, ids=[f"{s}-{i}" for i, (s, _) in enumerate(CASES)]
)
def test_fast_check_agrees_with_jsonschema(schema: str, instance: dict) -> None:
    reference = not any(schemas.validator(schema).iter_errors(instance))
    assert schemas.fast_check(schema)(instance) is reference


def test_cases_cover_both_outcomes() -> None:
    outcomes = {not any(schemas.validator(s).iter_errors(i)) for s, i in CASES}
    assert outcomes == {True, False}


def test_fast_compiler_refuses_unknown_keywords() -> None:
    compiler = SchemaCompiler(lambda name: {"type": "object", "dependentRequired": {"a": ["b"]}})
    with pytest.raises(Unsupported, match="dependentRequired"):
        compiler.compile_document("x")


def test_refs_never_go_to_the_network() -> None:
    from referencing.exceptions import Unresolvable

    validator = Draft202012Validator(
        {"$ref": "https://example.com/schema.json"}, registry=schemas._registry()
    )
    with pytest.raises(Unresolvable):
        validator.validate({})
