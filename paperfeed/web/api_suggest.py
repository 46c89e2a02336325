"""``GET /api/v1/suggest``: suggestions as you type for the header search box (and any client).

Papers by title, authors by name (each by prefix and by word prefix) and query completions, from the
in-memory index of :mod:`paperfeed.search.suggest`; the same on SQLite and PostgreSQL. Reads only, no
account needed.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from paperfeed.search.spelling import speller_for
from paperfeed.search.suggest import suggester_for
from paperfeed.web.deps import OptionalSearcher, StoreDep

router = APIRouter(prefix="/api/v1", tags=["Paperfeed API v1"])
MAX_SUGGEST_LIMIT = 20


class SuggestionOut(BaseModel):
    type: Literal["paper", "author", "query"] = Field(
        description='paper: a title (opens the paper); author: a name (searches author:"..."); query: a search'
    )
    text: str = Field(description="what to show (plain text, not HTML)")
    url: str = Field(description="where choosing it leads, relative to the site: /papers/... or /search?q=...")


class SuggestOut(BaseModel):
    data: list[SuggestionOut]


@router.get("/suggest", response_model=SuggestOut)
def suggest(
    engine: StoreDep,
    searcher: OptionalSearcher,
    q: Annotated[str, Query(max_length=200, description="the text typed so far")] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_SUGGEST_LIMIT, description=f"1 to {MAX_SUGGEST_LIMIT}")] = 8,
) -> SuggestOut:
    """Suggestions for the text typed so far: query completions, paper titles, authors (empty for empty q)."""
    lexical = searcher.indexes().lexical if searcher is not None else None
    found = suggester_for(engine).suggest(q, limit=limit, speller=speller_for(engine), lexical=lexical)
    return SuggestOut(data=[SuggestionOut(type=s.type, text=s.text, url=s.url) for s in found])
