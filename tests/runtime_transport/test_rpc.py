"""Calls over mutual TLS: identities, errors, long-polls, bodies of every shape."""

from __future__ import annotations

import logging
import os
import threading
import time
import zlib
from pathlib import Path

import grpc
import numpy as np
import pytest

from fljob.errors import BundleError, RuntimeProtocolError
from fljob.runtime import serde
from fljob.runtime.transport import (
    CallTimeoutError,
    FileBody,
    Message,
    RemoteError,
    RpcClient,
    RpcServer,
    StreamError,
    TransportError,
    private_socket_address,
)


def echo(ctx, msg):
    return Message({"peer": ctx.peer, "role": ctx.peer_role, **msg.headers}, msg.body)


@pytest.mark.parametrize(
    ("name", "role"),
    [("site-1", "site"), ("site-2", "site"), ("admin@example.org", "admin")],
    ids=["site-1", "site-2", "admin"],
)
def test_mtls_round_trip_names_the_peer(serve, connect, name, role):
    _, address = serve({"echo": echo})
    reply = connect(address, name).call("echo", Message({"n": 1}, b"hello"), timeout=10)
    assert reply.headers == {"peer": name, "role": role, "n": 1}
    assert bytes(reply.body) == b"hello"
    assert isinstance(reply.body, memoryview) and not reply.body.readonly


def test_client_without_certificate_is_refused(serve, pki):
    _, address = serve({"echo": echo})
    ca = Path(pki.identity("site-1").ca_cert).read_bytes()
    channel = grpc.secure_channel(
        address,
        grpc.ssl_channel_credentials(root_certificates=ca),  # trusts the server, no cert
        options=[("grpc.ssl_target_name_override", "server")],
    )
    call = channel.stream_stream("/fljob.Rpc/Call")
    with pytest.raises(grpc.RpcError) as info:
        list(call(iter([b"FJ"]), timeout=10))
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    channel.close()


def test_certificate_from_another_ca_is_refused(serve, other_pki):
    _, address = serve({"echo": echo})
    client = RpcClient(address, other_pki.identity("site-1"))
    with pytest.raises(TransportError, match="failed \\(UNAVAILABLE\\)"):
        client.call("echo", Message(), timeout=10)
    client.close()


def test_server_from_another_ca_is_refused_by_the_client(pki, other_pki, connect):
    server = RpcServer("127.0.0.1:0", other_pki.identity("server"), {"echo": echo})
    port = server.start()
    try:
        with pytest.raises(TransportError):
            connect(f"127.0.0.1:{port}").call("echo", Message(), timeout=10)
    finally:
        server.stop(0)


def test_tcp_without_identity_is_refused_up_front():
    with pytest.raises(TransportError, match="only on a unix: socket"):
        RpcClient("127.0.0.1:1", None)
    with pytest.raises(TransportError, match="only on a unix: socket"):
        RpcServer("127.0.0.1:0", None, {})


def test_unreachable_server_is_a_transport_error(connect):
    with pytest.raises(TransportError, match="UNAVAILABLE") as info:
        connect("127.0.0.1:9").call("echo", Message(), timeout=5)
    assert isinstance(info.value, RuntimeProtocolError)


class _Failure(Exception):
    pass


def _raise(exc: Exception):
    raise exc


@pytest.mark.parametrize(
    ("handler", "remote_type", "text"),
    [
        (lambda c, m: {}["missing"], "KeyError", "'missing'"),
        (lambda c, m: _raise(_Failure("bad input")), "_Failure", "bad input"),
        (
            lambda c, m: _raise(BundleError("no MANIFEST")),
            "BundleError",
            "no MANIFEST",
        ),
        (
            lambda c, m: _raise(RemoteError(c.topic, "site-9 is not in this job")),
            "RemoteError",
            "site-9 is not in this job",
        ),
        (lambda c, m: Message({"x": object()}), "FrameError", "not JSON"),
        (lambda c, m: Message({}, 42), "TypeError", "must be bytes-like"),
    ],
    ids=[
        "key-error",
        "custom-exception",
        "fljob-error",
        "refusal",
        "reply-headers-not-json",
        "reply-body-int",
    ],
)
def test_handler_failure_is_a_remote_error(serve, connect, handler, remote_type, text):
    _, address = serve({"fail": handler, "echo": echo})
    client = connect(address)
    with pytest.raises(RemoteError) as info:
        client.call("fail", Message(), timeout=10)
    assert info.value.topic == "fail"
    assert info.value.remote_type == remote_type
    assert text in info.value.remote_message
    assert info.value.remote_message.count("remote handler") == 0  # not wrapped twice
    # The server survives and the channel is still good.
    assert bytes(client.call("echo", Message({}, b"ok"), timeout=10).body) == b"ok"


def test_unknown_topic_names_the_known_ones(serve, connect):
    _, address = serve({"echo": echo, "train": echo})
    with pytest.raises(RemoteError, match="no handler for topic 'tarin'; known: echo, train"):
        connect(address).call("tarin", Message(), timeout=10)


