"""The read-only side of search: a searcher that serves the newest published index generation.

:class:`GenerationSearcher` implements :class:`~paperfeed.search.protocols.Searcher` by handing each call to
the :class:`~paperfeed.search.service.SearchService` of the generation it serves. A request never checks,
copies, syncs or starts anything:

- a server (``serving``) opens each new generation in a watcher thread of its own: it copies the generation's
  files into a private folder outside the data directory (verifying every digest, linking files unchanged
  since the last copy), so damage to the files under the index directory never reaches pages it maps, loads
  the embedder of the vectors served, then swaps the new service in. The first generation is opened before
  the server answers, so its first answers are its steady answers;
- a command (``serving=False``) opens the generation in place and looks at the pointer before each call.

The writer (:mod:`paperfeed.search.writer`) runs elsewhere: ``refresh`` runs it to completion in this process.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from paperfeed.config import Settings
from paperfeed.models import SearchResults
from paperfeed.search import index_files, readiness
from paperfeed.search.dense import DenseIndex
from paperfeed.search.embed import Embedder
from paperfeed.search.generations import DbGenerations, FileGenerations, Generations, Manifest
from paperfeed.search.lexical import LexicalIndex
from paperfeed.search.model_loader import ModelLoader
from paperfeed.search.protocols import DenseBackend, Indexes, IndexState, LexicalBackend
from paperfeed.search.request import SearchQuery
from paperfeed.search.service import QueryVectors, SearchService
from paperfeed.search.spelling import speller_for
from paperfeed.search.sync import Progress
from paperfeed.search.writer import IndexWriter
from paperfeed.store.index_sync import change_marker

log = logging.getLogger(__name__)

WATCH_INTERVAL = 0.2  # seconds between a server's looks at the pointer (one stat)
CACHE_INTERVAL = 5.0  # seconds between a server's looks at whether the vocabularies need a rebuild
MISSING = "the published search index is missing (the index directory was removed or changed)"


class GenerationSearcher:
    """Serves the newest published generation of one store (see the module)."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        model: str | None,
        embedder: Embedder | None = None,
        serving: bool = False,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self._model = model
        self.serving = serving
        self.models = ModelLoader(settings, embedder)
        self.postgres = settings.search_backend == "postgres"
        self.files = None if self.postgres else FileGenerations(settings.index_dir)
        self.generations: Generations = DbGenerations(engine) if self.files is None else self.files
        self._vectors = QueryVectors()
        self._lock = threading.Lock()
        self._stamp: Any = None
        self._private = index_files.private_root("index") if serving and self.files is not None else None
        if self._private is not None:
            atexit.register(index_files.discard, self._private)
        self._copies: dict[str, Path] = {}  # folder -> the private copy of the generation served
        self._opened: dict[str, tuple[str, str, Any]] = {}  # folder -> (files, generation, backend) open now
        self._stop = threading.Event()
        self._writer: IndexWriter | None = None
        self._stamp = self._pointer_stamp()
        first = self.generations.current()
        try:
            self._service = self._open(first)
        except Exception as exc:  # noqa: BLE001 - damaged files: answer (saying so) while the writer repairs
            log.warning("cannot open the published search index: %s; it is being published again", exc)
            self._service = self._degraded(first, str(exc))
        self._threads: list[threading.Thread] = []
        if serving:  # started once, with the server: requests never start anything
            me = weakref.ref(self)  # the threads end with the searcher (an app dropped without shutting down)
            for target, name in ((_watch, "paperfeed-index-reader"), (_caches, "paperfeed-corpus-caches")):
                thread = threading.Thread(target=target, args=(me, self._stop), name=name, daemon=True)
                thread.start()
                self._threads.append(thread)

    # ------------------------------------------------------------ Searcher

    @property
    def model(self) -> str | None:
        return self._model

    @property
    def semantic_error(self) -> str | None:
        return self.models.error(self._model) if self._model else None

    def current(self) -> SearchService:
        """The service of the generation served now (a command first looks whether a newer one is out)."""
        if not self.serving:
            stamp = self._pointer_stamp()
            if stamp != self._stamp:
                self._switch(stamp)
        return self._service

    def answer(self, query: SearchQuery, *, conn: Connection | None = None) -> SearchResults:
        return self.current().answer(query, conn=conn)

    def search(self, q: str, **options: Any) -> SearchResults:
        return self.answer(SearchQuery.of(q=q, **options))

    def warning(self, mode: str = "hybrid") -> str | None:
        return self.current().warning(mode)

    def indexes(self) -> Indexes:
        return self.current().indexes()

    def status(self) -> IndexState:
        """The newest published manifest's figures: what ``paperfeed status --json`` says at the same moment."""
        manifest = self.generations.current()
        papers = 0
        if manifest is None:
            with self.engine.connect() as conn:
                papers = change_marker(conn=conn)[0]
        return readiness.index_state(manifest, self._model, self.semantic_error, papers_in_store=papers)

    def generation(self) -> str | None:
        """The name of the generation served now (None before the first)."""
        manifest = self.current().manifest
        return manifest.generation if manifest is not None else None

    def refresh(
        self,
        progress: Progress | None = None,
        *,
        dense: bool = True,
        blocking: bool = True,
        only: tuple[str, ...] | None = None,
    ) -> dict[str, Any]:
        """Run the index writer to completion in this process, then serve what it published. Not
        ``blocking``: when another writer is at work (a server's), ``{"busy": True}`` and nothing done.
        ``only``: embed with these models only (tests: the state a first start leaves)."""
        report = self._own_writer().run(progress, dense=dense, blocking=blocking, only=only)
        self._switch(self._pointer_stamp())
        return report

    def catch_up(self, progress: Progress | None = None, *, dense: bool = True, blocking: bool = True) -> None:
        """Run the writer until the published generation is up to date with the store (nothing when it is),
        then serve it: what a running instance's writer does within a second, done now (commands, tests). Not
        ``blocking``: nothing is done while another writer (a server's) is at work: it publishes by itself."""
        self._own_writer().step(progress, dense=dense, blocking=blocking)
        stamp = self._pointer_stamp()
        if stamp != self._stamp or self.serving:
            self._switch(stamp)
        if self.serving:  # and the vocabularies the caches thread would rebuild
            from paperfeed.search.suggest import suggester_for

            for cache in (speller_for(self.engine), suggester_for(self.engine)):
                cache.refresh_if_changed(now=True)

    def _own_writer(self) -> IndexWriter:
        if self._writer is None:
            self._writer = IndexWriter(engine=self.engine, settings=self.settings, model=self._model)
            self._writer.models = self.models  # one loaded model for writing and querying
        return self._writer

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        index_files.discard(self._private)

    # ------------------------------------------------------------ opening generations

    def _pointer_stamp(self) -> Any:
        if self.files is not None:
            return self.files.pointer_stamp()
        manifest = self.generations.current()
        return None if manifest is None else (manifest.generation, tuple(manifest.damage))

    def _look(self) -> None:
        """One look at the pointer: a new generation is opened and swapped in."""
        stamp = self._pointer_stamp()
        if stamp != self._stamp:
            self._switch(stamp)

    def _refresh_caches(self) -> None:
        from paperfeed.search.suggest import suggester_for

        for cache in (speller_for(self.engine), suggester_for(self.engine)):
            cache.refresh_if_changed()

    def _switch(self, stamp: Any) -> None:
        with self._lock:
            manifest = self.generations.current()
            served = self._service.manifest
            if manifest is None and served is not None:  # the pointer is gone: serve what we have, say so
                manifest = Manifest(**{**served.to_json(), "damage": [MISSING]})
                self._service = _with_manifest(self._service, manifest)
            elif manifest is not None and served is not None and manifest.generation == served.generation:
                self._service = _with_manifest(self._service, manifest)  # only its damage note changed
            else:
                try:
                    opened = self._open(manifest)
                except Exception as exc:  # noqa: BLE001 - damaged files: keep serving, say so, the writer repairs
                    log.warning("cannot open search index generation %s: %s", manifest and manifest.generation, exc)
                    if served is not None:
                        opened = _with_manifest(self._service, Manifest(**{**served.to_json(), "damage": [str(exc)]}))
                    else:
                        opened = self._degraded(manifest, str(exc))
                kept = {m.generation for m in (served, opened.manifest) if m is not None}
                kept |= {generation for _, generation, _ in self._opened.values()}  # folders still open
                self._service = opened
                self._prune_private(kept)
            self._stamp = stamp

    def _open(self, manifest: Manifest | None) -> SearchService:
        """The service of generation ``manifest``: its backends opened (a server: from a private copy)."""
        lexical = self._open_lexical(manifest)
        use = readiness.served(manifest, self._model, interim_allowed=not self.postgres)
        dense: DenseBackend | None = None
        embedder: Embedder | None = None
        if use is not None and not self.models.error(self._model or ""):
            embedder = self.models.get(use.model, interim=use.model != self._model)
            dense = self._open_dense(manifest, use.model) if embedder is not None else None
            if dense is not None and embedder is not None and not dense.matches(embedder):
                log.warning("the %s vectors were made by another model; searching by keywords", use.model)
                dense, embedder = None, None
        return SearchService(
            engine=self.engine,
            lexical=lexical,
            dense=dense,
            embedder=embedder,
            served_model=use.model if dense is not None and use is not None else None,
            speller=speller_for(self.engine),
            manifest=manifest,
            configured=self._model,
            model_error=self.semantic_error,
            vectors=self._vectors,
        )

    def _folder(self, manifest: Manifest, name: str) -> Path:
        """Where to open folder ``name`` of ``manifest``: in place (a command) or a verified private copy."""
        assert self.files is not None
        published = self.files.folder(manifest, name)
        if self._private is None:
            return published
        target = self._private / manifest.generation / name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            index_files.copy_verified(published, target, reuse=self._copies.get(name))
            self._copies[name] = target
        return target

    def _prune_private(self, keep: set[str]) -> None:
        """Remove private copies of generations no longer served (the last two stay: a search that started on
        the previous one keeps its open files anyway)."""
        if self._private is None:
            return
        for folder in self._private.iterdir():
            if folder.is_dir() and folder.name not in keep:
                shutil.rmtree(folder, ignore_errors=True)

    def _degraded(self, manifest: Manifest | None, problem: str) -> SearchService:
        """A service with nothing to search, for a generation that cannot be opened (its answers say why)."""
        service = self._open(None)
        if manifest is None:
            return service
        return _with_manifest(service, Manifest(**{**manifest.to_json(), "damage": [problem]}))

    def _open_lexical(self, manifest: Manifest | None) -> LexicalBackend:
        if self.files is None:
            from paperfeed.search.pg_backend import PgLexical

            return PgLexical(self.engine)
        if manifest is None:
            return _empty_lexical()
        return self._reused(manifest, "lexical", lambda folder: LexicalIndex.open_published(folder))

    def _open_dense(self, manifest: Manifest | None, model: str) -> DenseBackend | None:
        if manifest is None:
            return None
        if self.files is None:
            from paperfeed.search.pg_dense import PgDense

            return PgDense.open(self.engine, model)
        return self._reused(manifest, f"dense/{model}", lambda folder: DenseIndex.open(folder.parent.parent, model))

    def _reused(self, manifest: Manifest, name: str, open_: Callable[[Path], Any]) -> Any:
        """Folder ``name`` of ``manifest`` opened, or the backend already open on the same files (a new
        generation mostly changes one folder: the others are neither copied nor opened again)."""
        assert self.files is not None
        published = index_files.read_manifest(self.files.folder(manifest, name))
        signature = json.dumps((published or {}).get("files"), sort_keys=True) if published else None
        held = self._opened.get(name)
        if signature is not None and held is not None and held[0] == signature:
            return held[2]
        backend = open_(self._folder(manifest, name))
        if signature is not None:
            self._opened[name] = (signature, manifest.generation, backend)
        return backend


