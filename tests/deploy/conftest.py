"""Fixtures for the deploy tests: an isolated POC home, real processes always stopped."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fljob.runtime import poc

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def poc_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG folders under tmp (the remembered POC workspace lives there), and the repo on
    PYTHONPATH so that site job processes can import the test plug-ins."""
    for var in ("XDG_STATE_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    monkeypatch.delenv("FLJOB_POC_WORKSPACE", raising=False)
    monkeypatch.delenv("FLJOB_STARTUP_KIT", raising=False)
    monkeypatch.delenv("FLJOB_SERVER", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    return tmp_path


@pytest.fixture
def stop_poc() -> Iterator[list[Path]]:
    """Append a POC workspace; its recorded processes are stopped at teardown, even when
    the test failed (by recorded pid only)."""
    workspaces: list[Path] = []
    yield workspaces
    for workspace in workspaces:
        if (workspace / "state.json").exists():
            poc.stop(workspace, quiet=True)


def family(workspace: Path) -> list[dict]:
    """The recorded processes of a POC and all their descendants: ``[{pid, start}]``."""
    records = [
        {"pid": r["pid"], "start": r["start"]} for r in poc.Poc(workspace).running().values()
    ]
    return records + [d for r in records for d in poc._descendants(int(r["pid"]))]


def wait_gone(records: list[dict], timeout: float = 10.0) -> list[dict]:
    """The records still alive after ``timeout`` seconds (empty when all ended)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [r for r in records if poc._alive(r)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)
