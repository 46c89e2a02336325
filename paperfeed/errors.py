"""The errors that name what a request got wrong, shared by the services that refuse input."""

from __future__ import annotations


class FieldError(ValueError):
    """Input that cannot be accepted; ``field`` names the form field, JSON key or parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class StatusError(Exception):
    """A request the rules refuse; ``status`` is the HTTP status that fits."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
