"""A site's job process: one per job on each site, so a crash in user code ends the job
on that site and never the site itself.

Started by the site process (``python -m fljob.runtime.site.job_process``). It deploys
the site's app (verify, resolve, safety check, build), joins the server's job process,
then long-polls tasks, runs each with its executor and returns the result. When the job
ends it finalizes the executors (which stops the training script) and hands its log to
the server job. It exits when its site process exits (stdin EOF) or on SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from fljob.errors import RuntimeProtocolError
from fljob.runtime.client_api.model import FLModel, decode_data, model_to_payload
from fljob.runtime.executors.base import SiteContext, TaskFailed
from fljob.runtime.process import exit_when_parent_exits, on_stop_signals, setup_logging
from fljob.runtime.server import topics

log = logging.getLogger("fljob.site.job")
#: how long the site keeps trying to reach a server job that stopped answering
UNREACHABLE_LIMIT = 10.0
#: results at least this large are submitted alone (see SiteJob._task_loop)
LARGE_RESULT = 16 << 20


class SiteJob:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.site = args.site_name
        self.job_id = args.job_id
        self.log_file = Path(args.log_file)
        self.stop = threading.Event()
        self.client: Any = None
        self.ctx: SiteContext | None = None
        self.deployed: Any = None

    def call(
        self,
        topic: str,
        headers: dict[str, Any],
        body: Any = b"",
        timeout: float | None = 30.0,
        wait_for_ready: bool = False,
    ) -> Any:
        from fljob.runtime.transport import Message

        return self.client.call(
            topic, Message(headers, body), timeout=timeout, wait_for_ready=wait_for_ready
        )

    def connect(self) -> bool:
        """Find the server's job process (asking the server) and connect to it."""
        from fljob.runtime.pki import load_identity
        from fljob.runtime.transport import Message, RpcClient

        identity = load_identity(Path(self.args.kit))
        address = None
        with RpcClient(self.args.server, identity, server_name=self.args.server_name) as parent:
            while address is None and not self.stop.is_set():
                try:
                    reply = parent.call(
                        topics.SITE_JOB_ADDRESS,
                        Message({"job_id": self.job_id, "wait": topics.POLL_WAIT}),
                        timeout=topics.POLL_WAIT + 30,
                        wait_for_ready=True,
                    )
                except RuntimeProtocolError as exc:
                    log.error("cannot reach the server: %s", exc)
                    return False
                if reply.headers.get("status") == "gone":
                    log.error("the job is no longer running on the server")
                    return False
                address = reply.headers.get("address")
        if address is None:
            return False
        self.client = RpcClient(address, identity, server_name=self.args.server_name)
        return True

    def run(self) -> int:
        deploy_error: str | None = None
        try:
            self.deploy()
            self._initialize()
        except Exception as exc:
            log.error("cannot deploy job %s: %s", self.job_id, exc)
            deploy_error = f"deploy failed on {self.site}: {exc}"
        if not self.connect():
            self._finalize()
            return 1
        if deploy_error is not None:
            self._safe_call(topics.JOB_FAILED, {"error": deploy_error})
            self._finalize()
            self._bye()
            return 1
        try:
            reply = self.call(topics.JOB_HELLO, {}, wait_for_ready=True)
        except RuntimeProtocolError as exc:
            log.error("cannot join the server's job process: %s", exc)
            self._finalize()
            return 1
        interval = float(reply.headers.get("heartbeat_interval", 2.5))
        threading.Thread(
            target=self._heartbeat, args=(interval,), daemon=True, name="job-heartbeat"
        ).start()
        try:
            self._task_loop(float(reply.headers.get("poll_wait", topics.POLL_WAIT)))
        finally:
            self._finalize()
            self._bye()
        return 0

    def _initialize(self) -> None:
        """Let executors prepare before the first task (e.g. start the training script)."""
        assert self.ctx is not None
        for executor in {id(e): e for e in self.deployed.built.executors.values()}.values():
            initialize = getattr(executor, "initialize", None)
            if initialize is not None:
                initialize(self.ctx)

    def deploy(self) -> None:
        from fljob.bundle import unpack_bundle
        from fljob.runtime.deploy import deploy, load_site_policy
        from fljob.runtime.pki import load_identity
        from fljob.runtime.site_policy import site_gate

        bundle_dir = Path(self.args.workspace) / "bundle"
        unpack_bundle(Path(self.args.bundle_zip), bundle_dir)
        # the site's own policy (kit/site_policy.*): accept rule and plug-ins may veto
        safety, before_build = site_gate(
            Path(self.args.kit),
            site=self.site,
            job_id=self.job_id,
            bundle_dir=bundle_dir,
            job_dir=Path(self.args.workspace),
            safety_fallback=load_site_policy(self.args.policy),
        )
        self.deployed = deploy(
            bundle_dir,
            participant=self.site,
            job_id=self.job_id,
            workspace=Path(self.args.workspace),
            root_url=f"grpc://{self.args.server}",
            policy=safety,
            before_build=before_build,
        )
        work_dir = Path(self.args.workspace) / "work"
        work_dir.mkdir(exist_ok=True)
        self.ctx = SiteContext(
            self.site,
            self.job_id,
            self.deployed.app_dir,
            work_dir,
            self.deployed.built.components,
            log,
            identity=load_identity(Path(self.args.kit)),
            run_task=self._run_local_task,
        )
        log.info("deployed app %s", self.deployed.app)

    def _task_loop(self, poll_wait: float) -> None:
        """Long-poll tasks; each result rides on the next poll (one call per task). A
        large result goes alone (``JOB_SUBMIT_RESULT``, no deadline: it may wait for the
        server's admission), so that it is released before the next task arrives."""
        failing_since: float | None = None
        result: tuple[dict[str, Any], Any] | None = None
        timeout: float | None
        while not self.stop.is_set():
            topic, timeout = topics.JOB_GET_TASK, poll_wait + 30.0
            headers: dict[str, Any] = {"wait": poll_wait}
            body: Any = b""
            if result is not None and _nbytes(result[1]) >= LARGE_RESULT:
                topic, headers, body = topics.JOB_SUBMIT_RESULT, result[0], result[1]
                timeout = None
            elif result is not None:
                headers["result"], body = result
            try:
                reply = self.call(topic, headers, body, timeout=timeout)
                failing_since = None
            except RuntimeProtocolError as exc:
                now = time.monotonic()
                failing_since = failing_since or now
                if now - failing_since > UNREACHABLE_LIMIT:
                    log.error("the server's job process is unreachable: %s", exc)
                    return
                self.stop.wait(0.2)  # error path only: back off before trying again
                continue
            if result is not None and not reply.headers.get("accepted", True):
                log.warning(
                    "the server did not accept the result of %s (late or cancelled)",
                    result[0]["task_id"],
                )
            result, body = None, b""
            status = reply.headers.get("status")
            if status == "end":
                log.info("the job has ended")
                return
            if status == "task":
                result = self._run_task(reply)
            reply = None  # the task's model goes before the next call brings another

    def _run_task(self, reply: Any) -> tuple[dict[str, Any], Any]:
        """Run one task; the result's headers and encoded body."""
        from fljob.runtime import serde

        task_id, name = reply.headers["task_id"], reply.headers["task_name"]
        assert self.ctx is not None
        self.ctx.props = dict(reply.headers.get("props") or {})
        started = time.monotonic()
        headers: dict[str, Any] = {"task_id": task_id, "ok": True}
        body: Any = b""
        try:
            executor = self.deployed.built.executor_for(name)
            if executor is None:
                raise TaskFailed(f"no executor for task {name!r} on {self.site}")
            result = executor.execute(name, decode_data(reply.body), self.ctx)
            body = serde.encode(model_to_payload(result) if isinstance(result, FLModel) else result)
        except TaskFailed as exc:
            headers.update(ok=False, error=exc.message)
        except Exception as exc:  # executor bug: report it as the task's error
            log.exception("task %s failed", name)
            headers.update(ok=False, error=f"{type(exc).__name__}: {exc}")
        if not headers["ok"]:
            log.error("task %s (%s) failed: %s", name, task_id, headers["error"])
        else:
            log.info("task %s (%s) done in %.3f s", name, task_id, time.monotonic() - started)
        return headers, body

    def _run_local_task(self, name: str, data: Any) -> Any:
        """Run task ``name`` on this site only (for client-controlled workflows)."""
        executor = self.deployed.built.executor_for(name)
        if executor is None:
            raise TaskFailed(f"no executor for task {name!r} on {self.site}")
        return executor.execute(name, data, self.ctx)

    def _heartbeat(self, interval: float) -> None:
        while not self.stop.wait(interval):
            self._safe_call(topics.JOB_HEARTBEAT, {}, timeout=interval * 2)

    def _safe_call(
        self, topic: str, headers: dict[str, Any], body: Any = b"", timeout: float = 30.0
    ) -> Any:
        try:
            return self.call(topic, headers, body, timeout=timeout)
        except RuntimeProtocolError as exc:
            log.warning("%s failed: %s", topic, exc)
            return None

    def _finalize(self) -> None:
        if self.deployed is None or self.ctx is None:
            return
        for executor in {id(e): e for e in self.deployed.built.executors.values()}.values():
            try:
                executor.finalize(self.ctx)
            except Exception:
                log.exception("finalizing %s failed", type(executor).__name__)

    def _bye(self) -> None:
        self.stop.set()
        for handler in logging.getLogger().handlers:
            handler.flush()
        data = self.log_file.read_bytes() if self.log_file.exists() else b""
        self._safe_call(topics.JOB_BYE, {}, data, timeout=5.0)

    def abort(self) -> None:
        """SIGTERM: stop the training script at once, then exit."""
        self.stop.set()
        if self.ctx is not None:
            self.ctx.abort_event.set()

        def finish() -> None:
            self._finalize()
            logging.shutdown()
            os._exit(2)

        threading.Thread(target=finish, daemon=True, name="abort").start()


