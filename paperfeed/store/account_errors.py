"""The error raised by member-facing store functions (sign-up, collections)."""

from __future__ import annotations

from paperfeed.errors import FieldError


class AccountError(FieldError):
    """A sign-up or collection request that cannot be honoured; the message says which field and why."""


class AlreadyExists(AccountError):
    """The name or address is already taken (HTTP 409 where a route answers for it)."""
