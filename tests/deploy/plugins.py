"""Event plug-ins used by the deploy tests (imported by dotted path, also by the site's
job processes in the end-to-end tests)."""

from __future__ import annotations

from fljob.runtime.site_policy import JobEvent, JobVetoedError


def accept_all(event: JobEvent) -> None:
    return None


def no_jobs_named_forbidden(event: JobEvent) -> str | None:
    if event.job_name == "forbidden":
        return "jobs named 'forbidden' are not run here"
    return None


def max_rounds(event: JobEvent, limit: int = 10) -> str | None:
    """Veto a component whose ``num_rounds`` argument is above ``limit``."""
    if event.component is None:
        return None
    rounds = (event.component.get("args") or {}).get("num_rounds", 0)
    return f"num_rounds {rounds} is above this site's limit of {limit}" if rounds > limit else None


def raises_veto(event: JobEvent) -> None:
    raise JobVetoedError("not on weekends")


def crashes(event: JobEvent) -> None:
    raise ZeroDivisionError("oops")


class OnlyOrg:
    """A class plug-in: instantiated with args, called through handle_event."""

    def __init__(self, org: str) -> None:
        self.org = org

    def handle_event(self, event: JobEvent) -> bool:
        return event.submitter.org == self.org
