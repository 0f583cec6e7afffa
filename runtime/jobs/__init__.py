"""The server's job store (SQLite metadata, files for bundles and results)."""

from fljob.runtime.jobs.store import JobNotFoundError, JobRecord, JobStatus, JobStore

__all__ = ["JobNotFoundError", "JobRecord", "JobStatus", "JobStore"]
