"""Similar papers: every signal fused into one ranking, each paper with the reason it is there.

Signals (:mod:`paperfeed.rank.signals`), each a list of candidates with a score:

- ``lexical``: BM25 of the paper's ``LEXICAL_TERMS`` most discriminative title and abstract words (each as
  often as the paper holds it, up to ``LEXICAL_REPEAT`` times), divided by the paper's own score (0..1);
- ``dense``: cosine of the paper's embedding with every candidate's (exact, for candidates of any signal);
- ``authors``: number of authors shared;
- ``cosaved``: members who saved or upvoted both papers;
- ``category``: shares the paper's primary category (only a small nudge: a category holds thousands).

Lexical and dense scores are z-normalised over the candidates and summed with weights (a candidate a list
did not reach gets that list's lowest score); authors, co-saves and category add a fixed bonus in the same
units. A candidate is shown only when :func:`paperfeed.rank.relevance.strong_enough` says so (no padding).
The lexical query and the weights were chosen on four dev sets (see ``WEIGHTS``); the ranking scores at least
the naive RRF of a plain BM25 and the embedding, and each signal alone, on every one of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from paperfeed.rank import signals as sig
from paperfeed.rank.relevance import strong_enough
from paperfeed.search.fusion import zscore
from paperfeed.search.query import ParsedQuery

REASON_ABSTRACT = "similar abstract"
REASON_AUTHORS = "same authors"
REASON_COSAVED = "members who saved this also saved"
REASONS = (REASON_ABSTRACT, REASON_AUTHORS, REASON_COSAVED)
DEPTH = 100  # candidates per signal
# Chosen on four dev sets of different kinds (cacm-cites, and Cranfield, CISI and SciFact train papers relevant
# to the same query: bench/similar_sets.py; docs/benchmarks.md, "Against the naive baseline (issue 23)"):
# the lexical query is the paper's 50 most discriminative words, each repeated as often as the paper holds it
# (at most 3 times), and its z-scores weigh 0.4 against the cosine's 1.0, the setting whose worst margin over
# the naive RRF of a plain BM25 and MiniLM across the sets was best (lexical z-scores are heavy-tailed: at
# equal weight the fusion fell below the cosine alone on CISI and CACM).
LEXICAL_TERMS = 50
LEXICAL_REPEAT = 3
WEIGHTS: dict[str, float] = {"lexical": 0.4, "dense": 1.0, "authors": 1.0, "cosaved": 0.5, "category": 0.2}
SIGNALS = ("lexical", "dense", "authors", "cosaved", "category")


@dataclass
class Subject:
    """What similar papers need of the paper they are similar to. A text standing in for a paper (papers
    like this text) has no stored id or vector: its own embedding comes as ``vector``."""

    id: str
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    vector: np.ndarray | None = None
    is_text: bool = False  # a text, not a stored paper: a word one paper holds can match that paper


@dataclass
class Related:
    """Ids best first, fused scores, the reason for each, and every signal's raw score per candidate."""

    ids: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    raw: dict[str, dict[str, float]] = field(default_factory=dict)


def gather(
    subject: Subject,
    *,
    lexical: sig.LexicalLike,
    dense: sig.DenseLike | None,
    co_saved: tuple[list[str], list[float]],
    signals: Sequence[str],
    depth: int,
) -> dict[str, dict[str, float]]:
    """Every candidate of every signal with its raw score per signal (``raw[signal][id]``; the defaults are
    :func:`rank_similar`'s)."""
    raw: dict[str, dict[str, float]] = {s: {} for s in SIGNALS}
    if "lexical" in signals:
        min_df = 1 if subject.is_text else 2
        terms = sig.select_terms(subject.title, subject.abstract, lexical, LEXICAL_TERMS, min_df, LEXICAL_REPEAT)
        ids, scores = sig.lexical_neighbours(lexical, terms, depth, subject.id)
        raw["lexical"] = dict(zip(ids, scores, strict=True))
    if "dense" in signals:
        if subject.vector is not None and dense is not None:
            ids, scores = dense.search(subject.vector, depth)
        else:
            ids, scores = sig.dense_neighbours(dense, subject.id, depth)
        raw["dense"] = dict(zip(ids, scores, strict=True))
    if "authors" in signals and subject.authors:
        ids, scores = sig.author_neighbours(lexical, subject.authors, subject.id, depth)
        raw["authors"] = dict(zip(ids, scores, strict=True))
    if "cosaved" in signals:
        raw["cosaved"] = {i: s for i, s in zip(*co_saved, strict=True) if i != subject.id}
    everyone = {pid for s in ("lexical", "dense", "authors", "cosaved") for pid in raw[s]}
    if "dense" in signals and dense is not None and raw["dense"]:
        _exact_cosines(dense, subject, everyone, raw["dense"])
    if "category" in signals and subject.categories and everyone:
        primary = subject.categories[0]
        same = lexical.filter_ids(ParsedQuery(raw=primary, categories=[primary]), everyone)
        raw["category"] = dict.fromkeys(same, 1.0)
    return raw


