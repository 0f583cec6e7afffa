"""``fljob submit`` and ``fljob jobs list|status|download|abort|logs``: job management on
a running server, as the admin identity of a startup kit."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click

from fljob.cli.options import job_dir_option

kit_option = click.option(
    "--startup-kit",
    "--kit",
    "kit",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("FLJOB_STARTUP_KIT"),
    help="The admin's startup kit folder (default: $FLJOB_STARTUP_KIT, else the POC's).",
)
_server_option = click.option(
    "--server",
    "server",
    default=lambda: os.environ.get("FLJOB_SERVER"),
    show_default="$FLJOB_SERVER, else the kit's server, else 127.0.0.1:8002",
    help="The server's HOST:PORT.",
)
_TIMEOUT = "fljob.session_timeout"
_timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    expose_value=False,
    callback=lambda ctx, param, value: ctx.meta.__setitem__(_TIMEOUT, value),
    help="Seconds each call of this session may take (default: 60; download: none).",
)


def server_option(command: Any) -> Any:
    """``--server`` and this session's ``--timeout`` (used by :func:`_admin`)."""
    return _server_option(_timeout_option(command))


format_option = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)


def _admin(kit: Path | None, server: str | None) -> Any:
    from fljob.errors import UsageError
    from fljob.runtime.poc import default_startup_kit
    from fljob.runtime.provision import kit_address
    from fljob.runtime.server.admin import AdminClient

    kit = kit or default_startup_kit()
    if kit is None or not Path(kit).is_dir():
        raise UsageError(
            "an admin startup kit is needed",
            hint="pass --startup-kit DIR, set FLJOB_STARTUP_KIT, or `fljob poc prepare`",
        )
    address = server or kit_address(Path(kit)) or "127.0.0.1:8002"
    timeout = click.get_current_context().meta.get(_TIMEOUT)
    return AdminClient(address, Path(kit), timeout=timeout)


@click.command(
    "submit", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
@job_dir_option
@kit_option
@server_option
@format_option
@click.pass_context
def submit_command(
    ctx: click.Context, job_dir: Path, kit: Path | None, server: str | None, fmt: str
) -> None:
    """Compile JOB_DIR and submit it to a running server; prints the job id.

    \b
    Overrides: -f CONFIG_FILE KEY=VALUE ... (repeatable), applied to a copy of the job.
    """
    from fljob.runtime.local_run import compile_with_overrides

    groups: list[Any] = []
    if ctx.args:
        from fljob.compiler.overrides import parse_override_args

        groups = parse_override_args(ctx.args)
    scratch = Path(tempfile.mkdtemp(prefix="fljob-submit-"))
    try:
        bundle = compile_with_overrides(job_dir, scratch / "bundle", groups)
        admin = _admin(kit, server)
        try:
            job_id = admin.submit(bundle)
            click.echo(json.dumps({"job_id": job_id}) if fmt == "json" else job_id)
        finally:
            admin.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@click.group("jobs")
def jobs_group() -> None:
    """Manage jobs on a running server (as the admin)."""


@jobs_group.command("list")
@kit_option
@server_option
@format_option
def list_command(kit: Path | None, server: str | None, fmt: str) -> None:
    """List the server's jobs and connected sites."""
    admin = _admin(kit, server)
    try:
        reply = admin.list()
    finally:
        admin.close()
    if fmt == "json":
        click.echo(json.dumps(reply, indent=2, sort_keys=True))
        return
    for job in reply["jobs"]:
        click.echo(f"{job['job_id']}  {job['status']:<12} {job['name']}")
    for site in reply["sites"]:
        click.echo(f"site {site['name']}: {'connected' if site['alive'] else 'gone'}")


@jobs_group.command("status")
@click.argument("job_id")
@kit_option
@server_option
@format_option
def status_command(job_id: str, kit: Path | None, server: str | None, fmt: str) -> None:
    """Show a job's status and progress events."""
    admin = _admin(kit, server)
    try:
        reply = admin.status(job_id)
    finally:
        admin.close()
    if fmt == "json":
        click.echo(json.dumps(reply, indent=2, sort_keys=True))
        return
    job = reply["job"]
    click.echo(f"{job['job_id']}  {job['status']}  {job['name']}")
    if job.get("error"):
        click.echo(f"error: {job['error']}")
    for event in reply["events"]:
        if event["kind"] == "round_done":
            click.echo(f"round {event['round']}: {json.dumps(event.get('metrics', {}))}")
        elif event["kind"] == "site_failed":
            click.echo(f"{event.get('site')} failed: {event.get('error')}")
        elif event["kind"] == "job_waiting" and job["status"] == "SUBMITTED":
            click.echo("waiting: " + "; ".join(event.get("reasons", [])))
    click.echo(f"results: {reply['result_dir']}")


@jobs_group.command("download")
@click.argument("job_id")
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to put the results (default: ./JOB_ID).",
)
@kit_option
@server_option
@format_option
def download_command(
    job_id: str, output: Path | None, kit: Path | None, server: str | None, fmt: str
) -> None:
    """Download a job's results (global model, metrics, logs)."""
    admin = _admin(kit, server)
    try:
        path = admin.download(job_id, output or Path(job_id))
    finally:
        admin.close()
    click.echo(json.dumps({"job_id": job_id, "path": str(path)}) if fmt == "json" else path)


@jobs_group.command("abort")
@click.argument("job_id")
@kit_option
@server_option
@format_option
def abort_command(job_id: str, kit: Path | None, server: str | None, fmt: str) -> None:
    """Abort a submitted or running job."""
    admin = _admin(kit, server)
    try:
        job = admin.abort(job_id)
    finally:
        admin.close()
    click.echo(
        json.dumps(job, sort_keys=True) if fmt == "json" else f"{job['job_id']}  {job['status']}"
    )


@jobs_group.command("logs")
@click.argument("job_id")
@click.option("--site", help="Whose log: 'server' (default) or a site name.")
@kit_option
@server_option
@format_option
def logs_command(
    job_id: str, site: str | None, kit: Path | None, server: str | None, fmt: str
) -> None:
    """Print the log of a job's server or site job process."""
    admin = _admin(kit, server)
    try:
        text, names = admin.logs(job_id, site)
    finally:
        admin.close()
    if fmt == "json":
        click.echo(
            json.dumps(
                {"job_id": job_id, "site": site or "server", "logs": names, "text": text},
                sort_keys=True,
            )
        )
        return
    click.echo(text, nl=False)


@jobs_group.command("clone")
@click.argument("job_id")
@kit_option
@server_option
@format_option
def clone_command(job_id: str, kit: Path | None, server: str | None, fmt: str) -> None:
    """Submit a copy of a job (same bundle) as a new job; prints the new job's id."""
    admin = _admin(kit, server)
    try:
        new_id = admin.clone(job_id)
    finally:
        admin.close()
    click.echo(json.dumps({"job_id": new_id, "cloned_from": job_id}) if fmt == "json" else new_id)
