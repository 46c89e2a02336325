"""Hybrid retrieval: lexical and dense candidates, held to the same query rules, fused into one ranking.

The one ranking function behind ``Searcher.search`` and ``paperfeed eval``, so the figures in
docs/benchmarks.md are those of the code users run. Each side contributes its ``depth`` best candidates:
semantic candidates are searched among the papers that satisfy the query's constraints (phrases,
exclusions, author, category, dates: ``DenseSearch.search_filtered``), and a paper that no query word
matched is kept only when it is a plausible match by meaning (:mod:`paperfeed.search.relevance`). Below the
fused candidates come the remaining keyword matches, so ``Ranking.total`` counts exactly what can be paged
through. Fusion and weights were tuned on SciFact train only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from paperfeed.search.fusion import RRF_K, get_fusion, zparams
from paperfeed.search.query import ParsedQuery
from paperfeed.search.relevance import cut, knows_a_word
from paperfeed.search.retrievers import DenseSearch, LexicalSearch

MODES = ("bm25", "dense", "hybrid")
# Tuned on SciFact train only (bench/eval_all.py --tune; figures in docs/benchmarks.md, "Search quality"):
# z-score fusion with equal weights beat every RRF setting tried (0.732 vs at best 0.723 nDCG@10); weights
# 0.8-1.25, depths 200-1000 and title boosts 0.2-0.4 all scored within 0.002 of it, so the plain choice stays.
DEPTH = 200  # candidates per side; pages within the first DEPTH results are consistent with each other
MAX_RESULTS = 1_000  # fused (hybrid/dense) results reach this far
FUSION = "convex_z"
WEIGHTS = (1.0, 1.0)  # lexical, dense
# The static model is much weaker alone (SciFact train nDCG@10 0.409 vs MiniLM's 0.660): at weight 1.0 it
# pulled hybrid below BM25 (0.663 vs 0.698); at 0.3, the best of the grid, hybrid is 0.699 with R@100 0.937.
DENSE_WEIGHT_BY_MODEL = {"static": 0.3}


def weights_for(model: str | None) -> tuple[float, float]:
    """Fusion weights (lexical, dense) for vectors made by ``model`` (tuned on SciFact train only)."""
    return (WEIGHTS[0], DENSE_WEIGHT_BY_MODEL.get(model or "", WEIGHTS[1]))


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
    dense: DenseSearch, vector: np.ndarray, query: ParsedQuery, lexical: LexicalSearch, depth: int
) -> tuple[list[str], list[float]]:
    """The ``depth`` nearest papers among those that satisfy the query's constraints (searched among them,
    not filtered after the nearest of the whole corpus)."""
    if not query.has_constraints:
        return dense.search(vector, depth)
    return dense.search_filtered(vector, depth, query=query, lexical=lexical)


def rank(
    query: ParsedQuery,
    *,
    mode: str,
    lexical: LexicalSearch,
    dense: DenseSearch | None = None,
    vector: np.ndarray | None = None,
    depth: int = DEPTH,
    fusion: str = FUSION,
    weights: Sequence[float] = WEIGHTS,
    rrf_k: int = RRF_K,
    min_similarity: float | None = None,
    want: int = 0,
) -> Ranking:
    """Rank for ``mode`` (bm25|dense|hybrid). Dense and hybrid need ``dense`` and the query ``vector``;
    a query without free text (only filters) is answered lexically whatever the mode.

    ``min_similarity``: papers found only by meaning below this cosine similarity are left out (None: none
    are; see relevance.py). ``want``: the caller pages up to this many results (keyword matches beyond the
    fused candidates are appended up to it, at most ``MAX_RESULTS``)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    use_dense = mode != "bm25" and dense is not None and vector is not None and bool(query.text.strip())
    if not use_dense:
        page = lexical.search_page(query, max(depth, want))
        return Ranking(page.ids, page.scores, page.total, {p: r for r, p in enumerate(page.ids, 1)})
    assert dense is not None and vector is not None
    gate = min_similarity is not None  # the relevance rule: no known word, nothing shown by meaning
    if mode == "dense":
        if gate and not knows_a_word(lexical, query):
            return Ranking([], [], 0)
        found = dense_candidates(dense, vector, query, lexical, depth)
        return _dense_ranking(dense, vector, query, lexical, found, depth, min_similarity)
    page = lexical.search_page(query, depth)
    if gate and _no_known_word(lexical, query, page.total):
        return Ranking([], [], 0)
    d_ids, d_scores = dense_candidates(dense, vector, query, lexical, depth)
    lex_ids, lex_scores = page.ids, page.scores
    fuse = get_fusion(fusion)
    kwargs = {"k": rrf_k} if fusion == "rrf" else {}
    ids, scores = fuse([(lex_ids, lex_scores), (d_ids, d_scores)], list(weights), **kwargs)
    lex_rank = {p: r for r, p in enumerate(lex_ids, 1)}
    sem = {p: r for r, p in enumerate(d_ids, 1)}
    sem_only = [p for p in d_ids if p not in lex_rank]
    matched = _keyword_matches(lexical, query, sem_only) if page.total > len(lex_ids) else set()
    if min_similarity is not None:
        weak = {p for p, s in zip(d_ids, d_scores, strict=True) if s < min_similarity and p not in lex_rank}
        drop = weak - matched
        pairs = [(p, s) for p, s in zip(ids, scores, strict=True) if p not in drop]
        ids, scores = [p for p, _ in pairs], [s for _, s in pairs]
    extra = sum(1 for p in ids if p not in lex_rank and p not in matched)  # matched by meaning only
    total = min(page.total + extra, MAX_RESULTS)
    ranking = Ranking(ids, scores, total, lex_rank, sem)
    if want > len(ids) and page.total > len(lex_ids) and fusion == "convex_z":
        _append_keyword_tail(ranking, lexical, query, page.scores, d_scores, list(weights), want)
    return ranking