def _exact_cosines(dense: sig.DenseLike, subject: Subject, ids: set[str], out: dict[str, float]) -> None:
    """Fill in the cosine of candidates the dense list did not reach (cheap: their vectors are stored)."""
    missing = [pid for pid in ids if pid not in out]
    if not missing:
        return
    own: np.ndarray | None = subject.vector
    if own is not None:
        vecs = sig.vectors_of(dense, missing)
    else:
        vecs = sig.vectors_of(dense, [subject.id, *missing])
        own = vecs.pop(subject.id, None)
    if own is None:
        return
    for pid, v in vecs.items():
        if v.shape == own.shape:
            out[pid] = float(v @ own)


def fuse(raw: dict[str, dict[str, float]], weights: dict[str, float] | None = None) -> dict[str, float]:
    """One score per candidate: weighted z-scores of lexical and dense plus bonuses for the rest."""
    w = {**WEIGHTS, **(weights or {})}
    everyone = list(dict.fromkeys(pid for s in ("lexical", "dense", "authors", "cosaved") for pid in raw[s]))
    total = dict.fromkeys(everyone, 0.0)
    for name in ("lexical", "dense"):
        got = raw[name]
        if not got or not w[name]:
            continue
        ids = list(got)
        z = dict(zip(ids, zscore([got[i] for i in ids]), strict=True))
        floor = min(z.values())
        for pid in everyone:
            total[pid] += w[name] * z.get(pid, floor)
    for pid in everyone:
        total[pid] += w["authors"] * min(raw["authors"].get(pid, 0.0), 2.0)
        total[pid] += w["cosaved"] * math.log1p(raw["cosaved"].get(pid, 0.0))
        total[pid] += w["category"] * raw["category"].get(pid, 0.0)
    return total


def reason_for(pid: str, raw: dict[str, dict[str, float]], model: str | None = None) -> str:
    """The reason shown: same authors first (the plainest fact), then co-saves, else the abstract."""
    if raw["authors"].get(pid, 0.0) > 0:
        return REASON_AUTHORS
    if raw["cosaved"].get(pid, 0.0) >= 1 and not _textual(pid, raw, model):
        return REASON_COSAVED
    return REASON_ABSTRACT


def _textual(pid: str, raw: dict[str, dict[str, float]], model: str | None) -> bool:
    return strong_enough(lexical=raw["lexical"].get(pid, 0.0), dense=raw["dense"].get(pid), model=model)


def rank_similar(
    subject: Subject,
    *,
    lexical: sig.LexicalLike,
    dense: sig.DenseLike | None,
    co_saved: tuple[list[str], list[float]] = ([], []),
    signals: Sequence[str] = SIGNALS,
    weights: dict[str, float] | None = None,
    depth: int = DEPTH,
    model: str | None = None,
    cut: bool = True,
    limit: int | None = None,
) -> Related:
    """Related papers of ``subject``, best first. ``cut``: leave out candidates too weak to show;
    ``limit``: stop after that many."""
    raw = gather(subject, lexical=lexical, dense=dense, co_saved=co_saved, signals=signals, depth=depth)
    total = fuse(raw, weights)
    ranked = sorted(total.items(), key=lambda x: (-x[1], x[0]))
    out = Related(raw=raw)
    for pid, score in ranked:
        if cut and not shown(pid, raw, model):
            continue
        out.ids.append(pid)
        out.scores.append(float(score))
        out.reasons[pid] = reason_for(pid, raw, model)
        if limit is not None and len(out.ids) >= limit:
            break
    return out


def shown(pid: str, raw: dict[str, dict[str, float]], model: str | None = None) -> bool:
    """Strong enough to show: a shared author, two members' co-saves, or text similar enough."""
    if raw["authors"].get(pid, 0.0) > 0 or raw["cosaved"].get(pid, 0.0) >= 2:
        return True
    return _textual(pid, raw, model)
