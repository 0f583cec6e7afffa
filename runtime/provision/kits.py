"""Startup kits: one folder per participant, made from a :class:`Project`.

::

    OUT/
      project.json  ca/ca.crt  ca/ca.key      the PKI (fljob.runtime.pki); keep ca.key safe
      server/       ca.crt server.crt server.key
                    fljob.json                connection config (kind, host, port, listen)
                    participants.json         the roster: every site's org and resources,
                                              every admin's org and role
                    authorization.json        who may do what (fljob.runtime.authz)
                    server_policy.json        (when the project file gives one)
                    start.sh
      site-1/       ca.crt site-1.crt site-1.key fljob.json start.sh
                    site_policy.json          (when the project file seeds one)
      admin@a.org/  ca.crt admin@a.org.crt admin@a.org.key fljob.json

Re-provisioning the same folder keeps the CA and every certificate already issued, so
running participants stay valid; it issues certificates for new participants only and
rewrites the connection configs and the roster. A participant's organisation is in its
certificate, so changing it is refused (FLJ711). Site and server policy files that the
project file does not mention are left alone: they belong to the site.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fljob.errors import Diagnostic, DiagnosticError, UsageError
from fljob.runtime.pki import write_text_file
from fljob.runtime.provision.project import Project

KIT_CONFIG = "fljob.json"
ROSTER = "participants.json"
AUTHORIZATION = "authorization.json"
KIT_FORMAT = "fljob-kit/1"


class ProvisionConflictError(DiagnosticError):
    """Re-provisioning would change what a kept certificate says."""

    code = "FLJ711"


class KitError(UsageError):
    """A folder is not a startup kit of the expected kind."""

    code = "FLJ710"


@dataclass(frozen=True)
class KitConfig:
    """What ``fljob.json`` in a startup kit says."""

    kind: str  #: "server" | "site" | "admin"
    project: str
    name: str
    org: str
    server: str  #: host:port to connect to (the server's own advertised address)
    server_name: str = "server"
    role: str | None = None  #: admins only
    listen: str | None = None  #: server only
    port: int | None = None  #: server only
    resources: dict[str, Any] = field(default_factory=dict)  #: sites only


@dataclass(frozen=True)
class ProvisionReport:
    root: Path
    created: list[str]  #: participants whose certificates were issued now
    kept: list[str]  #: participants whose certificates were kept
    orphaned: list[str]  #: kits in the folder no longer in the project file

    def kit(self, name: str) -> Path:
        return self.root / name


# ----------------------------------------------------------------------------- provision
def provision_project(project: Project, out_dir: Path) -> ProvisionReport:
    """Write (or extend) every participant's startup kit under ``out_dir``."""
    from fljob.runtime import pki

    root = Path(out_dir)
    existing = pki.Pki.load(root) if (root / "project.json").exists() else None
    _check_conflicts(project, existing)
    before = set(existing.participants) if existing else set()
    by_org: dict[str, tuple[list[str], list[str]]] = {}
    for site in project.sites:
        by_org.setdefault(site.org, ([], []))[0].append(site.name)
    for admin in project.admins:
        by_org.setdefault(admin.org, ([], []))[1].append(admin.name)
    server = project.server
    common = {"project": project.name, "server": server.name, "host": server.host}
    pki.provision(root, org=server.org, **common)
    for org, (sites, admins) in sorted(by_org.items()):
        pki.provision(root, sites=sites, admins=admins, org=org, **common)
    _write_server_kit(project, root / server.name)
    for site in project.sites:
        _write_site_kit(project, site, root / site.name)
    for admin in project.admins:
        config = _base_config(project, "admin", admin.name, admin.org)
        _write_json(root / admin.name / KIT_CONFIG, {**config, "role": admin.role})
    names = set(project.participants())
    return ProvisionReport(
        root,
        created=sorted(names - before),
        kept=sorted(names & before),
        orphaned=sorted(before - names),
    )


def _check_conflicts(project: Project, existing: Any) -> None:
    if existing is None:
        return
    problems = []
    if existing.project != project.name:
        problems.append(
            Diagnostic(
                "FLJ711",
                f"{existing.root} holds project {existing.project!r}, not {project.name!r}",
                file=project.source,
                key_path="name",
                hint="provision a new project into another folder",
            )
        )
    wanted = [(project.server.name, "server", project.server.org)]
    wanted += [(s.name, "site", s.org) for s in project.sites]
    wanted += [(a.name, "admin", a.org) for a in project.admins]
    for name, kind, org in wanted:
        old = existing.participants.get(name)
        if old is None or not (existing.root / name / f"{name}.crt").exists():
            continue  # new, or its kit was deleted to be reissued
        if old.role != kind or old.org != org:
            problems.append(
                Diagnostic(
                    "FLJ711",
                    f"{name} is already provisioned as {old.role} of organisation {old.org!r}; "
                    f"the project file makes it {kind} of {org!r}",
                    file=project.source,
                    hint=f"its certificate is kept; to reissue it, delete {existing.root / name} "
                    "and provision again (then hand out the new kit)",
                )
            )
    if problems:
        raise ProvisionConflictError(problems, message="re-provisioning conflicts")


def _base_config(project: Project, kind: str, name: str, org: str) -> dict[str, Any]:
    return {
        "format": KIT_FORMAT,
        "kind": kind,
        "project": project.name,
        "name": name,
        "org": org,
        "server": project.address,
        "server_name": project.server.name,
    }


