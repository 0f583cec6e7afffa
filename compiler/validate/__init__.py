"""Validation: schemas, deploy map, component catalog and the safe-component policy.

``validate(resolve_job(load_job(path)))`` gives a :class:`ValidatedJob` or raises once
with every finding: ``UnsafeJobError`` when the only errors are safety findings, else
``ValidationError``. Warnings (the loader's and resolver's included) pass through on
``ValidatedJob.warnings``. ``check_job`` returns the findings instead (for ``lint``).
"""

from __future__ import annotations

from collections.abc import Sequence

from fljob.compiler.model import CLIENT_CONFIG, SERVER_CONFIG, ResolvedJob, ValidatedJob
from fljob.errors import Diagnostic, ValidationError
from fljob.safety import SafetyPolicy, default_policy, unsafe_job_error

__all__ = ["check_job", "validate"]

_SCHEMA_BY_CONFIG = {SERVER_CONFIG: SERVER_CONFIG, CLIENT_CONFIG: CLIENT_CONFIG}


def check_job(
    job: ResolvedJob, *, policy: SafetyPolicy | None = None, failed: Sequence[Diagnostic] = ()
) -> list[Diagnostic]:
    """Every validation finding of ``job`` (errors and warnings), without raising.

    ``failed`` are resolution errors of a partly resolved job: findings at or under the
    key paths they name are dropped, since those values are missing, not wrong.
    """
    from fljob.compiler.validate import components, deploy_map, safety, schemas

    found: list[Diagnostic] = []
    meta = job.meta
    found.extend(
        schemas.check_document(meta.document, schemas.META, meta.data, skip=meta.deploy_refs)
    )
    found.extend(deploy_map.check_meta(meta.document, meta.data, job.spec.apps))
    for key, config in job.configs.items():
        app, _, name = key.partition("/config/")
        schema = _SCHEMA_BY_CONFIG.get(name)
        if schema is None:
            continue
        found.extend(
            schemas.check_document(config.document, schema, config.data, skip=config.deploy_refs)
        )
        app_spec = job.spec.apps.get(app)
        found.extend(components.check_config(config, app_spec.custom_dir if app_spec else None))
    found.extend(safety.check_safety(job, policy or default_policy()))
    spots = [(d.file, d.key_path or "") for d in failed if d.is_error]
    return [d for d in found if not any(_is_under(d, file, path) for file, path in spots)]


def _is_under(diagnostic: Diagnostic, file: str | None, key_path: str) -> bool:
    if diagnostic.file != file:
        return False
    own = diagnostic.key_path or ""
    return own == key_path or own.startswith((key_path + ".", key_path + "["))


def validate(job: ResolvedJob, *, policy: SafetyPolicy | None = None) -> ValidatedJob:
    """Check the resolved job; raise ``ValidationError`` (or ``UnsafeJobError`` when every
    error is a safety finding) with every finding at once.

    >>> validate(resolve_job(load_job(Path("my_job"))))  # doctest: +SKIP
    ValidatedJob(...)
    """
    policy = policy or default_policy()
    found = check_job(job, policy=policy)
    errors = [d for d in found if d.is_error]
    if errors:
        if all(d.code.startswith("FLJ5") for d in errors):
            raise unsafe_job_error(errors, policy)
        raise ValidationError(found)
    warnings = list(dict.fromkeys([*job.warnings, *(d for d in found if not d.is_error)]))
    return ValidatedJob(resolved=job, warnings=tuple(warnings))