def test_long_poll_waits_for_an_event_without_polling(serve, connect):
    ready = threading.Event()
    tasks: list[str] = []

    def get_task(ctx, msg):
        assert ready.wait(timeout=10)
        return Message({"task": tasks[0]})

    def post_task(ctx, msg):
        tasks.append(msg.headers["task"])
        ready.set()
        return Message()

    _, address = serve({"get_task": get_task, "post_task": post_task})
    site, admin = connect(address, "site-1"), connect(address, "admin@example.org")
    answers: list[Message] = []
    waiter = threading.Thread(target=lambda: answers.append(site.call("get_task", Message())))
    waiter.start()
    time.sleep(0.2)
    assert waiter.is_alive() and not answers  # parked on the server
    start = time.perf_counter()
    admin.call("post_task", Message({"task": "train"}), timeout=10)
    waiter.join(timeout=10)
    assert answers[0].headers == {"task": "train"}
    assert time.perf_counter() - start < 1.0


def test_deadline_is_a_timeout_error(serve, connect):
    release = threading.Event()
    _, address = serve({"slow": lambda c, m: release.wait(10) and Message()})
    try:
        with pytest.raises(CallTimeoutError, match="timed out") as info:
            connect(address).call("slow", Message(), timeout=0.3)
        assert isinstance(info.value, TimeoutError)
    finally:
        release.set()


def test_handler_sees_the_caller_go_away(serve, connect):
    gone = threading.Event()

    def park(ctx, msg):
        ctx.on_done(gone.set)
        gone.wait(10)
        return Message({"active": ctx.is_active()})

    _, address = serve({"park": park})
    with pytest.raises(CallTimeoutError):
        connect(address).call("park", Message(), timeout=0.3)
    assert gone.wait(5)


# ------------------------------------------------------------------------ bodies
def _pattern(size: int) -> bytes:
    return bytes((i * 7 + 3) % 251 for i in range(size))


@pytest.mark.parametrize(
    "size",
    [0, 1, 999, 1000, 1001, 5000, 64_123],
    ids=[
        "empty",
        "one-byte",
        "under-a-chunk",
        "one-chunk",
        "chunk-plus-one",
        "five-chunks",
        "many-chunks",
    ],
)
def test_bodies_of_every_size_arrive_whole(serve, connect, size):
    # Small chunks and a small window exercise chunking and flow control quickly.
    _, address = serve({"echo": echo}, chunk_size=1000, window=2)
    client = connect(address, chunk_size=1000, window=3)
    data = _pattern(size)
    reply = client.call("echo", Message({}, data), timeout=20)
    assert reply.body.nbytes == size and bytes(reply.body) == data


def test_list_body_is_sent_without_joining(serve, connect):
    _, address = serve({"echo": echo}, chunk_size=1000)
    pieces = [
        b"a" * 10,
        bytearray(b"b" * 2500),
        memoryview(b"c" * 1),
        np.arange(300, dtype=np.int32),
    ]
    reply = connect(address, chunk_size=1000).call("echo", Message({}, pieces), timeout=20)
    assert bytes(reply.body) == b"".join(bytes(memoryview(p).cast("B")) for p in pieces)


@pytest.mark.parametrize("size", [100, 3 << 20], ids=["one-frame", "chunked"])
def test_file_body_and_spooling_to_a_file(serve, connect, tmp_path, size):
    source = tmp_path / "model.bin"
    source.write_bytes(os.urandom(size))
    _, address = serve({"echo": echo})
    target = tmp_path / "received.bin"
    reply = connect(address).call(
        "echo", Message({}, FileBody(source)), timeout=30, spool_to=target
    )
    assert target.read_bytes() == source.read_bytes()
    assert bytes(reply.body) == source.read_bytes()
    assert target.stat().st_mode & 0o777 == 0o600


def test_server_spools_large_requests(serve, connect, tmp_path):
    seen = {}

    def checksum(ctx, msg):
        seen["files_during_call"] = sorted(p.name for p in tmp_path.iterdir())
        return Message({"crc": zlib.crc32(msg.body), "n": msg.body.nbytes})

    _, address = serve({"sum": checksum}, spool_dir=tmp_path, spool_threshold=2 << 20)
    data = os.urandom(3 << 20)
    reply = connect(address).call("sum", Message({}, data), timeout=30)
    assert reply.headers == {"crc": zlib.crc32(data), "n": len(data)}
    assert seen["files_during_call"] == []  # unlinked once mapped: nothing left behind
    assert list(tmp_path.iterdir()) == []


def test_serde_stream_body_round_trip(serve, connect):
    model = {f"layer{i}.weight": np.full((300, 70), i, dtype=np.float32) for i in range(5)}
    _, address = serve({"echo": echo})
    reply = connect(address).call(
        "echo", Message({"round": 2}, serde.encode_stream(model)), timeout=30
    )
    back = serde.decode(reply.body)
    assert reply.headers["round"] == 2
    for name, value in model.items():
        np.testing.assert_array_equal(back[name], value)


