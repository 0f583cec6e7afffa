"""What the server consults before it acts for an admin or starts a job.

:class:`ServerAccess` joins four things the server's startup kit holds:

- the roster (``participants.json``): every site's organisation and declared resources,
  every admin's organisation and role, as provisioned;
- the authorization policy (``authorization.json``, :mod:`fljob.runtime.authz`);
- the server's own policy (``server_policy.*``, :mod:`fljob.runtime.site_policy`): its
  ``submit`` plug-ins;
- the scheduler (:mod:`fljob.runtime.scheduler`) with a ledger of held resources.

The caller's identity is its certificate's common name (verified by mutual TLS against
the project CA); its role and organisation come from the roster. A kit without a roster
(``fljob run``'s throwaway certificates) has one admin and no policy to enforce: every
admin certificate is then a ``project_admin``, sites are an open world, and the
resources a site declares are the ones it reports when it registers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fljob.errors import FljobError
from fljob.runtime.authz import (
    Admin,
    AuthorizationPolicy,
    JobOwner,
    NotAuthorizedError,
    Right,
    default_policy,
    load_policy,
)
from fljob.runtime.scheduler import JobRequest, Plan, ResourceLedger, SiteState, plan_job
from fljob.runtime.server import topics
from fljob.runtime.site_policy import SUBMIT, JobEvent, SitePolicy, Submitter, policy_for_kit

log = logging.getLogger("fljob.server")
AUTHORIZATION_FILES = ("authorization.json", "authorization.yml", "authorization.yaml")


class UnschedulableError(FljobError):
    """The job can never be scheduled; the message lists why."""

    code = "FLJ716"


@dataclass
class ServerAccess:
    roster: dict[str, Any] | None  #: ``{"sites": {...}, "admins": {...}}``; None: open
    authorization: AuthorizationPolicy = field(default_factory=default_policy)
    policy: SitePolicy = field(default_factory=SitePolicy)
    ledger: ResourceLedger = field(default_factory=ResourceLedger)
    reported: dict[str, dict[str, Any]] = field(default_factory=dict)  #: site -> resources
    _waiting: dict[str, str] = field(default_factory=dict)  #: job -> last reason shown
    _lock: threading.Lock = field(default_factory=threading.Lock)

    kit: Path | None = None  #: where the roster and policy files are re-read from
    _stamp: tuple[int, ...] = ()

    @classmethod
    def from_kit(cls, kit: Path) -> ServerAccess:
        """Read the server kit's roster, authorization policy and server policy.

        The roster and the authorization policy are read again when their files change,
        so re-provisioning (new sites, new admins) takes effect without a restart."""
        access = cls(None, policy=policy_for_kit(Path(kit), "server_policy"), kit=Path(kit))
        access.refresh()
        return access

    def refresh(self) -> None:
        """Re-read the roster and authorization files if they changed (a stat each)."""
        from fljob.errors import DiagnosticError
        from fljob.runtime.provision import read_roster

        if self.kit is None:
            return
        files = [self.kit / "participants.json", *(self.kit / n for n in AUTHORIZATION_FILES)]
        stamp = tuple(f.stat().st_mtime_ns if f.is_file() else 0 for f in files)
        if stamp == self._stamp:
            return
        found = [f for f in files[1:] if f.is_file()]
        if len(found) > 1:
            raise FljobError(
                f"two authorization policies: {', '.join(f.name for f in found)}",
                path=str(self.kit),
                hint="keep one",
            )
        try:
            roster = read_roster(self.kit)
            authorization = load_policy(found[0]) if found else default_policy()
        except (FljobError, DiagnosticError):
            if not self._stamp:
                raise  # at start-up: refuse to run with a broken file
            log.exception("keeping the previous roster and authorization policy")
            return
        self.roster, self.authorization, self._stamp = roster, authorization, stamp

    # ----- who is calling -----

    def admin(self, name: str) -> Admin:
        self.refresh()
        if self.roster is None:
            return Admin(name, "", "project_admin")
        entry = self.roster["admins"].get(name)
        if entry is None:
            return Admin(name, "", "")
        return Admin(name, str(entry.get("org", "")), str(entry.get("role", "")))

    def submitter(self, name: str) -> Submitter:
        admin = self.admin(name)
        return Submitter(name, admin.org, admin.role)

    def owner(self, record: Any) -> JobOwner:
        return JobOwner(record.submitter, self.admin(record.submitter).org)

    def authorize(self, name: str, right: Right, record: Any = None) -> None:
        """Raise ``NotAuthorizedError`` unless admin ``name`` may use ``right``."""
        admin = self.admin(name)
        if self.roster is not None and not admin.role:
            raise NotAuthorizedError(
                f"not authorized: {name!r} is not an admin of this project",
                hint="provision the admin (fljob provision) so the server's roster lists it",
            )
        self.authorization.check(admin, right, self.owner(record) if record else None)

    def visible(
        self, name: str, records: Iterable[Any], submitter: Callable[[Any], str] | None = None
    ) -> list[Any]:
        """The jobs admin ``name`` may see in a listing (``submitter(job)`` names who
        submitted each; default: its ``.submitter``)."""
        self.authorize(name, Right.LIST)
        who = submitter or (lambda record: str(record.submitter))

        def owner(record: Any) -> JobOwner:
            return JobOwner(who(record), self.admin(who(record)).org)

        return self.authorization.visible(self.admin(name), records, owner)

    # ----- jobs -----

    def check_submission(self, record: Any) -> None:
        """The server's ``submit`` plug-ins, then can-it-ever-run (raises)."""
        event = JobEvent(
            SUBMIT,
            "server",
            record.job_id,
            record.name,
            record.meta,
            self.submitter(record.submitter),
        )
        self.policy.check(event)
        plan = self.plan(record, alive=[])
        if plan.status == "impossible":
            raise UnschedulableError(
                f"job {record.name!r} can never be scheduled: {plan.summary}",
                hint="change the job's resource_spec, deploy_map or min_clients/"
                "mandatory_clients, or the sites' declared resources",
            )

    def site_states(self, alive: Iterable[str]) -> dict[str, SiteState]:
        self.refresh()
        online = set(alive)
        names = set(online) | set(self.reported)
        if self.roster is not None:
            names |= set(self.roster["sites"])
        states = {}
        for name in sorted(names):
            declared = self.reported.get(name)
            if declared is None and self.roster is not None:
                declared = self.roster["sites"].get(name, {}).get("resources", {})
            states[name] = SiteState(name, name in online, declared or {}, self.ledger.in_use(name))
        return states

    def plan(self, record: Any, alive: Iterable[str]) -> Plan:
        request = JobRequest.from_meta(record.meta)
        return plan_job(request, self.site_states(alive), closed_world=self.roster is not None)

    def waiting_changed(self, job_id: str, plan: Plan) -> bool:
        """True once per new waiting reason (so the job's events do not repeat it)."""
        with self._lock:
            if self._waiting.get(job_id) == plan.summary:
                return False
            self._waiting[job_id] = plan.summary
            return True

    def started(self, record: Any, sites: Iterable[str]) -> None:
        self.ledger.reserve(record.job_id, JobRequest.from_meta(record.meta), list(sites))
        with self._lock:
            self._waiting.pop(record.job_id, None)

    def ended(self, job_id: str) -> None:
        self.ledger.release(job_id)
        with self._lock:
            self._waiting.pop(job_id, None)

    def site_registered(self, name: str, resources: Mapping[str, Any] | None) -> None:
        if isinstance(resources, Mapping):
            self.reported[name] = dict(resources)


