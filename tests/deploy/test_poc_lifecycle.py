"""``fljob poc`` end to end with real processes: prepare 3 sites, start all but one,
submit without flags (the POC admin kit is found), the job waits for its mandatory
site, runs once it comes online, then stop leaves no process and clean removes all."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fljob.runtime import poc
from fljob.runtime.provision import kit_address
from fljob.runtime.server.admin import AdminClient
from tests.deploy.conftest import family, wait_gone
from tests.deploy.jobs import write_job

pytestmark = pytest.mark.e2e


def _events_until(address: str, kit: Path, job_id: str, kind: str, timeout: float = 30) -> dict:
    """Follow the job until an event of ``kind`` (returns it)."""
    admin = AdminClient(address, kit)
    try:
        deadline = time.monotonic() + timeout
        after = 0
        while time.monotonic() < deadline:
            reply = admin.status(job_id, after=after, wait=1.0)
            for event in reply["events"]:
                after = max(after, int(event["seq"]))
                if event["kind"] == kind:
                    return event
        raise AssertionError(f"no {kind} event for job {job_id} in {timeout} s")
    finally:
        admin.close()


def test_poc_prepare_start_submit_queue_stop_clean(poc_home, stop_poc, cli) -> None:
    workspace = poc_home / "poc"
    stop_poc.append(workspace)
    prepared = cli("poc", "prepare", "-n", "3", "--workspace", workspace, "--format", "json")
    assert prepared.exit_code == 0, prepared.stderr
    info = json.loads(prepared.stdout)
    assert list(info["participants"]) == ["server", "site-1", "site-2", "site-3"]
    assert poc.default_workspace() == workspace.resolve()  # remembered

    started = cli("poc", "start", "--exclude", "site-3")  # no --workspace: remembered
    assert started.exit_code == 0, started.stderr
    kit = poc.default_startup_kit()
    assert kit == workspace.resolve() / "kits" / poc.ADMIN
    address = kit_address(kit)

    job = write_job(poc_home, num_rounds=2, min_clients=3, mandatory_clients=["site-3"])
    submitted = cli("submit", "-j", job)  # no --startup-kit, no --server
    assert submitted.exit_code == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    waiting = _events_until(address, kit, job_id, "job_waiting")
    assert "waiting for mandatory site(s) site-3" in waiting["reasons"]
    status = json.loads(cli("jobs", "status", job_id, "--format", "json").stdout)
    assert status["job"]["status"] == "SUBMITTED"

    assert cli("poc", "start", "-p", "site-3").exit_code == 0
    done = _events_until(address, kit, job_id, "job_done")
    assert done["status"] == "FINISHED_OK", done
    status = json.loads(cli("jobs", "status", job_id, "--format", "json").stdout)
    rounds = [e for e in status["events"] if e["kind"] == "round_done"]
    assert [sorted(r["metrics"]) for r in rounds] == [["site-1", "site-2", "site-3"]] * 2

    refused = cli("poc", "clean")
    assert refused.exit_code == 2 and "is running" in refused.stderr
    processes = family(workspace)
    assert len(processes) >= 4
    stopped = cli("poc", "stop")
    assert stopped.exit_code == 0 and "server" in stopped.stdout
    assert wait_gone(processes, timeout=5) == []
    cleaned = cli("poc", "clean")
    assert cleaned.exit_code == 0, cleaned.stderr
    assert not workspace.exists()


def test_poc_commands_refuse_without_a_prepared_workspace(poc_home, cli) -> None:
    for command in (["start"], ["stop"], ["clean"]):
        result = cli("poc", *command, "--workspace", poc_home / "none")
        assert result.exit_code == 2 and "no POC is prepared" in result.stderr, result
    (poc_home / "data").mkdir()
    (poc_home / "data" / "precious.txt").write_text("keep me")
    result = cli("poc", "prepare", "--workspace", poc_home / "data")
    assert result.exit_code == 2 and "is not a POC workspace" in result.stderr
    assert (poc_home / "data" / "precious.txt").exists()


def test_a_participant_that_cannot_start_is_reported_and_nothing_is_left(
    poc_home, stop_poc, cli
) -> None:
    workspace = poc_home / "poc"
    stop_poc.append(workspace)
    assert cli("poc", "prepare", "-n", "1", "--workspace", workspace).exit_code == 0
    (workspace / "kits" / "server" / "server.key").write_text("not a key")
    result = cli("poc", "start", "--workspace", workspace, "--timeout", "20")
    assert result.exit_code == 1
    assert "FLJ719" in result.stderr and "server exited before it was ready" in result.stderr
    assert poc.Poc(workspace).running() == {}


def test_reprovisioning_adds_a_site_to_a_running_poc(poc_home, stop_poc, cli) -> None:
    workspace = poc_home / "poc"
    stop_poc.append(workspace)
    assert cli("poc", "prepare", "-n", "2", "--workspace", workspace).exit_code == 0
    assert cli("poc", "start").exit_code == 0
    kits = workspace / "kits"
    before = {p: p.read_bytes() for p in kits.rglob("*.crt")}
    again = cli("poc", "prepare", "-n", "3")  # while the server and two sites run
    assert again.exit_code == 0, again.stderr
    assert all(path.read_bytes() == data for path, data in before.items())
    assert cli("poc", "start", "-p", "site-3").exit_code == 0
    submitted = cli("submit", "-j", write_job(poc_home, min_clients=3), "--format", "json")
    assert submitted.exit_code == 0, submitted.stderr
    job_id = json.loads(submitted.stdout)["job_id"]
    done = _events_until(
        kit_address(poc.default_startup_kit()), poc.default_startup_kit(), job_id, "job_done"
    )
    assert done["status"] == "FINISHED_OK", done
    started = _events_until(
        kit_address(poc.default_startup_kit()), poc.default_startup_kit(), job_id, "job_started"
    )
    assert started["sites"] == ["site-1", "site-2", "site-3"]
    assert cli("poc", "stop").exit_code == 0
