"""Recommendations from a library: per-paper similarity and a profile of the whole library, fused, then
diversified. Pure ranking over the search indexes; :mod:`paperfeed.rank.foryou` feeds it from the store.

Signals per candidate (each z-normalised over the candidates, then weighted):

- ``nearest``: the highest cosine to any library paper (a newer library paper counts a little more);
- ``centroid``: cosine to the recency-weighted mean of the library's vectors;
- ``profile``: BM25 of the library's most discriminative words (a lexical profile), divided by the best;
- ``authors``: library papers sharing an author with the candidate (bonus);
- ``cosaved``: members who saved a library paper and this one (bonus, from the store).

Papers "not interested" in are never candidates, and candidates close to them lose ``DISMISSED_WEIGHT`` per
unit of cosine. The list is then diversified with maximal marginal relevance over the embeddings, so a run
of near-duplicates gives way to the next topic. Weights: docs/decisions.md, "Related papers".
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from paperfeed.rank import signals as sig
from paperfeed.rank.similar import REASON_ABSTRACT, REASON_AUTHORS, REASON_COSAVED, Subject
from paperfeed.search.fusion import zscore

HALF_LIFE = 20.0  # library positions (newest first) at which a paper's pull halves
NEIGHBOUR_SEEDS = 10  # newest library papers whose own neighbours are fetched (each one ANN query)
LIBRARY_AUTHORS = 6  # authors looked up: those most frequent in the library
PER_SEED = 30  # neighbours fetched per library paper
LEXICAL_SEEDS = 10  # without vectors: newest library (and dismissed) papers searched for by their words
DEPTH = 200  # candidates from the centroid and the lexical profile
PROFILE_TERMS = 40
# 1.0: no diversification. 0.9 (issue 23): at 0.75 "for you" fell below the naive baseline on the
# SciFact-derived dev set (recall@20 0.938 vs 1.0), whose hidden papers are near-duplicates of each other;
# 0.9 still spreads a run of near-copies (tests/test_related.py); CACM gains 0.006 Recall@20, Cranfield
# loses 0.004 (docs/benchmarks.md, "Against the naive baseline (issue 23)").
MMR_LAMBDA = 0.9
# cacm-cites (docs/decisions.md, "Related papers"): the centroid is the best single signal; equal weights
# 0.464 Recall@20, centroid 1 / nearest 0.5 / profile 0.5 0.469 (best of the grid tried).
WEIGHTS: dict[str, float] = {"nearest": 0.5, "centroid": 1.0, "profile": 0.5, "authors": 0.3, "cosaved": 0.5}
DISMISSED_WEIGHT = 4.0
SIGNALS = ("nearest", "centroid", "profile", "authors", "cosaved")


@dataclass
class Recommended:
    """Ids best first, their scores, the reason kind for each, and the id of the library paper it is closest
    to (when vectors tell)."""

    ids: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    because: dict[str, str] = field(default_factory=dict)


def _recency(n: int) -> np.ndarray:
    return np.power(0.5, np.arange(n, dtype=np.float64) / HALF_LIFE)


def _profile_terms(seeds: Sequence[Subject], lexical: sig.LexicalLike) -> list[str]:
    title = " ".join(s.title for s in seeds)
    abstract = " ".join(s.abstract for s in seeds)
    return sig.select_terms(title, abstract, lexical, PROFILE_TERMS)


@dataclass
class Pool:
    """Candidates and what the lexical side knows of them (dense scores are computed from vectors)."""

    found: set[str] = field(default_factory=set)
    profile: dict[str, float] = field(default_factory=dict)
    authors: dict[str, float] = field(default_factory=dict)
    by_seed: dict[str, tuple[float, str]] = field(default_factory=dict)  # no vectors: best seed match


def candidates(
    seeds: Sequence[Subject],
    seed_vecs: dict[str, np.ndarray],
    *,
    lexical: sig.LexicalLike,
    dense: sig.DenseLike | None,
    signals: Sequence[str],
) -> Pool:
    """Candidates from the library's vectors (centroid and each newest paper's neighbours), its lexical
    profile, its authors, and, without vectors, each newest paper's lexical neighbours."""
    pool = Pool()
    ids_with = [s.id for s in seeds if s.id in seed_vecs]
    if dense is not None and ids_with:
        w = _recency(len(seeds))
        order = {s.id: i for i, s in enumerate(seeds)}
        mat = np.stack([seed_vecs[i] for i in ids_with])
        centroid = (w[[order[i] for i in ids_with]][:, None] * mat).sum(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-9)
        pool.found.update(dense.search(centroid, DEPTH)[0])
        if "nearest" in signals:
            for pid in ids_with[:NEIGHBOUR_SEEDS]:
                pool.found.update(dense.search(seed_vecs[pid], PER_SEED)[0])
    elif "nearest" in signals:
        for s in seeds[:LEXICAL_SEEDS]:
            terms = sig.select_terms(s.title, s.abstract, lexical)
            for pid, score in zip(*sig.lexical_neighbours(lexical, terms, PER_SEED, s.id), strict=True):
                if score > pool.by_seed.get(pid, (0.0, ""))[0]:
                    pool.by_seed[pid] = (score, s.id)
        pool.found.update(pool.by_seed)
    if "profile" in signals:
        ids, scores = sig.lexical_neighbours(lexical, _profile_terms(seeds, lexical), DEPTH)
        top = max(scores, default=0.0) or 1.0
        pool.profile = {i: s / top for i, s in zip(ids, scores, strict=True)}
        pool.found.update(pool.profile)
    if "authors" in signals:
        counts = Counter(a for s in seeds for a in dict.fromkeys(s.authors))
        names = [a for a, _ in counts.most_common(LIBRARY_AUTHORS)]  # ties: the newest library paper first
        ids, scores = sig.author_neighbours(lexical, names, "", PER_SEED)
        pool.authors = dict(zip(ids, scores, strict=True))
        pool.found.update(pool.authors)
    return pool


