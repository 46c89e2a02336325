"""Searchers for tests, over the papers they are given or the search-service corpus."""

from __future__ import annotations

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.models import SearchHit
from paperfeed.rank.related import TextMatches, papers_like_text, similar_papers
from paperfeed.search.factory import make_searcher
from paperfeed.search.reader import GenerationSearcher
from tests.factories import add_papers, corpus


def interim_static_searcher(engine: Engine, settings: Settings) -> GenerationSearcher:
    """The search-service corpus stored and searched as a first start leaves it: MiniLM configured, the words
    indexed, and only the interim static model (made from MiniLM's token table) has embedded the papers."""
    papers = corpus("search_service")
    add_papers(engine, papers)
    minilm = settings.model_copy(update={"embedder": "minilm"})
    searcher = make_searcher(engine=engine, settings=minilm)
    searcher.refresh(only=("static",))
    return searcher


def similar(
    searcher: GenerationSearcher, paper_id: str, *, limit: int = 10, sort: str = "relevance"
) -> list[SearchHit]:
    """A paper's similar papers, as its page and the API rank them (:func:`paperfeed.rank.related.similar_papers`)."""
    return similar_papers(engine=searcher.engine, searcher=searcher, paper_id=paper_id, limit=limit, sort=sort).hits


def similar_text(searcher: GenerationSearcher, text: str, *, limit: int = 10, sort: str = "relevance") -> TextMatches:
    """Papers like a text, as ``/similar`` and ``POST /api/v1/similar`` rank them."""
    return papers_like_text(engine=searcher.engine, searcher=searcher, text=text, limit=limit, sort=sort)


def indexed_searcher(engine: Engine, settings: Settings) -> GenerationSearcher:
    """A searcher over a generation the writer has just brought up to date with the store."""
    searcher = make_searcher(engine=engine, settings=settings)
    searcher.refresh()
    return searcher
