"""Large-object streaming: fljob's transport next to raw grpcio and a plain TCP copy.

Sends SIZE bytes server -> site and back on 127.0.0.1, each side in its own process:

- ``fljob``     RpcServer/RpcClient with mutual TLS, 1 MiB chunks, flow control, CRC-32
                (the site downloads the object from the server, then uploads it back);
- ``grpc_tls``  raw grpcio streaming of the same bytes in 1 MiB messages, mutual TLS,
                no framework (the receiver only counts bytes);
- ``grpc_raw``  the same without TLS (the figure DESIGN.md quotes);
- ``tcp``       a plain socket copy (sendall / recv_into a preallocated buffer);
- ``local``     the local channel between a site and its training script: the same
                frames, chunks, window and CRC-32 over a unix socket, no gRPC.

Prints one line per mode with throughput per direction and each process's peak RSS;
the last line is one JSON object (``size_bytes``, ``fljob_GBps``, ``grpc_raw_GBps``,
``tcp_GBps``, ``sender_peak_rss_mb``, ``receiver_peak_rss_mb``, ...) for dashboards.

    python benchmarks/stream_bench.py                # 1 GB
    python benchmarks/stream_bench.py --size 3GB     # 3 GB (over gRPC's 2 GB limit)
    python benchmarks/stream_bench.py --fedavg       # also a real FedAvg job (see below)

With ``--fedavg`` it also runs ``large_model_bench.py``: real FedAvg rounds through
``fljob run``'s machinery (server, site and training-script processes) with a PyTorch
state dict of SIZE, and adds its per-direction throughput (server -> site -> script and
back) and each process's peak RSS as a multiple of the model to the JSON line
(``fedavg_*`` keys).
"""

from __future__ import annotations

import argparse
import json
import mmap
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHUNK = 1 << 20
SERVICE = "/bench.Raw/"


