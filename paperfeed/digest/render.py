"""Render mails: the digest and the confirmation, each as plain text plus HTML (inline CSS, no scripts), and
the signed, expiring tokens of their links (confirm, manage, unsubscribe).

Everything from the store (titles, authors, abstracts, topics) is escaped in the HTML part by Jinja's
autoescape; the text part gets control characters stripped. Links are absolute, under ``base_url``.

Tokens are ``itsdangerous`` URL-safe timed signatures over ``{"s": subscriber id, "e": email}`` with a
salt per purpose, so a manage token cannot be replayed as a confirmation and vice versa. The email is part
of the payload: a link stops working if the address of that subscriber ever changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape

from paperfeed import links
from paperfeed.config import MIN_SECRET_LENGTH, Settings
from paperfeed.digest.compose import Digest
from paperfeed.links import safe_url
from paperfeed.store.subscriptions import Subscriber

Purpose = Literal["confirm", "manage", "unsubscribe"]

# Confirmation links expire after two days; manage and unsubscribe links must keep working for as long as
# old digests sit in inboxes (RFC 8058 asks that unsubscribe links keep working), so they last a year.
MAX_AGE: dict[str, int] = {"confirm": 2 * 86400, "manage": 365 * 86400, "unsubscribe": 365 * 86400}


class TokenError(ValueError):
    """A token is malformed, tampered with, for another purpose, or expired (``expired`` says which)."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class TokenData:
    subscriber_id: int
    email: str


def _serializer(secret_key: str, purpose: Purpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=f"paperfeed.subscription.{purpose}")


def make_token(*, secret_key: str, purpose: Purpose, subscriber_id: int, email: str) -> str:
    """A URL-safe signed token for one subscriber and one purpose."""
    if len(secret_key) < MIN_SECRET_LENGTH:  # settings come through paperfeed.secret_key.ensure_secret_key
        raise ValueError("no instance secret to sign mail links with (see paperfeed/secret_key.py)")
    return str(_serializer(secret_key, purpose).dumps({"s": subscriber_id, "e": email}))


def read_token(*, secret_key: str, purpose: Purpose, token: str, max_age: int | None = None) -> TokenData:
    """Verify a token and return who it is for; raises :class:`TokenError` otherwise."""
    serializer = _serializer(secret_key, purpose)
    subscriber_id, email = read_signed(serializer, token, id_key="s", max_age=max_age or MAX_AGE[purpose])
    return TokenData(subscriber_id=subscriber_id, email=email)


def read_signed(serializer: URLSafeTimedSerializer, token: str, *, id_key: str, max_age: int) -> tuple[int, str]:
    """The ``(id, email)`` a link token signed as ``{id_key: id, "e": email}`` holds, if it is genuine and
    younger than ``max_age`` seconds; raises :class:`TokenError` otherwise (mail links and account links)."""
    if not token or len(token) > 1000:
        raise TokenError("this link is not valid")
    try:
        data = serializer.loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise TokenError("this link has expired", expired=True) from exc
    except BadSignature as exc:
        raise TokenError("this link is not valid") from exc
    if not isinstance(data, dict) or not isinstance(data.get(id_key), int) or not isinstance(data.get("e"), str):
        raise TokenError("this link is not valid")
    return data[id_key], data["e"]


TEMPLATES = Path(__file__).parent / "templates"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_FREQUENCY_TEXT = {"daily": "daily", "weekdays": "weekday", "weekly": "weekly"}


@dataclass
class RenderedMail:
    subject: str
    text: str
    html: str
    unsubscribe_url: str | None = None
    manage_url: str | None = None


@lru_cache(maxsize=2)
def _env(html: bool) -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]) if html else False,
        trim_blocks=not html,
        lstrip_blocks=not html,
        keep_trailing_newline=True,
    )


def clean_line(text: str | None, limit: int = 500) -> str:
    """One line of user-visible text: control characters and runs of whitespace collapsed."""
    return " ".join(_CONTROL.sub(" ", text or "").split())[:limit]


