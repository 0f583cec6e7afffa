"""A participant's own policy: which jobs it accepts, how it checks them, what it has.

A site (or the server) keeps it in its startup kit as ``site_policy.yml`` (the server:
``server_policy.yml``; ``.yaml`` and ``.json`` work too)::

    accept:                        # whose jobs this site runs (absent: everyone's)
      roles: [project_admin, lead] #   submitter roles
      orgs: [hospital-a]           #   submitter organisations
      submitters: [amy@a.org]      #   submitter names
    safety_policy: safety.yml      # its own fljob.safety policy (relative to this file,
                                   # or inline); absent: the built-in default
    checkers: ["my_pkg.checks:no_big_models"]   # extra fljob.safety checkers
    resources: {num_of_gpus: 2}    # what this site declares (absent: the provisioned ones)
    plugins:                       # event plug-ins that may veto a job
      - my_pkg.plugins:office_hours            # every event
      - {path: my_pkg.plugins.MaxRounds, events: [build_component], args: {limit: 50}}

Events: ``submit`` (on the server, when an admin submits), ``deploy`` (on a site, before
the job is deployed), ``build_component`` (on a site, before each component is built).
A plug-in is a function or a class (instantiated with ``args``) called with a
:class:`JobEvent`; it accepts by returning ``None`` (or ``True``) and vetoes by returning
a reason string (or ``False``) or by raising :class:`JobVetoedError`. A plug-in that
crashes vetoes too: an unchecked job is not trusted. Every veto raises
:class:`JobVetoedError` whose message names the participant, the event, the plug-in
and the reason, and travels back to the submitter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fljob.errors import Diagnostic, DiagnosticError, FljobError
from fljob.runtime.authz import ROLES, read_data_file

SUBMIT, DEPLOY, BUILD = "submit", "deploy", "build_component"
EVENTS = (SUBMIT, DEPLOY, BUILD)
_KEYS = ("accept", "safety_policy", "checkers", "resources", "plugins")
_ACCEPT_KEYS = ("roles", "orgs", "submitters")
_PLUGIN_KEYS = ("path", "events", "args")
_SUFFIXES = (".yml", ".yaml", ".json")


class SitePolicyError(DiagnosticError, ValueError):
    """A site policy file is malformed (every problem listed)."""

    code = "FLJ714"


class JobVetoedError(FljobError):
    """A participant's policy or plug-in refused a job; the message says who and why."""

    code = "FLJ715"


@dataclass(frozen=True, slots=True)
class Submitter:
    """Who submitted the job (from the server's roster); unknown parts are ``""``."""

    name: str
    org: str = ""
    role: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "org": self.org, "role": self.role}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Submitter:
        data = data or {}
        return cls(str(data.get("name", "")), str(data.get("org", "")), str(data.get("role", "")))


@dataclass(frozen=True)
class JobEvent:
    """What a plug-in is told. ``component`` is set for ``build_component`` events:
    ``{"config", "key_path", "id", "path", "args"}``."""

    kind: str
    participant: str
    job_id: str
    job_name: str
    meta: Mapping[str, Any]
    submitter: Submitter
    component: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class PluginSpec:
    path: str
    events: tuple[str, ...] = EVENTS
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AcceptRule:
    """``None`` means any; a tuple lists what is accepted."""

    roles: tuple[str, ...] | None = None
    orgs: tuple[str, ...] | None = None
    submitters: tuple[str, ...] | None = None

    def refusal(self, who: Submitter) -> str | None:
        """Why a job of ``who`` is refused, or None when accepted."""
        for label, allowed, value in (
            ("roles", self.roles, who.role),
            ("organisations", self.orgs, who.org),
            ("submitters", self.submitters, who.name),
        ):
            if allowed is not None and value not in allowed:
                return (
                    f"it accepts jobs from {label} {', '.join(allowed) or '(none)'} only; "
                    f"the submitter {who.name!r} is {label[:-1]} {value or '(unknown)'!r}"
                )
        return None


