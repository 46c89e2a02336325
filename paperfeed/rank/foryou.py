""" "For you": recommendations for a member from their library and upvotes, each with its reason.

Score of a candidate paper ``c`` for a member whose library (saved papers, then upvoted ones, newest
first) is ``l_0, l_1, ...``:

    score(c) = sum_i w_i * sim(c, l_i) / sum_i w_i        with  w_i = 0.5 ** (i / HALF_LIFE)

so the ``HALF_LIFE``-th most recent library paper counts half as much as the newest one (time decay by
recency of saving). ``sim`` is the cosine similarity of the papers' vectors from the dense index when one
is available; else the Searcher's ``similar(id)`` scores (cosine when they lie in [0, 1], otherwise divided
by the list's best score); else lexical similarity from ``Searcher.search`` (each library title run as a
query, scores divided by the best one). Without any of these there are no recommendations and
``Recommendations.source`` is ``"none"``, so pages can say why.
Only *new* papers are candidates (see :func:`is_new`), never a library paper.
The reason is the library paper contributing most: "similar to <title>".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Connection

from paperfeed.models import Paper
from paperfeed.store.papers import get_papers

HALF_LIFE = 10.0  # library positions
MAX_LIBRARY = 50  # most recent library papers considered
PER_SEED = 50  # neighbours fetched per library paper
LATE_GRACE = timedelta(days=7)  # see is_new


class DenseLike(Protocol):
    def vector(self, paper_id: str) -> Any: ...

    def search(self, vector: Any, k: int) -> Any: ...


@dataclass
class Recommendations:
    """Paper ids best first, their scores, and a reason for each id."""

    ids: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    source: str = "none"  # dense | similar | lexical | none: which similarity produced them
    seeds: int = 0  # library papers they were computed from


def library_seeds(*, conn: Connection, user_id: int) -> list[str]:
    """The member's saved papers then upvoted ones, newest first, each once."""
    from paperfeed.store.accounts import library_list, voted_ids

    saved = library_list(conn=conn, user_id=user_id, limit=MAX_LIBRARY)
    voted = voted_ids(conn=conn, user_id=user_id, limit=MAX_LIBRARY)
    return list(dict.fromkeys([*saved, *voted]))[:MAX_LIBRARY]


def _weights(n: int) -> np.ndarray:
    return np.power(0.5, np.arange(n, dtype=np.float64) / HALF_LIFE)


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


def recommend(
    *,
    conn: Connection,
    user_id: int,
    searcher: Any = None,
    dense: DenseLike | None = None,
    since: datetime | None = None,
    limit: int = 10,
    exclude: Iterable[str] = (),
) -> Recommendations:
    """Up to ``limit`` new papers for this member, best first, with reasons."""
    seeds = library_seeds(conn=conn, user_id=user_id)
    if not seeds or limit <= 0:
        return Recommendations(seeds=len(seeds))
    blocked = set(exclude) | set(seeds)
    sims, source = _similarities(conn, searcher, dense, seeds)
    sims = {pid: s for pid, s in sims.items() if pid not in blocked}
    if not sims:
        return Recommendations(source=source, seeds=len(seeds))
    papers = {p.id: p for p in get_papers(conn=conn, ids=list(sims))}
    recs = _rank(conn, seeds, sims, papers, since, limit)
    recs.source, recs.seeds = source, len(seeds)
    return recs


def _similarities(
    conn: Connection, searcher: Any, dense: DenseLike | None, seeds: Sequence[str]
) -> tuple[dict[str, np.ndarray], str]:
    """The best similarity source available: dense vectors, ``Searcher.similar``, lexical search."""
    if dense is not None:
        sims = _dense_similarities(dense, seeds)
        if sims:
            return sims, "dense"
    if searcher is not None and callable(getattr(searcher, "similar", None)):
        sims = _similar_similarities(searcher, seeds)
        if sims:
            return sims, "similar"
    if searcher is not None and callable(getattr(searcher, "search", None)):
        return _lexical_similarities(conn, searcher, seeds), "lexical"
    return {}, "none"


