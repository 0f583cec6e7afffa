"""``fljob run``: run a job on a local federation (server + N sites on 127.0.0.1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from fljob.cli.options import job_dir_option
from fljob.errors import ExitCode, UsageError


@click.command("run", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@job_dir_option
@click.option(
    "-n",
    "--n-sites",
    "--n_clients",
    "n_sites",
    type=click.IntRange(1, 64),
    help="Number of sites, named site-1 ... site-N (default 2).",
)
@click.option("--sites", help="Comma-separated site names (instead of -n).")
@click.option(
    "-w",
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the run's state and results (default: a new temp folder).",
)
@click.option(
    "--heartbeat-timeout",
    default=10.0,
    show_default=True,
    type=float,
    help="Seconds of silence after which a site is dropped from the job.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one summary object on stdout at the end.",
)
@click.pass_context
def run_command(
    ctx: click.Context,
    job_dir: Path,
    n_sites: int | None,
    sites: str | None,
    workspace: Path | None,
    heartbeat_timeout: float,
    fmt: str,
) -> int:
    """Compile JOB_DIR, start a server and sites here, run the job, print the results.

    \b
    Overrides: -f CONFIG_FILE KEY=VALUE ... (repeatable), applied to a copy of the job:
      fljob run -j my_job -n 2 -f config_fed_server.conf num_rounds=3
    Exit code 0 only when the job finished well.
    """
    from fljob.runtime.local_run import LocalRun, RunOptions

    names = _site_names(n_sites, sites)
    overrides: list[Any] = []
    if ctx.args:
        from fljob.compiler.overrides import parse_override_args

        overrides = parse_override_args(ctx.args)
    options = RunOptions(
        job_dir=job_dir,
        sites=names,
        workspace=workspace,
        overrides=overrides,
        heartbeat_timeout=heartbeat_timeout,
    )
    printer = None if fmt == "json" else _print_progress
    summary = _run_interruptibly(LocalRun(options, on_event=printer))
    if fmt == "json":
        click.echo(json.dumps(summary.to_dict(), indent=2, sort_keys=True))
    else:
        line = f"job {summary.job_id}: {summary.status}"
        click.echo(line + (f" ({summary.error})" if summary.error else ""), err=True)
        click.echo(summary.result_dir)
    return ExitCode.OK if summary.ok else ExitCode.FINDINGS


def _run_interruptibly(run: Any) -> Any:
    """Run in a worker thread so that Ctrl-C (or SIGTERM) reaches this thread at once,
    even while the worker waits in a network call; then stop every process it started."""
    import signal
    import threading

    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["summary"] = run.run()
        except BaseException as exc:  # re-raised in the main thread
            outcome["error"] = exc

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    worker = threading.Thread(target=work, daemon=True, name="local-run")
    worker.start()
    try:
        worker.join()
    except KeyboardInterrupt:
        run.stop()
        worker.join(5)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["summary"]


def _site_names(n_sites: int | None, sites: str | None) -> list[str]:
    if n_sites is not None and sites is not None:
        raise UsageError("give either -n N or --sites a,b,c, not both")
    if sites is not None:
        names = [s.strip() for s in sites.split(",") if s.strip()]
        if not names or len(set(names)) != len(names):
            raise UsageError(f"--sites needs distinct names, got {sites!r}")
        if "server" in names:
            raise UsageError("'server' is the server's name; choose other site names")
        return names
    return [f"site-{i}" for i in range(1, (n_sites or 2) + 1)]


def _print_progress(event: dict[str, Any]) -> None:
    kind = event.get("kind")
    if kind == "federation_ready":
        click.echo(f"server at {event['address']}, sites: {', '.join(event['sites'])}", err=True)
    elif kind == "submitted":
        click.echo(f"job {event['job_id']} submitted", err=True)
    elif kind == "round_done":
        answered = len(event.get("metrics", {}))
        failed = event.get("failed") or []
        metrics = ", ".join(
            f"{site}: " + " ".join(f"{k}={_fmt(v)}" for k, v in m.items())
            for site, m in sorted(event.get("metrics", {}).items())
        )
        extra = f", failed: {', '.join(failed)}" if failed else ""
        click.echo(
            f"round {event['round'] + 1}/{event.get('total_rounds', '?')}: "
            f"{answered} site(s) answered{extra}" + (f" | {metrics}" if metrics else ""),
            err=True,
        )
    elif kind in ("cross_site_eval_done", "statistics_done") and event.get("table"):
        title = "cross-site evaluation" if kind == "cross_site_eval_done" else "statistics"
        click.echo(
            f"{title} ({event.get('path') or event.get('json')}):\n{event['table']}", err=True
        )
    elif kind == "site_failed":
        click.echo(f"{event.get('site')} failed: {event.get('error')}", err=True)


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
