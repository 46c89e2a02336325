"""The one index writer of an instance: it alone brings the indexes in step with the store and publishes them.

It syncs the keyword index, computes keyphrases, embeds papers (the interim static model first while the
configured one covers too few papers, then the configured one), repairs damage, and after each piece of work
publishes an immutable generation (:mod:`paperfeed.search.generations`) with a manifest of what it holds.
Readers (:mod:`paperfeed.search.reader`) only open published generations.

Who runs it: ``paperfeed index`` (to completion), ``paperfeed worker`` and ``paperfeed serve`` (one web worker,
elected by the ``search-index`` lease, in a background thread: :func:`start_index_writer`). Between processes
``writer.lock`` keeps two writers from working at once. While it embeds, a new paper is published with its
words within seconds: each embedding batch is small, and between batches the writer indexes new words and
publishes.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from paperfeed.config import Settings
from paperfeed.keywords import keep_keywords_up_to_date
from paperfeed.search.dense import DenseIndex
from paperfeed.search.embed import Embedder
from paperfeed.search.generations import DbGenerations, FileGenerations, Generations, Manifest, now_iso
from paperfeed.search.lexical import LexicalIndex
from paperfeed.search.model_loader import INTERIM, ModelLoader
from paperfeed.search.protocols import DenseBackend
from paperfeed.search.sync import Progress, marker_key, sync_lexical_locked
from paperfeed.store.index_sync import change_marker

log = logging.getLogger(__name__)

INTERIM_BELOW = 0.9  # the static model fills in while the configured model has vectors for fewer papers
PUBLISH_EVERY = 2.0  # seconds: while embedding, new words and vectors are published this often
SERVING_BATCH = 64  # papers embedded per batch by a serving writer (a batch is the longest a new paper waits)
LOOP_IDLE = 1.0  # seconds between looks at the store when there is nothing to do
LEASE = "search-index"
LEASE_TTL = 60.0


class IndexWriter:
    """Writes the indexes of one store and publishes generations. Not thread-safe: one thread drives it."""

    def __init__(
        self, *, engine: Engine, settings: Settings, model: str | None, embedder: Embedder | None = None
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.model = model
        self.models = ModelLoader(settings, embedder)
        self.postgres = settings.search_backend == "postgres"
        self.files = None if self.postgres else FileGenerations(settings.index_dir)
        self.generations: Generations = DbGenerations(engine) if self.files is None else self.files
        self._lexical: LexicalIndex | None = None
        self._dense: dict[str, DenseBackend] = {}
        self._dense_stamps: dict[str, tuple[int, int] | None] = {}
        self._published: Manifest | None = None
        self._last_publish = 0.0
        self._serving = False

    # ------------------------------------------------------------ the working indexes

    def working_lexical(self) -> LexicalIndex | None:
        """The writer's own keyword index (None on PostgreSQL, where words live in the database)."""
        if self.files is None:
            return None
        folder = self.files.work("lexical")
        if self._lexical is None or not (folder / "paperfeed.json").is_file():
            self._lexical = _open_tantivy(folder)  # first use, or its folder was removed: rebuilt from the store
        return self._lexical

    def _working_dense(self, model: str) -> DenseBackend:
        if self.files is None:
            if model not in self._dense:
                from paperfeed.search.pg_dense import PgDense

                self._dense[model] = PgDense.open(self.engine, model)
            return self._dense[model]
        folder = self.files.work(f"dense/{model}")
        dense = self._dense.get(model)
        stamp = _stamp(folder / "meta.json")
        if dense is not None and stamp != self._dense_stamps.get(model):
            dense = None  # written by another writer since (a command beside a server), or removed: read again
        if dense is None:
            try:
                dense = DenseIndex.open(self.files.index_dir / "work", model)
            except Exception as exc:  # noqa: BLE001 - unreadable working vectors: made again from the store
                log.warning("the %s vectors cannot be read (%s); embedding the papers again", model, exc)
                shutil.rmtree(folder, ignore_errors=True)
                dense = DenseIndex.open(self.files.index_dir / "work", model)
            self._dense[model] = dense
            self._dense_stamps[model] = _stamp(folder / "meta.json")
        return dense

    # ------------------------------------------------------------ one pass

    def run(
        self,
        progress: Progress | None = None,
        *,
        dense: bool = True,
        blocking: bool = True,
        only: tuple[str, ...] | None = None,
    ) -> dict[str, Any]:
        """Bring every index in step with the store and publish (``paperfeed index``, tests). Returns counts:
        ``indexed``, ``deleted``, ``embedded``, ``keywords``, ``papers``, ``lexical_docs``, ``vectors``,
        ``model``, ``seconds``, ``generation`` (``warning`` when meaning-based search is off)."""
        started = time.perf_counter()
        report = self.step(progress, dense=dense, force=True, blocking=blocking, only=only)
        if report.get("busy"):
            return report
        manifest = self._published or self.generations.current()
        report.update(
            papers=manifest.papers if manifest else 0,
            lexical_docs=manifest.lexical_docs if manifest else 0,
            vectors=manifest.vectors.get(self.model, 0) if manifest and self.model else 0,
            model=self.model or "none",
            generation=manifest.generation if manifest else None,
            seconds=round(time.perf_counter() - started, 3),
        )
        error = self.models.error(self.model) if self.model else None
        if error:
            report["warning"] = f"semantic search is off: {error}"
        return report

    def step(
        self,
        progress: Progress | None = None,
        *,
        dense: bool = True,
        force: bool = False,
        blocking: bool = True,
        only: tuple[str, ...] | None = None,
    ) -> dict[str, Any]:
        """One pass under the writer lock: repair, words, keyphrases, vectors, each published as it is done.
        Without ``force`` it does nothing when the published generation is up to date and whole. Not
        ``blocking``: ``{"busy": True}`` at once when another writer is at work. ``only``: embed with these
        models only (e.g. the interim one)."""
        with self._locked(blocking) as got:
            if not got:
                return {"busy": True}
            return self._step(progress, dense=dense, force=force, only=only)

    @contextmanager
    def _locked(self, blocking: bool) -> Iterator[bool]:
        """The writer lock: ``writer.lock`` beside the files, or a PostgreSQL advisory lock."""
        if self.files is not None:
            with self.files.writer_lock(blocking=blocking) as got:
                yield got
            return
        with self.engine.connect() as conn:
            fn = "pg_advisory_lock" if blocking else "pg_try_advisory_lock"
            got = bool(conn.execute(text(f"SELECT {fn}(hashtext(:k))"), {"k": LEASE}).scalar() is not False)
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": LEASE})
                conn.commit()

    def _step(
        self, progress: Progress | None, *, dense: bool, force: bool, only: tuple[str, ...] | None
    ) -> dict[str, Any]:
        report: dict[str, Any] = {"indexed": 0, "deleted": 0, "embedded": 0, "keywords": 0}
        current = self.generations.current()
        damage = self._damage(current)
        if damage:
            self.generations.mark_damage(damage)
            log.warning("search index files damaged: %s; publishing them again", "; ".join(damage))
        key = self._marker()
        models = [m for m in self._models_due(key) if only is None or m in only] if dense else []
        if not force and not damage and current is not None and current.marker == key and not models:
            return report
        if force or damage or current is None or current.marker != key:  # new words (or a repair) first
            lexical = self.working_lexical()
            if lexical is not None:
                report.update(sync_lexical_locked(lexical, self.engine, key, progress))
            self._publish(key, fresh=bool(damage))
        report["keywords"] = keep_keywords_up_to_date(engine=self.engine)  # KEYWORDS: paperfeed/keywords.py
        for name in models:
            report["embedded"] += self._embed(name, key, progress)
        if report["embedded"] or force:
            self._publish(key)
        return report

    def _marker(self) -> list[Any]:
        with self.engine.connect() as conn:
            return marker_key(change_marker(conn=conn))

    def _damage(self, current: Manifest | None) -> list[str]:
        """What is wrong with the generation readers use: its files changed, or it vanished after this writer
        published it."""
        if self.files is None:
            return []
        if current is None:
            if self._published is not None or (self.files.root.is_dir() and any(self.files.root.iterdir())):
                return [f"{self.files.pointer}: missing (the index directory was removed or changed)"]
            return []
        return self.files.check(current)

    def _models_due(self, key: list[Any]) -> list[str]:
        """The models whose vectors lag behind the store: the interim one first while the configured one
        covers too few papers."""
        if self.model is None or self.models.error(self.model):
            return []
        names = []
        if self._wants_interim(key[0]):
            names.append(INTERIM)
        names.append(self.model)
        return [n for n in names if self._vectors_stale(n, key)]

    def _wants_interim(self, papers: int) -> bool:
        if self.postgres or self.model in (None, INTERIM) or not papers:
            return False
        have = len(self._working_dense(self.model)) if self.model else 0
        return have < INTERIM_BELOW * papers

    def _vectors_stale(self, name: str, key: list[Any]) -> bool:
        dense = self._working_dense(name)
        if dense.marker != key:  # set only once an update has gone through every changed paper
            return True
        emb = self.models.get(name, interim=name != self.model)
        return emb is not None and not dense.matches(emb)  # another model (weights, size): embed everything again

    def _embed(self, name: str, key: list[Any], progress: Progress | None) -> int:
        emb = self.models.get(name, interim=name != self.model)
        if emb is None:
            return 0
        dense = self._working_dense(name)
        step = (lambda done, total: progress("dense", done, total)) if progress is not None else None

        def between() -> None:  # a batch is flushed: publish its vectors, and any new words
            if self.files is not None:
                self._dense_stamps[name] = _stamp(self.files.work(f"dense/{name}") / "meta.json")
            self._catch_up_words()

        n = dense.update(
            self.engine,
            emb,
            progress=step,
            batch_size=SERVING_BATCH if self._serving else None,
            flush_seconds=PUBLISH_EVERY if self._serving else 30.0,
            on_flush=between,
        )
        dense.set_marker(key)
        if self.files is not None:
            self._dense_stamps[name] = _stamp(self.files.work(f"dense/{name}") / "meta.json")
        return n

    def _catch_up_words(self) -> None:
        """Between embedding batches: index papers that arrived since, and publish words and vectors so far."""
        if time.monotonic() - self._last_publish < PUBLISH_EVERY / 2:
            return
        key = self._marker()
        lexical = self.working_lexical()
        if lexical is not None and lexical.meta.get("marker") != key:
            sync_lexical_locked(lexical, self.engine, key, None)
        self._publish(key)

    # ------------------------------------------------------------ publishing

    def _publish(self, key: list[Any], *, fresh: bool = False) -> Manifest:
        """Publish the working indexes as a new generation (``fresh``: copy every file, link none: the last
        generation's files were damaged)."""
        lexical = self.working_lexical()
        vectors: dict[str, int] = {}
        work = {}
        if lexical is not None and self.files is not None:
            work["lexical"] = self.files.work("lexical")
        for name in self._dense_names():
            dense = self._working_dense(name)
            vectors[name] = len(dense)
            if self.files is not None:
                work[f"dense/{name}"] = self.files.work(f"dense/{name}")
        manifest = Manifest(
            generation="",
            created=now_iso(),
            papers=int(key[0]),
            lexical_docs=lexical.count() if lexical is not None else int(key[0]),
            vectors=vectors,
            marker=key,
        )
        if self.files is not None:
            published = self.files.publish(manifest, work, fresh=fresh)
        else:
            published = self.generations.publish(manifest, work)
        self._published = published
        self._last_publish = time.monotonic()
        return published

    def _dense_names(self) -> list[str]:
        if self.model is None:
            return []
        names = [self.model]
        if not self.postgres and self.model != INTERIM:
            interim = self._working_dense(INTERIM) if INTERIM in self._dense or self._has_work(INTERIM) else None
            if interim is not None and len(interim):
                names.append(INTERIM)
        return names

    def _has_work(self, model: str) -> bool:
        return self.files is not None and (self.files.work(f"dense/{model}") / "meta.json").is_file()


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ino)


