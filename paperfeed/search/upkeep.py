"""Index upkeep: keeping the lexical index and the vectors in step with the store, in the background.

:class:`IndexUpkeep` (tantivy + vector files) and :class:`PgUpkeep` (PostgreSQL full text + pgvector) own the
indexes a searcher reads. Indexes are refreshed explicitly (:meth:`IndexUpkeep.refresh`: ``paperfeed index``,
after a submission) and lazily: before a search, at most every ``CHECK_INTERVAL`` seconds, one cheap query
tells whether the store changed; a small lexical backlog is then indexed at once, the rest and all embedding
in a background thread, so a search never waits for a model.

Meaning-based search is never silently off (docs/search.md): :meth:`IndexUpkeep.dense_state` says how many
papers have vectors. While the configured model (MiniLM) has not embedded most papers (first start, model
change, rebuilt files), a static model fills in first (thousands of papers a second, see ``model_loader``) and
MiniLM replaces it in the background.

A server (``serving=True``) never maps the files under the index directory: it works on private copies and
publishes them (``snapshot.py``); damage to the visible files is found at the next look, reported in every
answer, and repaired in the background.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from paperfeed.config import Settings
from paperfeed.keywords import keep_keywords_up_to_date
from paperfeed.search import index_files as snapshot
from paperfeed.search.dense import DenseIndex
from paperfeed.search.embed import Embedder
from paperfeed.search.lexical import LexicalIndex
from paperfeed.search.model_loader import INTERIM, ModelLoader
from paperfeed.search.private_copies import FolderBusy, PrivateCopies, drop_if_damaged, generation_of
from paperfeed.search.protocols import DenseBackend, LexicalBackend
from paperfeed.search.sync import Progress, file_lock, marker_key, sync_lexical
from paperfeed.store.index_sync import change_marker, count_changed_since, latest_change

log = logging.getLogger(__name__)

CHECK_INTERVAL = 2.0  # seconds between the cheap "did the store change? are the files intact?" looks
INLINE_REFRESH_MAX = 2_000  # a larger lexical backlog is indexed in the background, not in a search
INLINE_WAIT = 5.0  # seconds a search waits for another writer of the lexical index (then it searches as is)
INTERIM_BELOW = 0.9  # the static model fills in while the configured model has vectors for fewer papers


class IndexUpkeep(PrivateCopies):
    """The indexes of one store: tantivy lexical index and vector files under ``settings.index_dir``."""

    backend = "tantivy"
    interim_allowed = True

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
        self.model = model
        self.models = ModelLoader(settings, embedder)
        self.serving = serving
        self.damage: dict[str, str] = {}  # index folder -> what is wrong with its visible files
        self._private = snapshot.private_root("index") if serving and self.backend == "tantivy" else None
        if self._private is not None:
            atexit.register(snapshot.discard, self._private)
        self._generation: dict[str, str | None] = {}  # visible folder -> generation of our private copy
        self._copies = 0
        self._dense: dict[str, DenseBackend] = {}
        self._dense_root: dict[str, Path] = {}
        self._markers: dict[str, Any] = {}
        self._papers = 0
        self._refresh_lock = threading.RLock()
        self._dense_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._checked = 0.0
        self._background: threading.Thread | None = None
        self._seen_latest: Any = False  # the store's latest change at the last look (False: never looked)
        self.lexical: LexicalBackend = self._open_lexical()

    # ------------------------------------------------------------ opening

    def _open_lexical(self, *, locked: bool = False) -> LexicalBackend:
        """The keyword index to read and write: the visible folder for a command, a private copy for a server
        (``locked``: the caller holds the folder's writer lock)."""
        visible = self.lexical_dir
        if not self.serving:
            drop_if_damaged(self, visible, locked=locked)  # derived data: the refresh rebuilds it
            return _open_tantivy(visible)
        target = self._new_private("lexical")
        problem = self._private_copy("lexical", visible, target, locked=locked)
        if problem is not None:
            self._note_damage(visible, problem)
        return _open_tantivy(target)

    def _open_dense(self, model: str, *, locked: bool = False) -> DenseBackend:
        visible = self.dense_dir(model)
        if not self.serving:
            drop_if_damaged(self, visible, locked=locked)
            return DenseIndex.open(self.settings.index_dir, model)
        root = self._dense_root.get(model) or self._copy_dense(model, locked=locked, wait=0.0)
        try:
            return DenseIndex.open(root, model)
        except Exception as exc:  # noqa: BLE001 - unreadable private copy: start it again
            self._note_damage(visible, str(exc))
            self._generation[str(visible)] = "damaged"
            shutil.rmtree(root / "dense" / model, ignore_errors=True)
            return DenseIndex.open(root, model)

    def dense_index(self, model: str | None = None) -> DenseBackend | None:
        """The vectors of ``model`` (default: the configured one), opened on first use (None while another
        writer holds them, or when they cannot be read: the next refresh rebuilds them)."""
        model = model or self.model
        if model is None:
            return None
        if model not in self._dense:
            try:
                opened = self._open_dense(model)
            except FolderBusy:
                return None  # being written (a first start embedding): looked at again at the next search
            except Exception as exc:  # noqa: BLE001 - unusable vectors: rebuilt by the next refresh
                log.warning("cannot read the %s vectors: %s", model, exc)
                return None
            with self._state_lock:
                self._dense.setdefault(model, opened)
        return self._dense.get(model)

    def dense_marker(self, model: str) -> Any:
        dense = self._dense.get(model)
        if isinstance(dense, DenseIndex):
            return dense.store.meta.get("marker")
        return self._markers.get(model)

    # ------------------------------------------------------------ refreshing

    def refresh(self, progress: Progress | None = None, *, dense: bool = True) -> dict[str, Any]:
        """Make papers added, changed or renamed in the store since the last refresh searchable (see
        ``Searcher.refresh``)."""
        started = time.perf_counter()
        with self._refresh_lock:
            if self.damage:
                self.repair()
            with self.engine.connect() as conn:
                key = marker_key(change_marker(conn=conn))
            self._papers = key[0]
            report: dict[str, Any] = dict(self._sync_lexical(key, progress, blocking=True))
            report["keywords"] = keep_keywords_up_to_date(engine=self.engine)  # KEYWORDS: paperfeed/keywords.py
            embedded = 0
            if dense and self.model is not None:
                if self._wants_interim():
                    self._refresh_dense(INTERIM, None, key, blocking=True)
                embedded = self._refresh_dense(self.model, progress, key, blocking=True)
            report["embedded"] = embedded
            self._checked = time.monotonic()
        vectors = self.dense_index() if self.model is not None else None
        report.update(
            papers=key[0],
            lexical_docs=self.lexical.count(),
            vectors=len(vectors) if vectors is not None else 0,
            model=self.model or "none",
            seconds=round(time.perf_counter() - started, 3),
        )
        error = self.models.error(self.model) if self.model else None
        if error:
            report["warning"] = f"semantic search is off: {error}"
        return report

    def _sync_lexical(
        self, key: list[Any], progress: Progress | None, *, blocking: bool, wait: float = 0.0
    ) -> dict[str, int]:
        if self.backend != "tantivy":
            return {"indexed": 0, "deleted": 0}  # PostgreSQL keeps its full-text column in step
        lex = self.lexical
        assert isinstance(lex, LexicalIndex)
        visible = self.lexical_dir

        def before() -> LexicalIndex:
            if self.serving and self._generation.get(str(visible)) not in (generation_of(visible), "damaged"):
                self.lexical = self._open_lexical(locked=True)  # another process refreshed it: use its copy
            assert isinstance(self.lexical, LexicalIndex)
            return self.lexical

        def after(done: LexicalIndex) -> None:
            if self.serving:
                self._generation[str(visible)] = snapshot.publish(done.path, visible)["generation"]
            else:
                snapshot.write_manifest(visible, snapshot.read_manifest(visible))
            self.damage.pop(str(visible), None)

        lock = visible.parent / "lexical.lock"
        return sync_lexical(
            lex, self.engine, key, progress, blocking=blocking, wait=wait, lock_path=lock, before=before, after=after
        )

    def _refresh_dense(self, model: str, progress: Progress | None, key: list[Any], *, blocking: bool) -> int:
        """Embed what changed with ``model``, into a fresh view of the vectors swapped in at the end (readers
        never see a half-updated matrix). Returns how many papers were embedded."""
        emb = self.models.get(model, interim=model != self.model)
        if emb is None:
            return 0
        if not self._dense_lock.acquire(blocking=blocking):
            return 0
        try:
            with file_lock(self.dense_dir(model).with_suffix(".lock"), blocking) as got:
                if not got:
                    return 0
                fresh = self._fresh_dense(model)
                step = (lambda done, total: progress("dense", done, total)) if progress is not None else None
                n = fresh.update(self.engine, emb, progress=step)
                self._mark_dense(model, fresh, key)
                with self._state_lock:
                    self._dense[model] = fresh
                return n
        finally:
            self._dense_lock.release()

    def _fresh_dense(self, model: str) -> DenseBackend:
        """A new view of the vectors to update (readers keep the current one until it is swapped)."""
        if not self.serving:
            return self._open_dense(model, locked=True)
        visible = self.dense_dir(model)
        with self._state_lock:
            root = self._dense_root.get(model)
            if root is None or self._generation.get(str(visible)) not in (generation_of(visible), "damaged"):
                root = self._copy_dense(model, locked=True)  # another process embedded: continue from its files
        return self._open_dense(model, locked=True)

    def _mark_dense(self, model: str, fresh: DenseBackend, key: list[Any]) -> None:
        assert isinstance(fresh, DenseIndex)
        fresh.store.meta["marker"] = key
        fresh.store.save_meta()
        visible = self.dense_dir(model)
        if self.serving:
            self._generation[str(visible)] = snapshot.publish(fresh.folder, visible)["generation"]
        else:
            snapshot.write_manifest(visible, snapshot.read_manifest(visible))
        self.damage.pop(str(visible), None)

    def _wants_interim(self) -> bool:
        """Fill in with the static model while the configured one has vectors for too few papers."""
        if not self.interim_allowed or self.model in (None, INTERIM) or not self._papers:
            return False
        dense = self.dense_index()
        have = len(dense) if dense is not None else 0
        return have < INTERIM_BELOW * self._papers

    def maybe_refresh(self) -> list[str]:
        """Before a search: check the files (cheap, every time) and look at the store at most every
        CHECK_INTERVAL seconds. Returns what is damaged at this moment (the answer must say so, even when the
        background repair is done before the answer is)."""
        now = time.monotonic()
        try:
            self.check_files()
        except Exception:  # noqa: BLE001 - a failed look must not fail the search
            log.exception("checking the search index files failed")
        damage = list(self.damage.values())
        if now - self._checked < CHECK_INTERVAL and not damage:
            return damage
        self._checked = now
        if not self._refresh_lock.acquire(blocking=False):
            return damage  # another thread is refreshing: search what is there
        try:
            self._catch_up()
        except Exception:  # noqa: BLE001 - a failed refresh must not fail the search
            log.exception("search index refresh failed; searching the index as it is")
        finally:
            self._refresh_lock.release()
        return damage

    def _catch_up(self) -> None:
        with self.engine.connect() as conn:
            latest = latest_change(conn=conn)
            if self._seen_latest == latest and not self.damage:
                return  # nothing changed since the indexes were last found up to date
            key = marker_key(change_marker(conn=conn))
            self._papers = key[0]
            lexical_stale = self._lexical_stale(key)
            if lexical_stale and not self.damage and self._lexical_backlog(conn) <= INLINE_REFRESH_MAX:
                self._sync_lexical(key, None, blocking=False, wait=INLINE_WAIT)
                lexical_stale = self._lexical_stale(key)  # still stale: another writer holds the index
        dense_stale = self.model is not None and self.models.error(self.model) is None and self._dense_stale(key)
        if lexical_stale or dense_stale or self.damage:
            self.start_background(key, lexical=lexical_stale, dense=dense_stale)
        else:
            self._seen_latest = latest

    def _dense_stale(self, key: list[Any]) -> bool:
        assert self.model is not None
        if self.dense_index() is None or self.dense_marker(self.model) != key:
            return True
        return self._wants_interim() and self.dense_marker(INTERIM) != key

    def _lexical_stale(self, key: list[Any]) -> bool:
        if self.backend != "tantivy":
            return False
        assert isinstance(self.lexical, LexicalIndex)
        self.lexical.reload_meta()
        return bool(self.lexical.meta.get("marker") != key)

    def _lexical_backlog(self, conn: Connection) -> int:
        """Papers changed since the lexical watermark (what a refresh would read)."""
        assert isinstance(self.lexical, LexicalIndex)
        since = self.lexical.meta.get("watermark")
        return count_changed_since(conn=conn, since=datetime.fromisoformat(since) if since else None)

    def start_background(self, key: list[Any] | None = None, *, lexical: bool = True, dense: bool = True) -> None:
        """Catch up in a background thread (one at a time): repair, lexical, interim vectors, model vectors."""
        if self._background is not None and self._background.is_alive():
            return
        self._background = threading.Thread(target=self._job(key, lexical, dense), name="paperfeed-index", daemon=True)
        self._background.start()

    def _job(self, key: list[Any] | None, lexical: bool, dense: bool) -> Callable[[], None]:
        def run() -> None:
            try:
                nonlocal key
                if key is None:
                    with self.engine.connect() as conn:
                        key = marker_key(change_marker(conn=conn))
                    self._papers = key[0]
                if self.damage:
                    self.repair()
                if lexical or self.damage:
                    self._sync_lexical(key, None, blocking=True)
                if dense and self.model is not None:
                    if self._wants_interim():
                        self._refresh_dense(INTERIM, None, key, blocking=True)
                    self._refresh_dense(self.model, None, key, blocking=True)
                keep_keywords_up_to_date(engine=self.engine)  # KEYWORDS: keyphrases of new papers
                self._checked = 0.0  # look again at the next search
            except Exception:  # noqa: BLE001
                log.exception("refreshing the search index in the background failed; results may miss new papers")

        return run

    def wait_background(self, timeout: float | None = None) -> None:
        if self._background is not None:
            self._background.join(timeout)

    def close(self) -> None:
        """Forget the private copies (a server shutting down)."""
        snapshot.discard(self._private)

    @property
    def papers(self) -> int:
        """Papers in the store at the last look (counted now when none was made yet)."""
        if not self._papers and self._seen_latest is False:
            with self.engine.connect() as conn:
                self._papers = change_marker(conn=conn)[0]
        return self._papers


class PgUpkeep(IndexUpkeep):
    """PostgreSQL: the full-text column is kept in step by the database; vectors live in one table."""

    backend = "postgres"
    interim_allowed = False  # one vector table: a second model would replace the first

    def _open_lexical(self, *, locked: bool = False) -> LexicalBackend:
        from paperfeed.search.pg_backend import PgLexical

        return PgLexical(self.engine)

    def _open_dense(self, model: str, *, locked: bool = False) -> DenseBackend:
        from paperfeed.search.pg_dense import PgDense

        return PgDense.open(self.engine, model)

    def _fresh_dense(self, model: str) -> DenseBackend:
        return self._open_dense(model)

    def _mark_dense(self, model: str, fresh: DenseBackend, key: list[Any]) -> None:
        self._markers[model] = key


def _open_tantivy(path: Path) -> LexicalIndex:
    """Open a lexical index; one tantivy refuses (damaged files) is started again (rebuilt from the store)."""
    try:
        return LexicalIndex.open(path)
    except Exception as exc:  # noqa: BLE001 - includes tantivy panics surfaced as exceptions
        log.warning("the search index in %s cannot be opened (%s); rebuilding it", path, exc)
        shutil.rmtree(path, ignore_errors=True)
        return LexicalIndex.open(path)
