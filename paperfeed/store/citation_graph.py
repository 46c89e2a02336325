"""SQL of the citation graph beyond one paper's own lists: co-citation, bibliographic coupling, the map's
neighbourhood, citation counts for sorting, and "most cited this month".

Tables ``citation_works`` and ``citation_edges`` (migration ``0015_citations``; ``citing`` cites
``cited``, both OpenAlex ids; the primary key serves "what does X cite", ``ix_citation_edges_cited`` serves
"who cites X"). Two relations of Connected Papers:

- **co-citation** of A and B: the number of works citing both (A's citers joined to what they cite);
- **bibliographic coupling** of A and B: the number of references they share (who else cites A's references).

Both are counted and ranked by the database. Co-citation follows at most ``FANOUT`` of A's citers (the lowest
OpenAlex ids), so a paper with thousands of citations costs a bounded join; coupling costs the citing lists
of A's references as stored (see docs/benchmarks.md, "Citation graph").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, literal, select, type_coerce

from paperfeed.store.citations import citation_edges as edges
from paperfeed.store.citations import citation_works as works
from paperfeed.store.schema import UTCDateTime, papers

FANOUT = 2000  # citers (or citers of a reference) followed per work when counting co-citation and coupling


@dataclass(frozen=True)
class GraphWork:
    """A work of the citation graph: a paper of the store (``paper_id`` set) or an outside work."""

    id: str  # OpenAlex id
    paper_id: str | None
    title: str
    year: int | None
    doi: str | None
    cited_by_count: int


def work_of(*, conn: Connection, paper_id: str) -> str | None:
    """The OpenAlex id of a paper of the store, or None when its citations were never fetched."""
    return conn.execute(select(works.c.id).where(works.c.paper_id == paper_id)).scalar()


def works_by_id(*, conn: Connection, ids: Sequence[str]) -> dict[str, GraphWork]:
    """The works ``ids`` (papers of the store take their stored title and publication year)."""
    if not ids:
        return {}
    q = select(
        works.c.id,
        works.c.paper_id,
        func.coalesce(papers.c.title, works.c.title).label("title"),
        works.c.year,
        papers.c.published,
        works.c.doi,
        works.c.cited_by_count,
    ).select_from(works.outerjoin(papers, papers.c.id == works.c.paper_id))
    out: dict[str, GraphWork] = {}
    for chunk in _chunks(list(dict.fromkeys(ids))):
        for r in conn.execute(q.where(works.c.id.in_(chunk))):
            year = r.year if r.year is not None else (_year(r.published))
            out[r.id] = GraphWork(r.id, r.paper_id, r.title or r.id, year, r.doi, int(r.cited_by_count or 0))
    return out


def _year(value: Any) -> int | None:
    if isinstance(value, datetime):
        return value.year
    if isinstance(value, str) and value[:4].isdigit():
        return int(value[:4])
    return None


def _chunks(ids: list[str], size: int = 500) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def references(*, conn: Connection, work_id: str, limit: int) -> list[str]:
    """Up to ``limit`` works ``work_id`` cites, most cited first."""
    q = (
        select(edges.c.cited)
        .select_from(edges.join(works, works.c.id == edges.c.cited))
        .where(edges.c.citing == work_id, edges.c.cited != work_id)
        .order_by(func.coalesce(works.c.cited_by_count, 0).desc(), edges.c.cited)
        .limit(limit)
    )
    return list(conn.execute(q).scalars())


def citers(*, conn: Connection, work_id: str, limit: int) -> list[str]:
    """Up to ``limit`` works citing ``work_id``, most cited first."""
    q = (
        select(edges.c.citing)
        .select_from(edges.join(works, works.c.id == edges.c.citing))
        .where(edges.c.cited == work_id, edges.c.citing != work_id)
        .order_by(func.coalesce(works.c.cited_by_count, 0).desc(), edges.c.citing)
        .limit(limit)
    )
    return list(conn.execute(q).scalars())


def _bounded(col: Any, other: Any, value: str) -> Any:
    """The first ``FANOUT`` ``other`` values of edges whose ``col`` is ``value`` (an index range walk)."""
    return select(other.label("w")).where(col == value, other != value).order_by(other).limit(FANOUT).subquery()


def co_cited(*, conn: Connection, work_id: str, limit: int, papers_only: bool = False) -> list[tuple[str, int]]:
    """Works cited together with ``work_id`` (by the same citing works), with how many, most first."""
    citing = _bounded(edges.c.cited, edges.c.citing, work_id)
    e2 = edges.alias("e2")
    n = func.count().label("n")
    q = select(e2.c.cited.label("id"), n).select_from(citing.join(e2, e2.c.citing == citing.c.w))
    q = q.where(e2.c.cited != work_id)
    return _ranked(conn, q.group_by(e2.c.cited), e2.c.cited, n, limit, papers_only)


def coupled(*, conn: Connection, work_id: str, limit: int, papers_only: bool = False) -> list[tuple[str, int]]:
    """Works sharing references with ``work_id``, with how many they share, most first."""
    refs = list(
        conn.execute(select(edges.c.cited).where(edges.c.citing == work_id, edges.c.cited != work_id)).scalars()
    )
    if not refs:
        return []
    n = func.count().label("n")
    q = select(edges.c.citing.label("id"), n).where(edges.c.cited.in_(refs), edges.c.citing != work_id)
    return _ranked(conn, q.group_by(edges.c.citing), edges.c.citing, n, limit, papers_only)


def _ranked(conn: Connection, q: Any, key: Any, n: Any, limit: int, papers_only: bool) -> list[tuple[str, int]]:
    """The ``limit`` strongest rows of the grouped ``q`` (``papers_only``: works that are papers of the
    store, filtered after counting so the join runs once per work, not once per edge)."""
    if papers_only:
        counted = q.subquery("counted")
        top = (
            select(counted.c.id, counted.c.n)
            .select_from(counted.join(works, works.c.id == counted.c.id))
            .where(works.c.paper_id.is_not(None))
            .order_by(counted.c.n.desc(), counted.c.id)
            .limit(limit)
        )
        return [(r.id, int(r.n)) for r in conn.execute(top)]
    q = q.order_by(n.desc(), key).limit(limit)
    return [(r.id, int(r.n)) for r in conn.execute(q)]


def edges_among(*, conn: Connection, ids: Sequence[str]) -> list[tuple[str, str]]:
    """Every citation edge between two of ``ids`` as (citing, cited), sorted."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    out: list[tuple[str, str]] = []
    for chunk in _chunks(wanted):
        q = select(edges.c.citing, edges.c.cited).where(edges.c.citing.in_(chunk), edges.c.cited.in_(wanted))
        out.extend((r.citing, r.cited) for r in conn.execute(q))
    return sorted(set(out))


