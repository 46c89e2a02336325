"""The reads behind spelling suggestions and suggestions as you type (all SQL lives in ``store/``).

Both read the papers table directly, so they work the same on SQLite and PostgreSQL, whatever search backend
is configured: :func:`iter_texts` streams the searchable text (the words the lexical index holds),
:func:`iter_suggest_rows` the titles, authors and dates of every paper.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from paperfeed.store.schema import papers

BATCH = 2_000


@dataclass(frozen=True)
class SuggestRow:
    """What suggestions as you type know of a paper."""

    id: str
    title: str
    authors: str  # names joined by ", " (``papers.authors_text``)
    when: datetime | None  # published, or first seen when unknown


def iter_texts(*, conn: Connection, batch_size: int = BATCH) -> Iterator[list[tuple[str, str, str]]]:
    """``(title, abstract, author names)`` of every paper, in batches ordered by id, in constant memory."""
    last = ""
    cols = (papers.c.id, papers.c.title, papers.c.abstract, papers.c.authors_text)
    while True:
        q = select(*cols).where(papers.c.id > last).order_by(papers.c.id).limit(batch_size)
        rows = conn.execute(q).fetchall()
        if not rows:
            return
        yield [(r.title or "", r.abstract or "", r.authors_text or "") for r in rows]
        last = rows[-1].id


def iter_suggest_rows(*, conn: Connection, batch_size: int = BATCH) -> Iterator[list[SuggestRow]]:
    """Every paper's id, title, author names and date, in batches ordered by id."""
    last = ""
    when = func.coalesce(papers.c.published, papers.c.first_seen)
    cols = (papers.c.id, papers.c.title, papers.c.authors_text, when.label("when"))
    while True:
        q = select(*cols).where(papers.c.id > last).order_by(papers.c.id).limit(batch_size)
        rows = conn.execute(q).fetchall()
        if not rows:
            return
        yield [SuggestRow(r.id, r.title or "", r.authors_text or "", _as_datetime(r.when)) for r in rows]
        last = rows[-1].id


def _as_datetime(value: object) -> datetime | None:
    """``coalesce`` loses the column type on SQLite (a string comes back): read it either way."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None