def parse_size(text: str) -> int:
    units = {"GIB": 1 << 30, "MIB": 1 << 20, "GB": 10**9, "MB": 10**6, "KB": 10**3, "B": 1}
    upper = text.strip().upper()
    for unit, factor in units.items():
        if upper.endswith(unit):
            return int(float(upper[: -len(unit)]) * factor)
    return int(upper)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_s() -> float:
    """CPU seconds this process has used (all threads): a figure that, unlike wall time,
    barely moves when other work shares the machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_object(size: int) -> bytearray:
    data = bytearray(size)  # touched by the memset: real memory, counted in RSS
    view = memoryview(data)
    stamp = b"fljob-bench-page"
    for offset in range(0, size - len(stamp), 1 << 20):
        view[offset : offset + len(stamp)] = stamp
    return data


def emit(doc: dict) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


# ----------------------------------------------------------------------------- fljob
def fljob_server(args: argparse.Namespace) -> None:
    from fljob.runtime.transport import Message

    if args.model:
        return fljob_model_server(args)
    data = make_object(args.size)

    def download(ctx, msg):
        return Message({"size": len(data)}, data)

    def upload(ctx, msg):
        return Message({"ok": msg.body.nbytes == len(data) and msg.body[:16] == data[:16]})

    serve_fljob(args, download, upload)


def make_state_dict(size: int) -> dict:
    """A torch state dict of ``size`` bytes in 16 MiB float32 tensors, each filled with
    its index (a model's weights, as FedAvg moves them)."""
    import torch

    block = 4 << 20  # float32 elements per tensor
    count = max(1, size // (block * 4))
    return {
        f"layer{i:03d}.weight": torch.full((block // 1024, 1024), float(i)) for i in range(count)
    }


def fljob_model_server(args: argparse.Namespace) -> None:
    from fljob.runtime import serde
    from fljob.runtime.transport import Message

    state = make_state_dict(args.size)

    def download(ctx, msg):  # one tensor at a time, straight from the tensors' memory
        return Message({}, serde.encode_stream(state))

    def upload(ctx, msg):
        back = serde.decode(msg.body)
        ok = back.keys() == state.keys() and all(
            float(t[0, 0]) == float(state[k][0, 0]) for k, t in back.items()
        )
        return Message({"ok": ok})

    serve_fljob(args, download, upload)


def serve_fljob(args: argparse.Namespace, download, upload) -> None:
    from fljob.runtime.pki import Pki
    from fljob.runtime.transport import Message, RpcServer

    def stats(ctx, msg):
        return Message({"peak_rss_mb": peak_rss_mb(), "cpu_s": cpu_s()})

    pki = Pki.load(Path(args.pki))
    server = RpcServer(
        "127.0.0.1:0",
        pki.identity("server"),
        {"download": download, "upload": upload, "stats": stats},
        chunk_size=args.chunk,
        window=args.window,
    )
    emit({"port": server.start()})
    sys.stdin.read()  # the parent closes stdin to stop us
    server.stop(0)


def fljob_site(args: argparse.Namespace) -> None:
    from fljob.runtime.pki import Pki
    from fljob.runtime.transport import Message, RpcClient

    pki = Pki.load(Path(args.pki))
    client = RpcClient(
        f"127.0.0.1:{args.port}",
        pki.identity("site-1"),
        chunk_size=args.chunk,
        window=args.window,
    )
    if args.model:
        import torch  # noqa: F401  (imported before timing: decode needs it)
    server_cpu = [client.call("stats", Message(), timeout=30).headers["cpu_s"]]  # + handshake
    site_cpu, start = cpu_s(), time.perf_counter()
    reply = client.call("download", Message(), timeout=600)
    body = reply.body
    if args.model:
        from fljob.runtime import serde

        body = serde.encode_stream(serde.decode(reply.body))  # tensors, and back again
    down, site_down_cpu = time.perf_counter() - start, cpu_s() - site_cpu
    server_cpu.append(client.call("stats", Message(), timeout=30).headers["cpu_s"])
    assert args.model or reply.body.nbytes == args.size
    site_cpu, start = cpu_s(), time.perf_counter()
    ok = client.call("upload", Message({}, body), timeout=600).headers["ok"]
    up, site_up_cpu = time.perf_counter() - start, cpu_s() - site_cpu
    stats = client.call("stats", Message(), timeout=30).headers
    emit(
        {
            "down_s": down,
            "up_s": up,
            "ok": ok,
            "site_rss_mb": peak_rss_mb(),
            "server_rss_mb": stats["peak_rss_mb"],
            "down_cpu_s": site_down_cpu + server_cpu[1] - server_cpu[0],
            "up_cpu_s": site_up_cpu + stats["cpu_s"] - server_cpu[1],
        }
    )


# ---------------------------------------------------------------- local channel
def local_server(args: argparse.Namespace) -> None:
    """The site's end of the local channel (unix socket, the transport's streaming)."""
    from fljob.runtime.client_api.local_wire import LocalMessage, LocalServer
    from fljob.runtime.transport import private_socket_address

    data = make_object(args.size)

    def download(ctx, msg):
        return LocalMessage({"size": len(data)}, data)

    def upload(ctx, msg):
        ok = msg.body.nbytes == len(data) and msg.body[:16] == data[:16]
        return LocalMessage({"ok": ok, "peak_rss_mb": peak_rss_mb(), "cpu_s": cpu_s()})

    def stats(ctx, msg):
        return LocalMessage({"peak_rss_mb": peak_rss_mb(), "cpu_s": cpu_s()})

    address = private_socket_address("bench")
    server = LocalServer(
        address,
        {"download": download, "upload": upload, "stats": stats},
        chunk_size=args.chunk,
        window=args.window,
    )
    server.start()
    emit({"port": 0, "address": address})
    sys.stdin.read()
    server.stop()


def local_site(args: argparse.Namespace) -> None:
    """The training script's end: downloads the object, uploads it back."""
    from fljob.runtime.client_api.local_wire import LocalClient

    client = LocalClient(args.address, chunk_size=args.chunk, window=args.window)
    server_cpu = [client.call("stats", {}).headers["cpu_s"]]
    site_cpu, start = cpu_s(), time.perf_counter()
    reply = client.call("download", {})
    down, site_down_cpu = time.perf_counter() - start, cpu_s() - site_cpu
    server_cpu.append(client.call("stats", {}).headers["cpu_s"])
    site_cpu, start = cpu_s(), time.perf_counter()
    stats = client.call("upload", {}, reply.body).headers
    up, site_up_cpu = time.perf_counter() - start, cpu_s() - site_cpu
    emit(
        {
            "down_s": down,
            "up_s": up,
            "ok": stats["ok"],
            "site_rss_mb": peak_rss_mb(),
            "server_rss_mb": stats["peak_rss_mb"],
            "down_cpu_s": site_down_cpu + server_cpu[1] - server_cpu[0],
            "up_cpu_s": site_up_cpu + stats["cpu_s"] - server_cpu[1],
        }
    )


# ------------------------------------------------------------------------ raw grpcio
def _grpc_options() -> list:
    return [("grpc.max_receive_message_length", 8 << 20), ("grpc.max_send_message_length", 8 << 20)]


def _chunks_of(data: bytes | bytearray):
    view = memoryview(data)
    for offset in range(0, len(data), CHUNK):
        yield bytes(view[offset : offset + CHUNK])


def grpc_server(args: argparse.Namespace) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import grpc

    data = make_object(args.size)

    def download(request, context):
        yield from _chunks_of(data)

    def upload(request_iterator, context):
        # Like the site (and like fljob), the receiver keeps what it receives.
        received = mmap.mmap(-1, args.size)
        view, total = memoryview(received), 0
        for message in request_iterator:
            view[total : total + len(message)] = message
            total += len(message)
        view.release()
        return json.dumps({"n": total, "rss": peak_rss_mb()}).encode()

    def stats(request, context):
        return json.dumps({"cpu_s": cpu_s()}).encode()

    server = grpc.server(ThreadPoolExecutor(4), options=_grpc_options())
    handlers = {
        "download": grpc.unary_stream_rpc_method_handler(download),
        "upload": grpc.stream_unary_rpc_method_handler(upload),
        "stats": grpc.unary_unary_rpc_method_handler(stats),
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE.strip("/"), handlers),)
    )
    if args.tls:
        from fljob.runtime.pki import Pki
        from fljob.runtime.transport.tls import server_credentials

        creds = server_credentials(Pki.load(Path(args.pki)).identity("server"))
        port = server.add_secure_port("127.0.0.1:0", creds)
    else:
        port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    emit({"port": port})
    sys.stdin.read()
    server.stop(0)


def grpc_site(args: argparse.Namespace) -> None:
    import grpc

    address = f"127.0.0.1:{args.port}"
    if args.tls:
        from fljob.runtime.pki import Pki
        from fljob.runtime.transport.tls import channel_credentials

        creds = channel_credentials(Pki.load(Path(args.pki)).identity("site-1"))
        options = [*_grpc_options(), ("grpc.ssl_target_name_override", "server")]
        channel = grpc.secure_channel(address, creds, options=options)
    else:
        channel = grpc.insecure_channel(address, options=_grpc_options())
    grpc.channel_ready_future(channel).result(timeout=30)
    download = channel.unary_stream(SERVICE + "download")
    upload = channel.stream_unary(SERVICE + "upload")
    stats = channel.unary_unary(SERVICE + "stats")
    server_cpu = [json.loads(stats(b""))["cpu_s"]]
    site_cpu, start = cpu_s(), time.perf_counter()
    # The raw receiver also keeps what it receives, in the same kind of buffer as fljob's.
    received = mmap.mmap(-1, args.size)
    view, offset = memoryview(received), 0
    for message in download(b""):
        view[offset : offset + len(message)] = message
        offset += len(message)
    down, site_down_cpu = time.perf_counter() - start, cpu_s() - site_cpu
    server_cpu.append(json.loads(stats(b""))["cpu_s"])
    site_cpu, start = cpu_s(), time.perf_counter()
    reply = json.loads(upload(_chunks_of(received)))
    up, site_up_cpu = time.perf_counter() - start, cpu_s() - site_cpu
    server_cpu.append(json.loads(stats(b""))["cpu_s"])
    emit(
        {
            "down_s": down,
            "up_s": up,
            "ok": reply["n"] == args.size,
            "site_rss_mb": peak_rss_mb(),
            "server_rss_mb": reply["rss"],
            "down_cpu_s": site_down_cpu + server_cpu[1] - server_cpu[0],
            "up_cpu_s": site_up_cpu + server_cpu[2] - server_cpu[1],
        }
    )


# ------------------------------------------------------------------------------- tcp
def tcp_server(args: argparse.Namespace) -> None:
    data = make_object(args.size)
    listener = socket.create_server(("127.0.0.1", 0))
    emit({"port": listener.getsockname()[1]})
    conn, _ = listener.accept()
    with conn:
        conn.sendall(data)
        _recv_exactly(conn, memoryview(data))
        conn.sendall(json.dumps({"rss": peak_rss_mb()}).encode())
    sys.stdin.read()


def tcp_site(args: argparse.Namespace) -> None:
    conn = socket.create_connection(("127.0.0.1", args.port))
    buffer = bytearray(args.size)
    start = time.perf_counter()
    _recv_exactly(conn, memoryview(buffer))
    down = time.perf_counter() - start
    start = time.perf_counter()
    conn.sendall(buffer)
    stats = json.loads(conn.recv(4096))  # arrives after the server has read it all
    up = time.perf_counter() - start
    emit(
        {
            "down_s": down,
            "up_s": up,
            "ok": True,
            "site_rss_mb": peak_rss_mb(),
            "server_rss_mb": stats["rss"],
        }
    )


def _recv_exactly(conn: socket.socket, view: memoryview) -> None:
    while view.nbytes:
        n = conn.recv_into(view, min(view.nbytes, 4 << 20))
        if n == 0:
            raise ConnectionError("peer closed early")
        view = view[n:]


# ------------------------------------------------------------------------- driver
ROLES = {
    "fljob-server": fljob_server,
    "fljob-site": fljob_site,
    "grpc-server": grpc_server,
    "grpc-site": grpc_site,
    "tcp-server": tcp_server,
    "tcp-site": tcp_site,
    "local-server": local_server,
    "local-site": local_site,
}


def run_mode(mode: str, args: argparse.Namespace, pki_dir: Path) -> dict:
    kind = mode.split("_")[0]  # fljob | grpc | tcp | local
    common = [
        "--size",
        str(args.size),
        "--chunk",
        str(args.chunk),
        "--pki",
        str(pki_dir),
        "--window",
        str(args.window),
    ]
    if mode == "grpc_tls":
        common.append("--tls")
    if mode == "fljob_model":
        common.append("--model")
    me = [sys.executable, __file__]
    server = subprocess.Popen(
        [*me, "--role", f"{kind}-server", *common],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready = json.loads(server.stdout.readline())
        where = ["--address", ready["address"]] if "address" in ready else []
        site = subprocess.run(
            [*me, "--role", f"{kind}-site", "--port", str(ready["port"]), *where, *common],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if site.returncode != 0:
            raise SystemExit(f"{mode} site failed:\n{site.stderr}")
        result = json.loads(site.stdout.strip().splitlines()[-1])
    finally:
        server.stdin.close()
        server.wait(timeout=60)
    result["down_GBps"] = args.size / result["down_s"] / 1e9
    result["up_GBps"] = args.size / result["up_s"] / 1e9
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("1GB"))
    parser.add_argument("--chunk", type=parse_size, default=CHUNK)
    parser.add_argument("--window", type=int, default=32, help="fljob: chunks in flight")
    parser.add_argument(
        "--modes",
        default="fljob,fljob_model,local,grpc_tls,grpc_raw,tcp",
        help="fljob_model: a torch state dict, encoded tensor by tensor; local: the "
        "site <-> training script channel (unix socket, same streaming layer)",
    )
    parser.add_argument(
        "--fedavg", action="store_true", help="also run a real FedAvg job (large_model_bench)"
    )
    parser.add_argument("--fedavg-sites", type=int, default=1)
    parser.add_argument("--role", choices=sorted(ROLES), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--address", help=argparse.SUPPRESS)
    parser.add_argument("--pki", help=argparse.SUPPRESS)
    parser.add_argument("--tls", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        ROLES[args.role](args)
        return

    from fljob.runtime.pki import provision

    summary: dict = {"size_bytes": args.size, "chunk_bytes": args.chunk}
    with tempfile.TemporaryDirectory(prefix="stream-bench-") as tmp:
        provision(Path(tmp) / "pki", project="bench", sites=["site-1"])
        for mode in args.modes.split(","):
            r = run_mode(mode, args, Path(tmp) / "pki")
            gbps = min(r["down_GBps"], r["up_GBps"])
            cpu = ""
            if "down_cpu_s" in r:  # both processes' CPU seconds per GB moved
                gb = args.size / 1e9
                cpu = f"  CPU {r['down_cpu_s'] / gb:.2f} / {r['up_cpu_s'] / gb:.2f} s/GB"
                summary[f"{mode}_cpu_s_per_GB"] = round(
                    (r["down_cpu_s"] + r["up_cpu_s"]) / (2 * gb), 3
                )
            print(
                f"{mode:9s} server->site {r['down_GBps']:.2f} GB/s  site->server "
                f"{r['up_GBps']:.2f} GB/s  peak RSS server {r['server_rss_mb']:.0f} MB, "
                f"site {r['site_rss_mb']:.0f} MB{cpu}  ok={r['ok']}",
                flush=True,
            )
            summary[f"{mode}_GBps"] = round(gbps, 3)
            summary[f"{mode}_down_GBps"] = round(r["down_GBps"], 3)
            summary[f"{mode}_up_GBps"] = round(r["up_GBps"], 3)
            if mode == "fljob_model":
                summary["model_sender_peak_rss_mb"] = round(r["server_rss_mb"], 1)
                summary["model_receiver_peak_rss_mb"] = round(r["site_rss_mb"], 1)
                summary["fljob_model_ok"] = r["ok"]
            if mode == "fljob":
                # The server holds the object and receives its copy back (2x by design);
                # the site receives it and sends the same buffer back.
                summary["sender_peak_rss_mb"] = round(r["server_rss_mb"], 1)
                summary["receiver_peak_rss_mb"] = round(r["site_rss_mb"], 1)
                summary["fljob_ok"] = r["ok"]
    if "fljob_GBps" in summary and "grpc_tls_GBps" in summary:
        summary["fljob_vs_grpc_tls"] = round(summary["fljob_GBps"] / summary["grpc_tls_GBps"], 3)
    if "fljob_GBps" in summary and "grpc_raw_GBps" in summary:
        summary["fljob_vs_grpc_raw"] = round(summary["fljob_GBps"] / summary["grpc_raw_GBps"], 3)
    summary["object_mb"] = round(args.size / 2**20, 1)
    if args.fedavg:
        summary.update(run_fedavg(args.size, args.fedavg_sites))
    print(json.dumps(summary))


def run_fedavg(size: int, sites: int) -> dict:
    """A real FedAvg job (large_model_bench.py) with a state dict of ``size`` bytes, with the
    training script as a subprocess (``fedavg_*``) and in-process (``fedavg_inprocess_*``)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from large_model_bench import run

    out: dict = {"fedavg_sites": sites}
    for in_process, prefix in ((False, "fedavg"), (True, "fedavg_inprocess")):
        r = run(size, sites, rounds=2, in_process=in_process)
        peaks = ", ".join(f"{k} {v:.2f}x" for k, v in r["peak_rss_x_model"].items())
        print(
            f"{prefix:<17} server->site->script {r['per_site_down_MBps'] / 1e3:.2f} GB/s  "
            f"script->site->server {r['per_site_up_MBps'] / 1e3:.2f} GB/s per site ({sites} "
            f"site(s))  peak RSS {peaks}  ok={r['global_ok']}",
            flush=True,
        )
        out.update(
            {
                f"{prefix}_model_bytes": r["size_bytes"],
                f"{prefix}_down_GBps": round(r["per_site_down_MBps"] / 1e3, 3),
                f"{prefix}_up_GBps": round(r["per_site_up_MBps"] / 1e3, 3),
                f"{prefix}_ok": r["global_ok"],
            }
        )
        out.update({f"{prefix}_peak_rss_x_model_{k}": v for k, v in r["peak_rss_x_model"].items()})
    return out


if __name__ == "__main__":
    main()
