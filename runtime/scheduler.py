"""Job scheduling: when may a queued job start, on which sites, and can it ever start?

A job's meta says which sites it wants (``deploy_map``), how many must take part
(``min_clients``), which must (``mandatory_clients``) and what each site must provide
(``resource_spec``, e.g. ``{"site-1": {"num_of_gpus": 2, "mem_per_gpu_in_GiB": 8}}``).
Each site declares its resources (provisioned in its kit, or its own site policy).

Resource values: a number is a quantity, held by a running job and given back when it
ends; a string or boolean must equal what the site declares (``gpu_type: a100``).

:func:`plan_job` decides, for one job and the sites as they are now:

- ``ready``: start on ``sites`` now;
- ``waiting``: not now (a site offline, resources held by other jobs); ``reasons`` say why;
- ``impossible``: never (an unknown mandatory site, a site declaring less than asked).

With ``closed_world=True`` (a provisioned project: every site is known, online or not)
impossibility is judged against all known sites; otherwise only against sites seen.

>>> request = JobRequest.from_meta({"deploy_map": {"app": ["@ALL"]},
...     "mandatory_clients": ["site-3"], "resource_spec": {"site-3": {"num_of_gpus": 2}}})
>>> sites = {"site-3": SiteState("site-3", online=True, declared={"num_of_gpus": 1})}
>>> plan_job(request, sites, closed_world=True).reasons[0]
'site-3 declares 1 num_of_gpus, the job asks 2'
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from fljob.errors import Diagnostic, DiagnosticError

SERVER = "server"
ALL = "@all"
Status = Literal["ready", "waiting", "impossible"]


class ResourceSpecError(DiagnosticError, ValueError):
    """A job's resource_spec, min_clients or mandatory_clients is malformed."""

    code = "FLJ717"


@dataclass(frozen=True)
class JobRequest:
    """What a job asks of the federation (parsed from its meta)."""

    targets: tuple[str, ...]  #: sites named in the deploy map (server excluded)
    all_sites: bool  #: the deploy map has ``@ALL``
    min_clients: int = 1
    mandatory: tuple[str, ...] = ()
    resources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any], *, file: str = "meta.json") -> JobRequest:
        """Parse and check the scheduling keys of a job's meta (every problem at once)."""
        problems: list[Diagnostic] = []

        def bad(message: str, key_path: str) -> None:
            problems.append(Diagnostic("FLJ717", message, file=file, key_path=key_path))

        targets, all_sites = _targets(meta.get("deploy_map"))
        min_clients = meta.get("min_clients", 1)
        if min_clients is None:
            min_clients = 1
        if not isinstance(min_clients, int) or isinstance(min_clients, bool) or min_clients < 1:
            bad(f"min_clients must be an integer >= 1, not {min_clients!r}", "min_clients")
            min_clients = 1
        mandatory = meta.get("mandatory_clients") or []
        if not isinstance(mandatory, list) or not all(isinstance(m, str) for m in mandatory):
            bad("mandatory_clients must be a list of site names", "mandatory_clients")
            mandatory = []
        resources = _parse_resources(meta.get("resource_spec"), bad)
        if problems:
            raise ResourceSpecError(problems)
        return cls(tuple(targets), all_sites, min_clients, tuple(mandatory), resources)

    def asks(self, site: str) -> Mapping[str, Any]:
        return self.resources.get(site, {})


@dataclass(frozen=True)
class SiteState:
    """A site as the scheduler sees it now."""

    name: str
    online: bool
    declared: Mapping[str, Any] = field(default_factory=dict)
    in_use: Mapping[str, float] = field(default_factory=dict)  #: held by running jobs


@dataclass(frozen=True)
class Plan:
    status: Status
    sites: tuple[str, ...] = ()  #: where to run it (``ready`` only)
    reasons: tuple[str, ...] = ()  #: why it waits, or why it never can run

    @property
    def summary(self) -> str:
        return "; ".join(self.reasons)


def _targets(deploy_map: Any) -> tuple[list[str], bool]:
    names: list[str] = []
    all_sites = False
    if isinstance(deploy_map, Mapping):
        for sites in deploy_map.values():
            for site in sites or []:
                site = str(site)
                if site.lower() == ALL:
                    all_sites = True
                elif site != SERVER and site not in names:
                    names.append(site)
    return sorted(names), all_sites


def _parse_resources(spec: Any, bad: Any) -> dict[str, dict[str, Any]]:
    if spec is None:
        return {}
    if not isinstance(spec, Mapping):
        bad("resource_spec must map site names to {resource: amount}", "resource_spec")
        return {}
    out: dict[str, dict[str, Any]] = {}
    for site, asks in spec.items():
        if not isinstance(asks, Mapping):
            bad("expected {resource: amount}", f"resource_spec.{site}")
            continue
        out[str(site)] = {}
        for key, value in asks.items():
            if isinstance(value, bool | str) or (_is_number(value) and value >= 0):
                out[str(site)][str(key)] = value
            else:
                bad(
                    f"{key} must be a number >= 0, a string or a boolean, not {value!r}",
                    f"resource_spec.{site}.{key}",
                )
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# ----------------------------------------------------------------------------- matching
def never_fits(site: str, asks: Mapping[str, Any], declared: Mapping[str, Any]) -> list[str]:
    """Why ``site`` can never give ``asks``, whatever else runs (empty when it can)."""
    reasons = []
    for key, want in sorted(asks.items()):
        have = declared.get(key)
        if have is None:
            reasons.append(f"{site} declares no {key}, the job asks {want!r}")
        elif _is_number(want):
            if not _is_number(have):
                reasons.append(f"{site} declares {key}={have!r}, not a number; the job asks {want}")
            elif want > have:
                reasons.append(f"{site} declares {_n(have)} {key}, the job asks {_n(want)}")
        elif want != have:
            reasons.append(f"{site} declares {key}={have!r}, the job asks {want!r}")
    return reasons


