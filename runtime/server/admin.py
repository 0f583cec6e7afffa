"""``AdminClient``: what ``fljob submit`` and ``fljob jobs ...`` use to talk to a server.

>>> admin = AdminClient("127.0.0.1:8002", Path("startup/admin@org"))   # doctest: +SKIP
>>> job_id = admin.submit(Path("bundle_dir"))
>>> for event in admin.follow(job_id): print(event)
"""

from __future__ import annotations

import builtins
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fljob.runtime.server import topics


class AdminClient:
    def __init__(
        self,
        address: str,
        kit: Path,
        *,
        server_name: str = "server",
        timeout: float | None = None,
    ) -> None:
        from fljob.runtime.pki import load_identity
        from fljob.runtime.transport import RpcClient

        self.client = RpcClient(address, load_identity(Path(kit)), server_name=server_name)
        #: this session's deadline for every call (``fljob jobs --timeout``); None: defaults
        self.timeout = timeout

    def _call(
        self, topic: str, headers: dict[str, Any], body: Any = b"", timeout: float | None = 60.0
    ) -> Any:
        from fljob.runtime.transport import Message

        if self.timeout is not None:
            timeout = self.timeout + float(headers.get("wait") or 0)
        return self.client.call(topic, Message(headers, body), timeout=timeout)

    def submit(self, bundle: Path | bytes) -> str:
        """Submit a bundle (a directory, a zip file, or zip bytes); the new job's id."""
        from fljob.bundle import pack_bundle

        if isinstance(bundle, bytes):
            data = bundle
        elif Path(bundle).is_dir():
            data = pack_bundle(Path(bundle))
        else:
            data = Path(bundle).read_bytes()
        return str(self._call(topics.ADMIN_SUBMIT, {}, data).headers["job_id"])

    def list(self) -> dict[str, Any]:
        return dict(self._call(topics.ADMIN_LIST, {}).headers)

    def status(self, job_id: str, *, after: int = 0, wait: float = 0) -> dict[str, Any]:
        """``{job, events, result_dir}``; with ``wait``, blocks until something new."""
        return dict(
            self._call(
                topics.ADMIN_STATUS,
                {"job_id": job_id, "after": after, "wait": wait},
                timeout=wait + 30,
            ).headers
        )

    def follow(self, job_id: str) -> Iterator[dict[str, Any]]:
        """Every progress event of the job as it happens, ending with ``job_done``."""
        after = 0
        while True:
            reply = self.status(job_id, after=after, wait=topics.POLL_WAIT)
            for event in reply["events"]:
                after = max(after, int(event["seq"]))
                yield event
                if event["kind"] == "job_done":
                    return
            if (
                reply["job"]["status"] in ("FINISHED_OK", "FAILED", "ABORTED")
                and not reply["events"]
            ):
                return

    def clone(self, job_id: str) -> str:
        """Submit a copy of job ``job_id`` as a new job (submitted by this admin)."""
        return str(self._call(topics.ADMIN_CLONE, {"job_id": job_id}).headers["job_id"])

    def abort(self, job_id: str) -> dict[str, Any]:
        return dict(self._call(topics.ADMIN_ABORT, {"job_id": job_id}).headers["job"])

    def download(self, job_id: str, dest: Path) -> Path:
        """Unpack the job's result folder into ``dest``."""
        reply = self._call(topics.ADMIN_DOWNLOAD, {"job_id": job_id}, timeout=None)
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(io.BytesIO(bytes(reply.body))) as zf:
            for info in zf.infolist():
                name = Path(info.filename)
                if name.is_absolute() or ".." in name.parts:
                    continue  # never write outside dest
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(info))
        return dest

    def logs(self, job_id: str, site: str | None = None) -> tuple[str, builtins.list[str]]:
        """The log text of ``site`` (the server's by default) and the names of all logs."""
        # builtins.list: inside this class `list` is the method AdminClient.list.
        reply = self._call(topics.ADMIN_LOGS, {"job_id": job_id, "site": site})
        return bytes(reply.body).decode("utf-8", "replace"), list(reply.headers.get("logs", []))

    def close(self) -> None:
        self.client.close()