def _likeness(
    lexical: sig.LexicalLike, dismissed: Sequence[Subject], vecs: dict[str, np.ndarray], cvecs: dict[str, np.ndarray]
) -> dict[str, float]:
    """How like a dismissed paper each candidate is: the best cosine, or without vectors the lexical score."""
    out: dict[str, float] = {}
    dis = [vecs[d.id] for d in dismissed if d.id in vecs]
    if dis and cvecs:
        dmat = np.stack(dis)
        return {pid: max(0.0, float((dmat @ v).max())) for pid, v in cvecs.items()}
    for d in dismissed[:LEXICAL_SEEDS]:
        terms = sig.select_terms(d.title, d.abstract, lexical)
        for pid, score in zip(*sig.lexical_neighbours(lexical, terms, PER_SEED, d.id), strict=True):
            out[pid] = max(out.get(pid, 0.0), score)
    return out


def rank_library(
    seeds: Sequence[Subject],
    *,
    lexical: sig.LexicalLike,
    dense: sig.DenseLike | None,
    exclude: Collection[str] = (),
    dismissed: Sequence[Subject] = (),
    co_saved: dict[str, float] | None = None,
    signals: Sequence[str] = SIGNALS,
    weights: dict[str, float] | None = None,
    mmr_lambda: float = MMR_LAMBDA,
    limit: int = 20,
) -> Recommended:
    """Up to ``limit`` papers for a library (``seeds``, newest first), best first, with reasons."""
    w = {**WEIGHTS, **(weights or {})}
    seed_ids = [s.id for s in seeds]
    vecs = sig.vectors_of(dense, [*seed_ids, *(d.id for d in dismissed)])
    seed_vecs = {i: vecs[i] for i in seed_ids if i in vecs}
    pool = candidates(seeds, seed_vecs, lexical=lexical, dense=dense, signals=signals)
    cosaved = dict(co_saved or {}) if "cosaved" in signals else {}
    pool.found.update(cosaved)
    blocked = set(exclude) | set(seed_ids) | {d.id for d in dismissed}
    cands = sorted(pool.found - blocked)
    if not cands:
        return Recommended()
    cvecs = sig.vectors_of(dense, cands) if seed_vecs else {}
    total, nearest_seed = _scores(cands, cvecs, seeds, seed_vecs, pool, cosaved, w, signals)
    for pid, like in _likeness(lexical, dismissed, vecs, cvecs).items():
        if pid in total:
            total[pid] -= DISMISSED_WEIGHT * like
    out = Recommended()
    for pid in _mmr(cands, total, cvecs, mmr_lambda, limit):
        out.ids.append(pid)
        out.scores.append(float(total[pid]))
        if pool.authors.get(pid):
            out.reasons[pid] = REASON_AUTHORS
        elif cosaved.get(pid) and pid not in nearest_seed:
            out.reasons[pid] = REASON_COSAVED
        else:
            out.reasons[pid] = REASON_ABSTRACT
        if pid in nearest_seed:
            out.because[pid] = nearest_seed[pid]
    return out


