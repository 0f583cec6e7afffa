"""``fljob compile`` and ``fljob render``: a job folder to a bundle, or to a preview."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from fljob.cli.options import job_dir_option, parse_pairs, print_warnings

#: what ``render --site`` uses for system variables unless ``--sys KEY=VALUE`` says otherwise
RENDER_JOB_ID = "render-job-id"
RENDER_ROOT_URL = "grpc://127.0.0.1:8002"


@click.command("compile")
@job_dir_option
@click.option(
    "-o",
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Where to write the bundle (a folder, or a .zip file with --zip).",
)
@click.option("--zip", "as_zip", is_flag=True, help="Write one reproducible zip file.")
@click.option("--force", is_flag=True, help="Replace an existing bundle at OUT.")
def compile_command(job_dir: Path, out: Path, as_zip: bool, force: bool) -> None:
    """Compile JOB_DIR into a deterministic bundle at OUT.

    On any error nothing is written and an existing OUT is left untouched.
    """
    from fljob.compiler.pipeline import compile_job

    result = compile_job(job_dir, out, as_zip=as_zip, force=force)
    print_warnings(result.warnings)
    click.echo(f"bundle written to {result.bundle}")


@click.command("render")
@job_dir_option
@click.option("--site", help="Resolve system variables as this site sees them ('server' too).")
@click.option(
    "--env",
    "env_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Environment variable for --site (repeatable); the process env fills the rest.",
)
@click.option(
    "--sys",
    "sys_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a system variable's placeholder value for --site (repeatable).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["json", "yaml"]), default="json", show_default=True
)
def render_command(
    job_dir: Path, site: str | None, env_pairs: Sequence[str], sys_pairs: Sequence[str], fmt: str
) -> None:
    """Print the resolved job: {"meta": ..., "configs": {"<app>/config/<name>": ...}}.

    \b
    Without --site, system and environment references stay as written (as in the bundle).
    With --site NAME they are resolved as that site would see them. Placeholders:
      SITE_NAME      NAME for client configs, "server" for server configs
      JOB_ID         render-job-id
      WORKSPACE      /workspace/<site>
      ROOT_URL       grpc://127.0.0.1:8002
      SECURE_MODE    true
      JOB_CUSTOM_DIR <WORKSPACE>/<JOB_ID>/<app>/custom   (JOB_CONFIG_DIR likewise)
    """
    from fljob.compiler.load import load_job
    from fljob.compiler.resolve import resolve_job

    resolved = resolve_job(load_job(job_dir))
    print_warnings(resolved.warnings)
    configs = {"meta": resolved.meta, **resolved.configs}
    view: dict[str, Any] = {"meta": None, "configs": {}}
    env = {**os.environ, **parse_pairs(env_pairs, "--env")}
    overrides = parse_pairs(sys_pairs, "--sys")
    for key, config in configs.items():
        data: Any = config.data
        if site is not None and config.deploy_refs:
            data = _site_view(key, config.data, config.deploy_refs, site, env, overrides)
        if key == "meta":
            view["meta"] = data
        else:
            view["configs"][key] = data
    click.echo(_dump(view, fmt))


def site_system_variables(key: str, site: str, overrides: Mapping[str, str]) -> dict[str, str]:
    """The system variables a site sees for config ``key`` (documented placeholders)."""
    app = key.split("/", 1)[0]
    site_name = "server" if key.endswith("config_fed_server") else site
    values = {
        "SITE_NAME": site_name,
        "JOB_ID": RENDER_JOB_ID,
        "WORKSPACE": f"/workspace/{site_name}",
        "ROOT_URL": RENDER_ROOT_URL,
        "SECURE_MODE": "true",
    }
    unknown = sorted(set(overrides) - {*values, "JOB_CUSTOM_DIR", "JOB_CONFIG_DIR"})
    if unknown:
        raise click.BadParameter(
            f"unknown system variable(s): {', '.join(unknown)}; known: "
            f"{', '.join(sorted(values))}, JOB_CUSTOM_DIR, JOB_CONFIG_DIR",
            param_hint="--sys",
        )
    values.update({k: v for k, v in overrides.items() if k in values})
    job_app = f"{values['WORKSPACE']}/{values['JOB_ID']}/{app}"
    values["JOB_CUSTOM_DIR"] = f"{job_app}/custom"
    values["JOB_CONFIG_DIR"] = f"{job_app}/config"
    values.update(overrides)
    return values


def _site_view(
    key: str,
    data: Any,
    deploy_refs: Mapping[Any, Any],
    site: str,
    env: Mapping[str, str],
    overrides: Mapping[str, str],
) -> Any:
    from fljob.compiler.resolve import resolve_deploy_time

    system = site_system_variables(key, site, overrides)
    return resolve_deploy_time(data, deploy_refs, system=system, env=env)


def _dump(view: Mapping[str, Any], fmt: str) -> str:
    if fmt == "yaml":
        import yaml

        return yaml.safe_dump(dict(view), sort_keys=False, allow_unicode=True).rstrip("\n")
    return json.dumps(view, indent=2, ensure_ascii=False)
