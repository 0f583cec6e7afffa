"""``fljob list_templates``, ``create``, ``show_variables`` and ``template lint``.

FLARE's command names and flags (``-j``, ``-w``, ``-sd``, ``-f FILE K=V ...``, ``-d``,
``--force``). Library code raises; this module formats results and lets
:func:`fljob.cli.main.main` turn errors into stderr text and exit codes.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from fljob.errors import Diagnostic, DiagnosticError, ExitCode, Severity

_FORMAT = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
_TEMPLATE_DIRS = click.option(
    "-d",
    "--template_dir",
    "--template-dir",
    "template_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A template library (or one template) searched first; repeatable.",
)


def _echo_warnings(diagnostics: Sequence[Diagnostic]) -> None:
    for diagnostic in diagnostics:
        click.echo(diagnostic.format(), err=True)


def _as_usage(error: DiagnosticError) -> DiagnosticError:
    """A mistake on the command line (unknown template, bad override) exits 2."""
    error.exit_code = ExitCode.USAGE
    return error


def _width() -> int:
    return max(60, min(shutil.get_terminal_size((100, 24)).columns, 160))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], wrap_col: int) -> str:
    """A plain table whose ``wrap_col`` column wraps (never cuts) to fit the terminal."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    fixed = sum(w for i, w in enumerate(widths) if i != wrap_col) + 2 * (len(headers) - 1)
    widths[wrap_col] = max(20, min(widths[wrap_col], _width() - fixed))
    lines = []
    for row in [list(headers), *[list(r) for r in rows]]:
        cells = [
            textwrap.wrap(c, widths[i], break_long_words=False, break_on_hyphens=False) or [""]
            if i == wrap_col
            else [c]
            for i, c in enumerate(row)
        ]
        for n in range(max(len(c) for c in cells)):
            parts = [(c[n] if n < len(c) else "").ljust(widths[i]) for i, c in enumerate(cells)]
            lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


@click.command("list_templates")
@_TEMPLATE_DIRS
@_FORMAT
def list_templates_command(template_dirs: tuple[Path, ...], output_format: str) -> int:
    """List the templates of every source: -d DIR, FLJOB_TEMPLATES, the user config
    (template_dirs in ~/.config/fljob/config.json), the built-in library."""
    from fljob.compiler.templates.library import TemplateLibrary

    library = TemplateLibrary.discover(template_dirs)
    _echo_warnings(library.warnings)
    entries = library.entries()
    templates, problems = library.read_all()
    items: list[dict[str, Any]] = []  # JSON objects, printed as they are with --format json
    for template in templates:
        entry = entries[template.name]
        items.append(
            {
                "name": template.name,
                "description": template.info.description,
                "controller_type": template.info.controller_type,
                "execution_api_type": template.info.execution_api_type,
                "version": template.info.version,
                "source": template.source,
                "path": str(template.root),
                "shadows": [s.label for s in entry.shadows],
                "variables": [v.to_dict() for v in template.info.variables],
                "scaffolds": list(template.info.scaffolds),
            }
        )
    _echo_warnings(problems)  # broken templates: reported, the rest still listed
    status = ExitCode.FINDINGS if problems else ExitCode.OK
    if output_format == "json":
        click.echo(json.dumps(items, indent=2))
        return status
    for item in items:
        if item["shadows"]:
            click.echo(
                f"note: {item['name']} from {item['source']} hides the one in "
                + ", ".join(item["shadows"]),
                err=True,
            )
    headers = ("name", "description", "controller", "execution api", "version", "source")
    rows = [
        (
            i["name"],
            i["description"],
            i["controller_type"],
            i["execution_api_type"],
            i["version"] or "-",
            i["source"],
        )
        for i in items
    ]
    click.echo(_table(headers, rows, wrap_col=1))
    return status


