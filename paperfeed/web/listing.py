"""What the search page, the two JSON APIs and the feeds share: a paper's daily-list entry (upvotes,
submission, comments, keyphrases), the reading of a search request into a :class:`SearchQuery`, and the 422
that names the field at fault."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from fastapi.exceptions import RequestValidationError
from sqlalchemy import Connection

from paperfeed.errors import FieldError
from paperfeed.models import Paper
from paperfeed.search.query import QueryError
from paperfeed.search.request import SearchQuery
from paperfeed.store.paper_facts import paper_facts
from paperfeed.store.users import UserPublic

MAX_CATEGORIES = 20


def field_error(field: str, message: str, where: str = "query") -> RequestValidationError:
    """A 422 naming ``field``, in the same JSON shape as FastAPI's own validation errors."""
    return RequestValidationError([{"loc": (where, field), "msg": message, "type": "value_error"}])


@dataclass
class Entry:
    """A paper with what the daily list knows about it: upvotes, and the member submission if any."""

    paper: Paper
    upvotes: int
    submitted_at: datetime | None
    submitted_by: UserPublic | None
    comments: int = 0  # visible comments and replies: numComments
    keywords: tuple[str, ...] = ()  # keyphrases computed at index time: ai_keywords
    cited_by: int | None = None  # OpenAlex cited_by_count (paperfeed citations): citedByCount

    @property
    def entered_at(self) -> datetime | None:
        return self.submitted_at or self.paper.published or self.paper.first_seen


def entries_for(conn: Connection, papers: list[Paper]) -> list[Entry]:
    """The daily-list entries of ``papers``: upvotes, submission, comments, keyphrases and citations, read
    at once (:func:`paper_facts`)."""
    facts = paper_facts(conn, [p.id for p in papers])
    out = []
    for p in papers:
        f = facts[p.id]
        out.append(Entry(p, f.upvotes, f.submitted_at, f.submitted_by, f.comments, tuple(f.keywords), f.cited_by))
    return out


def search_query(
    *,
    q: str,
    cats: list[str],
    date_from: date | None = None,
    date_to: date | None = None,
    limit: int | None = None,
    offset: int | None = None,
    mode: str | None = None,
    sort: str | None = None,
    spell: bool = False,
    require: bool = True,
) -> SearchQuery:
    """The one reading of a search request (the page, ``/api/v1/search``, ``/feeds/search``, the Hugging Face
    API): a :class:`SearchQuery`, its query language parsed. Raises :class:`FieldError` naming the parameter
    at fault (``cat``, ``from``, ``q``...); ``require``: refuse a request that asks nothing (no query, no
    filter)."""
    cats = [c.strip() for c in cats if c.strip()]
    if len(cats) > MAX_CATEGORIES:
        raise FieldError("cat", f"at most {MAX_CATEGORIES} categories")
    if require and not q.strip() and not cats and not date_from and not date_to:
        raise FieldError("q", "give a query (or a cat/from/to filter)")
    values = {"limit": limit, "offset": offset, "mode": mode, "sort": sort}
    try:
        query = SearchQuery.of(q=q, categories=cats, date_from=date_from, date_to=date_to, spell=spell, **values)
    except QueryError as exc:  # a value out of range: the message starts with the parameter's name
        raise FieldError(next((k for k in values if str(exc).startswith(k)), "q"), str(exc)) from exc
    try:
        query.parsed  # noqa: B018 - read once here; the searcher reuses it
    except QueryError as exc:
        raise FieldError(_at_fault(query), str(exc)) from exc
    return query


def _at_fault(query: SearchQuery) -> str:
    """Which parameter of a query that cannot be read is wrong: a category, the dates, else ``q``."""
    for field, part in (("cat", query.but(q="", date_from=None, date_to=None)), ("from", query.but(q=""))):
        try:
            part.parsed  # noqa: B018
        except QueryError:
            return field
    return "q"
