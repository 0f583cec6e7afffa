"""RpcClient: calls a topic on an RpcServer; bodies of any size stream both ways."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fljob.runtime.transport import frames as fr
from fljob.runtime.transport.errors import (
    CallTimeoutError,
    FrameError,
    RemoteError,
    StreamError,
    TransportError,
)
from fljob.runtime.transport.message import Message
from fljob.runtime.transport.options import channel_options
from fljob.runtime.transport.server import (
    DEFAULT_MAX_BODY,
    DEFAULT_STALL_TIMEOUT,
    ERROR_KEY,
    FETCH_METHOD,
    METHOD,
    SERVICE,
    UNARY_METHOD,
)
from fljob.runtime.transport.stream import DEFAULT_WINDOW, receive, send_frames
from fljob.runtime.transport.tls import TlsIdentity, channel_credentials, is_unix
from fljob.runtime.transport.watchdog import WATCHDOG

log = logging.getLogger("fljob.transport")

_CLOSE = None  # sentinel that ends the request stream


class RpcClient:
    """One channel to an RpcServer; thread-safe, calls may run concurrently.

    A body stream that makes no progress for ``stall_timeout`` seconds is cancelled
    (StreamError); the time a handler spends before replying (a long-poll) does not count.

    >>> with RpcClient("127.0.0.1:8002", pki.identity("site-1")) as client:
    ...     reply = client.call("echo", Message({"x": 1}, b"payload"), timeout=10)
    """

    def __init__(
        self,
        address: str,
        identity: TlsIdentity | None = None,
        *,
        server_name: str = "server",
        chunk_size: int = fr.DEFAULT_CHUNK,
        window: int = DEFAULT_WINDOW,
        max_body: int = DEFAULT_MAX_BODY,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
    ):
        import grpc

        if identity is None and not is_unix(address):
            raise TransportError(
                f"{address!r}: a channel without certificates is allowed only on a unix: socket",
                hint="pass a TlsIdentity for TCP addresses (mutual TLS is always on)",
            )
        if not 1 <= chunk_size <= fr.MAX_CHUNK or window < 1:
            raise ValueError(f"chunk_size must be 1..{fr.MAX_CHUNK} and window >= 1")
        self.address = address
        self._chunk, self._window, self._max_body = chunk_size, window, max_body
        self._stall_timeout = stall_timeout
        if identity is None:
            self._channel = grpc.insecure_channel(address, options=channel_options(None))
        else:
            self._channel = grpc.secure_channel(
                address, channel_credentials(identity), options=channel_options(server_name)
            )
        self._stub = self._channel.stream_stream(f"/{SERVICE}/{METHOD}")
        self._unary = self._channel.unary_unary(f"/{SERVICE}/{UNARY_METHOD}")
        self._fetch = self._channel.unary_stream(f"/{SERVICE}/{FETCH_METHOD}")

    def call(
        self,
        topic: str,
        message: Message,
        timeout: float | None = None,
        *,
        wait_for_ready: bool = False,
        spool_to: Path | None = None,
    ) -> Message:
        """Send ``message`` to the handler of ``topic`` and return its reply.

        ``timeout`` bounds the whole call (None: no deadline, e.g. a long-poll).
        ``wait_for_ready`` waits for an unreachable server instead of failing at once.
        ``spool_to`` writes a large reply body to that file as it arrives; the reply's
        body is then a private mapping of the file.

        Raises RemoteError (the handler raised), CallTimeoutError, StreamError (the
        stream broke or failed a check), FrameError, TransportError (unreachable,
        certificate refused).
        """
        call = _Call(self, topic, message)
        return call.run(timeout, wait_for_ready, spool_to)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Call:
    """The state of one call: the request stream runs on gRPC's thread, the reply is
    read on the caller's; acknowledgements cross between them."""

    def __init__(self, client: RpcClient, topic: str, message: Message):
        self.client, self.topic = client, topic
        self.outgoing: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.credits = _Credits(client._window)
        self.send_error: BaseException | None = None
        self.streaming = False  # a body is moving: a broken call is a StreamError
        self.replying = False
        self.responses: Any = None
        self.progress = WATCHDOG.watch(client._stall_timeout, self._stalled)
        self.frames = send_frames(
            topic,
            message.headers,
            message.body,
            chunk=client._chunk,
            window=client._window,
            wait_credit=self.credits.wait,
            progress=self.progress,
        )
        try:
            self.first = next(self.frames)  # bad headers or body fail here, in the caller
        except BaseException:
            WATCHDOG.release(self.progress)
            raise

    def _stalled(self) -> None:
        log.warning(
            "call %r to %s made no progress for %.0f s; cancelling it",
            self.topic,
            self.client.address,
            self.client._stall_timeout,
        )
        self.credits.close()
        if self.responses is not None:
            self.responses.cancel()

    def requests(self) -> Iterator[bytes]:
        try:
            yield self.first
            self.streaming = True
            yield from self.frames
        except Exception as exc:  # e.g. a StreamBody that raised: end the stream
            self.send_error = exc
            return
        if not self.replying:
            self.progress.pause()  # the handler may take its time (long-poll)
        while (item := self.outgoing.get()) is not _CLOSE:
            yield item

    def run(self, timeout: float | None, wait_for_ready: bool, spool_to: Path | None) -> Message:
        import grpc

        try:
            if fr.parse(self.first)[0] == fr.ONE:  # the whole request is one frame
                responses = self._unary(timeout, wait_for_ready)
            else:
                responses = self.client._stub(
                    self.requests(), timeout=timeout, wait_for_ready=wait_for_ready
                )
                self.responses = responses
            return self._read(responses, spool_to)
        except grpc.RpcError as exc:
            raise self._translate(exc) from None
        except BaseException:
            if self.responses is not None:
                self.responses.cancel()
            raise
        finally:
            WATCHDOG.release(self.progress)
            self.credits.close()
            self.outgoing.put(_CLOSE)

    def _unary(self, timeout: float | None, wait_for_ready: bool) -> Iterator[bytes]:
        """Reply frames of a one-frame request: inline, or fetched when parked."""
        self.progress.pause()  # nothing streams until the handler has answered
        start = time.monotonic()
        answer = self.client._unary(self.first, timeout=timeout, wait_for_ready=wait_for_ready)
        kind, _, _, _ = fr.parse(answer)
        if kind != fr.MORE:
            return iter((answer,))
        ticket = answer[fr.HEADER_SIZE :]
        left = None if timeout is None else max(0.0, timeout - (time.monotonic() - start))
        self.responses = self.client._fetch(fr.pack(fr.FETCH) + ticket, timeout=left)
        return self.responses

    def _read(self, responses: Any, spool_to: Path | None) -> Message:
        for frame in responses:
            kind, a, _, _ = fr.parse(frame)
            if kind == fr.ACK:
                self.progress.tick()
                self.credits.grant(a)
                continue
            self.streaming = self.replying = True
            self.progress.resume()
            assembly = receive(
                frame,
                responses,
                max_body=self.client._max_body,
                spool=(lambda head: spool_to) if spool_to else None,
                progress=self.progress,
            )
            try:
                while True:
                    self.outgoing.put(next(assembly))
            except StopIteration as done:
                head, body = done.value
            self.outgoing.put(_CLOSE)
            for _extra in responses:
                raise FrameError(f"reply to {self.topic!r}: a frame after the end of the body")
            return Message(head.headers, body)
        if self.send_error is not None:
            raise self.send_error
        raise StreamError(f"reply to {self.topic!r}: the server ended the call without a reply")

    def _translate(self, exc: Any) -> Exception:
        import grpc

        if self.send_error is not None:
            return self.send_error  # type: ignore[return-value]
        code, details = exc.code(), exc.details() or ""
        if self.progress.stalled:
            return StreamError(
                f"call {self.topic!r} to {self.client.address}: the stream made no progress "
                f"for {self.client._stall_timeout:.0f} s and was cancelled"
            )
        trailing = dict(exc.trailing_metadata() or ())
        where = f"call {self.topic!r} to {self.client.address}"
        if ERROR_KEY in trailing:
            return RemoteError(self.topic, details, remote_type=str(trailing[ERROR_KEY]))
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return CallTimeoutError(f"{where} timed out")
        if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED):
            return FrameError(f"{where}: the peer rejected a frame: {details}")
        if code == grpc.StatusCode.DATA_LOSS:
            return StreamError(f"{where}: {details}")
        if self.streaming:
            return StreamError(f"{where}: the stream broke mid-way: {details}")
        return TransportError(
            f"{where} failed ({code.name}): {details}",
            hint="is the server running, and were both certificates issued by the same project CA?",
        )


class _Credits:
    """Client side of flow control: the reply reader grants, the request sender waits."""

    def __init__(self, window: int):
        self._window, self._acked, self._closed = window, 0, False
        self._cond = threading.Condition()

    def grant(self, acked: int) -> None:
        with self._cond:
            self._acked = max(self._acked, acked)
            self._cond.notify_all()

    def wait(self, seq: int) -> bool:
        with self._cond:
            while seq - self._acked >= self._window and not self._closed:
                self._cond.wait()
            return not self._closed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