@dataclass(frozen=True)
class SitePolicy:
    accept: AcceptRule = AcceptRule()
    safety: Any = None  #: a fljob.safety.SafetyPolicy; None: the built-in default
    checkers: tuple[str, ...] = ()
    resources: Mapping[str, Any] | None = None
    plugins: tuple[PluginSpec, ...] = ()
    source: str = "built-in"

    def safety_policy(self, fallback: Any = None) -> Any:
        """The safe-component policy this participant enforces, its checkers added: its
        own ``safety_policy``, else ``fallback`` (e.g. ``fljob site --policy FILE``),
        else the built-in default."""
        from fljob.safety import default_policy

        base = self.safety or fallback or default_policy()
        if not self.checkers:
            return base
        return dataclasses.replace(base, checkers=(*base.checkers, *self.checkers))

    def check(self, event: JobEvent) -> None:
        """Raise :class:`JobVetoedError` when this policy refuses ``event``'s job."""
        reasons = self.reasons(event)
        if reasons:
            raise JobVetoedError(_veto_message(event, reasons), path=self.source, hint=self._hint())

    def reasons(self, event: JobEvent) -> list[str]:
        """Every reason to refuse ``event`` (the accept rule, then each plug-in)."""
        reasons = []
        if event.kind in (SUBMIT, DEPLOY):
            refusal = self.accept.refusal(event.submitter)
            if refusal:
                reasons.append(refusal)
        for spec in self.plugins:
            if event.kind in spec.events:
                reason = run_plugin(spec, event)
                if reason:
                    reasons.append(f"{reason} (plug-in {spec.path})")
        return reasons

    def check_components(self, base: JobEvent, configs: Mapping[str, Mapping[str, Any]]) -> None:
        """Fire ``build_component`` for every component of ``configs`` before any is
        built; raise once, listing every veto."""
        if not any(BUILD in p.events for p in self.plugins):
            return
        from fljob.safety import iter_components
        from fljob.safety.walk import format_key_path

        reasons = []
        for config_key, config in configs.items():
            for ref in iter_components(config):
                component = {
                    "config": config_key,
                    "key_path": format_key_path(ref.key_path),
                    "id": ref.component_id,
                    "path": ref.class_path,
                    "args": ref.args or {},
                }
                event = dataclasses.replace(base, kind=BUILD, component=component)
                where = f"{component['path']} at {config_key} {component['key_path']}"
                reasons += [f"{where}: {r}" for r in self.reasons(event)]
        if reasons:
            event = dataclasses.replace(base, kind=BUILD)
            raise JobVetoedError(_veto_message(event, reasons), path=self.source, hint=self._hint())

    def _hint(self) -> str:
        return "the participant's own policy decides; ask its operators"

    def component_hook(self, base: JobEvent) -> Callable[[str, Mapping[str, Any]], None]:
        """A callback ``(config_key, config)`` for ``deploy(before_build=...)``."""
        return lambda key, config: self.check_components(base, {key: config})


def _veto_message(event: JobEvent, reasons: Sequence[str]) -> str:
    when = {SUBMIT: "at submission", DEPLOY: "at deployment", BUILD: "before building it"}
    head = f"{event.participant} refused job {event.job_name!r} {when.get(event.kind, '')}"
    if len(reasons) == 1:
        return f"{head}: {reasons[0]}"
    return head + ":\n" + "\n".join(f"  - {r}" for r in reasons)


# ----------------------------------------------------------------------------- plug-ins
def load_plugin(spec: PluginSpec) -> Callable[[JobEvent], Any]:
    """Import a plug-in and bind its ``args`` (ImportError/TypeError when it cannot)."""
    from fljob.safety import load_checker

    target = load_checker(spec.path)
    if isinstance(target, type):
        instance = target(**spec.args)
        handler = getattr(instance, "handle_event", instance)
        if not callable(handler):
            raise TypeError(f"{spec.path} instances are not callable and have no handle_event")
        return handler
    if spec.args:
        args = dict(spec.args)
        return lambda event: target(event, **args)
    return target


def run_plugin(spec: PluginSpec, event: JobEvent) -> str | None:
    """The plug-in's veto reason, or None when it accepts."""
    try:
        result = load_plugin(spec)(event)
    except JobVetoedError as exc:
        return exc.message
    except Exception as exc:  # fail closed: a broken plug-in must not wave jobs through
        return f"the plug-in failed ({type(exc).__name__}: {exc}), so the job is refused"
    if result is None or result is True:
        return None
    if result is False:
        return "refused"
    return str(result)


