"""Similar papers for the product: one paper in, hydrated hits out, each with the reason it is there.

:func:`similar_hits` is what ``Searcher.similar`` (the paper page, ``/api/v1/papers/{id}/similar`` and
``paperfeed similar``) returns: :func:`paperfeed.rank.similar.rank_similar` over the searcher's indexes plus
the members' co-saves from the store, cut where candidates get too weak (never padded), duplicates of the
paper (same normalised title) left out, and equal scores broken by recency (newest first).

:func:`text_hits` is the same ranking for a text standing in for a paper ("papers like this text":
``POST /api/v1/similar``, the ``/similar`` page, ``paperfeed similar --text``): its most discriminative words
and its embedding replace the stored paper's; there are no authors, co-saves or category. ``sort`` (both)
reorders the papers that passed (``date``: newest first, ``upvotes``: most upvoted first); it never brings in
weaker ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, get_args

from sqlalchemy import Engine

from paperfeed.ids import normalise_title
from paperfeed.models import Paper, SearchHit, SimilarSort
from paperfeed.rank.citation_signals import rank_with_citations, ties_of
from paperfeed.rank.similar import Related, Subject, rank_similar
from paperfeed.search.protocols import Indexes, Searcher
from paperfeed.search.snippet import snippet
from paperfeed.store.papers import get_paper, get_papers
from paperfeed.store.related import co_saved
from paperfeed.store.votes import vote_counts

SCORE_DECIMALS = 3  # scores equal to this many decimals count as a tie (recency decides)
SIMILAR_SORTS: tuple[str, ...] = get_args(SimilarSort)
# What the ranking reads of a text: a paper is its title and abstract, and arXiv abstracts hold at most 1,920
# characters; a longer text is cut (at a word) with a note, so it weighs like a paper's title and abstract.
TEXT_CHARS = 2_500
MAX_LIMIT = 1_000
NO_WORDS = "give some text: a title and abstract, or any passage (it has no words)"


@dataclass
class TextMatches:
    """Related papers (of a paper, or like a text), and what the answer must say (the text was cut, search
    is degraded)."""

    hits: list[SearchHit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def similar_papers(
    *, engine: Engine, searcher: Searcher, paper_id: str, limit: int = 10, sort: str = "relevance"
) -> TextMatches:
    """The papers nearest to ``paper_id`` (an id, old id or versioned id), best first: the paper page,
    ``/api/v1/papers/{id}/similar`` and ``paperfeed similar``. Every signal fused (words, meaning, shared
    authors, members' co-saves, citations), each hit with its reason, only candidates strong enough to show.
    ``sort`` (relevance, date, upvotes) reorders those shown; ``notes``: what is degraded in the indexes
    they come from (vectors still being made...). Unknown id: ``KeyError``."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    with engine.connect() as conn:
        paper = get_paper(conn=conn, paper_id=str(paper_id).strip())
    if paper is None:
        raise KeyError(f"there is no paper {str(paper_id)[:100]!r}")
    indexes = searcher.indexes()
    found = similar_hits(engine=engine, paper=paper, indexes=indexes, limit=limit, sort=sort)
    return TextMatches(found, [indexes.warning] if indexes.warning else [])


def papers_like_text(
    *, engine: Engine, searcher: Searcher, text: str, limit: int = 10, sort: str = "relevance"
) -> TextMatches:
    """Papers like ``text`` (a pasted abstract, a PDF's text), ranked as a paper's similar papers are, the text
    standing in for the paper. ``notes``: the text was cut, search is degraded. ``ValueError`` for a text with
    no words or an unknown ``sort``."""
    bounded, cut = bound_text(text)
    limit = max(1, min(int(limit), MAX_LIMIT))
    indexes = searcher.indexes()  # one generation: the vectors and the model that embeds the text agree
    vector = indexes.embed(bounded) if indexes.embed is not None else None
    found = text_hits(engine=engine, text=bounded, indexes=indexes, vector=vector, limit=limit, sort=sort)
    return TextMatches(found, [n for n in (cut, indexes.warning) if n])


def subject_of(paper: Paper) -> Subject:
    """What related-paper ranking needs of a stored paper."""
    cats = list(dict.fromkeys([c for c in [paper.primary_category, *paper.categories] if c]))
    return Subject(paper.id, paper.title, paper.abstract or "", [a.name for a in paper.authors], cats)


def similar_hits(
    *,
    engine: Engine,
    paper: Paper,
    indexes: Indexes,
    limit: int,
    sort: str = "relevance",
) -> list[SearchHit]:
    """Up to ``limit`` papers related to ``paper``, best first (or by ``sort``), each with its reason, from
    the ``indexes`` of the generation served."""
    with engine.connect() as conn:
        together = co_saved(conn=conn, paper_ids=[paper.id], limit=100)
        ties = ties_of(conn=conn, paper_id=paper.id)  # CITATIONS: cited together, shares references
    ranked = rank_with_citations(  # rank_similar plus the citation signals (none: rank_similar unchanged)
        subject_of(paper),
        ties,
        lexical=indexes.lexical,
        dense=indexes.dense,
        co_saved=(list(together), list(together.values())),
        model=indexes.model,
        limit=limit * 2 + 10,  # room for duplicates left out when hydrating
    )
    return hits(engine, paper, ranked, limit, sort)


def bound_text(text: str) -> tuple[str, str | None]:
    """The text the ranking reads (whitespace collapsed, at most ``TEXT_CHARS``, cut at a word) and a note
    when it was cut. ``ValueError`` (:data:`NO_WORDS`) when it has no words."""
    flat = " ".join(str(text).split())
    if not any(ch.isalnum() for ch in flat):
        raise ValueError(NO_WORDS)
    if len(flat) <= TEXT_CHARS:
        return flat, None
    cut = flat[:TEXT_CHARS].rsplit(" ", 1)[0] or flat[:TEXT_CHARS]
    note = (
        f"the text was cut to its first {len(cut):,} of {len(flat):,} characters: similar papers read "
        "about a title and abstract's worth of text"
    )
    return cut, note


def text_hits(
    *,
    engine: Engine,
    text: str,
    indexes: Indexes,
    vector: Any | None,
    limit: int,
    sort: str = "relevance",
) -> list[SearchHit]:
    """Up to ``limit`` papers like ``text`` (already bounded), ranked as similar papers are, with ``vector``
    (the text's embedding by the served model) standing in for a paper's stored one."""
    dense = indexes.dense
    subject = Subject("", "", text, vector=vector if dense is not None else None, is_text=True)
    ranked = rank_similar(subject, lexical=indexes.lexical, dense=dense, model=indexes.model, limit=limit * 2 + 10)
    return hits(engine, None, ranked, limit, sort)


def _when(p: Paper) -> float:
    d = p.published or p.first_seen
    return d.timestamp() if isinstance(d, datetime) else 0.0


def hits(engine: Engine, paper: Paper | None, ranked: Related, limit: int, sort: str = "relevance") -> list[SearchHit]:
    """Hydrate the best of ``ranked`` (over-fetching for duplicates), ties broken by recency; then the
    ``limit`` best reordered by ``sort`` (the same papers, never weaker ones). ``paper``: None for a text."""
    if sort not in SIMILAR_SORTS:
        raise ValueError(f"sort must be one of {', '.join(SIMILAR_SORTS)}, got {sort!r}")
    head = ranked.ids[: limit * 2 + 10]
    with engine.connect() as conn:
        by_id = get_papers(conn=conn, ids=head)
    own_title = normalise_title(paper.title) if paper is not None else None
    score = dict(zip(ranked.ids, ranked.scores, strict=True))
    kept: list[tuple[str, Paper]] = []
    seen = {paper.id} if paper is not None else set()
    for pid in head:
        p = by_id.get(pid)
        if p is None or p.id in seen or normalise_title(p.title) == own_title:
            continue
        seen.add(p.id)
        kept.append((pid, p))
    kept.sort(key=lambda x: (-round(score[x[0]], SCORE_DECIMALS), -_when(x[1]), x[1].id))
    shown = _sorted(engine, kept[:limit], sort)
    return [_hit(p, score[pid], ranked.reasons[pid]) for pid, p in shown]


def _sorted(engine: Engine, kept: list[tuple[str, Paper]], sort: str) -> list[tuple[str, Paper]]:
    """``kept`` (best first) reordered by date or upvotes; relevance breaks ties (a stable sort)."""
    if sort == "date":
        return sorted(kept, key=lambda x: -_when(x[1]))
    if sort == "upvotes":
        with engine.connect() as conn:
            votes = vote_counts(conn=conn, ids=[p.id for _, p in kept])
        return sorted(kept, key=lambda x: -votes.get(x[1].id, 0))
    return kept


def _hit(p: Paper, score: float, reason: str) -> SearchHit:
    return SearchHit(
        paper=p,
        score=round(float(score), 6),
        reason=reason,  # type: ignore[arg-type]
        snippet=snippet(p.abstract or p.title, []),
    )


def reasons_of(found: Sequence[SearchHit]) -> dict[str, str]:
    """Paper id -> reason, for pages that show cards."""
    return {h.paper.id: str(h.reason) for h in found}
