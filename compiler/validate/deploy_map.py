"""Meta rules: the deploy map, min_clients, mandatory_clients and resource_spec (FLJ31x).

Every finding at once. ``"@ALL"`` (any case) means the server and every client;
``"server"`` is the server; any other entry is a client site name.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fljob.compiler.document import Document
from fljob.compiler.model import CLIENT_CONFIG, SERVER_CONFIG, AppSpec
from fljob.errors import Diagnostic, Severity

SERVER_SITE = "server"
ALL_SITES = "@all"
W = Severity.WARNING


@dataclass
class _Map:
    """What the deploy map says, once read."""

    server_apps: list[str] = field(default_factory=list)
    client_apps: list[str] = field(default_factory=list)
    clients: dict[str, str] = field(default_factory=dict)  #: site -> first app
    has_all: bool = False


def check_meta(
    doc: Document, data: Mapping[str, Any], apps: Mapping[str, AppSpec]
) -> list[Diagnostic]:
    """Every deploy-map and meta finding of a job."""
    out: list[Diagnostic] = []
    deploy_map = data.get("deploy_map")
    if deploy_map is None or (isinstance(deploy_map, Mapping) and not any(deploy_map.values())):
        first = next(iter(apps), "app")
        out.append(
            doc.diagnostic(
                "FLJ310",
                "the deploy map deploys no app",
                ("deploy_map",) if deploy_map is not None else (),
                hint=f'deploy_map {{ {first} = ["@ALL"] }}',
            )
        )
        parsed = _Map(has_all=True)  # nothing else can be judged
    elif isinstance(deploy_map, Mapping):
        parsed = _read_map(doc, deploy_map, apps, out)
        _check_apps(doc, deploy_map, apps, parsed, out)
    else:
        return out  # wrong type: the schema reports it
    _check_min_clients(doc, data, parsed, out)
    _check_mandatory(doc, data, parsed, out)
    out.extend(_check_resource_spec(doc, data.get("resource_spec")))
    return out


def _read_map(
    doc: Document, deploy_map: Mapping[str, Any], apps: Mapping[str, AppSpec], out: list[Diagnostic]
) -> _Map:
    parsed = _Map()
    owner: dict[str, str] = {}
    for app, sites in deploy_map.items():
        if not isinstance(sites, list):
            continue
        names = [s for s in sites if isinstance(s, str)]
        if any(s.lower() == ALL_SITES for s in names):
            parsed.has_all = True
            parsed.server_apps.append(app)
            parsed.client_apps.append(app)
            if len(sites) > 1:
                out.append(
                    doc.diagnostic(
                        "FLJ311",
                        '"@ALL" must be alone in its list',
                        ("deploy_map", app),
                        hint=f'{app} = ["@ALL"]',
                    )
                )
            if len(deploy_map) > 1:
                out.append(
                    doc.diagnostic(
                        "FLJ311",
                        f'"@ALL" deploys {app} to every site, so no other app can be deployed',
                        ("deploy_map", app),
                        at_key=True,
                        hint="name the sites of each app instead of @ALL",
                    )
                )
            continue
        seen: set[str] = set()
        for i, site in enumerate(names):
            where = ("deploy_map", app, i)
            if site in seen:
                out.append(
                    doc.diagnostic("FLJ322", f"site '{site}' is listed twice", where, severity=W)
                )
                continue
            seen.add(site)
            if site in owner and owner[site] != app:
                out.append(
                    doc.diagnostic(
                        "FLJ313",
                        f"site '{site}' gets two apps: {owner[site]} and {app}",
                        where,
                        hint="each site runs one app; remove it from one of the lists",
                    )
                )
                continue
            owner[site] = app
            if site == SERVER_SITE:
                parsed.server_apps.append(app)
            else:
                parsed.clients[site] = app
                if app not in parsed.client_apps:
                    parsed.client_apps.append(app)
    return parsed


def _check_apps(
    doc: Document,
    deploy_map: Mapping[str, Any],
    apps: Mapping[str, AppSpec],
    parsed: _Map,
    out: list[Diagnostic],
) -> None:
    for app in deploy_map:
        if app not in apps:
            close = difflib.get_close_matches(app, list(apps), n=1, cutoff=0.5)
            hint = (
                f"did you mean '{close[0]}'?"
                if close
                else f"app folders: {', '.join(apps) or 'none'} (an app is a folder with config/)"
            )
            out.append(
                doc.diagnostic(
                    "FLJ314",
                    f"app '{app}' does not exist",
                    ("deploy_map", app),
                    hint=hint,
                    at_key=True,
                )
            )
    for app in dict.fromkeys(parsed.server_apps):
        if app in apps and SERVER_CONFIG not in apps[app].configs:
            out.append(
                doc.diagnostic(
                    "FLJ315",
                    f"app '{app}' is deployed to the server but has no {SERVER_CONFIG} config",
                    ("deploy_map", app),
                    at_key=True,
                    hint=f"add {app}/config/{SERVER_CONFIG}.conf, or deploy {app} to clients only",
                )
            )
    for app in parsed.client_apps:
        if app in apps and CLIENT_CONFIG not in apps[app].configs:
            out.append(
                doc.diagnostic(
                    "FLJ316",
                    f"app '{app}' is deployed to clients but has no {CLIENT_CONFIG} config",
                    ("deploy_map", app),
                    at_key=True,
                    hint=f"add {app}/config/{CLIENT_CONFIG}.conf, or deploy {app} to the "
                    "server only",
                )
            )
    if not parsed.server_apps:
        near = [s for s in parsed.clients if s.lower() == SERVER_SITE]
        hint = (
            f"the server is spelled 'server', not '{near[0]}'"
            if near
            else 'add "server" to the list of the app the server runs'
        )
        out.append(
            doc.diagnostic("FLJ312", "no app is deployed to the server", ("deploy_map",), hint=hint)
        )
    elif not parsed.client_apps:
        out.append(
            doc.diagnostic(
                "FLJ323", "no app is deployed to any client", ("deploy_map",), severity=W
            )
        )
    for app in apps:
        if app not in deploy_map:
            out.append(
                doc.diagnostic(
                    "FLJ321",
                    f"app folder '{app}' is not in the deploy map",
                    ("deploy_map",),
                    severity=W,
                )
            )


def _check_min_clients(
    doc: Document, data: Mapping[str, Any], parsed: _Map, out: list[Diagnostic]
) -> None:
    value = data.get("min_clients")
    if not isinstance(value, int) or isinstance(value, bool):
        return
    if value < 1:
        out.append(
            doc.diagnostic(
                "FLJ317", f"min_clients is {value}; it must be at least 1", ("min_clients",)
            )
        )
    elif not parsed.has_all and parsed.clients and value > len(parsed.clients):
        out.append(
            doc.diagnostic(
                "FLJ318",
                f"min_clients is {value} but the deploy map names "
                f"{len(parsed.clients)} client(s): {', '.join(parsed.clients)}",
                ("min_clients",),
                hint=f"min_clients = {len(parsed.clients)}, or deploy to more sites",
            )
        )


def _check_mandatory(
    doc: Document, data: Mapping[str, Any], parsed: _Map, out: list[Diagnostic]
) -> None:
    mandatory = data.get("mandatory_clients")
    if not isinstance(mandatory, list) or parsed.has_all:
        return
    for i, site in enumerate(mandatory):
        if isinstance(site, str) and site not in parsed.clients:
            close = difflib.get_close_matches(site, list(parsed.clients), n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else "add it to an app's list"
            out.append(
                doc.diagnostic(
                    "FLJ319",
                    f"mandatory client '{site}' gets no app",
                    ("mandatory_clients", i),
                    hint=hint,
                )
            )


def _check_resource_spec(doc: Document, spec: Any) -> list[Diagnostic]:
    if spec is None:
        return []
    hint = "resource_spec { site-1 { num_of_gpus = 1, mem_per_gpu_in_GiB = 1 } }"
    if not isinstance(spec, Mapping):
        return [
            doc.diagnostic(
                "FLJ320",
                "resource_spec must be an object of site name to resources",
                ("resource_spec",),
                hint=hint,
            )
        ]
    out = []
    for site, resources in spec.items():
        where = ("resource_spec", site)
        if not isinstance(resources, Mapping):
            out.append(
                doc.diagnostic(
                    "FLJ320", f"resources of '{site}' must be an object", where, hint=hint
                )
            )
            continue
        for name, value in resources.items():
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                out.append(
                    doc.diagnostic(
                        "FLJ320",
                        f"resource '{name}' of '{site}' must be a number or a string",
                        (*where, name),
                    )
                )
            elif isinstance(value, (int, float)) and value < 0:
                out.append(
                    doc.diagnostic(
                        "FLJ320",
                        f"resource '{name}' of '{site}' is negative ({value})",
                        (*where, name),
                    )
                )
    return out
