"""The two JSON shapes of every API error answer (see :mod:`paperfeed.web.error_docs`).

``ErrorOut``: ``error`` and ``detail`` both hold the message (400, 401, 403, 404, 409, 429, 503).
``ValidationErrorOut``: a 422; ``error`` summarises and ``detail`` names each field at fault.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    """What a 400, 401, 403, 404, 409, 429 or 503 answers: ``error`` and ``detail`` both hold the message."""

    error: str
    detail: str


class FieldErrorOut(BaseModel):
    field: str = Field(description="the input at fault, e.g. q or collection")
    message: str
    loc: list[str | int]
    type: str


class ValidationErrorOut(BaseModel):
    """A 422: ``error`` summarises, ``detail`` names each field at fault."""

    error: str
    detail: list[FieldErrorOut]