@click.command(
    "create", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
@click.option(
    "-j",
    "--job_folder",
    "--job-folder",
    "job_folder",
    required=True,
    type=click.Path(path_type=Path),
    help="The job folder to create.",
)
@click.option(
    "-w",
    "--template",
    "template_name",
    default="sag_pt",
    show_default=True,
    help="Template name (see list_templates) or a path to a template folder.",
)
@click.option(
    "-sd",
    "--script_dir",
    "--script-dir",
    "script_dir",
    type=click.Path(path_type=Path),
    help="Folder of your training code, copied into each app's custom/.",
)
@_TEMPLATE_DIRS
@click.option(
    "--force",
    "-force",
    is_flag=True,
    help="Overwrite the template's files in an existing folder; other files stay.",
)
@_FORMAT
@click.pass_context
def create_command(
    ctx: click.Context,
    job_folder: Path,
    template_name: str,
    script_dir: Path | None,
    template_dirs: tuple[Path, ...],
    force: bool,
    output_format: str,
) -> None:
    """Create a job folder from a template.

    \b
    Overrides: -f CONFIG_FILE KEY=VALUE [+KEY=VALUE] [KEY-] ... (repeatable), e.g.
      fljob create -j job -w sag_pt -f config_fed_server.conf num_rounds=7
    KEY is a full key path (workflows[0].args.num_rounds) or a unique leaf name.
    """
    from fljob.compiler.overrides import parse_override_args
    from fljob.compiler.templates.create import create_job
    from fljob.compiler.templates.library import TemplateLibrary
    from fljob.errors import OverrideError, TemplateError

    try:
        parse_override_args(ctx.args)
        library = TemplateLibrary.discover(template_dirs)
        _echo_warnings(library.warnings)
        template = library.find(template_name)
    except (OverrideError, TemplateError) as exc:
        if isinstance(exc, OverrideError) or exc.diagnostics()[0].code == "FLJ601":
            raise _as_usage(exc) from None
        raise
    try:
        result = create_job(
            template, job_folder, script_dir=script_dir, override_args=ctx.args, force=force
        )
    except OverrideError as exc:
        raise _as_usage(exc) from None
    if output_format == "json":
        click.echo(
            json.dumps(
                {
                    "job_folder": str(result.job_dir),
                    "template": json.loads(result.record.to_json()),
                    "files": list(result.files),
                },
                indent=2,
            )
        )
        return
    click.echo(f"Created {result.job_dir} from template '{template.name}' ({template.source}).")
    for override in result.record.overrides:
        shown = "deleted" if override.op == "delete" else f"= {json.dumps(override.value)}"
        click.echo(f"  {override.file}: {override.key} {shown}")
    click.echo(
        f"Next: fljob show_variables -j {job_folder}  |  "
        f"fljob compile -j {job_folder} -o {job_folder}_bundle"
    )


@click.command("show_variables")
@click.option(
    "-j",
    "--job_folder",
    "--job-folder",
    "job_folder",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The job folder.",
)
@_FORMAT
def show_variables_command(job_folder: Path, output_format: str) -> None:
    """Show every value a user can set in a job folder, per file."""
    from fljob.compiler.templates.variables import show_variables

    rows = show_variables(job_folder)
    if output_format == "json":
        click.echo(json.dumps([r.to_dict() for r in rows], indent=2))
        return
    by_file: dict[str, list[Any]] = {}
    for row in rows:
        by_file.setdefault(row.file, []).append(row)
    blocks = []
    for file, file_rows in by_file.items():
        table = [(r.key, json.dumps(r.value), r.type, _about(r)) for r in file_rows]
        blocks.append(
            f"{file}\n"
            + textwrap.indent(
                _table(("key", "value", "type", "component / description"), table, wrap_col=3), "  "
            )
        )
    click.echo("\n\n".join(blocks))


def _about(row: Any) -> str:
    parts = []
    if row.variable:
        parts.append(f"[{row.variable}]")
    if row.description:
        parts.append(row.description)
    if row.component:
        parts.append(f"({row.component})")
    return " ".join(parts)


@click.group("template")
def template_group() -> None:
    """Template library tools."""


@template_group.command("lint")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@_FORMAT
def template_lint_command(directory: Path, strict: bool, output_format: str) -> int:
    """Check a template, or every template in a library folder."""
    from fljob.compiler.templates.lint import lint_template

    diagnostics = lint_template(directory)
    if strict:
        diagnostics = [d.with_severity(Severity.ERROR) for d in diagnostics]
    if output_format == "json":
        click.echo(json.dumps([d.to_dict() for d in diagnostics], indent=2))
    else:
        for diagnostic in diagnostics:
            click.echo(diagnostic.format())
        errors = sum(d.is_error for d in diagnostics)
        click.echo(
            f"{directory}: {errors} error(s), {len(diagnostics) - errors} warning(s)", err=True
        )
    return ExitCode.FINDINGS if any(d.is_error for d in diagnostics) else ExitCode.OK
