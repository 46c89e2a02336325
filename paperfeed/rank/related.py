"""Similar papers for the product: one paper in, hydrated hits out, each with the reason it is there.

:func:`similar_hits` is what ``Searcher.similar`` (the paper page, ``/api/v1/papers/{id}/similar`` and
``paperfeed similar``) returns: :func:`paperfeed.rank.similar.rank_similar` over the searcher's indexes plus
the members' co-saves from the store, cut where candidates get too weak (never padded), duplicates of the
paper (same normalised title) left out, and equal scores broken by recency (newest first).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from paperfeed.ids import normalise_title
from paperfeed.models import Paper, SearchHit
from paperfeed.rank.signals import DenseLike, LexicalLike
from paperfeed.rank.similar import Related, Subject, rank_similar
from paperfeed.search.snippet import snippet
from paperfeed.store.papers import get_papers
from paperfeed.store.related import co_saved

SCORE_DECIMALS = 3  # scores equal to this many decimals count as a tie (recency decides)


def indexes_of(searcher: Any) -> tuple[LexicalLike | None, DenseLike | None, str | None]:
    """The lexical index, the usable vectors and their model of a search service (Nones without one),
    brought up to date with the store first, as a search would be."""
    if searcher is None or getattr(searcher, "lexical", None) is None:
        return None, None, None
    upkeep = getattr(searcher, "upkeep", None)
    if upkeep is not None:
        from paperfeed.search import readiness

        upkeep.maybe_refresh()  # as before a search: catch up with the store when it moved
        use = readiness.served(upkeep)
        return searcher.lexical, (use.dense if use is not None else None), (use.model if use is not None else None)
    dense_of = getattr(searcher, "dense_index", None)
    return searcher.lexical, (dense_of() if callable(dense_of) else None), getattr(searcher, "model", None)


def subject_of(paper: Paper) -> Subject:
    """What related-paper ranking needs of a stored paper."""
    cats = list(dict.fromkeys([c for c in [paper.primary_category, *paper.categories] if c]))
    return Subject(paper.id, paper.title, paper.abstract or "", [a.name for a in paper.authors], cats)


def similar_hits(
    *,
    engine: Engine,
    paper: Paper,
    lexical: LexicalLike,
    dense: DenseLike | None,
    model: str | None,
    limit: int,
) -> list[SearchHit]:
    """Up to ``limit`` papers related to ``paper``, best first, each with its reason."""
    with engine.connect() as conn:
        together = co_saved(conn=conn, paper_ids=[paper.id], limit=100)
    ranked = rank_similar(
        subject_of(paper),
        lexical=lexical,
        dense=dense,
        co_saved=(list(together), list(together.values())),
        model=model,
        limit=limit * 2 + 10,  # room for duplicates left out when hydrating
    )
    return hits(engine, paper, ranked, limit)


def _when(p: Paper) -> float:
    d = p.published or p.first_seen
    return d.timestamp() if isinstance(d, datetime) else 0.0


def hits(engine: Engine, paper: Paper, ranked: Related, limit: int) -> list[SearchHit]:
    """Hydrate the best of ``ranked`` (over-fetching for duplicates), ties broken by recency."""
    head = ranked.ids[: limit * 2 + 10]
    with engine.connect() as conn:
        by_id = {p.id: p for p in get_papers(conn=conn, ids=head)}
    own_title = normalise_title(paper.title)
    score = dict(zip(ranked.ids, ranked.scores, strict=True))
    kept: list[tuple[str, Paper]] = []
    seen = {paper.id}
    for pid in head:
        p = by_id.get(pid)
        if p is None or p.id in seen or normalise_title(p.title) == own_title:
            continue
        seen.add(p.id)
        kept.append((pid, p))
    kept.sort(key=lambda x: (-round(score[x[0]], SCORE_DECIMALS), -_when(x[1]), x[1].id))
    return [_hit(p, score[pid], ranked.reasons[pid]) for pid, p in kept[:limit]]


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
