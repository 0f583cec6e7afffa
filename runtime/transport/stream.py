"""Chunked streaming of one message body: the sender's frames and the receiver's assembly.

The sender cuts the body into fixed-size chunks (1 MiB by default) without joining its
pieces first; each chunk is copied exactly once, into the frame handed to gRPC. It keeps
at most ``window`` chunks unacknowledged (``wait_credit`` blocks until the receiver has
acknowledged enough), so memory in flight is bounded on both sides whatever the body size.

The receiver preallocates one contiguous buffer from the declared size (or a file when
spooling), copies each chunk into place, checks a running CRC-32 per chunk and over the
whole body, and acknowledges every ``ack_every`` chunks. Anything unexpected (a gap, a
chunk of the wrong size, a checksum mismatch, a stream that ends early) is a FrameError or
StreamError; nothing received is used before the whole body has been checked.
"""

from __future__ import annotations

import logging
import mmap
import os
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import Any

from fljob.runtime.transport import frames as fr
from fljob.runtime.transport.errors import FrameError, StreamError
from fljob.runtime.transport.message import Body, BytesLike, body_parts, flat_view
from fljob.runtime.transport.watchdog import Progress

log = logging.getLogger("fljob.transport")

DEFAULT_WINDOW = 32  #: chunks in flight before the sender waits for an acknowledgement
_MAPPED_MIN = 1 << 20  # below this, a bytearray is cheaper than a mapping


# ---------------------------------------------------------------------------- sending
def send_frames(
    topic: str,
    headers: dict[str, Any],
    body: Body,
    *,
    chunk: int,
    window: int,
    wait_credit: Callable[[int], bool],
    progress: Progress | None = None,
) -> Iterator[bytes]:
    """Frames of one message. ``wait_credit(seq)`` blocks until chunk ``seq`` may be sent
    (at most ``window`` unacknowledged) and returns False when the stream is gone."""
    size, pieces = body_parts(body)
    ack_every = max(1, window // 2)
    head = fr.head_bytes(fr.Head(topic, headers, size, chunk, ack_every))
    if size <= chunk:
        views = list(_views(pieces))
        _check_total(topic, size, sum(v.nbytes for v in views))
        crc = 0
        for view in views:
            crc = zlib.crc32(view, crc)
        yield b"".join([fr.pack(fr.ONE, len(head), crc, size), head, *views])
        return
    yield fr.pack(fr.HEAD, len(head)) + head
    crc, offset, seq = 0, 0, 0
    for group in _chunks(pieces, chunk):
        if not wait_credit(seq):
            return
        for view in group:
            crc = zlib.crc32(view, crc)
        yield b"".join([fr.pack(fr.DATA, seq, crc, offset), *group])
        if progress is not None:
            progress.tick()
        offset += sum(v.nbytes for v in group)
        seq += 1
    _check_total(topic, size, offset)
    yield fr.pack(fr.END, seq, crc, size)


def _views(pieces: Iterable[BytesLike]) -> Iterator[memoryview]:
    for piece in pieces:
        view = flat_view(piece)
        if view.nbytes:
            yield view


def _chunks(pieces: Iterable[BytesLike], chunk: int) -> Iterator[list[memoryview]]:
    """Groups of views adding up to exactly ``chunk`` bytes (the last may be shorter)."""
    group: list[memoryview] = []
    have = 0
    for view in _views(pieces):
        pos, n = 0, view.nbytes
        if not group and n == chunk:
            yield [view]
            continue
        while pos < n:
            take = min(chunk - have, n - pos)
            group.append(view[pos : pos + take] if take != n else view)
            have += take
            pos += take
            if have == chunk:
                yield group
                group, have = [], 0
    if group:
        yield group


def _check_total(topic: str, declared: int, actual: int) -> None:
    if declared != actual:
        raise StreamError(
            f"the body of {topic!r} declared {declared} bytes but produced {actual}",
            hint="a StreamBody's nbytes must equal the sum of the pieces it yields",
        )


# -------------------------------------------------------------------------- receiving
def allocate(size: int) -> memoryview:
    """One contiguous, writable, zero-filled buffer of ``size`` bytes.

    Large buffers are anonymous mappings: no upfront memset (a bytearray's would touch
    every page before the first byte arrives), pages are faulted in as chunks land, so
    that cost overlaps with the transfer, and the memory goes back to the system as soon
    as the last view is released.
    """
    if size < _MAPPED_MIN:
        return memoryview(bytearray(size))
    return memoryview(mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS))


class _FileSink:
    """Writes chunks straight to ``path``; the body is then a private mapping of it."""

    def __init__(self, path: Path, size: int):
        self.path = Path(path)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        os.ftruncate(self.fd, size)
        self.size = size

    def write(self, offset: int, data: memoryview) -> None:
        while data.nbytes:
            written = os.pwrite(self.fd, data, offset)
            data, offset = data[written:], offset + written

    def finish(self) -> memoryview:
        try:
            if self.size == 0:
                return memoryview(bytearray())
            return memoryview(mmap.mmap(self.fd, self.size, access=mmap.ACCESS_COPY))
        finally:
            os.close(self.fd)

    def abort(self) -> None:
        os.close(self.fd)
        self.path.unlink(missing_ok=True)


