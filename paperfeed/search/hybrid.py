"""Hybrid retrieval: lexical and dense candidates, held to the same query rules, fused into one ranking.

The one ranking function behind ``Searcher.search`` and ``paperfeed eval``, so the figures in
docs/benchmarks.md are those of the code users run. Each side contributes its ``depth`` best candidates;
semantic candidates must satisfy the query's constraints (phrases, exclusions, author, category, dates),
checked against the lexical index. Fusion and weights were tuned on SciFact train only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from paperfeed.search.fusion import get_fusion
from paperfeed.search.lexical import LexicalIndex
from paperfeed.search.query import ParsedQuery

MODES = ("bm25", "dense", "hybrid")
# Tuned on SciFact train only (bench/eval_all.py --tune; figures in docs/benchmarks.md, "Search quality"):
# z-score fusion with equal weights beat every RRF setting tried (0.732 vs at best 0.723 nDCG@10); weights
# 0.8-1.25, depths 200-1000 and title boosts 0.2-0.4 all scored within 0.002 of it, so the plain choice stays.
DEPTH = 200  # candidates per side; pages within the first DEPTH results are consistent with each other
FUSION = "convex_z"
WEIGHTS = (1.0, 1.0)  # lexical, dense
# The static model is much weaker alone (SciFact train nDCG@10 0.409 vs MiniLM's 0.660): at weight 1.0 it
# pulled hybrid below BM25 (0.663 vs 0.698); at 0.3, the best of the grid, hybrid is 0.699 with R@100 0.937.
DENSE_WEIGHT_BY_MODEL = {"static": 0.3}


def weights_for(model: str | None) -> tuple[float, float]:
    """Fusion weights (lexical, dense) for vectors made by ``model`` (tuned on SciFact train only)."""
    return (WEIGHTS[0], DENSE_WEIGHT_BY_MODEL.get(model or "", WEIGHTS[1]))


RRF_K = 60  # only used with fusion="rrf" (k 5-20 scored 0.720-0.723 there, k 60 0.713)


class DenseSearch(Protocol):
    def search(self, vector: np.ndarray, k: int) -> tuple[list[str], list[float]]: ...


@dataclass
class Ranking:
    """A fused ranking, best first, with each id's 1-based rank on each side (absent: not a candidate)."""

    ids: list[str]
    scores: list[float]
    total: int
    lexical_rank: dict[str, int] = field(default_factory=dict)
    semantic_rank: dict[str, int] = field(default_factory=dict)

    def reason(self, pid: str) -> str:
        lex, sem = pid in self.lexical_rank, pid in self.semantic_rank
        return "both" if lex and sem else ("semantic" if sem else "lexical")


def dense_candidates(
    dense: DenseSearch, vector: np.ndarray, query: ParsedQuery, lexical: LexicalIndex, depth: int
) -> tuple[list[str], list[float]]:
    """The ``depth`` nearest papers that satisfy the query's constraints (over-fetching when it has some)."""
    if not query.has_constraints:
        return dense.search(vector, depth)
    ids, scores = dense.search(vector, depth * 5)
    keep = lexical.filter_ids(query, ids)
    pairs = [(i, s) for i, s in zip(ids, scores, strict=True) if i in keep][:depth]
    return [i for i, _ in pairs], [s for _, s in pairs]


def rank(
    query: ParsedQuery,
    *,
    mode: str,
    lexical: LexicalIndex,
    dense: DenseSearch | None = None,
    vector: np.ndarray | None = None,
    depth: int = DEPTH,
    fusion: str = FUSION,
    weights: Sequence[float] = WEIGHTS,
    rrf_k: int = RRF_K,
) -> Ranking:
    """Rank for ``mode`` (bm25|dense|hybrid). Dense and hybrid need ``dense`` and the query ``vector``;
    a query without free text (only filters) is answered lexically whatever the mode."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    use_dense = mode != "bm25" and dense is not None and vector is not None and bool(query.text.strip())
    lex_ids: list[str] = []
    lex_scores: list[float] = []
    lex_total = 0
    if mode != "dense" or not use_dense:
        page = lexical.search_page(query, depth)
        lex_ids, lex_scores, lex_total = page.ids, page.scores, page.total
    if not use_dense:
        return Ranking(lex_ids, lex_scores, lex_total, {p: r for r, p in enumerate(lex_ids, 1)})
    assert dense is not None and vector is not None
    d_ids, d_scores = dense_candidates(dense, vector, query, lexical, depth)
    sem = {p: r for r, p in enumerate(d_ids, 1)}
    if mode == "dense":
        return Ranking(d_ids, d_scores, len(d_ids), {}, sem)
    fuse = get_fusion(fusion)
    kwargs = {"k": rrf_k} if fusion == "rrf" else {}
    ids, scores = fuse([(lex_ids, lex_scores), (d_ids, d_scores)], list(weights), **kwargs)
    return Ranking(ids, scores, max(lex_total, len(ids)), {p: r for r, p in enumerate(lex_ids, 1)}, sem)
