"""Cleaning and validation every parsed paper goes through before it is stored.

``clean_paper`` returns a cleaned copy or a one-line reason for rejecting the record. Parsers call it
so rejections carry their file and line; the ingest runner calls it again as a safety net.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from paperfeed.ingest.code_links import extract_links
from paperfeed.links import LINK_FIELDS, link_problem
from paperfeed.models import Author, Paper, Rejection

R = TypeVar("R")

MAX_TITLE = 1_000
MAX_ABSTRACT = 50_000
MAX_AUTHORS = 5_000  # large collaborations list thousands
MAX_AUTHOR_NAME = 300
MAX_FIELD = 4_000  # comments, journal-ref, licence, urls
MAX_ID = 64

# C0/C1 control characters except tab/newline, plus lone surrogates: never stored.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_text(text: str | None) -> str:
    """NFC-normalised text without control characters, whitespace collapsed to single spaces.

    Printable ASCII (most titles and abstracts) skips normalisation and the control-character scan.
    """
    if not text:
        return ""
    if not text.isascii():
        text = _CONTROL.sub(" ", unicodedata.normalize("NFC", text))
    elif not text.isprintable():  # tabs, newlines or C0 controls
        text = _CONTROL.sub(" ", text)
    elif "  " not in text and text[0] != " " and text[-1] != " ":
        return text
    return " ".join(text.split())


def _clean_optional(text: str | None, name: str) -> str | None:
    value = clean_text(text)
    if len(value) > MAX_FIELD:
        raise ValueError(f"{name} is {len(value)} characters (limit {MAX_FIELD})")
    return value or None


def clean_paper(paper: Paper) -> Paper | str:
    """A cleaned copy of ``paper``, or the reason it must be rejected."""
    title = clean_text(paper.title)
    if not title:
        return "missing title"
    if len(title) > MAX_TITLE:
        return f"title is {len(title)} characters (limit {MAX_TITLE})"
    pid = (paper.id or "").strip()
    if not pid:
        return "missing id"
    if len(pid) > MAX_ID or _CONTROL.search(pid) or any(c.isspace() for c in pid):
        return f"invalid id {pid[:80]!r}"
    abstract = clean_text(paper.abstract)
    if len(abstract) > MAX_ABSTRACT:
        return f"abstract is {len(abstract)} characters (limit {MAX_ABSTRACT})"
    if len(paper.authors) > MAX_AUTHORS:
        return f"{len(paper.authors)} authors (limit {MAX_AUTHORS})"
    authors = []
    for a in paper.authors:
        name = clean_text(a.name)
        if not name:
            continue
        if len(name) > MAX_AUTHOR_NAME:
            return f"author name is {len(name)} characters (limit {MAX_AUTHOR_NAME})"
        authors.append(Author(name, [clean_text(x) for x in a.affiliations if clean_text(x)]))
    categories = [c for c in dict.fromkeys(clean_text(c) for c in paper.categories) if c]
    if any(len(c) > 64 for c in categories):
        return "category longer than 64 characters"
    try:
        optional: dict[str, Any] = {
            name: _clean_optional(getattr(paper, name), name)
            for name in ("doi", "journal_ref", "comments", "license", "abs_url", "pdf_url", "code_url", "project_url")
        }
    except ValueError as exc:
        return str(exc)
    notes = list(paper.notes)
    for name in LINK_FIELDS:  # a javascript:/data: link is dropped, the record still lands
        problem = link_problem(optional[name]) if optional[name] else None
        if problem:
            optional[name] = None
            notes.append(f"{name} dropped: {problem}")
    if not (optional["code_url"] and optional["project_url"]):  # links written in the abstract or comments
        found = extract_links(abstract, optional["comments"])
        optional["code_url"] = optional["code_url"] or found.code
        optional["project_url"] = optional["project_url"] or found.project
    primary = clean_text(paper.primary_category) or (categories[0] if categories else None)
    if primary and len(primary) > 64:
        return "primary category longer than 64 characters"
    return replace(
        paper,
        id=pid,
        title=title,
        abstract=abstract,
        authors=authors,
        categories=categories,
        primary_category=primary,
        notes=notes,
        **optional,
    )


def paper_or_reason(convert: Callable[[R], Paper], record: R) -> Paper | str:
    """``convert(record)`` cleaned by :func:`clean_paper`, or the reason to reject the record: the
    converter's ``ValueError`` message or clean_paper's."""
    try:
        return clean_paper(convert(record))
    except ValueError as exc:
        return str(exc)


def record_item(convert: Callable[[R], Paper], record: R, *, file: str, index: int) -> Paper | Rejection:
    """Record number ``index`` of ``file`` as a cleaned paper, or its Rejection (see :func:`paper_or_reason`)."""
    cleaned = paper_or_reason(convert, record)
    return Rejection(file=file, record=index, reason=cleaned) if isinstance(cleaned, str) else cleaned
