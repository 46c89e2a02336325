"""Spelling: "did you mean" from the index's own vocabulary, never from a hand-written list.

The vocabulary is every word of every paper's title, abstract and author names, with its document frequency,
read from the store (so it is the same on SQLite and PostgreSQL, whatever the search backend) and rebuilt in
the background when the store changes (:mod:`paperfeed.search.corpus_cache`). Candidates come from SymSpell
(symspellpy: Damerau-Levenshtein distance, precomputed deletes) over the words found in at least
``MIN_DF`` papers.

A query word is corrected only when it is *unknown*: not a word of any paper, its stem not a term of the
lexical index (so "transformers" is known through "transformer"), and the lexical engine itself finds no
paper for it (the vocabulary may lag a new paper by a few seconds). Author names, rare terms and acronyms that
occur in the index are therefore never "corrected" away, and neither are words shorter than ``MIN_LENGTH``,
words with digits, ``author:``/``cat:``/... values and ``-excluded`` words. Among the candidates, the closest
wins, then the one in most papers.

When to search with the correction (:func:`search_with_spelling`): the query as typed is searched first; when
the words of the query (with its filters) match fewer than ``FEW`` papers by keywords and the corrected query
matches more, the results are those of the corrected query (``corrected``), else the query's own. Either way
the suggestion is returned, for a "Did you mean" link.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine
from symspellpy import SymSpell, Verbosity

from paperfeed.search.analyze import STOP_WORDS, fold, stem
from paperfeed.search.corpus_cache import PerStore, StoreSnapshot
from paperfeed.search.query import FIELDS, parse_query
from paperfeed.store.suggest import iter_texts

if TYPE_CHECKING:
    from paperfeed.search.protocols import LexicalBackend

MIN_LENGTH = 4  # shorter words (acronyms: gnn, vae, llm) are never corrected
MIN_DF = 2  # a correction must be a word of at least this many papers (1 on corpora under SMALL_CORPUS)
SMALL_CORPUS = 1_000
FEW = 5  # a query matching fewer papers by keywords is searched with its correction
REBUILD_INTERVAL = 600.0  # seconds between vocabulary rebuilds while the store keeps changing
FIRST_BUILD_WAIT = 3.0  # a search waits this long for the first vocabulary (the CLI: as long as it takes)
_WORD = re.compile(r"[^\W\d_]+")
_TOKEN = re.compile(r"[^\W_]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_FIELD = re.compile(r"([A-Za-z]+):(?=\S)")


@dataclass
class Vocabulary:
    """Words of the corpus with their document frequencies, the stems they make, and a SymSpell over them."""

    df: dict[str, int]
    stems: set[str]
    papers: int
    symspell: SymSpell

    def known(self, word: str) -> bool:
        return word in self.df or stem(word) in self.stems

    def best(self, word: str) -> str | None:
        """The closest word of the corpus (then the most frequent), or None when none is close enough."""
        distance = 1 if len(word) <= 5 else 2
        found = self.symspell.lookup(word, Verbosity.CLOSEST, max_edit_distance=distance)
        return str(found[0].term) if found else None


def build_vocabulary(conn: Connection) -> Vocabulary:
    """Read every paper's words from the store (see :func:`vocabulary_of`)."""
    return vocabulary_of(iter_texts(conn=conn))


def vocabulary_of(batches: Iterable[list[tuple[str, str, str]]]) -> Vocabulary:
    """The vocabulary of ``(title, abstract, author names)`` rows; SymSpell keeps the words in ``MIN_DF``
    papers."""
    df: Counter[str] = Counter()
    papers = 0
    for batch in batches:
        for title, abstract, authors in batch:
            df.update(set(_WORD.findall(fold(f"{title} {abstract} {authors}"))))
        papers += len(batch)
    min_df = 1 if papers < SMALL_CORPUS else MIN_DF
    symspell = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
    for word, count in df.items():
        if count >= min_df and len(word) >= 3 and word not in STOP_WORDS:
            symspell.create_dictionary_entry(word, count)
    return Vocabulary(dict(df), {stem(w) for w in df}, papers, symspell)


