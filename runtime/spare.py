"""Warm spare job processes: a job starts in an interpreter that has already loaded fljob.

Starting Python and importing grpc, numpy and the runtime takes a few hundred
milliseconds, on the critical path of every job's start. The server and each site
therefore keep one spare job process ready: started with ``--spare``, it imports what a
job needs (:func:`warm_up`) and blocks until its parent hands it a job as one JSON line
on stdin (``{"argv": [...], "output": path}``). It then redirects its output to the
job's log file and runs the job as if started with that command line. After handing one
out, the parent prepares the next one when that job has ended.

A spare holds no job state; its stdin stays the parent-death pipe (EOF ends it).
Spares pay off on a participant that waits for jobs (``fljob server`` / ``fljob site``);
``fljob run`` turns them off (``--no-warm-spare``): it submits its job at once, while a
spare would still be warming up on the same cores.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from fljob.runtime.process import child_env, python_module_argv, stop_process

SPARE_FLAG = "--spare"


def warm_up(modules: list[str]) -> None:
    """Import ``modules`` now (in a spare, before any job arrives)."""
    for module in modules:
        importlib.import_module(module)


def job_argv_or_spare(argv: list[str] | None, modules: list[str]) -> list[str]:
    """The job's command line: ``argv`` as given, or, in a spare, the one its parent
    sends once a job arrives (the process exits when the parent goes away first)."""
    args = sys.argv[1:] if argv is None else argv
    if args != [SPARE_FLAG]:
        return args
    warm_up(modules)
    line = sys.stdin.buffer.readline()
    if not line:
        os._exit(0)  # the parent went away before it needed this spare
    request = json.loads(line)
    output = request.get("output")
    if output:  # the job's log file takes over stdout/stderr as it would have from Popen
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 2)
        if request.get("redirect_stdout"):
            os.dup2(fd, 1)
        os.close(fd)
    return [str(a) for a in request["argv"]]


class SparePool:
    """Keeps one spare of ``module`` ready; :meth:`start` runs a job in it."""

    def __init__(
        self, module: str, *, events_on_stdout: bool, spare_log: Path, enabled: bool = True
    ) -> None:
        self.module = module
        self.enabled = enabled  #: False: every job starts a new interpreter
        self.events_on_stdout = events_on_stdout
        self.spare_log = spare_log
        self._spare: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.spare_log.parent.mkdir(parents=True, exist_ok=True)
        with self.spare_log.open("ab") as log:
            return subprocess.Popen(
                python_module_argv(self.module, SPARE_FLAG),
                env=child_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE if self.events_on_stdout else log,
                stderr=log,
            )

    def prepare(self) -> None:
        """Start a spare in the background if none is ready."""
        with self._lock:
            if self._closed or (self._spare is not None and self._spare.poll() is None):
                return
            if not self.enabled:
                return
            self._spare = self._spawn()

    def prepare_later(self, delay: float = 2.0) -> None:
        """Prepare a spare after ``delay`` seconds (off any task path): right after a job
        the machine is busy finishing it, and a participant that is being stopped
        (``close``) should not start one at all."""
        timer = threading.Timer(delay, self.prepare)
        timer.daemon = True
        timer.start()

    def start(self, argv: list[str], output: Path) -> subprocess.Popen[bytes]:
        """Run the job ``argv`` (this module's arguments) in the spare, or in a new
        process when none is ready; its stderr (and stdout, unless it carries events)
        goes to ``output``. The caller prepares the next spare when the machine is idle
        again (after the job): a spare warming up during a job's start would slow it."""
        with self._lock:
            spare, self._spare = self._spare, None
        proc = None
        if spare is not None and spare.poll() is None and spare.stdin is not None:
            request = {
                "argv": argv,
                "output": str(output),
                "redirect_stdout": not self.events_on_stdout,
            }
            try:
                spare.stdin.write(json.dumps(request).encode() + b"\n")
                spare.stdin.flush()
                proc = spare
            except OSError:
                stop_process(spare, grace=0.1)
        if proc is None:
            proc = self._cold_start(argv, output)
        return proc

    def _cold_start(self, argv: list[str], output: Path) -> subprocess.Popen[bytes]:
        with output.open("ab") as log:
            return subprocess.Popen(
                python_module_argv(self.module, *argv),
                env=child_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE if self.events_on_stdout else log,
                stderr=log,
            )

    def close(self) -> None:
        """Stop the spare (closing its stdin ends it; a stubborn one is killed)."""
        with self._lock:
            self._closed = True
            spare, self._spare = self._spare, None
        if spare is not None:
            _close_pipes(spare)
            stop_process(spare, grace=1.0)


def _close_pipes(proc: subprocess.Popen[Any]) -> None:
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
