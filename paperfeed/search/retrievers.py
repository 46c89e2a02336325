"""The surfaces ranking needs of a lexical and a dense retriever, as typing Protocols.

Implemented by the embedded indexes (:class:`~paperfeed.search.lexical.LexicalIndex`,
:class:`~paperfeed.search.dense.DenseIndex`) and by PostgreSQL search
(:class:`~paperfeed.search.pg_backend.PgLexical`, :class:`~paperfeed.search.pg_backend.PgDense`), so
:func:`paperfeed.search.hybrid.rank` ranks the same way on both. Every retriever returns ``(ids, scores)``,
best first.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

import numpy as np

from paperfeed.search.lexical import LexicalPage
from paperfeed.search.query import ParsedQuery


class LexicalSearch(Protocol):
    """BM25 over title, abstract and authors, honouring the query's constraints."""

    def search_page(
        self,
        query: ParsedQuery | str,
        k: int,
        *,
        offset: int = 0,
        allowed: Collection[str] | None = None,
        by_date: bool = False,
    ) -> LexicalPage: ...

    def search(
        self, query: ParsedQuery | str, k: int, *, allowed: Collection[str] | None = None
    ) -> tuple[list[str], list[float]]: ...

    def filter_ids(self, query: ParsedQuery, ids: Collection[str]) -> set[str]: ...

    def matching_ids(self, query: ParsedQuery, limit: int) -> list[str] | None: ...

    def count_matching(self, query: ParsedQuery) -> int: ...


class DenseSearch(Protocol):
    """Nearest papers to a query vector by cosine similarity, optionally among those passing a filter."""

    def search(self, vector: np.ndarray, k: int) -> tuple[list[str], list[float]]: ...

    def search_filtered(
        self, vector: np.ndarray, k: int, *, query: ParsedQuery, lexical: LexicalSearch
    ) -> tuple[list[str], list[float]]: ...
