"""Dense retrieval: the vectors of every paper for one model, searched by cosine similarity.

``DenseIndex.open(settings.index_dir, "static")`` reads ``<index_dir>/dense/static/`` (see ``vectors.py``
for the files). ``update`` embeds the papers added or changed since the last update, resumably; vectors made
by another model (another fingerprint or dimension) are thrown away first, so spaces are never mixed.

Search is exact (one matrix product) up to ``EXACT_MAX_ROWS`` live vectors, where it is as fast as a graph and
needs no build; above that, an HNSW graph (``ann.py``) kept on disk and updated incrementally answers.
Every retriever returns ``(ids, scores)``, best first.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from paperfeed.search.ann import ANN_FILE, AnnIndex
from paperfeed.search.embed import Embedder, paper_text
from paperfeed.search.query import ParsedQuery
from paperfeed.search.retrievers import LexicalSearch, query_vector
from paperfeed.search.vectors import VectorStore
from paperfeed.store.paper_order import iter_newest_first
from paperfeed.store.papers import all_ids, now_utc

# Below this many live vectors exact search is used (measured: see docs/decisions.md, "Dense index").
EXACT_MAX_ROWS = 20_000
# A filter that keeps at most this many papers is searched exactly among them (their ids cost about 2.5 us
# each to read from the lexical index, the product a few ms); a broader one through the graph, sized by
# how much of the corpus passes (docs/decisions.md, "Filters in every mode").
FILTER_EXACT_MAX = 20_000
# A write (one segment) every FLUSH_ROWS papers or FLUSH_SECONDS, whichever first: the resume granularity.
FLUSH_ROWS = 50_000
READ_ROWS = 1000  # papers read (and reported to the progress callback) at a time
FLUSH_SECONDS = 30.0
MAX_SEGMENTS = 8
STALE_FRACTION = 0.25  # above it, stale rows are dropped and the graph rebuilt
# Papers changed this long before an update started are looked at again by the next one (text hash decides).
WATERMARK_MARGIN = timedelta(minutes=2)

Progress = Callable[[int, int | None], None]  # (papers looked at so far, total or None when unknown)


class DenseIndexError(RuntimeError):
    """Vectors that cannot be used for this request; the message says what to run."""


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class DenseIndex:
    """The stored vectors of one model, with exact and approximate search over the live rows."""

    def __init__(self, folder: Path, model_name: str, store: VectorStore) -> None:
        self.folder = folder
        self.model_name = model_name
        self.store = store
        self.ann: AnnIndex | None = None
        self._refresh()

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, index_dir: Path, model_name: str) -> DenseIndex:
        """The vectors of ``model_name`` under ``index_dir`` (empty when none were made yet)."""
        folder = Path(index_dir) / "dense" / model_name
        store = VectorStore.load(folder)
        index = cls(folder, model_name, store)
        if index.dim and len(index) > EXACT_MAX_ROWS:
            index.ann = AnnIndex.load(folder / ANN_FILE, index.dim)
        return index

    def _refresh(self) -> None:
        """Recompute row bookkeeping: the latest row of each id, minus dropped rows, is live."""
        self._matrix = self.store.matrix()
        self._row_ids = self.store.all_ids()
        self._row_hashes = self.store.all_hashes()
        row_of: dict[str, int] = {}
        for row, pid in enumerate(self._row_ids):
            row_of[pid] = row
        for row in self.store.meta.get("dropped_rows", []):
            if row < len(self._row_ids) and row_of.get(self._row_ids[row]) == row:
                del row_of[self._row_ids[row]]
        self._row_of = row_of
        self._live = np.zeros(len(self._row_ids), dtype=bool)
        if row_of:
            self._live[np.fromiter(row_of.values(), dtype=np.int64, count=len(row_of))] = True

    # ------------------------------------------------------------ reading

    @property
    def dim(self) -> int:
        return int(self.store.meta.get("dim") or 0)

    @property
    def fingerprint(self) -> str:
        return str(self.store.meta.get("fingerprint") or "")

    @property
    def ids(self) -> list[str]:
        """Ids of the papers that have a vector, in row order."""
        return [self._row_ids[r] for r in np.flatnonzero(self._live)]

    def __len__(self) -> int:
        return len(self._row_of)

    def __contains__(self, paper_id: object) -> bool:
        return paper_id in self._row_of

    def matches(self, embedder: Embedder) -> bool:
        """True when these vectors were made by ``embedder`` (same weights), so its queries can search them."""
        return self.fingerprint == embedder.fingerprint and self.dim == embedder.dim

    def vector(self, paper_id: str) -> np.ndarray | None:
        row = self._row_of.get(paper_id)
        return None if row is None else np.array(self._matrix[row], dtype=np.float32)

    def vectors(self, ids: Collection[str]) -> tuple[list[str], np.ndarray]:
        """Those of ``ids`` that have a vector, and their vectors as rows in that order (one read)."""
        found = [pid for pid in ids if pid in self._row_of]
        rows = np.fromiter((self._row_of[pid] for pid in found), dtype=np.int64, count=len(found))
        return found, np.asarray(self._matrix[rows], dtype=np.float32).reshape(len(found), self.dim)

    def search(self, vector: np.ndarray, k: int) -> tuple[list[str], list[float]]:
        """The ``k`` papers nearest to ``vector`` by cosine similarity, best first."""
        return self._search(vector, k)

    def search_filtered(
        self, vector: np.ndarray, k: int, *, query: ParsedQuery, lexical: LexicalSearch
    ) -> tuple[list[str], list[float]]:
        """The ``k`` papers nearest to ``vector`` among those that satisfy ``query``'s constraints (read
        from ``lexical``): exactly among them when they are few, else through the graph with enough
        candidates for the share of papers that pass, and exactly again if that did not fill ``k``."""
        among = lexical.matching_ids(query, FILTER_EXACT_MAX)
        if among is not None:
            return self.search_among(vector, k, among)
        share = lexical.count_matching(query) / max(len(self), 1)
        fetch = min(len(self), int(2 * k / max(share, 1e-6)) + k)
        ids, scores = self._search(vector, fetch)
        keep = lexical.filter_ids(query, ids)
        pairs = [(i, s) for i, s in zip(ids, scores, strict=True) if i in keep][:k]
        if len(pairs) < k and fetch < len(self):
            return self.search_among(vector, k, lexical.matching_ids(query, len(self)) or [])
        return [i for i, _ in pairs], [s for _, s in pairs]

    def search_among(self, vector: np.ndarray, k: int, ids: Collection[str]) -> tuple[list[str], list[float]]:
        """Exact search restricted to ``ids`` (those without a vector are skipped)."""
        rows = np.fromiter((r for r in map(self._row_of.get, ids) if r is not None), dtype=np.int64)
        if k <= 0 or not len(rows):
            return [], []
        vec = self._checked(vector)
        rows = np.sort(rows)  # in file order: reading a memory-mapped matrix forwards
        scores = np.asarray(self._matrix[rows] @ vec, dtype=np.float32)
        top = np.argsort(-scores, kind="stable")[:k]
        return [self._row_ids[r] for r in rows[top]], [float(s) for s in scores[top]]

    def similar(self, paper_id: str, k: int) -> tuple[list[str], list[float]]:
        """The ``k`` papers nearest to ``paper_id``, without itself and exact duplicates (same text)."""
        row = self._row_of.get(paper_id)
        if row is None or k <= 0:
            return [], []
        own_hash = self._row_hashes[row]
        ids, scores = self._search(np.asarray(self._matrix[row], dtype=np.float32), k + 10)
        out_ids, out_scores = [], []
        for pid, score in zip(ids, scores, strict=True):
            r = self._row_of[pid]
            if pid == paper_id or self._row_hashes[r] == own_hash:
                continue
            out_ids.append(pid)
            out_scores.append(score)
            if len(out_ids) == k:
                break
        return out_ids, out_scores

    def _search(self, vector: np.ndarray, k: int, exact: bool = False) -> tuple[list[str], list[float]]:
        if k <= 0 or not len(self):
            return [], []
        vec = self._checked(vector)
        rows = sims = None
        if self.ann is not None and not exact and len(self) > EXACT_MAX_ROWS:
            try:
                rows, sims = self.ann.search(vec, k)
            except RuntimeError:  # hnswlib finds too few live rows (many deleted): answer exactly
                rows = None
        if rows is None or sims is None:
            rows, sims = self.exact_rows(vec, k)
        return [self._row_ids[r] for r in rows], [float(s) for s in sims]

    def _checked(self, vector: np.ndarray) -> np.ndarray:
        return query_vector(vector, dim=self.dim, model=self.model_name, error=DenseIndexError)

    def exact_rows(self, vec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Brute force: every live row's cosine with ``vec`` (a matrix product), top ``k`` best first."""
        scores = np.asarray(self._matrix @ vec, dtype=np.float32)
        if not self._live.all():
            scores[~self._live] = -np.inf
        k = min(k, len(self))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return top, scores[top]

    def search_exact(self, vector: np.ndarray, k: int) -> tuple[list[str], list[float]]:
        """Like ``search`` but always brute force: the reference the graph is measured against."""
        return self._search(vector, k, exact=True)

    # ------------------------------------------------------------ updating

    @property
    def marker(self) -> Any:
        """The store's change marker these vectors were last brought up to date with."""
        return self.store.meta.get("marker")

    def set_marker(self, marker: Any) -> None:
        self.store.meta["marker"] = marker
        self.store.save_meta()

    def update(
        self,
        engine: Engine,
        embedder: Embedder,
        progress: Progress | None = None,
        batch_size: int | None = None,
        *,
        flush_seconds: float = FLUSH_SECONDS,
        on_flush: Callable[[], None] | None = None,
    ) -> int:
        """Embed papers added or changed since the last update; returns how many were embedded.

        Newest papers first. Resumable: vectors are committed in segments (every FLUSH_ROWS papers or
        FLUSH_SECONDS), so a killed run loses at most one segment's work and the next run skips what is stored.
        A different model (fingerprint or dimension) starts a fresh, empty space first.
        """
        self._ensure_model(embedder)
        meta = self.store.meta
        pending = meta.get("pending")
        if pending is None:
            pending = {"since": meta.get("watermark"), "started": now_utc().isoformat()}
            meta["pending"] = pending
            self.store.save_meta()
        since = datetime.fromisoformat(pending["since"]) if pending["since"] else None
        embedded = self._embed_changed(
            engine, embedder, since, progress, batch_size or READ_ROWS, flush_seconds, on_flush or (lambda: None)
        )
        with engine.connect() as conn:
            present = set(all_ids(conn=conn))
        self._drop_missing(present)
        started = datetime.fromisoformat(pending["started"])
        meta["watermark"] = (started - WATERMARK_MARGIN).isoformat()
        meta.pop("pending", None)
        self.store.save_meta()
        self.commit()
        return embedded

    def _ensure_model(self, embedder: Embedder) -> None:
        meta = self.store.meta
        if meta.get("fingerprint") == embedder.fingerprint and meta.get("dim") == embedder.dim:
            return
        self._drop_ann()
        self.store.reset(model=embedder.name, fingerprint=embedder.fingerprint, dim=embedder.dim, watermark=None)
        self._refresh()

    def _embed_changed(
        self,
        engine: Engine,
        embedder: Embedder,
        since: datetime | None,
        progress: Progress | None,
        batch_size: int,
        flush_seconds: float,
        on_flush: Callable[[], None],
    ) -> int:
        """Embed papers whose text has no vector yet, newest first. A resumed run reads again the papers of
        the interrupted one and skips those whose vectors were committed (same text hash)."""
        buf_vecs: list[np.ndarray] = []
        buf_ids: list[str] = []
        buf_hashes: list[str] = []
        embedded = seen = 0
        last_flush = time.monotonic()
        with engine.connect() as conn:
            total, batches = iter_newest_first(conn=conn, changed_since=since, batch_size=batch_size)
            for batch in batches:
                todo = []
                for p in batch:
                    text = paper_text(p)
                    digest = text_hash(text)
                    row = self._row_of.get(p.id)
                    if row is None or self._row_hashes[row] != digest:
                        todo.append((p.id, text, digest))
                if todo:
                    buf_vecs.append(embedder.encode([t for _, t, _ in todo]))
                    buf_ids.extend(i for i, _, _ in todo)
                    buf_hashes.extend(h for _, _, h in todo)
                    embedded += len(todo)
                seen += len(batch)
                if len(buf_ids) >= FLUSH_ROWS or time.monotonic() - last_flush > flush_seconds:
                    self._flush(buf_vecs, buf_ids, buf_hashes)
                    on_flush()  # the writer publishes what is flushed (readers see vectors as they come)
                    last_flush = time.monotonic()
                if progress is not None:
                    progress(seen, total)
        self._flush(buf_vecs, buf_ids, buf_hashes)
        return embedded

    def _flush(self, vecs: list[np.ndarray], ids: list[str], hashes: list[str]) -> None:
        """Commit buffered vectors as one segment (with the resume position in meta.json), then clear."""
        if ids:
            self.add(list(ids), np.concatenate(vecs), list(hashes))
        else:
            self.store.save_meta()
        vecs.clear()
        ids.clear()
        hashes.clear()

    def prepare(self, embedder: Embedder) -> None:
        """Make this index ready for ``embedder``'s vectors: a different model empties it first."""
        self._ensure_model(embedder)

    def add(self, ids: list[str], vectors: np.ndarray, hashes: list[str]) -> None:
        """Store vectors for ``ids`` (one segment; a known id gets a new row, its old row goes stale).

        ``hashes`` are the sha1 of each embedded text (``text_hash``), used to skip unchanged papers later.
        Call ``commit`` afterwards to merge files and bring the graph up to date.
        """
        if not (len(ids) == len(vectors) == len(hashes)):
            raise ValueError("ids, vectors and hashes must have the same length")
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise DenseIndexError(f"vectors have shape {vectors.shape}, expected (n, {self.dim})")
        self.store.append(vectors, ids, hashes)
        self._refresh()

    def commit(self) -> None:
        """Merge segments, drop stale rows when they pile up, and add new rows to the graph."""
        self.store.remove_debris()
        self._maintain()

    def _drop_missing(self, present: set[str]) -> None:
        gone = [row for pid, row in self._row_of.items() if pid not in present]
        if gone:
            self.store.meta["dropped_rows"] = sorted({*self.store.meta.get("dropped_rows", []), *gone})
            self._refresh()

    def _maintain(self) -> None:
        """Keep the files few and the graph in step: merge segments, drop stale rows, add new rows."""
        rows = len(self._row_ids)
        stale = rows - len(self)
        if rows and stale > STALE_FRACTION * rows:
            keep = np.flatnonzero(self._live)
            self.store.meta["dropped_rows"] = []
            self.store.compact(keep)
            self._drop_ann()
            self._refresh()
        elif len(self.store.segments) > MAX_SEGMENTS:
            self.store.compact()
            self._refresh()
        self.sync_ann()

    def _drop_ann(self) -> None:
        for path in (self.folder / ANN_FILE, self.folder / (ANN_FILE + ".json")):
            path.unlink(missing_ok=True)
        self.ann = None

    def sync_ann(self) -> None:
        """Build or update the graph when there are more than EXACT_MAX_ROWS live vectors."""
        if len(self) <= EXACT_MAX_ROWS:
            return
        if self.ann is None:
            self.ann = AnnIndex.load(self.folder / ANN_FILE, self.dim) or AnnIndex(self.folder / ANN_FILE, self.dim)
        changed = self.ann.remove(np.flatnonzero(~self._live))
        missing = self.ann.missing(np.flatnonzero(self._live))
        changed += self.ann.add(missing, np.asarray(self._matrix[missing]))
        if changed or not self.ann.path.is_file():
            self.ann.save()
