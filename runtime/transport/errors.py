"""Errors the transport raises; all are :class:`fljob.errors.RuntimeProtocolError`.

``TransportError``  the peer cannot be reached, refused us, or the call timed out.
``StreamError``     a body stream broke mid-way (dropped connection, stall, checksum).
``FrameError``      a peer sent a malformed or oversized frame (never acted upon).
``RemoteError``     the remote handler raised; carries the topic and its message.
"""

from __future__ import annotations

from fljob.errors import RuntimeProtocolError


class TransportError(RuntimeProtocolError, ConnectionError):
    """The call did not complete: unreachable peer, refused certificate, timeout."""

    code = "FLJ720"


class CallTimeoutError(TransportError, TimeoutError):
    """The call's deadline passed, or a stream made no progress for too long."""

    code = "FLJ721"


class StreamError(TransportError):
    """A body stream broke: connection dropped mid-way, or a chunk failed its check."""

    code = "FLJ722"


class FrameError(StreamError, ValueError):
    """A frame is malformed, oversized or out of order; it is rejected, never acted on."""

    code = "FLJ723"


class RemoteError(RuntimeProtocolError):
    """The remote handler for ``topic`` raised; ``message`` is what it said.

    ``remote_type`` names the exception class on the remote side (e.g. ``KeyError``).
    A handler may raise ``RemoteError(ctx.topic, "why")`` itself to refuse a call: the
    caller then gets exactly that message.
    """

    code = "FLJ724"

    def __init__(self, topic: str, message: str, *, remote_type: str = "RemoteError"):
        super().__init__(f"remote handler for {topic!r} failed: {remote_type}: {message}")
        self.topic = topic
        self.remote_message = message
        self.remote_type = remote_type