def _dense_ranking(
    dense: DenseSearch,
    vector: np.ndarray,
    query: ParsedQuery,
    lexical: LexicalSearch,
    found: tuple[list[str], list[float]],
    depth: int,
    min_similarity: float | None,
) -> Ranking:
    """Dense mode: the nearest papers that are plausible matches; when every one of the ``depth`` passed,
    the rest are counted (up to ``MAX_RESULTS``) so the total says how far the pages go."""
    ids, scores = found
    if min_similarity is None:
        return Ranking(ids, scores, len(ids), {}, {p: r for r, p in enumerate(ids, 1)})
    ids, scores = cut(ids, scores, threshold=min_similarity)
    total = len(ids)
    if total == depth and depth < MAX_RESULTS:
        deeper = dense_candidates(dense, vector, query, lexical, MAX_RESULTS)
        total = len(cut(*deeper, threshold=min_similarity)[0])
    return Ranking(ids, scores, total, {}, {p: r for r, p in enumerate(ids, 1)})


def _no_known_word(lexical: LexicalSearch, query: ParsedQuery, keyword_total: int) -> bool:
    """True when the query has no known word (relevance.knows_a_word); a keyword match is one."""
    if keyword_total:
        return False
    return not knows_a_word(lexical, query)


def _keyword_matches(lexical: LexicalSearch, query: ParsedQuery, ids: list[str]) -> set[str]:
    """Those of ``ids`` that some query word matches (keyword matches below the lexical candidates)."""
    if not ids:
        return set()
    found, _ = lexical.search(query, len(ids), allowed=ids)
    return set(found)


def _append_keyword_tail(
    ranking: Ranking,
    lexical: LexicalSearch,
    query: ParsedQuery,
    lex_scores: Sequence[float],
    d_scores: Sequence[float],
    weights: list[float],
    want: int,
) -> None:
    """Append keyword matches ranked below the lexical candidates, scored as fusion would have scored them
    (their BM25 z-score under the candidates' mean and spread, the dense side's floor), so every fused
    score is above every appended one and pages go on without repeats or gaps."""
    want = min(want, MAX_RESULTS)
    shown = set(ranking.ids)
    start = len(lex_scores)
    need = want - len(ranking.ids)
    page = lexical.search_page(query, need + len(shown), offset=start)
    mean, sd = zparams(lex_scores)
    d_mean, d_sd = zparams(d_scores)
    floor = min(((s - d_mean) / d_sd for s in d_scores), default=0.0)
    for n, (pid, score) in enumerate(zip(page.ids, page.scores, strict=True)):
        if pid in shown or len(ranking.ids) >= want:
            continue
        ranking.ids.append(pid)
        ranking.scores.append(weights[0] * (score - mean) / sd + weights[1] * floor)
        ranking.lexical_rank[pid] = start + n + 1