def _nbytes(body: Any) -> int:
    from fljob.runtime.transport.message import body_parts

    return body_parts(body)[0]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="fljob-site-job")
    p.add_argument("--job-id", required=True)
    p.add_argument("--site-name", required=True)
    p.add_argument("--bundle-zip", required=True)
    p.add_argument("--workspace", required=True)
    p.add_argument("--log-file", required=True)
    p.add_argument("--kit", required=True)
    p.add_argument("--server", required=True, help="host:port of the server")
    p.add_argument("--server-name", default="server")
    p.add_argument("--policy", default="", help="this site's safety policy file")
    return p.parse_args(argv)


#: what a spare site job process loads before a job arrives (see fljob.runtime.spare)
WARM_MODULES = [
    "grpc",
    "numpy",
    "fljob.bundle",
    "fljob.safety",
    "fljob.runtime.serde",
    "fljob.runtime.transport",
    "fljob.runtime.pki",
    "fljob.runtime.deploy",
    "fljob.runtime.executors.script_executor",
]


def main(argv: list[str] | None = None) -> None:
    from fljob.runtime.spare import job_argv_or_spare

    args = parse_args(job_argv_or_spare(argv, WARM_MODULES))
    setup_logging(Path(args.log_file))
    os.chdir(args.workspace)
    job = SiteJob(args)
    exit_when_parent_exits(lambda: os._exit(3))
    on_stop_signals(job.abort)
    outcome: list[int] = [1]
    worker = threading.Thread(target=lambda: outcome.__setitem__(0, job.run()), name="job")
    worker.start()
    worker.join()
    logging.shutdown()
    os._exit(outcome[0])


if __name__ == "__main__":
    main()