def _rank(
    conn: Connection,
    seeds: Sequence[str],
    sims: dict[str, np.ndarray],
    papers: dict[str, Paper],
    since: datetime | None,
    limit: int,
) -> Recommendations:
    w = _weights(len(seeds))
    scored: list[tuple[float, str, int]] = []
    for pid, s in sims.items():
        p = papers.get(pid)
        if p is None or not is_new(p, since):
            continue
        contrib = w * s
        scored.append((float(contrib.sum() / w.sum()), pid, int(np.argmax(contrib))))
    scored = [t for t in scored if t[0] > 0]
    scored.sort(key=lambda t: (-t[0], t[1]))
    top = scored[:limit]
    titles = {p.id: p.title for p in get_papers(conn=conn, ids=list({seeds[t[2]] for t in top}))}
    out = Recommendations()
    for score, pid, seed_idx in top:
        out.ids.append(pid)
        out.scores.append(score)
        out.reasons[pid] = f"similar to {titles.get(seeds[seed_idx], seeds[seed_idx])}"
    return out


def _unit(v: Any) -> np.ndarray | None:
    if v is None:
        return None
    arr = np.asarray(v, dtype=np.float32).ravel()
    norm = float(np.linalg.norm(arr))
    return arr / norm if norm > 0 else None


def _dense_similarities(dense: DenseLike, seeds: Sequence[str]) -> dict[str, np.ndarray]:
    """Cosine of every neighbour of any library paper to every library paper (rows: seeds)."""
    seed_vecs = [_unit(dense.vector(pid)) for pid in seeds]
    if all(v is None for v in seed_vecs):
        return {}
    candidates: set[str] = set()
    for v in seed_vecs:
        if v is not None:
            ids, _scores = dense.search(v, PER_SEED)
            candidates.update(str(i) for i in ids)
    out: dict[str, np.ndarray] = {}
    for cid in candidates:
        cv = _unit(dense.vector(cid))
        if cv is None:
            continue
        out[cid] = np.array(
            [float(cv @ v) if v is not None and v.shape == cv.shape else 0.0 for v in seed_vecs], dtype=np.float64
        )
    return out


def _hits(results: Any) -> list[Any]:
    """Hits of a ``SearchResults`` (or a plain list of hits)."""
    hits = getattr(results, "hits", results)
    return list(hits) if isinstance(hits, list | tuple) else []


def _similar_similarities(searcher: Any, seeds: Sequence[str]) -> dict[str, np.ndarray]:
    """``Searcher.similar`` neighbours of each of the 20 newest seeds (~75% of the weight)."""
    out: dict[str, np.ndarray] = {}
    for i, pid in enumerate(seeds[:20]):
        try:
            hits = [h for h in _hits(searcher.similar(pid, limit=PER_SEED)) if h.paper.id != pid]
        except Exception:  # noqa: BLE001 - a seed without a vector or index must not sink the rest
            continue
        best = max((float(h.score) for h in hits), default=0.0)
        if best <= 0:
            continue
        scale = 1.0 if best <= 1.0 else best  # cosine-like scores are kept as they are
        for h in hits:
            row = out.setdefault(h.paper.id, np.zeros(len(seeds), dtype=np.float64))
            row[i] = max(float(h.score), 0.0) / scale
    return out


def _lexical_similarities(conn: Connection, searcher: Any, seeds: Sequence[str]) -> dict[str, np.ndarray]:
    """Lexical stand-in for cosine: each seed's title as a query; scores normalised by the best hit."""
    titles = {p.id: p.title for p in get_papers(conn=conn, ids=list(seeds))}
    out: dict[str, np.ndarray] = {}
    for i, pid in enumerate(seeds[:20]):  # the 20 newest seeds carry ~75% of the weight
        title = titles.get(pid)
        if not title:
            continue
        try:
            results = searcher.search(_as_query(title), limit=PER_SEED)
        except Exception:  # noqa: BLE001 - one bad title must not sink the digest
            continue
        hits = [h for h in _hits(results) if h.paper.id != pid]
        best = max((float(h.score) for h in hits), default=0.0)
        if best <= 0:
            continue
        for h in hits:
            row = out.setdefault(h.paper.id, np.zeros(len(seeds), dtype=np.float64))
            row[i] = float(h.score) / best
    return out


def _as_query(title: str) -> str:
    """A title as a plain bag-of-words query (no operators, quotes or field prefixes)."""
    words = "".join(ch if ch.isalnum() else " " for ch in title).split()
    stop = {"and", "or", "not", "AND", "OR", "NOT"}
    return " ".join(w for w in words if w not in stop)[:300]