def _write_server_kit(project: Project, kit: Path) -> None:
    from fljob.runtime import authz

    server = project.server
    config = _base_config(project, "server", server.name, server.org)
    config.update(listen=server.listen, port=server.port)
    _write_json(kit / KIT_CONFIG, config)
    _write_json(
        kit / ROSTER,
        {
            "project": project.name,
            "sites": {
                s.name: {"org": s.org, "resources": dict(s.resources)} for s in project.sites
            },
            "admins": {a.name: {"org": a.org, "role": a.role} for a in project.admins},
        },
    )
    if server.authorization is not None:
        _write_json(kit / AUTHORIZATION, dict(server.authorization))
    elif not (kit / AUTHORIZATION).exists():
        _write_json(kit / AUTHORIZATION, authz.policy_to_dict(authz.default_policy()))
    if server.policy is not None:
        _write_json(kit / "server_policy.json", dict(server.policy))
    _write_start_script(kit, read_kit(kit))


def _write_site_kit(project: Project, site: Any, kit: Path) -> None:
    config = _base_config(project, "site", site.name, site.org)
    config["resources"] = dict(site.resources)
    _write_json(kit / KIT_CONFIG, config)
    if site.policy is not None:
        _write_json(kit / "site_policy.json", dict(site.policy))
    _write_start_script(kit, read_kit(kit))


# ----------------------------------------------------------------------------- reading
def read_kit(kit_dir: Path, kind: str | None = None) -> KitConfig:
    """The connection config of a startup kit (``KitError`` when absent or of another kind)."""
    path = Path(kit_dir) / KIT_CONFIG
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        config = KitConfig(
            kind=data["kind"],
            project=data["project"],
            name=data["name"],
            org=data["org"],
            server=data["server"],
            server_name=data.get("server_name", "server"),
            role=data.get("role"),
            listen=data.get("listen"),
            port=data.get("port"),
            resources=dict(data.get("resources") or {}),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KitError(
            f"{kit_dir} is not a startup kit made by `fljob provision`: {exc}",
            path=str(path),
            hint="run `fljob provision -p project.yml -o DIR` and use DIR/<participant>",
        ) from None
    if kind is not None and config.kind != kind:
        raise KitError(f"{kit_dir} is the kit of a {config.kind}, not of a {kind}", path=str(path))
    return config


def read_roster(kit_dir: Path) -> dict[str, Any] | None:
    """The server kit's roster (``{"sites": {...}, "admins": {...}}``), or None."""
    path = Path(kit_dir) / ROSTER
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KitError(f"cannot read the roster: {exc}", path=str(path)) from None
    return {"sites": dict(data.get("sites") or {}), "admins": dict(data.get("admins") or {})}


def kit_address(kit_dir: Path) -> str | None:
    """The server address an admin (or site) kit connects to, when it says."""
    try:
        return read_kit(kit_dir).server
    except KitError:
        return None


# ----------------------------------------------------------------------------- start
def participant_argv(
    kit_dir: Path,
    workspace: Path | str,
    *,
    fljob: Sequence[str] = ("fljob",),
    log_file: Path | str | None = None,
) -> list[str]:
    """The command that starts the participant of ``kit_dir`` (server or site).

    ``start.sh`` is written from this, and ``fljob poc start`` runs it directly.
    """
    return _argv(read_kit(kit_dir), str(kit_dir), str(workspace), fljob, log_file)


def _argv(
    config: KitConfig,
    kit_dir: str,
    workspace: str,
    fljob: Sequence[str],
    log_file: Path | str | None,
) -> list[str]:
    if config.kind == "server":
        argv = [*fljob, "server", "--kit", str(kit_dir), "-w", str(workspace)]
        argv += ["--host", str(config.listen or "0.0.0.0"), "--port", str(config.port)]
    elif config.kind == "site":
        argv = [*fljob, "site", "--kit", str(kit_dir), "-w", str(workspace)]
        argv += ["--server", config.server, "--name", config.name]
    else:
        raise KitError(f"{kit_dir} is an admin kit; admins run `fljob submit`/`fljob jobs`")
    if log_file is not None:
        argv += ["--log-file", str(log_file)]
    return argv


_KIT, _WS = "@@KIT@@", "@@WORKSPACE@@"


def _write_start_script(kit: Path, config: KitConfig) -> None:
    argv = _argv(config, _KIT, _WS, ["@@FLJOB@@"], None)
    line = shlex.join(argv)
    line = line.replace(_KIT, '"$KIT"').replace(_WS, '"$WORKSPACE"')
    line = line.replace("@@FLJOB@@", "$FLJOB")  # unquoted on purpose: FLJOB="python -m fljob"
    text = (
        "#!/bin/sh\n"
        f"# Start {config.kind} {config.name} of project {config.project}.\n"
        "# Made by `fljob provision`; re-provisioning rewrites it.\n"
        "# FLJOB: the fljob command (default: fljob); WORKSPACE: its state folder.\n"
        'KIT="$(cd "$(dirname "$0")" && pwd)"\n'
        'WORKSPACE="${WORKSPACE:-$KIT/workspace}"\n'
        'FLJOB="${FLJOB:-fljob}"\n'
        f'exec {line} "$@"\n'
    )
    write_text_file(kit / "start.sh", text, 0o755)


def _write_json(path: Path, data: Any) -> None:
    write_text_file(path, json.dumps(data, indent=2, sort_keys=True) + "\n", 0o644)
