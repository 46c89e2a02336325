"""Signed, expiring tokens for the links in mails: confirm, manage, unsubscribe.

Tokens are ``itsdangerous`` URL-safe timed signatures over ``{"s": subscriber id, "e": email}`` with a
salt per purpose, so a manage token cannot be replayed as a confirmation and vice versa. The email is part
of the payload: a link stops working if the address of that subscriber ever changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperfeed.config import MIN_SECRET_LENGTH

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
