"""search/fusion.py against a brute-force reference (as bm25s compares its scorers in tests/comparison/):
every fused list is recomputed document by document straight from the formulas, with numpy for the
normalisations, on random rankings (hypothesis) and on hand-checked examples."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperfeed.search.fusion import (
    FUSIONS,
    RRF_K,
    convex,
    convex_z,
    get_fusion,
    minmax,
    rrf,
    zparams,
    zscore,
)

Ranking = tuple[list[str], list[float]]


def _first_seen(rankings: list[Ranking]) -> list[str]:
    return list(dict.fromkeys(pid for ids, _ in rankings for pid in ids))


def _sorted(scores: dict[str, float], order: list[str]) -> tuple[list[str], list[float]]:
    """Best first; equal scores keep the order in which the documents first appeared."""
    ranked = sorted(order, key=lambda pid: (-scores[pid], order.index(pid)))
    return ranked, [scores[pid] for pid in ranked]


def brute_rrf(rankings: list[Ranking], weights: list[float], k: int) -> tuple[list[str], list[float]]:
    everyone = _first_seen(rankings)
    scores = {}
    for pid in everyone:
        total = 0.0
        for (ids, _), w in zip(rankings, weights, strict=True):
            if pid in ids:
                total += w / (k + ids.index(pid) + 1)
        scores[pid] = total
    return _sorted(scores, everyone)


def np_minmax(values: list[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return arr
    span = arr.max() - arr.min()
    return np.ones_like(arr) if span <= 1e-12 else (arr - arr.min()) / span


def np_zscore(values: list[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return arr
    sd = arr.std()  # population deviation, as fusion.zparams
    return (arr - arr.mean()) / (sd if sd > 1e-12 else 1.0)


def brute_convex(rankings: list[Ranking], weights: list[float], z: bool) -> tuple[list[str], list[float]]:
    everyone = _first_seen(rankings)
    normed = [dict(zip(ids, (np_zscore if z else np_minmax)(scores), strict=True)) for ids, scores in rankings]
    scores = {}
    for pid in everyone:
        total = 0.0
        for norm, w in zip(normed, weights, strict=True):
            missing = min(norm.values(), default=0.0) if z else 0.0
            total += w * float(norm.get(pid, missing))
        scores[pid] = total
    return _sorted(scores, everyone)


@st.composite
def rankings(draw: st.DrawFn) -> list[Ranking]:
    """Two or three rankings over a small shared pool of ids (so overlaps are common), each best first."""
    pool = [f"p{i}" for i in range(12)]
    out = []
    for _ in range(draw(st.integers(2, 3))):
        ids = draw(st.lists(st.sampled_from(pool), max_size=10, unique=True))
        raw = draw(st.lists(st.floats(-50, 50, allow_nan=False), min_size=len(ids), max_size=len(ids)))
        out.append((ids, sorted(raw, reverse=True)))
    return out


weights_st = st.lists(st.floats(0.1, 3.0), min_size=3, max_size=3)


def assert_same(got: tuple[list[str], list[float]], want: tuple[list[str], list[float]]) -> None:
    """Same scores per document; the same order wherever two scores differ by more than rounding."""
    got_scores, want_scores = dict(zip(*got, strict=True)), dict(zip(*want, strict=True))
    assert got_scores.keys() == want_scores.keys()
    for pid, score in want_scores.items():
        assert got_scores[pid] == pytest.approx(score, abs=1e-9)
    assert got[1] == sorted(got[1], reverse=True)  # best first
    for a, b in zip(got[0], got[0][1:], strict=False):
        if want_scores[a] < want_scores[b] - 1e-9:
            pytest.fail(f"{a} ranked above {b}, which scores higher")


@settings(max_examples=200, deadline=None)
@given(rankings(), weights_st, st.integers(1, 100))
def test_rrf_matches_the_formula(lists: list[Ranking], weights: list[float], k: int) -> None:
    ws = weights[: len(lists)]
    got = rrf(lists, ws, k=k)
    want = brute_rrf(lists, ws, k)
    assert_same(got, want)
    assert got[0] == want[0]  # same arithmetic in the same order: exact, ties included


@settings(max_examples=200, deadline=None)
@given(rankings(), weights_st)
def test_convex_matches_minmax_weighted_sum(lists: list[Ranking], weights: list[float]) -> None:
    ws = weights[: len(lists)]
    assert_same(convex(lists, ws), brute_convex(lists, ws, z=False))


@settings(max_examples=200, deadline=None)
@given(rankings(), weights_st)
def test_convex_z_matches_zscore_weighted_sum(lists: list[Ranking], weights: list[float]) -> None:
    ws = weights[: len(lists)]
    assert_same(convex_z(lists, ws), brute_convex(lists, ws, z=True))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=30))
def test_normalisations_match_numpy(values: list[float]) -> None:
    if not values:
        assert minmax(values) == [] and zscore(values) == [] and zparams(values) == (0.0, 1.0)
        return
    assert minmax(values) == pytest.approx(list(np_minmax(values)), abs=1e-9)
    assert zscore(values) == pytest.approx(list(np_zscore(values)), abs=1e-6)
    assert all(0.0 <= v <= 1.0 for v in minmax(values))


def test_rrf_by_hand() -> None:
    lexical = (["a", "b", "c"], [9.0, 5.0, 1.0])
    dense = (["c", "a"], [0.9, 0.8])
    ids, scores = rrf([lexical, dense])
    # a: 1/61 + 1/62, c: 1/63 + 1/61, b: 1/62
    assert ids == ["a", "c", "b"]
    assert scores == pytest.approx([1 / 61 + 1 / 62, 1 / 63 + 1 / 61, 1 / 62])
    assert RRF_K == 60
    ids, _ = rrf([lexical, dense], [0.0, 1.0])  # a zero weight silences a list, its documents stay listed
    assert ids == ["c", "a", "b"]


def test_rrf_ignores_score_scales_but_convex_does_not() -> None:
    lexical = (["a", "b"], [1000.0, 999.0])
    dense = (["b", "a"], [0.9, 0.1])
    assert rrf([lexical, dense])[0] == ["a", "b"]  # a tie on ranks: first appearance wins
    assert convex([lexical, dense])[0] == ["a", "b"]  # min-max: a = 1 + 0, b = 0 + 1: a tie again
    assert convex([lexical, dense], [1.0, 2.0])[0] == ["b", "a"]


def test_a_document_in_both_lists_beats_one_in_a_single_list() -> None:
    lexical = (["solo", "both", "x"], [10.0, 9.5, 0.0])
    dense = (["both", "y"], [0.9, 0.1])
    for fuse in (rrf, convex, convex_z):
        assert fuse([lexical, dense])[0][0] == "both", fuse.__name__


def test_empty_rankings_fuse_to_nothing() -> None:
    for fuse in FUSIONS.values():
        assert fuse([([], []), ([], [])]) == ([], [])


def test_weights_must_match_the_rankings() -> None:
    with pytest.raises(ValueError, match="1 weights given for 2 rankings"):
        rrf([(["a"], [1.0]), (["b"], [1.0])], [1.0])


def test_fusions_are_chosen_by_name_and_an_unknown_name_lists_the_known_ones() -> None:
    assert get_fusion("rrf") is rrf and get_fusion("convex_z") is convex_z
    with pytest.raises(ValueError, match="unknown fusion 'rff'; choose one of: convex, convex_z, rrf"):
        get_fusion("rff")
