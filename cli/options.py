"""Options and output helpers shared by the command modules."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import click

from fljob.errors import Diagnostic

job_dir_option = click.option(
    "-j",
    "--job-dir",
    "--job_folder",
    "job_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The job folder (meta file plus app folders).",
)


def parse_pairs(pairs: Sequence[str], option: str) -> dict[str, str]:
    """``["A=1", "B=x=y"]`` -> ``{"A": "1", "B": "x=y"}``; a pair without '=' is a usage error."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint=option)
        out[key] = value
    return out


def print_warnings(diagnostics: Iterable[Diagnostic]) -> None:
    for diagnostic in diagnostics:
        click.echo(diagnostic.format(), err=True)
