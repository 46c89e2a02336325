"""Suggestions as you type: papers by title, authors by name, and query completions, from an in-memory index.

The index (:class:`SuggestIndex`) is built from the store's titles and author names (the same on SQLite and
PostgreSQL) and rebuilt in the background when the store changes (:mod:`paperfeed.search.corpus_cache`).
Matching is by prefix and by word prefix, accents and case folded: every word typed must begin a word of the
title (or name), in any order, so ``matryo`` and ``representation lear`` both find "Matryoshka Representation
Learning". Titles that begin with the text typed come first, then those with the words the corpus uses most
for what is typed ("matr": the Matryoshka papers before the one "matrix"), newest first; authors with the
most papers come first. Query completions complete the last word from the titles' vocabulary (the most
frequent first, one form per stem: "embedding" and "embeddings" are one suggestion) and, when a word is
misspelled (a finished one, or the one being typed when no title word begins with it), offer the corrected
query (:mod:`paperfeed.search.spelling`).

Lookups are binary searches over sorted words plus a lazy merge of posting lists kept in rank order, so a
suggestion costs about a millisecond at 100,000 papers (``bench/suggest.py``).
"""

from __future__ import annotations

import heapq
import itertools
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlencode

from sqlalchemy import Connection, Engine

from paperfeed.links import paper_url
from paperfeed.search.analyze import STOP_WORDS, stem, words
from paperfeed.search.corpus_cache import PerStore, StoreSnapshot
from paperfeed.search.spelling import correct_query
from paperfeed.store.suggest import SuggestRow, iter_suggest_rows

if TYPE_CHECKING:
    from paperfeed.search.protocols import LexicalBackend
    from paperfeed.search.spelling import Speller, Vocabulary

REBUILD_INTERVAL = 30.0  # seconds between rebuilds while the store keeps changing
FIRST_BUILD_WAIT = 10.0  # the first request waits this long for the index (later ones never wait)
MAX_SCAN = 20_000  # candidates looked at per lookup, at most (bounds the time of a very broad prefix)
MAX_VOLUME_WORDS = 512  # a prefix matching more words than this counts as too broad to start from
MAX_AUTHORS = 3
MAX_QUERIES = 2
MIN_COMPLETE = 3  # query completions start from this many letters of a word
_END = "\U0010ffff"

SuggestionType = Literal["paper", "author", "query"]


@dataclass(frozen=True)
class Suggestion:
    type: SuggestionType
    text: str
    url: str


