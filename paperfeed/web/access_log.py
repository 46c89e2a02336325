"""The access log never holds a mailed link's secret: the token of ``/subscriptions/confirm/``,
``/subscriptions/manage/``, ``/unsubscribe/`` and ``/account/verify/`` links is written as ``[redacted]``.

Anyone who reads a log line with such a token could confirm, manage or cancel that subscription, or verify
that address, so uvicorn's access lines (logger ``uvicorn.access``) are rewritten before any handler sees
them. Installed once per process by the app's startup.
"""

from __future__ import annotations

import logging
import re

LINK_TOKEN = re.compile(r"(/(?:subscriptions/confirm|subscriptions/manage|unsubscribe|account/verify)/)[^/?#\s\"]+")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """``text`` with the token of every mailed link replaced by ``[redacted]``."""
    return LINK_TOKEN.sub(lambda m: m.group(1) + REDACTED, text)


class LinkTokenRedactor(logging.Filter):
    """Rewrites the path (and message) of access-log records; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def redact_access_log() -> None:
    """Add the redactor to uvicorn's access logger (once per process)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, LinkTokenRedactor) for f in logger.filters):
        logger.addFilter(LinkTokenRedactor())
