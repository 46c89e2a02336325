"""The web application: ``create_app(settings)`` wires the store, the searcher, templates and routers.

The store is opened (and migrated, and seeded with the demo corpus when ``seed_demo``) once, on startup or on
the first request, whichever comes first, so ``TestClient(create_app(settings))`` works with or without
``with``. Errors never show a stack trace: HTML pages get a friendly page, ``/api/*`` a JSON body that names
the offending field.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy import Engine
from sqlalchemy.exc import DataError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed.config import Settings
from paperfeed.search.factory import make_searcher
from paperfeed.search.protocols import Searcher
from paperfeed.secret_key import ensure_secret_key
from paperfeed.settings_errors import load_settings
from paperfeed.store.db import open_store
from paperfeed.web import (
    admin,
    api_comments,
    api_hf,
    api_suggest,
    api_v1,
    auth,
    authors,
    citations,
    cite,
    comments,
    feeds,
    foryou,
    graph_pages,
    pages,
    public_collections,
    status_page,
    subscriptions,
    verify_email,
)
from paperfeed.web.access_log import redact_access_log
from paperfeed.web.api_docs import DOCS_CSP, DOCS_PATHS, install_api_docs
from paperfeed.web.auth import login_throttles
from paperfeed.web.body_limit import BodyLimit, too_large_message
from paperfeed.web.deps import LoginRequired, VerificationRequired, login_url
from paperfeed.web.error_docs import document_errors
from paperfeed.web.faults import OUT_OF_RANGE, install_fault_handlers, is_out_of_range
from paperfeed.web.proxies import add_proxy_headers
from paperfeed.web.route_methods import allowed_methods, wrong_method
from paperfeed.web.security import SESSION_COOKIE, set_csrf_cookie
from paperfeed.web.similar_page import MAX_REQUEST_BYTES
from paperfeed.web.static_assets import CachedStaticFiles
from paperfeed.web.templating import make_templates, render

log = logging.getLogger("paperfeed.web")
STATIC_DIR = Path(__file__).parent / "static"
# Routers in the order they are matched: JSON and feeds first (``/papers/{id}.md`` before the HTML page).
ROUTERS = (
    api_hf.router,
    api_comments.router,  # COMMUNITY: before api_v1, whose /papers/{id:path} would match .../comments
    api_suggest.router,  # SEARCH: /api/v1/suggest (suggestions as you type)
    graph_pages.router,  # CITATIONS: /papers/{id}/graph and /api/v1/papers/{id}/graph, before api_v1 and pages
    citations.router,  # CITATIONS: /api/v1/papers/{id}/references and /citations, before api_v1
    api_v1.router,
    feeds.router,
    subscriptions.router,  # DIGEST: subscribe / manage / unsubscribe pages and API
    foryou.router,  # DIGEST: /for-you recommendations page
    auth.router,
    verify_email.router,  # ACCOUNTS: /account/verify/{token}, /account/verify/resend
    comments.router,  # COMMUNITY: comment forms, /moderation, /papers/{id}/comments.atom
    admin.router,  # COMMUNITY: /admin/users
    status_page.router,  # FOLLOW: /status (papers, search, the arXiv follower)
    cite.router,  # COMMUNITY: /papers/{id}.bib, before pages' /papers/{id:path}
    authors.router,  # COMMUNITY: /authors/{name}, /api/v1/authors/{name}, claims, /u/{username}
    public_collections.router,  # COMMUNITY: /c/{slug}, /c/{slug}.atom, sharing a collection
    pages.router,
)
GZIP_MIN_BYTES = 1000  # smaller answers gain too little to be worth compressing
GZIP_LEVEL = 4  # a 44 KB search page: 0.41 ms at level 4 against 0.94 ms at 9 (Starlette's default), 2.5% larger
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


def start_store(app: FastAPI) -> None:
    """Open the store, seed the demo corpus if asked, build the searcher: once per app, thread-safe."""
    with app.state.start_lock:
        if getattr(app.state, "engine", None) is not None:
            return
        settings: Settings = app.state.settings
        engine = open_store(settings)
        if settings.seed_demo:
            from paperfeed.ingest.demo import seed_demo_if_empty

            seed_demo_if_empty(engine=engine)
        app.state.searcher = _make_searcher(engine, settings)
        app.state.engine = engine


def _make_searcher(engine: Engine, settings: Settings) -> Searcher | None:
    """The searcher over the newest published index generation (a private copy of its files); None (search
    pages answer 503, everything else works) when the index directory cannot be used at all."""
    try:
        return make_searcher(engine=engine, settings=settings, serving=True)
    except (OSError, ValueError, RuntimeError) as exc:
        log.warning("search unavailable: %s", exc)
        return None


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    import anyio

    redact_access_log()  # mailed links' tokens never reach the access log (web/access_log.py)
    await anyio.to_thread.run_sync(start_store, app)
    from paperfeed.ingest.follow import start_following  # FOLLOW: PAPERFEED_FOLLOW harvests in the background

    follower = start_following(engine=app.state.engine, settings=app.state.settings)
    from paperfeed.ingest.demo_enrich import start_demo_enrichment  # DEMO: arXiv records for the demo papers

    demo = start_demo_enrichment(engine=app.state.engine, settings=app.state.settings)
    app.state.demo_enricher = demo
    writer = None
    if app.state.settings.index_writer and app.state.searcher is not None:  # WRITER: one per instance (lease)
        from paperfeed.search.writer import start_index_writer

        writer = start_index_writer(
            engine=app.state.engine, settings=app.state.settings, model=app.state.searcher.model
        )
    yield
    if writer is not None:
        await anyio.to_thread.run_sync(writer)
    if demo is not None:
        await anyio.to_thread.run_sync(demo.stop)
    if follower is not None:
        await anyio.to_thread.run_sync(follower.stop)
    searcher = getattr(app.state, "searcher", None)
    if searcher is not None:
        searcher.close()
    engine = getattr(app.state, "engine", None)
    if engine is not None:
        engine.dispose()


def _include_routers(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)


def _wants_json(request: Request) -> bool:
    path = request.url.path
    accept = request.headers.get("accept", "")
    return path.startswith("/api/") or path == "/api" or "application/json" in accept


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    """The friendly HTML error page, answered with ``status``."""
    return render(request, "error.html", {"status": status, "title": title, "message": message}, status_code=status)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie", "form")]
    return ".".join(parts) or (str(loc[-1]) if loc else "request")


async def _on_validation(request: Request, exc: RequestValidationError) -> Response:
    errors = [
        {
            "field": _field(e.get("loc", ())),
            "message": e.get("msg", "invalid"),
            "loc": list(e.get("loc", ())),
            "type": e.get("type", ""),
        }
        for e in exc.errors()
    ]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
    if _wants_json(request):
        return JSONResponse({"error": summary, "detail": errors}, status_code=422)
    return _error_page(request, 400, "That request was not valid", summary)


_TITLES = {
    400: "Bad request",
    401: "Please sign in",
    403: "Not allowed",
    404: "Page not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Too large",
    422: "That request was not valid",
    429: "Too many requests",
    503: "Temporarily unavailable",
}


async def _on_http(request: Request, exc: StarletteHTTPException) -> Response:
    headers = dict(getattr(exc, "headers", None) or {})
    allowed = allowed_methods(request) if exc.status_code == 405 else []
    if allowed:  # every method of the resource at this path, whichever route serves it
        headers["Allow"] = ", ".join(allowed)
    if _wants_json(request):
        return JSONResponse(
            {"error": str(exc.detail), "detail": exc.detail}, status_code=exc.status_code, headers=headers
        )
    message = str(exc.detail)
    if exc.status_code == 404 and message in ("Not Found", ""):
        message = "We could not find that page. It may have moved, or the address may be mistyped."
    response = _error_page(request, exc.status_code, _TITLES.get(exc.status_code, "Something went wrong"), message)
    response.headers.update(headers)  # Allow, Retry-After, WWW-Authenticate: pages keep them too
    return response


async def _too_large(request: Request, limit: int) -> Response:
    return await _on_http(request, StarletteHTTPException(413, too_large_message(limit)))


async def _on_login_required(request: Request, exc: LoginRequired) -> Response:
    return RedirectResponse(login_url(exc.next_url), status_code=303)


async def _on_verification_required(request: Request, exc: VerificationRequired) -> Response:
    """403 page saying why an unverified member cannot vote, comment, submit or claim, and how to verify."""
    context = {"required": True, "acting": True, "email": exc.user.email}
    return render(request, "account_verify.html", context, status_code=403)


async def _on_data_error(request: Request, exc: DataError) -> Response:
    """Input the database refuses (a NUL byte in PostgreSQL text, a number out of range): 400, not 500."""
    if is_out_of_range(exc):  # an id no row can have (PostgreSQL integer columns): like any unknown id
        return await _on_http(request, StarletteHTTPException(404, OUT_OF_RANGE))
    log.info("refused input on %s %s: %s", request.method, request.url.path, exc.orig)
    message = "The request contains a value that cannot be stored (such as a NUL byte)."
    if _wants_json(request):
        return JSONResponse({"error": message, "detail": message}, status_code=400)
    return _error_page(request, 400, "That request was not valid", message)


async def _on_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if _wants_json(request):
        return JSONResponse({"error": "internal error", "detail": "internal error"}, status_code=500)
    try:
        message = "An unexpected error happened on our side. Please try again in a moment."
        return _error_page(request, 500, "Something went wrong", message)
    except Exception:  # noqa: BLE001 - the error page itself failed: plain text, still no trace
        return Response("Something went wrong.", status_code=500, media_type="text/plain")


class SiteHeaders:
    """Plain ASGI middleware (no per-request task group, as ``@app.middleware`` costs): opens the store on
    first use, refuses NUL bytes in paths and a broader route answering for a resource (405), and adds the
    security headers, ``Cache-Control: private`` for signed-in answers, the CSP and a new CSRF cookie to
    every answer."""

    def __init__(self, app: ASGIApp, site: FastAPI) -> None:
        self.app = app
        self.site = site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if getattr(self.site.state, "engine", None) is None:
            import anyio

            await anyio.to_thread.run_sync(start_store, self.site)
        request = Request(scope, receive)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add_headers(request, MutableHeaders(scope=message))
            await send(message)

        if "\x00" in request.url.path:  # query values are each route's to validate (and name)
            response = await _on_http(request, StarletteHTTPException(400, "Addresses cannot contain NUL bytes."))
        elif wrong_method(request):  # a broader route must not answer for a resource (405 + Allow)
            response = await _on_http(request, StarletteHTTPException(405))
        else:
            await self.app(scope, receive, send_with_headers)
            return
        await response(scope, receive, send_with_headers)


def _add_headers(request: Request, headers: MutableHeaders) -> None:
    for key, value in _SECURITY_HEADERS.items():
        headers.setdefault(key, value)
    if SESSION_COOKIE in request.cookies or "authorization" in request.headers:
        # An answer for a signed-in member (their account, library, name in the header): no shared cache may
        # keep it, and no browser cache either (a shared computer).
        headers.setdefault("Cache-Control", "private, no-store")
    docs_page = request.url.path in DOCS_PATHS  # local Swagger UI / ReDoc: their own policy
    headers.setdefault("Content-Security-Policy", DOCS_CSP if docs_page else _CSP)
    cookie = Response()
    set_csrf_cookie(request, cookie)  # a first visit gets its CSRF cookie
    for value in cookie.headers.getlist("set-cookie"):
        headers.append("set-cookie", value)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The Paperfeed web app for ``settings`` (default: from the environment)."""
    settings = ensure_secret_key(settings or load_settings())
    app = FastAPI(
        title=settings.site_name,
        version="0.1.0",
        lifespan=_lifespan,
        docs_url=None,  # /docs and /redoc come from paperfeed.web.api_docs, with local assets
        redoc_url=None,
        description="Paperfeed: daily and trending research papers, search, feeds and a "
        "Hugging Face-compatible papers API.",
    )
    app.state.settings = settings
    app.state.start_lock = threading.Lock()
    app.state.engine = None
    app.state.searcher = None
    app.state.templates = make_templates()
    app.state.login_throttles = login_throttles()
    app.mount("/static", CachedStaticFiles(directory=STATIC_DIR), name="static")
    install_api_docs(app)
    app.add_exception_handler(RequestValidationError, _on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http)  # type: ignore[arg-type]
    app.add_exception_handler(LoginRequired, _on_login_required)  # type: ignore[arg-type]
    app.add_exception_handler(VerificationRequired, _on_verification_required)  # type: ignore[arg-type]
    app.add_exception_handler(DataError, _on_data_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _on_error)
    install_fault_handlers(app, _on_http)  # out-of-range numbers: 404; disk full: 503
    # Innermost: bodies over PAPERFEED_MAX_BODY_BYTES are refused (413) before they are read (web/body_limit.py).
    larger = {"/similar": MAX_REQUEST_BYTES}  # the PDF upload keeps its own bound
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, refuse=_too_large, larger=larger)
    # Inside the headers middleware, which streams every answer: there GZip would compress even tiny ones.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=GZIP_LEVEL)
    app.add_middleware(SiteHeaders, site=app)
    add_proxy_headers(app, settings)  # outermost: every handler and middleware sees the real client
    _include_routers(app)
    document_errors(app)  # every route's possible error answers, in /openapi.json
    return app
