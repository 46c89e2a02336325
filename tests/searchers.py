"""Searchers for tests, over the papers they are given or the search-service corpus."""

from __future__ import annotations

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.search.factory import make_searcher
from paperfeed.search.service import SearchService
from tests.factories import add_papers, corpus


def interim_static_searcher(engine: Engine, settings: Settings) -> SearchService:
    """The search-service corpus stored and searched as a first start leaves it: MiniLM configured, the words
    indexed, and only the interim static model (made from MiniLM's token table) has embedded the papers."""
    papers = corpus("search_service")
    add_papers(engine, papers)
    minilm = settings.model_copy(update={"embedder": "minilm"})
    searcher = make_searcher(engine=engine, settings=minilm)
    searcher.refresh(dense=False)
    searcher.upkeep._refresh_dense("static", None, [len(papers), None], blocking=True)  # type: ignore[attr-defined]
    return searcher
