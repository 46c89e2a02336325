"""Papers in the order embedding wants them: newest first, so that the papers users see first (today's list,
recent search results) get their vectors first while a large backlog is still being embedded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Connection, func, select

from paperfeed.models import Paper
from paperfeed.store.papers import get_papers
from paperfeed.store.schema import papers


def ids_newest_first(*, conn: Connection, changed_since: datetime | None = None) -> list[str]:
    """Ids of all papers (or those changed after ``changed_since``), newest publication first; a paper
    without a known publication date counts from when this instance first saw it."""
    newest = func.coalesce(papers.c.published, papers.c.first_seen)
    q = select(papers.c.id).order_by(newest.desc(), papers.c.id.desc())
    if changed_since is not None:
        q = q.where(papers.c.changed_at > changed_since)
    return list(conn.execute(q).scalars())


def iter_newest_first(
    *, conn: Connection, changed_since: datetime | None = None, batch_size: int = 1000
) -> tuple[int, Iterator[list[Paper]]]:
    """(how many papers, their batches newest first). The ids are read once (about 70 bytes each in memory);
    a paper deleted meanwhile is left out of its batch."""
    ids = ids_newest_first(conn=conn, changed_since=changed_since)

    def batches() -> Iterator[list[Paper]]:
        for start in range(0, len(ids), batch_size):
            yield list(get_papers(conn=conn, ids=ids[start : start + batch_size]).values())

    return len(ids), batches()
