"""Account pages: sign up, sign in, sign out, the account page (personal API tokens) and my submissions.

Sign-in failures say the same thing whether the email is unknown or the password wrong, and cost one
argon2 verification either way, so the form does not reveal who has an account.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from paperfeed.community.users import signup_problems
from paperfeed.config import Settings
from paperfeed.digest.mailer import address_problem
from paperfeed.email_verification import send_verification
from paperfeed.ingest.validate import clean_text
from paperfeed.store.account_errors import AccountError
from paperfeed.store.api_tokens import create_api_token, list_api_tokens, revoke_all_api_tokens, revoke_api_token
from paperfeed.store.papers import get_papers
from paperfeed.store.rate_limits import RateLimited
from paperfeed.store.sessions import create_session, delete_other_sessions, delete_session
from paperfeed.store.submissions import submissions_by
from paperfeed.store.users import create_user, get_user_by_email, get_user_by_username, set_password_hash
from paperfeed.web.deps import CsrfProtected, CurrentUser, OptionalUser, SettingsDep, StoreDep
from paperfeed.web.login_throttle import (
    LoginThrottle,
    account_key,
    login_throttle,
    reserve_signup,
    signup_failed,
    signup_limits,
)
from paperfeed.web.pages import safe_next
from paperfeed.web.security import (
    SESSION_COOKIE,
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
_DUMMY_HASH = hash_password("paperfeed-timing-equaliser")
Text = Annotated[str, Form(max_length=2000)]


def login_throttles() -> LoginThrottle:
    """Failed sign-ins allowed (one app's): see :mod:`paperfeed.web.login_throttle`."""
    return login_throttle()


def _signed_in(
    request: Request, user_id: int, engine: StoreDep, settings: SettingsDep, next_url: str | None
) -> Response:
    with engine.begin() as conn:
        token = create_session(conn=conn, user_id=user_id)
    response = RedirectResponse(safe_next(next_url), status_code=303)
    set_session_cookie(response, token, settings, request)
    return response


def _signup_errors(
    email: str, username: str, password: str, settings: Settings, display_name: str = ""
) -> tuple[dict[str, str], str]:
    """The sign-up rule (:func:`signup_problems`), and an address this instance's mail server can reach: the
    confirmation is mailed at once."""
    errors, normalised = signup_problems(
        username=username, email=email, password=password, site_name=settings.site_name, display_name=display_name
    )
    unmailable = None if "email" in errors else address_problem(settings, normalised)  # josé@... without SMTPUTF8
    if unmailable:
        errors["email"] = unmailable
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
    errors, normalised = _signup_errors(email, username, password, settings, display_name)
    retry_after = 0
    if not errors:
        try:
            reserved = reserve_signup(
                engine, address=request.client.host if request.client else "?", limits=signup_limits(settings)
            )
        except RateLimited as exc:
            retry_after = exc.retry_after
            errors["limit"] = (
                f"Too many accounts were created from your network address. Try again in "
                f"{(retry_after + 59) // 60} minutes."
            )
    if not errors:
        try:
            with engine.begin() as conn:
                user = create_user(
                    conn=conn,
                    email=normalised,
                    username=username.strip(),
                    password_hash=hash_password(password),
                    display_name=clean_text(display_name)[:200],
                )
            send_verification(engine=engine, settings=settings, user=user)  # the account page tells the outcome
            return _signed_in(request, user.id, engine, settings, next)
        except AccountError as exc:
            signup_failed(engine, reserved)
            errors[exc.field] = str(exc)
    form = {"email": email, "username": username, "display_name": display_name}
    context = {"form": form, "errors": errors, "next": safe_next(next, "")}
    response = render(request, "signup.html", context, status_code=429 if retry_after else 400)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


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
    """Sign in with email (or username) and password; repeated failures are slowed down (429 once the
    typed name or the client address reached its limit; see :mod:`paperfeed.web.login_throttle`)."""
    ident = clean_text(email)
    with engine.connect() as conn:
        user = (
            get_user_by_email(conn=conn, email=ident)
            if "@" in ident
            else get_user_by_username(conn=conn, username=ident)
        )
    address = request.client.host if request.client else "?"
    throttle: LoginThrottle = request.app.state.login_throttles
    try:  # reserved before the password is checked: parallel guesses cannot outrun the count
        reserved = throttle.reserve(engine, account=account_key(user, ident), ident=ident, address=address)
    except RateLimited as exc:
        minutes = (exc.retry_after + 59) // 60
        limited = render(
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
        limited.headers["Retry-After"] = str(exc.retry_after)
        return limited
    # a decoy (account locked, the typed name not): the same argon2 cost and answer as a wrong password,
    # but the account's password is not checked and which names share an account stays hidden
    ok = verify_password(user.password_hash if user and not reserved.decoy else _DUMMY_HASH, password)
    if user is None or reserved.decoy or not ok:  # the reservation stays: it was a failure
        return render(
            request,
            "login.html",
            {"form": {"email": email}, "next": safe_next(next, ""), "error": "Wrong email or password."},
            status_code=400,
        )
    throttle.succeeded(engine, reserved)
    if user.disabled:  # only said to someone who knows the password
        error = "This account has been disabled. Ask the site's administrators to enable it again."
        return render(
            request,
            "login.html",
            {"form": {"email": email}, "next": safe_next(next, ""), "error": error},
            status_code=403,
        )
    if needs_rehash(user.password_hash):
        with engine.begin() as conn:
            set_password_hash(conn=conn, user_id=user.id, password_hash=hash_password(password))
    return _signed_in(request, user.id, engine, settings, next)


@router.post("/logout")
def logout(request: Request, engine: StoreDep, settings: SettingsDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with engine.begin() as conn:
            delete_session(conn=conn, token=token)
    response = RedirectResponse("/", status_code=303)
    clear_session_cookie(response, settings, request)
    return response


def _account_page(
    request: Request, engine: StoreDep, user: CurrentUser, status_code: int = 200, **extra: object
) -> Response:
    """The account page: profile, whether the email address is verified, API tokens, password form."""
    with engine.connect() as conn:
        tokens = list_api_tokens(conn=conn, user_id=user.id)
    settings = request.app.state.settings
    ctx = {"tab": "account", "tokens": tokens, "new_token": None, "mail_enabled": settings.emails_enabled, **extra}
    return render(request, "account.html", ctx, status_code=status_code)


@router.get("/account")
def account(request: Request, engine: StoreDep, user: CurrentUser) -> Response:
    """Profile and personal API tokens (a new token is shown once, right after it is created)."""
    return _account_page(request, engine, user)


@router.post("/account/password")
def change_password(
    request: Request,
    engine: StoreDep,
    user: CurrentUser,
    settings: SettingsDep,
    current: Annotated[str, Form(max_length=2000)],
    new: Annotated[str, Form(max_length=2000)],
    revoke_tokens: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    """Change the password (the current one is required), sign out every other session and, when the box
    is ticked, revoke every personal API token."""
    problem = None if verify_password(user.password_hash, current) else "the current password is wrong"
    context = {"username": user.username, "email": user.email, "site_name": settings.site_name}
    problem = problem or password_problem(new, **context)
    if problem:
        return _account_page(request, engine, user, 400, password_error=problem)
    with engine.begin() as conn:
        set_password_hash(conn=conn, user_id=user.id, password_hash=hash_password(new))
        delete_other_sessions(conn=conn, user_id=user.id, keep_token=request.cookies.get(SESSION_COOKIE))
        revoked = revoke_all_api_tokens(conn=conn, user_id=user.id) if revoke_tokens is not None else 0
    return RedirectResponse("/account?password=changed" + (f"&revoked={revoked}" if revoked else ""), status_code=303)


@router.post("/account/tokens")
def create_token(
    request: Request, engine: StoreDep, user: CurrentUser, name: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    with engine.begin() as conn:
        token = create_api_token(conn=conn, user_id=user.id, name=clean_text(name)[:100] or "API token")
    response = _account_page(request, engine, user, new_token=token)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(token_id: int, engine: StoreDep, user: CurrentUser) -> Response:
    with engine.begin() as conn:
        if not revoke_api_token(conn=conn, user_id=user.id, token_id=token_id):
            raise HTTPException(404, "That token does not exist.")
    return RedirectResponse("/account", status_code=303)


@router.get("/account/submissions")
def my_submissions(request: Request, engine: StoreDep, user: CurrentUser) -> Response:
    """Papers this member submitted, newest first."""
    with engine.connect() as conn:
        subs = submissions_by(conn=conn, user_id=user.id, limit=200)
        papers = get_papers(conn=conn, ids=[s.paper_id for s in subs])
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
