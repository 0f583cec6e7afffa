"""The server process (``fljob server``): the only participant that listens.

It keeps the site registry and the job store, answers admins (submit, list, status,
abort, download, logs), schedules submitted jobs when their sites are connected, and
runs each job in its own job process (:mod:`.job_process`), whose events it records.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

from fljob.errors import BundleError, FljobError
from fljob.runtime.access import ServerAccess, guard_handlers, schedule
from fljob.runtime.deploy import app_for
from fljob.runtime.jobs.store import JobRecord, JobStatus, JobStore
from fljob.runtime.process import EventWriter, stop_process
from fljob.runtime.server import topics
from fljob.runtime.server.registry import SiteRegistry, Work
from fljob.runtime.spare import SparePool

log = logging.getLogger("fljob.server")
JOB_MODULE = "fljob.runtime.server.job_process"


class JobRunner:
    """Runs one job's server job process and relays its events to the store."""

    def __init__(self, server: Server, record: JobRecord, sites: list[str]) -> None:
        self.server = server
        self.job_id = record.job_id
        self.meta = record.meta
        self.submitter = record.submitter
        self.sites = sites
        self.proc: subprocess.Popen[bytes] | None = None
        self.final: dict[str, Any] | None = None
        self.address: str | None = None  #: the job process's host:port once it listens
        self.ended = False
        self.aborting = False

    def start(self) -> None:
        store, args = self.server.store, self.server
        result_dir = store.result_dir(self.job_id)
        argv = [
            "--job-id",
            self.job_id,
            "--bundle-dir",
            str(store.bundle_dir(self.job_id)),
            "--workspace",
            str(store.workspace(self.job_id)),
            "--result-dir",
            str(result_dir),
            "--kit",
            str(args.kit),
            "--host",
            args.host,
            "--sites",
            ",".join(self.sites),
            "--min-clients",
            str(int(self.meta.get("min_clients") or 1)),
            "--heartbeat-timeout",
            str(args.heartbeat_timeout),
            "--policy",
            str(args.policy_file or ""),
        ]
        self.proc = self.server.spares.start(argv, output=result_dir / "logs" / "server.stderr")
        threading.Thread(target=self._read_events, daemon=True, name=f"job-{self.job_id}").start()
        # Sites deploy while the server job starts; they ask for its address when ready
        # (``site.job_address``), so the two start-ups overlap.
        bundle = store.bundle_zip(self.job_id).read_bytes()
        for site in self.sites:
            headers: dict[str, Any] = {"job_id": self.job_id, "app": app_for(self.meta, site)}
            headers["submitter"] = self.server.access.submitter(self.submitter).to_dict()
            work = Work("deploy", headers, bundle)
            self.server.registry.post(site, work)
        log.info("job %s: deploying to %s", self.job_id, self.sites)

    def _read_events(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                event = json.loads(raw)
            except ValueError:
                log.warning("job %s: bad event line %r", self.job_id, raw[:200])
                continue
            self._on_event(event)
        self.proc.stdout.close()
        code = self.proc.wait()
        self.server.job_ended(self, code)

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = str(event.pop("event", ""))
        if kind == "listening":
            with self.server.cond:
                self.address = f"{self.server.host}:{event['port']}"
                self.server.cond.notify_all()
            log.info("job %s: listening on %s", self.job_id, self.address)
        elif kind == "done":
            self.final = event
        else:
            self.server.store.add_event(self.job_id, kind, event)
            self.server.notify()

    def abort(self) -> None:
        self.aborting = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
        for site in self.sites:
            self.server.registry.post(site, Work("abort", {"job_id": self.job_id}))


class Server:
    def __init__(
        self,
        *,
        workspace: Path,
        kit: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        heartbeat_timeout: float = 10.0,
        site_timeout: float = 15.0,
        events: EventWriter | None = None,
        policy_file: Path | None = None,
        warm_spare: bool = True,
    ) -> None:
        self.workspace = Path(workspace)
        self.kit = Path(kit)
        self.host, self.port = host, port
        self.heartbeat_timeout = heartbeat_timeout
        self.policy_file = policy_file
        self.store = JobStore(self.workspace)
        self.cond = threading.Condition()
        self.registry = SiteRegistry(self.cond, timeout=site_timeout)
        self.events = events or EventWriter()
        self.runners: dict[str, JobRunner] = {}
        #: roster, admin authorization, server policy, scheduling (fljob.runtime.access)
        self.access = ServerAccess.from_kit(self.kit)
        #: a warm job process, so a job starts without Python's start-up cost
        self.spares = SparePool(
            JOB_MODULE,
            events_on_stdout=True,
            spare_log=self.workspace / "spare.log",
            enabled=warm_spare,
        )
        self._stop = threading.Event()
        self.rpc: Any = None

    # ----- lifecycle -----

    def start(self) -> int:
        from fljob.runtime.pki import load_identity
        from fljob.runtime.transport import RpcServer

        handlers = {
            topics.SITE_REGISTER: self._site_register,
            topics.SITE_HEARTBEAT: self._site_heartbeat,
            topics.SITE_NEXT_WORK: self._site_next_work,
            topics.SITE_JOB_ADDRESS: self._site_job_address,
            topics.ADMIN_SUBMIT: self._submit,
            topics.ADMIN_LIST: self._list,
            topics.ADMIN_STATUS: self._status,
            topics.ADMIN_ABORT: self._abort,
            topics.ADMIN_DOWNLOAD: self._download,
            topics.ADMIN_LOGS: self._logs,
        }
        handlers = guard_handlers(self.access, self.store, handlers)  # authorizes admins
        self.rpc = RpcServer(f"{self.host}:{self.port}", load_identity(self.kit), handlers)
        self.port = self.rpc.start()
        for record in self.store.list():  # left over from a server that stopped
            if record.status is JobStatus.RUNNING:
                self.store.set_status(
                    record.job_id, JobStatus.FAILED, "the server stopped while the job was running"
                )
        threading.Thread(target=self._schedule_loop, daemon=True, name="scheduler").start()
        self.spares.prepare()
        log.info("listening on %s:%d", self.host, self.port)
        return self.port

    def stop(self) -> None:
        self._stop.set()
        runners = list(self.runners.values())
        for runner in runners:
            runner.abort()
        for runner in runners:
            if runner.proc is not None:
                stop_process(runner.proc, grace=1.0)
        self.spares.close()
        self.notify()
        if self.rpc is not None:
            self.rpc.stop(grace=0.1)
        self.store.close()

    def notify(self) -> None:
        with self.cond:
            self.cond.notify_all()

    # ----- scheduling -----

    def _schedule_loop(self) -> None:
        with self.cond:
            while not self._stop.is_set():
                self._schedule()
                self.cond.wait(1.0)  # also re-checks site timeouts

    def _schedule(self) -> None:
        alive = self.registry.alive()
        for record in self.store.list():
            if record.status is not JobStatus.SUBMITTED or record.job_id in self.runners:
                continue
            sites = schedule(self.access, self.store, record, alive)  # min_clients, resources
            if sites is None:
                continue
            runner = JobRunner(self, record, sites)
            self.runners[record.job_id] = runner
            self.store.set_status(record.job_id, JobStatus.RUNNING)
            self.store.add_event(record.job_id, "job_started", {"sites": sites})
            log.info("job %s: starting on %s", record.job_id, sites)
            try:
                runner.start()
            except OSError as exc:
                self._finish(runner, JobStatus.FAILED, f"cannot start job process: {exc}")

    def job_ended(self, runner: JobRunner, code: int) -> None:
        if not self._stop.is_set():
            self.spares.prepare_later()
        final = runner.final or {}
        error: str | None
        if runner.aborting:
            status, error = JobStatus.ABORTED, "aborted"
        elif final.get("status") in JobStatus.__members__:
            status, error = JobStatus(final["status"]), final.get("error")
        else:
            status, error = JobStatus.FAILED, f"the server job process exited with code {code}"
        if status is not JobStatus.FINISHED_OK:
            for site in runner.sites:  # sites may still be waiting for tasks
                self.registry.post(site, Work("abort", {"job_id": runner.job_id}))
        self._finish(runner, status, error)

    def _finish(self, runner: JobRunner, status: JobStatus, error: str | None) -> None:
        log.info("job %s: %s%s", runner.job_id, status.value, f" ({error})" if error else "")
        with self.cond:  # status and its event change together for status readers
            runner.ended = True
            self.store.set_status(runner.job_id, status, error)
            self.store.add_event(
                runner.job_id, "job_done", {"status": status.value, "error": error}
            )
            self.runners.pop(runner.job_id, None)
            self.access.ended(runner.job_id)
            self.cond.notify_all()

    # ----- site handlers -----

    def _site(self, ctx: Any) -> str:
        _require_role(ctx, "site")
        return str(ctx.peer)

    def _site_register(self, ctx: Any, msg: Any) -> Any:
        from fljob.runtime.transport import Message

        name = self._site(ctx)
        self.access.site_registered(name, msg.headers.get("resources"))
        self.registry.register(name)
        log.info("site %s registered", name)
        self.events("site_registered", site=name)
        return Message({"heartbeat_interval": self.registry.timeout / 4})

    def _site_heartbeat(self, ctx: Any, msg: Any) -> Any:
        from fljob.runtime.transport import Message

        known = self.registry.touch(self._site(ctx), msg.headers.get("jobs"))
        return Message({"known": known})

    def _site_next_work(self, ctx: Any, msg: Any) -> Any:
        from fljob.runtime.transport import Message

        name = self._site(ctx)
        wait = min(float(msg.headers.get("wait", topics.POLL_WAIT)), topics.POLL_WAIT)
        work = self.registry.next_work(name, wait)
        if work is None:
            return Message({"kind": "none"})
        return Message({"kind": work.kind, **work.headers}, work.body)

    def _site_job_address(self, ctx: Any, msg: Any) -> Any:
        """Long-polled by a site's job process until the server's job process listens."""
        from fljob.runtime.transport import Message

        name = self._site(ctx)
        job_id = str(msg.headers.get("job_id"))
        wait = min(float(msg.headers.get("wait", topics.POLL_WAIT)), topics.POLL_WAIT)
        deadline = time.monotonic() + wait
        with self.cond:
            while True:
                runner = self.runners.get(job_id)
                if runner is None or runner.ended or name not in runner.sites:
                    return Message({"status": "gone"})
                if runner.address is not None:
                    return Message({"status": "ready", "address": runner.address})
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return Message({"status": "wait"})
                self.cond.wait(remaining)

    # ----- admin handlers -----

    def _submit(self, ctx: Any, msg: Any) -> Any:
        from fljob.runtime.transport import Message

        _require_role(ctx, "admin")
        record = self.store.create(bytes(msg.body), submitter=str(ctx.peer))
        try:
            _check_meta(record.meta)
        except FljobError:
            self.store.set_status(record.job_id, JobStatus.FAILED, "invalid meta")
            raise
        log.info("job %s (%s) submitted by %s", record.job_id, record.name, ctx.peer)
        self.notify()
        return Message({"job_id": record.job_id})

    def _list(self, ctx: Any, msg: Any) -> Any:
        from fljob.runtime.transport import Message

        _require_role(ctx, "admin")
        return Message(
            {"jobs": [r.to_dict() for r in self.store.list()], "sites": self.registry.describe()}
        )

    def _status(self, ctx: Any, msg: Any) -> Any:
        from fljob.runtime.transport import Message

        _require_role(ctx, "admin")
        job_id = str(msg.headers.get("job_id"))
        after = int(msg.headers.get("after", 0))
        deadline = time.monotonic() + min(float(msg.headers.get("wait", 0)), topics.POLL_WAIT)
        with self.cond:
            while True:
                record = self.store.get(job_id)
                events = self.store.events(job_id, after)
                remaining = deadline - time.monotonic()
                if events or record.status.done or remaining <= 0 or self._stop.is_set():
                    break
                self.cond.wait(remaining)
        return Message(
            {
                "job": record.to_dict(),
                "events": events,
                "result_dir": str(self.store.result_dir(job_id)),
            }
        )

    def _abort(self, ctx: Any, msg: Any) -> Any:
        from fljob.runtime.transport import Message

        _require_role(ctx, "admin")
        job_id = str(msg.headers.get("job_id"))
        record = self.store.get(job_id)
        with self.cond:
            runner = self.runners.get(job_id)
            if runner is not None:
                runner.abort()
            elif record.status is JobStatus.SUBMITTED:
                self.store.set_status(job_id, JobStatus.ABORTED, "aborted before it started")
                self.store.add_event(job_id, "job_done", {"status": "ABORTED", "error": "aborted"})
                self.cond.notify_all()
        return Message({"job": self.store.get(job_id).to_dict()})

    def _download(self, ctx: Any, msg: Any) -> Any:
        from fljob.runtime.transport import Message

        _require_role(ctx, "admin")
        job_id = str(msg.headers.get("job_id"))
        self.store.get(job_id)
        return Message({"job_id": job_id}, _zip_folder(self.store.result_dir(job_id)))

    def _logs(self, ctx: Any, msg: Any) -> Any:
        from fljob.runtime.transport import Message

        _require_role(ctx, "admin")
        job_id = str(msg.headers.get("job_id"))
        self.store.get(job_id)
        logs = self.store.result_dir(job_id) / "logs"
        names = sorted(p.stem for p in logs.glob("*.log"))
        who = str(msg.headers.get("site") or "server")
        path = logs / f"{who}.log"
        if who not in names:
            raise BundleError(
                f"job {job_id} has no log for {who!r}",
                hint=f"logs: {', '.join(names) or 'none yet'}",
            )
        return Message({"logs": names}, path.read_bytes())


def _require_role(ctx: Any, role: str) -> None:
    from fljob.runtime.transport import RemoteError

    if ctx.peer_role != role:
        raise RemoteError(
            ctx.topic,
            f"{ctx.peer!r} ({ctx.peer_role}) may not call {ctx.topic}; only the {role} role may",
        )


def _check_meta(meta: dict[str, Any]) -> None:
    problems = []
    deploy_map = meta.get("deploy_map")
    if not isinstance(deploy_map, dict) or not deploy_map:
        problems.append("deploy_map must map apps to sites")
    elif app_for(meta, "server") is None:
        problems.append("deploy_map deploys no app to the server")
    min_clients = meta.get("min_clients", 1)
    if not isinstance(min_clients, int) or isinstance(min_clients, bool) or min_clients < 1:
        problems.append(f"min_clients must be an integer >= 1, not {min_clients!r}")
    if problems:
        raise BundleError("the job's meta.json is invalid: " + "; ".join(problems))


def _zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()
