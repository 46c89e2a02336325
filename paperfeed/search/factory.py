"""The one place a searcher is built: :func:`make_searcher` (web app, CLI, digests, tests)."""

from __future__ import annotations

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.search.embed import EMBEDDER_NAMES, Embedder
from paperfeed.search.protocols import Searcher
from paperfeed.search.service import EmbeddedSearcher, PgSearcher


def make_searcher(
    *,
    engine: Engine,
    settings: Settings,
    model: str | None = None,
    embedder: Embedder | None = None,
    serving: bool = False,
) -> Searcher:
    """The searcher for ``settings.search_backend``: PostgreSQL full text + pgvector (``postgres``), else
    tantivy + vector files. ``model`` overrides ``settings.embedder``; ``embedder`` hands over a loaded model.

    ``serving`` (a long-running server): work on private copies of the index files (damage to the visible
    files never reaches the process) and start catching up with the store in the background at once."""
    name = model or (embedder.name if embedder is not None else settings.embedder)
    if name != "none" and name not in EMBEDDER_NAMES:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(EMBEDDER_NAMES)}, none")
    cls = PgSearcher if settings.search_backend == "postgres" else EmbeddedSearcher
    model = None if name == "none" else name
    searcher = cls(cls.upkeep_class(engine=engine, settings=settings, model=model, embedder=embedder, serving=serving))
    if serving:
        searcher.upkeep.start_background()
    return searcher
