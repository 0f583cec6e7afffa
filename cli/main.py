"""Entry point of the ``fljob`` command.

Commands load lazily from :data:`COMMANDS` so that ``fljob --help`` and the everyday
commands start fast (no torch, grpc or pyhocon unless a command needs them). This is
the only place that turns errors into stderr text and exit codes.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence

import click

from fljob import __version__
from fljob.errors import ExitCode, FljobError

#: command name -> (module, attribute). Hyphenated aliases resolve to these names.
COMMANDS: dict[str, tuple[str, str]] = {
    "compile": ("fljob.cli.cmd_compile", "compile_command"),
    "render": ("fljob.cli.cmd_compile", "render_command"),
    "lint": ("fljob.cli.cmd_lint", "lint_command"),
    "list_templates": ("fljob.cli.cmd_templates", "list_templates_command"),
    "create": ("fljob.cli.cmd_templates", "create_command"),
    "show_variables": ("fljob.cli.cmd_templates", "show_variables_command"),
    "template": ("fljob.cli.cmd_templates", "template_group"),
    "run": ("fljob.cli.cmd_run", "run_command"),
    "submit": ("fljob.cli.cmd_jobs", "submit_command"),
    "jobs": ("fljob.cli.cmd_jobs", "jobs_group"),
    "server": ("fljob.cli.cmd_runtime", "server_command"),
    "site": ("fljob.cli.cmd_runtime", "site_command"),
    "provision": ("fljob.cli.cmd_provision", "provision_command"),
    "poc": ("fljob.cli.cmd_poc", "poc_group"),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when called."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, (module, _) in COMMANDS.items() if _module_exists(module))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        name = cmd_name.replace("-", "_")
        if name not in COMMANDS or not _module_exists(COMMANDS[name][0]):
            return None
        module_name, attr = COMMANDS[name]
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}.{attr} is not a click command")
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        # Report unknown commands with a did-you-mean over the canonical names.
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            import difflib

            close = difflib.get_close_matches(name.replace("-", "_"), self.list_commands(ctx), 1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            ctx.fail(f"No such command '{name}'.{hint}")
        return super().resolve_command(ctx, args)


def _module_exists(module: str) -> bool:
    return module in sys.modules or importlib.util.find_spec(module) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fljob")
def cli() -> None:
    """fljob: compile, lint and run federated-learning jobs.

    \b
    Exit codes: 0 ok, 1 the job has errors or failed, 2 usage error, 3 internal error.
    """


def report_error(error: FljobError) -> None:
    for diagnostic in error.diagnostics():
        click.echo(diagnostic.format(), err=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI and exit with a named exit code; never a traceback for user mistakes."""
    code: int
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None, prog_name="fljob", standalone_mode=False
        )
        code = int(result) if isinstance(result, int) else ExitCode.OK
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        code = 130
    except click.ClickException as exc:
        exc.show()
        code = ExitCode.USAGE if isinstance(exc, click.UsageError) else ExitCode.FINDINGS
        if exc.exit_code == ExitCode.USAGE:
            code = ExitCode.USAGE
    except FljobError as exc:
        report_error(exc)
        code = exc.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        code = 130
    except Exception:  # a bug in fljob: show it, and say so
        import traceback

        traceback.print_exc()
        click.echo("fljob: internal error (a bug in fljob); please report it.", err=True)
        code = ExitCode.INTERNAL
    sys.exit(code)


if __name__ == "__main__":
    main()
