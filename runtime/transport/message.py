"""What handlers and callers exchange: :class:`Message`, bodies, and :class:`CallContext`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

BytesLike = bytes | bytearray | memoryview


@runtime_checkable
class StreamBody(Protocol):
    """A body produced piece by piece: ``nbytes`` is declared up front, iteration yields
    bytes-like pieces that add up to exactly ``nbytes``. Pieces are consumed one at a time,
    so a producer may build each just in time (``serde.encode_stream`` does, one tensor at
    a time). A piece must stay unchanged until the next one is requested."""

    nbytes: int

    def __iter__(self) -> Iterator[BytesLike]: ...


@dataclass(frozen=True, slots=True)
class FileBody:
    """A body read from a file in ``block``-sized pieces, never loaded whole.

    >>> Message({"name": "model.safetensors"}, FileBody(Path("model.safetensors")))
    """

    path: Path
    block: int = 4 << 20

    @property
    def nbytes(self) -> int:
        return os.stat(self.path).st_size

    def __iter__(self) -> Iterator[bytes]:
        with open(self.path, "rb", buffering=0) as fh:
            while piece := fh.read(self.block):
                yield piece


Body = BytesLike | list[BytesLike] | StreamBody


@dataclass(slots=True)
class Message:
    """Headers (JSON values) plus a body of any size.

    On send, ``body`` may be bytes-like, a list of bytes-like pieces (sent without joining,
    e.g. the frames of ``serde.encode``), or a :class:`StreamBody` such as :class:`FileBody`.
    A received message's body is always one contiguous, writable ``memoryview``.

    >>> Message({"round": 3}, serde.encode({"w": np.zeros(4)}))
    """

    headers: dict[str, Any] = field(default_factory=dict)
    body: Body = b""


@dataclass(frozen=True, slots=True)
class CallContext:
    """What a handler knows about the call it serves.

    ``peer`` is the caller's certificate common name and ``peer_role`` its role (the
    certificate's OU: ``"server"``, ``"site"`` or ``"admin"``); on a ``unix:`` channel
    both are ``"local"``.
    """

    topic: str
    peer: str
    peer_role: str
    _is_active: Callable[[], bool] = field(repr=False, default=lambda: True)
    _time_remaining: Callable[[], float | None] = field(repr=False, default=lambda: None)
    _add_callback: Callable[[Callable[[], None]], Any] = field(repr=False, default=lambda cb: False)

    def is_active(self) -> bool:
        """False once the caller has gone away (cancelled, disconnected, timed out)."""
        return self._is_active()

    def time_remaining(self) -> float | None:
        """Seconds left before the caller's deadline; None when it set none."""
        return self._time_remaining()

    def on_done(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from a gRPC thread) when the call ends for any reason;
        a long-poll handler can use it to wake up when its caller disconnects."""
        self._add_callback(callback)


Handler = Callable[[CallContext, Message], Message | None]


def body_parts(body: Body) -> tuple[int, Iterable[BytesLike]]:
    """``(total size, pieces)`` of any body a sender accepts."""
    if isinstance(body, bytes | bytearray | memoryview):
        view = _flat(body)
        return view.nbytes, (view,)
    if isinstance(body, list | tuple):
        views = [_flat(p) for p in body]
        return sum(v.nbytes for v in views), views
    if isinstance(body, StreamBody):
        return int(body.nbytes), body
    raise TypeError(
        f"a message body must be bytes-like, a list of bytes-like pieces or a StreamBody, "
        f"not {type(body).__name__}"
    )


def _flat(piece: BytesLike) -> memoryview:
    view = memoryview(piece)
    if view.ndim == 1 and view.format == "B":
        return view
    if not view.contiguous:
        raise TypeError("a message body piece must be a contiguous buffer")
    return view.cast("B")


def flat_view(piece: BytesLike) -> memoryview:
    """A 1-D unsigned-byte view of any contiguous buffer."""
    return _flat(piece)
