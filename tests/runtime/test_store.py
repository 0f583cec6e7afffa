"""The job store: SQLite metadata, status and events; files for bundles and results."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fljob.bundle import BUNDLE_FORMAT, BundleWriter, pack_bundle
from fljob.errors import BundleError
from fljob.runtime.jobs import JobNotFoundError, JobStatus, JobStore


def bundle_zip(tmp_path: Path, name: str = "j") -> bytes:
    writer = BundleWriter()
    writer.add_json("meta.json", {"name": name, "min_clients": 1, "deploy_map": {"a": ["@ALL"]}})
    writer.add_json("a/config/config_fed_server.json", {"workflows": []})
    root = writer.write(
        tmp_path / f"b-{name}",
        {"format": BUNDLE_FORMAT, "job_name": name},
        as_zip=False,
        force=True,
    )
    return pack_bundle(root)


def test_create_list_status_and_events(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "store")
    first = store.create(bundle_zip(tmp_path, "one"), submitter="admin@x")
    second = store.create(bundle_zip(tmp_path, "two"), submitter="admin@x")
    assert [r.name for r in store.list()] == ["one", "two"]
    assert first.status is JobStatus.SUBMITTED and first.meta["min_clients"] == 1
    assert (store.bundle_dir(first.job_id) / "MANIFEST.json").is_file()
    assert store.result_dir(first.job_id).is_dir()
    running = store.set_status(first.job_id, JobStatus.RUNNING)
    assert running.started_at is not None and running.finished_at is None
    done = store.set_status(first.job_id, JobStatus.FAILED, "boom")
    assert done.status.done and done.error == "boom" and done.finished_at is not None
    assert store.add_event(first.job_id, "round_done", {"round": 0}) == 1
    assert store.add_event(first.job_id, "round_done", {"round": 1}) == 2
    assert store.add_event(second.job_id, "x", {}) == 1
    assert [e["round"] for e in store.events(first.job_id, after=1)] == [1]
    store.close()
    reopened = JobStore(tmp_path / "store")  # state survives a server restart
    assert reopened.get(first.job_id).status is JobStatus.FAILED
    reopened.close()


@pytest.mark.parametrize(
    ("payload", "message"),
    [(b"PK\x03\x04 not really", "not a zip archive"), (b"\x80\x04\x95pickle", "not a zip")],
    ids=["broken-zip", "pickle"],
)
def test_bad_submissions_leave_nothing_behind(tmp_path: Path, payload, message) -> None:
    store = JobStore(tmp_path / "store")
    with pytest.raises(BundleError, match=message):
        store.create(payload, submitter="admin@x")
    assert store.list() == [] and list((tmp_path / "store" / "jobs").iterdir()) == []
    store.close()


def test_unknown_job(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    with pytest.raises(JobNotFoundError, match="no job 'nope'"):
        store.get("nope")
    store.close()


def test_client_facade_import_is_light() -> None:
    code = (
        "import sys, fljob.client; heavy = [m for m in ('grpc', 'torch', 'numpy', "
        "'pyhocon', 'fljob.runtime.transport') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