class _Prefixes:
    """Items (numbered in rank order, best first) found by the prefixes of their words."""

    def __init__(self, names: list[str], tokens: list[tuple[str, ...]]) -> None:
        postings: dict[str, array] = {}
        for rank, toks in enumerate(tokens):
            for t in dict.fromkeys(toks):
                postings.setdefault(t, array("i")).append(rank)
        self.words = sorted(postings)
        self.postings = [postings[w] for w in self.words]
        self.tokens = tokens
        keyed = sorted((" ".join(t), rank) for rank, t in enumerate(tokens))
        self.keys = [k for k, _ in keyed]
        self.key_ranks = [r for _, r in keyed]
        self.names = names

    def _range(self, prefix: str) -> tuple[int, int]:
        return bisect_left(self.words, prefix), bisect_left(self.words, prefix + _END)

    def find(self, typed: list[str], limit: int) -> list[int]:
        """Ranks of up to ``limit`` items: those whose words start with the typed words first, then the
        best-ranked items having, for every typed word, a word that begins with it."""
        if not typed or limit <= 0:
            return []
        phrase = " ".join(typed)
        lo, hi = bisect_left(self.keys, phrase), bisect_left(self.keys, phrase + _END)
        out = heapq.nsmallest(limit, itertools.islice(self.key_ranks, lo, hi))
        if len(out) >= limit:
            return out
        seen = set(out)
        ranges = [self._range(t) for t in typed]
        at = min(range(len(typed)), key=lambda i: self._volume(*ranges[i]))  # the word with fewest candidates
        others = typed[:at] + typed[at + 1 :]
        lo, hi = ranges[at]
        if hi - lo > MAX_VOLUME_WORDS:  # a very broad prefix: best-ranked first, in one lazy merge
            stream: Iterable[int] = _distinct(heapq.merge(*self.postings[lo:hi]))
        else:  # the words the corpus uses most first ("matr": Matryoshka's papers before the one "matrix")
            by_use = sorted(range(lo, hi), key=lambda i: -len(self.postings[i]))
            stream = itertools.chain.from_iterable(self.postings[i] for i in by_use)
        for rank in itertools.islice(stream, MAX_SCAN):
            if rank in seen:
                continue
            toks = self.tokens[rank]
            if all(any(w.startswith(t) for w in toks) for t in others):
                out.append(rank)
                seen.add(rank)
                if len(out) >= limit:
                    break
        return out

    def _volume(self, lo: int, hi: int) -> int:
        """How many postings the words ``lo:hi`` hold (estimated beyond ``MAX_VOLUME_WORDS`` words)."""
        if hi - lo > MAX_VOLUME_WORDS:
            return len(self.tokens) * (hi - lo)
        return sum(len(p) for p in self.postings[lo:hi])

    def completions(self, prefix: str, limit: int) -> list[str]:
        """The most frequent words beginning with ``prefix``, one per stem: near-duplicates (``embedding``,
        ``embeddings``) merge into their most frequent form, ranked by the papers of all forms together."""
        lo, hi = self._range(prefix)
        forms: dict[str, list[int]] = {}
        for i in heapq.nlargest(limit * 4, range(lo, min(hi, lo + MAX_SCAN)), key=lambda i: len(self.postings[i])):
            forms.setdefault(stem(self.words[i]), []).append(i)  # most frequent form first
        ranked = sorted(forms.values(), key=lambda group: -sum(len(self.postings[i]) for i in group))
        return [self.words[group[0]] for group in ranked[:limit]]

    def knows_prefix(self, prefix: str) -> bool:
        """Whether some word begins with ``prefix``."""
        lo, hi = self._range(prefix)
        return hi > lo


def _distinct(ranks: Iterable[int]) -> Iterator[int]:
    last = -1
    for r in ranks:
        if r != last:
            yield r
            last = r


class SuggestIndex:
    """Titles (newest first) and authors (most papers first), each findable by word prefixes."""

    def __init__(self, rows: list[SuggestRow]) -> None:
        floor = datetime.min
        rows = sorted(rows, key=lambda r: r.when.replace(tzinfo=None) if r.when else floor, reverse=True)
        self.ids = [r.id for r in rows]
        self.papers = _Prefixes([r.title for r in rows], [tuple(words(r.title)) for r in rows])
        counts: dict[str, int] = {}
        shown: dict[str, str] = {}
        for r in rows:
            for name in (n.strip() for n in r.authors.split(",")):
                key = " ".join(words(name))
                if key:
                    counts[key] = counts.get(key, 0) + 1
                    shown.setdefault(key, name)
        order = sorted(counts, key=lambda k: (-counts[k], k))
        self.authors = _Prefixes([shown[k] for k in order], [tuple(k.split()) for k in order])

    def __len__(self) -> int:
        return len(self.ids)

    def lookup(self, q: str, limit: int, *, correction: str | None = None) -> list[Suggestion]:
        """Up to ``limit`` suggestions for the text typed so far: query completions (at most 2), papers,
        authors (at most 3), in that order."""
        typed = words(q)
        if not typed or limit <= 0:
            return []
        queries = self._queries(q, typed, correction)
        authors = [self.authors.names[r] for r in self.authors.find(typed, MAX_AUTHORS)]
        n_queries = min(len(queries), MAX_QUERIES, max(limit - 1, 0))
        n_authors = min(len(authors), max(limit - n_queries - 1, 0))
        ranks = self.papers.find(typed, limit - n_queries - n_authors)
        spare = limit - n_queries - n_authors - len(ranks)  # too few papers: more of the others
        n_queries = min(len(queries), n_queries + spare)
        out = [Suggestion("query", text, _search_url(text)) for text in queries[:n_queries]]
        out += [Suggestion("paper", self.papers.names[r], paper_url(self.ids[r])) for r in ranks]
        out += [Suggestion("author", name, _search_url(f'author:"{name}"')) for name in authors[:n_authors]]
        return out[:limit]

    def _queries(self, q: str, typed: list[str], correction: str | None) -> list[str]:
        """The text typed (or its correction) with its last word completed from the titles' vocabulary, most
        frequent words first; the correction itself when the last word cannot be completed."""
        base = correction or q
        head = base if base[-1:].isspace() else base[: len(base) - len(base.split()[-1])]
        last = "" if q[-1:].isspace() else typed[-1]
        out: list[str] = []
        if len(last) >= MIN_COMPLETE:
            words_ = [w for w in self.papers.completions(last, MAX_QUERIES + 2) if w not in STOP_WORDS]
            out = [f"{head.rstrip()} {w}".strip() for w in words_]
        if correction and not out:
            out = [correction.strip()]
        typed_text = " ".join(typed)
        return [x for x in dict.fromkeys(out) if " ".join(words(x)) != typed_text][:MAX_QUERIES]


