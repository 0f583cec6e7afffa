"""The server's job store: SQLite for job metadata, status and progress events; files
for bundles and results.

Layout under the store's root::

    jobs.db                      jobs and events tables
    jobs/<job_id>/bundle.zip     the submitted bundle, as received
    jobs/<job_id>/bundle/        the same, unpacked and verified
    jobs/<job_id>/workspace/     the server job process's working folder
    jobs/<job_id>/result/        global model, metrics.jsonl, logs/ (downloadable)
"""

from __future__ import annotations

import builtins
import enum
import json
import shutil
import sqlite3
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fljob.bundle import unpack_bundle
from fljob.errors import BundleError, FljobError


class JobStatus(enum.StrEnum):
    SUBMITTED = "SUBMITTED"
    RUNNING = "RUNNING"
    FINISHED_OK = "FINISHED_OK"
    FAILED = "FAILED"
    ABORTED = "ABORTED"

    @property
    def done(self) -> bool:
        return self in (JobStatus.FINISHED_OK, JobStatus.FAILED, JobStatus.ABORTED)


class JobNotFoundError(FljobError, KeyError):
    code = "FLJ770"

    def __str__(self) -> str:  # KeyError would quote the message
        return FljobError.__str__(self)


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    name: str
    status: JobStatus
    submitted_at: float
    started_at: float | None
    finished_at: float | None
    error: str | None
    meta: dict[str, Any]
    submitter: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "name": self.name,
            "status": self.status.value,
            "submitted_at": self.submitted_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
            "submitter": self.submitter,
            "min_clients": self.meta.get("min_clients"),
            "deploy_map": self.meta.get("deploy_map"),
        }


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL,
    submitted_at REAL NOT NULL, started_at REAL, finished_at REAL, error TEXT,
    meta TEXT NOT NULL, submitter TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    job_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
"""


class JobStore:
    """Thread-safe; one per server process."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        (self.root / "jobs").mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.root / "jobs.db", check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ----- files -----

    def job_dir(self, job_id: str) -> Path:
        return self.root / "jobs" / job_id

    def bundle_dir(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "bundle"

    def bundle_zip(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "bundle.zip"

    def workspace(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "workspace"

    def result_dir(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "result"

    # ----- jobs -----

    def create(self, bundle_zip: bytes, submitter: str) -> JobRecord:
        """Store, unpack and verify a submitted bundle (``BundleError`` when it is bad)."""
        job_id = str(uuid.uuid4())
        folder = self.job_dir(job_id)
        folder.mkdir(parents=True)
        try:
            self.bundle_zip(job_id).write_bytes(bundle_zip)
            bundle = unpack_bundle(bytes(bundle_zip), self.bundle_dir(job_id))
            meta = bundle.meta
        except zipfile.BadZipFile as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise BundleError(
                f"the submitted bundle is not a zip archive: {exc}",
                hint="submit a bundle written by 'fljob compile'",
            ) from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        for sub in ("workspace", "result", "result/logs"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        name = str(meta.get("name") or bundle.job_name or "job")
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (job_id, name, status, submitted_at, meta, submitter) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (job_id, name, JobStatus.SUBMITTED.value, time.time(), json.dumps(meta), submitter),
            )
        return self.get(job_id)

    def get(self, job_id: str) -> JobRecord:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFoundError(f"no job {job_id!r}", hint="'fljob jobs list' shows the jobs")
        return _record(row)

    def list(self) -> list[JobRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs ORDER BY submitted_at").fetchall()
        return [_record(row) for row in rows]

    def set_status(self, job_id: str, status: JobStatus, error: str | None = None) -> JobRecord:
        now = time.time()
        with self._lock:
            if status is JobStatus.RUNNING:
                self._db.execute(
                    "UPDATE jobs SET status = ?, started_at = ? WHERE job_id = ?",
                    (status.value, now, job_id),
                )
            elif status.done:
                self._db.execute(
                    "UPDATE jobs SET status = ?, finished_at = ?, error = ? WHERE job_id = ?",
                    (status.value, now, error, job_id),
                )
            else:
                self._db.execute(
                    "UPDATE jobs SET status = ? WHERE job_id = ?", (status.value, job_id)
                )
        return self.get(job_id)

    # ----- progress events -----

    def add_event(self, job_id: str, kind: str, data: dict[str, Any]) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM events WHERE job_id = ?", (job_id,)
            ).fetchone()
            seq = int(row[0]) + 1
            self._db.execute(
                "INSERT INTO events (job_id, seq, kind, data) VALUES (?, ?, ?, ?)",
                (job_id, seq, kind, json.dumps(data, sort_keys=True)),
            )
        return seq

    def events(self, job_id: str, after: int = 0) -> builtins.list[dict[str, Any]]:
        # builtins.list: inside this class `list` is the method JobStore.list.
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, kind, data FROM events WHERE job_id = ? AND seq > ? ORDER BY seq",
                (job_id, after),
            ).fetchall()
        return [{"seq": seq, "kind": kind, **json.loads(data)} for seq, kind, data in rows]


def _record(row: tuple[Any, ...]) -> JobRecord:
    job_id, name, status, submitted, started, finished, error, meta, submitter = row
    return JobRecord(
        job_id,
        name,
        JobStatus(status),
        submitted,
        started,
        finished,
        error,
        json.loads(meta),
        submitter,
    )
