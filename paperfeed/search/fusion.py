"""Fusing ranked lists: small pure functions chosen by name (``get_fusion("rrf")``), as bm25s picks scorers.

Every function takes the rankings as ``[(ids, scores), ...]`` (each best first) and a weight per ranking,
and returns one ``(ids, scores)`` list, best first. Ties keep the order of first appearance. Which one search
uses, and with what weights, is set in ``hybrid.py`` from the measurements in docs/benchmarks.md
("Search quality"); the reasons are in docs/decisions.md ("Hybrid fusion").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

Ranking = tuple[Sequence[str], Sequence[float]]
Fusion = Callable[..., tuple[list[str], list[float]]]

RRF_K = 60  # hybrid search uses it only with fusion="rrf" (k 5-20 scored 0.720-0.723 there, k 60 0.713)


def _ordered(scores: dict[str, float]) -> tuple[list[str], list[float]]:
    order = sorted(scores, key=lambda i: -scores[i])  # stable: first appearance breaks ties
    return order, [scores[i] for i in order]


def _weights(rankings: Sequence[Ranking], weights: Sequence[float] | None) -> list[float]:
    if weights is None:
        return [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights given for {len(rankings)} rankings")
    return [float(w) for w in weights]


def rrf(
    rankings: Sequence[Ranking], weights: Sequence[float] | None = None, *, k: int = RRF_K
) -> tuple[list[str], list[float]]:
    """Reciprocal-rank fusion: ``sum(w / (k + rank))``, rank from 1. Ignores score scales entirely."""
    out: dict[str, float] = {}
    for (ids, _), w in zip(rankings, _weights(rankings, weights), strict=True):
        for rank, pid in enumerate(ids, start=1):
            out[pid] = out.get(pid, 0.0) + w / (k + rank)
    return _ordered(out)


def minmax(scores: Sequence[float]) -> list[float]:
    """Scores rescaled to [0, 1] (all 1.0 when they are equal)."""
    if not scores:
        return []
    lo, hi = min(scores), max(scores)
    if hi - lo <= 1e-12:
        return [1.0] * len(scores)
    return [(s - lo) / (hi - lo) for s in scores]


def zparams(scores: Sequence[float]) -> tuple[float, float]:
    """``(mean, standard deviation)`` of ``scores``; the deviation is 1.0 when they are all equal (or none)."""
    if not scores:
        return 0.0, 1.0
    mean = sum(scores) / len(scores)
    sd = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
    return mean, (sd if sd > 1e-12 else 1.0)


def zscore(scores: Sequence[float]) -> list[float]:
    """Scores as standard deviations from their mean (all 0.0 when they are equal)."""
    mean, sd = zparams(scores)
    return [(s - mean) / sd for s in scores]


def _convex(
    rankings: Sequence[Ranking],
    weights: Sequence[float] | None,
    norm: Callable[[Sequence[float]], list[float]],
    missing: float | None,
) -> tuple[list[str], list[float]]:
    """Weighted sum of normalised scores; a document absent from a ranking gets ``missing`` there
    (None: that list's lowest normalised score), so appearing in both lists counts."""
    ws = _weights(rankings, weights)
    normed = [dict(zip(ids, norm(list(scores)), strict=True)) for ids, scores in rankings]
    floors = [min(n.values(), default=0.0) if missing is None else missing for n in normed]
    everyone = dict.fromkeys(pid for ids, _ in rankings for pid in ids)
    out: dict[str, float] = dict.fromkeys(everyone, 0)  # int 0 first, as sum() starts: the same floats
    for n, w, f in zip(normed, ws, floors, strict=True):  # list by list: the same additions, in the same order
        get = n.get
        for pid in everyone:
            out[pid] += w * get(pid, f)
    return _ordered(out)


def convex(rankings: Sequence[Ranking], weights: Sequence[float] | None = None) -> tuple[list[str], list[float]]:
    """Min-max normalised weighted sum (a document missing from a list scores 0 there)."""
    return _convex(rankings, weights, minmax, 0.0)


def convex_z(rankings: Sequence[Ranking], weights: Sequence[float] | None = None) -> tuple[list[str], list[float]]:
    """z-score normalised weighted sum (a document missing from a list gets that list's lowest z-score)."""
    return _convex(rankings, weights, zscore, None)


FUSIONS: dict[str, Fusion] = {"rrf": rrf, "convex": convex, "convex_z": convex_z}


def get_fusion(name: str) -> Fusion:
    """The fusion function called ``name``; an unknown name raises ``ValueError`` listing the known ones."""
    try:
        return FUSIONS[name]
    except KeyError:
        known = ", ".join(sorted(FUSIONS))
        raise ValueError(f"unknown fusion {name!r}; choose one of: {known}") from None
