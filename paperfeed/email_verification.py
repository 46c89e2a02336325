"""Verifying a member's email address with a mailed link, before anything tied to the address is theirs.

Anyone can sign up with any address, so an account's email proves nothing until its owner follows the
link mailed to it. Until then the digest subscription of that address (manage page, topics, send hour,
resume) stays out of the account's reach; the account page says what is pending.

Links are ``itsdangerous`` timed signatures over ``{"u": user id, "e": email}`` with their own salt (a
subscription link can never verify an account, nor the reverse); they last two days and stop working if
the account's address changes.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import Engine

from paperfeed.config import MIN_SECRET_LENGTH, Settings
from paperfeed.digest.mailer import AddressError, Mailer, SendFailure, build_message, make_message_id
from paperfeed.digest.render import RenderedMail, TokenError, clean_line, read_signed
from paperfeed.store.email_verification import mark_email_verified, record_verification_sent
from paperfeed.store.users import User, get_user

log = logging.getLogger(__name__)

MAX_AGE = 2 * 86400  # a verification link works for two days
SendStatus = Literal["sent", "no_mail", "failed"]


@dataclass(frozen=True)
class SendOutcome:
    """What happened to a verification mail; ``detail`` is for the log, never for the page."""

    status: SendStatus
    detail: str = ""


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    if len(settings.secret_key) < MIN_SECRET_LENGTH:
        raise ValueError("no instance secret to sign links with (see paperfeed/secret_key.py)")
    return URLSafeTimedSerializer(settings.secret_key, salt="paperfeed.account.verify-email")


def verify_url(*, settings: Settings, user: User) -> str:
    token = _serializer(settings).dumps({"u": user.id, "e": user.email})
    return f"{settings.base_url.rstrip('/')}/account/verify/{token}"


def _read(settings: Settings, token: str) -> tuple[int, str]:
    return read_signed(_serializer(settings), token, id_key="u", max_age=MAX_AGE)


def verify(*, engine: Engine, settings: Settings, token: str, now: datetime | None = None) -> User:
    """Mark the address of the link verified; raises :class:`TokenError` for a void or stale link."""
    user_id, email = _read(settings, token)
    with engine.begin() as conn:
        if not mark_email_verified(conn=conn, user_id=user_id, email=email, now=now or datetime.now(UTC)):
            raise TokenError("this link is for an address this account no longer has")
        user = get_user(conn=conn, user_id=user_id)
    assert user is not None
    return user


def render_verification(*, settings: Settings, user: User) -> RenderedMail:
    site = clean_line(settings.site_name, 100)
    url = verify_url(settings=settings, user=user)
    text = (
        f"Someone (hopefully you) created the account @{user.username} on {site} with this address.\n\n"
        f"Verify your address: {url}\n\n"
        "The link works for 48 hours. Until then the account cannot see or change the email digest of this "
        "address. If you did not sign up, ignore this mail.\n\n"
        f"--\n{site} - {settings.base_url}\n"
    )
    page = (
        f"<p>Someone (hopefully you) created the account <b>@{html.escape(user.username)}</b> on "
        f"{html.escape(site)} with this address.</p>"
        f'<p><a href="{html.escape(url)}">Verify your address</a></p>'
        "<p>The link works for 48 hours. Until then the account cannot see or change the email digest of this "
        "address. If you did not sign up, ignore this mail.</p>"
    )
    return RenderedMail(subject=f"{site}: verify your email address", text=text, html=page)


def send_verification(*, engine: Engine, settings: Settings, user: User) -> SendOutcome:
    """Mail a verification link now; record when it was handed to the mail server."""
    if not settings.emails_enabled:
        return SendOutcome("no_mail", " / ".join(settings.mail_settings_missing) + " not set")
    now = datetime.now(UTC)
    try:
        msg = build_message(
            settings=settings,
            to=user.email,
            mail=render_verification(settings=settings, user=user),
            message_id=make_message_id(settings, f"verify.{user.id}.{now:%Y%m%d%H%M%S%f}"),
        )
        with Mailer(settings, retries=1, backoff=0.5, timeout=15) as mailer:
            mailer.send(msg)
    except (SendFailure, AddressError) as exc:
        log.warning("verification mail to member %s failed: %s", user.id, exc)
        return SendOutcome("failed", str(exc))
    except Exception as exc:  # a mail failure never fails the request that asked for it (sign-up, resend)
        log.exception("verification mail to member %s failed", user.id)
        return SendOutcome("failed", f"the mail could not be sent ({type(exc).__name__})")
    with engine.begin() as conn:
        record_verification_sent(conn=conn, user_id=user.id, now=now)
    return SendOutcome("sent")
