"""``fljob lint PATH...``: check job folders, template folders, libraries and trees."""

from __future__ import annotations

from pathlib import Path

import click

from fljob.errors import ExitCode


@click.command("lint")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "github", "junit"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 1).")
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Safety policy file (JSON or YAML) instead of the built-in default.",
)
@click.option(
    "--select",
    multiple=True,
    metavar="CODES",
    help="Report only these codes or prefixes (FLJ3,FLJ401); repeatable.",
)
@click.option(
    "--ignore",
    multiple=True,
    metavar="CODES",
    help="Do not report these codes or prefixes; repeatable.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the report to FILE instead of stdout.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Worker processes (default: one per core).",
)
def lint_command(
    paths: tuple[Path, ...],
    fmt: str,
    strict: bool,
    policy_file: Path | None,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    output: Path | None,
    workers: int | None,
) -> int:
    """Lint job folders, template folders, template libraries or whole trees.

    \b
    Exit codes: 0 clean (warnings allowed), 1 errors (or warnings with --strict),
    2 usage error. Silence one line with a comment: # fljob: ignore[FLJ301]
    """
    from fljob.compiler.lint import lint_paths, parse_codes, render
    from fljob.safety import load_policy

    policy = load_policy(policy_file) if policy_file else None
    report = lint_paths(
        list(paths) or [Path(".")],
        policy=policy,
        select=parse_codes(select),
        ignore=parse_codes(ignore),
        strict=strict,
        workers=workers,
    )
    text = render(report, fmt)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        click.echo(report.summary(), err=True)
    else:
        click.echo(text, nl=False)
    return ExitCode(report.exit_code)
