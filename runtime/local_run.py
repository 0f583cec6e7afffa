"""``fljob run``: a whole federation on this machine, for one job.

Compile the job into a temporary bundle, provision throwaway certificates, start the
server and N site processes on 127.0.0.1 (free ports, sites started in parallel),
submit the job as the admin, follow its progress, stop every process started, and
summarize. The processes are real and talk mutual TLS, exactly as in a deployment.

>>> summary = LocalRun(RunOptions(job_dir=Path("my_job"), sites=["site-1", "site-2"])).run()
...                                                              # doctest: +SKIP
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fljob.bundle import open_bundle
from fljob.errors import JobFailedError, UsageError
from fljob.runtime.process import child_env, python_module_argv, stop_process

ADMIN = "admin@local"
SERVER = "server"


class LocalRunError(JobFailedError):
    """A process of the local federation could not start."""

    code = "FLJ771"


@dataclass
class RunOptions:
    job_dir: Path
    sites: Sequence[str] = ("site-1", "site-2")
    workspace: Path | None = None  #: default: a new folder under the system temp dir
    overrides: Sequence[Any] = ()  #: OverrideGroups from ``fljob.compiler.overrides``
    heartbeat_timeout: float = 10.0
    start_timeout: float = 60.0


@dataclass
class RunSummary:
    job_id: str
    status: str
    result_dir: str
    error: str | None
    rounds: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "FINISHED_OK"

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "status": self.status,
            "result_dir": self.result_dir,
            "error": self.error,
            "rounds": self.rounds,
        }


def check_sites(meta: dict[str, Any], sites: list[str]) -> None:
    """Refuse a run whose sites cannot satisfy the job (it would wait forever)."""
    from fljob.runtime.deploy import SERVER, job_sites

    named = [s for s in job_sites(meta, []) if s != SERVER]
    missing = [s for s in named if s not in sites]
    absent = [s for s in meta.get("mandatory_clients") or [] if s not in sites]
    deployed = job_sites(meta, sites)
    min_clients = int(meta.get("min_clients") or 1)
    problems = []
    if missing:
        problems.append(f"its deploy_map names {', '.join(missing)}, which this run does not start")
    if absent:
        problems.append(f"its mandatory_clients {', '.join(absent)} are not among this run's sites")
    if len(deployed) < min_clients:
        problems.append(
            f"min_clients is {min_clients}, but it deploys to {len(deployed)} of this run's sites"
        )
    if problems:
        wanted = sorted(set(named) | set(absent))
        hint = f"--sites {','.join(wanted)}" if wanted else f"-n {min_clients}"
        raise UsageError(
            "cannot run this job: " + "; ".join(problems), hint=f"start the sites it needs: {hint}"
        )


def compile_with_overrides(job_dir: Path, out: Path, overrides: Sequence[Any] = ()) -> Path:
    """Compile ``job_dir`` into the bundle folder ``out``, with ``-f`` overrides applied to
    a temporary copy of the job (the user's files stay as they are). Diagnostics name
    the user's files, not the copy's."""
    from fljob.compiler.pipeline import compile_job
    from fljob.errors import DiagnosticError

    job_dir = Path(job_dir)
    scratch = Path(tempfile.mkdtemp(prefix="fljob-compile-"))
    source = job_dir
    try:
        if overrides:
            from fljob.compiler.overrides import apply_overrides

            source = scratch / job_dir.resolve().name
            shutil.copytree(job_dir, source, symlinks=True)
            apply_overrides(source, list(overrides))
        return Path(compile_job(source, Path(out), as_zip=False, force=True).bundle)
    except DiagnosticError as exc:
        if source == job_dir:
            raise
        raise _relocated(exc, str(source), str(job_dir)) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _relocated(exc: Any, copy: str, original: str) -> Any:
    import dataclasses

    def fix(path: str | None) -> str | None:
        return original + path[len(copy) :] if path and path.startswith(copy) else path

    diagnostics = [dataclasses.replace(d, file=fix(d.file)) for d in exc.diagnostics()]
    return type(exc)(diagnostics)


class _Child:
    """A started participant process; its stdout carries JSON events."""

    def __init__(self, name: str, argv: list[str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self.draining = False  #: a thread reads (and finally closes) stdout
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                argv,
                env=child_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )

    def wait_ready(self) -> dict[str, Any]:
        """Block until the ``ready`` event; afterwards drain stdout in the background."""
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if event.get("event") == "ready":
                self.draining = True
                threading.Thread(target=_drain, args=(self.proc.stdout,), daemon=True).start()
                return event
        code = self.proc.wait()
        self.draining = True  # closed here
        self.proc.stdout.close()
        tail = self.log_path.read_text("utf-8", "replace").strip().splitlines()[-10:]
        raise LocalRunError(
            f"{self.name} exited with code {code} before it was ready", hint="\n".join(tail) or None
        )


def _drain(stream: IO[bytes]) -> None:
    with stream:
        for _ in stream:
            pass


class LocalRun:
    """One local federated run. :meth:`stop` (e.g. on Ctrl-C) ends every process."""

    def __init__(
        self, options: RunOptions, on_event: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        self.options = options
        self.on_event = on_event or (lambda event: None)
        self.children: list[_Child] = []
        self._stop_lock = threading.Lock()
        self.timings: dict[str, float] = {}
        self._t0 = time.monotonic()

    def _mark(self, name: str) -> None:
        self.timings[name] = time.monotonic() - self._t0

    def run(self) -> RunSummary:
        try:
            workspace = self._workspace()
            pki = self._provision(workspace)
            server = self._spawn_server(workspace, pki)
            bundle = self._compile(workspace)  # while the server process starts
            check_sites(open_bundle(bundle).meta, list(self.options.sites))
            address = self._start_sites(workspace, pki, server)
            return self._submit_and_follow(address, pki, bundle)
        finally:
            self.stop()
            self._mark("stopped")

    def _workspace(self) -> Path:
        if self.options.workspace is None:
            return Path(tempfile.mkdtemp(prefix="fljob-run-"))
        workspace = Path(self.options.workspace).resolve()
        workspace.mkdir(parents=True, exist_ok=True)
        return workspace

    def _compile(self, workspace: Path) -> Path:
        bundle = compile_with_overrides(
            self.options.job_dir, workspace / "bundle", self.options.overrides
        )
        self._mark("compiled")
        return bundle

    def _provision(self, workspace: Path) -> Any:
        from fljob.runtime.pki import provision

        pki = provision(
            workspace / "pki",
            project="local",
            server=SERVER,
            sites=list(self.options.sites),
            admins=[ADMIN],
        )
        self._mark("provisioned")
        return pki

    def _spawn_server(self, workspace: Path, pki: Any) -> _Child:
        (workspace / "logs").mkdir(exist_ok=True)
        argv = python_module_argv(
            "fljob",
            "server",
            "--kit",
            str(pki.kit_dir(SERVER)),
            "-w",
            str(workspace / SERVER),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--heartbeat-timeout",
            str(self.options.heartbeat_timeout),
            "--no-warm-spare",  # the job comes at once: a warming spare would only compete
        )
        server = _Child(SERVER, argv, workspace / "logs" / "server.txt")
        self.children.append(server)
        return server

    def _start_sites(self, workspace: Path, pki: Any, server: _Child) -> str:
        address = str(server.wait_ready()["address"])
        self._mark("server_ready")
        sites = [
            _Child(
                site,
                python_module_argv(
                    "fljob",
                    "site",
                    "--kit",
                    str(pki.kit_dir(site)),
                    "-w",
                    str(workspace / site),
                    "--server",
                    address,
                    "--no-warm-spare",
                ),
                workspace / "logs" / f"{site}.txt",
            )
            for site in self.options.sites
        ]
        self.children.extend(sites)
        for site in sites:  # all started above; now wait for each to register
            site.wait_ready()
        self._mark("sites_ready")
        self.on_event(
            {"kind": "federation_ready", "address": address, "sites": list(self.options.sites)}
        )
        return address

    def _submit_and_follow(self, address: str, pki: Any, bundle: Path) -> RunSummary:
        from fljob.runtime.server.admin import AdminClient

        admin = AdminClient(address, pki.kit_dir(ADMIN))
        try:
            job_id = admin.submit(bundle)
            self._mark("submitted")
            self.on_event({"kind": "submitted", "job_id": job_id})
            rounds: dict[int, dict[str, Any]] = {}
            for event in admin.follow(job_id):
                if event["kind"] == "round_started" and "first_round" not in self.timings:
                    self._mark("first_round")
                if event["kind"] == "round_done":
                    self._mark("last_round_done")
                    rounds[int(event["round"])] = {
                        "round": int(event["round"]),
                        "metrics": event.get("metrics", {}),
                    }
                self.on_event(event)
            self._mark("job_done")
            status = admin.status(job_id)
        finally:
            admin.close()
        job = status["job"]
        return RunSummary(
            job_id,
            job["status"],
            status["result_dir"],
            job.get("error"),
            [rounds[r] for r in sorted(rounds)],
            self.timings,
        )

    def stop(self) -> None:
        """Stop every process this run started (sites first, then the server); safe to
        call from another thread (Ctrl-C) while :meth:`run` is going on."""
        with self._stop_lock:
            children, self.children = list(self.children), []
        for child in reversed(children):
            if child.proc.poll() is None:
                child.proc.terminate()
        for child in reversed(children):
            stop_process(child.proc, grace=2.0)
            if not child.draining and child.proc.stdout is not None:
                child.proc.stdout.close()  # never read: nobody else will close it
