"""Subscription pages and API: subscribe (form and JSON), confirm, manage, one-click unsubscribe, preview.

Handlers validate, call one function of :mod:`paperfeed.digest.subscribe` (or compose for the preview)
and render. Confirmation mails go out as background tasks, after the response, so that neither the answer
nor its timing tells whether an address is known.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.digest import subscribe as service
from paperfeed.digest.compose import build_digest
from paperfeed.digest.mailer import AddressError, address_problem, normalise_address
from paperfeed.digest.render import TokenError, digest_context, manage_url
from paperfeed.digest.send import common_timezones
from paperfeed.store import subscriptions as store
from paperfeed.web.deps import CsrfProtected, CurrentUser, OptionalSearcher, OptionalUser, SettingsDep, StoreDep
from paperfeed.web.error_schemas import ErrorOut
from paperfeed.web.listing import field_error as api_field_error
from paperfeed.web.subscription_form import (
    MAIL_OFF,
    FormFlag,
    FormText,
    PostedPreferences,
    SubscriptionForm,
    field_error,
    mail_setup,
    preference_error,
)
from paperfeed.web.templating import render
from paperfeed.web.verify_email import verify_first

router = APIRouter()
ACCEPTED = (
    "If this address can receive mail, a confirmation link is on its way. Nothing else is sent until it is confirmed."
)


class SubscriptionIn(BaseModel):
    """``POST /api/v1/subscriptions`` body."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=320)
    trending: bool = True
    topics: list[str] = Field(default_factory=list, max_length=50)
    for_you: bool = False
    frequency: Literal["daily", "weekdays", "weekly"] = "daily"
    timezone: str = Field("UTC", max_length=64)
    send_hour: int = Field(7, ge=0, le=23)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        try:
            return normalise_address(value)
        except AddressError as exc:
            raise ValueError(str(exc).removeprefix("email: ")) from exc

    @field_validator("topics")
    @classmethod
    def _topics(cls, value: list[str]) -> list[str]:
        try:
            return list(service.clean_preferences({"topics": value})["topics"])
        except service.PreferenceError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            return str(service.clean_preferences({"timezone": value})["timezone"])
        except service.PreferenceError as exc:
            raise ValueError(str(exc).removeprefix("timezone: ")) from exc


class SubscriptionAccepted(BaseModel):
    status: Literal["pending_confirmation"] = "pending_confirmation"
    message: str = ACCEPTED


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _start(
    engine: Engine,
    settings: Settings,
    background: BackgroundTasks,
    request: Request,
    email: str,
    prefs: dict[str, Any],
    user_id: int | None = None,
) -> None:
    """Record the request and queue the confirmation mail; raises 429 for a noisy client."""
    try:
        result = service.request_subscription(
            engine=engine, email=email, prefs=prefs, client=_client(request), user_id=user_id
        )
    except service.RateLimited as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": "3600"}) from exc
    if result.mail_to is not None:
        background.add_task(
            service.send_confirmation,
            settings=settings,
            subscriber=result.mail_to,
            already_active=result.already_active,
        )


@router.post(
    "/api/v1/subscriptions",
    status_code=202,
    response_model=SubscriptionAccepted,
    tags=["subscriptions"],
    summary="Subscribe an address (double opt-in)",
    responses={
        429: {"model": ErrorOut, "description": "too many subscribe requests from this client; see Retry-After"},
        503: {"model": ErrorOut, "description": "this instance cannot send mail yet: nothing was stored"},
    },
)
def api_subscribe(
    body: SubscriptionIn, request: Request, background: BackgroundTasks, engine: StoreDep, settings: SettingsDep
) -> SubscriptionAccepted:
    """Answers 202 whether or not the address is known; the address gets a confirmation link. 503 (and
    nothing stored) when this instance has no mail settings, since no confirmation could be sent."""
    if not settings.emails_enabled:
        raise HTTPException(503, MAIL_OFF)
    unmailable = address_problem(settings, body.email)
    if unmailable:
        raise api_field_error("email", unmailable, where="body")
    prefs = body.model_dump(exclude={"email"})
    _start(engine, settings, background, request, body.email, prefs)
    return SubscriptionAccepted()


def _form_page(
    request: Request, settings: Settings, name: str, ctx: dict[str, Any], status_code: int = 200
) -> Response:
    ctx = {"timezones": common_timezones(), "hours": list(range(24)), "errors": {}, **mail_setup(settings), **ctx}
    return render(request, name, ctx, status_code=status_code)


@router.get("/subscribe", include_in_schema=False)
def subscribe_form(request: Request, user: OptionalUser, settings: SettingsDep) -> Response:
    form = SubscriptionForm(email=user.email if user else "", for_you=user is not None)
    return _form_page(request, settings, "subscriptions/subscribe.html", {"form": form.as_dict()})


