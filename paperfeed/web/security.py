"""Passwords, session cookies and CSRF tokens.

- Passwords: argon2id (argon2-cffi defaults), re-hashed on sign-in when the parameters change (hashing
  and policy live in :mod:`paperfeed.password_policy`, below every layer; imported here for the pages).
- Sessions: a random token in an HttpOnly, SameSite=Lax cookie (Secure when ``base_url`` is https); the
  store keeps only its SHA-256 (see :mod:`paperfeed.store.sessions`).
- CSRF: every browser gets a random id in an HttpOnly cookie; every form carries that id, and a digest of
  the session cookie it was made under, signed with the instance secret (itsdangerous). A POST form is
  accepted only when its signed token matches both cookies, so another site can neither read nor forge it,
  and a CSRF cookie planted in a browser with a token minted for it is worthless once that browser signs in
  (the token is bound to the session, which the planter does not have).
"""

from __future__ import annotations

import hashlib
import secrets

from fastapi import HTTPException, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from paperfeed.config import MIN_SECRET_LENGTH, Settings

# The password rules and hashing live in paperfeed.password_policy (re-exported here for the pages).
from paperfeed.password_policy import MAX_PASSWORD as MAX_PASSWORD
from paperfeed.password_policy import MIN_PASSWORD as MIN_PASSWORD
from paperfeed.password_policy import hash_password as hash_password
from paperfeed.password_policy import needs_rehash as needs_rehash
from paperfeed.password_policy import password_problem as password_problem
from paperfeed.password_policy import verify_password as verify_password

SESSION_COOKIE = "pf_session"
CSRF_COOKIE = "pf_csrf"
CSRF_FIELD = "csrf_token"
CSRF_MAX_AGE = 7 * 24 * 3600  # a form stays valid for a week
SESSION_MAX_AGE = 30 * 24 * 3600


def secure_cookies(settings: Settings, request: Request | None = None) -> bool:
    """Cookies are ``Secure`` when the site is public over HTTPS (``base_url``) or this request came over
    HTTPS (directly, or through a proxy whose ``X-Forwarded-Proto`` uvicorn trusts)."""
    if settings.base_url.lower().startswith("https://"):
        return True
    return request is not None and request.url.scheme == "https"


def set_session_cookie(response: Response, token: str, settings: Settings, request: Request | None = None) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings, request),
        path="/",
    )


def clear_session_cookie(response: Response, settings: Settings, request: Request | None = None) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=secure_cookies(settings, request), path="/"
    )


# ---------------------------------------------------------------- CSRF


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    if len(settings.secret_key) < MIN_SECRET_LENGTH:  # create_app always sets one (paperfeed/secret_key.py)
        raise RuntimeError("no instance secret: build settings with paperfeed.secret_key.ensure_secret_key")
    return URLSafeTimedSerializer(settings.secret_key, salt="paperfeed-csrf")


def csrf_id(request: Request) -> str:
    """This browser's CSRF id: from its cookie, or a new one that the middleware will set."""
    existing = getattr(request.state, "csrf_id", None)
    if existing:
        return str(existing)
    value = request.cookies.get(CSRF_COOKIE, "")
    if not (16 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum()):
        value = secrets.token_urlsafe(24)
        request.state.csrf_new = True
    request.state.csrf_id = value
    return value


def _session_binding(request: Request) -> str:
    """A digest of the request's session cookie ("" when signed out): what a CSRF token is bound to."""
    raw = request.cookies.get(SESSION_COOKIE, "")
    return hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()[:32] if raw else ""


def csrf_token(request: Request) -> str:
    """The token to put in a form's hidden ``csrf_token`` field (bound to the CSRF cookie and the session)."""
    cached = getattr(request.state, "csrf_token", None)
    if cached is None:  # one signature per page, however many forms it has
        settings: Settings = request.app.state.settings
        payload = [csrf_id(request), _session_binding(request)]
        cached = request.state.csrf_token = str(_serializer(settings).dumps(payload))
    return str(cached)


def csrf_valid(request: Request, token: str | None) -> bool:
    if not token or CSRF_COOKIE not in request.cookies:
        return False
    settings: Settings = request.app.state.settings
    try:
        value = _serializer(settings).loads(token, max_age=CSRF_MAX_AGE)
    except BadSignature:
        return False
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        return False  # a token of the older, unbound shape: the page is reloaded, as for an expired one
    same_browser = secrets.compare_digest(value[0], request.cookies[CSRF_COOKIE])
    session = _session_binding(request)
    # Signed in: only a token made under this session. Signed out (sign in, sign up, subscribe): any token of
    # this browser, since a signed-out request acts for nobody (a page shown before signing out still works).
    return same_browser and (not session or secrets.compare_digest(value[1], session))


def set_csrf_cookie(request: Request, response: Response) -> None:
    """Called by the app middleware: give a browser its CSRF cookie the first time it is needed."""
    if getattr(request.state, "csrf_new", False):
        response.set_cookie(
            CSRF_COOKIE,
            request.state.csrf_id,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="lax",
            secure=secure_cookies(request.app.state.settings, request),
            path="/",
        )


async def require_csrf(request: Request) -> None:
    """Dependency for HTML routers: every POST form must carry a valid CSRF token, else 400 with what to do."""
    if request.method != "POST":
        return
    token: str | None = None
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        try:
            form = await request.form()
        except Exception:  # noqa: BLE001 - a malformed body is just an invalid form
            form = None
        if form is not None:
            raw = form.get(CSRF_FIELD)
            token = raw if isinstance(raw, str) else None
    token = token or request.headers.get("x-csrf-token")
    if not csrf_valid(request, token):
        raise HTTPException(400, "This form has expired or did not come from this site. Reload the page and try again.")
