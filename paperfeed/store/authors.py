"""Author rows: one per (paper, position) with the normalised name, for author pages.

``upsert_papers`` rewrites a paper's rows whenever it writes the paper (:func:`write_author_rows`); migration
0011 filled them for papers stored before. Grouping rules live in :mod:`paperfeed.authors`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Column, Connection, Index, Integer, String, Text, delete, func, insert, select

from paperfeed.authors import author_key, group_keys, surname_key
from paperfeed.models import Paper
from paperfeed.store.schema import paper_table, papers

paper_authors = paper_table(
    "paper_authors",
    Column("position", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("name_key", String(300), nullable=False),
    Column("surname_key", String(300), nullable=False),
)
Index("ix_paper_authors_name_key", paper_authors.c.name_key)
Index("ix_paper_authors_surname_key", paper_authors.c.surname_key)

MAX_PAPERS = 2000  # an author page lists at most this many papers (newest first)


@dataclass
class CoAuthor:
    name: str
    key: str
    papers: int


@dataclass
class AuthorCount:
    """One row of the authors index: a name (as a paper writes it), its grouping key and its papers."""

    name: str
    key: str
    papers: int


def authors_by_papers(
    *, conn: Connection, contains: str = "", offset: int = 0, limit: int = 100
) -> tuple[list[AuthorCount], int]:
    """A page of authors, most papers first (then by name), and how many there are; ``contains`` keeps the
    names holding every word of it (compared as :func:`paperfeed.authors.author_key` folds them)."""
    n = func.count(func.distinct(paper_authors.c.paper_id)).label("n")
    q = select(paper_authors.c.name_key, n).group_by(paper_authors.c.name_key)
    for word in author_key(contains).split():
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        q = q.where(paper_authors.c.name_key.like(f"%{escaped}%", escape="\\"))
    total = int(conn.execute(select(func.count()).select_from(q.subquery())).scalar_one())
    rows = conn.execute(q.order_by(n.desc(), paper_authors.c.name_key).offset(max(offset, 0)).limit(max(limit, 0)))
    counts = [(r.name_key, int(r.n)) for r in rows]
    written: dict[str, Counter[str]] = {}  # each name as most of its papers write it
    spelled = select(paper_authors.c.name_key, paper_authors.c.name).where(
        paper_authors.c.name_key.in_([k for k, _ in counts])
    )
    for key, name in conn.execute(spelled):
        written.setdefault(key, Counter())[name] += 1
    best = {k: max(c.items(), key=lambda kv: (kv[1], kv[0]))[0] for k, c in written.items()}
    return [AuthorCount(best.get(k, k), k, count) for k, count in counts], total


def write_author_rows(conn: Connection, batch: Sequence[Paper]) -> None:
    """Replace the author rows of ``batch`` (called by ``upsert_papers`` in its transaction)."""
    ids = [p.id for p in batch]
    for i in range(0, len(ids), 500):
        conn.execute(delete(paper_authors).where(paper_authors.c.paper_id.in_(ids[i : i + 500])))
    rows = []
    for p in batch:
        for pos, a in enumerate(p.authors):
            key = author_key(a.name)
            if key:
                rows.append(
                    {
                        "paper_id": p.id,
                        "position": pos,
                        "name": a.name,
                        "name_key": key,
                        "surname_key": surname_key(key),
                    }
                )
    if rows:
        conn.execute(insert(paper_authors), rows)


def keys_with_surname(*, conn: Connection, surname: str) -> list[str]:
    """Distinct name keys stored with this surname key."""
    q = select(paper_authors.c.name_key).where(paper_authors.c.surname_key == surname).distinct().limit(5000)
    return list(conn.execute(q).scalars())


def name_variants(*, conn: Connection, names: Sequence[str]) -> dict[str, list[str]]:
    """For each name, the other stored name keys that stand for the same author (``Y. LeCun`` for ``Yann
    LeCun`` and back, only when unambiguous: :func:`paperfeed.authors.group_keys`). Names without any are left out."""
    out: dict[str, list[str]] = {}
    for name in names:
        key = author_key(name)
        if not key:
            continue
        others = [k for k in group_keys(key, keys_with_surname(conn=conn, surname=surname_key(key))) if k != key]
        if others:
            out[name] = others
    return out


def papers_by_keys(*, conn: Connection, keys: Sequence[str], limit: int = MAX_PAPERS) -> list[str]:
    """Ids of the papers with an author whose key is in ``keys``, newest first."""
    if not keys:
        return []
    when = func.coalesce(papers.c.published, papers.c.first_seen)
    q = (
        select(papers.c.id, when.label("when"))
        .join(paper_authors, paper_authors.c.paper_id == papers.c.id)
        .where(paper_authors.c.name_key.in_(list(keys)))
        .distinct()
        .order_by(when.desc(), papers.c.id)
        .limit(limit)
    )
    return [r.id for r in conn.execute(q)]


def spellings(*, conn: Connection, keys: Sequence[str]) -> list[str]:
    """How the name is written on papers, most frequent first."""
    q = select(paper_authors.c.name).where(paper_authors.c.name_key.in_(list(keys))).limit(MAX_PAPERS)
    return [name for name, _ in Counter(conn.execute(q).scalars()).most_common()]


def coauthors(*, conn: Connection, paper_ids: Sequence[str], exclude: Sequence[str], limit: int = 50) -> list[CoAuthor]:
    """The other authors of ``paper_ids``, most shared papers first (``exclude``: the author's own keys)."""
    found: dict[str, Counter[str]] = {}
    shared: Counter[str] = Counter()
    for i in range(0, len(paper_ids), 500):
        q = select(paper_authors.c.paper_id, paper_authors.c.name, paper_authors.c.name_key).where(
            paper_authors.c.paper_id.in_(list(paper_ids[i : i + 500])), paper_authors.c.name_key.not_in(list(exclude))
        )
        seen: set[tuple[str, str]] = set()
        for pid, name, key in conn.execute(q):
            found.setdefault(key, Counter())[name] += 1
            if (pid, key) not in seen:
                seen.add((pid, key))
                shared[key] += 1
    ranked = sorted(shared.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [CoAuthor(found[k].most_common(1)[0][0], k, n) for k, n in ranked]
