"""The site process (``fljob site``): registers with the server, keeps a heartbeat, takes
work by long polling and runs each job in its own job process.

It never listens on the network: every exchange is a call to the server.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from pathlib import Path
from typing import Any

from fljob.errors import RuntimeProtocolError
from fljob.runtime.process import EventWriter, stop_process
from fljob.runtime.server import topics
from fljob.runtime.spare import SparePool

log = logging.getLogger("fljob.site")
JOB_MODULE = "fljob.runtime.site.job_process"


class Site:
    """One client site. ``run()`` blocks until :meth:`stop` (or the server goes away)."""

    def __init__(
        self,
        *,
        server_address: str,
        kit: Path,
        workspace: Path,
        name: str | None = None,
        server_name: str = "server",
        events: EventWriter | None = None,
        policy_file: Path | None = None,
        warm_spare: bool = True,
    ) -> None:
        from fljob.runtime.pki import load_identity

        self.server_address = server_address
        self.kit = Path(kit)
        self.identity = load_identity(self.kit)
        self.name = name or self.kit.name
        self.server_name = server_name
        self.policy_file = policy_file
        self.workspace = Path(workspace)
        self.workspace.mkdir(parents=True, exist_ok=True)
        self.events = events or EventWriter()
        self.jobs: dict[str, subprocess.Popen[bytes]] = {}
        #: a warm job process, so a deployed job starts without Python's start-up cost
        self.spares = SparePool(
            JOB_MODULE,
            events_on_stdout=False,
            spare_log=self.workspace / "spare.log",
            enabled=warm_spare,
        )
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.client: Any = None

    def _call(
        self,
        topic: str,
        headers: dict[str, Any],
        timeout: float | None = 30.0,
        wait_for_ready: bool = False,
    ) -> Any:
        from fljob.runtime.transport import Message

        return self.client.call(
            topic, Message(headers), timeout=timeout, wait_for_ready=wait_for_ready
        )

    def register(self, timeout: float = 30.0) -> float:
        """Register with the server; the heartbeat interval it asks for."""
        from fljob.runtime.transport import RpcClient

        self.client = RpcClient(self.server_address, self.identity, server_name=self.server_name)
        from fljob.runtime.site_policy import declared_resources

        headers = {"resources": declared_resources(self.kit)}  # for the server's scheduler
        reply = self._call(topics.SITE_REGISTER, headers, timeout=timeout, wait_for_ready=True)
        log.info("registered with %s as %s", self.server_address, self.name)
        return float(reply.headers.get("heartbeat_interval", 2.0))

    def run(self) -> int:
        self.spares.prepare()  # warms up while this site registers
        interval = self.register()
        self.events("ready", site=self.name)
        threading.Thread(
            target=self._heartbeat, args=(interval,), daemon=True, name="site-heartbeat"
        ).start()
        failures = 0
        while not self._stop.is_set():
            try:
                reply = self.client.call(
                    topics.SITE_NEXT_WORK,
                    _message({"wait": topics.POLL_WAIT}),
                    timeout=topics.POLL_WAIT + 30,
                )
                failures = 0
            except RuntimeProtocolError as exc:
                failures += 1
                if self._stop.is_set():
                    break
                log.warning("cannot reach the server (%d): %s", failures, exc)
                if failures >= 20:
                    log.error("giving up: the server is gone")
                    self.stop()
                    return 1
                self._stop.wait(0.5)  # error path only: back off
                continue
            self._handle(reply)
        return 0

    def _handle(self, reply: Any) -> None:
        kind = reply.headers.get("kind")
        job_id = str(reply.headers.get("job_id", ""))
        if kind == "deploy":
            self._start_job(job_id, reply.headers, bytes(reply.body))
        elif kind == "abort":
            self._stop_job(job_id)

    def _start_job(self, job_id: str, headers: dict[str, Any], bundle_zip: bytes) -> None:
        job_dir = self.workspace / job_id
        job_dir.mkdir(parents=True, exist_ok=True)
        (job_dir / "bundle.zip").write_bytes(bundle_zip)
        from fljob.runtime.site_policy import write_deploy_info

        write_deploy_info(job_dir, headers)  # who submitted it, for the site's policy
        log_file = job_dir / "log.txt"
        argv = [
            "--job-id",
            job_id,
            "--site-name",
            self.name,
            "--bundle-zip",
            str(job_dir / "bundle.zip"),
            "--workspace",
            str(job_dir),
            "--log-file",
            str(log_file),
            "--kit",
            str(self.kit),
            "--server",
            self.server_address,
            "--server-name",
            self.server_name,
            "--policy",
            str(self.policy_file or ""),
        ]
        proc = self.spares.start(argv, output=log_file)
        with self._lock:
            self.jobs[job_id] = proc
        log.info("job %s: started job process %d", job_id, proc.pid)
        self.events("job_started", job_id=job_id, pid=proc.pid)
        threading.Thread(target=self._reap, args=(job_id, proc), daemon=True).start()

    def _reap(self, job_id: str, proc: subprocess.Popen[bytes]) -> None:
        code = proc.wait()
        with self._lock:
            if self.jobs.get(job_id) is proc:
                del self.jobs[job_id]
        log.info("job %s: job process exited with code %s", job_id, code)
        if not self._stop.is_set():
            self.spares.prepare_later()
        self.events("job_ended", job_id=job_id, code=code)

    def _stop_job(self, job_id: str) -> None:
        with self._lock:
            proc = self.jobs.get(job_id)
        if proc is not None:
            log.info("job %s: aborting", job_id)
            stop_process(proc, grace=2.0)

    def _heartbeat(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                with self._lock:
                    running = sorted(self.jobs)
                reply = self._call(topics.SITE_HEARTBEAT, {"jobs": running}, timeout=interval * 2)
                if not reply.headers.get("known", True):
                    self._call(topics.SITE_REGISTER, {}, timeout=interval * 2)
            except RuntimeProtocolError as exc:
                log.warning("heartbeat failed: %s", exc)

    def stop(self) -> None:
        """Stop every job process and leave (safe to call from a signal handler thread)."""
        self._stop.set()
        with self._lock:
            procs = list(self.jobs.values())
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            stop_process(proc, grace=1.0)
        self.spares.close()
        if self.client is not None:
            self.client.close()


def _message(headers: dict[str, Any]) -> Any:
    from fljob.runtime.transport import Message

    return Message(headers)