class _MemorySink:
    def __init__(self, size: int):
        self.buffer = allocate(size)

    def write(self, offset: int, data: memoryview) -> None:
        self.buffer[offset : offset + data.nbytes] = data

    def finish(self) -> memoryview:
        return self.buffer

    def abort(self) -> None:
        self.buffer = memoryview(b"")


SpoolChooser = Callable[[fr.Head], Path | None]


def receive(
    first: bytes,
    frames: Iterator[bytes | memoryview],
    *,
    max_body: int,
    spool: SpoolChooser | None = None,
    progress: Progress | None = None,
) -> Generator[bytes, None, tuple[fr.Head, memoryview]]:
    """Assemble one message that starts with frame ``first``; further frames come from
    ``frames``. Yields the ACK frames to send back; returns ``(head, body)``.

    ``spool(head)`` may return a file path: the body is then written there as it arrives
    instead of being held in memory.
    """
    kind, a, b, c = fr.parse(first)
    if kind not in (fr.ONE, fr.HEAD):
        raise FrameError(f"expected a HEAD or ONE frame, got {fr.KIND_NAMES[kind]}")
    head = fr.parse_head(first, a, max_body=max_body)
    path = spool(head) if spool else None
    if kind == fr.ONE and path is None:
        return head, _one_body(first, a, b, c, head)
    sink = _open_sink(head, path)
    try:
        if kind == fr.ONE:
            sink.write(0, memoryview(_one_body(first, a, b, c, head)))
        else:
            yield from _assemble(head, frames, sink, progress)
    except BaseException:
        sink.abort()
        raise
    return head, sink.finish()


def _open_sink(head: fr.Head, path: Path | None) -> Any:
    try:
        return _FileSink(path, head.size) if path else _MemorySink(head.size)
    except (OSError, MemoryError, OverflowError) as exc:
        where = f"spool file {path}" if path else "memory"
        raise StreamError(
            f"message {head.topic!r}: cannot hold {head.size} bytes in {where}: {exc}",
            hint="pass spool_to= (client) or spool_dir= (server) to stream large bodies to disk",
        ) from None


def _one_body(frame: bytes, head_len: int, crc: int, size: int, head: fr.Head) -> memoryview:
    start = fr.HEADER_SIZE + head_len
    data = memoryview(frame)[start:]
    if data.nbytes != size or size != head.size:
        raise FrameError(f"message {head.topic!r}: ONE frame holds {data.nbytes} of {size} bytes")
    if zlib.crc32(data) != crc:
        raise StreamError(f"message {head.topic!r}: body failed its CRC-32 check")
    body = memoryview(bytearray(data))  # writable, and independent of gRPC's bytes
    return body


def _assemble(
    head: fr.Head, frames: Iterator[bytes | memoryview], sink: Any, progress: Progress | None
) -> Generator[bytes, None, None]:
    expected_chunks = -(-head.size // head.chunk)
    crc, offset = 0, 0
    for seq, frame in enumerate(frames):  # seq: chunks received before this frame
        if progress is not None:
            progress.tick()
        kind, a, b, c = fr.parse(frame)
        if kind == fr.END:
            if a != seq or c != head.size or offset != head.size:
                raise StreamError(
                    f"message {head.topic!r} ended after {offset} of {head.size} bytes "
                    f"({seq} of {expected_chunks} chunks)"
                )
            if b != crc:
                raise StreamError(f"message {head.topic!r}: whole-body CRC-32 mismatch")
            return
        if kind != fr.DATA:
            raise FrameError(f"message {head.topic!r}: unexpected {fr.KIND_NAMES[kind]} frame")
        data = memoryview(frame)[fr.HEADER_SIZE :]
        want = min(head.chunk, head.size - offset)
        if a != seq or c != offset or data.nbytes != want or want <= 0:
            raise FrameError(
                f"message {head.topic!r}: chunk {a} at offset {c} with {data.nbytes} bytes, "
                f"expected chunk {seq} at offset {offset} with {want} bytes"
            )
        crc = zlib.crc32(data, crc)
        if crc != b:
            raise StreamError(
                f"message {head.topic!r}: chunk {seq} (offset {offset}) failed its CRC-32 check"
            )
        sink.write(offset, data)
        offset += want
        if (seq + 1) % head.ack_every == 0:
            yield fr.pack(fr.ACK, seq + 1)
    raise StreamError(
        f"message {head.topic!r}: the stream ended after {offset} of {head.size} bytes",
        hint="the peer disconnected or was cancelled mid-transfer",
    )
