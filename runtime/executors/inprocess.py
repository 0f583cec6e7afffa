"""Run a training script inside the site's job process (``launch_external_process=False``).

The launcher's ``script`` command names the script: ``python3 -u custom/train.py --epochs 1``
becomes the path ``custom/train.py`` (relative to the app folder) and the argv
``["custom/train.py", "--epochs", "1"]``. The script runs with :func:`runpy.run_path` as
``__main__`` in a thread of its own, with ``sys.argv`` set for it, the app's ``custom/``
folder first on ``sys.path`` and the app folder as working directory; all three are
restored when it ends. They are process-wide: scripts of two in-process executors of one
job share them (same app folder; the argv of the one started last). Its Client API
talks to the executor through the :class:`~fljob.runtime.client_api.memory.MemoryChannel`
bound to that thread. What it prints goes to the job's log line by line (``[script] ...``),
as a subprocess script's output does.

Trade-off: the script shares the job process. An exception ends only the script (the
task fails with its type, message and last traceback lines), but a crash in native code
takes the job process down with it -- still not the site, since each job has its own
process. A thread cannot be killed: :meth:`InProcessScript.stop` raises an exception in
it, which a script blocked in native code sees only when it returns to Python.
"""

from __future__ import annotations

import ctypes
import logging
import os
import runpy
import shlex
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

from fljob.runtime.client_api import memory
from fljob.runtime.launchers.subprocess_launcher import LaunchError

#: traceback lines kept for the task's error message
TAIL_LINES = 12
#: interpreter options accepted (and ignored) in front of the script: they change nothing
#: for code run in this process (-u: unbuffered output, -B: no .pyc files)
_HARMLESS_OPTIONS = {"-u", "-B"}


def parse_script_command(command: str) -> tuple[str, list[str]]:
    """``(script path, argv)`` from a launcher command ``python3 [-u] SCRIPT.py [ARGS...]``.

    Raises :class:`LaunchError` for anything else (another program, ``-m module``, ``-c``,
    other interpreter options), since only a Python file can run in this process."""
    hint = 'in-process scripts need a command like "python3 -u custom/train.py --epochs 1"'
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise LaunchError(f"cannot parse script {command!r}: {exc}", hint=hint) from exc
    if not argv or not _is_python(argv[0]):
        raise LaunchError(
            f"cannot run {command!r} in-process: it does not start with python/python3",
            hint=hint + ", or set launch_external_process = true",
        )
    rest = argv[1:]
    while rest and rest[0] in _HARMLESS_OPTIONS:
        rest = rest[1:]
    if not rest or rest[0].startswith("-") or not rest[0].endswith(".py"):
        what = rest[0] if rest else "no script"
        raise LaunchError(
            f"cannot run {command!r} in-process: expected a .py script after the "
            f"interpreter, found {what!r}",
            hint=hint + ", or set launch_external_process = true",
        )
    return rest[0], rest


def _is_python(program: str) -> bool:
    name = Path(program).name
    return (
        program == sys.executable
        or name in ("python", "python3")
        or (name.startswith("python3.") and name[len("python3.") :].isdigit())
    )


class _LineLog:
    """Text written by one script thread, logged a line at a time."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.partial = ""
        self.busy = False

    def write(self, text: str) -> None:
        *lines, self.partial = (self.partial + text).split("\n")
        for line in lines:
            self.logger.info("[script] %s", line.rstrip())

    def close(self) -> None:
        if self.partial:
            self.logger.info("[script] %s", self.partial.rstrip())
            self.partial = ""


class _ThreadOutput:
    """``sys.stdout`` / ``sys.stderr`` while in-process scripts run: a script thread's
    writes go to its job's log, every other thread's to the original stream."""

    def __init__(self, original: Any) -> None:
        self.original = original
        self.routes: dict[int, _LineLog] = {}

    def write(self, text: str) -> int:
        route = self.routes.get(threading.get_ident())
        if route is None or route.busy:  # busy: a log handler of the script's own that
            return int(self.original.write(text))  # writes to sys.stderr, no loop
        route.busy = True
        try:
            route.write(text)
        finally:
            route.busy = False
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if threading.get_ident() not in self.routes:
            self.original.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, isatty ...
        return getattr(self.original, name)


_output_lock = threading.Lock()


def _route_output(logger: logging.Logger) -> _LineLog:
    """Send the calling thread's stdout and stderr to ``logger`` until :func:`_unroute`."""
    route = _LineLog(logger)
    with _output_lock:
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if not isinstance(stream, _ThreadOutput):
                stream = _ThreadOutput(stream)
                setattr(sys, name, stream)
            stream.routes[threading.get_ident()] = route
    return route


