"""The framed unix-socket protocol between a site's job process and its training script.

Cheaper than gRPC for this hop (no HTTP/2, no grpc import in the script): one frame per
request and per reply, on a socket in a private (0700) folder. A frame is::

    b"FLJ1" | u32 header length | u64 body length | JSON header | body bytes

The header is ``{"topic": ..., "headers": {...}}`` (requests) or ``{"headers": {...}}``
(replies; ``{"error": ...}`` when the handler raised). The body is raw bytes, typically
:mod:`fljob.runtime.serde` frames. Nothing is pickled; a malformed or oversized frame
closes the connection and is logged, never acted upon.
"""

from __future__ import annotations

import json
import logging
import os
import select
import socket
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fljob.errors import RuntimeProtocolError

log = logging.getLogger("fljob.local_wire")
MAGIC = b"FLJ1"
_PREFIX = struct.Struct("<4sIQ")
MAX_HEADER = 1 << 20
MAX_BODY = 1 << 40


class LocalWireError(RuntimeProtocolError):
    """The local channel is closed, or the peer sent a malformed frame."""

    code = "FLJ731"


@dataclass
class LocalMessage:
    headers: dict[str, Any] = field(default_factory=dict)
    body: Any = b""  #: bytes-like or a list of bytes-like pieces (sent without joining)


@dataclass(frozen=True)
class LocalContext:
    topic: str
    _sock: socket.socket

    def is_active(self) -> bool:
        """False once the caller closed its end (it is gone, or gave up on this call)."""
        try:
            readable, _, _ = select.select([self._sock], [], [], 0)
            return not readable or self._sock.recv(1, socket.MSG_PEEK) != b""
        except OSError:
            return False


LocalHandler = Callable[[LocalContext, LocalMessage], LocalMessage]


def _pieces(body: Any) -> list[memoryview]:
    parts = body if isinstance(body, list | tuple) else [body]
    return [memoryview(p).cast("B") for p in parts]


def _send(sock: socket.socket, header: dict[str, Any], body: Any) -> None:
    head = json.dumps(header).encode()
    pieces = _pieces(body)
    size = sum(p.nbytes for p in pieces)
    sock.sendall(_PREFIX.pack(MAGIC, len(head), size) + head)
    for piece in pieces:
        sock.sendall(piece)


def _recv_exact(sock: socket.socket, size: int) -> memoryview:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:], size - got)
        if n == 0:
            raise LocalWireError("the local channel was closed mid-frame")
        got += n
    return view


def _recv(sock: socket.socket) -> tuple[dict[str, Any], memoryview] | None:
    """One frame, or None on a clean close before a frame starts."""
    first = sock.recv(_PREFIX.size, socket.MSG_WAITALL)
    if not first:
        return None
    if len(first) != _PREFIX.size:
        raise LocalWireError("truncated frame prefix")
    magic, head_len, body_len = _PREFIX.unpack(first)
    if magic != MAGIC or head_len > MAX_HEADER or body_len > MAX_BODY:
        raise LocalWireError(
            f"malformed frame (magic {magic!r}, header {head_len} B, body {body_len} B)"
        )
    try:
        header = json.loads(bytes(_recv_exact(sock, head_len)))
    except ValueError as exc:
        raise LocalWireError(f"frame header is not JSON: {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("headers", {}), dict):
        raise LocalWireError("frame header is not a JSON object with 'headers'")
    return header, _recv_exact(sock, body_len)


class LocalServer:
    """Serves ``handlers[topic](ctx, message) -> message``; one thread per connection."""

    def __init__(self, address: str, handlers: Mapping[str, LocalHandler]) -> None:
        self.path = address.removeprefix("unix:")
        folder = Path(self.path).parent
        if folder.stat().st_mode & 0o077 or folder.stat().st_uid != os.getuid():
            raise LocalWireError(f"socket folder {folder} is open to other users")
        self.handlers = dict(handlers)
        self._sock: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(self.path)
        sock.listen(16)
        self._sock = sock
        threading.Thread(
            target=self._accept, args=(sock,), daemon=True, name="local-accept"
        ).start()

    def stop(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()

    def _accept(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return  # stopped
            with self._lock:
                self._conns.add(conn)
            threading.Thread(
                target=self._serve, args=(conn,), daemon=True, name="local-conn"
            ).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            while True:
                frame = _recv(conn)
                if frame is None:
                    return
                header, body = frame
                topic = str(header.get("topic"))
                handler = self.handlers.get(topic)
                if handler is None:
                    _send(conn, {"headers": {}, "error": f"unknown topic {topic!r}"}, b"")
                    continue
                try:
                    request = LocalMessage(header["headers"], body)
                    reply = handler(LocalContext(topic, conn), request)
                except Exception as exc:  # the handler raised: the caller gets the message
                    _send(conn, {"headers": {}, "error": f"{type(exc).__name__}: {exc}"}, b"")
                    continue
                _send(conn, {"headers": reply.headers}, reply.body)
        except (LocalWireError, OSError) as exc:
            log.warning("local channel connection closed: %s", exc)
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()


class LocalClient:
    """One connection to a :class:`LocalServer`; calls on it are serialized."""

    def __init__(self, address: str, timeout: float = 60.0) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.settimeout(timeout)
            self._sock.connect(address.removeprefix("unix:"))
            self._sock.settimeout(None)
        except OSError as exc:
            self._sock.close()
            raise LocalWireError(f"cannot connect to {address}: {exc}") from None
        self._lock = threading.Lock()

    def call(
        self, topic: str, headers: dict[str, Any], body: Any = b"", timeout: float | None = None
    ) -> LocalMessage:
        with self._lock:
            try:
                self._sock.settimeout(timeout)
                _send(self._sock, {"topic": topic, "headers": headers}, body)
                frame = _recv(self._sock)
            except (OSError, LocalWireError) as exc:
                raise LocalWireError(f"{topic}: the local channel failed: {exc}") from None
        if frame is None:
            raise LocalWireError(f"{topic}: the local channel was closed")
        header, reply_body = frame
        if "error" in header:
            raise LocalWireError(f"{topic}: {header['error']}")
        return LocalMessage(header.get("headers", {}), reply_body)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> LocalClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
