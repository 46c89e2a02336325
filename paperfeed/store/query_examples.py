"""Examples for the query language taken from this instance's own papers, so every example on a page finds
something: the commonest keyphrase, author surname, category and publication year among the newest papers
(``SAMPLE`` of them, so the cost stays the same at any size). A field no paper carries (the demo papers
before arXiv fills them in have no authors, categories or dates) has no example: pages then say so."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Connection, select

from paperfeed.store.authors import paper_authors
from paperfeed.store.keywords import paper_keywords
from paperfeed.store.schema import paper_categories, papers

SAMPLE = 2_000


@dataclass(frozen=True)
class QueryExamples:
    """One example value per part of the query language, or None where no paper has one."""

    topic: str | None = None  # a keyphrase: "representation learning"
    author: str | None = None  # a surname: "kusupati"
    category: str | None = None  # "cs.LG"
    year: int | None = None  # 2023


def _commonest(values: list[object]) -> object | None:
    found = Counter(v for v in values if v)
    return found.most_common(1)[0][0] if found else None


def query_examples(*, conn: Connection) -> QueryExamples:
    """Examples from the newest ``SAMPLE`` papers (see the module docstring)."""
    newest = select(papers.c.id).order_by(papers.c.first_seen.desc(), papers.c.id).limit(SAMPLE).subquery()
    cats = conn.execute(select(paper_categories.c.category).where(paper_categories.c.paper_id.in_(select(newest))))
    names = conn.execute(
        select(paper_authors.c.name).where(paper_authors.c.paper_id.in_(select(newest)), paper_authors.c.position < 3)
    )
    years = conn.execute(select(papers.c.published).where(papers.c.id.in_(select(newest))))
    phrases = conn.execute(select(paper_keywords.c.keywords).where(paper_keywords.c.paper_id.in_(select(newest))))
    surname = _commonest([r.name.split()[-1].strip(".,").lower() for r in names if r.name.split()])
    topic = _commonest([k.lower() for r in phrases for k in (r.keywords or []) if " " in k])
    return QueryExamples(
        topic=str(topic) if topic else None,
        author=str(surname) if surname else None,
        category=str(_commonest([r.category for r in cats]) or "") or None,
        year=int(str(_commonest([r.published.year for r in years if r.published]) or 0)) or None,
    )
