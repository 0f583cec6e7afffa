"""The wire format: every gRPC message on the ``/fljob.Rpc/Call`` stream is one frame.

This is the only module that knows the byte layout. A frame is a fixed 20-byte header
followed by a payload::

    magic "FJ" | version u8 | kind u8 | a u32 | b u32 | c u64 | payload

=====  =========================  ==========================  ====================
kind   a                          b                           c, payload
=====  =========================  ==========================  ====================
HEAD   length of the JSON head    0                           0, JSON head
ONE    length of the JSON head    crc32 of the body           body size, JSON head + body
DATA   chunk sequence number      running crc32 to this chunk offset, chunk bytes
END    number of chunks           crc32 of the whole body     body size, empty
ACK    chunks received so far     0                           0, empty
MORE   0                          0                           reply size, ticket
FETCH  0                          0                           0, ticket
=====  =========================  ==========================  ====================

The JSON head of a message is ``{"topic": str, "headers": {...}, "size": int,
"chunk": int, "ack_every": int}``. A body at most one chunk long travels in a single ONE
frame; a longer one as HEAD, DATA..., END. Errors travel as gRPC status codes, never as
frames. All integers are little-endian.

Two gRPC methods carry them. ``Call`` (bidirectional stream) takes any request: the
request's frames go up, acknowledgements and then the reply's frames come down, and the
acknowledgements of the reply go up. ``Unary`` takes a request that fits one ONE frame and
answers with the reply's ONE frame; a larger reply is parked on the server and the answer
is a MORE frame whose ticket the caller redeems with ``Fetch`` (unary request, streamed
reply). A unary gRPC call costs about a third of a bidirectional one in grpcio, and most
calls (tasks, heartbeats, metrics) are small.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

from fljob.runtime.transport.errors import FrameError

MAGIC = b"FJ"
VERSION = 1
HEAD, ONE, DATA, END, ACK, MORE, FETCH = 1, 2, 3, 4, 5, 6, 7
KIND_NAMES = {
    HEAD: "HEAD",
    ONE: "ONE",
    DATA: "DATA",
    END: "END",
    ACK: "ACK",
    MORE: "MORE",
    FETCH: "FETCH",
}

_HEADER = struct.Struct("<2sBBIIQ")
HEADER_SIZE = _HEADER.size  # 20

DEFAULT_CHUNK = 1 << 20
MAX_CHUNK = 4 << 20  #: the largest chunk a peer may declare
MAX_HEAD = 1 << 20  #: the largest JSON head (topic + headers)
#: No gRPC message may be larger: a chunk or a head, plus the frame header.
MAX_FRAME = MAX_CHUNK + MAX_HEAD + HEADER_SIZE


@dataclass(frozen=True, slots=True)
class Head:
    """What a HEAD or ONE frame declares about the message that follows."""

    topic: str
    headers: dict[str, Any]
    size: int
    chunk: int
    ack_every: int


def pack(kind: int, a: int = 0, b: int = 0, c: int = 0) -> bytes:
    """The 20-byte frame header alone (payload appended by the caller)."""
    return _HEADER.pack(MAGIC, VERSION, kind, a, b, c)


def head_bytes(head: Head) -> bytes:
    doc = {
        "topic": head.topic,
        "headers": head.headers,
        "size": head.size,
        "chunk": head.chunk,
        "ack_every": head.ack_every,
    }
    try:
        raw = json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise FrameError(
            f"message headers for {head.topic!r} are not JSON: {exc}",
            hint="headers hold JSON values only; put objects in the body (fljob.runtime.serde)",
        ) from None
    if len(raw) > MAX_HEAD:
        raise FrameError(f"message headers for {head.topic!r} exceed {MAX_HEAD} bytes")
    return raw


def parse(frame: bytes | memoryview) -> tuple[int, int, int, int]:
    """``(kind, a, b, c)`` of a frame; FrameError if the header is malformed."""
    if len(frame) < HEADER_SIZE:
        raise FrameError(f"frame of {len(frame)} bytes is shorter than a frame header")
    if len(frame) > MAX_FRAME:
        raise FrameError(f"frame of {len(frame)} bytes exceeds the {MAX_FRAME}-byte limit")
    magic, version, kind, a, b, c = _HEADER.unpack_from(frame)
    if magic != MAGIC:
        raise FrameError(f"not an fljob frame (magic {magic!r})")
    if version != VERSION:
        raise FrameError(f"unsupported frame version {version} (this peer speaks {VERSION})")
    if kind not in KIND_NAMES:
        raise FrameError(f"unknown frame kind {kind}")
    return kind, a, b, c


def _count(doc: dict[str, Any], name: str) -> int:
    """The non-negative integer field ``name`` of a message head (True is not 1 here)."""
    value = doc.get(name)
    if type(value) is not int or value < 0:
        raise FrameError(f"message head field {name!r} is not a non-negative integer")
    return value


def parse_head(frame: bytes, length: int, *, max_body: int) -> Head:
    """Decode and check the JSON head that starts at the frame's payload."""
    if length > MAX_HEAD or HEADER_SIZE + length > len(frame):
        raise FrameError(f"declared head length {length} does not fit the frame")
    try:
        doc = json.loads(frame[HEADER_SIZE : HEADER_SIZE + length])
    except (UnicodeDecodeError, ValueError) as exc:
        raise FrameError(f"message head is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise FrameError("message head is not a JSON object")
    topic, headers = doc.get("topic"), doc.get("headers")
    if not isinstance(topic, str) or not isinstance(headers, dict):
        raise FrameError("message head lacks a string 'topic' or an object 'headers'")
    size, chunk, ack_every = (_count(doc, name) for name in ("size", "chunk", "ack_every"))
    if size > max_body:
        raise FrameError(
            f"message {topic!r} declares {size} bytes, over this peer's limit of {max_body}"
        )
    if not 1 <= chunk <= MAX_CHUNK or ack_every < 1:
        raise FrameError(f"message {topic!r} declares chunk size {chunk}, outside 1..{MAX_CHUNK}")
    return Head(topic, headers, size, chunk, ack_every)
