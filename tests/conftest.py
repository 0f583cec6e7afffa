"""Shared fixtures: build file trees inline, run the CLI in-process or as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO_ROOT = Path(__file__).resolve().parents[1]


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write ``{relative path: content}`` under ``root``; text is dedented."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return root


@pytest.fixture
def tree(tmp_path: Path):
    """``tree({"job/meta.conf": "...", ...})`` writes files under a fresh tmp dir."""

    def make(files: Mapping[str, str | bytes], root: Path | None = None) -> Path:
        return write_tree(root or tmp_path, files)

    return make


class CliResult:
    def __init__(self, exit_code: int, stdout: str, stderr: str):
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr

    def __repr__(self) -> str:
        return f"CliResult(exit={self.exit_code}, stdout={self.stdout!r}, stderr={self.stderr!r})"


@pytest.fixture
def cli():
    """Run ``fljob ARGS`` in-process through the real entry point (error mapping and
    exit codes included), capturing stdout and stderr separately."""
    from fljob.cli.main import main

    def invoke(*args: str, env: Mapping[str, str] | None = None) -> CliResult:
        runner = CliRunner()
        with runner.isolation(env=dict(env or {})) as streams:
            try:
                main([str(a) for a in args])
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            stdout, stderr = streams[0].getvalue(), streams[1].getvalue()
        return CliResult(code, stdout.decode(), stderr.decode())

    return invoke


@pytest.fixture
def cli_process():
    """Run ``fljob ARGS`` as a real subprocess (cold start, real exit code)."""

    def invoke(
        *args: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 120,
    ) -> CliResult:
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.run(
            [sys.executable, "-m", "fljob", *map(str, args)],
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return invoke
