"""The type check passes: ``scripts/typecheck.sh`` (what ``make typecheck`` runs).

``make test`` does not run mypy itself; this test does, once per mode, so that CI catches a
type regression. mypy keeps its cache in ``.mypy_cache``: a warm run takes a few seconds,
a cold one (both modes) about half a minute on two cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

SCRIPT = REPO_ROOT / "scripts" / "typecheck.sh"


@pytest.mark.parametrize(
    "mode",
    ["--strict-only", "--loose-only"],
    ids=["strict-compiler-and-root", "runtime-and-cli"],
)
def test_typecheck_passes(mode: str) -> None:
    # The mypy of the interpreter running the tests (the project venv in CI).
    env = {**os.environ, "MYPY": str(Path(sys.executable).parent / "mypy")}
    result = subprocess.run(
        ["bash", str(SCRIPT), mode],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, f"{SCRIPT.name} {mode} failed:\n{result.stdout}{result.stderr}"
    assert "Success: no issues found" in result.stdout
