"""The search service: one published index generation, composed of its backends, answering queries.

:class:`SearchService` holds a lexical backend, the vectors that answer meaning-based search with their
embedder, and a speller, all of one generation (:mod:`paperfeed.search.generations`); it never changes. The
searcher every interface holds (:mod:`paperfeed.search.reader`) swaps in a new service when the writer
publishes a new generation. Each answer carries the warning of its generation (:mod:`~.readiness`).

A search, hop by hop: :meth:`SearchService.answer` reads the parsed :class:`~paperfeed.search.request.SearchQuery`,
ranks with :func:`paperfeed.search.hybrid.rank` (BM25 page and vector neighbours fused), and hydrates the page
of papers once (:meth:`SearchService._hits`). Related papers are ranked above search, from :meth:`indexes`
(:mod:`paperfeed.rank.related`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import Connection, Engine

from paperfeed.models import Paper, SearchHit, SearchResults
from paperfeed.search import hybrid, readiness, relevance
from paperfeed.search.embed import Embedder
from paperfeed.search.generations import Manifest
from paperfeed.search.protocols import DenseBackend, Indexes, LexicalBackend
from paperfeed.search.query import ParsedQuery
from paperfeed.search.request import SearchQuery
from paperfeed.search.snippet import snippet
from paperfeed.search.spelling import FEW, Speller
from paperfeed.store.authors import name_variants
from paperfeed.store.citation_graph import citation_counts
from paperfeed.store.papers import get_papers
from paperfeed.store.trending import score_papers

MAX_DEPTH = hybrid.MAX_RESULTS  # fused (hybrid/dense) results reach this far; BM25 pages reach every match
QUERY_VECTOR_CACHE = 256
QUERY_BATCH = 16  # queries embedded together at most (a worker rarely has more requests at once)
EMPTY_QUERY = (
    "Type some words to search for, or filter with author:, cat:, year:, from: or to: "
    "(for example: graph neural networks cat:cs.LG year:2023)."
)
NOTHING_SEARCHABLE = (
    "Nothing to search for: the query has no words or filters Paperfeed can use "
    "(punctuation, stop words and very long tokens are ignored). " + EMPTY_QUERY
)


class _Query:
    """One query text waiting to be embedded, and its vector once it is."""

    __slots__ = ("embedder", "key", "text", "vector", "error", "turn", "done")

    def __init__(self, embedder: Embedder, key: tuple[str, str], text: str) -> None:
        self.embedder, self.key, self.text = embedder, key, text
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None
        self.turn = threading.Event()  # set when the vector is in, or when this query's thread runs the next batch
        self.done = threading.Event()  # set when the vector is in (what a second thread asking the same text waits for)


class QueryVectors:
    """Query texts embedded, remembered (a small LRU shared by the generations a searcher serves).

    Queries that arrive while another is being embedded wait and are embedded together, in one call to
    :meth:`~paperfeed.search.embed.Embedder.encode_queries`, on the thread of the first waiting one: the model's
    weights are read once for the batch, not once per query (MiniLM int8, one thread: 1.7-2.1 ms for one
    query, 3.3-3.5 ms for four; docs/decisions.md). A query alone never waits: it is embedded at once."""

    def __init__(self, size: int = QUERY_VECTOR_CACHE, batch: int = QUERY_BATCH) -> None:
        self._size, self._batch = size, batch
        self._lock = threading.Lock()
        self._vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._waiting: list[_Query] = []  # in arrival order; the first one's thread runs the next batch
        self._queued: dict[tuple[str, str], _Query] = {}  # the same text asked twice is embedded once
        self._running = False  # a batch is being embedded

    def of(self, embedder: Embedder, text: str) -> np.ndarray:
        key = (embedder.fingerprint, text)
        with self._lock:
            vec = self._vectors.get(key)
            if vec is not None:
                self._vectors.move_to_end(key)
                return vec
            query = self._queued.get(key)
            owner = query is None  # else the same text is waiting or being embedded: its vector is this one's
            if query is None:
                query = self._queued[key] = _Query(embedder, key, text)
                self._waiting.append(query)
                if not self._running:  # nothing is being embedded: this thread runs the batch at once
                    self._running = True
                    query.turn.set()
        while owner:
            query.turn.wait()
            if query.done.is_set():
                break
            query.turn.clear()
            self._run_batch()
        query.done.wait()
        if query.error is not None:
            raise query.error
        assert query.vector is not None
        return query.vector

    def _run_batch(self) -> None:
        """Embed the waiting queries of the first one's model (at most ``batch``), then hand the next batch to
        the thread of the query that waited longest, or stop."""
        with self._lock:
            embedder = self._waiting[0].embedder
            batch = [q for q in self._waiting if q.embedder is embedder][: self._batch]
            taken = set(map(id, batch))
            self._waiting = [q for q in self._waiting if id(q) not in taken]
        try:
            vectors = embedder.encode_queries([q.text for q in batch])
        except BaseException as exc:  # every query of the batch fails with the model's error
            for q in batch:
                q.error = exc
        else:
            for q, vec in zip(batch, vectors, strict=True):
                q.vector = vec
        with self._lock:
            for q in batch:
                del self._queued[q.key]
                if q.vector is not None:
                    self._vectors[q.key] = q.vector
            while len(self._vectors) > self._size:
                self._vectors.popitem(last=False)
            if self._waiting:
                self._waiting[0].turn.set()  # its thread runs the next batch
            else:
                self._running = False
        for q in batch:
            q.done.set()
            q.turn.set()


@dataclass(frozen=True)
class SearchService:
    """Search and similar papers over one published generation. Immutable; thread-safe.

    ``dense``/``embedder``/``served_model``: the vectors that answer meaning-based search and the model that
    embeds queries for them (None: keyword search only); ``configured``: the model the instance is set up with
    and ``model_error`` why it cannot be used; ``manifest``: what the generation holds (None before the first)."""

    engine: Engine
    lexical: LexicalBackend
    dense: DenseBackend | None
    embedder: Embedder | None
    served_model: str | None
    speller: Speller
    manifest: Manifest | None
    configured: str | None
    model_error: str | None = None
    vectors: QueryVectors = field(default_factory=QueryVectors)

    # ------------------------------------------------------------ state

    def warning(self, mode: str = "hybrid") -> str | None:
        """What an answer in ``mode`` from this generation must say is degraded."""
        return readiness.answer_warning(self.manifest, mode, self.configured, self.model_error)

    def indexes(self) -> Indexes:
        embed = self._embed if self.embedder is not None and self.dense is not None else None
        return Indexes(self.lexical, self.dense, self.served_model, embed, self.warning("hybrid"))

    def _embed(self, text: str) -> np.ndarray:
        assert self.embedder is not None
        return self.vectors.of(self.embedder, text)

    # ------------------------------------------------------------ searching

    def answer(self, query: SearchQuery, *, conn: Connection | None = None) -> SearchResults:
        """One page of results for ``query`` (see :meth:`paperfeed.search.protocols.Searcher.answer`).

        An empty query gives no hits and a helpful ``error``. ``spell``: a "did you mean" suggestion, and the
        corrected query's results when the query as typed matches fewer than ``FEW`` papers by keywords.
        ``conn``: the request's database connection (else one is opened for the answer)."""
        if conn is None:
            with self.engine.connect() as own:
                return self.answer(query, conn=own)
        results = self._answer(query, conn)
        if not query.spell or results.error:
            return results
        suggestion = self.speller.suggest(query.q, lexical=self.lexical)
        if suggestion is None:
            return results
        results.suggestion = suggestion
        corrected = query.but(q=suggestion, spell=False)
        typed = self.lexical.search_page(query.parsed, 1).total
        if typed >= FEW or self.lexical.search_page(corrected.parsed, 1).total <= typed:
            return results
        fixed = self._answer(corrected, conn)
        fixed.query, fixed.suggestion, fixed.corrected = query.q, suggestion, True
        fixed.warning = fixed.warning or results.warning
        return fixed

    def _answer(self, query: SearchQuery, conn: Connection) -> SearchResults:
        q, mode, limit, offset = query.q, query.mode, query.limit, query.offset
        parsed, sort = query.parsed, query.effective_sort
        if parsed.is_empty:
            error = NOTHING_SEARCHABLE if q.strip() else EMPTY_QUERY
            return SearchResults([], 0, q, offset, limit, error=error)
        if parsed.authors:  # initials and full names of one person match each other (paperfeed.authors)
            parsed.author_variants = name_variants(conn=conn, names=parsed.authors)
        warning = self.warning(mode)
        vector = self._query_vector(parsed) if mode != "bm25" else None
        if vector is None and sort not in ("trending", "citations"):  # BM25: the engine pages and sorts
            page = self.lexical.search_page(parsed, limit, offset=offset, by_date=sort == "date")
            ranks = {p: offset + r for r, p in enumerate(page.ids, 1)}
            ranking = hybrid.Ranking(page.ids, page.scores, page.total, ranks)
            hits = self._hits(conn, page.ids, ranking, parsed)
            found = SearchResults(hits, page.total, q, offset, limit, warning=warning)
            return self._say_what_finds(found, parsed, mode)
        # Only plausible matches (relevance.py); date/trending/citations sorts order all, up to MAX_DEPTH.
        want = MAX_DEPTH if sort != "relevance" else offset + limit
        ranking = hybrid.rank(
            parsed,
            mode=mode if vector is not None else "bm25",
            lexical=self.lexical,
            dense=self.dense,
            vector=vector,
            depth=min(max(hybrid.DEPTH, want), MAX_DEPTH) if mode == "dense" else hybrid.DEPTH,
            weights=hybrid.weights_for(self.served_model or self.configured),
            min_similarity=relevance.min_similarity(self.served_model or self.configured),
            want=want,
        )
        ids, total = ranking.ids, ranking.total
        if sort != "relevance":
            ids = _sorted(conn, ids[:MAX_DEPTH], sort)
            total = len(ids)
        hits = self._hits(conn, ids[offset : offset + limit], ranking, parsed)
        return self._say_what_finds(SearchResults(hits, total, q, offset, limit, warning=warning), parsed, mode)

    def _say_what_finds(self, results: SearchResults, parsed: ParsedQuery, mode: str) -> SearchResults:
        """When ``mode`` finds nothing for words: which other modes do (``other_modes``), and a ``hint``
        saying so, so a page never suggests a mode that finds nothing too."""
        if results.total or not parsed.text.strip():
            return results
        found: dict[str, int] = {}
        if mode != "bm25":
            found["bm25"] = self.lexical.search_page(parsed, 1).total
        vector = self._query_vector(parsed) if mode != "dense" else None
        if vector is not None:
            ranking = hybrid.rank(
                parsed,
                mode="dense",
                lexical=self.lexical,
                dense=self.dense,
                vector=vector,
                min_similarity=relevance.min_similarity(self.served_model),
                want=1,
            )
            found["dense"] = ranking.total
        results.other_modes = {m: n for m, n in found.items() if n}
        words = found.get("bm25", 0)
        if mode == "dense":
            results.hint = "No paper is close enough in meaning to pass the relevance cut; " + (
                f"{words} paper{'' if words == 1 else 's'} contain{'s' if words == 1 else ''} its words: "
                "search by keywords (mode=bm25)."
                if words
                else "no paper contains its words either."
            )
        elif found.get("dense"):
            n = found["dense"]
            results.hint = f"No paper contains these words; {n} match by meaning (mode=dense)."
        return results

    def _query_vector(self, parsed: ParsedQuery) -> np.ndarray | None:
        """The query vector for the vectors served, or None when the search runs on BM25."""
        if self.embedder is None or self.dense is None or not parsed.text.strip():
            return None
        return self.vectors.of(self.embedder, parsed.text)

    def _hits(
        self, conn: Connection, ids: Sequence[str], ranking: hybrid.Ranking, parsed: ParsedQuery
    ) -> list[SearchHit]:
        """Hydrate ``ids`` once and wrap each paper with its score, reason and highlighted snippet."""
        if not ids:
            return []
        by_id = get_papers(conn=conn, ids=list(ids))
        score_of = dict(zip(ranking.ids, ranking.scores, strict=True))
        terms = parsed.scored_terms
        out: list[SearchHit] = []
        seen: set[str] = set()
        for pid in ids:
            p = by_id.get(pid)
            if p is None or p.id in seen:
                continue
            seen.add(p.id)
            out.append(
                SearchHit(
                    paper=p,
                    score=round(float(score_of.get(pid, 0.0)), 6),
                    reason=ranking.reason(pid),  # type: ignore[arg-type]
                    snippet=snippet(p.abstract or p.title, terms),
                    lexical_rank=ranking.lexical_rank.get(pid),
                    semantic_rank=ranking.semantic_rank.get(pid),
                )
            )
        return out


def _sorted(conn: Connection, ids: list[str], sort: str) -> list[str]:
    """Candidates re-ordered by date (newest first), trending score or citations (most cited first, from
    OpenAlex; papers without citation data count 0); relevance breaks ties."""
    if sort == "citations":
        cited = citation_counts(conn=conn, paper_ids=ids)
        return sorted(ids, key=lambda pid: -cited.get(pid, 0))
    if sort == "date":
        papers: dict[str, Paper] = get_papers(conn=conn, ids=ids)
        floor = datetime.min.replace(tzinfo=None)

        def when(pid: str) -> datetime:
            p = papers.get(pid)
            d = (p.published or p.first_seen) if p is not None else None
            return d.replace(tzinfo=None) if d is not None else floor

        return sorted(ids, key=when, reverse=True)
    scores = score_papers(conn=conn, ids=ids)
    return sorted(ids, key=lambda pid: -scores.get(pid, 0.0))
