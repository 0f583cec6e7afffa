"""``SubprocessLauncher``: starts the training script as a child of the site's job process.

The command runs in the app's folder, without a shell: ``script`` is split like a shell
would (``shlex``), and a leading ``python``/``python3`` becomes the site's own
interpreter so the script can ``import fljob.client``. The script's output goes, line
by line, to the job's log; the last lines are kept for error messages.
"""

from __future__ import annotations

import collections
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

from fljob.errors import JobFailedError

TAIL_LINES = 20


class LaunchError(JobFailedError):
    """The training script cannot be started."""

    code = "FLJ762"


class LaunchedScript:
    """A running training script."""

    def __init__(self, proc: subprocess.Popen[bytes], logger: logging.Logger) -> None:
        self.proc = proc
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self._logger = logger
        self._reader = threading.Thread(target=self._read, daemon=True, name="script-output")
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for raw in self.proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip()
                self.tail.append(line)
                self._logger.info("[script] %s", line)

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code, or None when it is still running after ``timeout``."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._reader.join(1.0)  # let the last output lines reach the log
        return code

    def output_tail(self) -> str:
        return "\n".join(self.tail)

    def stop(self, grace: float = 2.0) -> int:
        """Terminate (then kill) the script and its children; its exit code."""
        if self.proc.poll() is None:
            _signal_group(self.proc, signal.SIGTERM)
            if self.wait(grace) is None:
                _signal_group(self.proc, signal.SIGKILL)
        return self.proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class SubprocessLauncher:
    """``script``: the command, e.g. ``python3 -u custom/train.py --epochs 2``."""

    def __init__(self, script: str, launch_once: bool = True) -> None:
        if not isinstance(script, str) or not script.strip():
            raise LaunchError(
                "SubprocessLauncher needs 'script': the command to run",
                hint='e.g. script: "python3 -u custom/train.py"',
            )
        try:
            self.argv = shlex.split(script)
        except ValueError as exc:
            raise LaunchError(f"cannot parse script {script!r}: {exc}") from exc
        if self.argv[0] in ("python", "python3", "python3.11", "python3.12"):
            self.argv[0] = sys.executable
        self.script = script
        self.launch_once = bool(launch_once)

    def launch(
        self, app_dir: Path, env: Mapping[str, str], logger: logging.Logger
    ) -> LaunchedScript:
        """Start the script in ``app_dir`` with ``env`` added to the site's environment."""
        full_env = dict(os.environ)
        full_env.update(env)
        custom = str(Path(app_dir) / "custom")
        full_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (custom, full_env.get("PYTHONPATH", "")) if p
        )
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        logger.info("launching %s", " ".join(shlex.quote(a) for a in self.argv))
        try:
            proc = subprocess.Popen(
                self.argv,
                cwd=app_dir,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise LaunchError(f"cannot start {self.argv[0]!r}: {exc}") from exc
        return LaunchedScript(proc, logger)
