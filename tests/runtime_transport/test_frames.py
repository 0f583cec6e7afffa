"""Malformed, oversized, out-of-order and corrupted frames are rejected and logged.

The bad frames are crafted with the real framing module and sent over a real gRPC
channel (mutual TLS to the real RpcServer; a bare gRPC server for the client side).
"""

from __future__ import annotations

import json
import logging
import re
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from fljob.runtime.transport import (
    FrameError,
    Message,
    RpcClient,
    StreamError,
    private_socket_address,
)
from fljob.runtime.transport import frames as fr
from fljob.runtime.transport.options import SERVER_OPTIONS, channel_options, release_socket_address
from fljob.runtime.transport.stream import send_frames
from fljob.runtime.transport.tls import channel_credentials

CHUNK = 1000


def valid_frames(size: int, topic: str = "echo") -> list[bytes]:
    body = bytes(i % 256 for i in range(size))
    return list(
        send_frames(topic, {}, body, chunk=CHUNK, window=1 << 30, wait_credit=lambda seq: True)
    )


def with_head(doc: dict) -> bytes:
    raw = json.dumps(doc).encode()
    return fr.pack(fr.HEAD, len(raw)) + raw


def patch_crc(frame: bytes, crc: int) -> bytes:
    kind, a, _, c = fr.parse(frame)
    return fr.pack(kind, a, crc, c) + frame[fr.HEADER_SIZE :]


def flip_byte(frame: bytes, at: int) -> bytes:
    data = bytearray(frame)
    data[at] ^= 0xFF
    return bytes(data)


GOOD_HEAD = {"topic": "echo", "headers": {}, "size": 3000, "chunk": CHUNK, "ack_every": 1 << 20}
F = valid_frames(3000)  # HEAD, DATA 0, DATA 1, DATA 2, END

