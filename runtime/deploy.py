"""Deploying a job on one participant: verify, resolve, check, build.

``deploy(bundle_dir, participant=..., ...)`` is what the server and every site run
before a job starts. In order:

1. the bundle is checked against its MANIFEST (``BundleError`` naming each bad file);
2. the participant's app is chosen from the meta's ``deploy_map``;
3. deploy-time variables (system variables such as ``SITE_NAME`` and ``{$ENV}``
   references) are filled in with this participant's values;
4. the safe-component check runs under the participant's own policy
   (``UnsafeJobError`` listing every unsafe feature);
5. the components are built (``ComponentBuildError`` listing every problem).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fljob.bundle import open_bundle
from fljob.errors import BundleError
from fljob.runtime.components import BuiltApp, build_app

SERVER = "server"
ALL = "@all"
SERVER_CONFIG = "config_fed_server"
CLIENT_CONFIG = "config_fed_client"


@dataclass
class DeployedApp:
    app: str
    app_dir: Path
    config: dict[str, Any]  #: the config after deploy-time resolution
    built: BuiltApp


def app_for(meta: Mapping[str, Any], participant: str) -> str | None:
    """The app ``deploy_map`` gives ``participant`` (``"server"`` or a site), if any."""
    deploy_map = meta.get("deploy_map") or {}
    for app, targets in deploy_map.items():
        names = [str(t) for t in targets or []]
        if participant in names or any(n.lower() == ALL for n in names):
            return str(app)
    return None


def job_sites(meta: Mapping[str, Any], available: list[str]) -> list[str]:
    """The client sites a job deploys to, given the sites that are connected now."""
    deploy_map = meta.get("deploy_map") or {}
    wanted: set[str] = set()
    for targets in deploy_map.values():
        names = [str(t) for t in targets or []]
        if any(n.lower() == ALL for n in names):
            wanted.update(available)
        wanted.update(n for n in names if n != SERVER and n.lower() != ALL)
    return sorted(wanted)


def deploy(
    bundle_dir: Path,
    *,
    participant: str,
    job_id: str,
    workspace: Path,
    root_url: str = "",
    env: Mapping[str, str] | None = None,
    policy: Any = None,
    before_build: Callable[[str, dict[str, Any]], None] | None = None,
) -> DeployedApp:
    """Verify, resolve, check and build ``participant``'s app of the bundle.

    ``before_build(config_key, config)`` runs after the checks, before any component is
    built (a site's policy plug-ins; it raises to veto)."""
    bundle = open_bundle(bundle_dir)
    bundle.verify()
    app = app_for(bundle.meta, participant)
    if app is None:
        raise BundleError(
            f"the job's deploy_map gives {participant!r} no app", path=str(bundle_dir)
        )
    role = "server" if participant == SERVER else "client"
    config_name = SERVER_CONFIG if role == "server" else CLIENT_CONFIG
    config = bundle.config(app, config_name)
    if config is None:
        raise BundleError(f"app {app!r} has no {config_name}.json", path=str(bundle_dir))
    app_dir = bundle.app_dir(app)
    system = {
        "SITE_NAME": participant,
        "WORKSPACE": str(workspace),
        "JOB_ID": job_id,
        "ROOT_URL": root_url,
        "SECURE_MODE": True,
        "JOB_CUSTOM_DIR": str(app_dir / "custom"),
        "JOB_CONFIG_DIR": str(app_dir / "config"),
    }
    refs = bundle.deploy_refs(app, config_name)
    config_key = f"{app}/config/{config_name}"
    if refs:
        from fljob.compiler.resolve import resolve_deploy_time

        config = resolve_deploy_time(
            config,
            refs,
            system=system,
            env=dict(os.environ if env is None else env),
            source=f"{config_key}.json",
        )
    check_safety({config_key: config}, bundle_dir=Path(bundle_dir), policy=policy)
    if before_build is not None:
        before_build(config_key, config)
    built = build_app(config, app_dir=app_dir, config_file=f"{config_key}.json", role=role)
    return DeployedApp(app, app_dir, config, built)


def load_site_policy(path: str | Path | None) -> Any:
    """The participant's own safety policy file, or None for the built-in default."""
    if not path:
        return None
    from fljob.safety import load_policy

    return load_policy(Path(path))


def check_safety(
    configs: Mapping[str, Mapping[str, Any]], *, bundle_dir: Path, policy: Any = None
) -> None:
    """The one place a participant runs the safe-component check (``UnsafeJobError``)."""
    from fljob.safety import enforce

    enforce(configs, job_root=bundle_dir, policy=policy)
