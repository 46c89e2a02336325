"""``/docs`` (Swagger UI) and ``/redoc`` served from local files, so they work offline and under a CSP.

FastAPI's built-in pages load Swagger UI and ReDoc from a CDN and start them with an inline script: blank
offline and refused by ``script-src 'self'``. Here the assets come from the ``fastapi-offline`` package
(mounted at ``/docs-assets``) and the start-up code is a static file (``/static/api-docs/*.js``) that
reads the OpenAPI URL from a ``data-`` attribute, so no inline script is needed. Both UIs set inline
``style`` attributes and ReDoc injects ``<style>`` elements and starts a search worker from a ``blob:``,
so these two pages get their own policy (``DOCS_CSP``): still no remote origin and no inline script.
ReDoc's sidebar shows a logo from ``cdn.redoc.ly``; the script is served with that one address pointed at
our own favicon (``redoc_script``), so the page makes no remote request and the CSP refuses nothing.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import version
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from markupsafe import escape

from paperfeed.web.static_assets import LONG_CACHE, CachedStaticFiles, asset_url

ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSETS_PREFIX = "/docs-assets"
ASSETS_VERSION = version("fastapi-offline")
DOCS_PATHS = ("/docs", "/redoc")
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)


def _page(*, title: str, head: str, body: str) -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f'<link rel="icon" href="{asset_url("favicon.svg")}" type="image/svg+xml">\n'
        f"{head}</head>\n<body>\n{body}</body>\n</html>\n"
    )
    return HTMLResponse(html)


def _asset(name: str) -> str:
    """A fastapi-offline file, versioned by the package version (the files change only with it)."""
    return f"{ASSETS_PREFIX}/{name}?v={ASSETS_VERSION}"


REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


@cache
def redoc_script() -> bytes:
    """ReDoc's standalone bundle with its one remote image (the sidebar logo) served locally instead."""
    return (ASSETS_DIR / "redoc.standalone.js").read_bytes().replace(REDOC_LOGO, b"/static/favicon.svg")


def install_api_docs(app: FastAPI) -> None:
    """Add ``/docs`` and ``/redoc`` (the app must be created with ``docs_url=None, redoc_url=None``)."""

    @app.get(f"{ASSETS_PREFIX}/redoc.standalone.js", include_in_schema=False)
    def redoc_bundle() -> Response:
        return Response(redoc_script(), media_type="text/javascript", headers={"Cache-Control": LONG_CACHE})

    app.mount(ASSETS_PREFIX, CachedStaticFiles(directory=ASSETS_DIR), name="docs-assets")
    title = f"{app.title} API"
    spec = escape(app.openapi_url or "/openapi.json")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _page(
            title=title,
            head=f'<link rel="stylesheet" href="{_asset("swagger-ui.css")}">\n',
            body=(
                f'<div id="swagger-ui" data-openapi-url="{spec}"></div>\n'
                f'<script src="{_asset("swagger-ui-bundle.js")}"></script>\n'
                f'<script src="{asset_url("api-docs/swagger-init.js")}"></script>\n'
            ),
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _page(
            title=title,
            head="",
            body=(
                f'<div id="redoc" data-openapi-url="{spec}"></div>\n'
                f'<script src="{_asset("redoc.standalone.js")}"></script>\n'
                f'<script src="{asset_url("api-docs/redoc-init.js")}"></script>\n'
            ),
        )
