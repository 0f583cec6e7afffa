"""``fljob poc prepare | start | stop | clean | status``: a local federation provisioned
like production, run as background processes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

workspace_option = click.option(
    "-w",
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    help="The POC folder (default: $FLJOB_POC_WORKSPACE, else the last one used, "
    "else $XDG_DATA_HOME/fljob/poc).",
)
format_option = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
participant_option = click.option(
    "-p",
    "--participant",
    "only",
    multiple=True,
    metavar="NAME",
    help="Only this server or site (repeatable).",
)


def _workspace(workspace: Path | None) -> Path:
    from fljob.runtime.poc import default_workspace

    return workspace if workspace is not None else default_workspace()


def _emit(fmt: str, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True) if fmt == "json" else text)


@click.group("poc")
def poc_group() -> None:
    """A proof-of-concept federation on this machine (server, sites, an admin)."""


@poc_group.command("prepare")
@click.option(
    "-n",
    "--number-of-sites",
    "--n_clients",
    "n_sites",
    type=click.IntRange(1, 64),
    help="Number of sites, site-1 ... site-N (default 2).",
)
@click.option(
    "--project",
    "project_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Use this project file instead (server host must be 127.0.0.1).",
)
@workspace_option
@format_option
def prepare_command(
    n_sites: int | None, project_file: Path | None, workspace: Path | None, fmt: str
) -> None:
    """Provision the POC (again: keeps every certificate, adds new participants)."""
    from fljob.errors import UsageError
    from fljob.runtime import poc

    project = text = None
    if project_file is not None:
        if n_sites is not None:
            raise UsageError("give either -n N or --project FILE, not both")
        from fljob.cli.cmd_provision import load_project_file

        project = load_project_file(project_file)
        text = project_file.read_text(encoding="utf-8")
    prepared = poc.prepare(
        _workspace(workspace), n_sites=n_sites, project=project, project_text=text
    )
    info = poc.status(prepared.root)
    _emit(
        fmt,
        info,
        f"POC prepared in {info['workspace']}: server {info['server']}, "
        f"{', '.join(info['participants'])}; admin kit {info['admin_kit']}",
    )


@poc_group.command("start")
@participant_option
@click.option("--exclude", multiple=True, metavar="NAME", help="Do not start this one.")
@click.option(
    "--timeout",
    default=60.0,
    show_default=True,
    type=float,
    help="Seconds to wait for each process to be ready.",
)
@workspace_option
@format_option
def start_command(
    only: tuple[str, ...],
    exclude: tuple[str, ...],
    timeout: float,
    workspace: Path | None,
    fmt: str,
) -> None:
    """Start the server and sites in the background (logs in WORKSPACE/logs)."""
    from fljob.runtime import poc

    root = _workspace(workspace)
    started = poc.start(root, only=only, exclude=exclude, timeout=timeout)
    info = poc.status(root)
    lines = [f"{n}: pid {r['pid']}" for n, r in started.items()] or ["nothing to start"]
    lines.append(f"server {info['server']}; `fljob submit -j JOB` uses {info['admin_kit']}")
    _emit(fmt, {**info, "started": sorted(started)}, "\n".join(lines))


@poc_group.command("stop")
@participant_option
@workspace_option
@format_option
def stop_command(only: tuple[str, ...], workspace: Path | None, fmt: str) -> None:
    """Stop the processes `fljob poc start` recorded (and their job processes)."""
    from fljob.runtime import poc

    stopped = poc.stop(_workspace(workspace), only=only)
    _emit(
        fmt,
        {"stopped": stopped},
        f"stopped {', '.join(stopped)}" if stopped else "nothing was running",
    )


@poc_group.command("clean")
@workspace_option
def clean_command(workspace: Path | None) -> None:
    """Delete the POC workspace (refuses while it runs)."""
    from fljob.runtime import poc

    click.echo(f"removed {poc.clean(_workspace(workspace))}")


@poc_group.command("status")
@workspace_option
@format_option
def status_command(workspace: Path | None, fmt: str) -> None:
    """Show the POC's participants and whether they run."""
    from fljob.runtime import poc

    info = poc.status(_workspace(workspace))
    if not info["prepared"]:
        _emit(fmt, info, f"no POC prepared in {info['workspace']}")
        return
    lines = [f"POC {info['workspace']} (server {info['server']})"]
    for name, p in info["participants"].items():
        lines.append(
            f"  {name:<12} {'running, pid ' + str(p['pid']) if p['running'] else 'stopped'}"
        )
    _emit(fmt, info, "\n".join(lines))
