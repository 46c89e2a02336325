"""A deadline for reading each request: slow or stalled clients cannot hold connections open for ever.

uvicorn times out idle keep-alive connections (``timeout_keep_alive``) but nothing else: a client that opens a
connection and sends nothing, half its headers, or half the body it announced, keeps the socket (and its
memory) until it goes away, and neither h11 nor httptools has a read timeout of its own. This protocol is
uvicorn's httptools one (measured faster than h11: docs/benchmarks.md) plus one timer: from the moment a
connection opens, or the first byte of the next request on it, the whole request (headers and body) must
arrive within ``PAPERFEED_REQUEST_TIMEOUT`` seconds. Otherwise the server answers ``408 Request Timeout``
(when no response has started) and closes the connection. Time spent by the application answering is not
limited.

The same bound holds for writing: a client that stops reading its answer fills the socket buffers, and
asyncio pauses the writer. If it stays paused (the client reads nothing) for ``PAPERFEED_REQUEST_TIMEOUT``
seconds, the connection is reset (what is still buffered, in the process and in the kernel, is discarded),
so a client that never reads cannot hold a connection, its buffers and a worker's response for ever.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from functools import cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    b"content-length: 42\r\n\r\nThe request was not received in time. Bye.\n"
)


@cache
def _configured_timeout() -> float:
    """``PAPERFEED_REQUEST_TIMEOUT`` of this process (uvicorn workers build their settings from the environment)."""
    from paperfeed.config import Settings

    return Settings().request_timeout


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline on reading each request (see the module docstring)."""

    request_timeout: float | None = None  # None: PAPERFEED_REQUEST_TIMEOUT
    _answering = False  # from the end of a request to the first byte of the next one

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._write_deadline: asyncio.TimerHandle | None = None

    def on_message_begin(self) -> None:
        self._answering = False
        super().on_message_begin()

    def on_message_complete(self) -> None:
        self._answering = True
        super().on_message_complete()

    def _reading(self) -> bool:
        """Whether the client's request is still arriving (or none has begun on a new connection)."""
        return not self._answering

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._disarm_write()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        """The client stopped reading (the buffers are full): it has the timeout to start again."""
        super().pause_writing()
        if self._write_deadline is None:
            self._write_deadline = self.loop.call_later(self._timeout(), self._write_expired)

    def resume_writing(self) -> None:
        self._disarm_write()
        super().resume_writing()

    def _disarm_write(self) -> None:
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None

    def _write_expired(self) -> None:
        self._write_deadline = None
        if self.transport.is_closing():
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:  # reset, not FIN: the kernel must not keep the unread answer for minutes either
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()  # close() would wait for the unread answer to drain: it never will

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._reading() and not self.transport.is_closing():
            if self._deadline is None:  # the first bytes of a new request on a kept-alive connection
                self._arm()
        else:
            self._disarm()  # the whole request is in: the application may take its time

    def _timeout(self) -> float:
        return self.request_timeout if self.request_timeout is not None else _configured_timeout()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self._timeout(), self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or not self._reading():
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(_408)
        self.transport.close()


def protocol_with_timeout(seconds: float) -> type[DeadlineProtocol]:
    """The protocol class for one in-process server with an explicit timeout (``paperfeed serve``)."""
    return type("DeadlineProtocol", (DeadlineProtocol,), {"request_timeout": seconds})
