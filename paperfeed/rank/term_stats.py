"""Term statistics behind query-term selection (:func:`paperfeed.rank.signals.select_terms`), cheap enough for
every request even for a 200-paper library ("for you"):

- :func:`weighted_terms`: the analysed terms of some texts, counted, with the word each first came from; the
  terms of each distinct word are remembered per process (bounded), so a library's few thousand distinct words
  are not stemmed again on every call;
- :func:`tantivy_doc_freqs`: document frequencies from the tantivy index, remembered per index version (the
  searcher's document and segment counts and the index's ``meta.json``, which every commit rewrites), so a
  term's frequency is read from the engine once per version instead of once per call.

Both return exactly what the uncached computation would (tests/test_related_speed.py).
"""

from __future__ import annotations

import os
import weakref
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from paperfeed.search.analyze import analyse, words

MAX_WORDS = 200_000  # distinct words whose terms are remembered (forgotten all at once when full)
MAX_FREQS = 500_000  # document frequencies remembered per index (idem)
BODY_FIELD = "abstract"  # the body field holds the title too (lexical._body), so its frequency is the paper's

_word_terms: dict[str, tuple[str, ...]] = {}
_freqs: weakref.WeakKeyDictionary[Any, tuple[tuple[object, ...], dict[str, float]]] = weakref.WeakKeyDictionary()


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


def _version(lexical: Any, searcher: Any) -> tuple[object, ...]:
    """What changes when the index does: document and segment counts, and tantivy's ``meta.json``."""
    stamp: object = None
    path = getattr(lexical, "path", None)
    if path is not None:
        try:
            st = os.stat(Path(path) / "meta.json")
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None
    return (int(searcher.num_docs), int(searcher.num_segments), stamp)


def tantivy_doc_freqs(lexical: Any, terms: Sequence[str]) -> tuple[dict[str, float], float]:
    """Papers holding each term (title or abstract) and the number of papers, from a tantivy ``LexicalIndex``."""
    searcher = lexical._searcher()
    version = _version(lexical, searcher)
    cached = _freqs.get(lexical)
    if cached is None or cached[0] != version or len(cached[1]) >= MAX_FREQS:
        cached = (version, {})
        _freqs[lexical] = cached
    known = cached[1]
    out: dict[str, float] = {}
    for t in terms:
        d = known.get(t)
        if d is None:
            d = known[t] = float(searcher.doc_freq(BODY_FIELD, t))
        out[t] = d
    return out, float(searcher.num_docs)
