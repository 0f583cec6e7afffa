"""Admin authorization: which admin may do what to which job.

Every admin has a role (``project_admin``, ``org_admin``, ``lead``, ``member``) and an
organisation, both fixed at provisioning. The server's policy maps each role to a
*scope* per right::

    # authorization.yml in the server's startup kit (JSON works too)
    roles:
      project_admin: {submit: any, list: any, status: any, abort: any,
                      download: any, logs: any, clone: any}
      org_admin:     {submit: none, list: any, status: own_org, abort: own_org,
                      download: own_org, logs: own_org, clone: own_org}
      lead:          {submit: any, list: any, status: own, abort: own,
                      download: own, logs: own, clone: own}
      member:        {list: any}

Scopes: ``any`` (every job), ``own_org`` (jobs submitted by an admin of the caller's
organisation), ``own`` (jobs the caller submitted), ``none``. A right a role does not
mention is ``none``. ``list`` with a narrower scope shows only the matching jobs.
These defaults follow NVIDIA FLARE's (an org_admin manages its organisation's jobs but
does not submit; a lead submits and manages its own jobs; a member only looks).

>>> policy = default_policy()
>>> policy.decide(Admin("bob@a", "a", "lead"), Right.ABORT, JobOwner("amy@a", "a")).allowed
False
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from fljob.errors import Diagnostic, DiagnosticError, FljobError


class Right(enum.StrEnum):
    SUBMIT = "submit"
    LIST = "list"
    STATUS = "status"
    ABORT = "abort"
    DOWNLOAD = "download"
    LOGS = "logs"
    CLONE = "clone"

    @property
    def needs_job(self) -> bool:
        """Rights about one existing job (all but ``submit`` and ``list``)."""
        return self not in (Right.SUBMIT, Right.LIST)


class Scope(enum.StrEnum):
    ANY = "any"
    OWN_ORG = "own_org"
    OWN = "own"
    NONE = "none"


ROLES = ("project_admin", "org_admin", "lead", "member")

_ALL_ANY = {right: Scope.ANY for right in Right}
_DEFAULT: dict[str, dict[Right, Scope]] = {
    "project_admin": dict(_ALL_ANY),
    "org_admin": {
        Right.SUBMIT: Scope.NONE,
        Right.LIST: Scope.ANY,
        **{r: Scope.OWN_ORG for r in Right if r.needs_job},
    },
    "lead": {
        Right.SUBMIT: Scope.ANY,
        Right.LIST: Scope.ANY,
        **{r: Scope.OWN for r in Right if r.needs_job},
    },
    "member": {Right.LIST: Scope.ANY},
}


class NotAuthorizedError(FljobError, PermissionError):
    """An admin asked for something its role does not allow."""

    code = "FLJ712"


class AuthorizationPolicyError(DiagnosticError, ValueError):
    """The authorization policy file is malformed (every problem listed)."""

    code = "FLJ713"


@dataclass(frozen=True, slots=True)
class Admin:
    """Who is calling: certificate common name, organisation, admin role."""

    name: str
    org: str
    role: str


@dataclass(frozen=True, slots=True)
class JobOwner:
    """Who submitted a job, and from which organisation."""

    submitter: str
    org: str


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str  #: why, in one sentence that names the role, right and scope


@dataclass(frozen=True)
class AuthorizationPolicy:
    """Role -> right -> scope, plus where the policy came from (for messages)."""

    roles: Mapping[str, Mapping[Right, Scope]]
    source: str = "built-in"

    def scope(self, role: str, right: Right) -> Scope:
        return self.roles.get(role, {}).get(right, Scope.NONE)

    def decide(self, admin: Admin, right: Right, job: JobOwner | None = None) -> Decision:
        """Whether ``admin`` may use ``right`` (on ``job`` for per-job rights)."""
        if admin.role not in self.roles:
            known = ", ".join(sorted(self.roles))
            return Decision(False, f"role {admin.role!r} is not in the policy (roles: {known})")
        scope = self.scope(admin.role, right)
        who = f"{admin.role} {admin.name!r}"
        if scope is Scope.ANY:
            return Decision(True, f"{who} may {right} any job")
        if scope is Scope.NONE:
            return Decision(False, f"{who} may not {right} jobs")
        if job is None:  # submit/list with a narrowed scope: allowed, list filters
            return Decision(True, f"{who} may {right} {_scope_words(scope, admin)}")
        if scope is Scope.OWN and job.submitter == admin.name:
            return Decision(True, f"{who} may {right} its own jobs")
        if scope is Scope.OWN_ORG and job.org == admin.org:
            return Decision(True, f"{who} may {right} jobs of organisation {admin.org!r}")
        return Decision(
            False,
            f"{who} may {right} only {_scope_words(scope, admin)}; this job was submitted "
            f"by {job.submitter!r} of organisation {job.org!r}",
        )

    def check(self, admin: Admin, right: Right, job: JobOwner | None = None) -> None:
        """Raise :class:`NotAuthorizedError` unless :meth:`decide` allows."""
        decision = self.decide(admin, right, job)
        if not decision.allowed:
            raise NotAuthorizedError(
                f"not authorized: {decision.reason}",
                hint=f"the server's authorization policy ({self.source}) decides this",
            )

    def visible(self, admin: Admin, jobs: Iterable[_J], owner: Any) -> list[_J]:
        """The ``jobs`` that ``admin`` may list; ``owner(job) -> JobOwner``."""
        if self.scope(admin.role, Right.LIST) is Scope.NONE:
            return []
        return [job for job in jobs if self.decide(admin, Right.LIST, owner(job)).allowed]


_J = TypeVar("_J")


def _scope_words(scope: Scope, admin: Admin) -> str:
    if scope is Scope.OWN:
        return "its own jobs"
    return f"jobs of organisation {admin.org!r}"


def default_policy() -> AuthorizationPolicy:
    """The built-in policy (see the module docstring)."""
    return AuthorizationPolicy({role: dict(rights) for role, rights in _DEFAULT.items()})


def policy_from_dict(data: Any, *, source: str = "<dict>") -> AuthorizationPolicy:
    """Build a policy from parsed JSON/YAML; every problem in one error.

    Roles not named keep no rights (a policy is complete, never merged with defaults).
    """
    problems: list[Diagnostic] = []

    def bad(message: str, key_path: str | None, hint: str | None = None) -> None:
        problems.append(Diagnostic("FLJ713", message, file=source, key_path=key_path, hint=hint))

    if not isinstance(data, Mapping) or set(data) - {"roles"}:
        extra = sorted(set(data) - {"roles"}) if isinstance(data, Mapping) else []
        bad(
            f"expected an object with only a 'roles' key{f', found {extra}' if extra else ''}",
            None,
            "see fljob.runtime.authz for the format",
        )
        raise AuthorizationPolicyError(problems)
    roles_data = data.get("roles")
    if not isinstance(roles_data, Mapping):
        bad("'roles' must map role names to {right: scope}", "roles")
        raise AuthorizationPolicyError(problems)
    roles: dict[str, dict[Right, Scope]] = {}
    for role, rights in roles_data.items():
        if role not in ROLES:
            bad(f"unknown role {role!r}", f"roles.{role}", f"roles: {', '.join(ROLES)}")
            continue
        if not isinstance(rights, Mapping):
            bad("expected {right: scope}", f"roles.{role}")
            continue
        roles[role] = {}
        for right, scope in rights.items():
            where = f"roles.{role}.{right}"
            if right not in Right.__members__.values():
                bad(f"unknown right {right!r}", where, f"rights: {', '.join(Right)}")
            elif scope not in Scope.__members__.values():
                bad(f"unknown scope {scope!r}", where, f"scopes: {', '.join(Scope)}")
            else:
                roles[role][Right(right)] = Scope(scope)
    if problems:
        raise AuthorizationPolicyError(problems)
    return AuthorizationPolicy(roles, source=source)


def load_policy(path: Path) -> AuthorizationPolicy:
    """Read a JSON or YAML policy file."""
    data = read_data_file(Path(path), "FLJ713", "authorization policy", AuthorizationPolicyError)
    return policy_from_dict(data, source=str(path))


def read_data_file(path: Path, code: str, what: str, error: type[DiagnosticError]) -> Any:
    """Parse a small JSON (``.json``) or YAML (``.yml``/``.yaml``) policy file; a
    diagnostic naming the file (and the line, for syntax errors) when it cannot."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error([Diagnostic(code, f"cannot read the {what}: {exc}", file=str(path))]) from None
    if path.suffix in (".yml", ".yaml"):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise error(
                [
                    Diagnostic(
                        code,
                        f"the {what} is not valid YAML: {getattr(exc, 'problem', exc)}",
                        file=str(path),
                        line=mark.line + 1 if mark else None,
                        col=mark.column + 1 if mark else None,
                    )
                ]
            ) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        line, col = getattr(exc, "lineno", None), getattr(exc, "colno", None)
        raise error(
            [
                Diagnostic(
                    code, f"the {what} is not valid JSON: {exc}", file=str(path), line=line, col=col
                )
            ]
        ) from None


def policy_to_dict(policy: AuthorizationPolicy) -> dict[str, Any]:
    """The JSON form of ``policy`` (what provisioning writes into the server's kit)."""
    return {
        "roles": {
            role: {str(right): str(scope) for right, scope in rights.items()}
            for role, rights in policy.roles.items()
        }
    }
