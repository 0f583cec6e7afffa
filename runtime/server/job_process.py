"""The server's job process: one per job, so a failure in a job's code ends the job only.

Started by the server process (``python -m fljob.runtime.server.job_process``); reports
to it as JSON lines on stdout (``listening``, progress events, ``done``); logs to the
job's ``result/logs/server.log``. It deploys the server app, listens for the job's site
job processes (mutual TLS, server identity), runs the workflows on a
:class:`~fljob.runtime.server.taskboard.TaskBoard`, collects the sites' logs and exits.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from fljob.runtime.client_api.model import decode_data, encode_data
from fljob.runtime.process import (
    EventWriter,
    exit_when_parent_exits,
    on_stop_signals,
    setup_logging,
)
from fljob.runtime.server import topics
from fljob.runtime.server.admission import BodyAdmission
from fljob.runtime.server.taskboard import END, Assignment, TaskBoard
from fljob.runtime.workflows.base import JobAborted, WorkflowContext

log = logging.getLogger("fljob.server.job")
BYE_WAIT = 3.0  #: how long the job waits for its sites' last words (logs)


class ServerJob:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.job_id: str = args.job_id
        self.result_dir = Path(args.result_dir)
        self.events = EventWriter()
        self.board = TaskBoard(
            heartbeat_timeout=args.heartbeat_timeout, encode=encode_data, keep_task_data=False
        )
        self.sites_expected = [s for s in args.sites.split(",") if s]
        self._byes: set[str] = set()
        self._bye_cond = threading.Condition()
        self.rpc: Any = None
        self.admission = BodyAdmission(slots=1)

    # ----- RPC handlers (peers are site job processes) -----

    def _site(self, ctx: Any) -> str:
        from fljob.runtime.transport import RemoteError

        if ctx.peer_role != "site" or ctx.peer not in self.sites_expected:
            raise RemoteError(ctx.topic, f"{ctx.peer!r} is not a site of job {self.job_id}")
        return ctx.peer

    def hello(self, ctx: Any, msg: Any) -> Any:
        from fljob.runtime.transport import Message

        site = self._site(ctx)
        self.board.join(site)
        log.info("%s joined the job", site)
        self.events("site_joined", site=site)
        return Message(
            {"heartbeat_interval": self.args.heartbeat_timeout / 4, "poll_wait": topics.POLL_WAIT}
        )

    def heartbeat(self, ctx: Any, msg: Any) -> Any:
        from fljob.runtime.transport import Message

        return Message({"known": self.board.touch(self._site(ctx))})

    def get_task(self, ctx: Any, msg: Any) -> Any:
        """Long poll for the site's next task; the previous task's result may ride along
        (``headers["result"]`` plus the body), which saves a call per task."""
        from fljob.runtime.transport import Message

        site = self._site(ctx)
        reply: dict[str, Any] = {}
        wait = min(float(msg.headers.get("wait", topics.POLL_WAIT)), topics.POLL_WAIT)
        if isinstance(msg.headers.get("result"), dict):
            reply["accepted"] = self._record_result(site, msg.headers["result"], msg.body)
        del msg  # the result is folded in: its body may go before the long poll
        self.admission.leave()  # the next site's result may come in now
        got = self.board.next_task(site, wait)
        if got == END:
            return Message({**reply, "status": "end"})
        if got is None:
            return Message({**reply, "status": "wait"})
        assert isinstance(got, Assignment)
        task = {"task_id": got.task_id, "task_name": got.task.name, "props": got.task.props}
        body, got.body = got.body, None  # the reply holds the task's body while it streams
        return Message({**reply, "status": "task", **task}, body)

    def submit_result(self, ctx: Any, msg: Any) -> Any:
        from fljob.runtime.transport import Message

        return Message({"accepted": self._record_result(self._site(ctx), msg.headers, msg.body)})

    def _record_result(self, site: str, headers: dict[str, Any], body: Any) -> bool:
        ok = bool(headers.get("ok"))
        error = headers.get("error")
        try:
            data = decode_data(body) if ok else None
        except Exception as exc:  # malformed payload: the task fails, nothing is executed
            log.error("malformed result from %s: %s", site, exc)
            ok, data, error = False, None, f"malformed result payload: {exc}"
        if not ok:
            log.warning("%s: task failed: %s", site, error)
        return self.board.submit_result(
            site,
            str(headers.get("task_id")),
            ok=ok,
            data=data,
            error=error,
            props=headers.get("props") or {},
            owned=True,
        )

    def failed(self, ctx: Any, msg: Any) -> Any:
        from fljob.runtime.transport import Message

        site = self._site(ctx)
        error = str(msg.headers.get("error", "unknown error"))
        log.error("%s cannot run the job: %s", site, error)
        self.events("site_failed", site=site, error=error)
        self.board.leave(site, f"site failed: {error}")
        return Message({})

    def bye(self, ctx: Any, msg: Any) -> Any:
        from fljob.runtime.transport import Message

        site = self._site(ctx)
        logs = self.result_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        (logs / f"{site}.log").write_bytes(bytes(msg.body))
        self.board.leave(site, "left the job")
        with self._bye_cond:
            self._byes.add(site)
            self._bye_cond.notify_all()
        return Message({})

    # ----- the job -----

    def start_rpc(self) -> int:
        from fljob.runtime.pki import load_identity
        from fljob.runtime.transport import RpcServer

        handlers = {
            topics.JOB_HELLO: self.hello,
            topics.JOB_HEARTBEAT: self.heartbeat,
            topics.JOB_GET_TASK: self.get_task,
            topics.JOB_SUBMIT_RESULT: self.submit_result,
            topics.JOB_FAILED: self.failed,
            topics.JOB_BYE: self.bye,
        }
        self.rpc = RpcServer(
            f"{self.args.host}:0",
            load_identity(Path(self.args.kit)),
            handlers,
            admission=self.admission,
        )
        return self.rpc.start()

    def run(self) -> int:
        from fljob.runtime.deploy import deploy, load_site_policy

        try:
            deployed = deploy(
                Path(self.args.bundle_dir),
                participant="server",
                job_id=self.job_id,
                workspace=Path(self.args.workspace),
                policy=load_site_policy(self.args.policy),
            )
            port = self.start_rpc()
        except Exception as exc:
            log.error("cannot deploy the job: %s", exc)
            self.events("done", status="FAILED", error=f"deploy failed on the server: {exc}")
            return 1
        self.events("listening", port=port)
        status, error = self._run_workflows(deployed)
        self._close_sites()
        self.events("done", status=status, error=error)
        return 0 if status == "FINISHED_OK" else 1

    def _run_workflows(self, deployed: Any) -> tuple[str, str | None]:
        from fljob.runtime.workflows.base import WorkflowError

        min_clients = int(self.args.min_clients)
        joined = self.board.wait_for_sites(self.sites_expected, self.args.start_timeout)
        if self.board.abort_event.is_set():
            return "ABORTED", "aborted"
        if len(joined) < min_clients:
            reasons = "; ".join(f"{n}: {r}" for n, r in self.board.gone_reasons().items())
            return "FAILED", (
                f"{len(joined)} site(s) joined the job, min_clients is {min_clients}"
                + (f" ({reasons})" if reasons else f" (waited {self.args.start_timeout:g} s)")
            )
        ctx = WorkflowContext(
            job_id=self.job_id,
            comm=self.board,
            components=deployed.built.components,
            app_dir=deployed.app_dir,
            result_dir=self.result_dir,
            logger=log,
            abort_event=self.board.abort_event,
            on_event=lambda name, data: self.events(name, **data),
        )
        try:
            for workflow_id, workflow in deployed.built.workflows:
                log.info("workflow %s starts", workflow_id)
                self.events("workflow_started", workflow=workflow_id)
                workflow.run(ctx)
        except JobAborted:
            return "ABORTED", "aborted"
        except WorkflowError as exc:
            log.error("%s", exc.message)
            return "FAILED", exc.message
        except Exception as exc:  # a workflow bug or user code: the job fails, not the server
            log.exception("workflow failed")
            return "FAILED", f"{type(exc).__name__}: {exc}"
        return "FINISHED_OK", None

    def _close_sites(self) -> None:
        self.board.end()
        deadline = time.monotonic() + BYE_WAIT
        with self._bye_cond:
            while True:
                waiting = set(self.board.sites()) - self._byes
                remaining = deadline - time.monotonic()
                if not waiting or remaining <= 0:
                    break
                self._bye_cond.wait(remaining)
        if self.rpc is not None:
            self.rpc.stop(grace=0.2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="fljob-server-job")
    p.add_argument("--job-id", required=True)
    p.add_argument("--bundle-dir", required=True)
    p.add_argument("--workspace", required=True)
    p.add_argument("--result-dir", required=True)
    p.add_argument("--kit", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--sites", default="")
    p.add_argument("--min-clients", type=int, default=1)
    p.add_argument("--heartbeat-timeout", type=float, default=10.0)
    p.add_argument("--start-timeout", type=float, default=30.0)
    p.add_argument("--policy", default="", help="the server's safety policy file")
    return p.parse_args(argv)


#: what a spare server job process loads before a job arrives (see fljob.runtime.spare)
WARM_MODULES = [
    "grpc",
    "numpy",
    "safetensors.numpy",
    "fljob.bundle",
    "fljob.safety",
    "fljob.runtime.serde",
    "fljob.runtime.transport",
    "fljob.runtime.pki",
    "fljob.runtime.deploy",
    "fljob.runtime.persistors",
    "fljob.runtime.workflows.fedavg",
]


def main(argv: list[str] | None = None) -> None:
    from fljob.runtime.spare import job_argv_or_spare

    args = parse_args(job_argv_or_spare(argv, WARM_MODULES))
    setup_logging(Path(args.result_dir) / "logs" / "server.log")
    os.chdir(args.workspace)
    job = ServerJob(args)
    exit_when_parent_exits(lambda: os._exit(3))
    on_stop_signals(job.board.abort)
    outcome: list[int] = [1]
    worker = threading.Thread(target=lambda: outcome.__setitem__(0, job.run()), name="job")
    worker.start()
    worker.join()  # interruptible: SIGTERM aborts the workflow through the board
    logging.shutdown()
    os._exit(outcome[0])


if __name__ == "__main__":
    main()
