"""``fljob server`` and ``fljob site``: the long-running runtime processes.

Each prints one JSON line ``{"event": "ready", ...}`` on stdout when it is ready (the
server once it listens, a site once it is registered), then progress events; logs go to
stderr or ``--log-file``. SIGTERM or Ctrl-C stops the process and every job process it
started.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import click

kit_option = click.option(
    "--startup-kit",
    "--kit",
    "kit",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="This participant's startup kit folder (ca.crt, NAME.crt, NAME.key).",
)
workspace_option = click.option(
    "-w",
    "--workspace",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for this participant's state (job store, job folders, logs).",
)
policy_option = click.option(
    "--policy",
    "policy_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="This participant's safety policy for the jobs it deploys (default: built-in).",
)
spare_option = click.option(
    "--warm-spare/--no-warm-spare",
    default=True,
    show_default=True,
    help="Keep a job process warmed up, so that a job starts without Python's start-up "
    "cost (off for fljob run, which submits at once).",
)
log_option = click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the log here instead of stderr.",
)


def _serve(start: Callable[[], int], stop: Callable[[], None], log_file: Path | None) -> None:
    """Run ``start`` in a thread, stop on SIGTERM/SIGINT; exit fast (daemon threads)."""
    from fljob.runtime.process import on_stop_signals, setup_logging

    setup_logging(log_file, stream=None if log_file else sys.stderr)
    done = threading.Event()
    outcome = [0]

    def body() -> None:
        try:
            outcome[0] = start()
        except Exception as exc:  # reported on stderr; the parent sees the exit code
            import logging

            logging.getLogger("fljob").error("%s", exc)
            click.echo(str(exc), err=True)
            outcome[0] = 1
        done.set()

    on_stop_signals(done.set)
    threading.Thread(target=body, daemon=True, name="main").start()
    done.wait()
    stop()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(outcome[0])


@click.command("server")
@kit_option
@workspace_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8002,
    show_default=True,
    type=int,
    help="Port to listen on (0: any free port, printed in the ready line).",
)
@click.option(
    "--heartbeat-timeout",
    default=10.0,
    show_default=True,
    type=float,
    help="Seconds of silence after which a job's site is gone.",
)
@click.option(
    "--site-timeout",
    default=15.0,
    show_default=True,
    type=float,
    help="Seconds of silence after which a site is disconnected.",
)
@policy_option
@spare_option
@log_option
def server_command(
    kit: Path,
    workspace: Path,
    host: str,
    port: int,
    heartbeat_timeout: float,
    site_timeout: float,
    policy_file: Path | None,
    warm_spare: bool,
    log_file: Path | None,
) -> None:
    """Run the federated server: job store, site registry, job scheduling."""
    from fljob.runtime.process import EventWriter
    from fljob.runtime.server.server import Server

    events = EventWriter()
    server = Server(
        workspace=workspace,
        kit=kit,
        host=host,
        port=port,
        heartbeat_timeout=heartbeat_timeout,
        site_timeout=site_timeout,
        events=events,
        policy_file=policy_file,
        warm_spare=warm_spare,
    )

    def start() -> int:
        bound = server.start()
        events("ready", address=f"{host}:{bound}", port=bound)
        threading.Event().wait()  # serve until stopped
        return 0

    _serve(start, server.stop, log_file)


@click.command("site")
@kit_option
@workspace_option
@click.option("--server", "server_address", required=True, help="The server's HOST:PORT.")
@click.option("--name", help="Site name (default: the startup kit folder's name).")
@policy_option
@spare_option
@log_option
def site_command(
    kit: Path,
    workspace: Path,
    server_address: str,
    name: str | None,
    policy_file: Path | None,
    warm_spare: bool,
    log_file: Path | None,
) -> None:
    """Run a client site: register with the server and run the jobs it deploys."""
    from fljob.runtime.process import EventWriter
    from fljob.runtime.site.site import Site

    site = Site(
        server_address=server_address,
        kit=kit,
        workspace=workspace,
        name=name,
        events=EventWriter(),
        policy_file=policy_file,
        warm_spare=warm_spare,
    )
    _serve(site.run, site.stop, log_file)