# ----------------------------------------------------------------------------- server hooks
_PER_JOB = {
    topics.ADMIN_STATUS: Right.STATUS,
    topics.ADMIN_ABORT: Right.ABORT,
    topics.ADMIN_DOWNLOAD: Right.DOWNLOAD,
    topics.ADMIN_LOGS: Right.LOGS,
}


def guard_handlers(access: ServerAccess, store: Any, handlers: Mapping[str, Any]) -> dict:
    """The server's admin handlers, each first authorized by ``access``; plus
    ``admin.clone``. Calls from non-admin certificates go straight to the handler, which
    refuses them by role."""
    out = dict(handlers)
    submit = handlers[topics.ADMIN_SUBMIT]

    def is_admin(ctx: Any) -> bool:
        return ctx.peer_role == "admin"

    def guarded_submit(ctx: Any, msg: Any) -> Any:
        if is_admin(ctx):
            access.authorize(ctx.peer, Right.SUBMIT)
            meta = _bundle_meta(msg.body)
            if meta is not None:  # else the store refuses the bundle, saying why
                access.check_submission(_Pending(str(ctx.peer), meta))
        return submit(ctx, msg)

    def guarded_list(ctx: Any, msg: Any) -> Any:
        reply = handlers[topics.ADMIN_LIST](ctx, msg)
        if is_admin(ctx):
            jobs = reply.headers.get("jobs", [])
            reply.headers["jobs"] = access.visible(ctx.peer, jobs, lambda j: j["submitter"])
        return reply

    def per_job(topic: str, right: Right) -> Any:
        inner = handlers[topic]

        def guarded(ctx: Any, msg: Any) -> Any:
            if is_admin(ctx):
                access.authorize(ctx.peer, right, store.get(str(msg.headers.get("job_id"))))
            return inner(ctx, msg)

        return guarded

    def clone(ctx: Any, msg: Any) -> Any:
        from fljob.runtime.transport import Message

        source = store.get(str(msg.headers.get("job_id")))
        if is_admin(ctx):
            access.authorize(ctx.peer, Right.CLONE, source)
        reply = guarded_submit(ctx, Message({}, store.bundle_zip(source.job_id).read_bytes()))
        reply.headers["cloned_from"] = source.job_id
        return reply

    out[topics.ADMIN_SUBMIT] = guarded_submit
    out[topics.ADMIN_LIST] = guarded_list
    for topic, right in _PER_JOB.items():
        if topic in handlers:
            out[topic] = per_job(topic, right)
    out[topics.ADMIN_CLONE] = clone
    return out


