"""Text analysis shared by indexing, querying and snippets: one tokenizer, English stop words, Snowball stems.

The lexical index stores pre-analysed text (space-separated stems), so the index, the query builder and the
snippet highlighter agree on every token by construction, whatever engine sits underneath.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterator

import Stemmer

# Lucene's English stop words (also bm25s's): short, so topical words like "model" or "cell" still count.
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    ]
)
_TOKEN = re.compile(r"[^\W_]+")
# ASCII text (nearly all of it once folded) is cut by turning every byte but a letter or digit into a space and
# splitting: the same tokens as _TOKEN (on ASCII, [^\W_] is exactly str.isalnum), about 3x faster.
_ASCII_GAPS = bytes(c if chr(c).isalnum() else 32 for c in range(256))
MAX_TOKEN_LEN = 40
ANALYZER_VERSION = 1  # bump when tokens change: indexes made with another version are rebuilt

_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    """One stemmer per thread: PyStemmer objects must not be shared between threads."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = Stemmer.Stemmer("english")
        _local.stemmer = stemmer
    return stemmer


def fold(text: str) -> str:
    """Lower case without accents: ``Ångström`` -> ``angstrom``."""
    if text.isascii():  # fast path, same result: nothing to decompose or strip
        return text.casefold()
    text = unicodedata.normalize("NFKD", text)
    if text.isascii():
        return text.casefold()
    return "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()


def _tokens(folded: str) -> list[str]:
    """Runs of letters and digits (``_TOKEN``), through the fast path when the text is ASCII."""
    if folded.isascii():
        return folded.encode("ascii").translate(_ASCII_GAPS).decode("ascii").split()
    return _TOKEN.findall(folded)


def words(text: str) -> list[str]:
    """Folded word tokens (letters and digits), stop words kept, over-long tokens dropped."""
    return [t for t in _tokens(fold(text)) if len(t) <= MAX_TOKEN_LEN]


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
    for word in _tokens(fold(text)):
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
    for m in _TOKEN.finditer(text):
        token = fold(m.group())
        if token in STOP_WORDS or len(token) > MAX_TOKEN_LEN:
            continue
        yield m.start(), m.end(), str(stemmer.stemWord(token))
