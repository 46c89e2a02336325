"""Subscribing: validation of preferences, double opt-in with rate limits, confirm / manage / unsubscribe.

The web routes and the API call these; they hold the rules, the store holds the SQL.

Rules that keep addresses safe:
- nothing but the confirmation mail is ever sent to a pending address;
- the answer to a subscribe request is the same whether or not the address is known, and the mail goes
  out in the background, so neither the response nor its timing reveals anything;
- at most ``PER_ADDRESS`` confirmation mails per address per day and ``PER_CLIENT`` requests per client
  per hour: nobody can use the form to mail-bomb an address.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.digest.mailer import (
    AddressError,
    Mailer,
    SendFailure,
    build_message,
    make_message_id,
    normalise_address,
)
from paperfeed.digest.render import Purpose, TokenError, read_token, render_confirmation
from paperfeed.digest.send import is_valid_timezone
from paperfeed.search.query import QueryError, parse_query
from paperfeed.store import rate_limits
from paperfeed.store import subscriptions as store
from paperfeed.store.subscriptions import FREQUENCIES, Subscriber
from paperfeed.text import invisible_problem

log = logging.getLogger(__name__)

PER_ADDRESS = 3  # confirmation mails per address per 24 hours
PER_CLIENT = 20  # subscribe requests per client per hour
MAX_TOPICS = 10
MAX_TOPIC_LENGTH = 200


class PreferenceError(ValueError):
    """A preference value that cannot be stored; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class RateLimited(Exception):
    """This client sent too many subscribe requests; it may try again later."""


@dataclass
class SubscribeResult:
    """What the caller may show: nothing that depends on the address (``mail`` is for the background)."""

    accepted: bool
    mail_to: Subscriber | None = None
    already_active: bool = False


def clean_preferences(data: dict[str, Any]) -> dict[str, Any]:
    """Validated preference values from a form or JSON body (only the keys present)."""
    out: dict[str, Any] = {}
    for key in ("trending", "for_you"):
        if key in data:
            if not isinstance(data[key], bool):
                raise PreferenceError(key, "must be true or false")
            out[key] = data[key]
    if "topics" in data:
        out["topics"] = _clean_topics(data["topics"])
    if "frequency" in data:
        if data["frequency"] not in FREQUENCIES:
            raise PreferenceError("frequency", f"must be one of {', '.join(FREQUENCIES)}")
        out["frequency"] = data["frequency"]
    if "timezone" in data:
        if not isinstance(data["timezone"], str) or not is_valid_timezone(data["timezone"]):
            raise PreferenceError("timezone", "must be an IANA time zone such as Europe/Paris or UTC")
        out["timezone"] = data["timezone"]
    if "send_hour" in data:
        hour = data["send_hour"]
        if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
            raise PreferenceError("send_hour", "must be a whole hour from 0 to 23")
        out["send_hour"] = hour
    return out


def _clean_topics(raw: Any) -> list[str]:
    if not isinstance(raw, list):
        raise PreferenceError("topics", "must be a list of search queries")
    topics: list[str] = []
    for i, t in enumerate(raw):
        if not isinstance(t, str):
            raise PreferenceError(f"topics.{i}", "must be a string")
        if any(ord(ch) < 32 for ch in t):
            raise PreferenceError(f"topics.{i}", "must not contain control characters or line breaks")
        invisible = invisible_problem(t, "the topic")
        if invisible:
            raise PreferenceError(f"topics.{i}", invisible.removeprefix("the topic "))
        t = " ".join(t.split())
        if len(t) > MAX_TOPIC_LENGTH:
            raise PreferenceError(f"topics.{i}", f"longer than {MAX_TOPIC_LENGTH} characters")
        if t and t not in topics:
            _check_query(t, i)
            topics.append(t)
    if len(topics) > MAX_TOPICS:
        raise PreferenceError("topics", f"at most {MAX_TOPICS} topics")
    return topics


def _check_query(topic: str, i: int) -> None:
    """A topic must be a search the search service can run."""
    try:
        parsed = parse_query(topic)
    except QueryError as exc:
        raise PreferenceError(f"topics.{i}", f"not a valid search: {exc}") from exc
    if parsed.is_empty:
        raise PreferenceError(f"topics.{i}", "has nothing to search for")