def base(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


def paper_url(settings: Settings, paper_id: str) -> str:
    """A paper's absolute address in a mail: the site's one address (:func:`paperfeed.links.paper_url`)."""
    return links.paper_url(paper_id, base(settings))


def manage_url(settings: Settings, sub: Subscriber) -> str:
    token = make_token(secret_key=settings.secret_key, purpose="manage", subscriber_id=sub.id, email=sub.email)
    return f"{base(settings)}/subscriptions/manage/{token}"


def unsubscribe_url(settings: Settings, sub: Subscriber) -> str:
    token = make_token(secret_key=settings.secret_key, purpose="unsubscribe", subscriber_id=sub.id, email=sub.email)
    return f"{base(settings)}/unsubscribe/{token}"


def confirm_url(settings: Settings, sub: Subscriber) -> str:
    token = make_token(secret_key=settings.secret_key, purpose="confirm", subscriber_id=sub.id, email=sub.email)
    return f"{base(settings)}/subscriptions/confirm/{token}"


def _summary(abstract: str, limit: int = 280) -> str:
    text = clean_line(abstract, 4000)
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "…"


def digest_context(*, digest: Digest, settings: Settings) -> dict[str, object]:
    """The data both parts render from (also what the preview page shows)."""
    sections = []
    for s in digest.sections:
        items = [
            {
                "id": i.paper.id,
                "title": clean_line(i.paper.title, 400),
                "authors": clean_line(
                    ", ".join(i.paper.author_names[:6]) + (", et al." if len(i.paper.authors) > 6 else ""), 300
                ),
                "summary": _summary(i.paper.abstract),
                "reason": clean_line(i.reason, 300),
                "url": paper_url(settings, i.paper.id),
                "abs_url": safe_url(i.paper.abs_url),
                "pdf_url": safe_url(i.paper.pdf_url),
            }
            for i in s.items
        ]
        sections.append({"kind": s.kind, "title": clean_line(s.title, 200), "items": items})
    n = len(digest.paper_ids)
    sub = digest.subscriber
    when = digest.now.date().isoformat()
    return {
        "site_name": clean_line(settings.site_name, 100),
        "email": sub.email,
        "sections": sections,
        "subject": f"{clean_line(settings.site_name, 100)}: {n} paper{'s' if n != 1 else ''} for {when}",
        "intro": f"{n} paper{'s' if n != 1 else ''} picked for you on {when}.",
        "preheader": ", ".join(str(i["title"]) for s in sections for i in s["items"])[:150],  # type: ignore[index]
        "frequency_text": _FREQUENCY_TEXT.get(sub.frequency, "daily"),
        "manage_url": manage_url(settings, sub),
        "unsubscribe_url": unsubscribe_url(settings, sub),
    }


def render_digest(*, digest: Digest, settings: Settings) -> RenderedMail:
    ctx = digest_context(digest=digest, settings=settings)
    return RenderedMail(
        subject=str(ctx["subject"]),
        text=_env(False).get_template("digest.txt").render(**ctx),
        html=_env(True).get_template("digest.html").render(**ctx),
        unsubscribe_url=str(ctx["unsubscribe_url"]),
        manage_url=str(ctx["manage_url"]),
    )


def render_confirmation(*, subscriber: Subscriber, settings: Settings, already: bool) -> RenderedMail:
    """The double opt-in mail; for an address that is already active, a manage link instead."""
    site = clean_line(settings.site_name, 100)
    ctx = {
        "site_name": site,
        "email": subscriber.email,
        "already": already,
        "base_url": base(settings),
        "confirm_url": confirm_url(settings, subscriber),
        "manage_url": manage_url(settings, subscriber),
        "valid_for": f"{MAX_AGE['confirm'] // 3600} hours",
        "subject": f"{site}: your subscription" if already else f"{site}: confirm your subscription",
        "preheader": "Confirm your subscription" if not already else "You are already subscribed",
    }
    return RenderedMail(
        subject=str(ctx["subject"]),
        text=_env(False).get_template("confirm.txt").render(**ctx),
        html=_env(True).get_template("confirm.html").render(**ctx),
        manage_url=str(ctx["manage_url"]),
    )
