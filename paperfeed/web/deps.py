"""FastAPI dependencies as ``Annotated`` aliases: settings, store, searcher, the signed-in member.

- ``SearcherDep``: the search service (503 when it could not be built); ``OptionalSearcher``: it or None.
- ``OptionalUser``: the member of the session cookie, or None.
- ``CurrentUser``: the same but required; an HTML page redirects to ``/login?next=...``, a JSON route
  answers 401.
- ``ApiUser``: the owner of a personal API token sent as ``Authorization: Bearer pf_...`` (401 otherwise).
- ``VerifiedUser`` / ``VerifiedApiUser``: the same, with a verified email address: only they vote,
  comment, submit papers and claim authorship (403 saying how to verify otherwise; a page explains it).
- ``CsrfProtected``: a router dependency refusing POST forms without a valid CSRF token (400).
"""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from paperfeed.config import Settings
from paperfeed.search.protocols import Searcher
from paperfeed.store.api_tokens import lookup_api_token, token_use_is_stale, touch_api_token
from paperfeed.store.faults import disk_full_cause
from paperfeed.store.sessions import get_session_user
from paperfeed.store.users import User
from paperfeed.web.security import SESSION_COOKIE, csrf_token, require_csrf

log = logging.getLogger("paperfeed.web")


class LoginRequired(Exception):
    """Raised by ``CurrentUser`` on an HTML page: the app redirects to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class SearchUnavailable(HTTPException):
    def __init__(self) -> None:
        super().__init__(
            503,
            "Search is not available on this instance yet (the search service "
            "could not be loaded). Daily papers and paper pages still work.",
        )


# The dependencies that only read the app's state are ``async``: FastAPI runs a plain ``def`` dependency in
# its thread pool, and each such hand-over (and back) cost more than the dependency itself on every request.


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


async def get_engine(request: Request) -> Engine:
    return _engine(request)


def _searcher(request: Request) -> Searcher | None:
    return getattr(request.app.state, "searcher", None)


async def optional_searcher(request: Request) -> Searcher | None:
    """The app's searcher, or None when it could not be built (pages that work without search)."""
    return _searcher(request)


async def get_searcher(request: Request) -> Searcher:
    searcher = _searcher(request)
    if searcher is None:
        raise SearchUnavailable()
    return searcher


def _session_token(request: Request) -> str | None:
    token = request.cookies.get(SESSION_COOKIE)
    return token if token and len(token) <= 256 else None


def optional_user(request: Request) -> User | None:
    """The signed-in member (cached on the request), or None."""
    if hasattr(request.state, "user"):
        return request.state.user  # type: ignore[no-any-return]
    user = None
    token = _session_token(request)
    if token:
        with _engine(request).connect() as conn:
            user = get_session_user(conn=conn, token=token)
    request.state.user = user
    return user


async def _optional_user(request: Request) -> User | None:
    """``optional_user`` as a dependency: the store is read (in the thread pool) only for a session cookie."""
    if hasattr(request.state, "user") or _session_token(request) is None:
        return optional_user(request)
    return await run_in_threadpool(optional_user, request)


def current_user(request: Request) -> User:
    user = optional_user(request)
    if user is None:
        if request.url.path.startswith("/api/"):
            raise HTTPException(401, "sign in first")
        raise LoginRequired(_come_back_to(request))
    return user


def _come_back_to(request: Request) -> str:
    """Where to return after signing in: this page, or for a form post (an upvote) the page it was on."""
    if request.method == "GET":
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc == request.url.netloc and referer.path.startswith("/"):
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return "/"


def api_user(request: Request) -> User:
    """Member of the ``Authorization: Bearer <personal API token>`` header."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            401, "send a personal API token: Authorization: Bearer pf_...", headers={"WWW-Authenticate": "Bearer"}
        )
    engine = _engine(request)
    with engine.connect() as conn:
        found = lookup_api_token(conn=conn, token=token.strip())
    if found is None:
        raise HTTPException(
            401, "unknown or revoked API token (or a disabled account)", headers={"WWW-Authenticate": "Bearer"}
        )
    user, last_used = found
    if token_use_is_stale(last_used):  # written at most every few minutes, in its own transaction
        try:
            with engine.begin() as conn:
                touch_api_token(conn=conn, token=token.strip())
        except (SQLAlchemyError, OSError) as exc:  # a full disk must not fail the request it was to record
            log.warning("API token use not recorded: %s", disk_full_cause(exc) or exc)
    return user


VERIFY_FIRST = (
    "verify your email address first: only members with a verified address can vote, comment, submit papers "
    "and claim authorship. Follow the link mailed to you, or request a new one on your account page (/account)"
)


class VerificationRequired(Exception):
    """Raised by ``VerifiedUser`` on an HTML page: the app answers 403 with a page linking to ``/account``."""

    def __init__(self, user: User) -> None:
        super().__init__(VERIFY_FIRST)
        self.user = user


def verified_user(request: Request, user: Annotated[User, Depends(current_user)]) -> User:
    """The signed-in member, whose email address is verified (sybil sign-ups neither vote nor post)."""
    if not user.email_verified:
        if request.url.path.startswith("/api/"):
            raise HTTPException(403, VERIFY_FIRST)
        raise VerificationRequired(user)
    return user


def verified_api_user(user: Annotated[User, Depends(api_user)]) -> User:
    """The owner of the API token, whose email address is verified (else 403 saying how to verify)."""
    if not user.email_verified:
        raise HTTPException(403, VERIFY_FIRST)
    return user


def login_url(next_url: str) -> str:
    return "/login?next=" + quote(next_url, safe="/")


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Engine, Depends(get_engine)]
SearcherDep = Annotated[Searcher, Depends(get_searcher)]
OptionalSearcher = Annotated[Searcher | None, Depends(optional_searcher)]
OptionalUser = Annotated[User | None, Depends(_optional_user)]
CurrentUser = Annotated[User, Depends(current_user)]
ApiUser = Annotated[User, Depends(api_user)]
VerifiedUser = Annotated[User, Depends(verified_user)]
VerifiedApiUser = Annotated[User, Depends(verified_api_user)]
CsrfProtected = Depends(require_csrf)

__all__ = [
    "ApiUser",
    "CsrfProtected",
    "CurrentUser",
    "LoginRequired",
    "OptionalSearcher",
    "OptionalUser",
    "SearcherDep",
    "SettingsDep",
    "StoreDep",
    "VerificationRequired",
    "VerifiedApiUser",
    "VerifiedUser",
    "csrf_token",
    "login_url",
]
