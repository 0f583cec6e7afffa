"""The local channel (site job process <-> training script) on the transport's streaming
layer: chunked bodies, spooling, integrity checks, broken streams, a light script side."""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import pytest

from fljob.runtime.client_api.local_wire import (
    LocalClient,
    LocalMessage,
    LocalServer,
    LocalWireError,
)
from fljob.runtime.transport import frames as fr

CHUNK = 4096


def pattern(size: int) -> bytes:
    return bytes(i * 7 % 251 for i in range(size))


@pytest.fixture
def echo_server():
    """A server with small chunks and window, so that short bodies take many chunks."""
    folder = Path(tempfile.mkdtemp(prefix="fljob-test-"))
    calls: list[int] = []

    def echo(ctx, msg):
        calls.append(msg.body.nbytes)
        return LocalMessage({"size": msg.body.nbytes}, bytes(msg.body)[::-1])

    spool = folder / "spool"
    spool.mkdir()
    srv = LocalServer(
        f"unix:{folder}/s.sock",
        {"echo": echo},
        chunk_size=CHUNK,
        window=2,
        spool_dir=spool,
        spool_threshold=3 * CHUNK,
    )
    srv.start()
    yield srv, calls, spool
    srv.stop()
    for path in [*spool.iterdir(), spool, folder / "s.sock"]:
        path.rmdir() if path.is_dir() else path.unlink(missing_ok=True)
    folder.rmdir()


@pytest.mark.parametrize(
    "size",
    [0, 1, CHUNK, CHUNK + 1, 3 * CHUNK - 1, 3 * CHUNK, 40 * CHUNK + 7],
    ids=["empty", "one-byte", "one-chunk", "chunk-plus-one", "under-spool", "spooled", "many"],
)
def test_bodies_of_any_size_round_trip_in_chunks(echo_server, size: int) -> None:
    srv, calls, spool = echo_server
    data = pattern(size)
    with LocalClient(f"unix:{srv.path}", chunk_size=CHUNK, window=2) as client:
        reply = client.call("echo", {"n": size}, [data[: size // 2], data[size // 2 :]])
    assert reply.headers == {"size": size}
    assert bytes(reply.body) == data[::-1]
    assert reply.body.readonly is False  # a received body is writable, as over gRPC
    assert calls == [size]
    assert list(spool.iterdir()) == []  # a spooled body's file is gone once received


def test_a_large_reply_can_be_spooled_to_a_file(echo_server, tmp_path: Path) -> None:
    srv, _, _ = echo_server
    data = pattern(10 * CHUNK + 3)
    target = tmp_path / "reply.body"
    with LocalClient(f"unix:{srv.path}", chunk_size=CHUNK) as client:
        reply = client.call("echo", {}, data, spool_to=target)
    assert target.read_bytes() == data[::-1]
    assert bytes(reply.body) == data[::-1]


def _frame(kind: int, a: int = 0, b: int = 0, c: int = 0, payload: bytes = b"") -> bytes:
    frame = fr.pack(kind, a, b, c) + payload
    return struct.pack("<I", len(frame)) + frame


def _head(size: int) -> bytes:
    head = fr.head_bytes(fr.Head("echo", {}, size, CHUNK, 1))
    return _frame(fr.HEAD, len(head), payload=head)


def _data(seq: int, offset: int, chunk: bytes, crc: int) -> bytes:
    return _frame(fr.DATA, seq, crc, offset, chunk)


GOOD = pattern(2 * CHUNK)
CRC0 = zlib.crc32(GOOD[:CHUNK])
CRC1 = zlib.crc32(GOOD[CHUNK:], CRC0)


@pytest.mark.parametrize(
    "stream",
    [
        _head(2 * CHUNK) + _data(0, 0, GOOD[:CHUNK], CRC0 ^ 1),
        _head(2 * CHUNK) + _data(0, 0, GOOD[:CHUNK], CRC0) + _data(1, CHUNK, GOOD[CHUNK:], 0),
        _head(2 * CHUNK) + _data(1, CHUNK, GOOD[CHUNK:], CRC1),
        _head(2 * CHUNK)
        + _data(0, 0, GOOD[:CHUNK], CRC0)
        + _data(1, CHUNK, GOOD[CHUNK:], CRC1)
        + _frame(fr.END, 2, CRC1 ^ 1, 2 * CHUNK),
        _head(2 * CHUNK) + _data(0, 0, GOOD[:CHUNK], CRC0),  # then the sender goes away
    ],
    ids=["corrupted-chunk", "bad-chained-crc", "gap", "bad-whole-body-crc", "dropped-mid-way"],
)
def test_broken_streams_never_reach_the_handler(echo_server, stream: bytes) -> None:
    srv, calls, _ = echo_server
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.settimeout(5)
        raw.connect(srv.path)
        raw.sendall(stream)
        raw.shutdown(socket.SHUT_WR)
        received = b""
        try:
            while chunk := raw.recv(1 << 16):
                received += chunk
        except ConnectionResetError:
            pass
    kinds = []
    while received:  # only acknowledgements came back, never a reply
        (length,) = struct.unpack_from("<I", received)
        kinds.append(fr.parse(received[4 : 4 + length])[0])
        received = received[4 + length :]
    assert set(kinds) <= {fr.ACK}
    assert calls == []
    with LocalClient(f"unix:{srv.path}", chunk_size=CHUNK) as client:  # still serving
        assert client.call("echo", {}, b"ok").headers == {"size": 2}


def test_a_reply_the_server_cannot_finish_fails_the_call(tmp_path: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="fljob-test-"))

    class Broken:
        nbytes = 5 * CHUNK

        def __iter__(self):
            yield b"x" * CHUNK
            raise OSError("disk gone")

    srv = LocalServer(f"unix:{folder}/s.sock", {"get": lambda c, m: LocalMessage({}, Broken())})
    srv.start()
    try:
        with (
            LocalClient(f"unix:{srv.path}") as client,
            pytest.raises(LocalWireError, match="local channel"),
        ):
            client.call("get", {}, timeout=10)
    finally:
        srv.stop()
        (folder / "s.sock").unlink(missing_ok=True)
        folder.rmdir()


def test_the_script_side_stays_light() -> None:
    """The Client API and its channel load no grpc, no torch, not even the transport's
    gRPC client module, in the script."""
    code = (
        "import sys, fljob.client\n"
        "from fljob.runtime.client_api import local_wire\n"
        "from fljob.runtime import serde\n"
        "heavy = ('grpc', 'torch', 'fljob.runtime.transport.client')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