@router.post("/subscribe", include_in_schema=False, dependencies=[CsrfProtected])
def subscribe_submit(
    request: Request,
    background: BackgroundTasks,
    engine: StoreDep,
    settings: SettingsDep,
    user: OptionalUser,
    posted: PostedPreferences,
    email: FormText = "",
) -> Response:
    form = replace(posted, email=email)
    page = "subscriptions/subscribe.html"
    if not settings.emails_enabled:  # nothing could confirm the address: say so, store nothing
        return _form_page(request, settings, page, {"form": form.as_dict()}, 503)
    errors: dict[str, str] = {}
    try:
        prefs = form.preferences()
    except service.PreferenceError as exc:
        errors |= preference_error(exc)
    try:
        address = normalise_address(email)
        unmailable = address_problem(settings, address)
        if unmailable:
            errors |= field_error("email", unmailable)
    except AddressError as exc:
        errors |= field_error("email", str(exc).removeprefix("email: "))
    if errors:
        return _form_page(request, settings, page, {"form": form.as_dict(), "errors": errors}, 400)
    # ACCOUNTS: only a verified address ties a subscription to the account (docs/security.md)
    user_id = user.id if user is not None and user.email_verified and user.email.lower() == address else None
    _start(engine, settings, background, request, address, prefs, user_id)
    return _message(request, "Check your inbox", ACCEPTED)


def _message(request: Request, title: str, message: str, status_code: int = 200, **extra: Any) -> Response:
    """The one-message page (``subscriptions/message.html``)."""
    ctx = {"title": title, "message": message, **extra}
    return render(request, "subscriptions/message.html", ctx, status_code=status_code)


def _link_error(request: Request, exc: TokenError) -> Response:
    reason = str(exc)
    message = (
        f"{reason[:1].upper()}{reason[1:]}. To get a working link, subscribe again with your address: "
        "a fresh one is mailed to it."
    )
    return _message(request, "This link does not work", message, 400, resubscribe=True)


def _by_token(request: Request, lookup: Callable[[], store.Subscriber]) -> store.Subscriber | Response:
    """The subscriber a signed link names (``lookup`` checks the token), or the "link does not work" page."""
    try:
        return lookup()
    except TokenError as exc:
        return _link_error(request, exc)


@router.get("/subscriptions/confirm/{token}", include_in_schema=False)
def confirm_page(request: Request, token: str, engine: StoreDep, settings: SettingsDep) -> Response:
    """A page with the confirm button: a GET never confirms, since mail scanners follow links."""
    sub = _by_token(
        request, lambda: service.subscriber_for_token(engine=engine, settings=settings, token=token, purpose="confirm")
    )
    if isinstance(sub, Response):
        return sub
    if sub.status in ("unsubscribed", "suspended"):
        return _link_error(request, TokenError(service.NOT_PENDING))
    if sub.status == "active":
        message = f"Digests are already sent to {sub.email}."
        return _message(request, "You are subscribed", message, manage_url=manage_url(settings, sub))
    return _message(
        request,
        "Confirm your subscription",
        f"Send digests to {sub.email}?",
        confirm_action=f"/subscriptions/confirm/{token}",
    )


@router.post("/subscriptions/confirm/{token}", include_in_schema=False)
def confirm(request: Request, token: str, engine: StoreDep, settings: SettingsDep) -> Response:
    """Confirms a pending subscription: the signed link in the confirmation mail is the proof of ownership."""
    sub = _by_token(request, lambda: service.confirm(engine=engine, settings=settings, token=token))
    if isinstance(sub, Response):
        return sub
    message = f"Digests will be sent to {sub.email}. You can change what you get at any time."
    return _message(request, "You are subscribed", message, manage_url=manage_url(settings, sub))


@router.get("/subscriptions/manage", include_in_schema=False)
def manage_mine(request: Request, user: CurrentUser, engine: StoreDep, settings: SettingsDep) -> Response:
    """The signed-in member's own subscription (by member id, else by their account's address)."""
    if not user.email_verified:  # ACCOUNTS: nothing tied to an address before it is verified
        return verify_first(request, user)
    with engine.connect() as conn:
        sub = store.get_subscriber(conn=conn, user_id=user.id) or store.get_subscriber(
            conn=conn, email=user.email.lower()
        )
    if sub is None:
        return RedirectResponse("/subscribe", status_code=303)
    if sub.user_id is None and sub.email == user.email.lower():
        with engine.begin() as conn:
            store.link_user(conn=conn, subscriber_id=sub.id, user_id=user.id)
    return RedirectResponse(manage_url(settings, sub).removeprefix(settings.base_url.rstrip("/")), status_code=303)


