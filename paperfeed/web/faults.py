"""Exception handlers for faults that are not bugs: a number no stored id can have, a full disk.

- An integer outside the database's range (``collection=9223372036854775808``, ``-2**63 - 1``, 26 digits,
  or above 2**31 - 1 for a PostgreSQL ``integer`` id) names nothing that exists: 404, like any unknown id.
- A full disk (SQLite ``SQLITE_FULL``, PostgreSQL ``53100``, ``ENOSPC``) while writing: 503 with a message
  that says reading still works, instead of a generic 500.

Both answer through the app's HTTP error handler, so HTML pages get the friendly page and ``/api/*`` the
documented ``ErrorOut`` JSON body.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperfeed.store.faults import disk_full_cause

log = logging.getLogger("paperfeed.web")
HttpHandler = Callable[[Request, StarletteHTTPException], Awaitable[Response]]
OUT_OF_RANGE = "No such item: that number is outside the range of stored ids."
DISK_FULL = (
    "The server's disk is full, so changes cannot be saved right now. Reading still works; "
    "please try again later (the operator has to free some space)."
)
_PG_OUT_OF_RANGE = "22003"  # numeric_value_out_of_range


def is_out_of_range(exc: BaseException) -> bool:
    """True for a database refusing an integer parameter as too large or too small for its column."""
    if isinstance(exc, OverflowError):
        return True
    orig = getattr(exc, "orig", None)
    return isinstance(exc, DataError) and getattr(orig, "sqlstate", None) == _PG_OUT_OF_RANGE


def install_fault_handlers(app: FastAPI, on_http: HttpHandler) -> None:
    """Register the handlers; ``on_http`` renders an HTTP error. Other database and OS errors are re-raised,
    so they reach the app's 500 handler exactly as before."""

    async def on_overflow(request: Request, exc: OverflowError) -> Response:
        log.info("out-of-range number on %s %s: %s", request.method, request.url.path, exc)
        return await on_http(request, StarletteHTTPException(404, OUT_OF_RANGE))

    async def on_database(request: Request, exc: DBAPIError) -> Response:
        if disk_full_cause(exc) is not None:
            log.error("disk full on %s %s: %s", request.method, request.url.path, disk_full_cause(exc))
            return await on_http(request, StarletteHTTPException(503, DISK_FULL, headers={"Retry-After": "300"}))
        raise exc

    async def on_os_error(request: Request, exc: OSError) -> Response:
        if disk_full_cause(exc) is not None:
            log.error("disk full on %s %s: %s", request.method, request.url.path, exc)
            return await on_http(request, StarletteHTTPException(503, DISK_FULL, headers={"Retry-After": "300"}))
        raise exc

    app.add_exception_handler(OverflowError, on_overflow)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, on_database)  # type: ignore[arg-type]
    app.add_exception_handler(OSError, on_os_error)  # type: ignore[arg-type]
