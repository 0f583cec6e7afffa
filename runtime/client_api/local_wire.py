"""The local channel between a site's job process and its training script: the transport's
frames and chunked streaming (:mod:`fljob.runtime.transport.frames`,
:mod:`fljob.runtime.transport.stream`) carried over a unix socket instead of gRPC.

A model travels between the script and its site exactly as it does between the site and
the server: 1 MiB chunks, each with a CRC-32 chained into a whole-body check, at most a
window of chunks unacknowledged, the receive buffer preallocated from the declared size
(or the body spooled to a file), nothing used before the whole body has been checked.
Only the carrier differs: a unix socket in a private (0700) folder, cheaper than HTTP/2
for this hop, and no grpc import in the script. On the socket each frame is preceded by
its length::

    u32 frame length | frame (see frames.py)

A request is the frames of one message (topic and headers in its head); the reply is the
frames of one message whose topic is the request's, or :data:`ERROR_TOPIC` with
``{"error": text}`` when the handler raised. Acknowledgements of a body flow back on the
same socket; a sender reads them only when its window is full, so a few may still wait
when the next message starts, and readers skip them there. Nothing is pickled; a
malformed frame closes the connection and is logged, never acted upon.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import struct
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fljob.errors import RuntimeProtocolError
from fljob.runtime.transport import frames as fr
from fljob.runtime.transport.errors import FrameError
from fljob.runtime.transport.stream import DEFAULT_WINDOW, receive, send_frames

log = logging.getLogger("fljob.local_wire")
_LENGTH = struct.Struct("<I")
MAX_BODY = 1 << 40
ERROR_TOPIC = "fljob.local.error"  #: the topic of a reply that reports a handler's error
_SOCKET_BUFFER = 4 << 20  # fewer wake-ups per chunk; the kernel caps it at [rw]mem_max
DEFAULT_STALL_TIMEOUT = 60.0  #: seconds a body may go without a frame once it started


class LocalWireError(RuntimeProtocolError):
    """The local channel is closed, or the peer sent a malformed frame."""

    code = "FLJ731"


@dataclass
class LocalMessage:
    headers: dict[str, Any] = field(default_factory=dict)
    #: bytes-like, a list of bytes-like pieces (sent without joining) or a StreamBody;
    #: a received body is one contiguous, writable memoryview
    body: Any = b""


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
SpoolChooser = Callable[[fr.Head], Path | None]


class _FrameSocket:
    """Length-prefixed frames on a connected stream socket, one reader and one writer."""

    def __init__(self, sock: socket.socket, *, chunk: int, window: int, stall: float):
        self.sock, self.chunk, self.window, self.stall = sock, chunk, window, stall
        for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
            sock.setsockopt(socket.SOL_SOCKET, option, _SOCKET_BUFFER)
        self._buffer = bytearray(fr.MAX_FRAME)  # DATA frames land here, one at a time
        self._acked = 0

    # ----- frames -----

    def send_frame(self, frame: bytes) -> None:
        self.sock.sendall(_LENGTH.pack(len(frame)))
        self.sock.sendall(frame)

    def recv_frame(self) -> bytes | memoryview | None:
        """The next frame; None on a clean close before it starts.

        A DATA frame is a view of a buffer reused for the next one (the assembler copies
        each chunk into place before asking for more); any other frame is bytes."""
        prefix = memoryview(self._buffer)[: _LENGTH.size]
        got = self._recv_into(prefix)
        if got == 0:
            return None
        if got != _LENGTH.size:
            raise LocalWireError("the local channel was closed inside a frame length")
        (length,) = _LENGTH.unpack(prefix)
        if not fr.HEADER_SIZE <= length <= fr.MAX_FRAME:
            raise LocalWireError(f"malformed frame length {length} on the local channel")
        view = memoryview(self._buffer)[:length]
        if self._recv_into(view) != length:
            raise LocalWireError("the local channel was closed mid-frame")
        fr.parse(view)  # FrameError on a bad header, before anyone looks further
        return view if view[3] == fr.DATA else bytes(view)

    def _recv_into(self, view: memoryview) -> int:
        """Fill ``view`` (a socket with a timeout reads whatever has arrived, so loop);
        the bytes read, fewer only when the peer closed."""
        got = 0
        while got < view.nbytes:
            n = self.sock.recv_into(view[got:], view.nbytes - got)
            if n == 0:
                break
            got += n
        return got

    def _frames(self) -> Iterator[bytes | memoryview]:
        while (frame := self.recv_frame()) is not None:
            yield frame

    # ----- messages -----

    def send_message(self, topic: str, headers: dict[str, Any], body: Any) -> None:
        """Stream one message; waits for acknowledgements when the window is full."""
        self._acked = 0
        frames = send_frames(
            topic, headers, body, chunk=self.chunk, window=self.window, wait_credit=self._credit
        )
        for frame in frames:
            self.send_frame(frame)

    def _credit(self, seq: int) -> bool:
        while seq - self._acked >= self.window:
            frame = self.recv_frame()
            if frame is None:
                return False
            kind, acked, _, _ = fr.parse(frame)
            if kind != fr.ACK or acked > seq:
                raise FrameError(f"expected an acknowledgement, got {fr.KIND_NAMES[kind]}")
            self._acked = max(self._acked, acked)
        return True

    def recv_message(
        self, spool: SpoolChooser | None = None, idle_timeout: float | None = None
    ) -> tuple[fr.Head, memoryview] | None:
        """One whole, checked message (None on a clean close before it starts).

        ``idle_timeout`` bounds the wait for its first frame; once it started, each frame
        must follow within the stall timeout."""
        self.sock.settimeout(idle_timeout)
        first = self.recv_frame()
        while first is not None and first[3] == fr.ACK:  # the tail of our last body's acks
            first = self.recv_frame()
        if first is None:
            return None
        self.sock.settimeout(self.stall)
        assembly = receive(bytes(first), self._frames(), max_body=MAX_BODY, spool=spool)
        try:
            while True:
                self.send_frame(next(assembly))
        except StopIteration as done:
            return done.value


def _error_text(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {message}"


class LocalServer:
    """Serves ``handlers[topic](ctx, message) -> message``; one thread per connection.

    Request bodies of at least ``spool_threshold`` bytes go to a file in ``spool_dir``
    (when given) as they arrive; the handler still sees one memoryview of it.
    """

    def __init__(
        self,
        address: str,
        handlers: Mapping[str, LocalHandler],
        *,
        chunk_size: int = fr.DEFAULT_CHUNK,
        window: int = DEFAULT_WINDOW,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
        spool_dir: Path | None = None,
        spool_threshold: int = 1 << 30,
    ) -> None:
        self.path = address.removeprefix("unix:")
        folder = Path(self.path).parent
        if folder.stat().st_mode & 0o077 or folder.stat().st_uid != os.getuid():
            raise LocalWireError(f"socket folder {folder} is open to other users")
        self.handlers = dict(handlers)
        self._chunk, self._window, self._stall = chunk_size, window, stall_timeout
        self._spool_dir, self._spool_threshold = spool_dir, spool_threshold
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

    def _spool(self, head: fr.Head) -> Path | None:
        if self._spool_dir is None or head.size < self._spool_threshold:
            return None
        import tempfile

        fd, name = tempfile.mkstemp(prefix="local-", suffix=".body", dir=self._spool_dir)
        os.close(fd)
        return Path(name)

    def _serve(self, conn: socket.socket) -> None:
        wire = _FrameSocket(conn, chunk=self._chunk, window=self._window, stall=self._stall)
        try:
            while (received := self._receive(wire)) is not None:
                head, body = received
                topic, headers, reply_body = self._handle(conn, head, body)
                del body, received  # a large request is released before the reply streams
                wire.send_message(topic, headers, reply_body)
        except (RuntimeProtocolError, OSError) as exc:
            log.warning("local channel connection closed: %s", exc)
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    def _receive(self, wire: _FrameSocket) -> tuple[fr.Head, memoryview] | None:
        spooled: list[Path] = []

        def spool(head: fr.Head) -> Path | None:
            path = self._spool(head)
            if path is not None:
                spooled.append(path)
            return path

        try:
            return wire.recv_message(spool)
        finally:
            for path in spooled:  # the body stays readable through its mapping
                path.unlink(missing_ok=True)

    def _handle(
        self, conn: socket.socket, head: fr.Head, body: memoryview
    ) -> tuple[str, dict[str, Any], Any]:
        handler = self.handlers.get(head.topic)
        if handler is None:
            return ERROR_TOPIC, {"error": f"unknown topic {head.topic!r}"}, b""
        try:
            reply = handler(LocalContext(head.topic, conn), LocalMessage(head.headers, body))
        except Exception as exc:  # the handler raised: the caller gets the message
            return ERROR_TOPIC, {"error": _error_text(exc)}, b""
        return head.topic, reply.headers, reply.body


class LocalClient:
    """One connection to a :class:`LocalServer`; calls on it are serialized."""

    def __init__(
        self,
        address: str,
        timeout: float = 60.0,
        *,
        chunk_size: int = fr.DEFAULT_CHUNK,
        window: int = DEFAULT_WINDOW,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
    ) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.settimeout(timeout)
            self._sock.connect(address.removeprefix("unix:"))
        except OSError as exc:
            self._sock.close()
            raise LocalWireError(f"cannot connect to {address}: {exc}") from None
        self._wire = _FrameSocket(self._sock, chunk=chunk_size, window=window, stall=stall_timeout)
        self._lock = threading.Lock()

    def call(
        self,
        topic: str,
        headers: dict[str, Any],
        body: Any = b"",
        timeout: float | None = None,
        *,
        spool_to: Path | None = None,
    ) -> LocalMessage:
        """Send one request and return the reply. ``timeout`` bounds each wait on the
        peer (sending, and the handler's answer); ``spool_to`` writes a large reply body
        to that file as it arrives (the reply's body is then a private mapping of it)."""
        with self._lock:
            try:
                self._sock.settimeout(timeout)
                self._wire.send_message(topic, headers, body)
                received = self._wire.recv_message(
                    (lambda head: spool_to) if spool_to else None, idle_timeout=timeout
                )
            except (OSError, RuntimeProtocolError) as exc:
                raise LocalWireError(f"{topic}: the local channel failed: {_reason(exc)}") from None
        if received is None:
            raise LocalWireError(f"{topic}: the local channel was closed")
        head, reply_body = received
        if head.topic == ERROR_TOPIC:
            raise LocalWireError(f"{topic}: {head.headers.get('error', 'the handler failed')}")
        return LocalMessage(head.headers, reply_body)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> LocalClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    return exc.message if isinstance(exc, RuntimeProtocolError) else str(exc)