def _open_tantivy(folder: Any) -> LexicalIndex:
    """Open the working keyword index; one tantivy refuses (damaged files) is made again from the store."""
    try:
        return LexicalIndex.open(folder)
    except Exception as exc:  # noqa: BLE001 - includes tantivy panics surfaced as exceptions
        log.warning("the keyword index in %s cannot be opened (%s); rebuilding it", folder, exc)
        shutil.rmtree(folder, ignore_errors=True)
        return LexicalIndex.open(folder)


def start_index_writer(
    *, engine: Engine, settings: Settings, model: str | None, on_stop: Callable[[], None] | None = None
) -> Callable[[], None]:
    """Run the index writer in a background thread of this process while it holds the ``search-index``
    lease (one web worker of ``paperfeed serve``, or ``paperfeed worker``). Returns a function that stops it."""
    from paperfeed.ingest.leased import HeldLease, visible

    visible(log)
    stop = threading.Event()
    lease = HeldLease(engine=engine, name=LEASE, ttl=LEASE_TTL, logger=log, what="index writer")
    writer = IndexWriter(engine=engine, settings=settings, model=model)
    writer._serving = True

    def run() -> None:
        while not stop.is_set():
            if not lease.take():
                stop.wait(LEASE_TTL / 4)
                continue
            renewed = time.monotonic()
            while not stop.is_set() and time.monotonic() - renewed < LEASE_TTL / 4:
                try:
                    writer.step()
                except Exception:  # noqa: BLE001 - never let the writer die
                    log.exception("the index writer failed; trying again")
                    stop.wait(5.0)
                stop.wait(LOOP_IDLE)
        lease.release()

    thread = threading.Thread(target=run, name="paperfeed-index-writer", daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(timeout=30)
        if on_stop is not None:
            on_stop()

    return halt
