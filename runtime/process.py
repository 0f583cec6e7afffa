"""Helpers every fljob process shares: logging to a file, JSON-line events to a parent,
exiting when the parent goes away, stopping on SIGTERM/SIGINT, stopping children."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(
    log_file: Path | None, level: int = logging.INFO, stream: IO[str] | None = None
) -> logging.Logger:
    """Log to ``log_file`` (appending) and/or ``stream``; returns the root logger."""
    root = logging.getLogger()
    root.setLevel(level)
    for old in list(root.handlers):
        root.removeHandler(old)
    handlers: list[logging.Handler] = []
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    if stream is not None:
        handlers.append(logging.StreamHandler(stream))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    logging.getLogger("grpc").setLevel(logging.WARNING)
    return root


class EventWriter:
    """One JSON object per line on a stream the parent reads (thread-safe)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()

    def __call__(self, event: str, **data: Any) -> None:
        line = json.dumps({"event": event, **data}, default=_jsonable) + "\n"
        with self._lock:
            try:
                self._stream.write(line)
                self._stream.flush()
            except (BrokenPipeError, ValueError):
                pass  # the parent is gone; the stdin watch ends this process


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def exit_when_parent_exits(on_exit: Callable[[], None]) -> None:
    """Call ``on_exit`` when stdin reaches EOF: the parent holds the other end of the
    pipe, so EOF means the parent has exited (even by SIGKILL)."""

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        on_exit()

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def on_stop_signals(handler: Callable[[], None]) -> None:
    """Run ``handler`` on SIGTERM and SIGINT (main thread only)."""

    def handle(signum: int, frame: Any) -> None:
        handler()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def stop_process(proc: subprocess.Popen[Any], grace: float = 1.0) -> int:
    """SIGTERM, then SIGKILL after ``grace`` seconds; the exit code."""
    if proc.poll() is None:
        try:
            proc.terminate()
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
        except ProcessLookupError:
            pass
    return proc.wait()


def python_module_argv(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
