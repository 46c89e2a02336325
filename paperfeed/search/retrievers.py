"""The surfaces ranking needs of a lexical and a dense retriever, as typing Protocols.

Implemented by the embedded indexes (:class:`~paperfeed.search.lexical.LexicalIndex`,
:class:`~paperfeed.search.dense.DenseIndex`) and by PostgreSQL search
(:class:`~paperfeed.search.pg_backend.PgLexical`, :class:`~paperfeed.search.pg_backend.PgDense`), so
:func:`paperfeed.search.hybrid.rank` ranks the same way on both. Every retriever returns ``(ids, scores)``,
best first.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from paperfeed.search.query import ParsedQuery, parse_query


@dataclass
class LexicalPage:
    """Ids and scores of one page of matches, best first, and how many documents match in all."""

    ids: list[str]
    scores: list[float]
    total: int


@dataclass(frozen=True)
class PageRequest:
    """One page asked of a lexical retriever (see :meth:`LexicalSearch.search_page`)."""

    query: ParsedQuery
    k: int
    offset: int
    allowed: Collection[str] | None
    by_date: bool


class LexicalSearch(Protocol):
    """BM25 over title, abstract and authors, honouring the query's constraints. An engine implements
    :meth:`page`; ``search_page`` and ``search`` are written here once for both engines."""

    def search_page(
        self,
        query: ParsedQuery | str,
        k: int,
        *,
        offset: int = 0,
        allowed: Collection[str] | None = None,
        by_date: bool = False,
    ) -> LexicalPage:
        """A page of matches and the total count. ``by_date`` orders by date, newest first; a query with
        filters but no words (``cat:cs.CL``) is always ordered by date. ``allowed`` restricts the results to
        those ids; the query's own filters always apply."""
        parsed = parse_query(query) if isinstance(query, str) else query
        return self.page(PageRequest(parsed, k, offset, allowed, by_date))

    def search(
        self, query: ParsedQuery | str, k: int, *, allowed: Collection[str] | None = None
    ) -> tuple[list[str], list[float]]:
        """The ``k`` best matches of ``query`` by BM25 (``(ids, scores)``, best first)."""
        page = self.search_page(query, k, allowed=allowed)
        return page.ids, page.scores

    def page(self, request: PageRequest) -> LexicalPage:
        """The engine's answer to :meth:`search_page`."""
        ...

    def filter_ids(self, query: ParsedQuery, ids: Collection[str]) -> set[str]: ...

    def matching_ids(self, query: ParsedQuery, limit: int) -> list[str] | None: ...

    def count_matching(self, query: ParsedQuery) -> int: ...


class DenseSearch(Protocol):
    """Nearest papers to a query vector by cosine similarity, optionally among those passing a filter."""

    def search(self, vector: np.ndarray, k: int) -> tuple[list[str], list[float]]: ...

    def search_filtered(
        self, vector: np.ndarray, k: int, *, query: ParsedQuery, lexical: LexicalSearch
    ) -> tuple[list[str], list[float]]: ...


def query_vector(vector: np.ndarray, *, dim: int, model: str, error: type[Exception]) -> np.ndarray:
    """``vector`` as a flat float32 row, or ``error`` when its size is not the stored vectors' ``dim``."""
    vec = np.asarray(vector, dtype=np.float32).reshape(-1)
    if vec.shape[0] != dim:
        raise error(
            f"query vector has {vec.shape[0]} dims but the {model} vectors "
            f"have {dim}; run `paperfeed index` to re-embed with the current model"
        )
    return vec