def test_stream_body_that_lies_about_its_size_fails_the_sender(serve, connect):
    class Short:
        nbytes = 5000

        def __iter__(self):
            yield b"x" * 3000

    _, address = serve({"echo": echo}, chunk_size=1000)
    with pytest.raises(RuntimeProtocolError, match="declared 5000 bytes but produced 3000"):
        connect(address, chunk_size=1000).call("echo", Message({}, Short()), timeout=10)


def test_concurrent_calls_share_one_channel(serve, connect):
    _, address = serve({"echo": echo})
    client = connect(address)
    results: dict[int, bytes] = {}

    def one(i: int) -> None:
        results[i] = bytes(client.call("echo", Message({}, _pattern(1 << 18)[i:]), timeout=30).body)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(results[i] == _pattern(1 << 18)[i:] for i in range(6))


# --------------------------------------------------------------- local channel
def test_unix_socket_channel_without_certificates(tmp_path):
    address = private_socket_address("job")
    server = RpcServer(address, None, {"echo": echo})
    assert server.start() == 0
    folder = Path(address.removeprefix("unix:")).parent
    assert folder.stat().st_mode & 0o777 == 0o700
    try:
        with RpcClient(address, None) as client:
            reply = client.call("echo", Message({}, b"x" * (3 << 20)), timeout=20)
        assert reply.headers == {"peer": "local", "role": "local"}
        assert reply.body.nbytes == 3 << 20
    finally:
        server.stop(0)
    assert not folder.exists()  # the socket and its private folder are cleaned up


def test_unix_socket_in_a_shared_directory_is_refused(short_tmp):
    short_tmp.chmod(0o755)
    with pytest.raises(TransportError, match="open to other users"):
        RpcServer(f"unix:{short_tmp}/rpc.sock", None, {})


# ----------------------------------------------------------- parked replies
def test_large_reply_to_a_small_request_is_parked_then_fetched(serve, connect):
    data = os.urandom(3 << 20)
    _, address = serve({"get": lambda ctx, msg: Message({"n": 1}, data)})
    reply = connect(address).call("get", Message({"want": "model"}), timeout=20)
    assert reply.headers == {"n": 1} and bytes(reply.body) == data


def test_a_parked_reply_is_fetched_once_and_only_by_its_caller(serve, pki):
    from fljob.runtime.transport import frames as fr
    from fljob.runtime.transport.options import channel_options
    from fljob.runtime.transport.stream import send_frames
    from fljob.runtime.transport.tls import channel_credentials

    _, address = serve({"get": lambda ctx, msg: Message({}, bytes(3 << 20))})

    def channel(name):
        return grpc.secure_channel(
            address, channel_credentials(pki.identity(name)), options=channel_options("server")
        )

    site1, site2 = channel("site-1"), channel("site-2")
    (request,) = send_frames("get", {}, b"", chunk=1 << 20, window=1, wait_credit=bool)
    answer = site1.unary_unary("/fljob.Rpc/Unary")(request, timeout=10)
    kind, _, _, size = fr.parse(answer)
    assert (kind, size) == (fr.MORE, 3 << 20)
    fetch = fr.pack(fr.FETCH) + answer[fr.HEADER_SIZE :]
    with pytest.raises(grpc.RpcError) as info:  # another site cannot take it
        list(site2.unary_stream("/fljob.Rpc/Fetch")(fetch, timeout=10))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    frames = list(site1.unary_stream("/fljob.Rpc/Fetch")(fetch, timeout=10))
    assert [fr.parse(f)[0] for f in (frames[0], frames[-1])] == [fr.HEAD, fr.END]
    with pytest.raises(grpc.RpcError) as info:  # and it cannot be fetched twice
        list(site1.unary_stream("/fljob.Rpc/Fetch")(fetch, timeout=10))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    site1.close()
    site2.close()


def test_handlers_can_be_registered_while_running(serve, connect):
    server, address = serve({})
    client = connect(address)
    with pytest.raises(RemoteError, match="no handler for topic 'late'"):
        client.call("late", Message(), timeout=10)
    server.register("late", lambda ctx, msg: Message({"ok": True}))
    assert client.call("late", Message(), timeout=10).headers == {"ok": True}


@pytest.mark.parametrize("request_body", [b"", bytes(3 << 20)], ids=["parked", "streamed"])
def test_reply_body_that_fails_mid_way_is_a_stream_error(serve, connect, caplog, request_body):
    class Broken:
        nbytes = 5 << 20

        def __iter__(self):
            yield bytes(2 << 20)
            raise OSError("disk gone")

    _, address = serve({"get": lambda ctx, msg: Message({}, Broken())})
    with (
        caplog.at_level(logging.ERROR, logger="fljob.transport"),
        pytest.raises(StreamError, match="the reply broke off: OSError: disk gone"),
    ):
        connect(address).call("get", Message({}, request_body), timeout=20)
    assert any("broke off" in r.getMessage() for r in caplog.records)
