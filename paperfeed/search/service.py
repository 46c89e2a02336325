"""The search service: one code path for the web pages, the JSON API, the CLI and digests.

A searcher answers queries in the query language (:meth:`SearchService.search`) and finds related papers
(:meth:`SearchService.similar`); keeping its indexes in step with the store is the job of its
:mod:`~paperfeed.search.upkeep` (``IndexUpkeep`` for tantivy + vector files, ``PgUpkeep`` for PostgreSQL).
Two classes implement :class:`paperfeed.search.protocols.Searcher`: :class:`EmbeddedSearcher` and
:class:`PgSearcher`; :func:`paperfeed.search.factory.make_searcher` picks one from the settings.

Every answer says what is degraded (``SearchResults.warning``): vectors still being built, a model that cannot
be loaded, damaged index files (:mod:`~paperfeed.search.readiness`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Connection

from paperfeed.models import Paper, SearchHit, SearchResults
from paperfeed.rank.trending import score_papers
from paperfeed.search import hybrid, readiness, relevance
from paperfeed.search.embed import Embedder
from paperfeed.search.protocols import DenseBackend, IndexState, LexicalBackend, Searcher, SearchRequest
from paperfeed.search.query import SORTS, ParsedQuery, QueryError, add_filters, parse_query
from paperfeed.search.snippet import snippet
from paperfeed.search.spelling import search_with_spelling
from paperfeed.search.sync import Progress
from paperfeed.search.upkeep import IndexUpkeep, PgUpkeep
from paperfeed.store.authors import name_variants
from paperfeed.store.citation_graph import citation_counts
from paperfeed.store.papers import get_paper, get_papers

if TYPE_CHECKING:
    from paperfeed.rank.related import TextMatches

MAX_LIMIT = 1_000
MAX_DEPTH = hybrid.MAX_RESULTS  # fused (hybrid/dense) results reach this far; BM25 pages reach every match
QUERY_VECTOR_CACHE = 256
EMPTY_QUERY = (
    "Type some words to search for, or filter with author:, cat:, year:, from: or to: "
    "(for example: graph neural networks cat:cs.LG year:2023)."
)
NOTHING_SEARCHABLE = (
    "Nothing to search for: the query has no words or filters Paperfeed can use "
    "(punctuation, stop words and very long tokens are ignored). " + EMPTY_QUERY
)


class SearchService(Searcher):
    """Search and similar papers over one store. Thread-safe: web handlers share one instance.

    ``upkeep`` keeps its indexes in step with the store (built by
    :func:`paperfeed.search.factory.make_searcher`, which holds the options).
    """

    upkeep_class: type[IndexUpkeep] = IndexUpkeep

    def __init__(self, upkeep: IndexUpkeep) -> None:
        self.engine = upkeep.engine
        self.settings = upkeep.settings
        self.upkeep = upkeep
        self._state_lock = threading.Lock()
        self._vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()

    # ------------------------------------------------------------ state

    @property
    def model(self) -> str | None:
        return self.upkeep.model

    @property
    def backend(self) -> str:
        return self.upkeep.backend

    @property
    def lexical(self) -> LexicalBackend:
        return self.upkeep.lexical

    @property
    def semantic_error(self) -> str | None:
        """Why semantic search is off (model missing or broken), or None."""
        return self.upkeep.models.error(self.model) if self.model else None

    def embedder(self, *, wait: bool = True) -> Embedder | None:
        """The configured model's embedder, loaded on first use (None when it cannot be, or, without
        ``wait``, while another thread loads it)."""
        return self.upkeep.models.get(self.model, wait=wait) if self.model else None

    def dense_index(self) -> DenseBackend | None:
        """The stored vectors of the configured model; None without a model."""
        return self.upkeep.dense_index()

    def refresh(self, progress: Progress | None = None, *, dense: bool = True) -> dict[str, Any]:
        """Make papers added, changed or renamed in the store since the last refresh searchable.

        Incremental and resumable (a killed run continues where it stopped); ``dense=False`` leaves the
        embeddings for later. Returns counts: ``indexed``, ``deleted``, ``embedded``, ``papers``,
        ``lexical_docs``, ``vectors``, ``model``, ``seconds`` (``warning`` when semantic search is off)."""
        return self.upkeep.refresh(progress, dense=dense)

    def status(self) -> IndexState:
        return readiness.index_state(self.upkeep)

    def wait_background(self, timeout: float | None = None) -> None:
        """Wait for a background refresh to finish (tests, clean shutdown)."""
        self.upkeep.wait_background(timeout)

    def close(self) -> None:
        self.upkeep.close()

    # ------------------------------------------------------------ searching

    def answer(self, request: SearchRequest) -> SearchResults:
        """One page of results for ``request`` (see :meth:`Searcher.search`).

        Raises :class:`QueryError` (a ``ValueError``) for a query it cannot read, with a message for the user;
        an empty query gives no hits and a helpful ``error``. ``spell``: add a "did you mean" suggestion and
        search with it when ``q`` finds little (:mod:`paperfeed.search.spelling`)."""
        if request.spell:
            return search_with_spelling(self, request)
        q, mode, limit, offset = request.q, request.mode, request.limit, request.offset
        parsed, sort = _prepare(request)
        if parsed.authors:  # initials and full names of one person match each other (paperfeed.authors)
            with self.engine.connect() as conn:
                parsed.author_variants = name_variants(conn=conn, names=parsed.authors)
        if parsed.is_empty:
            error = NOTHING_SEARCHABLE if q.strip() else EMPTY_QUERY
            return SearchResults([], 0, q, offset, limit, error=error)
        damage = self.upkeep.maybe_refresh()
        use = readiness.served(self.upkeep) if mode != "bm25" else None
        warning = readiness.answer_warning(self.upkeep, mode, use, damage)
        vector = self._query_vector(parsed, use)
        if vector is None and sort not in ("trending", "citations"):  # BM25: the engine pages and sorts exactly
            page = self.lexical.search_page(parsed, limit, offset=offset, by_date=sort == "date")
            ranks = {p: offset + r for r, p in enumerate(page.ids, 1)}
            ranking = hybrid.Ranking(page.ids, page.scores, page.total, ranks)
            hits = self._hits(page.ids, ranking, parsed)
            found = SearchResults(hits, page.total, q, offset, limit, warning=warning)
            return self._say_what_finds(found, parsed, mode)
        # Only plausible matches (relevance.py); date/trending/citations sorts order all of them, up to MAX_DEPTH.
        want = MAX_DEPTH if sort != "relevance" else offset + limit
        served_model = use.model if use is not None else self.model
        ranking = hybrid.rank(
            parsed,
            mode=mode if vector is not None else "bm25",
            lexical=self.lexical,
            dense=use.dense if use is not None else None,
            vector=vector,
            depth=min(max(hybrid.DEPTH, want), MAX_DEPTH) if mode == "dense" else hybrid.DEPTH,
            weights=hybrid.weights_for(served_model),
            min_similarity=relevance.min_similarity(served_model),
            want=want,
        )
        ids, total = ranking.ids, ranking.total
        if sort != "relevance":
            ids = self._sorted(ids[:MAX_DEPTH], sort)
            total = len(ids)
        hits = self._hits(ids[offset : offset + limit], ranking, parsed)
        return self._say_what_finds(SearchResults(hits, total, q, offset, limit, warning=warning), parsed, mode)

    def _say_what_finds(self, results: SearchResults, parsed: ParsedQuery, mode: str) -> SearchResults:
        """When ``mode`` finds nothing for words: which other modes do (``other_modes``), and a ``hint``
        saying so, so a page never suggests a mode that finds nothing too."""
        if results.total or not parsed.text.strip():
            return results
        found: dict[str, int] = {}
        if mode != "bm25":
            found["bm25"] = self.lexical.search_page(parsed, 1).total
        use = readiness.served(self.upkeep)
        if mode != "dense" and use is not None:
            ranking = hybrid.rank(
                parsed,
                mode="dense",
                lexical=self.lexical,
                dense=use.dense,
                vector=self._query_vector(parsed, use),
                min_similarity=relevance.min_similarity(use.model),
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

    def _query_vector(self, parsed: ParsedQuery, use: readiness.Served | None) -> np.ndarray | None:
        """The query vector for the vectors searched now, or None when the search runs on BM25."""
        if use is None or not parsed.text.strip():
            return None
        return self._vector_of(use, parsed.text)

    def _vector_of(self, use: readiness.Served, text: str) -> np.ndarray:
        """``text`` embedded by the served model, from a small cache (a query, or a text re-sorted)."""
        key = (use.embedder.fingerprint, text)
        with self._state_lock:
            vec = self._vectors.get(key)
            if vec is not None:
                self._vectors.move_to_end(key)
        if vec is None:
            vec = use.embedder.encode([text])[0]
            with self._state_lock:
                self._vectors[key] = vec
                while len(self._vectors) > QUERY_VECTOR_CACHE:
                    self._vectors.popitem(last=False)
        return vec

    def _sorted(self, ids: list[str], sort: str) -> list[str]:
        """Candidates re-ordered by date (newest first), trending score or citations (most cited first, from
        OpenAlex; papers without citation data count 0); relevance breaks ties."""
        with self.engine.connect() as conn:
            if sort == "citations":
                cited = citation_counts(conn=conn, paper_ids=ids)
                return sorted(ids, key=lambda pid: -cited.get(pid, 0))
            if sort == "date":
                papers = _hydrate(conn, ids)
                floor = datetime.min.replace(tzinfo=None)

                def when(pid: str) -> datetime:
                    p = papers.get(pid)
                    d = (p.published or p.first_seen) if p is not None else None
                    return d.replace(tzinfo=None) if d is not None else floor

                return sorted(ids, key=when, reverse=True)
            scores = score_papers(conn=conn, ids=ids)
        return sorted(ids, key=lambda pid: -scores.get(pid, 0.0))

    def _hits(self, ids: Sequence[str], ranking: hybrid.Ranking, parsed: ParsedQuery) -> list[SearchHit]:
        """Hydrate ``ids`` once and wrap each paper with its score, reason and highlighted snippet."""
        if not ids:
            return []
        with self.engine.connect() as conn:
            by_id = _hydrate(conn, ids)
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

    # ------------------------------------------------------------ similar papers

    def similar(self, paper_id: str, *, limit: int = 10, sort: str = "relevance") -> list[SearchHit]:
        """The papers nearest to ``paper_id`` (an id, old id or versioned id), best first.

        Every signal fused (words, meaning, shared authors, members' co-saves), each hit with its reason, and
        only candidates strong enough to show (:mod:`paperfeed.rank.related`). Duplicates (same normalised
        title) are left out. ``sort`` (relevance, date, upvotes) reorders those shown. Unknown id: ``KeyError``."""
        from paperfeed.rank.related import similar_hits

        limit = max(1, min(int(limit), MAX_LIMIT))
        with self.engine.connect() as conn:
            paper = get_paper(conn=conn, paper_id=str(paper_id).strip())
        if paper is None:
            raise KeyError(f"there is no paper {str(paper_id)[:100]!r}")
        self.upkeep.maybe_refresh()
        use = readiness.served(self.upkeep)
        return similar_hits(
            engine=self.engine,
            paper=paper,
            lexical=self.lexical,
            dense=use.dense if use is not None else None,
            model=use.model if use is not None else None,
            limit=limit,
            sort=sort,
        )

    def similar_text(self, text: str, *, limit: int = 10, sort: str = "relevance") -> TextMatches:
        """Papers like ``text`` (a pasted abstract, a PDF's text), ranked as :meth:`similar` ranks a paper's,
        the text standing in for the paper. ``notes``: the text was cut, search is degraded. ``ValueError``
        for a text with no words or an unknown ``sort``."""
        from paperfeed.rank.related import TextMatches, bound_text, text_hits

        bounded, cut = bound_text(text)
        limit = max(1, min(int(limit), MAX_LIMIT))
        damage = self.upkeep.maybe_refresh()
        use = readiness.served(self.upkeep)
        warning = readiness.answer_warning(self.upkeep, "hybrid", use, damage)
        found = text_hits(
            engine=self.engine,
            text=bounded,
            lexical=self.lexical,
            dense=use.dense if use is not None else None,
            vector=self._vector_of(use, bounded) if use is not None else None,
            model=use.model if use is not None else None,
            limit=limit,
            sort=sort,
        )
        return TextMatches(found, [n for n in (cut, warning) if n])


def _hydrate(conn: Connection, ids: Sequence[str]) -> dict[str, Paper]:
    """Papers by the id the index knows them by, loaded in one query. An id the index has not caught up
    with (a paper renamed since) is followed through its alias, one by one: rare and cheap."""
    by_id = {p.id: p for p in get_papers(conn=conn, ids=list(ids))}
    for pid in ids:
        if pid not in by_id:
            p = get_paper(conn=conn, paper_id=pid)
            if p is not None:
                by_id[pid] = p
    return by_id


def _prepare(request: SearchRequest) -> tuple[ParsedQuery, str]:
    """Parse the query and fold in the filters given beside it; every bad value is a clear QueryError."""
    q, mode, sort, limit, offset = request.q, request.mode, request.sort, request.limit, request.offset
    if mode not in hybrid.MODES:
        raise QueryError(f"mode must be one of {', '.join(hybrid.MODES)}, got {mode!r}")
    if sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    if int(offset) < 0:
        raise QueryError(f"offset must be 0 or more, got {offset}")
    if not isinstance(q, str):
        raise QueryError("the query must be text")
    parsed = add_filters(
        parse_query(q), categories=request.categories, date_from=request.date_from, date_to=request.date_to
    )
    return parsed, parsed.sort or sort


class EmbeddedSearcher(SearchService):
    """tantivy for words, vector files (exact search, an hnswlib graph above 20,000 papers) for meaning."""

    upkeep_class = IndexUpkeep


class PgSearcher(SearchService):
    """PostgreSQL full text for words, pgvector for meaning: nothing kept beside the database."""

    upkeep_class = PgUpkeep
