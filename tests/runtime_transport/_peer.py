"""A peer process for the dropped-connection tests; killed by the test mid-stream.

python _peer.py serve PKI_DIR          serve "download": 8 MiB of a body, then hang
python _peer.py upload PKI_DIR ADDR    upload 8 MiB of a body, say "sent", then hang
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from pathlib import Path

import numpy as np

from fljob.runtime.pki import Pki
from fljob.runtime.transport import Message, RpcClient, RpcServer


class HangingBody:
    """Declares 64 MiB, produces 8 MiB, then blocks forever."""

    nbytes = 64 << 20

    def __iter__(self):
        for _ in range(8):
            yield bytes(1 << 20)
        print("sent", flush=True)
        threading.Event().wait()


BLOCK = 1 << 20


class PatternBody:
    """``nbytes`` of a known pattern, made one block at a time (the sender holds none of
    it): block ``i`` is a fixed 1 MiB template whose first 8 bytes hold ``i``."""

    def __init__(self, nbytes: int):
        self.nbytes = nbytes

    def __iter__(self):
        template = template_block()
        for index, offset in enumerate(range(0, self.nbytes, BLOCK)):
            block = bytearray(template[: min(BLOCK, self.nbytes - offset)])
            block[:8] = index.to_bytes(8, "little")[: len(block)]
            yield block


def template_block() -> bytes:
    return bytes((np.arange(BLOCK, dtype=np.uint32) * 2654435761 >> 13).astype(np.uint8))


def check_pattern(body: memoryview) -> bool:
    """Every block's stamp, and every 97th block in full (the layer's CRC-32 covers all)."""
    full = body.nbytes // BLOCK
    stamps = np.frombuffer(body, np.uint8, count=full * BLOCK).reshape(full, BLOCK)[:, :8]
    if not np.array_equal(stamps.copy().view("<u8").ravel(), np.arange(full)):
        return False
    template = np.frombuffer(template_block(), np.uint8)
    blocks = np.frombuffer(body, np.uint8, count=full * BLOCK).reshape(full, BLOCK)
    return all(np.array_equal(blocks[i, 8:], template[8:]) for i in range(0, full, 97))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    role, pki = sys.argv[1], Pki.load(Path(sys.argv[2]))
    if role == "large-serve":
        size = int(sys.argv[3])

        def upload(ctx, msg):
            return Message(
                {
                    "ok": msg.body.nbytes == size and check_pattern(msg.body),
                    "peak_rss_mb": peak_rss_mb(),
                }
            )

        server = RpcServer(
            "127.0.0.1:0",
            pki.identity("server"),
            {
                "upload": upload,
                "download": lambda ctx, msg: Message({}, PatternBody(size)),
                "stats": lambda ctx, msg: Message({"peak_rss_mb": peak_rss_mb()}),
            },
        )
        print(server.start(), flush=True)
        sys.stdin.read()
    elif role == "large-client":
        size = int(sys.argv[4])
        client = RpcClient(sys.argv[3], pki.identity("site-1"))
        start = time.perf_counter()
        up = client.call("upload", Message({}, PatternBody(size)), timeout=300).headers
        up_s, start = time.perf_counter() - start, time.perf_counter()
        body = client.call("download", Message(), timeout=300).body
        down_s = time.perf_counter() - start
        print(
            json.dumps(
                {
                    "server_ok": up["ok"],
                    "client_ok": body.nbytes == size and check_pattern(body),
                    "up_s": up_s,
                    "down_s": down_s,
                    "server_rss_after_upload_mb": up["peak_rss_mb"],
                    "client_rss_mb": peak_rss_mb(),
                    "server_rss_mb": client.call("stats", Message()).headers["peak_rss_mb"],
                }
            ),
            flush=True,
        )
    elif role == "serve":
        server = RpcServer(
            "127.0.0.1:0",
            pki.identity("server"),
            {"download": lambda ctx, msg: Message({}, HangingBody())},
        )
        print(server.start(), flush=True)
        threading.Event().wait()
    else:
        client = RpcClient(sys.argv[3], pki.identity("site-2"))
        client.call("upload", Message({}, HangingBody()))


if __name__ == "__main__":
    main()
