"""Importing the loader is cheap: no PyYAML, pyhocon or lark until a file needs them."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(out.stdout.split())


def test_import_load_pulls_no_parser_library():
    mods = _modules_after("import fljob.compiler.load")
    assert not {"yaml", "pyhocon", "lark", "pyparsing"} & mods


def test_loading_hocon_and_json_needs_no_yaml_or_pyhocon():
    mods = _modules_after(
        "from fljob.compiler.load import load_text\n"
        "load_text('a = 1', 'a.conf', 'hocon')\nload_text('{}', 'a.json', 'json')"
    )
    assert not {"yaml", "pyhocon", "pyparsing"} & mods


def test_warm_up_imports_every_parser():
    mods = _modules_after("from fljob.compiler.load import warm_up\nwarm_up()")
    assert {
        "yaml",
        "fljob.compiler.formats.hocon_format",
        "fljob.compiler.formats.json_format",
    } <= mods
    assert "pyhocon" not in mods
