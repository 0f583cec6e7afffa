"""Template sources, lookup order, info parsing and the built-in library."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fljob.compiler.templates.library import TemplateLibrary, user_config_path
from fljob.errors import TemplateError
from fljob.templates import BUILTIN_DIR
from tests.templates.conftest import FLJOB_TEMPLATE, prefixed

BUILTINS = [
    "cyclic_cc_pt",
    "cyclic_pt",
    "sag_cse_pt",
    "sag_np",
    "sag_pt",
    "sag_pt_deploy_map",
    "stats_np",
    "swarm_cse_pt",
]


def test_builtin_library_lists_every_template() -> None:
    library = TemplateLibrary.discover(environ={"HOME": "/nonexistent"})
    templates = {t.name: t for t in library.templates()}
    assert sorted(templates) == BUILTINS
    for template in templates.values():
        assert template.source == "built-in"
        assert template.info.version == "1.0.0" and template.info.variables
        assert template.info.execution_api_type == "client_api"
        assert template.info.controller_type in ("server", "client")


def test_sources_in_order_first_wins(tree, library: Path) -> None:
    env_dir = tree(prefixed("env/sag_pt", FLJOB_TEMPLATE)) / "env"
    user_dir = tree(prefixed("user/tiny", FLJOB_TEMPLATE)) / "user"
    config_home = tree({"cfg/fljob/config.json": json.dumps({"template_dirs": [str(user_dir)]})})
    environ = {"FLJOB_TEMPLATES": str(env_dir), "XDG_CONFIG_HOME": str(config_home / "cfg")}
    library_ = TemplateLibrary.discover([library], environ=environ)
    entries = library_.entries()
    assert entries["tiny"].source.origin == "-d"
    assert [s.origin for s in entries["tiny"].shadows] == ["user config"]
    assert entries["sag_pt"].source.origin == "FLJOB_TEMPLATES"
    assert [s.origin for s in entries["sag_pt"].shadows] == ["built-in"]
    assert entries["sag_np"].source.origin == "built-in"
    assert library_.find("sag_pt").root == env_dir / "sag_pt"


def test_user_config_path_honours_xdg() -> None:
    assert user_config_path({"XDG_CONFIG_HOME": "/x"}) == Path("/x/fljob/config.json")
    assert user_config_path({"HOME": "/home/u"}) == Path("/home/u/.config/fljob/config.json")


@pytest.mark.parametrize(
    ("environ_key", "content", "message"),
    [
        ("FLJOB_TEMPLATES", None, "is not a folder; skipped"),
        ("XDG_CONFIG_HOME", "{not json", "cannot read the user config"),
        ("XDG_CONFIG_HOME", '{"template_dirs": "x"}', "'template_dirs' must be a list"),
    ],
    ids=["env-missing-dir", "user-config-bad-json", "user-config-bad-type"],
)
def test_bad_sources_warn(tmp_path: Path, environ_key, content, message) -> None:
    if content is not None:
        (tmp_path / "fljob").mkdir()
        (tmp_path / "fljob" / "config.json").write_text(content)
        environ = {environ_key: str(tmp_path)}
    else:
        environ = {environ_key: str(tmp_path / "missing")}
    library = TemplateLibrary.discover(environ=environ)
    assert [w.code for w in library.warnings] == ["FLJ604"]
    assert message in library.warnings[0].message
    assert "sag_pt" in library.entries()  # the built-in library still answers


def test_unknown_template_suggests() -> None:
    library = TemplateLibrary.discover(environ={})
    with pytest.raises(TemplateError) as info:
        library.find("sag_pytorch")
    (diagnostic,) = info.value.diagnostics()
    assert diagnostic.code == "FLJ601" and diagnostic.hint == "did you mean 'sag_pt'?"


def test_template_by_path(library: Path) -> None:
    template = TemplateLibrary.discover(environ={}).find(str(library / "tiny"))
    assert template.name == "tiny" and template.info.version == "2.1"


def test_flare_format_template_loads_as_is(library: Path) -> None:
    template = TemplateLibrary.discover([library], environ={}).find("sag_flare")
    assert template.flare_format and template.info.variables == ()
    assert template.info.description == "scatter & gather workflow using numpy"


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ("description = 3", "'description' must be a string"),
        ('variables { n { type = "integer!" } }', "unknown type 'integer!'"),
        ('variables { n { type = "int", key = "no-colon" } }', "bad key: expected FILE:KEY_PATH"),
        ('variables { n { type = "int", min = "one" } }', "'min' must be a number"),
        ('variables { n { type = "int", defualt = 1 } }', "unknown field 'defualt'"),
        ("variables = [1]", "'variables' must be an object"),
    ],
    ids=[
        "description-type",
        "unknown-type",
        "bad-key",
        "bad-bound",
        "typo-field",
        "variables-not-object",
    ],
)
def test_bad_info(tree, info: str, message: str) -> None:
    root = tree({**prefixed("t", FLJOB_TEMPLATE), "t/info.conf": info + "\n"}) / "t"
    with pytest.raises(TemplateError) as info_error:
        TemplateLibrary.discover([root], environ={}).find("t")
    assert message in str(info_error.value)


def test_builtin_dir_is_package_data() -> None:
    assert (BUILTIN_DIR / "_scaffolds" / "pt_cnn" / "net.py").is_file()