def _search_url(text: str) -> str:
    return "/search?" + urlencode({"q": text})


def build_index(conn: Connection) -> SuggestIndex:
    rows: list[SuggestRow] = []
    for batch in iter_suggest_rows(conn=conn):
        rows.extend(batch)
    return SuggestIndex(rows)


class Suggester:
    """Suggestions over one store, from an index rebuilt in the background when the store changes."""

    def __init__(self, *, engine: Engine) -> None:
        self._index = StoreSnapshot(
            engine=engine, build=build_index, name="suggestion index", min_interval=REBUILD_INTERVAL
        )

    @property
    def ready(self) -> bool:
        return self._index.ready

    def refresh_if_changed(self, *, now: bool = False) -> None:
        """Rebuild the index when the store changed (a server's index watcher calls it)."""
        self._index.refresh_if_changed(now=now)

    def refresh(self) -> None:
        """Rebuild the index from the store now (it also catches up by itself, within ``REBUILD_INTERVAL``)."""
        self._index.rebuild()

    def suggest(
        self, q: str, *, limit: int = 8, speller: Speller | None = None, lexical: LexicalBackend | None = None
    ) -> list[Suggestion]:
        """Up to ``limit`` suggestions for ``q``; with a ``speller``, a corrected query when a finished word
        is misspelled (never waiting for the spelling vocabulary)."""
        index = self._index.get(wait=FIRST_BUILD_WAIT)
        if index is None:
            return []
        vocab = speller.vocabulary(wait=False) if speller is not None else None
        return suggestions(index, q, limit=limit, vocabulary=vocab, lexical=lexical)


def suggestions(
    index: SuggestIndex,
    q: str,
    *,
    limit: int = 8,
    vocabulary: Vocabulary | None = None,
    lexical: LexicalBackend | None = None,
) -> list[Suggestion]:
    """Up to ``limit`` suggestions for ``q``; with a spelling ``vocabulary``, the query corrected when one of
    its finished words (all but the one being typed) is misspelled."""
    correction = None
    if vocabulary is not None:
        finished = q if q[-1:].isspace() else q[: len(q) - len(q.split()[-1])] if q.split() else ""
        typing = words(q[len(finished) :])
        if typing and not index.papers.knows_prefix(typing[-1]):  # no title word begins so: a typo
            fixed_all = correct_query(q, vocabulary, lexical)  # "matryoska" -> "matryoshka"
            if fixed_all:
                found = index.lookup(fixed_all, limit)
                own = [s for s in found if not (s.type == "query" and s.text == fixed_all)]
                return [Suggestion("query", fixed_all, _search_url(fixed_all)), *own][:limit]
        fixed = correct_query(finished, vocabulary, lexical) if finished.strip() else None
        correction = fixed + q[len(finished) :] if fixed else None
    return index.lookup(q, limit, correction=correction)


_SUGGESTERS = PerStore(lambda engine: Suggester(engine=engine))


def suggester_for(engine: Engine) -> Suggester:
    """The one :class:`Suggester` of a store (its index is built once per process and store)."""
    return _SUGGESTERS.get(engine)