def _with_manifest(service: SearchService, manifest: Manifest) -> SearchService:
    return replace(service, manifest=manifest)


def _empty_lexical() -> LexicalIndex:
    """An empty keyword index (before the first generation is published), in a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix=f"{index_files.PRIVATE_PREFIX}{os.getpid()}-empty-"))
    atexit.register(shutil.rmtree, folder, True)
    return LexicalIndex.open(folder)


def _watch(ref: weakref.ref[GenerationSearcher], stop: threading.Event) -> None:
    """A server's watcher thread: looks at the pointer every ``WATCH_INTERVAL`` seconds."""
    while not stop.wait(WATCH_INTERVAL):
        searcher = ref()
        if searcher is None:
            return
        try:
            searcher._look()
        except Exception as exc:  # noqa: BLE001 - keep serving the generation opened last
            log.warning("opening the newest search index generation failed (%s); serving the previous one", exc)
        del searcher


def _caches(ref: weakref.ref[GenerationSearcher], stop: threading.Event) -> None:
    """Build the spelling vocabulary and the suggestion index at start, then rebuild them when the store
    changed (each at most every ``REBUILD_INTERVAL``), in a thread of their own."""
    while True:
        searcher = ref()
        if searcher is None:
            return
        try:
            searcher._refresh_caches()
        except Exception as exc:  # noqa: BLE001 - keep the previous structures
            log.warning("rebuilding the search vocabularies failed (%s); keeping the previous ones", exc)
        del searcher
        if stop.wait(CACHE_INTERVAL):
            return