# ----------------------------------------------------------------------------- loading
def policy_from_dict(
    data: Any, *, source: str = "<dict>", base_dir: Path | None = None, load_plugins: bool = True
) -> SitePolicy:
    """Build a policy from parsed JSON/YAML, every problem in one :class:`SitePolicyError`.

    ``load_plugins`` imports each plug-in and checker now, so a typo fails at start-up
    rather than on the first job.
    """
    problems: list[Diagnostic] = []

    def bad(message: str, key_path: str | None = None, hint: str | None = None) -> None:
        problems.append(Diagnostic("FLJ714", message, file=source, key_path=key_path, hint=hint))

    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        bad("a site policy must be an object")
        raise SitePolicyError(problems)
    for key in data:
        if key not in _KEYS:
            bad(f"unknown key {key!r}", str(key), f"keys: {', '.join(_KEYS)}")
    accept = _accept(data.get("accept"), bad)
    checkers = _strings(data.get("checkers"), "checkers", bad)
    plugins = _plugins(data.get("plugins"), bad)
    resources = data.get("resources")
    if resources is not None and not isinstance(resources, Mapping):
        bad("resources must map names to amounts", "resources")
        resources = None
    safety = _safety(data.get("safety_policy"), base_dir, bad)
    if load_plugins and not problems:
        _try_imports(plugins, checkers, bad)
    if problems:
        raise SitePolicyError(problems)
    return SitePolicy(accept, safety, checkers, resources, plugins, source)