@dataclass
class _Pending:
    """A submission not stored yet: enough of a record for the submission checks."""

    submitter: str
    meta: dict[str, Any]
    job_id: str = ""

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or "job")


def _bundle_meta(body: Any) -> dict[str, Any] | None:
    """``meta.json`` of a submitted bundle zip; None when absent or unreadable (the
    store's own verification then refuses the bundle with the precise reason)."""
    import io
    import json
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(bytes(body))) as archive:
            meta = json.loads(archive.read("meta.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        return None
    return meta if isinstance(meta, dict) else None


def schedule(access: ServerAccess, store: Any, record: Any, alive: list[str]) -> list[str] | None:
    """The scheduler hook: the sites to start ``record`` on now, or None (the job waits,
    with a ``job_waiting`` event when the reason changes, or is failed when it can never
    run)."""
    from fljob.runtime.scheduler import ResourceSpecError

    try:
        plan = access.plan(record, alive)
    except ResourceSpecError as exc:
        plan = Plan("impossible", reasons=tuple(d.message for d in exc.diagnostics()))
    if plan.status == "ready":
        access.started(record, plan.sites)
        return list(plan.sites)
    if plan.status == "impossible":
        error = f"the job can never be scheduled: {plan.summary}"
        store.set_status(record.job_id, _failed(), error)
        store.add_event(record.job_id, "job_done", {"status": "FAILED", "error": error})
    elif access.waiting_changed(record.job_id, plan):
        store.add_event(record.job_id, "job_waiting", {"reasons": list(plan.reasons)})
    return None


def _failed() -> Any:
    from fljob.runtime.jobs.store import JobStatus

    return JobStatus.FAILED
