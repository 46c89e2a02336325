"""The typed surfaces of search: what the web, the CLI and digests may ask of a searcher, and what a searcher
asks of its lexical and dense backends.

Two searchers implement :class:`Searcher`: the embedded one (tantivy + vector files with an hnswlib graph,
:class:`paperfeed.search.service.EmbeddedSearcher`) and the PostgreSQL one (tsvector + pgvector,
:class:`paperfeed.search.service.PgSearcher`). Build one with :func:`paperfeed.search.factory.make_searcher`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, runtime_checkable

import numpy as np
from sqlalchemy import Engine

from paperfeed.models import SearchHit, SearchResults
from paperfeed.search.embed import Embedder
from paperfeed.search.retrievers import DenseSearch, LexicalSearch
from paperfeed.search.sync import Progress

if TYPE_CHECKING:
    from paperfeed.rank.related import TextMatches


class IndexState(TypedDict):
    """What ``paperfeed status --json`` and the searcher report about the indexes.

    ``state``: ``ready`` (every paper searchable by words and by meaning), ``building`` (vectors missing or
    stale: papers still being indexed or embedded), ``damaged`` (index files damaged: rebuilding), ``off``
    (no embedding model: keyword search only)."""

    papers: int
    lexical_docs: int
    vectors: int
    model: str
    pending: int
    state: str


class LexicalBackend(LexicalSearch, Protocol):
    """BM25 over papers (tantivy files: ``LexicalIndex``; PostgreSQL full text: ``PgLexical``), as ranking
    needs it (:class:`~paperfeed.search.retrievers.LexicalSearch`) plus its size."""

    def count(self) -> int: ...


class DenseBackend(DenseSearch, Protocol):
    """The stored vectors of one model (files: ``DenseIndex``; a PostgreSQL table: ``PgDense``), as ranking
    needs them (:class:`~paperfeed.search.retrievers.DenseSearch`) plus what upkeep and similar papers use."""

    @property
    def dim(self) -> int: ...

    def __len__(self) -> int: ...

    def __contains__(self, paper_id: object) -> bool: ...

    def matches(self, embedder: Embedder) -> bool: ...

    def vector(self, paper_id: str) -> np.ndarray | None: ...

    def similar(self, paper_id: str, k: int) -> tuple[list[str], list[float]]: ...

    def update(
        self, engine: Engine, embedder: Embedder, progress: Callable[[int, int | None], None] | None = None
    ) -> int: ...


@dataclass(frozen=True)
class SearchRequest:
    """One search as :meth:`Searcher.search` was asked it (fields in the order of its parameters)."""

    q: str
    limit: int
    offset: int
    mode: str
    sort: str
    categories: list[str] | None
    date_from: date | None
    date_to: date | None
    spell: bool


@runtime_checkable
class Searcher(Protocol):
    """Search and similar papers over one store, kept in step with it. Thread-safe."""

    @property
    def model(self) -> str | None:
        """The configured embedding model ("minilm", "static"), or None when search is keyword-only."""
        ...

    @property
    def semantic_error(self) -> str | None:
        """Why meaning-based search is off (model missing or broken), or None."""
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
        """One page of results for query ``q`` (the query language, see docs/search.md) plus filters;
        ``warning`` says what is degraded (vectors being built, damaged index). ``spell``: a "did you mean"
        ``suggestion``, and its results when ``q`` finds little (interactive interfaces only: the page,
        ``/api/v1/search``, ``paperfeed search``). The one definition of these parameters and their
        defaults: a searcher implements :meth:`answer`."""
        request = SearchRequest(q, limit, offset, mode, sort, categories, date_from, date_to, spell)
        return self.answer(request)

    def answer(self, request: SearchRequest) -> SearchResults:
        """The page of results for one :class:`SearchRequest` (what :meth:`search` asks)."""
        ...

    def similar(self, paper_id: str, *, limit: int = 10, sort: str = "relevance") -> list[SearchHit]:
        """The papers nearest to ``paper_id``, best first (or by ``sort``: date, upvotes); ``KeyError`` for an
        unknown id."""
        ...

    def similar_text(self, text: str, *, limit: int = 10, sort: str = "relevance") -> TextMatches:
        """Papers like ``text``, ranked as :meth:`similar` ranks a paper's; ``ValueError`` when it has no words."""
        ...

    def refresh(self, progress: Progress | None = None, *, dense: bool = True) -> dict[str, Any]:
        """Index what changed in the store; returns counts (see ``paperfeed index --json``)."""
        ...

    def status(self) -> IndexState:
        """Papers, indexed documents, vectors, model, pending papers and the overall state."""
        ...

    def dense_index(self) -> DenseBackend | None:
        """The vectors searched now (None without a model or before any were made)."""
        ...

    def wait_background(self, timeout: float | None = None) -> None:
        """Wait for background index upkeep to finish (tests, clean shutdown)."""
        ...

    def close(self) -> None:
        """Release what the searcher holds (a server's private index copies)."""
        ...
