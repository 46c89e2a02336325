"""The error raised by member-facing store functions (sign-up, collections)."""

from __future__ import annotations


class AccountError(ValueError):
    """A sign-up or collection request that cannot be honoured; the message says which field and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
