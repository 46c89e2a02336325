"""The one place search is built: :func:`make_searcher` (readers: web app, CLI, digests, tests) and
:func:`make_writer` (the one index writer: ``paperfeed index``, ``serve``, ``worker``)."""

from __future__ import annotations

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.search.embed import EMBEDDER_NAMES, Embedder
from paperfeed.search.reader import GenerationSearcher
from paperfeed.search.writer import IndexWriter


def _model(settings: Settings, model: str | None, embedder: Embedder | None) -> str | None:
    name = model or (embedder.name if embedder is not None else settings.embedder)
    if name != "none" and name not in EMBEDDER_NAMES:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(EMBEDDER_NAMES)}, none")
    return None if name == "none" else name


def make_searcher(
    *,
    engine: Engine,
    settings: Settings,
    model: str | None = None,
    embedder: Embedder | None = None,
    serving: bool = False,
) -> GenerationSearcher:
    """The searcher over the newest published index generation of ``settings.search_backend`` (PostgreSQL
    full text + pgvector for ``postgres``, else tantivy + vector files). ``model`` overrides
    ``settings.embedder``; ``embedder`` hands over a loaded model. ``serving``: a long-running server (private
    copies of each generation, opened by a watcher thread)."""
    return GenerationSearcher(
        engine=engine, settings=settings, model=_model(settings, model, embedder), embedder=embedder, serving=serving
    )


def make_writer(
    *, engine: Engine, settings: Settings, model: str | None = None, embedder: Embedder | None = None
) -> IndexWriter:
    """The index writer of this store (run it with :meth:`IndexWriter.run` or ``start_index_writer``)."""
    return IndexWriter(engine=engine, settings=settings, model=_model(settings, model, embedder), embedder=embedder)