def _scores(
    cands: list[str],
    cvecs: dict[str, np.ndarray],
    seeds: Sequence[Subject],
    seed_vecs: dict[str, np.ndarray],
    pool: Pool,
    cosaved: dict[str, float],
    w: dict[str, float],
    signals: Sequence[str],
) -> tuple[dict[str, float], dict[str, str]]:
    """Fused score per candidate and the library paper each is closest to."""
    total = dict.fromkeys(cands, 0.0)
    nearest_seed: dict[str, str] = {}
    with_vec = [c for c in cands if c in cvecs]
    sids = [s.id for s in seeds if s.id in seed_vecs]
    if with_vec and sids:
        order = {s.id: i for i, s in enumerate(seeds)}
        rec = _recency(len(seeds))[[order[i] for i in sids]]
        smat = np.stack([seed_vecs[i] for i in sids])
        sims = np.stack([cvecs[c] for c in with_vec]) @ smat.T  # candidates x seeds
        boosted = sims * (0.9 + 0.1 * rec)[None, :]
        best = boosted.argmax(axis=1)
        nearest = boosted.max(axis=1)
        centroid = (sims * rec[None, :]).sum(axis=1) / rec.sum()
        for name, values in (("nearest", nearest), ("centroid", centroid)):
            if name in signals and w[name]:
                _add_z(total, with_vec, [float(v) for v in values], w[name])
        nearest_seed = {c: sids[int(b)] for c, b in zip(with_vec, best, strict=True)}
    elif pool.by_seed and w["nearest"]:
        near = [c for c in cands if c in pool.by_seed]
        _add_z(total, near, [pool.by_seed[c][0] for c in near], w["nearest"], everyone=cands)
        nearest_seed = {c: pool.by_seed[c][1] for c in near}
    if pool.profile and "profile" in signals and w["profile"]:
        _add_z(total, list(pool.profile), list(pool.profile.values()), w["profile"], everyone=cands)
    for pid in cands:
        total[pid] += w["authors"] * min(pool.authors.get(pid, 0.0), 2.0)
        total[pid] += w["cosaved"] * math.log1p(cosaved.get(pid, 0))
    return total, nearest_seed


def _add_z(
    total: dict[str, float], ids: list[str], values: list[float], weight: float, everyone: list[str] | None = None
) -> None:
    """Add ``weight`` times the z-score of ``values``; ids of ``everyone`` not in ``ids`` get the lowest."""
    z = dict(zip(ids, zscore(values), strict=True))
    floor = min(z.values(), default=0.0)
    for pid in everyone if everyone is not None else ids:
        if pid in total:
            total[pid] += weight * z.get(pid, floor)


def _mmr(cands: list[str], total: dict[str, float], cvecs: dict[str, np.ndarray], lam: float, limit: int) -> list[str]:
    """Maximal marginal relevance: relevance (min-max scaled) minus the closest cosine to what is already
    picked. Candidates without a vector are never penalised."""
    ranked = sorted(cands, key=lambda p: (-total[p], p))
    pool = ranked[: max(limit * 5, 50)]
    if lam >= 1.0 or not cvecs or len(pool) <= 1:
        return pool[:limit]
    vals = np.array([total[p] for p in pool])
    span = float(vals.max() - vals.min())
    rel = (vals - vals.min()) / span if span > 0 else np.ones(len(pool))
    dim = len(next(iter(cvecs.values())))
    mat = np.stack([cvecs.get(p, np.zeros(dim, dtype=np.float32)) for p in pool])
    closest = np.zeros(len(pool))
    free = np.ones(len(pool), dtype=bool)
    picked: list[str] = []
    while free.any() and len(picked) < limit:
        gain = np.where(free, lam * rel - (1 - lam) * closest, -np.inf)
        best = int(gain.argmax())
        picked.append(pool[best])
        free[best] = False
        closest = np.maximum(closest, mat @ mat[best])
    return picked
