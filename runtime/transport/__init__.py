"""The transport: calls between participants over gRPC with mutual TLS, bodies of any
size streamed in chunks with flow control and integrity checks.

gRPC stays inside this package (frames.py is the only module that knows the bytes)::

    server = RpcServer("127.0.0.1:0", pki.identity("server"), {"echo": handler})
    port = server.start()
    client = RpcClient(f"127.0.0.1:{port}", pki.identity("site-1"))
    reply = client.call("echo", Message({"round": 1}, serde.encode(model)), timeout=30)

A handler is ``handler(ctx: CallContext, msg: Message) -> Message | None``; ``ctx.peer`` and
``ctx.peer_role`` come from the caller's certificate (CN and OU). A received body is one
contiguous, writable memoryview, however large. Errors: RemoteError (the handler raised),
CallTimeoutError, StreamError, FrameError, TransportError; all RuntimeProtocolError.
The certificate-less local channel uses ``RpcServer(private_socket_address(), None, ...)``.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below load on first use (see __getattr__)
    from fljob.runtime.transport.client import RpcClient
    from fljob.runtime.transport.errors import (
        CallTimeoutError,
        FrameError,
        RemoteError,
        StreamError,
        TransportError,
    )
    from fljob.runtime.transport.frames import DEFAULT_CHUNK, MAX_CHUNK
    from fljob.runtime.transport.message import (
        Body,
        CallContext,
        FileBody,
        Handler,
        Message,
        StreamBody,
    )
    from fljob.runtime.transport.options import private_socket_address
    from fljob.runtime.transport.server import RpcServer
    from fljob.runtime.transport.stream import DEFAULT_WINDOW
    from fljob.runtime.transport.tls import LOCAL_PEER, TlsIdentity

# Lazy, so that a training script's local channel (client_api/local_wire.py, which
# uses frames.py and stream.py only) does not load the gRPC client and server modules.
_HOME = {
    "RpcClient": "client",
    "CallTimeoutError": "errors",
    "FrameError": "errors",
    "RemoteError": "errors",
    "StreamError": "errors",
    "TransportError": "errors",
    "DEFAULT_CHUNK": "frames",
    "MAX_CHUNK": "frames",
    "Body": "message",
    "CallContext": "message",
    "FileBody": "message",
    "Handler": "message",
    "Message": "message",
    "StreamBody": "message",
    "private_socket_address": "options",
    "RpcServer": "server",
    "DEFAULT_WINDOW": "stream",
    "LOCAL_PEER": "tls",
    "TlsIdentity": "tls",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_CHUNK",
    "DEFAULT_WINDOW",
    "LOCAL_PEER",
    "MAX_CHUNK",
    "Body",
    "CallContext",
    "CallTimeoutError",
    "FileBody",
    "FrameError",
    "Handler",
    "Message",
    "RemoteError",
    "RpcClient",
    "RpcServer",
    "StreamBody",
    "StreamError",
    "TlsIdentity",
    "TransportError",
    "private_socket_address",
]
