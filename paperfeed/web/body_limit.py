"""A bound on request bodies, checked before a body is read: ``413 Content Too Large`` past
``PAPERFEED_MAX_BODY_BYTES`` (default 1 MB).

A request that announces a longer ``Content-Length`` is refused without reading a byte of its body (the
server then closes the connection). One without a length (chunked) is read up to the limit and refused as
soon as it goes past it, so no handler ever parses a larger body. A route with its own, larger bound (the PDF
upload of ``/similar``) is named in ``larger`` and keeps that bound.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Refuse = Callable[[Request, int], Awaitable[Response]]  # (request, limit) -> the 413 answer


def too_large_message(limit: int) -> str:
    """What a refused client is told (the page and the API's ``error``)."""
    size = f"{limit / (1 << 20):g} MB" if limit >= 1 << 20 else f"{limit // 1024} KB"
    return f"The request body is larger than {size}, the most this server accepts."


class BodyLimit:
    """ASGI middleware: refuse bodies over ``limit`` bytes (``larger[path]`` for a route with its own bound)."""

    def __init__(self, app: ASGIApp, *, limit: int, refuse: Refuse, larger: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.refuse = refuse
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = max(self.limit, self.larger.get(scope.get("path", ""), 0))
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            if not length.strip().isdigit() or int(length) > limit:
                await self._refuse(scope, receive, send, limit)
                return
            await self.app(scope, receive, send)
            return
        if b"chunked" not in headers.get(b"transfer-encoding", b"").lower():
            await self.app(scope, receive, send)  # no body at all
            return
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            body += message.get("body", b"")
            more = bool(message.get("more_body"))
            if len(body) > limit:
                await self._refuse(scope, receive, send, limit)
                return
        await self.app(
            scope, _replay([{"type": "http.request", "body": bytes(body), "more_body": False}], receive), send
        )

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = await self.refuse(Request(scope, receive), limit)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that first gives ``messages`` (the body already read), then the real one."""
    pending = list(messages)

    async def again() -> Message:
        return pending.pop(0) if pending else await receive()

    return again
