"""What the two JSON APIs and the feeds share: a paper's daily-list entry (upvotes, submission, comments,
keyphrases), the category/date filter check, and the 422 that names the field at fault."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from fastapi.exceptions import RequestValidationError
from sqlalchemy import Connection

from paperfeed.models import Paper
from paperfeed.store.citations import cited_by_counts
from paperfeed.store.comments import visible_counts
from paperfeed.store.keywords import keywords_for
from paperfeed.store.submissions import get_submission
from paperfeed.store.users import UserPublic
from paperfeed.store.votes import vote_counts

_CAT = re.compile(r"^[A-Za-z][A-Za-z0-9-]*(\.[A-Za-z0-9-]+)?$")


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
    """Upvotes and submissions of ``papers`` (one count query, one lookup per paper for submissions)."""
    counts = vote_counts(conn=conn, ids=[p.id for p in papers])
    discussed = visible_counts(conn=conn, paper_ids=[p.id for p in papers])
    phrases = keywords_for(conn=conn, ids=[p.id for p in papers])
    cited = cited_by_counts(conn=conn, paper_ids=[p.id for p in papers])
    out = []
    for p in papers:
        found = get_submission(conn=conn, paper_id=p.id)
        sub, who = found if found else (None, None)
        entry = Entry(p, counts.get(p.id, 0), sub.submitted_at if sub else None, who, discussed.get(p.id, 0))
        entry.keywords = tuple(phrases.get(p.id, ()))
        entry.cited_by = cited.get(p.id)
        out.append(entry)
    return out


def check_filters(cat: list[str], date_from: date | None, date_to: date | None) -> None:
    if len(cat) > 20:
        raise field_error("cat", "at most 20 categories")
    for c in cat:
        if len(c) > 64 or not _CAT.match(c):
            raise field_error("cat", f"not a category such as cs.CL or cs: {c[:40]!r}")
    if date_from and date_to and date_from > date_to:
        raise field_error("from", f"from ({date_from}) is after to ({date_to})")


def search_filters(q: str, cat: list[str], date_from: date | None, date_to: date | None) -> list[str]:
    """The categories of a search request (``/api/v1/search``, ``/feeds/search``), stripped and checked with
    the dates; 422 naming the field when one is wrong, or when nothing is asked (no query, no filter)."""
    cats = [c.strip() for c in cat if c.strip()]
    check_filters(cats, date_from, date_to)
    if not q.strip() and not cats and not date_from and not date_to:
        raise field_error("q", "give a query (or a cat/from/to filter)")
    return cats
