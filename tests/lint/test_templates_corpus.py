"""Every built-in template lints clean: no errors, no warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from fljob.compiler.lint import lint_paths
from fljob.templates import BUILTIN_DIR

TEMPLATES = sorted(p for p in Path(BUILTIN_DIR).iterdir() if p.is_dir() and any(p.glob("info.*")))


@pytest.mark.parametrize("template", TEMPLATES, ids=[p.name for p in TEMPLATES])
def test_builtin_template_lints_clean(template: Path) -> None:
    report = lint_paths([template])
    assert [r.target.kind for r in report.results] == ["template"]
    assert report.diagnostics == [], "\n".join(d.format() for d in report.diagnostics)


def test_library_lints_as_a_tree() -> None:
    report = lint_paths([Path(BUILTIN_DIR)], strict=True)
    assert len(report.results) == len(TEMPLATES)
    assert report.exit_code == 0, "\n".join(d.format() for d in report.diagnostics)
