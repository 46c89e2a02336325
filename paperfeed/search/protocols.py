"""The typed surfaces of search: what the web, the CLI, ranking and digests may ask of a searcher, and what a
searcher is composed of.

A :class:`Searcher` is built by :func:`paperfeed.search.factory.make_searcher`. It answers from the newest
published index generation (:mod:`paperfeed.search.generations`), composed as one
:class:`~paperfeed.search.service.SearchService` of a :class:`LexicalBackend` (tantivy files or PostgreSQL full
text), a :class:`DenseBackend` (vector files or pgvector) with its embedder, and a speller. Ranking
(:mod:`paperfeed.rank`) receives the backends through :meth:`Searcher.indexes`, never the searcher's insides.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol, TypedDict, runtime_checkable

import numpy as np
from sqlalchemy import Connection, Engine

from paperfeed.models import SearchResults
from paperfeed.search.embed import Embedder
from paperfeed.search.request import SearchQuery
from paperfeed.search.retrievers import DenseSearch, LexicalSearch
from paperfeed.search.sync import Progress


class IndexState(TypedDict):
    """What ``paperfeed status --json``, ``/status`` and every answer's warning say about the indexes, read
    from the newest published manifest.

    ``state``: ``ready`` (every paper searchable by words and by meaning), ``building`` (words or vectors
    still being made), ``damaged`` (index files damaged: being published again), ``off`` (no embedding model:
    keyword search only)."""

    papers: int
    lexical_docs: int
    vectors: int
    model: str
    pending: int
    state: str


class LexicalBackend(LexicalSearch, Protocol):
    """BM25 over papers (tantivy files: ``LexicalIndex``; PostgreSQL full text: ``PgLexical``), plus what
    ranking needs of the corpus: its size and document frequencies."""

    def count(self) -> int: ...

    def doc_freqs(self, terms: Sequence[str]) -> tuple[dict[str, float], float]:
        """Papers holding each analysed term (title or abstract), and the number of papers."""
        ...


class DenseBackend(DenseSearch, Protocol):
    """The stored vectors of one model (files: ``DenseIndex``; a PostgreSQL table: ``PgDense``)."""

    @property
    def dim(self) -> int: ...

    @property
    def fingerprint(self) -> str: ...

    @property
    def marker(self) -> Any:
        """The store's change marker the vectors were last brought up to date with."""
        ...

    def set_marker(self, marker: Any) -> None: ...

    def __len__(self) -> int: ...

    def __contains__(self, paper_id: object) -> bool: ...

    def matches(self, embedder: Embedder) -> bool: ...

    def vector(self, paper_id: str) -> np.ndarray | None: ...

    def vectors(self, ids: Collection[str]) -> tuple[list[str], np.ndarray]:
        """The stored vectors of those of ``ids`` that have one: their ids and one matrix, in that order."""
        ...

    def similar(self, paper_id: str, k: int) -> tuple[list[str], list[float]]: ...

    def update(
        self,
        engine: Engine,
        embedder: Embedder,
        progress: Callable[[int, int | None], None] | None = None,
        batch_size: int | None = None,
        *,
        flush_seconds: float = ...,
        on_flush: Callable[[], None] | None = None,
    ) -> int: ...


@dataclass(frozen=True)
class Indexes:
    """What ranking outside search (related papers, "for you") reads of one generation: the keyword index, the
    vectors that answer meaning-based search (None when none do), their model, how to embed a text for them
    (None without vectors), and what an answer from them must say is degraded."""

    lexical: LexicalBackend
    dense: DenseBackend | None
    model: str | None
    embed: Callable[[str], np.ndarray] | None = None
    warning: str | None = None


@runtime_checkable
class Searcher(Protocol):
    """Search over the newest published index generation of one store. Thread-safe."""

    @property
    def model(self) -> str | None:
        """The configured embedding model ("minilm", "static"), or None when search is keyword-only."""
        ...

    @property
    def semantic_error(self) -> str | None:
        """Why meaning-based search is off (model missing or broken), or None."""
        ...

    def answer(self, query: SearchQuery, *, conn: Connection | None = None) -> SearchResults:
        """One page of results for ``query``; ``warning`` says what is degraded (vectors being built, damaged
        index). Raises :class:`~paperfeed.search.query.QueryError` for a query it cannot read. ``conn``: the
        request's database connection, so a request uses one (else the answer opens its own)."""
        ...

    def search(
        self,
        q: str,
        *,
        limit: int = 20,
        offset: int = 0,
        mode: str = "hybrid",
        sort: str = "relevance",
        categories: list[str] | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        spell: bool = False,
    ) -> SearchResults:
        """:meth:`answer` for loose values (digests, scripts, tests)."""
        query = SearchQuery.of(
            q=q,
            limit=limit,
            offset=offset,
            mode=mode,
            sort=sort,
            categories=categories,
            date_from=date_from,
            date_to=date_to,
            spell=spell,
        )
        return self.answer(query)

    def warning(self, mode: str = "hybrid") -> str | None:
        """What an answer in ``mode`` from the generation served now must say is degraded (None: nothing)."""
        ...

    def indexes(self) -> Indexes:
        """The backends of the generation served now, as one consistent snapshot (for ranking outside search:
        related papers, papers like a text, "for you")."""
        ...

    def refresh(self, progress: Progress | None = None, *, dense: bool = True, blocking: bool = True) -> dict[str, Any]:
        """Run the index writer to completion in this process and serve what it published (``paperfeed index``,
        tests); returns its counts (see ``paperfeed index --json``). Not ``blocking``: nothing is done while
        another writer is at work (``{"busy": True}``)."""
        ...

    def status(self) -> IndexState:
        """The figures of the newest published manifest (what ``paperfeed status --json`` says)."""
        ...

    def close(self) -> None:
        """Release what the searcher holds (a server's private copies, its watcher)."""
        ...
