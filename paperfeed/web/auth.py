"""Account pages: sign up, sign in, sign out, the account page (personal API tokens) and my submissions.

Sign-in failures say the same thing whether the email is unknown or the password wrong, and cost one
argon2 verification either way, so the form does not reveal who has an account.
"""

from __future__ import annotations

import re
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from paperfeed.ingest.validate import clean_text
from paperfeed.store import accounts
from paperfeed.store.papers import get_papers
from paperfeed.web.deps import CsrfProtected, CurrentUser, OptionalUser, SettingsDep, StoreDep
from paperfeed.web.pages import safe_next
from paperfeed.web.security import (
    SESSION_COOKIE,
    Throttle,
    clear_session_cookie,
    hash_password,
    needs_rehash,
    password_problem,
    set_session_cookie,
    verify_password,
)
from paperfeed.web.templating import render
from paperfeed.web.views import Card, decorate

router = APIRouter(dependencies=[CsrfProtected], include_in_schema=False)
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,31}$")
_DUMMY_HASH = hash_password("paperfeed-timing-equaliser")
Text = Annotated[str, Form(max_length=2000)]


def login_throttles() -> tuple[Throttle, Throttle]:
    """Failed sign-ins allowed: 10 per quarter hour per (address, account), 50 per address (one app's)."""
    return Throttle(10, 15 * 60), Throttle(50, 15 * 60)


def _signed_in(
    request: Request, user_id: int, engine: StoreDep, settings: SettingsDep, next_url: str | None
) -> Response:
    with engine.begin() as conn:
        token = accounts.create_session(conn=conn, user_id=user_id)
    response = RedirectResponse(safe_next(next_url), status_code=303)
    set_session_cookie(response, token, settings, request)
    return response


def _signup_errors(email: str, username: str, password: str) -> tuple[dict[str, str], str]:
    errors: dict[str, str] = {}
    normalised = email.strip().lower()
    try:
        normalised = validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        errors["email"] = str(exc)
    if not USERNAME_RE.match(username.strip()):
        errors["username"] = "2-32 letters, digits, '.', '_' or '-', starting with a letter or digit"
    problem = password_problem(password)
    if problem:
        errors["password"] = problem
    return errors, normalised


@router.get("/signup")
def signup_form(request: Request, user: OptionalUser, next: str | None = None) -> Response:  # noqa: A002
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "signup.html", {"form": {}, "errors": {}, "next": safe_next(next, "")})


@router.post("/signup")
def signup(
    request: Request,
    engine: StoreDep,
    settings: SettingsDep,
    email: Text,
    username: Text,
    password: Annotated[str, Form(max_length=2000)],
    display_name: Text = "",
    next: Text = "",
) -> Response:  # noqa: A002
    """Create an account and sign in; errors are shown next to their fields."""
    errors, normalised = _signup_errors(email, username, password)
    if not errors:
        try:
            with engine.begin() as conn:
                user = accounts.create_user(
                    conn=conn,
                    email=normalised,
                    username=username.strip(),
                    password_hash=hash_password(password),
                    display_name=clean_text(display_name)[:200],
                )
            return _signed_in(request, user.id, engine, settings, next)
        except accounts.AccountError as exc:
            errors[exc.field] = str(exc)
    form = {"email": email, "username": username, "display_name": display_name}
    return render(
        request, "signup.html", {"form": form, "errors": errors, "next": safe_next(next, "")}, status_code=400
    )


@router.get("/login")
def login_form(request: Request, user: OptionalUser, next: str | None = None) -> Response:  # noqa: A002
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"form": {}, "error": None, "next": safe_next(next, "")})