def _manage_form(sub: store.Subscriber) -> SubscriptionForm:
    return SubscriptionForm(
        email=sub.email,
        trending=sub.trending,
        for_you=sub.for_you,
        topics="\n".join(sub.topics),
        frequency=sub.frequency,
        timezone=sub.timezone,
        send_hour=str(sub.send_hour),
    )


def _manage_page(
    request: Request,
    settings: Settings,
    sub: store.Subscriber,
    form: SubscriptionForm,
    token: str,
    *,
    saved: bool = False,
    errors: dict[str, str] | None = None,
) -> Response:
    ctx = {"sub": sub, "form": form.as_dict(), "token": token, "saved": saved, "errors": errors or {}}
    return _form_page(request, settings, "subscriptions/manage.html", ctx, 400 if errors else 200)


@router.get("/subscriptions/manage/{token}", include_in_schema=False)
def manage(request: Request, token: str, engine: StoreDep, settings: SettingsDep) -> Response:
    sub = _by_token(
        request, lambda: service.subscriber_for_token(engine=engine, settings=settings, token=token, purpose="manage")
    )
    if isinstance(sub, Response):
        return sub
    return _manage_page(request, settings, sub, _manage_form(sub), token)


@router.post("/subscriptions/manage/{token}", include_in_schema=False, dependencies=[CsrfProtected])
def manage_save(
    request: Request,
    token: str,
    engine: StoreDep,
    settings: SettingsDep,
    posted: PostedPreferences,
    resume: FormFlag = None,
) -> Response:
    sub = _by_token(
        request, lambda: service.subscriber_for_token(engine=engine, settings=settings, token=token, purpose="manage")
    )
    if isinstance(sub, Response):
        return sub
    form = replace(posted, email=sub.email, resume=resume is not None)
    try:
        prefs = form.preferences()
    except service.PreferenceError as exc:
        return _manage_page(request, settings, sub, form, token, errors=preference_error(exc))
    sub = service.save_preferences(engine=engine, subscriber=sub, prefs=prefs, resume=form.resume)
    return _manage_page(request, settings, sub, _manage_form(sub), token, saved=True)


@router.get("/unsubscribe/{token}", include_in_schema=False)
def unsubscribe_page(request: Request, token: str, engine: StoreDep, settings: SettingsDep) -> Response:
    """A page with the one-click button: a GET never unsubscribes, so link scanners cannot."""
    sub = _by_token(
        request,
        lambda: service.subscriber_for_token(engine=engine, settings=settings, token=token, purpose="unsubscribe"),
    )
    if isinstance(sub, Response):
        return sub
    return _unsubscribe_page(request, sub, token, done=False)


@router.post("/unsubscribe/{token}", include_in_schema=False)
def unsubscribe(request: Request, token: str, engine: StoreDep, settings: SettingsDep) -> Response:
    """RFC 8058 one-click (``List-Unsubscribe=One-Click`` POST from a mail client) and the page's button.

    No sign-in and no CSRF token: the signed token in the URL is the authorisation.
    """
    sub = _by_token(request, lambda: service.unsubscribe(engine=engine, settings=settings, token=token))
    if isinstance(sub, Response):
        return sub
    return _unsubscribe_page(request, sub, token, done=True, manage_url=manage_url(settings, sub))


def _unsubscribe_page(request: Request, sub: store.Subscriber, token: str, **ctx: Any) -> Response:
    return render(request, "subscriptions/unsubscribe.html", {"sub": sub, "token": token, **ctx})


@router.get("/digest/preview", include_in_schema=False)
def preview(
    request: Request, user: CurrentUser, engine: StoreDep, settings: SettingsDep, searcher: OptionalSearcher
) -> Response:
    """What the signed-in member's next digest would contain right now (nothing is sent or recorded)."""
    if not user.email_verified:  # ACCOUNTS: the subscription of an unverified address is not shown
        return verify_first(request, user)
    now = datetime.now(UTC)
    with engine.connect() as conn:
        sub = store.get_subscriber(conn=conn, user_id=user.id) or store.get_subscriber(
            conn=conn, email=user.email.lower()
        )
        subscribed = sub is not None
        if sub is None:  # not subscribed yet: show what the default digest would be
            sub = store.Subscriber(id=0, email=user.email.lower(), user_id=user.id, for_you=True)
        elif sub.user_id is None:
            sub.user_id = user.id
        digest = build_digest(conn=conn, searcher=searcher, subscriber=sub, now=now)
    ctx = digest_context(digest=digest, settings=settings)
    return render(
        request,
        "subscriptions/preview.html",
        {**ctx, "subscribed": subscribed, "status": sub.status, "empty": digest.is_empty},
    )
