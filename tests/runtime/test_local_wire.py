"""The unix-socket channel between a site's job process and its script (transport frames)."""

from __future__ import annotations

import pickle
import socket
import struct
import tempfile
from pathlib import Path

import pytest

from fljob.runtime.client_api.local_wire import (
    LocalClient,
    LocalMessage,
    LocalServer,
    LocalWireError,
)
from fljob.runtime.transport import frames as fr


@pytest.fixture
def server():
    folder = Path(tempfile.mkdtemp(prefix="fljob-test-"))  # created 0700
    calls: list[str] = []

    def echo(ctx, msg):
        calls.append(ctx.topic)
        return LocalMessage({"got": msg.headers, "size": len(msg.body)}, [b"ab", b"cd"])

    def boom(ctx, msg):
        raise ValueError("bad input")

    srv = LocalServer(f"unix:{folder}/s.sock", {"echo": echo, "boom": boom})
    srv.start()
    yield srv, calls
    srv.stop()
    (folder / "s.sock").unlink(missing_ok=True)
    folder.rmdir()


def test_call_round_trip_with_scattered_body(server) -> None:
    srv, calls = server
    with LocalClient(f"unix:{srv.path}") as client:
        reply = client.call("echo", {"x": 1}, [b"12", memoryview(b"345")])
    assert reply.headers == {"got": {"x": 1}, "size": 5}
    assert bytes(reply.body) == b"abcd"
    assert calls == ["echo"]


@pytest.mark.parametrize(
    ("topic", "message"),
    [("boom", "boom: ValueError: bad input"), ("nope", "unknown topic 'nope'")],
    ids=["handler-raises", "unknown-topic"],
)
def test_errors_come_back_to_the_caller(server, topic, message) -> None:
    srv, _ = server
    with LocalClient(f"unix:{srv.path}") as client, pytest.raises(LocalWireError, match=message):
        client.call(topic, {})


def _framed(frame: bytes) -> bytes:
    return struct.pack("<I", len(frame)) + frame


def _one(head: bytes) -> bytes:
    return _framed(fr.pack(fr.ONE, len(head), 0, 0) + head)


@pytest.mark.parametrize(
    "frame",
    [
        pickle.dumps({"topic": "echo", "headers": {}}),
        struct.pack("<I", fr.MAX_FRAME + 1),
        _framed(b"XX" + fr.pack(fr.ONE)[2:]),
        _framed(fr.pack(fr.DATA, 0, 0, 0) + b"x"),
        _one(b"nope!"),
        _one(b"[]"),
        _one(b'{"topic": "echo", "headers": {}, "size": -1, "chunk": 1, "ack_every": 1}'),
    ],
    ids=[
        "pickle",
        "oversized-frame",
        "bad-magic",
        "data-before-head",
        "head-not-json",
        "head-not-object",
        "negative-size",
    ],
)
def test_malformed_frames_close_the_connection_unhandled(server, frame) -> None:
    srv, calls = server
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.settimeout(5)
        raw.connect(srv.path)
        raw.sendall(frame)
        try:
            assert raw.recv(100) == b""  # closed without a reply
        except ConnectionResetError:
            pass  # closed with our unread bytes still queued: also no reply
    assert calls == []


def test_an_open_socket_folder_is_refused(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    with pytest.raises(LocalWireError, match="open to other users"):
        LocalServer(f"unix:{tmp_path}/s.sock", {})
