"""A running federation (``fljob server`` + two ``fljob site`` processes) driven by an
admin: submit, jobs list/status/download/logs/abort, and what the server refuses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fljob.bundle import BUNDLE_FORMAT, BundleWriter
from fljob.errors import RuntimeProtocolError
from fljob.runtime.pki import provision
from fljob.runtime.server.admin import AdminClient
from tests.runtime.helpers import write_job

pytestmark = pytest.mark.e2e
ADMIN = "admin@fed"


def _start(args: list[str], log: Path) -> tuple[subprocess.Popen, dict]:
    with log.open("ab") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fljob", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
        )
    for raw in proc.stdout:
        event = json.loads(raw)
        if event.get("event") == "ready":
            return proc, event
    raise AssertionError(f"{args[0]} did not start: {log.read_text()}")


@pytest.fixture(scope="module")
def federation(tmp_path_factory):
    root = tmp_path_factory.mktemp("fed")
    pki = provision(root / "pki", project="fed", sites=["site-1", "site-2"], admins=[ADMIN])
    procs = []
    try:
        server, ready = _start(
            [
                "server",
                "--kit",
                str(pki.kit_dir("server")),
                "-w",
                str(root / "server"),
                "--port",
                "0",
                "--heartbeat-timeout",
                "2",
            ],
            root / "server.txt",
        )
        procs.append(server)
        address = ready["address"]
        for site in ("site-1", "site-2"):
            procs.append(
                _start(
                    [
                        "site",
                        "--kit",
                        str(pki.kit_dir(site)),
                        "-w",
                        str(root / site),
                        "--server",
                        address,
                    ],
                    root / f"{site}.txt",
                )[0]
            )
        yield {
            "root": root,
            "pki": pki,
            "address": address,
            "admin": ["--startup-kit", str(pki.kit_dir(ADMIN)), "--server", address],
        }
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)
            proc.stdout.close()


def _wait_done(federation, job_id: str) -> dict:
    admin = AdminClient(federation["address"], federation["pki"].kit_dir(ADMIN))
    try:
        events = list(admin.follow(job_id))
        assert events[-1]["kind"] == "job_done"
        return admin.status(job_id)
    finally:
        admin.close()


def test_submit_then_manage_the_job_as_admin(federation, cli, tmp_path: Path) -> None:
    job = write_job(tmp_path, num_rounds=2)
    submitted = cli(
        "submit",
        "-j",
        job,
        *federation["admin"],
        "-f",
        "config_fed_server.json",
        "workflows[0].args.num_rounds=1",
    )
    assert submitted.exit_code == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    status = _wait_done(federation, job_id)
    assert status["job"]["status"] == "FINISHED_OK", status["job"]["error"]
    assert [e["round"] for e in status["events"] if e["kind"] == "round_done"] == [0]
    for who in ("server", "site-1", "site-2"):  # jobs start in warm spare processes
        assert (federation["root"] / who / "spare.log").exists()

    listed = cli("jobs", "list", *federation["admin"], "--format", "json")
    assert job_id in [j["job_id"] for j in json.loads(listed.stdout)["jobs"]]
    shown = cli("jobs", "status", job_id, *federation["admin"])
    assert "FINISHED_OK" in shown.stdout
    out = tmp_path / "download"
    downloaded = cli("jobs", "download", job_id, "-o", out, *federation["admin"])
    assert downloaded.exit_code == 0, downloaded.stderr
    assert (out / "global_model.safetensors").is_file()
    assert (out / "metrics.jsonl").read_text().count("\n") == 2
    logs = cli("jobs", "logs", job_id, "--site", "site-2", *federation["admin"])
    assert "deployed app app" in logs.stdout
    missing = cli("jobs", "logs", job_id, "--site", "site-9", *federation["admin"])
    assert missing.exit_code != 0 and "no log for 'site-9'" in missing.stderr
    unknown = cli("jobs", "status", "no-such-job", *federation["admin"])
    assert unknown.exit_code != 0 and "no job 'no-such-job'" in unknown.stderr


def test_abort_a_running_job(federation, cli, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    job = write_job(tmp_path, num_rounds=3, behaviour="hang:site-1:0", marker_dir=str(markers))
    job_id = cli("submit", "-j", job, *federation["admin"]).stdout.strip()
    deadline = time.monotonic() + 60
    while not (markers / "site-1.hanging").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    aborted = cli("jobs", "abort", job_id, *federation["admin"])
    assert aborted.exit_code == 0, aborted.stderr
    status = _wait_done(federation, job_id)
    assert status["job"]["status"] == "ABORTED"


def test_tampered_bundle_is_refused_at_submit(federation, tmp_path: Path) -> None:
    from fljob.compiler.pipeline import compile_job

    bundle = compile_job(write_job(tmp_path), tmp_path / "bundle").bundle
    (Path(bundle) / "app" / "custom" / "train.py").write_text("print('changed')\n")
    admin = AdminClient(federation["address"], federation["pki"].kit_dir(ADMIN))
    try:
        with pytest.raises(RuntimeProtocolError, match="does not match its MANIFEST"):
            admin.submit(Path(bundle))
    finally:
        admin.close()


def test_pickle_payload_is_refused_at_submit(federation) -> None:
    import pickle

    admin = AdminClient(federation["address"], federation["pki"].kit_dir(ADMIN))
    try:
        with pytest.raises(RuntimeProtocolError, match="not a zip archive"):
            admin.submit(pickle.dumps({"meta": {"name": "evil"}}))
    finally:
        admin.close()


def test_site_that_cannot_deploy_fails_the_job_with_its_reason(federation, tmp_path) -> None:
    writer = BundleWriter()
    writer.add_json("meta.json", {"name": "bad", "min_clients": 1, "deploy_map": {"app": ["@ALL"]}})
    writer.add_json(
        "app/config/config_fed_server.json",
        {
            "workflows": [
                {"id": "f", "path": "fljob.runtime.workflows.FedAvg", "args": {"num_rounds": 1}}
            ],
            "components": [
                {
                    "id": "persistor",
                    "path": "fljob.runtime.persistors.NumpyModelPersistor",
                    "args": {"initial_model": {"w": [1.0]}},
                }
            ],
        },
    )
    writer.add_json(
        "app/config/config_fed_client.json",
        {
            "executors": [
                {"tasks": ["train"], "executor": {"path": "fljob.runtime.executors.NoSuchExecutor"}}
            ]
        },
    )
    bundle = writer.write(
        tmp_path / "b", {"format": BUNDLE_FORMAT, "job_name": "bad"}, as_zip=False, force=True
    )
    admin = AdminClient(federation["address"], federation["pki"].kit_dir(ADMIN))
    try:
        job_id = admin.submit(bundle)
    finally:
        admin.close()
    status = _wait_done(federation, job_id)
    assert status["job"]["status"] == "FAILED"
    error = status["job"]["error"]
    assert "0 site(s) joined the job, min_clients is 1" in error
    assert "deploy failed on site-1" in error and "NoSuchExecutor" in error


@pytest.mark.parametrize("who", ["foreign-ca", "site-as-admin"])
def test_clients_without_a_valid_certificate_are_refused(federation, tmp_path, who) -> None:
    if who == "foreign-ca":
        other = provision(tmp_path / "other", project="fed", sites=["site-1"], admins=[ADMIN])
        admin = AdminClient(federation["address"], other.kit_dir(ADMIN))
        expected = "."  # any transport failure: the TLS handshake is refused
    else:
        admin = AdminClient(federation["address"], federation["pki"].kit_dir("site-1"))
        expected = "may not call admin.list"
    try:
        with pytest.raises(RuntimeProtocolError, match=expected):
            admin.list()
    finally:
        admin.close()


def test_unknown_server_address_fails_fast(federation) -> None:
    admin = AdminClient("127.0.0.1:1", federation["pki"].kit_dir(ADMIN))
    started = time.monotonic()
    try:
        with pytest.raises(RuntimeProtocolError):
            admin.list()
    finally:
        admin.close()
    assert time.monotonic() - started < 10


def test_no_leftover_job_processes(federation) -> None:
    """After the jobs above, no job process is left (warm spares wait for the next job)."""
    deadline = time.monotonic() + 10
    while True:
        children = _live_job_processes()
        if not children or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert children == []
    shutil.rmtree(federation["root"] / "unused", ignore_errors=True)


def _live_job_processes() -> list[str]:
    """Command lines of this test's live (not zombie) job processes, warm spares aside."""
    import psutil

    found = []
    for child in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue  # exited, waiting to be reaped by its parent
            command = child.cmdline()
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        if "job_process" in " ".join(command) and "--spare" not in command:
            found.append(" ".join(command))
    return found
