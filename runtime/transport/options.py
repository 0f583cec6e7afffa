"""gRPC channel and server options, and private ``unix:`` socket addresses."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from fljob.runtime.transport import frames as fr
from fljob.runtime.transport.errors import TransportError

#: Requests over HTTP/2 are at most one frame; gRPC itself rejects anything larger.
_LIMITS = [
    ("grpc.max_receive_message_length", fr.MAX_FRAME),
    ("grpc.max_send_message_length", fr.MAX_FRAME),
]
# Keepalive pings detect a dead peer during a long-poll or a stalled stream within
# about 30 s; the server's ping policy is relaxed so that clients' pings never earn a
# GOAWAY ("too many pings").
_KEEPALIVE = [
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
]

SERVER_OPTIONS = [
    *_LIMITS,
    *_KEEPALIVE,
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.so_reuseport", 0),  # a second server must not silently share a port
]


def channel_options(server_name: str | None) -> list[tuple[str, object]]:
    options: list[tuple[str, object]] = [*_LIMITS, *_KEEPALIVE]
    if server_name:
        # The server certificate names the participant (SAN DNS:<server_name>), so the
        # check holds whatever host or IP the address uses.
        options.append(("grpc.ssl_target_name_override", server_name))
    return options


_OWN_DIRS: set[str] = set()


def private_socket_address(name: str = "rpc") -> str:
    """A fresh ``unix:`` address inside a new private (0700) directory.

    Only this user can connect to it, which is what makes the certificate-less local
    channel between a site's job process and its training script safe. The directory
    lives under the system temp dir because socket paths are limited to ~100 bytes.

    >>> server = RpcServer(private_socket_address("job-1"), None, handlers)
    """
    folder = tempfile.mkdtemp(prefix="fljob-")  # mkdtemp creates it 0700
    _OWN_DIRS.add(folder)
    return f"unix:{folder}/{name}.sock"


def release_socket_address(address: str) -> None:
    """Remove the socket file, and its folder if private_socket_address made it."""
    path = Path(address.removeprefix("unix:").removeprefix("//"))
    path.unlink(missing_ok=True)
    if str(path.parent) in _OWN_DIRS:
        try:
            path.parent.rmdir()
            _OWN_DIRS.discard(str(path.parent))
        except OSError:
            pass  # something else lives there: leave it


def check_private_socket(address: str) -> None:
    """A ``unix:`` socket must live in a directory only its owner can enter."""
    if not address.startswith("unix:"):
        raise TransportError(
            f"{address!r}: a channel without certificates is allowed only on a unix: socket",
            hint="pass a TlsIdentity for TCP addresses (mutual TLS is always on)",
        )
    path = Path(address.removeprefix("unix:").removeprefix("//"))
    try:
        info = os.stat(path.parent)
    except OSError as exc:
        raise TransportError(f"socket directory {path.parent}: {exc.strerror}") from None
    if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
        raise TransportError(
            f"socket directory {path.parent} is open to other users "
            f"(mode {stat.S_IMODE(info.st_mode):o})",
            hint="use fljob.runtime.transport.private_socket_address() or chmod 700 it",
        )
