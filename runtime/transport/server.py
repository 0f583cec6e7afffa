"""RpcServer: the one listening side (gRPC methods and frames: see frames.py)."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NoReturn, Protocol

from fljob.errors import FljobError
from fljob.runtime.transport import frames as fr
from fljob.runtime.transport.errors import FrameError, RemoteError, StreamError, TransportError
from fljob.runtime.transport.message import CallContext, Handler, Message
from fljob.runtime.transport.options import (
    SERVER_OPTIONS,
    check_private_socket,
    release_socket_address,
)
from fljob.runtime.transport.parked import ParkedReplies
from fljob.runtime.transport.stream import DEFAULT_WINDOW, receive, send_frames
from fljob.runtime.transport.tls import (
    LOCAL_PEER,
    TlsIdentity,
    is_unix,
    peer_of,
    server_credentials,
)
from fljob.runtime.transport.watchdog import WATCHDOG, Progress

log = logging.getLogger("fljob.transport")

#: gRPC methods (see frames.py): any request / a one-frame request / a parked reply.
SERVICE, METHOD, UNARY_METHOD, FETCH_METHOD = "fljob.Rpc", "Call", "Unary", "Fetch"
# A fetched reply has no return stream to carry acknowledgements: HTTP/2 flow control
# alone bounds what is in flight (the sender's write blocks while the window is full).
_NO_ACKS = 1 << 30
ERROR_KEY = "fljob-error"  #: trailing metadata naming the exception a handler raised
DEFAULT_MAX_BODY = 1 << 40  #: 1 TiB: a bound on declared sizes, not an allocation
DEFAULT_STALL_TIMEOUT = 60.0  #: seconds a body stream may go without a frame


class RpcServer:
    """Serves ``handlers[topic](ctx, message) -> Message`` over mutual TLS (or a private
    ``unix:`` socket when ``identity`` is None).

    Handlers run on a thread pool and may block (long-poll). A handler's exception reaches
    the caller as RemoteError; a malformed request is rejected and logged, never handled.
    Request bodies of at least ``spool_threshold`` bytes are written to a file in
    ``spool_dir`` (when given) as they arrive; the handler still sees one memoryview.
    A body stream with no frame for ``stall_timeout`` seconds is cancelled.
    ``admission`` (optional) sees each request's head before its body is received and
    may block there (bounding how many large bodies are held at once, see
    :class:`Admission`); it is told when the handler is done with the body.

    >>> server = RpcServer("127.0.0.1:0", pki.identity("server"), {"echo": lambda c, m: m})
    >>> port = server.start()
    """

    def __init__(
        self,
        address: str = "127.0.0.1:0",
        identity: TlsIdentity | None = None,
        handlers: Mapping[str, Handler] | None = None,
        *,
        max_workers: int = 64,
        chunk_size: int = fr.DEFAULT_CHUNK,
        window: int = DEFAULT_WINDOW,
        max_body: int = DEFAULT_MAX_BODY,
        spool_dir: Path | None = None,
        spool_threshold: int = 1 << 30,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
        admission: Admission | None = None,
    ):
        if identity is None:
            check_private_socket(address)
        if not 1 <= chunk_size <= fr.MAX_CHUNK or window < 1:
            raise ValueError(f"chunk_size must be 1..{fr.MAX_CHUNK} and window >= 1")
        self.address = address
        self.identity = identity
        self._handlers: dict[str, Handler] = dict(handlers or {})
        self._max_workers = max_workers
        self._chunk, self._window, self._max_body = chunk_size, window, max_body
        self._spool_dir, self._spool_threshold = spool_dir, spool_threshold
        self._stall_timeout = stall_timeout
        self._admission = admission
        self._server: Any = None
        self._pool: ThreadPoolExecutor | None = None
        self._parked = ParkedReplies(ttl=stall_timeout)
        self._lock = threading.Lock()

    def register(self, topic: str, handler: Handler) -> None:
        """Add or replace the handler for ``topic`` (also while running)."""
        with self._lock:
            self._handlers[topic] = handler

    def start(self) -> int:
        """Listen; returns the bound TCP port (0 for a ``unix:`` address)."""
        import grpc

        self._pool = ThreadPoolExecutor(self._max_workers, thread_name_prefix="fljob-rpc")
        server = grpc.server(self._pool, options=SERVER_OPTIONS)
        methods = {
            METHOD: grpc.stream_stream_rpc_method_handler(self._serve),
            UNARY_METHOD: grpc.unary_unary_rpc_method_handler(self._serve_unary),
            FETCH_METHOD: grpc.unary_stream_rpc_method_handler(self._serve_fetch),
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, methods),))
        try:
            if self.identity is None:
                port = server.add_insecure_port(self.address)
            else:
                port = server.add_secure_port(self.address, server_credentials(self.identity))
        except RuntimeError as exc:
            raise TransportError(f"cannot listen on {self.address}: {exc}") from None
        if is_unix(self.address):
            port = 0
        elif port == 0:
            raise TransportError(f"cannot listen on {self.address} (address in use?)")
        server.start()
        self._server = server
        log.debug("listening on %s (port %s)", self.address, port)
        return port

    def stop(self, grace: float | None = 0.5) -> None:
        """Stop listening; calls still running get ``grace`` seconds, then are cancelled."""
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None
        self._parked.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self.address.startswith("unix:"):
            release_socket_address(self.address)

    def __enter__(self) -> RpcServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ one call
    def _peer(self, context: Any) -> tuple[str, str]:
        return peer_of(context) if self.identity else (LOCAL_PEER, LOCAL_PEER)

    def _serve_unary(self, request: bytes, context: Any) -> bytes:
        """A one-frame request; the reply's ONE frame, or a MORE frame with a ticket."""
        peer, role = self._peer(context)
        try:
            if fr.parse(request)[0] != fr.ONE:
                raise FrameError("a unary request must be a single ONE frame")
        except FrameError as exc:
            log.error("rejected a malformed request from %s: %s", peer, exc.message)
            _abort(context, _grpc().StatusCode.INVALID_ARGUMENT, exc.message)
        try:  # a ONE frame is assembled without yielding any acknowledgement
            next(self._receive(context, iter((request,)), peer, None))
        except StopIteration as done:
            head, body = done.value
        try:
            reply = self._handle(context, head, body, peer, role)
        finally:
            self._leave()
        progress = Progress(self._stall_timeout, lambda: None)
        frames = self._reply(context, iter(()), head.topic, reply, peer, progress, _NO_ACKS)
        first = next(frames)
        kind, head_len, _, _ = fr.parse(first)
        if kind == fr.ONE:
            return first
        size = fr.parse_head(first, head_len, max_body=1 << 62).size
        ticket = self._parked.park(peer, first, frames, progress)
        return fr.pack(fr.MORE, 0, 0, size) + ticket.encode()

    def _serve_fetch(self, request: bytes, context: Any) -> Iterator[bytes]:
        peer, _ = self._peer(context)
        kind = fr.parse(request)[0] if len(request) >= fr.HEADER_SIZE else None
        ticket = request[fr.HEADER_SIZE :].decode("ascii", "replace")
        parked = self._parked.take(ticket, peer) if kind == fr.FETCH else None
        if parked is None:
            _abort(
                context,
                _grpc().StatusCode.NOT_FOUND,
                f"no parked reply for this ticket (it expired after {self._stall_timeout:.0f} s,"
                " was fetched already, or belongs to another caller)",
            )
        parked.progress.on_stall = lambda: self._stalled(context, peer)
        WATCHDOG.add(parked.progress)
        try:
            yield parked.first
            yield from _guarded(parked.frames, context, "a parked reply", peer)
        finally:
            WATCHDOG.release(parked.progress)

    def _serve(self, request_iterator: Any, context: Any) -> Iterator[bytes]:
        requests = iter(request_iterator)
        peer, role = self._peer(context)
        progress = WATCHDOG.watch(self._stall_timeout, lambda: self._stalled(context, peer))
        try:
            try:
                received = yield from self._receive(context, requests, peer, progress)
                if received is None:
                    return
                head, body = received
                progress.pause()  # the handler may take its time (long-poll)
                reply = self._handle(context, head, body, peer, role)
                del body, received  # the handler is done with the request body
            finally:
                self._leave()
            progress.resume()
            frames = self._reply(context, requests, head.topic, reply, peer, progress, self._window)
            yield from _guarded(frames, context, head.topic, peer)
        finally:
            WATCHDOG.release(progress)

    def _receive(
        self, context: Any, requests: Iterator[bytes], peer: str, progress: Progress | None
    ):
        import grpc

        spooled: list[Path] = []

        def spool(head: fr.Head) -> Path | None:
            if self._admission is not None:
                if progress is not None:
                    progress.pause()  # waiting for admission is not a stall
                self._admission.enter(head.topic, head.headers, head.size)
                if progress is not None:
                    progress.resume()
            path = self._spool_path(head)
            if path:
                spooled.append(path)
            return path

        try:
            first = next(requests)
            return (
                yield from receive(
                    first, requests, max_body=self._max_body, spool=spool, progress=progress
                )
            )
        except StopIteration:
            return None
        except grpc.RpcError:
            log.warning("caller %s went away while sending a request", peer)
            return None
        except FrameError as exc:
            log.error("rejected a malformed request from %s: %s", peer, exc.message)
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, exc.message)
        except StreamError as exc:
            log.error("broken request stream from %s: %s", peer, exc.message)
            _abort(context, grpc.StatusCode.DATA_LOSS, exc.message)
        finally:
            for path in spooled:  # the body stays readable through its mapping
                path.unlink(missing_ok=True)
        return None

    def _leave(self) -> None:
        if self._admission is not None:
            self._admission.leave()

    def _stalled(self, context: Any, peer: str) -> None:
        log.warning(
            "stream with %s made no progress for %.0f s; cancelling it", peer, self._stall_timeout
        )
        context.cancel()

    def _handle(self, context: Any, head: fr.Head, body: memoryview, peer: str, role: str):
        import grpc

        with self._lock:
            handler = self._handlers.get(head.topic)
        if handler is None:
            context.set_trailing_metadata(((ERROR_KEY, "UnknownTopic"),))
            _abort(
                context,
                grpc.StatusCode.UNIMPLEMENTED,
                f"no handler for topic {head.topic!r}; known: {', '.join(sorted(self._handlers))}",
            )
        ctx = CallContext(
            head.topic,
            peer,
            role,
            context.is_active,
            context.time_remaining,
            context.add_callback,
        )
        try:
            reply = handler(ctx, Message(head.headers, body))
        except Exception as exc:
            self._abort_with(context, head.topic, peer, exc)
        return reply if reply is not None else Message()

    def _reply(
        self,
        context: Any,
        requests: Iterator[bytes],
        topic: str,
        reply: Message,
        peer: str,
        progress: Progress,
        window: int,
    ) -> Iterator[bytes]:
        credits = _CreditReader(requests, window)
        frames = send_frames(
            topic,
            reply.headers,
            reply.body,
            chunk=self._chunk,
            window=window,
            wait_credit=credits.wait,
            progress=progress,
        )
        try:
            first = next(frames)
        except (FljobError, TypeError, ValueError) as exc:
            self._abort_with(context, topic, peer, exc)
        yield first
        yield from frames

    @staticmethod
    def _abort_with(context: Any, topic: str, peer: str, exc: Exception) -> NoReturn:
        import grpc

        kind = type(exc).__name__
        if isinstance(exc, RemoteError):  # a handler refusing the call on purpose
            message, kind = exc.remote_message, exc.remote_type
            log.warning("handler for %r refused caller %s: %s", topic, peer, message)
        elif isinstance(exc, FljobError):
            message = exc.message
            log.warning("handler for %r (caller %s) failed: %s", topic, peer, message)
        else:
            message = str(exc)
            log.exception("handler for %r (caller %s) raised", topic, peer)
        context.set_trailing_metadata(((ERROR_KEY, kind.encode("ascii", "replace").decode()),))
        _abort(context, grpc.StatusCode.UNKNOWN, message[:4000])

    def _spool_path(self, head: fr.Head) -> Path | None:
        if self._spool_dir is None or head.size < self._spool_threshold:
            return None
        fd, name = tempfile.mkstemp(prefix="rpc-", suffix=".body", dir=self._spool_dir)
        os.close(fd)
        return Path(name)


