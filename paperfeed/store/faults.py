"""Storage faults reported plainly instead of as tracebacks: a full disk (or exhausted quota) while writing.

``disk_full_cause(exc)`` walks an exception and what it wraps (SQLAlchemy's ``orig``, ``__cause__``) and
returns a one-line description when the root cause is a full disk, so the CLI can print one line and the
web app can answer 503 while reads keep working.
"""

from __future__ import annotations

import errno

# SQLite: SQLITE_FULL (13), "database or disk is full"; PostgreSQL: SQLSTATE 53100 disk_full.
_SQLITE_FULL = 13
_PG_DISK_FULL = "53100"
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 10:
        item = todo.pop()
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        todo += [getattr(item, "orig", None), item.__cause__, item.__context__]
    return seen


def _describe(exc: BaseException) -> str | None:
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        return exc.strerror or "no space left on device"
    if getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL:
        return "database or disk is full"
    if getattr(exc, "sqlstate", None) == _PG_DISK_FULL or getattr(exc, "pgcode", None) == _PG_DISK_FULL:
        return "the database server's disk is full"
    text = str(exc).lower()
    if "database or disk is full" in text or "no space left on device" in text:
        return "no space left on device"
    return None


def disk_full_cause(exc: BaseException) -> str | None:
    """A one-line cause when ``exc`` comes from a full disk or quota, else None."""
    for item in _chain(exc):
        cause = _describe(item)
        if cause:
            return cause
    return None
