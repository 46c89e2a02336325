"""One search as every interface asks it: :class:`SearchQuery`, validated once, parsed once.

The search page, ``/api/v1/search``, the feeds, the Hugging Face API, digests and ``paperfeed search`` all
build a :class:`SearchQuery` and hand it to :meth:`paperfeed.search.protocols.Searcher.answer`. Bad values
raise :class:`~paperfeed.search.query.QueryError` (a ``ValueError``) with a message for the user.
"""

from __future__ import annotations

from datetime import date
from functools import cached_property

from pydantic import BaseModel, ConfigDict, ValidationError

from paperfeed.search.query import SORTS, ParsedQuery, QueryError, add_filters, parse_query

MODES = ("hybrid", "bm25", "dense")
MAX_LIMIT = 1_000


class SearchQuery(BaseModel):
    """One page of a search: the query text in the query language (docs/search.md) plus filters and paging.

    ``spell``: add a "did you mean" suggestion, and its results when ``q`` finds little (interactive interfaces:
    the page, ``/api/v1/search``, ``paperfeed search``)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    q: str = ""
    limit: int = 20
    offset: int = 0
    mode: str = "hybrid"
    sort: str = "relevance"
    categories: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    spell: bool = False

    @classmethod
    def of(cls, **values: object) -> SearchQuery:
        """A checked query from loose values (``None`` means the default); every bad value is a QueryError
        naming the parameter and what was expected."""
        given = {k: v for k, v in values.items() if v is not None}
        if isinstance(given.get("categories"), list):
            given["categories"] = tuple(given["categories"])  # type: ignore[arg-type]
        try:
            query = cls(**given)  # type: ignore[arg-type]
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or "query"
            raise QueryError(f"{field}: {first.get('msg', 'invalid value')}") from None
        query.check()
        return query

    def check(self) -> None:
        """Raise :class:`QueryError` for a value out of range (the message names it)."""
        if self.mode not in MODES:
            raise QueryError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.sort not in SORTS:
            raise QueryError(f"sort must be one of {', '.join(SORTS)}, got {self.sort!r}")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise QueryError(f"limit must be between 1 and {MAX_LIMIT}, got {self.limit}")
        if self.offset < 0:
            raise QueryError(f"offset must be 0 or more, got {self.offset}")

    @cached_property
    def parsed(self) -> ParsedQuery:
        """The query language read once, with the filters given beside it folded in (QueryError when it
        cannot be read)."""
        return add_filters(
            parse_query(self.q),
            categories=list(self.categories) or None,
            date_from=self.date_from,
            date_to=self.date_to,
        )

    @property
    def effective_sort(self) -> str:
        """``sort:`` written in the query wins over the ``sort`` parameter."""
        return self.parsed.sort or self.sort

    def but(self, **changes: object) -> SearchQuery:
        """A copy with ``changes`` (parsed again: e.g. the spelling-corrected query)."""
        return type(self)(**{**self.model_dump(), **changes})  # type: ignore[arg-type]