def _abort(context: Any, code: Any, details: str) -> NoReturn:
    """End the call with ``code``: gRPC's ``context.abort`` always raises, which the type
    checker cannot see through the untyped grpc module."""
    context.abort(code, details)
    raise AssertionError("grpc's context.abort returned")  # pragma: no cover


class Admission(Protocol):
    """Decides when a request's body may be received (see ``RpcServer(admission=)``).

    ``enter`` runs on the thread that receives the request, after its head and before
    any of its body is held; it may block (the sender then waits, its chunks held back
    by flow control). ``leave`` runs on the same thread once the handler returned or the
    request failed; it must be harmless when ``enter`` admitted nothing, or when the
    handler already released the slot itself.
    """

    def enter(self, topic: str, headers: dict[str, Any], size: int) -> None: ...

    def leave(self) -> None: ...


def _guarded(frames: Iterator[bytes], context: Any, topic: str, peer: str) -> Iterator[bytes]:
    """Reply frames; a reply body that fails mid-way (a StreamBody that raised, a bad
    acknowledgement) ends the call with DATA_LOSS and a log line instead of a bare
    gRPC traceback."""
    try:
        yield from frames
    except Exception as exc:
        message = exc.message if isinstance(exc, FljobError) else f"{type(exc).__name__}: {exc}"
        log.error("reply to %r for %s broke off: %s", topic, peer, message)
        _abort(context, _grpc().StatusCode.DATA_LOSS, f"the reply broke off: {message}"[:4000])


def _grpc() -> Any:
    import grpc

    return grpc


class _CreditReader:
    """Server side of flow control: acknowledgements arrive on the request stream,
    which nothing else reads while the reply is sent."""

    def __init__(self, requests: Iterator[bytes], window: int):
        self._requests, self._window, self._acked = requests, window, 0

    def wait(self, seq: int) -> bool:
        import grpc

        while seq - self._acked >= self._window:
            try:
                frame = next(self._requests)
            except (StopIteration, grpc.RpcError):
                return False
            kind, a, _, _ = fr.parse(frame)
            if kind != fr.ACK or a > seq:
                raise FrameError(f"expected an acknowledgement, got {fr.KIND_NAMES[kind]} {a}")
            self._acked = max(self._acked, a)
        return True