def busy(site: str, asks: Mapping[str, Any], state: SiteState) -> list[str]:
    """Why ``site`` cannot give ``asks`` now, because running jobs hold resources."""
    reasons = []
    for key, want in sorted(asks.items()):
        if not _is_number(want):
            continue
        total, used = state.declared.get(key, 0), state.in_use.get(key, 0)
        if _is_number(total) and used + want > total:
            reasons.append(
                f"{site} busy: {_n(used)} of {_n(total)} {key} in use, the job asks {_n(want)}"
            )
    return reasons


def _n(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# ----------------------------------------------------------------------------- planning
def plan_job(request: JobRequest, sites: Mapping[str, SiteState], *, closed_world: bool) -> Plan:
    """Ready, waiting or impossible, for ``request`` given ``sites`` (see module doc)."""
    never = impossible_reasons(request, sites, closed_world=closed_world)
    if never:
        return Plan("impossible", reasons=tuple(never))
    candidates = _candidates(request, sites)
    ready: list[str] = []
    waiting: list[str] = []
    for name in candidates:
        state = sites.get(name)
        if state is None or not state.online:
            waiting.append(f"{name} offline")
            continue
        problems = never_fits(name, request.asks(name), state.declared)
        problems = problems or busy(name, request.asks(name), state)
        if problems:
            waiting.extend(problems)
        else:
            ready.append(name)
    missing = [m for m in request.mandatory if m not in ready]
    if len(ready) >= request.min_clients and not missing:
        return Plan("ready", sites=tuple(ready))
    reasons = []
    if missing:
        reasons.append(f"waiting for mandatory site(s) {', '.join(missing)}")
    if len(ready) < request.min_clients:
        reasons.append(
            f"{len(ready)} of min_clients {request.min_clients} site(s) available"
            + (f" ({', '.join(ready)})" if ready else "")
        )
    if not candidates:
        reasons.append("no site is connected")
    return Plan("waiting", reasons=tuple(reasons + waiting))


def _candidates(request: JobRequest, sites: Mapping[str, SiteState]) -> list[str]:
    names = set(request.targets)
    if request.all_sites:
        names.update(sites)
    return sorted(names)


def impossible_reasons(
    request: JobRequest, sites: Mapping[str, SiteState], *, closed_world: bool
) -> list[str]:
    """Why ``request`` can never be scheduled (empty when it may be, some day)."""
    reasons: list[str] = []
    if not request.targets and not request.all_sites:
        return ["the deploy_map deploys the job to no site"]
    for name in request.mandatory:
        if name not in request.targets and not request.all_sites:
            reasons.append(f"mandatory client {name} is not in the job's deploy_map")
        elif closed_world and name not in sites:
            reasons.append(f"mandatory client {name} is not a site of this project")
    if closed_world:
        for name in request.targets:
            if name not in sites:
                reasons.append(f"{name} is not a site of this project")
    possible: list[str] = []
    excluded: list[str] = []
    for name in _candidates(request, sites):
        state = sites.get(name)
        if state is None:  # never seen: in an open world it may still come
            if not closed_world:
                possible.append(name)
            continue
        problems = never_fits(name, request.asks(name), state.declared)
        if name in request.mandatory:
            reasons.extend(problems)
        excluded.extend(problems)
        if not problems:
            possible.append(name)
    if len(possible) < request.min_clients and (closed_world or not request.all_sites):
        reasons.append(
            f"min_clients is {request.min_clients} but only {len(possible)} site(s) "
            f"could ever run the job" + (f" ({', '.join(possible)})" if possible else "")
        )
        reasons.extend(excluded)
    return list(dict.fromkeys(reasons))


# ----------------------------------------------------------------------------- ledger
class ResourceLedger:
    """The numeric resources running jobs hold, per site (thread-safe)."""

    def __init__(self) -> None:
        self._held: dict[str, dict[str, dict[str, float]]] = {}  # job -> site -> key -> n
        self._lock = threading.Lock()

    def reserve(self, job_id: str, request: JobRequest, sites: Iterable[str]) -> None:
        held = {
            site: {k: float(v) for k, v in request.asks(site).items() if _is_number(v)}
            for site in sites
        }
        with self._lock:
            self._held[job_id] = {site: keys for site, keys in held.items() if keys}

    def release(self, job_id: str) -> None:
        with self._lock:
            self._held.pop(job_id, None)

    def in_use(self, site: str) -> dict[str, float]:
        total: dict[str, float] = {}
        with self._lock:
            for per_site in self._held.values():
                for key, amount in per_site.get(site, {}).items():
                    total[key] = total.get(key, 0.0) + amount
        return total
