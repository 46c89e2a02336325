""" "For you": recommendations for a member from their library, the one ranking behind the /for-you page, its
JSON API and the digest's "For you" section.

The library is the member's saved papers then upvoted ones (newest first, up to ``MAX_LIBRARY``). Ranking is
:func:`paperfeed.rank.recommend.rank_library` over the search service's indexes: per-paper similarity, the
library's centroid and lexical profile, shared authors and members' co-saves, diversified, with papers the
member said "not interested" in left out and what is like them down-weighted. Each recommendation carries a
reason ("similar abstract", "same authors", "members who saved this also saved") and the library paper it
comes from. Without a search service there are no recommendations and ``source`` is ``"none"``.
Only *new* papers are candidates when ``since`` is given (see :func:`is_new`), never a library paper.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection

from paperfeed.models import Paper
from paperfeed.rank.keyword_reasons import add_keyword_reasons
from paperfeed.rank.recommend import rank_library
from paperfeed.rank.related import subject_of
from paperfeed.rank.signals import DenseLike
from paperfeed.rank.similar import REASON_AUTHORS, REASON_COSAVED
from paperfeed.search.protocols import Searcher
from paperfeed.store.papers import get_papers
from paperfeed.store.related import co_saved, not_interested_ids

__all__ = ["DenseLike", "Recommendations", "is_new", "library_seeds", "recommend"]

MAX_LIBRARY = 200  # most recent library papers considered
NEW_ONLY_DEPTH = 10  # with ``since``: rank this many times ``limit``, then keep the new ones
LATE_GRACE = timedelta(days=7)  # see is_new


@dataclass
class Recommendations:
    """Paper ids best first, their scores, and for each id its reason (a sentence), reason kind and the id of
    the library paper it comes from."""

    ids: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    because: dict[str, str] = field(default_factory=dict)
    source: str = "none"  # dense | lexical | none: the similarity that produced them
    seeds: int = 0  # library papers they were computed from
    dismissed: int = 0  # papers the member said "not interested" in
    warning: str | None = None  # what is degraded in the indexes they were ranked from (vectors being made...)


def library_seeds(*, conn: Connection, user_id: int) -> list[str]:
    """The member's saved papers then upvoted ones, newest first, each once."""
    from paperfeed.store.library import library_list
    from paperfeed.store.votes import voted_ids

    saved = library_list(conn=conn, user_id=user_id, limit=MAX_LIBRARY)
    voted = voted_ids(conn=conn, user_id=user_id, limit=MAX_LIBRARY)
    return list(dict.fromkeys([*saved, *voted]))[:MAX_LIBRARY]


def is_new(p: Paper, since: datetime | None) -> bool:
    """A paper is new since ``since`` when it was published since then, or, when it reached Paperfeed
    since then, it was published at most ``LATE_GRACE`` earlier (a late harvest) or has no date at all.
    A backfill of old papers is therefore never "new"."""
    if since is None:
        return True
    if p.published is not None:
        return p.published >= since or (
            p.first_seen is not None and p.first_seen >= since and p.published >= since - LATE_GRACE
        )
    return p.first_seen is not None and p.first_seen >= since


def sentence(kind: str, title: str | None) -> str:
    """The reason as shown beside a recommendation (``title``: the library paper it is closest to)."""
    title = title or "papers in your library"
    if kind == REASON_AUTHORS:
        return f"same authors as {title}"
    if kind == REASON_COSAVED:
        return f"members who saved {title} also saved this"
    return f"similar abstract to {title}"


def recommend(
    *,
    conn: Connection,
    user_id: int,
    searcher: Searcher | None = None,
    dense: DenseLike | None = None,
    since: datetime | None = None,
    limit: int = 10,
    exclude: Iterable[str] = (),
) -> Recommendations:
    """Up to ``limit`` papers for this member, best first, with reasons."""
    seed_ids = library_seeds(conn=conn, user_id=user_id)
    dismissed = not_interested_ids(conn=conn, user_id=user_id)
    indexes = searcher.indexes() if searcher is not None else None
    lexical = indexes.lexical if indexes is not None else None
    dense = dense if dense is not None else (indexes.dense if indexes is not None else None)
    out = Recommendations(seeds=len(seed_ids), dismissed=len(dismissed))
    out.warning = searcher.warning("hybrid") if searcher is not None else None
    if not seed_ids or limit <= 0 or lexical is None:
        return out
    seeds = [subject_of(p) for p in _in_order(get_papers(conn=conn, ids=seed_ids), seed_ids)]
    unwanted = [subject_of(p) for p in _in_order(get_papers(conn=conn, ids=dismissed), dismissed)]
    together = co_saved(conn=conn, paper_ids=seed_ids, exclude_user=user_id)
    ranked = rank_library(
        seeds,
        lexical=lexical,
        dense=dense,
        exclude=set(exclude),
        dismissed=unwanted,
        co_saved=together,
        limit=limit * NEW_ONLY_DEPTH if since is not None else limit,
    )
    out.source = "dense" if dense is not None and len(dense) else "lexical"  # type: ignore[arg-type]
    papers = get_papers(conn=conn, ids=ranked.ids)
    titles = {s.id: s.title for s in seeds}
    for pid, score in zip(ranked.ids, ranked.scores, strict=True):
        p = papers.get(pid)
        if p is None or not is_new(p, since):
            continue
        kind = ranked.reasons[pid]
        seed = ranked.because.get(pid)
        out.ids.append(pid)
        out.scores.append(score)
        out.kinds[pid] = kind
        if seed is not None:
            out.because[pid] = seed
        out.reasons[pid] = sentence(kind, titles.get(seed) if seed is not None else None)
        if len(out.ids) == limit:
            break
    add_keyword_reasons(conn=conn, ids=out.ids, reasons=out.reasons, because=out.because, seeds=seed_ids)  # KEYWORDS
    return out


def _in_order(by_id: dict[str, Paper], ids: list[str]) -> list[Paper]:
    return [by_id[i] for i in ids if i in by_id]
