"""What the HTML pages share: the page size, the page-number and optional-date parameters, and which
targets a form may redirect to."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query
from pydantic import BeforeValidator

PER_PAGE = 30
Page = Annotated[int, Query(ge=1, le=10_000, description="page number, from 1")]
# A GET form sends its empty date fields as ``from=&to=``: that means "no date", not a bad one.
SearchText = Annotated[str, Query(max_length=1000)]  # ``q`` of /search and /feeds/search
OptionalDate = Annotated[date | None, BeforeValidator(lambda v: None if v == "" else v)]


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths may be redirect targets (no ``//evil.example`` or ``https://...``)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")) and len(target) < 2000:
        return target
    return default
