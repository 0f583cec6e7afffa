"""A peer that dies mid-stream: the other side gets a clear error and carries on."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fljob.runtime.transport import Message, StreamError

PEER = Path(__file__).with_name("_peer.py")


def spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(PEER), *args], stdout=subprocess.PIPE, text=True)


def test_server_killed_mid_reply_is_a_stream_error(pki, connect):
    with spawn("serve", str(pki.root)) as server:
        port = int(server.stdout.readline())
        client = connect(f"127.0.0.1:{port}")
        sent = threading.Thread(
            target=lambda: (server.stdout.readline(), os.kill(server.pid, signal.SIGKILL))
        )
        sent.start()  # kill the server once it has sent 8 of 64 MiB
        start = time.perf_counter()
        with pytest.raises(StreamError, match="broke mid-way"):
            client.call("download", Message(), timeout=60)
        assert time.perf_counter() - start < 20
        sent.join(10)


def test_client_killed_mid_request_is_logged_and_the_server_carries_on(pki, serve, connect, caplog):
    received = []
    _, address = serve(
        {"upload": lambda ctx, msg: received.append(msg) or Message(), "echo": lambda ctx, msg: msg}
    )
    with (
        caplog.at_level(logging.WARNING, logger="fljob.transport"),
        spawn("upload", str(pki.root), address) as client,
    ):
        assert client.stdout.readline().strip() == "sent"
        os.kill(client.pid, signal.SIGKILL)
        client.wait(10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not caplog.records:
            time.sleep(0.05)
    assert received == []  # nothing half-received reaches a handler
    assert any(
        "site-2 went away while sending a request" in r.getMessage() for r in caplog.records
    ), [r.getMessage() for r in caplog.records]
    assert (
        bytes(connect(address).call("echo", Message({}, b"still here"), timeout=10).body)
        == b"still here"
    )
