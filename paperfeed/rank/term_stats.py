"""Term statistics behind query-term selection (:func:`paperfeed.rank.signals.select_terms`), cheap enough for
every request even for a 200-paper library ("for you"):

- :func:`weighted_terms`: the analysed terms of some texts, counted, with the word each first came from; the
  terms of each distinct word are remembered per process (bounded), so a library's few thousand distinct words
  are not stemmed again on every call;
Document frequencies come from the lexical backend itself (``LexicalBackend.doc_freqs``, remembered per
published generation). It returns exactly what the uncached computation would (tests/test_related_speed.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from paperfeed.search.analyze import analyse, words

MAX_WORDS = 200_000  # distinct words whose terms are remembered (forgotten all at once when full)
BODY_FIELD = "abstract"  # the body field holds the title too (lexical._body), so its frequency is the paper's

_word_terms: dict[str, tuple[str, ...]] = {}


def terms_of_word(word: str) -> tuple[str, ...]:
    """``analyse(word)``, remembered."""
    got = _word_terms.get(word)
    if got is None:
        if len(_word_terms) >= MAX_WORDS:
            _word_terms.clear()
        got = _word_terms[word] = tuple(analyse(word))
    return got


def weighted_terms(texts: Iterable[tuple[str, int]]) -> tuple[Counter[str], dict[str, str]]:
    """Counts of the analysed terms of ``(text, weight)`` pairs (an occurrence counts ``weight``), and per term
    the first word (in text order) it came from."""
    counts: Counter[str] = Counter()
    surface: dict[str, str] = {}
    for text, weight in texts:
        for w, tf in Counter(words(text)).items():  # each distinct word analysed once
            for t in terms_of_word(w):
                counts[t] += weight * tf
                surface.setdefault(t, w)
    return counts, surface