def request_subscription(
    *,
    engine: Engine,
    email: str,
    prefs: dict[str, Any],
    client: str,
    now: datetime | None = None,
    user_id: int | None = None,
) -> SubscribeResult:
    """Record a subscribe request; say whom to mail (if anyone) without the caller learning why.

    Raises :class:`AddressError` for an unusable address, :class:`RateLimited` for a noisy client.
    """
    address = normalise_address(email)
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        # counted and recorded in one serialised step: parallel requests cannot all see room for a mail
        rate_limits.serialise(conn, f"subscribe:address:{address}", f"subscribe:client:{client}")
        if store.count_requests(conn=conn, since=now - timedelta(hours=1), client=client) >= PER_CLIENT:
            raise RateLimited("too many subscribe requests from this client; try again in an hour")
        recent = store.count_requests(conn=conn, since=now - timedelta(days=1), email=address, mailed_only=True)
        sub, needs_confirmation = store.create_or_refresh_pending(
            conn=conn, email=address, prefs=prefs, now=now, user_id=user_id
        )
        mail = recent < PER_ADDRESS
        store.record_request(conn=conn, email=address, client=client, now=now, mailed=mail)
        store.prune_requests(conn=conn, before=now - timedelta(days=2))
    return SubscribeResult(accepted=True, mail_to=sub if mail else None, already_active=not needs_confirmation)


def send_confirmation(*, settings: Settings, subscriber: Subscriber, already_active: bool) -> bool:
    """Mail the confirmation link (or, for an active address, its manage link). False if it failed."""
    if not settings.emails_enabled:
        log.warning("not mailing a confirmation: %s not set", " / ".join(settings.mail_settings_missing))
        return False
    mail = render_confirmation(subscriber=subscriber, settings=settings, already=already_active)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    try:
        msg = build_message(
            settings=settings,
            to=subscriber.email,
            mail=mail,
            message_id=make_message_id(settings, f"confirm.{subscriber.id}.{stamp}"),
        )
        with Mailer(settings, retries=2, backoff=0.5, timeout=15) as mailer:
            mailer.send(msg)
    except (SendFailure, AddressError) as exc:
        log.warning("confirmation mail to subscriber %s failed: %s", subscriber.id, exc)
        return False
    except Exception:  # runs as a background task: a mail failure must never kill it
        log.exception("confirmation mail to subscriber %s failed", subscriber.id)
        return False
    return True


def subscriber_for_token(*, engine: Engine, settings: Settings, token: str, purpose: Purpose) -> Subscriber:
    """The subscriber a signed link is for; raises :class:`TokenError` if the link is void."""
    data = read_token(secret_key=settings.secret_key, purpose=purpose, token=token)
    with engine.connect() as conn:
        sub = store.get_subscriber(conn=conn, subscriber_id=data.subscriber_id)
    if sub is None or sub.email != data.email:
        raise TokenError("this link is no longer valid")
    return sub


NOT_PENDING = (
    "this confirmation link is for a subscription that was stopped after the link was sent, so it no longer "
    "confirms anything"
)


def confirm(*, engine: Engine, settings: Settings, token: str, now: datetime | None = None) -> Subscriber:
    """Activate the pending subscription a confirmation link names (called on the page's POST, never on the
    GET a mail scanner makes). An active one stays as it is; one that unsubscribed or was suspended after
    the link was sent is not re-activated (:class:`TokenError`: only the manage link can resume it)."""
    data = read_token(secret_key=settings.secret_key, purpose="confirm", token=token)
    with engine.begin() as conn:
        sub = store.confirm_pending(
            conn=conn, subscriber_id=data.subscriber_id, email=data.email, now=now or datetime.now(UTC)
        )
    if sub is None:
        raise TokenError("this link is no longer valid")
    if sub.status != "active":
        raise TokenError(NOT_PENDING)
    return sub


def unsubscribe(*, engine: Engine, settings: Settings, token: str, now: datetime | None = None) -> Subscriber:
    sub = subscriber_for_token(engine=engine, settings=settings, token=token, purpose="unsubscribe")
    with engine.begin() as conn:
        store.unsubscribe(conn=conn, subscriber_id=sub.id, now=now or datetime.now(UTC))
    return sub


def save_preferences(
    *, engine: Engine, subscriber: Subscriber, prefs: dict[str, Any], resume: bool = False, now: datetime | None = None
) -> Subscriber:
    """Store validated preferences; ``resume`` re-activates an unsubscribed or suspended address
    (the link proves the owner is asking)."""
    with engine.begin() as conn:
        updated = store.update_preferences(conn=conn, subscriber_id=subscriber.id, prefs=prefs)
        if resume and subscriber.status in ("unsubscribed", "suspended"):
            updated = store.confirm_subscriber(
                conn=conn, subscriber_id=subscriber.id, email=subscriber.email, now=now or datetime.now(UTC)
            )
    assert updated is not None
    return updated
