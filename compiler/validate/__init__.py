"""Validation: schemas, deploy map, component catalog, safety. (Being built; see issue 3.)"""

from __future__ import annotations

from fljob.compiler.model import ResolvedJob, ValidatedJob


def validate(job: ResolvedJob) -> ValidatedJob:
    """Check the resolved job; raise ``ValidationError`` with every finding at once."""
    return ValidatedJob(resolved=job, warnings=job.warnings)
