"""``fljob provision -p project.yml -o DIR``: a startup kit per participant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


def load_project_file(path: Path) -> Any:
    """Load and check a project file (JSON, HOCON or YAML) with source positions."""
    from fljob.compiler.load import load_document
    from fljob.runtime.provision import parse_project

    doc = load_document(Path(path))

    def locate(key_path: tuple[Any, ...]) -> tuple[int, int] | None:
        span = doc.span_of(key_path)
        return (span.line, span.col) if span is not None else None

    return parse_project(doc.data, file=str(path), locate=locate)


@click.command("provision")
@click.option(
    "-p",
    "--project-file",
    "project_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The project file (YAML, JSON or HOCON): name, server, sites, admins.",
)
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the CA and the startup kits (re-provisioning extends it).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def provision_command(project_file: Path, output: Path, fmt: str) -> None:
    """Make (or extend) the startup kits of a project.

    \b
    Each participant gets a folder: its certificate and key, the project CA
    certificate, fljob.json (how to connect) and, for the server and sites, start.sh.
    Running it again on the same folder keeps the CA and every certificate already
    issued, and adds kits for new participants only.
    """
    from fljob.runtime.provision import provision_project

    project = load_project_file(project_file)
    report = provision_project(project, output)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "project": project.name,
                    "output": str(report.root),
                    "server": project.address,
                    "created": report.created,
                    "kept": report.kept,
                    "orphaned": report.orphaned,
                    "kits": {n: str(report.kit(n)) for n in project.participants()},
                },
                indent=2,
                sort_keys=True,
            )
        )
        return
    click.echo(f"project {project.name}: server {project.address}, kits in {report.root}")
    for name in project.participants():
        state = "new" if name in report.created else "kept"
        click.echo(f"  {name:<24} {state}  {report.kit(name)}")
    if report.orphaned:
        click.echo(
            f"not in the project file any more (kits left as they are, unknown to the "
            f"server): {', '.join(report.orphaned)}",
            err=True,
        )
