"""Dense vectors inside PostgreSQL (pgvector): :class:`PgDense`, the surface of ``DenseIndex`` over
``paper_vectors`` with an HNSW index (cosine) on ``embedding::vector(dim)``. SQL in
:mod:`paperfeed.store.pg_vectors`; see :mod:`paperfeed.search.pg_backend` for the design.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from time import monotonic
from typing import Any

import numpy as np
from sqlalchemy import Engine

from paperfeed.search import ann
from paperfeed.search.embed import Embedder
from paperfeed.search.pg_backend import (
    COUNT_TTL,
    EF_SEARCH_MAX,
    EF_SEARCH_MIN,
    FILTER_EXACT_MAX,
    HNSW_BUILD_MEMORY_MAX,
    HNSW_BUILD_MEMORY_MIN,
    HNSW_BYTES_PER_NODE,
    STATE_KEY,
    PgSearchError,
    constraints,
    text_hash,
)
from paperfeed.search.query import ParsedQuery
from paperfeed.search.retrievers import LexicalSearch, query_vector
from paperfeed.store import pg_vectors as vsql
from paperfeed.store.paper_order import iter_newest_first
from paperfeed.store.papers import now_utc
from paperfeed.store.state import get_state, set_state

# Papers embedded per transaction: what a killed run can lose (the next run skips what was committed).
COMMIT_ROWS = 1000


class PgDense:
    """The vectors of one model in ``paper_vectors``, searched by cosine similarity through HNSW."""

    def __init__(self, engine: Engine, model_name: str) -> None:
        if engine.dialect.name != "postgresql":
            raise PgSearchError(f"PostgreSQL search needs a PostgreSQL database, not {engine.dialect.name}")
        self.engine = engine
        self.model_name = model_name
        self._count: tuple[int, float] | None = None
        with engine.connect() as conn:
            self.meta: dict[str, Any] = dict(get_state(conn=conn, key=STATE_KEY) or {})

    @classmethod
    def open(cls, engine: Engine, model_name: str) -> PgDense:
        return cls(engine, model_name)

    # ------------------------------------------------------------ reading

    @property
    def dim(self) -> int:
        return int(self.meta.get("dim") or 0)

    @property
    def fingerprint(self) -> str:
        return str(self.meta.get("fingerprint") or "")

    def __len__(self) -> int:
        """How many papers have a vector (cached ``COUNT_TTL`` seconds: searches ask before each query)."""
        now = monotonic()
        if self._count is None or now - self._count[1] > COUNT_TTL:
            with self.engine.connect() as conn:
                self._count = (vsql.count_vectors(conn=conn), now)
        return self._count[0]

    def __contains__(self, paper_id: object) -> bool:
        with self.engine.connect() as conn:
            return vsql.has_vector(conn=conn, paper_id=str(paper_id))

    def matches(self, embedder: Embedder) -> bool:
        """True when the stored vectors were made by ``embedder`` (same weights and dimension)."""
        return self.fingerprint == embedder.fingerprint and self.dim == embedder.dim

    def vector(self, paper_id: str) -> np.ndarray | None:
        with self.engine.connect() as conn:
            found = vsql.get_vector(conn=conn, paper_id=paper_id)
        return None if found is None else found[0]

    def vectors(self, ids: Collection[str]) -> tuple[list[str], np.ndarray]:
        """Those of ``ids`` that have a vector, and their vectors as rows in that order (one query)."""
        from paperfeed.store.related import pg_vectors

        with self.engine.connect() as conn:
            raw = pg_vectors(conn=conn, ids=list(ids))
        found = [pid for pid in ids if pid in raw]
        if not found:
            return [], np.zeros((0, self.dim), dtype=np.float32)
        return found, np.stack([np.asarray(raw[pid], dtype=np.float32).ravel() for pid in found])

    def ef_search(self, k: int) -> int:
        """``hnsw.ef_search`` for ``k`` results: at least ``k``, wider as the table grows (pgvector's cap)."""
        wanted = max(k, EF_SEARCH_MIN, int(ann.EF_PER_SQRT_ROW * math.sqrt(len(self))))
        return min(wanted, EF_SEARCH_MAX)

    def _checked(self, vector: np.ndarray) -> np.ndarray:
        return query_vector(vector, dim=self.dim, model=self.model_name, error=PgSearchError)

    def search(self, vector: np.ndarray, k: int) -> tuple[list[str], list[float]]:
        """The ``k`` papers nearest to ``vector`` by cosine similarity, best first."""
        if k <= 0 or not self.dim:
            return [], []
        vec = self._checked(vector)
        with self.engine.begin() as conn:
            return vsql.nearest(conn=conn, vector=vec, dim=self.dim, k=k, ef_search=self.ef_search(k))

    def search_filtered(
        self, vector: np.ndarray, k: int, *, query: ParsedQuery, lexical: LexicalSearch
    ) -> tuple[list[str], list[float]]:
        """The ``k`` papers nearest to ``vector`` among those that satisfy ``query``'s constraints: an exact
        scan of them when at most ``FILTER_EXACT_MAX`` pass, else the HNSW index with the filter in the same
        statement (as many rows as pgvector returns), and an exact scan if that did not fill ``k``."""
        if k <= 0 or not self.dim:
            return [], []
        vec = self._checked(vector)
        where = constraints(query)
        with self.engine.begin() as conn:
            if lexical.count_matching(query) > FILTER_EXACT_MAX:
                ids, scores = vsql.nearest(
                    conn=conn, vector=vec, dim=self.dim, k=k, ef_search=EF_SEARCH_MAX, where=where
                )
                if len(ids) >= k:
                    return ids, scores
            return vsql.nearest_exact(conn=conn, vector=vec, dim=self.dim, k=k, where=where)

    def similar(self, paper_id: str, k: int) -> tuple[list[str], list[float]]:
        """The ``k`` papers nearest to ``paper_id``, without itself and exact duplicates (same text)."""
        with self.engine.connect() as conn:
            found = vsql.get_vector(conn=conn, paper_id=paper_id)
            if found is None or k <= 0:
                return [], []
            ids, scores = self.search(found[0], k + 10)
            same = vsql.ids_with_text_hash(conn=conn, text_hash=found[1])
        pairs = [(i, s) for i, s in zip(ids, scores, strict=True) if i != paper_id and i not in same][:k]
        return [i for i, _ in pairs], [s for _, s in pairs]

    # ------------------------------------------------------------ writing

    def prepare(self, embedder: Embedder) -> None:
        """Make the table ready for ``embedder``'s vectors: another model's vectors (and their HNSW index)
        are dropped first, so spaces are never mixed."""
        if self.matches(embedder):
            return
        with self.engine.begin() as conn:
            vsql.delete_all_vectors(conn=conn)
            self.meta = {
                "model": embedder.name,
                "fingerprint": embedder.fingerprint,
                "dim": int(embedder.dim),
                "watermark": None,
            }
            set_state(conn=conn, key=STATE_KEY, value=self.meta)
        self._count = None

    def ensure_index(self) -> None:
        """Create the HNSW index (cosine) for this model's dimension if missing. Built after a bulk load,
        which is several times faster than growing it row by row; later rows are added to it as written."""
        if not self.dim:
            return
        with self.engine.begin() as conn:
            vsql.ensure_hnsw_index(
                conn=conn,
                dim=self.dim,
                bytes_per_row=4 * self.dim + HNSW_BYTES_PER_NODE,
                memory_min=HNSW_BUILD_MEMORY_MIN,
                memory_max=HNSW_BUILD_MEMORY_MAX,
            )

    def add(self, ids: Sequence[str], vectors: np.ndarray, hashes: Sequence[str]) -> None:
        """Store (or replace) vectors for ``ids``; ``hashes`` are the sha1 of each embedded text."""
        if not (len(ids) == len(vectors) == len(hashes)):
            raise ValueError("ids, vectors and hashes must have the same length")
        if len(ids) and (vectors.ndim != 2 or vectors.shape[1] != self.dim):
            raise PgSearchError(f"vectors have shape {vectors.shape}, expected (n, {self.dim})")
        with self.engine.begin() as conn:
            vsql.upsert_vectors(conn=conn, ids=ids, vectors=vectors, hashes=hashes, fingerprint=self.fingerprint)
        self._count = None

    @property
    def marker(self) -> Any:
        """The store's change marker these vectors were last brought up to date with."""
        return self.meta.get("marker")

    def set_marker(self, marker: Any) -> None:
        self.meta["marker"] = marker
        with self.engine.begin() as conn:
            set_state(conn=conn, key=STATE_KEY, value=self.meta)

    def commit(self) -> None:
        """Nothing to merge: every write is already searchable (kept for the ``DenseIndex`` surface)."""

    def update(
        self,
        engine: Engine,
        embedder: Embedder,
        progress: Any = None,
        batch_size: int | None = None,
        *,
        flush_seconds: float = 0.0,
        on_flush: Any = None,
    ) -> int:
        """Embed papers added or changed since the last update, newest first (unchanged text is skipped by its
        hash, so a killed run resumes without redoing work);
        vectors of deleted papers go with them (foreign key). Returns how many were embedded."""
        from paperfeed.search.embed import paper_text

        self.prepare(embedder)
        started = now_utc()
        since = datetime.fromisoformat(self.meta["watermark"]) if self.meta.get("watermark") else None
        embedded = seen = 0
        with engine.connect() as conn:
            total, batches = iter_newest_first(conn=conn, changed_since=since, batch_size=batch_size or COMMIT_ROWS)
            for batch in batches:
                known = vsql.text_hashes(conn=conn, ids=[p.id for p in batch])
                todo = [
                    (p.id, t, text_hash(t)) for p in batch for t in [paper_text(p)] if known.get(p.id) != text_hash(t)
                ]
                if todo:
                    self.add([i for i, _, _ in todo], embedder.encode([t for _, t, _ in todo]), [h for _, _, h in todo])
                embedded += len(todo)
                seen += len(batch)
                if todo and on_flush is not None:
                    on_flush()  # committed: the writer says how many vectors are there now
                if progress is not None:
                    progress(seen, total)
        self.ensure_index()
        self.meta["watermark"] = (started - timedelta(minutes=2)).isoformat()
        with self.engine.begin() as conn:
            set_state(conn=conn, key=STATE_KEY, value=self.meta)
        return embedded