# (frames the client sends, gRPC status expected, text the server logs)
BAD_REQUESTS = {
    "garbage": ([b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"], "INVALID_ARGUMENT", "not an fljob frame"),
    "too-short": ([b"FJ\x01"], "INVALID_ARGUMENT", "shorter than a frame header"),
    "wrong-version": ([b"FJ\x09" + F[0][3:]], "INVALID_ARGUMENT", "unsupported frame version 9"),
    "unknown-kind": ([fr.pack(77)], "INVALID_ARGUMENT", "unknown frame kind 77"),
    "data-first": ([F[1]], "INVALID_ARGUMENT", "expected a HEAD or ONE frame, got DATA"),
    "head-not-json": ([fr.pack(fr.HEAD, 5) + b"{nope"], "INVALID_ARGUMENT", "not valid JSON"),
    "head-length-lies": ([fr.pack(fr.HEAD, 500) + b"{}"], "INVALID_ARGUMENT", "does not fit"),
    "head-not-object": ([with_head([1, 2])], "INVALID_ARGUMENT", "not a JSON object"),
    "head-no-topic": (
        [with_head({**GOOD_HEAD, "topic": 3})],
        "INVALID_ARGUMENT",
        "lacks a string 'topic'",
    ),
    "negative-size": (
        [with_head({**GOOD_HEAD, "size": -1})],
        "INVALID_ARGUMENT",
        "'size' is not a non-negative integer",
    ),
    "oversized-body": (
        [with_head({**GOOD_HEAD, "size": 1 << 40})],
        "INVALID_ARGUMENT",
        "over this peer's limit",
    ),
    "huge-chunks": (
        [with_head({**GOOD_HEAD, "chunk": 1 << 30})],
        "INVALID_ARGUMENT",
        "chunk size 1073741824",
    ),
    "chunk-skipped": ([F[0], F[2]], "INVALID_ARGUMENT", "expected chunk 0 at offset 0"),
    "chunk-repeated": ([F[0], F[1], F[1]], "INVALID_ARGUMENT", "expected chunk 1 at offset 1000"),
    "chunk-truncated": ([F[0], F[1][:-10]], "INVALID_ARGUMENT", "with 990 bytes"),
    "ack-in-body": ([F[0], fr.pack(fr.ACK, 1)], "INVALID_ARGUMENT", "unexpected ACK frame"),
    "corrupted-chunk": (
        [F[0], F[1], flip_byte(F[2], fr.HEADER_SIZE + 17), F[3], F[4]],
        "DATA_LOSS",
        "chunk 1 (offset 1000) failed its CRC-32 check",
    ),
    "corrupted-one": (
        [flip_byte(valid_frames(10)[0], -1)],
        "DATA_LOSS",
        "body failed its CRC-32 check",
    ),
    "end-too-early": ([F[0], F[1], F[4]], "DATA_LOSS", "ended after 1000 of 3000 bytes"),
    "whole-crc-wrong": ([*F[:4], patch_crc(F[4], 12345)], "DATA_LOSS", "whole-body CRC-32"),
    "stream-cut": ([F[0], F[1], F[2]], "DATA_LOSS", "the stream ended after 2000 of 3000"),
}


@pytest.fixture
def raw_call(serve, pki):
    """Send raw frames to a real RpcServer over mutual TLS."""
    _, address = serve({"echo": lambda ctx, msg: msg}, max_body=1 << 20)
    channel = grpc.secure_channel(
        address, channel_credentials(pki.identity("site-1")), options=channel_options("server")
    )
    call = channel.stream_stream("/fljob.Rpc/Call")
    unary = channel.unary_unary("/fljob.Rpc/Unary")

    def send(frames, method="Call"):
        if method == "Unary":
            return [unary(frames[0], timeout=10)]
        return list(call(iter(frames), timeout=10))

    yield send
    channel.close()


@pytest.mark.parametrize(
    ("frames", "status", "logged"), BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys()
)
def test_server_rejects_bad_frames_and_logs_them(raw_call, caplog, frames, status, logged):
    with (
        caplog.at_level(logging.ERROR, logger="fljob.transport"),
        pytest.raises(grpc.RpcError) as info,
    ):
        raw_call(frames)
    assert info.value.code().name == status
    assert logged in info.value.details()
    messages = [r.getMessage() for r in caplog.records if r.name == "fljob.transport"]
    assert any(logged in m and "site-1" in m for m in messages), messages


ONE_ONLY = "a unary request must be a single ONE frame"
SINGLE = {
    name: (BAD_REQUESTS[name][0], BAD_REQUESTS[name][1], logged or BAD_REQUESTS[name][2])
    for name, logged in [
        ("garbage", None),
        ("wrong-version", None),
        ("unknown-kind", None),
        ("corrupted-one", None),
        ("data-first", ONE_ONLY),
        ("head-not-json", ONE_ONLY),
    ]
}


@pytest.mark.parametrize(("frames", "status", "logged"), SINGLE.values(), ids=SINGLE.keys())
def test_unary_method_rejects_bad_frames_and_logs_them(raw_call, caplog, frames, status, logged):
    with (
        caplog.at_level(logging.ERROR, logger="fljob.transport"),
        pytest.raises(grpc.RpcError) as info,
    ):
        raw_call(frames, "Unary")
    assert info.value.code().name == status
    assert logged in info.value.details()
    assert any(logged in r.getMessage() for r in caplog.records)


def test_server_accepts_the_untouched_frames(raw_call):
    replies = raw_call(F)  # the same frames as above, unmodified: an echo comes back
    assert len(replies) == 1  # 3000 bytes fit the server's 1 MiB chunk: one ONE frame
    kind, head_len, _, size = fr.parse(replies[0])
    assert (kind, size) == (fr.ONE, 3000)
    assert replies[0][fr.HEADER_SIZE + head_len :] == bytes(i % 256 for i in range(3000))


def test_grpc_refuses_a_message_over_the_frame_limit(raw_call):
    with pytest.raises(grpc.RpcError) as info:
        raw_call([fr.pack(fr.DATA) + bytes(fr.MAX_FRAME)])
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


# ------------------------------------------------------- corrupted replies, client side
@pytest.fixture
def raw_server():
    """A bare gRPC server on a private unix socket replying with scripted frames.

    A one-frame request goes to ``Unary``: it answers ``script["unary"]`` (by default a
    MORE frame), and ``Fetch`` then streams ``script["reply"]``. A larger request goes to
    ``Call``, which reads it whole and streams ``script["reply"]``.
    """
    script: dict = {}
    hold = threading.Event()

    def reply():
        yield from script["reply"]
        if script.get("then_stall"):
            hold.wait(20)

    def call(request_iterator, context):
        for frame in request_iterator:  # the request stays open for acknowledgements
            if fr.parse(frame)[0] == fr.END:
                break
        yield from reply()

    def unary(request, context):
        return script.get("unary", fr.pack(fr.MORE, 0, 0, 3000) + b"ticket")

    def fetch(request, context):
        assert request == fr.pack(fr.FETCH) + b"ticket"
        yield from reply()

    server = grpc.server(ThreadPoolExecutor(2), options=SERVER_OPTIONS)
    methods = {
        "Call": grpc.stream_stream_rpc_method_handler(call),
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "Fetch": grpc.unary_stream_rpc_method_handler(fetch),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("fljob.Rpc", methods),))
    address = private_socket_address("raw")
    server.add_insecure_port(address)
    server.start()
    yield address, script
    hold.set()
    server.stop(0)
    release_socket_address(address)


R = valid_frames(3000, topic="reply")
BAD_REPLIES = {
    "corrupted-chunk": (
        [R[0], flip_byte(R[1], -1), *R[2:]],
        StreamError,
        "chunk 0 (offset 0) failed its CRC-32 check",
    ),
    "garbage": ([b"\x00" * 40], FrameError, "not an fljob frame"),
    "chunk-skipped": ([R[0], R[2]], FrameError, "expected chunk 0"),
    "cut-short": ([R[0], R[1]], StreamError, "the stream ended after 1000 of 3000 bytes"),
    "frame-after-end": ([*R, R[1]], FrameError, "a frame after the end of the body"),
    "no-reply": ([], StreamError, "ended the call without a reply"),
}
REQUESTS = {"one-frame-request": b"", "streamed-request": bytes(3 << 20)}


@pytest.mark.parametrize(("frames", "error", "text"), BAD_REPLIES.values(), ids=BAD_REPLIES.keys())
@pytest.mark.parametrize("request_body", REQUESTS.values(), ids=REQUESTS.keys())
def test_client_rejects_bad_replies(raw_server, frames, error, text, request_body):
    address, script = raw_server
    script["reply"] = frames
    with RpcClient(address, None) as client, pytest.raises(error, match=re.escape(text)):
        client.call("echo", Message({}, request_body), timeout=10)


@pytest.mark.parametrize(
    ("answer", "text"),
    [(b"\x00" * 30, "not an fljob frame"), (R[1], "expected a HEAD or ONE frame, got DATA")],
    ids=["garbage", "data-frame"],
)
def test_client_rejects_a_bad_unary_answer(raw_server, answer, text):
    address, script = raw_server
    script["unary"] = answer
    with RpcClient(address, None) as client, pytest.raises(FrameError, match=text):
        client.call("echo", Message(), timeout=10)


def test_client_cancels_a_stalled_reply(raw_server):
    address, script = raw_server
    script["reply"], script["then_stall"] = R[:2], True
    with (
        RpcClient(address, None, stall_timeout=0.8) as client,
        pytest.raises(StreamError, match="made no progress for 1 s"),
    ):
        client.call("echo", Message(), timeout=15)


def test_server_cancels_a_stalled_request(serve, pki, caplog):
    _, address = serve({"echo": lambda ctx, msg: msg}, stall_timeout=0.8)
    channel = grpc.secure_channel(
        address, channel_credentials(pki.identity("site-2")), options=channel_options("server")
    )
    release = threading.Event()

    def stalling():
        yield F[0]
        yield F[1]
        release.wait(20)

    with (
        caplog.at_level(logging.WARNING, logger="fljob.transport"),
        pytest.raises(grpc.RpcError) as info,
    ):
        list(channel.stream_stream("/fljob.Rpc/Call")(stalling(), timeout=15))
    release.set()
    channel.close()
    assert info.value.code() == grpc.StatusCode.CANCELLED
    assert any("site-2 made no progress" in r.getMessage() for r in caplog.records)


def test_header_struct_is_twenty_bytes():
    assert fr.HEADER_SIZE == struct.calcsize("<2sBBIIQ") == 20