def _strings(value: Any, key: str, bad: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        bad(f"{key} must be a list of strings", key)
        return ()
    return tuple(value)


def _accept(value: Any, bad: Any) -> AcceptRule:
    if value is None:
        return AcceptRule()
    if not isinstance(value, Mapping):
        bad("accept must be an object", "accept", f"keys: {', '.join(_ACCEPT_KEYS)}")
        return AcceptRule()
    for key in value:
        if key not in _ACCEPT_KEYS:
            bad(f"unknown key {key!r}", f"accept.{key}", f"keys: {', '.join(_ACCEPT_KEYS)}")
    rule = {k: _strings(value[k], f"accept.{k}", bad) if k in value else None for k in _ACCEPT_KEYS}
    for role in rule["roles"] or ():
        if role not in ROLES:
            bad(f"unknown role {role!r}", "accept.roles", f"roles: {', '.join(ROLES)}")
    return AcceptRule(rule["roles"], rule["orgs"], rule["submitters"])


def _plugins(value: Any, bad: Any) -> tuple[PluginSpec, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        bad("plugins must be a list", "plugins")
        return ()
    out = []
    for i, item in enumerate(value):
        where = f"plugins[{i}]"
        if isinstance(item, str):
            out.append(PluginSpec(item))
            continue
        if not isinstance(item, Mapping) or not isinstance(item.get("path"), str):
            bad("a plug-in is a dotted path or {path, events, args}", where)
            continue
        for key in item:
            if key not in _PLUGIN_KEYS:
                bad(f"unknown key {key!r}", f"{where}.{key}", f"keys: {', '.join(_PLUGIN_KEYS)}")
        events = _strings(item.get("events"), f"{where}.events", bad) or EVENTS
        for event in events:
            if event not in EVENTS:
                bad(f"unknown event {event!r}", f"{where}.events", f"events: {', '.join(EVENTS)}")
        args = item.get("args") or {}
        if not isinstance(args, Mapping):
            bad("args must be an object", f"{where}.args")
            args = {}
        out.append(PluginSpec(item["path"], events, dict(args)))
    return tuple(out)


def _safety(value: Any, base_dir: Path | None, bad: Any) -> Any:
    if value is None:
        return None
    from fljob.safety import load_policy, policy_from_dict

    try:
        if isinstance(value, Mapping):
            return policy_from_dict(value, source="safety_policy")
        if isinstance(value, str):
            path = Path(value)
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            return load_policy(path)
    except FljobError as exc:
        bad(f"safety_policy: {exc.message}", "safety_policy", exc.hint)
        return None
    bad("safety_policy must be a file path or an inline policy object", "safety_policy")
    return None


def _try_imports(plugins: Sequence[PluginSpec], checkers: Sequence[str], bad: Any) -> None:
    from fljob.safety import load_checker

    for i, spec in enumerate(plugins):
        try:
            load_plugin(spec)
        except Exception as exc:
            bad(f"plug-in {spec.path} cannot be loaded: {exc}", f"plugins[{i}]")
    for i, dotted in enumerate(checkers):
        try:
            load_checker(dotted)
        except Exception as exc:
            bad(f"checker {dotted} cannot be loaded: {exc}", f"checkers[{i}]")


def find_policy_file(kit_dir: Path, base: str = "site_policy") -> Path | None:
    """``<kit>/<base>.yml|.yaml|.json``; two of them is an error (never guess)."""
    found = [
        Path(kit_dir) / f"{base}{s}" for s in _SUFFIXES if (Path(kit_dir) / f"{base}{s}").is_file()
    ]
    if len(found) > 1:
        raise SitePolicyError(
            [
                Diagnostic(
                    "FLJ714",
                    f"two policy files: {', '.join(p.name for p in found)}",
                    file=str(kit_dir),
                    hint="keep one",
                )
            ]
        )
    return found[0] if found else None


def load_site_policy(path: Path) -> SitePolicy:
    """Read a site (or server) policy file."""
    data = read_data_file(Path(path), "FLJ714", "site policy", SitePolicyError)
    return policy_from_dict(data, source=str(path), base_dir=Path(path).parent)


def policy_for_kit(kit_dir: Path, base: str = "site_policy") -> SitePolicy:
    """The policy in a startup kit, or the default (accept all, built-in safety policy)."""
    path = find_policy_file(kit_dir, base)
    return load_site_policy(path) if path is not None else SitePolicy()


# ----------------------------------------------------------------------------- site hooks
DEPLOY_INFO = "deploy.json"  #: what the server said about a job, next to its bundle.zip


def site_gate(
    kit_dir: Path,
    *,
    site: str,
    job_id: str,
    bundle_dir: Path,
    job_dir: Path,
    safety_fallback: Any = None,
) -> tuple[Any, Callable[[str, Mapping[str, Any]], None]]:
    """What a site's job process needs from its own policy (``kit/site_policy.*``) to
    deploy a job: the safe-component policy and the ``before_build`` hook of
    ``deploy()``. The hook runs once the bundle is verified and resolved: the ``deploy``
    event (accept rule, plug-ins), then ``build_component`` for each component; any veto
    raises :class:`JobVetoedError`. A malformed policy file raises here, at once."""
    import json

    policy = policy_for_kit(kit_dir)
    info_file = Path(job_dir) / DEPLOY_INFO
    info = json.loads(info_file.read_text(encoding="utf-8")) if info_file.is_file() else {}
    submitter = Submitter.from_dict(info.get("submitter"))

    def before_build(config_key: str, config: Mapping[str, Any]) -> None:
        meta = json.loads((Path(bundle_dir) / "meta.json").read_text(encoding="utf-8"))
        name = str(meta.get("name") or job_id)
        event = JobEvent(DEPLOY, site, job_id, name, meta, submitter)
        policy.check(event)
        policy.check_components(event, {config_key: config})

    return policy.safety_policy(safety_fallback), before_build


def write_deploy_info(job_dir: Path, headers: Mapping[str, Any]) -> None:
    """Keep what the server said about a job (its submitter) next to its bundle, for
    :func:`site_gate` in the job process."""
    import json

    info = {"submitter": headers.get("submitter")}
    (Path(job_dir) / DEPLOY_INFO).write_text(json.dumps(info) + "\n", encoding="utf-8")


def declared_resources(kit_dir: Path) -> dict[str, Any]:
    """The resources a site declares: its policy's ``resources``, else the provisioned
    ones in its kit's ``fljob.json``, else none."""
    policy = policy_for_kit(kit_dir)
    if policy.resources is not None:
        return dict(policy.resources)
    from fljob.runtime.provision import KitError, read_kit

    try:
        return dict(read_kit(kit_dir).resources)
    except KitError:
        return {}
