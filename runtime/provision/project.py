"""The provisioning project file: what a federation is made of.

::

    name: demo                        # project name (the CA is "<name> CA")
    server:
      host: fl.example.org            # where sites and admins connect (in the cert SANs)
      port: 8002
      listen: 0.0.0.0                 # optional; default: host when it is an IP, else 0.0.0.0
      org: demo                       # optional; default: the project name
      authorization: {roles: {...}}   # optional; default: fljob.runtime.authz's policy
      policy: {plugins: [...]}        # optional server policy (submission plug-ins)
    sites:
      - name: site-1
        org: hospital-a
        resources: {num_of_gpus: 2, mem_per_gpu_in_GiB: 16}
        policy: {accept: {roles: [lead]}}      # optional: seeds the site's own policy
    admins:
      - {name: admin@a.org, org: hospital-a, role: project_admin}

:func:`parse_project` checks it all and raises one :class:`ProjectFileError` listing
every problem with file, line, column and key path. The runtime never imports the
compiler's loaders, so callers that have source positions pass a ``locate`` callback
(``fljob provision`` passes the loaded document's spans).
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fljob.errors import Diagnostic, DiagnosticError
from fljob.runtime.authz import ROLES
from fljob.safety.walk import KeyPath, format_key_path

#: ``locate(key_path) -> (line, col)`` of a value in the project file, or None
Locate = Callable[[KeyPath], tuple[int, int] | None]

_NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@")
_RESERVED = ("ca", "server", ".", "..")
_TOP_KEYS = ("name", "description", "server", "sites", "admins")
_SERVER_KEYS = ("host", "port", "listen", "org", "authorization", "policy")
SERVER_NAME = "server"  #: the server's participant name: sites verify its certificate by it
_SITE_KEYS = ("name", "org", "resources", "policy")
_ADMIN_KEYS = ("name", "org", "role")


class ProjectFileError(DiagnosticError, ValueError):
    """The project file is invalid; every problem is listed."""

    code = "FLJ710"


@dataclass(frozen=True)
class ServerSpec:
    name: str
    host: str
    port: int
    listen: str
    org: str
    authorization: Mapping[str, Any] | None = None  #: a policy dict, None = default
    policy: Mapping[str, Any] | None = None  #: the server's participant policy


@dataclass(frozen=True)
class SiteSpec:
    name: str
    org: str
    resources: Mapping[str, Any] = field(default_factory=dict)
    policy: Mapping[str, Any] | None = None  #: seeds the site's own policy file


@dataclass(frozen=True)
class AdminSpec:
    name: str
    org: str
    role: str


@dataclass(frozen=True)
class Project:
    name: str
    server: ServerSpec
    sites: tuple[SiteSpec, ...]
    admins: tuple[AdminSpec, ...]
    source: str = "<project>"

    @property
    def address(self) -> str:
        """``host:port`` sites and admins connect to."""
        return f"{self.server.host}:{self.server.port}"

    def participants(self) -> list[str]:
        return [self.server.name, *(s.name for s in self.sites), *(a.name for a in self.admins)]


class _Checker:
    """Collects located diagnostics while the project is read."""

    def __init__(self, file: str, locate: Locate | None) -> None:
        self.file = file
        self.locate = locate or (lambda path: None)
        self.problems: list[Diagnostic] = []

    def bad(
        self, path: KeyPath, message: str, hint: str | None = None, *, key_path: str | None = None
    ) -> None:
        where = self.locate(path)
        self.problems.append(
            Diagnostic(
                "FLJ710",
                message,
                file=self.file,
                line=where[0] if where else None,
                col=where[1] if where else None,
                key_path=key_path or (format_key_path(path) if path else None),
                hint=hint,
            )
        )

    def mapping(self, value: Any, path: KeyPath, keys: tuple[str, ...]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.bad(path, f"expected an object, found {_kind(value)}")
            return {}
        for key in value:
            if key not in keys:
                close = difflib.get_close_matches(str(key), keys, 1)
                hint = f"did you mean '{close[0]}'?" if close else f"keys: {', '.join(keys)}"
                self.bad((*path, key), f"unknown key {key!r}", hint)
        return value

    def text(self, data: Mapping[str, Any], key: str, path: KeyPath, default: Any = None) -> str:
        value = data.get(key, default)
        if value is None:
            self.bad(path, f"missing required key {key!r}")
            return ""
        if not isinstance(value, str) or not value.strip():
            self.bad((*path, key), f"{key} must be a non-empty string, found {_kind(value)}")
            return ""
        return value

    def name(self, data: Mapping[str, Any], path: KeyPath, what: str) -> str:
        name = self.text(data, "name", path)
        if name and (not set(name) <= _NAME_OK or name in _RESERVED):
            self.bad(
                (*path, "name"),
                f"{what} name {name!r} cannot name a participant",
                "use letters, digits and - _ . @ (e.g. site-1, admin@org.com); "
                "'ca' and 'server' are reserved",
            )
        return name


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, Mapping) else type(value).__name__


def parse_project(data: Any, *, file: str = "project.yml", locate: Locate | None = None) -> Project:
    """Check a parsed project file and return its model (``ProjectFileError`` otherwise).

    >>> parse_project({"name": "demo", "server": {"host": "127.0.0.1", "port": 8002},
    ...                "sites": [{"name": "site-1", "org": "a"}], "admins": []}).address
    '127.0.0.1:8002'
    """
    check = _Checker(file, locate)
    if isinstance(data, Mapping) and "participants" in data:
        return _parse_flare(check, data, file)
    top = check.mapping(data, (), _TOP_KEYS)
    name = check.text(top, "name", ()) if top else ""
    server = _server(check, top.get("server"), project=name) if top else None
    sites = _list(check, top, "sites", _site) if top else []
    admins = _list(check, top, "admins", _admin) if top else []
    _unique(check, server, sites, admins)
    if check.problems:
        raise ProjectFileError(check.problems, message=f"{file}: invalid project file")
    assert server is not None
    return Project(
        name, server, tuple(s for _, s in sites), tuple(a for _, a in admins), source=file
    )


def _server(check: _Checker, value: Any, *, project: str) -> ServerSpec | None:
    path: KeyPath = ("server",)
    if value is None:
        check.bad((), "missing required key 'server'", "server: {host: HOST, port: PORT}")
        return None
    data = check.mapping(value, path, _SERVER_KEYS)
    host = check.text(data, "host", path)
    port = data.get("port")
    if port is None:
        check.bad(path, "missing required key 'port'")
    elif not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        check.bad((*path, "port"), f"port must be an integer 1-65535, found {port!r}")
    listen = data.get("listen") or _default_listen(host)
    if not isinstance(listen, str):
        check.bad((*path, "listen"), "listen must be a host name or IP address")
    org = data.get("org", project) or project
    _policy_block(check, data.get("authorization"), (*path, "authorization"), "authorization")
    _policy_block(check, data.get("policy"), (*path, "policy"), "server")
    return ServerSpec(
        SERVER_NAME,
        host,
        port if isinstance(port, int) else 0,
        str(listen),
        str(org),
        data.get("authorization"),
        data.get("policy"),
    )


def _default_listen(host: str) -> str:
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        return "127.0.0.1" if host == "localhost" else "0.0.0.0"


def _list(check: _Checker, top: Mapping[str, Any], key: str, item: Any) -> list[tuple[int, Any]]:
    """``(index in the file, spec)`` for every entry that is an object."""
    value = top.get(key, [])
    if not isinstance(value, list):
        check.bad((key,), f"{key} must be a list, found {_kind(value)}")
        return []
    return [(i, spec) for i, entry in enumerate(value) if (spec := item(check, entry, (key, i)))]


def _site(check: _Checker, value: Any, path: KeyPath) -> SiteSpec | None:
    data = check.mapping(value, path, _SITE_KEYS)
    if not data:
        return None
    name = check.name(data, path, "site")
    org = check.text(data, "org", path)
    resources = data.get("resources") or {}
    if not isinstance(resources, Mapping):
        check.bad((*path, "resources"), "resources must map names to amounts")
        resources = {}
    for key, amount in resources.items():
        number = isinstance(amount, int | float) and not isinstance(amount, bool)
        if not (isinstance(amount, str | bool) or (number and amount >= 0)):
            check.bad(
                (*path, "resources", key),
                f"a resource must be a number >= 0, a string or a boolean, found {amount!r}",
            )
    _policy_block(check, data.get("policy"), (*path, "policy"), "site")
    return SiteSpec(name, org, dict(resources), data.get("policy"))


def _admin(
    check: _Checker, value: Any, path: KeyPath, keys: tuple[str, ...] = _ADMIN_KEYS
) -> AdminSpec | None:
    data = check.mapping(value, path, keys)
    if not data:
        return None
    name = check.name(data, path, "admin")
    org = check.text(data, "org", path)
    role = check.text(data, "role", path)
    if role and role not in ROLES:
        close = difflib.get_close_matches(role, ROLES, 1)
        check.bad(
            (*path, "role"),
            f"unknown admin role {role!r}",
            f"did you mean '{close[0]}'?" if close else f"roles: {', '.join(ROLES)}",
        )
    return AdminSpec(name, org, role)


def _policy_block(check: _Checker, value: Any, path: KeyPath, kind: str) -> None:
    """Check an inline authorization or participant policy with its own parser."""
    if value is None:
        return
    from fljob.runtime import authz, site_policy

    try:
        if kind == "authorization":
            authz.policy_from_dict(value, source=check.file)
        else:
            site_policy.policy_from_dict(value, source=check.file, load_plugins=False)
    except DiagnosticError as exc:
        for problem in exc.diagnostics():
            outer = format_key_path(path)
            inner = f"{outer}.{problem.key_path}" if problem.key_path else outer
            check.bad(path, problem.message, problem.hint, key_path=inner)


def _unique(
    check: _Checker,
    server: ServerSpec | None,
    sites: list[tuple[int, SiteSpec]],
    admins: list[tuple[int, AdminSpec]],
) -> None:
    seen: dict[str, KeyPath] = {}
    if server is not None:
        seen[server.name] = ("server", "name")
    for key, specs in (("sites", sites), ("admins", admins)):
        for i, spec in specs:
            path: KeyPath = (key, i, "name")
            if spec.name in seen:
                check.bad(
                    path,
                    f"{spec.name!r} is already a participant ({format_key_path(seen[spec.name])})",
                )
            else:
                seen[spec.name] = path


# ----------------------------------------------------------------------------- FLARE format
_FLARE_TOP = ("api_version", "name", "description", "participants", "builders")
#: participant keys of NVIDIA FLARE 2.4's project.yml; the ones fljob has no use for
#: (admin_port, host_names, ...) are accepted and ignored
_FLARE_KEYS = (
    "name",
    "type",
    "org",
    "role",
    "fed_learn_port",
    "admin_port",
    "host_names",
    "default_host",
    "listening_host",
    "enable_byoc",
    "components",
)
_FLARE_TYPES = ("server", "client", "admin")


def _parse_flare(check: _Checker, data: Mapping[str, Any], file: str) -> Project:
    """NVIDIA FLARE 2.4's ``project.yml`` (``participants`` of type server, client,
    admin): the server's name is its host, ``fed_learn_port`` its port; ``builders``
    are FLARE's kit layout and are ignored (fljob writes its own kits)."""
    top = check.mapping(data, (), _FLARE_TOP)
    name = check.text(top, "name", ())
    parts = top.get("participants")
    if not isinstance(parts, list):
        check.bad(("participants",), f"participants must be a list, found {_kind(parts)}")
        parts = []
    server: ServerSpec | None = None
    sites: list[tuple[int, SiteSpec]] = []
    admins: list[tuple[int, AdminSpec]] = []
    for i, entry in enumerate(parts):
        path: KeyPath = ("participants", i)
        kind = entry.get("type") if isinstance(entry, Mapping) else None
        if kind == "server" and server is not None:
            check.bad((*path, "type"), "a second server: fljob runs one server (no HA)")
        elif kind == "server":
            server = _flare_server(check, entry, path, name)
        elif kind == "client":
            site = check.mapping(entry, path, _FLARE_KEYS)
            sites.append(
                (i, SiteSpec(check.name(site, path, "site"), check.text(site, "org", path)))
            )
        elif kind == "admin":
            admin = _admin(check, entry, path, _FLARE_KEYS)
            if admin is not None:
                admins.append((i, admin))
        else:
            close = difflib.get_close_matches(str(kind), _FLARE_TYPES, 1)
            hint = f"did you mean '{close[0]}'?" if close else f"types: {', '.join(_FLARE_TYPES)}"
            if kind == "overseer":
                hint = "fljob has no overseer (one server, no HA); remove it"
            check.bad((*path, "type"), f"participant type {kind!r} is not supported", hint)
    if server is None and not check.problems:
        check.bad(("participants",), "no participant of type server")
    _unique(check, server, sites, admins)
    if check.problems:
        raise ProjectFileError(check.problems, message=f"{file}: invalid project file")
    assert server is not None
    return Project(
        name, server, tuple(s for _, s in sites), tuple(a for _, a in admins), source=file
    )


def _flare_server(check: _Checker, entry: Any, path: KeyPath, project: str) -> ServerSpec:
    data = check.mapping(entry, path, _FLARE_KEYS)
    host = check.text(data, "name", path)
    port = data.get("fed_learn_port", 8002)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        check.bad((*path, "fed_learn_port"), f"port must be an integer 1-65535, found {port!r}")
        port = 0
    org = data.get("org") or project
    return ServerSpec(SERVER_NAME, host, port, _default_listen(host), str(org))