@router.post("/login")
def login(
    request: Request,
    engine: StoreDep,
    settings: SettingsDep,
    email: Text,
    password: Annotated[str, Form(max_length=2000)],
    next: Text = "",
) -> Response:  # noqa: A002
    """Sign in with email (or username) and password; repeated failures are slowed down (429)."""
    ident = clean_text(email)
    client = request.client.host if request.client else "?"
    keys = (f"{client} {ident.lower()}", client)
    throttles: tuple[Throttle, Throttle] = request.app.state.login_throttles
    wait = max(throttle.retry_after(k) for throttle, k in zip(throttles, keys, strict=True))
    if wait:
        minutes = (wait + 59) // 60
        return render(
            request,
            "login.html",
            {
                "form": {"email": email},
                "next": safe_next(next, ""),
                "error": f"Too many failed sign-in attempts. Try again in "
                f"{minutes} minute{'s' if minutes > 1 else ''}.",
            },
            status_code=429,
        )
    with engine.connect() as conn:
        user = (
            accounts.get_user_by_email(conn=conn, email=ident)
            if "@" in ident
            else accounts.get_user_by_username(conn=conn, username=ident)
        )
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not ok:
        for throttle, key in zip(throttles, keys, strict=True):
            throttle.fail(key)
        return render(
            request,
            "login.html",
            {"form": {"email": email}, "next": safe_next(next, ""), "error": "Wrong email or password."},
            status_code=400,
        )
    throttles[0].clear(keys[0])
    if needs_rehash(user.password_hash):
        with engine.begin() as conn:
            accounts.set_password_hash(conn=conn, user_id=user.id, password_hash=hash_password(password))
    return _signed_in(request, user.id, engine, settings, next)


@router.post("/logout")
def logout(request: Request, engine: StoreDep, settings: SettingsDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with engine.begin() as conn:
            accounts.delete_session(conn=conn, token=token)
    response = RedirectResponse("/", status_code=303)
    clear_session_cookie(response, settings, request)
    return response


@router.get("/account")
def account(request: Request, engine: StoreDep, user: CurrentUser) -> Response:
    """Profile and personal API tokens (a new token is shown once, right after it is created)."""
    with engine.connect() as conn:
        tokens = accounts.list_api_tokens(conn=conn, user_id=user.id)
    return render(request, "account.html", {"tab": "account", "tokens": tokens, "new_token": None})


@router.post("/account/password")
def change_password(
    request: Request,
    engine: StoreDep,
    user: CurrentUser,
    current: Annotated[str, Form(max_length=2000)],
    new: Annotated[str, Form(max_length=2000)],
) -> Response:
    """Change the password (the current one is required) and sign out every other session."""
    problem = None if verify_password(user.password_hash, current) else "the current password is wrong"
    problem = problem or password_problem(new)
    if problem:
        with engine.connect() as conn:
            tokens = accounts.list_api_tokens(conn=conn, user_id=user.id)
        return render(
            request,
            "account.html",
            {"tab": "account", "tokens": tokens, "new_token": None, "password_error": problem},
            status_code=400,
        )
    with engine.begin() as conn:
        accounts.set_password_hash(conn=conn, user_id=user.id, password_hash=hash_password(new))
        accounts.delete_other_sessions(conn=conn, user_id=user.id, keep_token=request.cookies.get(SESSION_COOKIE))
    return RedirectResponse("/account?password=changed", status_code=303)


@router.post("/account/tokens")
def create_token(
    request: Request, engine: StoreDep, user: CurrentUser, name: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    with engine.begin() as conn:
        token = accounts.create_api_token(conn=conn, user_id=user.id, name=clean_text(name)[:100] or "API token")
        tokens = accounts.list_api_tokens(conn=conn, user_id=user.id)
    response = render(request, "account.html", {"tab": "account", "tokens": tokens, "new_token": token})
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(token_id: int, engine: StoreDep, user: CurrentUser) -> Response:
    with engine.begin() as conn:
        if not accounts.revoke_api_token(conn=conn, user_id=user.id, token_id=token_id):
            raise HTTPException(404, "That token does not exist.")
    return RedirectResponse("/account", status_code=303)


@router.get("/account/submissions")
def my_submissions(request: Request, engine: StoreDep, user: CurrentUser) -> Response:
    """Papers this member submitted, newest first."""
    with engine.connect() as conn:
        subs = accounts.submissions_by(conn=conn, user_id=user.id, limit=200)
        papers = {p.id: p for p in get_papers(conn=conn, ids=[s.paper_id for s in subs])}
        cards = decorate(
            conn,
            [
                Card(papers[s.paper_id], daily_date=s.daily_date, submitted_by=user.public)
                for s in subs
                if s.paper_id in papers
            ],
            user,
        )
    return render(request, "submissions.html", {"tab": "submissions", "cards": cards})
