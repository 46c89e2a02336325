"""Text analysis shared by indexing, querying and snippets: one tokenizer, English stop words, Snowball stems.

The lexical index stores pre-analysed text (space-separated stems), so the index, the query builder and the
snippet highlighter agree on every token by construction, whatever engine sits underneath.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import Stemmer

from paperfeed.text import MAX_TOKEN_LEN, STOP_WORDS, TOKEN, fold, tokens, words

__all__ = ["MAX_TOKEN_LEN", "STOP_WORDS", "TOKEN", "fold", "tokens", "words"]  # the base text rules, re-exported

ANALYZER_VERSION = 1  # bump when tokens change: indexes made with another version are rebuilt

_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    """One stemmer per thread: PyStemmer objects must not be shared between threads."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = Stemmer.Stemmer("english")
        _local.stemmer = stemmer
    return stemmer


def stem(token: str) -> str:
    return str(_stemmer().stemWord(token))


_TERMS: dict[str, str] = {}  # folded word -> its term ("" for stop words and over-long tokens)
_TERMS_MAX = 500_000


def _term(word: str) -> str:
    term = "" if word in STOP_WORDS or len(word) > MAX_TOKEN_LEN else str(_stemmer().stemWord(word))
    if len(_TERMS) >= _TERMS_MAX:  # bounded: a corpus of odd tokens cannot grow it without limit
        _TERMS.clear()
    _TERMS[word] = term
    return term


def analyse(text: str) -> list[str]:
    """Index/query terms of ``text``: folded words minus stop words, stemmed (each distinct word is stemmed
    once per process and remembered: indexing spends most of its time here)."""
    get = _TERMS.get
    out = []
    for word in tokens(fold(text)):
        term = get(word)
        if term is None:
            term = _term(word)
        if term:
            out.append(term)
    return out


def analyse_name(text: str) -> list[str]:
    """Terms of an author name: folded words, no stemming or stop words (``Li``, ``De`` count)."""
    return words(text)


def spans(text: str) -> Iterator[tuple[int, int, str]]:
    """``(start, end, stem)`` of every non-stop-word token of the original ``text``, for highlighting."""
    stemmer = _stemmer()
    for m in TOKEN.finditer(text):
        token = fold(m.group())
        if token in STOP_WORDS or len(token) > MAX_TOKEN_LEN:
            continue
        yield m.start(), m.end(), str(stemmer.stemWord(token))
