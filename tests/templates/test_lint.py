"""``lint_template``: a catalogue of broken templates and the diagnostic each gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from fljob.compiler.templates.lint import lint_template
from tests.templates.conftest import FLARE_TEMPLATE, FLJOB_TEMPLATE, prefixed

INFO_HEAD = """
{
  description = "x"
  controller_type = "server"
  execution_api_type = "client_api"
  version = "1"
  variables {
"""


def info_with(variable: str) -> str:
    return INFO_HEAD + variable + "\n  }\n}\n"


CATALOGUE = [
    (
        "key-file-missing",
        {
            "info.conf": info_with(
                'n { type = "int", default = 3, key = "config_fed_sever.conf:num_rounds" }'
            )
        },
        "FLJ611",
        "no config file 'config_fed_sever.conf'",
    ),
    (
        "key-path-missing",
        {
            "info.conf": info_with(
                'n { type = "int", default = 3, key = "config_fed_server.conf:num_round" }'
            )
        },
        "FLJ611",
        "did you mean 'config_fed_server.conf:num_rounds'?",
    ),
    (
        "default-wrong-type",
        {"info.conf": info_with('n { type = "int", default = "five" }')},
        "FLJ612",
        "default 'five' is not of type int",
    ),
    (
        "default-out-of-bounds",
        {"info.conf": info_with('n { type = "int", default = 0, min = 1 }')},
        "FLJ612",
        "0 is below the minimum 1",
    ),
    (
        "default-not-a-choice",
        {"info.conf": info_with('n { type = "str", default = "c", choices = ["a", "b"] }')},
        "FLJ612",
        'not one of the choices: "a", "b"',
    ),
    (
        "default-differs-from-config",
        {
            "info.conf": info_with(
                'n { type = "int", default = 4, key = "config_fed_server.conf:num_rounds" }'
            )
        },
        "FLJ614",
        "default 4 differs from 3",
    ),
    ("no-info-md", {"info.md": None}, "FLJ613", "no info.md"),
    ("no-meta", {"meta.conf": None}, "FLJ615", "no meta.conf"),
    (
        "no-configs",
        {"config_fed_server.conf": None, "config_fed_client.conf": None},
        "FLJ605",
        "holds no config files",
    ),
    ("config-syntax", {"config_fed_client.conf": "{ a = [1,, 2] }\n"}, "FLJ101", ""),
    (
        "info-bad-field",
        {"info.conf": "{ description = [1] }\n"},
        "FLJ602",
        "'description' must be a string",
    ),
    (
        "job-lints-dirty",
        {
            "config_fed_server.conf": FLJOB_TEMPLATE["config_fed_server.conf"].replace(
                '"{num_rounds}"', '"{num_roundz}"'
            )
        },
        "FLJ2",
        "num_roundz",
    ),
]


@pytest.mark.parametrize(
    ("changes", "code", "message"), [c[1:] for c in CATALOGUE], ids=[c[0] for c in CATALOGUE]
)
def test_lint_catalogue(tree, changes, code, message) -> None:
    files = {**FLJOB_TEMPLATE}
    for rel, text in changes.items():
        if text is None:
            files.pop(rel)
        else:
            files[rel] = text
    root = tree(prefixed("t", files)) / "t"
    found = lint_template(root)
    assert any(d.code.startswith(code) and message in d.format() for d in found), [
        d.format() for d in found
    ]


@pytest.mark.parametrize("files", [FLJOB_TEMPLATE, FLARE_TEMPLATE], ids=["fljob", "flare"])
def test_good_templates_lint_clean(tree, files) -> None:
    assert lint_template(tree(prefixed("t", files)) / "t") == []


def test_library_lints_every_template(library: Path) -> None:
    (library / "broken").mkdir()
    found = lint_template(library)
    assert [(Path(d.file or "").name, d.code) for d in found] == [("broken", "FLJ602")]


def test_lint_maps_job_findings_back_to_template_files(tree) -> None:
    files = {
        **FLJOB_TEMPLATE,
        "config_fed_server.conf": FLJOB_TEMPLATE["config_fed_server.conf"].replace(
            '"{num_rounds}"', '"{num_roundz}"'
        ),
    }
    root = tree(prefixed("t", files)) / "t"
    (finding,) = [d for d in lint_template(root) if d.is_error]
    assert finding.file == str(root / "config_fed_server.conf")