def _unroute(route: _LineLog) -> None:
    route.close()
    with _output_lock:
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if isinstance(stream, _ThreadOutput):
                stream.routes.pop(threading.get_ident(), None)
                if not stream.routes:  # the last script is done: the original is back
                    setattr(sys, name, stream.original)


class ScriptStopped(BaseException):
    """Raised inside a script thread that its executor stops."""


class InProcessScript:
    """A training script running in a thread of this process, bound to ``channel``.

    The same surface as :class:`~fljob.runtime.launchers.LaunchedScript`: ``wait``,
    ``stop``, ``output_tail``; plus :attr:`error` (``"Type: message"``) after a crash."""

    def __init__(
        self,
        command: str,
        app_dir: Path,
        channel: memory.MemoryChannel,
        logger: logging.Logger,
    ) -> None:
        self.path, self.argv = parse_script_command(command)
        self.app_dir = Path(app_dir)
        if not (self.app_dir / self.path).is_file():
            raise LaunchError(
                f"in-process script {self.path!r} not found in the app folder {self.app_dir}"
            )
        self.channel = channel
        self.exit_code: int | None = None
        self.error: str | None = None
        self._tail: list[str] = []
        self._logger = logger
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="fljob-script")

    @property
    def pid(self) -> int:
        return os.getpid()

    def start(self) -> InProcessScript:
        self._logger.info("running %s in-process (argv %s)", self.path, self.argv)
        self._thread.start()
        return self

    def _run(self) -> None:
        code = 1
        try:
            code = self._run_script()
        finally:
            self.exit_code = code
            self._done.set()
            with self.channel.cond:
                self.channel.cond.notify_all()

    def _run_script(self) -> int:
        # the process's own lists are put back as they were, whatever the script did
        # with (or kept of) its own copies
        saved_argv, saved_path, saved_cwd = sys.argv, sys.path, os.getcwd()
        sys.argv = list(self.argv)
        sys.path = [str(self.app_dir / "custom"), *saved_path]
        os.chdir(self.app_dir)
        memory.bind(self.channel)
        route = _route_output(self._logger)
        try:
            runpy.run_path(str(self.app_dir / self.path), run_name="__main__")
            return 0
        except SystemExit as exc:
            status = _exit_status(exc.code)
            if status != 0:
                self.error = f"SystemExit: {exc.code}"
                self._logger.error("in-process training script %s raised %s", self.path, self.error)
            return status
        except BaseException as exc:  # the script's failure is the task's result
            self._record_crash(exc)
            return 1
        finally:
            _unroute(route)
            memory.unbind()
            sys.argv, sys.path = saved_argv, saved_path
            os.chdir(saved_cwd)

    def _record_crash(self, exc: BaseException) -> None:
        if isinstance(exc, ScriptStopped):
            self.error = "stopped by its executor"
            return
        self.error = f"{type(exc).__name__}: {exc}"
        text = "".join(traceback.format_exception(type(exc), exc, self._script_frames(exc)))
        self._tail = text.rstrip().splitlines()[-TAIL_LINES:]
        self._logger.error("in-process training script %s raised %s", self.path, self.error)
        for line in self._tail:
            self._logger.error("[script] %s", line)

    def _script_frames(self, exc: BaseException) -> TracebackType | None:
        """The traceback from the script's own first frame on (not runpy's, not ours)."""
        script = str(self.app_dir / self.path)
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != script:
            tb = tb.tb_next
        return tb if tb is not None else exc.__traceback__

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code, or None when it still runs after ``timeout``."""
        self._done.wait(timeout)
        return self.exit_code

    def output_tail(self) -> str:
        """The last lines of the traceback of a crash ("" after a normal end)."""
        return "\n".join(self._tail)

    def stop(self, grace: float = 2.0) -> int:
        """Raise :class:`ScriptStopped` in the script's thread and wait ``grace`` s for it;
        ``-1`` when it is still running (blocked in native code): it is abandoned, its
        channel ended, and it dies with the job process."""
        self.channel.end()
        ident = self._thread.ident
        if ident is not None and self._thread.is_alive():
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(ident), ctypes.py_object(ScriptStopped)
            )
        code = self.wait(grace)
        if code is None:
            self._logger.warning("in-process training script did not stop; abandoning it")
            return -1
        return code


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1  # sys.exit("message"): Python prints it and exits with 1
