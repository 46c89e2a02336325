"""The signals related papers are built from, each returning ``(ids, scores)`` best first.

- :func:`select_terms`: the most discriminative words of a long text (a paper's title and abstract, or a whole
  library), by tf-idf against the corpus, so BM25 compares topics rather than every common word;
- :func:`lexical_neighbours`: BM25 of those words, scores divided by the best possible one (the paper's own
  score when it is in the index), so they mean the same on every query (0..1);
- :func:`dense_neighbours` / :func:`vectors_of`: cosine neighbours and vectors from the dense index;
- :func:`author_neighbours`: papers sharing an author, through the lexical index's ``author:`` filter.

Document frequencies come from the lexical engine (:func:`doc_freqs`): tantivy's own counts, or on the
PostgreSQL backend the planner statistics its BM25 uses.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Collection, Sequence
from typing import Protocol

import numpy as np

from paperfeed.rank.term_stats import weighted_terms
from paperfeed.search.analyze import words
from paperfeed.search.query import ParsedQuery

QUERY_TERMS = 25  # words kept from a paper's title and abstract (chosen on cacm-cites, see docs/decisions.md)
TITLE_TF = 2  # a title word counts as this many abstract words
MAX_AUTHORS = 6  # authors of a paper looked up for "same authors"
_INITIALS = re.compile(r"([A-Z][A-Za-z'\-]+(?: [A-Z][A-Za-z'\-]+)?),\s*((?:[A-Z][a-z]?\.\s*)+)")


class LexicalLike(Protocol):
    """What related-paper ranking asks of a keyword index (:class:`paperfeed.search.protocols.LexicalBackend`)."""

    def search(
        self, query: ParsedQuery | str, k: int, *, allowed: Collection[str] | None = None
    ) -> tuple[list[str], list[float]]: ...

    def filter_ids(self, query: ParsedQuery, ids: Collection[str]) -> set[str]: ...

    def doc_freqs(self, terms: Sequence[str]) -> tuple[dict[str, float], float]: ...


class DenseLike(Protocol):
    """What related-paper ranking asks of stored vectors (:class:`paperfeed.search.protocols.DenseBackend`)."""

    def vector(self, paper_id: str) -> np.ndarray | None: ...

    def vectors(self, ids: Collection[str]) -> tuple[list[str], np.ndarray]: ...

    def search(self, vector: np.ndarray, k: int) -> tuple[list[str], list[float]]: ...

    def similar(self, paper_id: str, k: int) -> tuple[list[str], list[float]]: ...

    def __contains__(self, paper_id: object) -> bool: ...

    def __len__(self) -> int: ...


def doc_freqs(lexical: LexicalLike, terms: Sequence[str]) -> tuple[dict[str, float], float]:
    """Papers holding each analysed term (title or abstract), and the number of papers (the engine's own
    counts: tantivy's, or on PostgreSQL the planner statistics its BM25 uses)."""
    return lexical.doc_freqs(terms)


def select_terms(
    title: str, abstract: str, lexical: LexicalLike, n_terms: int = QUERY_TERMS, min_df: int = 2, max_repeat: int = 1
) -> list[str]:
    """The ``n_terms`` words of the text with the highest tf-idf (words held by fewer than ``min_df`` papers are
    dropped: for an indexed paper, one holding it alone can match nothing else; a text that is no paper passes
    1). Returned as surface words, one per analysed term, each repeated as often as the text holds it (a title
    word counting ``TITLE_TF``), at most ``max_repeat`` times: BM25 counts a repeated query word that often."""
    counts, surface = weighted_terms(((title, TITLE_TF), (abstract, 1)))
    if not counts:
        return []
    terms = list(counts)
    df, n = doc_freqs(lexical, terms)
    tf = np.fromiter(counts.values(), dtype=np.float64, count=len(terms))
    d = np.fromiter((df.get(t, 1.0) for t in terms), dtype=np.float64, count=len(terms)) if df else tf * 0 + 2.0
    keep = np.flatnonzero(d >= min_df)  # the others only this paper has
    if not len(keep) or n_terms <= 0:
        return []
    scores = tf[keep] / (tf[keep] + 1.2) * 2.2 * _idf(d[keep], n)
    cut = np.partition(scores, len(scores) - min(n_terms, len(scores)))[len(scores) - min(n_terms, len(scores))]
    best = sorted(
        ((float(scores[i]), terms[keep[i]]) for i in np.flatnonzero(scores >= cut)), key=lambda x: (-x[0], x[1])
    )
    return [surface[t] for _, t in best[:n_terms] for _ in range(max(1, min(int(counts[t]), max_repeat)))]


def _idf(d: np.ndarray, n: float) -> np.ndarray:
    """BM25's idf of each document frequency (``math.log`` once per distinct value: the same floats as before)."""
    if not n:
        return np.ones(len(d))
    values, where = np.unique(d, return_inverse=True)
    return np.array([math.log(1 + (max(n, v) - v + 0.5) / (v + 0.5)) for v in values.tolist()])[where]


def lexical_neighbours(
    lexical: LexicalLike, query_words: Sequence[str], k: int, own_id: str | None = None
) -> tuple[list[str], list[float]]:
    """BM25 of ``query_words``, best first, without ``own_id``; scores divided by the paper's own score (or
    the best one when it is not indexed), so 1.0 means "matches like the paper itself"."""
    if not query_words:
        return [], []
    query = ParsedQuery(raw=" ".join(query_words), words=list(query_words))
    ids, scores = lexical.search(query, k + 1)
    top = max(scores, default=0.0)
    own = next((s for i, s in zip(ids, scores, strict=True) if i == own_id), top)
    scale = own if own > 0 else 1.0
    pairs = [(i, s / scale) for i, s in zip(ids, scores, strict=True) if i != own_id][:k]
    return [i for i, _ in pairs], [min(s, 1.0) for _, s in pairs]


def dense_neighbours(dense: DenseLike | None, paper_id: str, k: int) -> tuple[list[str], list[float]]:
    """Cosine neighbours of an indexed paper (itself and same-text duplicates left out)."""
    if dense is None or paper_id not in dense:
        return [], []
    ids, scores = dense.similar(paper_id, k)
    return list(ids), [float(s) for s in scores]


def vectors_of(dense: DenseLike | None, ids: Sequence[str]) -> dict[str, np.ndarray]:
    """Unit vectors of those of ``ids`` that have one (one matrix read, or one query on PostgreSQL)."""
    if dense is None or not ids:
        return {}
    found, mat = dense.vectors(ids)
    if not found:
        return {}
    return unit_rows(found, np.asarray(mat, dtype=np.float32))


def unit_rows(ids: Sequence[str], mat: np.ndarray) -> dict[str, np.ndarray]:
    """Each row divided by its length (rows of length 0 left out). Bit for bit what ``v / norm(v)`` gives
    row by row: each row's squared length is the same dot product ``np.linalg.norm`` takes."""
    norms = np.sqrt((mat[:, None, :] @ mat[:, :, None]).reshape(-1))
    unit = mat / np.where(norms > 0, norms, 1)[:, None]
    return {pid: unit[i] for i, pid in enumerate(ids) if norms[i] > 0}


def split_authors(authors: str | Sequence[str]) -> list[str]:
    """Author names from a list, or from one string ("A; B", "A, B" or "Last, F. Other, G.")."""
    if not isinstance(authors, str):
        return [a.strip() for a in authors if a and a.strip()]
    if ";" in authors or "\n" in authors:
        return [a.strip() for a in re.split(r"[;\n]", authors) if a.strip()]
    pairs = _INITIALS.findall(authors)
    if pairs:
        return [f"{first.strip()} {last}" for last, first in pairs]
    return [a.strip() for a in authors.split(",") if a.strip()]


def author_neighbours(
    lexical: LexicalLike, authors: Sequence[str], own_id: str, k: int
) -> tuple[list[str], list[float]]:
    """Papers sharing an author with this one (newest first per author); score = authors shared."""
    shared: Counter[str] = Counter()
    for name in authors[:MAX_AUTHORS]:
        if not words(name):
            continue
        ids, _ = lexical.search(ParsedQuery(raw=name, authors=[name]), k)
        for pid in ids:
            if pid != own_id:
                shared[pid] += 1
    ranked = shared.most_common(k)
    return [i for i, _ in ranked], [float(s) for _, s in ranked]