def paper_ids_of(*, conn: Connection, work_ids: Sequence[str]) -> dict[str, str]:
    """OpenAlex id -> paper id, for the works that are papers of the store."""
    out: dict[str, str] = {}
    for chunk in _chunks(list(dict.fromkeys(work_ids))):
        q = select(works.c.id, works.c.paper_id).where(works.c.id.in_(chunk), works.c.paper_id.is_not(None))
        out.update({r.id: r.paper_id for r in conn.execute(q)})
    return out


def citation_neighbours(*, conn: Connection, paper_id: str, limit: int) -> tuple[dict[str, int], dict[str, int]]:
    """Papers of the store cited together with ``paper_id`` and papers sharing its references, each with
    its count (paper id -> N), at most ``limit`` of each; empty when the paper has no citation data."""
    wid = work_of(conn=conn, paper_id=paper_id)
    if wid is None:
        return {}, {}
    together = co_cited(conn=conn, work_id=wid, limit=limit, papers_only=True)
    sharing = coupled(conn=conn, work_id=wid, limit=limit, papers_only=True)
    to_paper = paper_ids_of(conn=conn, work_ids=[w for w, _ in together + sharing])
    cocited = {to_paper[w]: n for w, n in together if w in to_paper and to_paper[w] != paper_id}
    shared = {to_paper[w]: n for w, n in sharing if w in to_paper and to_paper[w] != paper_id}
    return cocited, shared


def citation_counts(*, conn: Connection, paper_ids: Sequence[str]) -> dict[str, int]:
    """Cited-by counts of papers of the store (papers without citation data are left out)."""
    out: dict[str, int] = {}
    for chunk in _chunks(list(dict.fromkeys(paper_ids))):
        q = select(works.c.paper_id, works.c.cited_by_count).where(works.c.paper_id.in_(chunk))
        out.update({r.paper_id: int(r.cited_by_count or 0) for r in conn.execute(q)})
    return out


def cited_by_expr(paper_id: Any) -> Any:
    """A SQL expression: the cited-by count of the paper ``paper_id`` (0 without citation data)."""
    count = select(works.c.cited_by_count).where(works.c.paper_id == paper_id).limit(1).scalar_subquery()
    return func.coalesce(count, literal(0))


def most_cited(*, conn: Connection, since: datetime, offset: int, limit: int) -> list[tuple[str, int, datetime]]:
    """Papers that entered the daily list at or after ``since`` and are cited at least once, most cited
    first (then newest, then id): (paper id, cited-by count, entry time)."""
    from paperfeed.store.daily import _entries  # daily imports this module (cited_by_expr)

    e = _entries(since, None, None)
    entered = type_coerce(e.c.entered_at, UTCDateTime).label("entered_at")
    q = (
        select(e.c.paper_id, works.c.cited_by_count, entered)
        .select_from(e.join(works, works.c.paper_id == e.c.paper_id))
        .where(works.c.cited_by_count > 0)
        .order_by(works.c.cited_by_count.desc(), e.c.entered_at.desc(), e.c.paper_id)
        .offset(max(offset, 0))
        .limit(max(limit, 0))
    )
    return [(r.paper_id, int(r.cited_by_count), _aware(r.entered_at)) for r in conn.execute(q)]


def _aware(value: Any) -> datetime:
    return UTCDateTime().process_result_value(value, None)  # type: ignore[arg-type,return-value]
