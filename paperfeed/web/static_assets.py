"""Static files with cache headers and versioned URLs.

Templates link assets as ``/static/paperfeed.css?v=<hash>`` (``asset_url``): the query string is the first
12 hex digits of the file's SHA-256, so a new release changes the URL and browsers may keep each version
for a year (``Cache-Control: public, max-age=31536000, immutable``). Starlette's ``StaticFiles`` also sends
``ETag`` and ``Last-Modified`` and answers ``If-None-Match`` with 304, so an unversioned URL revalidates.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
LONG_CACHE = "public, max-age=31536000, immutable"
SHORT_CACHE = "public, max-age=300"  # unversioned URLs: reuse for 5 minutes, then revalidate (ETag)


@cache
def asset_version(name: str) -> str:
    """Content hash of ``static/<name>`` (12 hex digits); empty when the file does not exist."""
    path = STATIC_DIR / name
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError:
        return ""


def asset_url(name: str) -> str:
    """``/static/<name>?v=<content hash>`` for templates and pages."""
    version = asset_version(name)
    return f"/static/{name}?v={version}" if version else f"/static/{name}"


class CachedStaticFiles(StaticFiles):
    """``StaticFiles`` adding ``Cache-Control``: long for versioned URLs (``?v=``), short otherwise."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            versioned = b"v=" in scope.get("query_string", b"")
            response.headers.setdefault("Cache-Control", LONG_CACHE if versioned else SHORT_CACHE)
        return response
