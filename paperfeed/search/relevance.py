"""When is a paper found only by meaning a plausible match? One calibrated rule, shared by every caller.

A dense retriever always returns its nearest papers, relevant or not: for a nonsense query the nearest
paper is merely the least far. So a paper that no query word matched is shown only when its cosine
similarity to the query reaches the model's ``MIN_SIMILARITY``. The thresholds were calibrated on SciFact
*train* only (``bench/search_relevance.py``; figures and reasoning in docs/decisions.md, "Relevance, not
neighbours"): high enough that random gibberish queries never reach a paper, low enough that nDCG@10
stays within 0.005 of the uncut ranking on every dev set.

Used by search (hybrid and dense modes, date and trending sorts) and available to other rankers
(similar papers, recommendations): ``plausible(score, model=...)``, ``cut(ids, scores, model=...)``.
"""

from __future__ import annotations

from collections.abc import Sequence

# Cosine similarity of (query, paper) at and above which a meaning-only match is shown, per model family.
MIN_SIMILARITY: dict[str, float] = {"minilm": 0.30, "static": 0.30}
DEFAULT_MIN_SIMILARITY = 0.30  # a model without its own calibration


def min_similarity(model: str | None) -> float:
    """The cosine similarity a meaning-only match needs under vectors of ``model`` (``"minilm"``, ``"static"``)."""
    return MIN_SIMILARITY.get(model or "", DEFAULT_MIN_SIMILARITY)


def plausible(score: float, *, model: str | None) -> bool:
    """True when a paper at cosine similarity ``score`` from the query is a plausible match by meaning."""
    return float(score) >= min_similarity(model)


def cut(ids: Sequence[str], scores: Sequence[float], *, threshold: float) -> tuple[list[str], list[float]]:
    """The ``(ids, scores)`` whose cosine similarity reaches ``threshold``, in their order."""
    pairs = [(i, float(s)) for i, s in zip(ids, scores, strict=True) if s >= threshold]
    return [i for i, _ in pairs], [s for _, s in pairs]