_first_build_wait: list[float | None] = [FIRST_BUILD_WAIT]


def wait_for_vocabulary(seconds: float | None) -> None:
    """How long a search waits for the first vocabulary of a store, in this process (None: as long as it
    takes; ``paperfeed search`` runs once and must not miss a suggestion)."""
    _first_build_wait[0] = seconds


class Speller:
    """Spelling suggestions for queries over one store (thread-safe; the vocabulary is shared)."""

    def __init__(self, *, engine: Engine) -> None:
        self._vocabulary = StoreSnapshot(
            engine=engine, build=build_vocabulary, name="spelling vocabulary", min_interval=REBUILD_INTERVAL
        )

    def refresh_if_changed(self, *, now: bool = False) -> None:
        """Rebuild the vocabulary when the store changed (a server's index watcher calls it)."""
        self._vocabulary.refresh_if_changed(now=now)

    def vocabulary(self, *, wait: bool = True) -> Vocabulary | None:
        return self._vocabulary.get(wait=_first_build_wait[0] if wait else 0.0)

    def suggest(self, q: str, *, lexical: LexicalBackend | None = None, wait: bool = True) -> str | None:
        """``q`` with its unknown words corrected, or None when nothing needs (or can get) a correction."""
        if not correctable_spans(q):
            return None
        vocab = self.vocabulary(wait=wait)
        return correct_query(q, vocab, lexical) if vocab is not None else None


def correct_query(q: str, vocab: Vocabulary, lexical: LexicalBackend | None = None) -> str | None:
    """``q`` with its unknown words corrected from ``vocab``, or None when none is; ``lexical`` (the index)
    has the last word on whether a word is known."""
    out, pos, changed = [], 0, False
    for start, end in correctable_spans(q):
        fixed = _correct(q[start:end], vocab, lexical)
        if fixed is not None:
            out.append(q[pos:start] + fixed)
            pos, changed = end, True
    return "".join(out) + q[pos:] if changed else None


_SPELLERS = PerStore(lambda engine: Speller(engine=engine))


def speller_for(engine: Engine) -> Speller:
    """The one :class:`Speller` of a store (its vocabulary is built once per process and store)."""
    return _SPELLERS.get(engine)


def _correct(token: str, vocab: Vocabulary, lexical: LexicalBackend | None) -> str | None:
    word = fold(token)
    if len(word) < MIN_LENGTH or not word.isalpha() or word in STOP_WORDS or vocab.known(word):
        return None
    best = vocab.best(word)
    if best is None or best == word:
        return None
    if lexical is not None and lexical.search_page(parse_query(word), 1).total > 0:
        return None  # the index knows it (a paper newer than the vocabulary)
    if token.isupper() and len(token) > 1:
        return best.upper()
    return best.capitalize() if token[:1].isupper() else best


def correctable_spans(q: str) -> list[tuple[int, int]]:
    """``(start, end)`` of the words of ``q`` a correction may replace: plain words and words of phrases, not
    ``field:`` values or ``-excluded`` words. Offsets are into ``q`` itself."""
    text = _CONTROL.sub(" ", q or "")
    spans: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        negated = text[i] == "-" and i + 1 < n and not text[i + 1].isspace()
        m = _FIELD.match(text, i + negated)
        field = bool(m and m.group(1).lower() in FIELDS)
        j = m.end() if field and m else i + negated
        if j < n and text[j] in '"\u201c\u201d\u201e\u00ab\u00bb':
            close = next((k for k in range(j + 1, n) if text[k] in '"\u201c\u201d\u201e\u00ab\u00bb'), n)
            end, i = close, close + 1
        else:
            end = j
            while end < n and not text[end].isspace():
                end += 1
            i = end
        if not (negated or field):
            spans.extend((start + m2.start(), start + m2.end()) for m2 in _TOKEN.finditer(text[start:end]))
    return spans
