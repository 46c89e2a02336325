"""The few reads that keep search indexes in step with the papers table (all SQL lives in ``store/``).

A search index beside the database is refreshed from ``papers.changed_at``: :func:`change_marker` tells
cheaply whether anything changed since the last refresh, :func:`count_changed_since` how much is pending, and
:func:`aliases_of` which old ids a renamed paper was known by (their index entries must go).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, func, select

from paperfeed.store.schema import paper_aliases, papers

_CHUNK = 500


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def latest_change(*, conn: Connection) -> datetime | None:
    """The latest ``changed_at``: one index lookup, cheap enough to run before every search. Adding,
    changing or renaming a paper moves it."""
    return _aware(conn.execute(select(func.max(papers.c.changed_at))).scalar_one())


def change_marker(*, conn: Connection) -> tuple[int, datetime | None]:
    """``(number of papers, latest changed_at)``: when neither moved, no paper was added, changed, renamed
    or removed. Two statements: together in one, SQLite would scan the table for the max as well."""
    count = int(conn.execute(select(func.count()).select_from(papers)).scalar_one())
    return count, latest_change(conn=conn)


def count_changed_since(*, conn: Connection, since: datetime | None) -> int:
    """How many papers changed after ``since`` (all of them when None)."""
    q = select(func.count()).select_from(papers)
    if since is not None:
        q = q.where(papers.c.changed_at > since)
    return int(conn.execute(q).scalar_one())


def aliases_of(*, conn: Connection, ids: Sequence[str]) -> list[str]:
    """The old ids (aliases) of the papers ``ids``: a renamed paper leaves its old id as an alias."""
    out: list[str] = []
    unique = list(dict.fromkeys(ids))
    for i in range(0, len(unique), _CHUNK):
        q = select(paper_aliases.c.alias).where(paper_aliases.c.paper_id.in_(unique[i : i + _CHUNK]))
        out.extend(conn.execute(q).scalars())
    return out
