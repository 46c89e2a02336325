"""When is a paper found only by meaning a plausible match? One calibrated rule, shared by every caller.

A dense retriever always returns its nearest papers, relevant or not: for a nonsense query the nearest
paper is merely the least far. So a paper that no query word matched is shown only when its cosine
similarity to the query reaches the model's ``MIN_SIMILARITY``. The thresholds were calibrated on SciFact
*train* only (``bench/search_relevance.py``; figures and reasoning in docs/decisions.md, "Relevance, not
neighbours"): for MiniLM high enough that random gibberish almost never reaches a paper (1 query in 300),
low enough that nDCG@10 stays within 0.005 of the uncut ranking on every dev set. The static model cannot
separate gibberish by cosine; its threshold only keeps the weakest matches out.

A second condition holds for every model: the query must contain at least one known word, one that some
paper's title, abstract or author names contain, or an English word (symspellpy's frequency dictionary, not
stop words): :func:`knows_a_word`. A query made only of unknown words (nonsense, or a typo that "did you
mean" then corrects) shows nothing found by meaning: the static model that answers in a fresh instance's
first minutes cannot separate gibberish by cosine at all, and for MiniLM this removes the last gibberish
queries that reach its threshold. On the dev sets every judged query has a known word, so nDCG@10 does not
move (docs/decisions.md, "Relevance, not neighbours").

Used by search (hybrid and dense modes, date and trending sorts) and available to other rankers
(similar papers, recommendations): ``plausible(score, model=...)``, ``cut(ids, scores, model=...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources

from paperfeed.search.analyze import STOP_WORDS, words
from paperfeed.search.query import ParsedQuery
from paperfeed.search.retrievers import LexicalSearch

# Cosine similarity of (query, paper) at and above which a meaning-only match is shown, per model family.
# MiniLM: 0.35, where 1 of 300 gibberish queries still reaches a paper and dense nDCG@10 on SciFact train
# moves 0.6602 -> 0.6557. The static model cannot tell gibberish by cosine (its best match for gibberish has
# median cosine 0.58, relevant papers 0.62): 0.40 keeps dense nDCG@10 at 0.408 (0.409 uncut; 0.45 would give
# 0.404) and 94% of gibberish queries still reach a paper (docs/decisions.md, "Relevance, not neighbours"); the
# interim static model (static-quick) lets 68% through at 0.40: for both, the known-word condition stops them.
MIN_SIMILARITY: dict[str, float] = {"minilm": 0.35, "static": 0.40}
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


ENGLISH_WORDS = "frequency_dictionary_en_82_765.txt"  # shipped with symspellpy: 82,765 English words


@cache
def english_words() -> frozenset[str]:
    """The words of symspellpy's English frequency dictionary (empty if it cannot be read)."""
    try:
        text = (resources.files("symspellpy") / ENGLISH_WORDS).read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError):
        return frozenset()
    return frozenset(line.split(" ", 1)[0] for line in text.splitlines() if line)


def knows_a_word(lexical: LexicalSearch, query: ParsedQuery) -> bool:
    """True when some word of the query's free text is an English word (stop words aside) or occurs in the
    index (any paper's title, abstract or author names, whatever the query's filters), or when the text has
    no searchable word to judge by."""
    if not query.scored_terms:
        return True
    english = english_words()
    if any(w in english for w in words(query.text) if w not in STOP_WORDS):
        return True
    free_text = ParsedQuery(raw=query.text, words=[query.text])
    return lexical.search_page(free_text, 1).total > 0
