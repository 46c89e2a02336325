"""Citations from OpenAlex: works (papers of this store and outside works) and who cites whom.

- ``citation_works``: one row per OpenAlex work (``id`` is the short id, ``W2741809807``). A paper of this
  store has ``paper_id`` set (at most one work per paper); an outside work has only what lists need (title,
  year, DOI, ``cited_by_count``). ``fetched_at`` is when the work's own record was last fetched, and
  ``citing_complete`` says its citing works were followed to the last page since its count last changed;
- ``citation_edges``: ``citing`` cites ``cited``, one row a pair, indexed both ways.

Filled by :mod:`paperfeed.ingest.citations`; read by paper pages, the API and the graph.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    case,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from paperfeed.ids import DERIVED_PREFIX
from paperfeed.store.schema import UTCDateTime, kv_state, metadata, papers

citation_works = Table(
    "citation_works",
    metadata,
    Column("id", Text, primary_key=True),
    Column("paper_id", String(64), ForeignKey("papers.id", onupdate="CASCADE", ondelete="SET NULL"), nullable=True),
    Column("title", Text),
    Column("year", Integer),
    Column("doi", Text),  # bare, lower case: 10.48550/arxiv.2205.13147
    Column("cited_by_count", Integer),
    Column("counts_by_year", Text),  # JSON [{"year": 2024, "cited_by_count": 12}, ...], newest first
    Column("venue", Text),
    Column("fetched_at", UTCDateTime),
    Column("citing_complete", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("paper_id", name="uq_citation_works_paper_id"),
)

citation_edges = Table(
    "citation_edges",
    metadata,
    Column("citing", Text, ForeignKey("citation_works.id", ondelete="CASCADE"), primary_key=True),
    Column("cited", Text, ForeignKey("citation_works.id", ondelete="CASCADE"), primary_key=True),
)
Index("ix_citation_edges_cited", citation_edges.c.cited, citation_edges.c.citing)

NOT_FOUND_PREFIX = "citations:not_found:"  # kv_state key of a paper OpenAlex did not know, with when
_CHUNK = 500  # ids per IN (...) list
_ROWS = 1000  # rows per multi-row INSERT


@dataclass(frozen=True)
class CitationFacts:
    """What OpenAlex says about one paper of the store."""

    openalex_id: str
    cited_by_count: int | None
    counts_by_year: list[tuple[int, int]]  # (year, citations that year), newest first
    venue: str | None


@dataclass(frozen=True)
class CitedWork:
    """One entry of a reference or citation list: a paper of the store (``paper_id`` set) or an outside work."""

    openalex_id: str
    paper_id: str | None
    title: str | None
    year: int | None
    doi: str | None
    cited_by_count: int | None


@dataclass(frozen=True)
class WorkRecord:
    """A work as fetched, for :func:`store_works`. ``None`` fields keep what is stored."""

    openalex_id: str
    paper_id: str | None = None
    title: str | None = None
    year: int | None = None
    doi: str | None = None
    cited_by_count: int | None = None
    counts_by_year: tuple[tuple[int, int], ...] | None = None
    venue: str | None = None


def _insert(conn: Connection, table: Table) -> Any:
    return pg_insert(table) if conn.dialect.name == "postgresql" else sqlite_insert(table)


def _decode_counts(text: str | None) -> list[tuple[int, int]]:
    if not text:
        return []
    try:
        items = json.loads(text)
    except ValueError:
        return []
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("year"), int) and isinstance(item.get("cited_by_count"), int):
            out.append((item["year"], item["cited_by_count"]))
    return sorted(out, reverse=True)


def _encode_counts(counts: Sequence[tuple[int, int]] | None) -> str | None:
    if counts is None:
        return None
    return json.dumps([{"year": y, "cited_by_count": n} for y, n in sorted(counts, reverse=True)])


# ------------------------------------------------------------------ reading


def citation_facts(*, conn: Connection, paper_ids: list[str]) -> dict[str, CitationFacts]:
    """The OpenAlex facts of those of ``paper_ids`` that were found there (others are left out)."""
    out: dict[str, CitationFacts] = {}
    unique = list(dict.fromkeys(paper_ids))
    w = citation_works
    for i in range(0, len(unique), _CHUNK):
        q = select(w.c.paper_id, w.c.id, w.c.cited_by_count, w.c.counts_by_year, w.c.venue).where(
            w.c.paper_id.in_(unique[i : i + _CHUNK])
        )
        for row in conn.execute(q):
            out[row.paper_id] = CitationFacts(
                openalex_id=row.id,
                cited_by_count=row.cited_by_count,
                counts_by_year=_decode_counts(row.counts_by_year),
                venue=row.venue,
            )
    return out


def cited_by_counts(*, conn: Connection, paper_ids: list[str]) -> dict[str, int]:
    """``cited_by_count`` of those of ``paper_ids`` OpenAlex knows (others are left out)."""
    return {
        pid: f.cited_by_count
        for pid, f in citation_facts(conn=conn, paper_ids=paper_ids).items()
        if f.cited_by_count is not None
    }


def _listed(conn: Connection, paper_id: str, *, outgoing: bool, limit: int, offset: int) -> list[CitedWork]:
    w, e = citation_works, citation_edges
    own = select(w.c.id).where(w.c.paper_id == paper_id).scalar_subquery()
    mine, other = (e.c.citing, e.c.cited) if outgoing else (e.c.cited, e.c.citing)
    q = (
        select(w.c.id, w.c.paper_id, w.c.title, w.c.year, w.c.doi, w.c.cited_by_count)
        .select_from(e.join(w, w.c.id == other))
        .where(mine == own)
        .order_by(
            w.c.cited_by_count.is_(None),
            w.c.cited_by_count.desc(),
            w.c.year.is_(None),
            w.c.year.desc(),
            w.c.id,
        )
        .limit(limit)
        .offset(offset)
    )
    return [CitedWork(r.id, r.paper_id, r.title, r.year, r.doi, r.cited_by_count) for r in conn.execute(q)]


def references_of(*, conn: Connection, paper_id: str, limit: int, offset: int = 0) -> list[CitedWork]:
    """The works ``paper_id`` cites, most cited first (then newest)."""
    return _listed(conn, paper_id, outgoing=True, limit=limit, offset=offset)


def citations_of(*, conn: Connection, paper_id: str, limit: int, offset: int = 0) -> list[CitedWork]:
    """The works citing ``paper_id``, most cited first (then newest)."""
    return _listed(conn, paper_id, outgoing=False, limit=limit, offset=offset)


def count_links(*, conn: Connection, paper_id: str) -> tuple[int, int]:
    """``(references, citing works)`` stored for ``paper_id``."""
    e = citation_edges
    own = select(citation_works.c.id).where(citation_works.c.paper_id == paper_id).scalar_subquery()
    refs = conn.execute(select(func.count()).select_from(e).where(e.c.citing == own)).scalar_one()
    cites = conn.execute(select(func.count()).select_from(e).where(e.c.cited == own)).scalar_one()
    return int(refs), int(cites)


def count_edges(*, conn: Connection) -> int:
    """Every stored citation edge."""
    return int(conn.execute(select(func.count()).select_from(citation_edges)).scalar_one())


# ------------------------------------------------------------------ what to fetch


def papers_due(*, conn: Connection, limit: int | None, fetched_before: datetime, tried_before: datetime) -> list[str]:
    """Papers with an arXiv id whose citations are due, in this order: those whose citing list was left
    unfinished (a run stopped), those never fetched (newest paper first; one OpenAlex did not know is skipped
    when that was found out after ``tried_before``), then those fetched before ``fetched_before``, oldest first."""
    w = citation_works
    q = (
        select(papers.c.id, w.c.fetched_at, w.c.citing_complete)
        .outerjoin(w, w.c.paper_id == papers.c.id)
        .where(~papers.c.id.like(f"{DERIVED_PREFIX}%"), papers.c.withdrawn.is_(False))
        .where(
            or_(
                w.c.id.is_(None),
                w.c.fetched_at.is_(None),
                w.c.fetched_at < fetched_before,
                w.c.citing_complete.is_(False),
            )
        )
        .order_by(w.c.fetched_at, papers.c.published.desc(), papers.c.id)
    )
    unfinished: list[str] = []
    never: list[str] = []
    stale: list[str] = []
    for row in conn.execute(q):
        if row.fetched_at is None:
            never.append(row.id)
        elif not row.citing_complete:
            unfinished.append(row.id)
        else:
            stale.append(row.id)
    skip = _missing_since(conn, never, tried_before)
    ids = unfinished + [pid for pid in never if pid not in skip] + stale
    return ids[:limit] if limit is not None else ids


def _missing_since(conn: Connection, ids: Sequence[str], since: datetime) -> set[str]:
    out: set[str] = set()
    for i in range(0, len(ids), _CHUNK):
        keys = [NOT_FOUND_PREFIX + pid for pid in ids[i : i + _CHUNK]]
        q = select(kv_state.c.key).where(kv_state.c.key.in_(keys), kv_state.c.updated_at >= since)
        out.update(r.key[len(NOT_FOUND_PREFIX) :] for r in conn.execute(q))
    return out


def remember_not_found(*, conn: Connection, paper_ids: Sequence[str], now: datetime) -> None:
    """Note that OpenAlex did not know ``paper_ids`` (background rounds skip them until the next refresh)."""
    rows = [{"key": NOT_FOUND_PREFIX + pid, "value": {"at": now.isoformat()}, "updated_at": now} for pid in paper_ids]
    if not rows:
        return
    stmt = _insert(conn, kv_state)
    stmt = stmt.on_conflict_do_update(
        index_elements=[kv_state.c.key], set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at}
    )
    conn.execute(stmt, rows)


def works_of_papers(*, conn: Connection, paper_ids: Sequence[str]) -> dict[str, str]:
    """``{paper_id: OpenAlex id}`` for those of ``paper_ids`` that have a work."""
    out: dict[str, str] = {}
    for i in range(0, len(paper_ids), _CHUNK):
        q = select(citation_works.c.paper_id, citation_works.c.id).where(
            citation_works.c.paper_id.in_(paper_ids[i : i + _CHUNK])
        )
        out.update({r.paper_id: r.id for r in conn.execute(q)})
    return out


def citing_incomplete(*, conn: Connection, work_ids: Sequence[str]) -> list[tuple[str, int | None]]:
    """``(id, cited_by_count)`` of those of ``work_ids`` whose citing works still need following."""
    w = citation_works
    out: list[tuple[str, int | None]] = []
    for i in range(0, len(work_ids), _CHUNK):
        q = select(w.c.id, w.c.cited_by_count).where(
            w.c.id.in_(work_ids[i : i + _CHUNK]), w.c.citing_complete.is_(False)
        )
        out.extend((r.id, r.cited_by_count) for r in conn.execute(q))
    order = {wid: n for n, wid in enumerate(work_ids)}
    return sorted(out, key=lambda item: order[item[0]])


def untitled_works(*, conn: Connection, work_ids: Sequence[str]) -> list[str]:
    """Those of ``work_ids`` known by id only (no title yet), in the order given."""
    known: set[str] = set()
    for i in range(0, len(work_ids), _CHUNK):
        q = select(citation_works.c.id).where(
            citation_works.c.id.in_(work_ids[i : i + _CHUNK]), citation_works.c.title.is_not(None)
        )
        known.update(conn.execute(q).scalars())
    return [wid for wid in dict.fromkeys(work_ids) if wid not in known]


def papers_by_doi(*, conn: Connection, dois: Iterable[str]) -> dict[str, str]:
    """``{doi: paper_id}`` for arXiv DOIs (``10.48550/arxiv.<id>``, any case) of papers of this store."""
    wanted: dict[str, str] = {}
    for doi in dois:
        low = doi.lower()
        if low.startswith("10.48550/arxiv."):
            wanted[doi[len("10.48550/arxiv.") :].lower()] = doi
    out: dict[str, str] = {}
    ids = list(wanted)
    for i in range(0, len(ids), _CHUNK):
        q = select(papers.c.id).where(func.lower(papers.c.id).in_(ids[i : i + _CHUNK]))
        out.update({wanted[pid.lower()]: pid for pid in conn.execute(q).scalars()})
    return out


# ------------------------------------------------------------------ writing


def _merged(works: Iterable[WorkRecord]) -> dict[str, WorkRecord]:
    """One record per id (a later record's known fields win)."""
    out: dict[str, WorkRecord] = {}
    for work in works:
        old = out.get(work.openalex_id)
        if old is None:
            out[work.openalex_id] = work
            continue
        fields = {k: v if v is not None else getattr(old, k) for k, v in work.__dict__.items()}
        out[work.openalex_id] = WorkRecord(**fields)
    return out


def _free_paper_ids(conn: Connection, works: dict[str, WorkRecord], *, own: bool) -> dict[str, WorkRecord]:
    """One work a paper (OpenAlex has duplicates). ``own`` records (found by the paper's own DOI) take the
    paper from any other work; otherwise a ``paper_id`` another work already holds is dropped."""
    w = citation_works
    claimed = {r.paper_id: r.openalex_id for r in works.values() if r.paper_id}
    held: dict[str, str] = {}
    ids = list(claimed)
    for i in range(0, len(ids), _CHUNK):
        q = select(w.c.paper_id, w.c.id).where(w.c.paper_id.in_(ids[i : i + _CHUNK]))
        held.update({r.paper_id: r.id for r in conn.execute(q)})
    if own:
        others = [wid for pid, wid in held.items() if wid != claimed[pid]]
        for i in range(0, len(others), _CHUNK):
            conn.execute(update(w).where(w.c.id.in_(others[i : i + _CHUNK])).values(paper_id=None))
        held = {}
    out = {}
    seen: set[str] = set()
    for wid, work in works.items():
        pid = work.paper_id
        if pid and (held.get(pid, wid) != wid or pid in seen):
            work = WorkRecord(**{**work.__dict__, "paper_id": None})
        elif pid:
            seen.add(pid)
        out[wid] = work
    return out


def store_works(*, conn: Connection, works: Sequence[WorkRecord], fetched_at: datetime | None = None) -> None:
    """Insert or update ``works``; a field fetched as ``None`` keeps its stored value.

    With ``fetched_at`` these are works' own records (papers of the store): ``fetched_at`` is set. A work whose
    ``cited_by_count`` changed gets its citing list followed again (``citing_complete`` false)."""
    merged = _free_paper_ids(conn, _merged(works), own=fetched_at is not None)
    if not merged:
        return
    rows = [
        {
            "id": w.openalex_id,
            "paper_id": w.paper_id,
            "title": w.title,
            "year": w.year,
            "doi": w.doi,
            "cited_by_count": w.cited_by_count,
            "counts_by_year": _encode_counts(w.counts_by_year),
            "venue": w.venue,
            "fetched_at": fetched_at,
            "citing_complete": False,
        }
        for w in sorted(merged.values(), key=lambda r: r.openalex_id)  # one lock order: no deadlocks
    ]
    t = citation_works
    stmt = _insert(conn, t)
    new = stmt.excluded
    keep = {
        c: func.coalesce(getattr(new, c), t.c[c])
        for c in ("paper_id", "title", "year", "doi", "counts_by_year", "venue")
    }
    # A new count (from the work's own record or from a list it is in) means its citing list is due again.
    changed = and_(new.cited_by_count.is_not(None), new.cited_by_count.is_distinct_from(t.c.cited_by_count))
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.c.id],
        set_={
            **keep,
            "cited_by_count": func.coalesce(new.cited_by_count, t.c.cited_by_count),
            "fetched_at": func.coalesce(new.fetched_at, t.c.fetched_at),
            "citing_complete": case((changed, false()), else_=t.c.citing_complete),
        },
    )
    for i in range(0, len(rows), _ROWS):
        conn.execute(stmt, rows[i : i + _ROWS])


def add_edges(*, conn: Connection, edges: Iterable[tuple[str, str]]) -> None:
    """Store ``(citing, cited)`` pairs (both works must be stored); pairs already there are left alone."""
    rows = [{"citing": a, "cited": b} for a, b in sorted(set(edges)) if a != b]
    if not rows:
        return
    stmt = _insert(conn, citation_edges).on_conflict_do_nothing()
    for i in range(0, len(rows), _ROWS):
        conn.execute(stmt, rows[i : i + _ROWS])


def mark_citing_complete(*, conn: Connection, work_id: str) -> None:
    """The citing works of ``work_id`` were followed to the last page."""
    conn.execute(update(citation_works).where(citation_works.c.id == work_id).values(citing_complete=True))
