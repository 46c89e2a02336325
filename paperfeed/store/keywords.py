"""Keyphrases per paper (3 to 8), computed at index time by :mod:`paperfeed.keywords`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Connection, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from paperfeed.store.schema import UTCDateTime, paper_table, papers

paper_keywords = paper_table(
    "paper_keywords",
    Column("keywords", JSON, nullable=False),
    Column("computed_at", UTCDateTime, nullable=False),
)


def keywords_for(*, conn: Connection, ids: Sequence[str]) -> dict[str, list[str]]:
    """The stored keyphrases of ``ids`` (papers without any are left out)."""
    out: dict[str, list[str]] = {}
    unique = list(dict.fromkeys(ids))
    for i in range(0, len(unique), 500):
        q = select(paper_keywords.c.paper_id, paper_keywords.c.keywords).where(
            paper_keywords.c.paper_id.in_(unique[i : i + 500])
        )
        out.update({pid: list(kw or []) for pid, kw in conn.execute(q)})
    return out


def papers_lacking_keywords(
    *, conn: Connection, limit: int, stale_before: datetime | None = None
) -> list[tuple[str, str, str]]:
    """``(id, title, abstract)`` of up to ``limit`` papers with no keyphrases stored, or stored before the
    paper last changed (or before ``stale_before``: the extraction rules changed then)."""
    due = (paper_keywords.c.paper_id.is_(None)) | (paper_keywords.c.computed_at < papers.c.changed_at)
    if stale_before is not None:
        due = due | (paper_keywords.c.computed_at < stale_before)
    q = (
        select(papers.c.id, papers.c.title, papers.c.abstract)
        .outerjoin(paper_keywords, paper_keywords.c.paper_id == papers.c.id)
        .where(due)
        .order_by(papers.c.id)
        .limit(limit)
    )
    return [(r.id, r.title or "", r.abstract or "") for r in conn.execute(q)]


def store_keywords(*, conn: Connection, found: dict[str, list[str]], now: datetime) -> None:
    """Replace the keyphrases of the papers in ``found``, computed from texts read at ``now``: an upsert, so two
    workers computing the same papers at once (background upkeep and ``paperfeed index``) both succeed, and the
    phrases from the most recently read text stay (a slower worker that read earlier never overwrites them)."""
    rows = [{"paper_id": k, "keywords": v, "computed_at": now} for k, v in found.items()]
    if not rows:
        return
    stmt: Any = pg_insert(paper_keywords) if conn.dialect.name == "postgresql" else sqlite_insert(paper_keywords)
    excluded = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=[paper_keywords.c.paper_id],
        set_={"keywords": excluded.keywords, "computed_at": excluded.computed_at},
        where=paper_keywords.c.computed_at <= excluded.computed_at,
    )
    for i in range(0, len(rows), 500):
        conn.execute(stmt, rows[i : i + 500])
