"""Approximate nearest neighbours: an hnswlib HNSW graph over the live rows of a vector store, on disk.

Chosen by measurement against usearch and faiss (IndexHNSWFlat); see docs/decisions.md, "Dense index".
On real static-model vectors hnswlib matched faiss on build time and latency and usearch on recall, and,
unlike faiss's HNSW, it can take elements out (``mark_deleted``) and grow (``resize_index``), so re-embedded
and deleted papers leave the graph without a rebuild. Labels are row numbers of the vector store; scores are
cosine similarities (inner product of L2-normalised rows).

``ann.hnsw`` is written to a temporary name and renamed. Adding is idempotent (rows already in the graph are
skipped), so a run killed between saving the graph and saving ``meta.json`` heals itself on the next update.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import hnswlib
import numpy as np

# Graph parameters: M links per node, EF_CONSTRUCTION candidates while inserting. A query examines
# EF_SEARCH candidates, more as the graph grows (EF_PER_SQRT_ROW x sqrt(rows), up to EF_SEARCH_MAX): measured
# recall@10 against exact search 0.969 at 100k rows with 512; at 1M rows 512 gave 0.917, 1024 0.946,
# 1536 0.959 (2.7 ms p95), 2048 0.966; the shipped rule (1,600 at 1M) gave 0.957 in bench/search.py
# (docs/decisions.md, "Approximate nearest neighbours"; docs/benchmarks.md, "Search speed").
M = 16
EF_CONSTRUCTION = 128
EF_SEARCH = 512
EF_PER_SQRT_ROW = 1.6
EF_SEARCH_MAX = 4096
ANN_FILE = "ann.hnsw"


class AnnIndex:
    """A persisted HNSW graph of row numbers; ``search`` returns (rows, cosine similarities), best first."""

    def __init__(self, path: Path, dim: int, capacity: int | None = 1024) -> None:
        self.path = path
        self.dim = dim
        self._index = hnswlib.Index(space="ip", dim=dim)
        if capacity is not None:  # None: load_index fills it
            self._index.init_index(max_elements=max(capacity, 16), ef_construction=EF_CONSTRUCTION, M=M)
            self._index.set_num_threads(os.cpu_count() or 1)
        self._labels: set[int] = set()
        self._deleted: set[int] = set()

    @classmethod
    def load(cls, path: Path, dim: int) -> AnnIndex | None:
        """The graph saved at ``path``, or None when there is none (or it is unreadable: rebuild it)."""
        side = path.with_name(path.name + ".json")
        if not (path.is_file() and side.is_file()):
            return None
        try:
            info = json.loads(side.read_text())
            if info.get("dim") != dim:
                return None  # made for other vectors: never load a graph of another dimension
            ann = cls(path, dim, capacity=None)
            ann._index.load_index(str(path))
        except Exception:  # noqa: BLE001 - a damaged or foreign graph is rebuilt from the vectors
            return None
        ann._index.set_num_threads(os.cpu_count() or 1)
        ann._labels = {int(i) for i in ann._index.get_ids_list()}
        ann._deleted = {int(i) for i in info.get("deleted", [])} & ann._labels
        return ann

    def __len__(self) -> int:
        """Rows the graph answers with (deleted ones excluded)."""
        return len(self._labels) - len(self._deleted)

    def missing(self, rows: np.ndarray) -> np.ndarray:
        """The rows among ``rows`` that are not in the graph yet."""
        rows = np.asarray(rows, dtype=np.int64)
        if not self._labels:
            return rows
        labels = self._labels
        return rows[np.fromiter((int(r) not in labels for r in rows), dtype=bool, count=len(rows))]

    def add(self, rows: np.ndarray, vectors: np.ndarray) -> int:
        """Add rows not yet in the graph (multi-threaded); returns how many were added."""
        rows = np.asarray(rows, dtype=np.int64)
        keep = self.missing(rows)
        if len(keep) != len(rows):
            vectors = vectors[np.isin(rows, keep)]
        if not len(keep):
            return 0
        needed = len(self._labels) + len(keep)
        if needed > self._index.get_max_elements():
            self._index.resize_index(max(needed, 2 * self._index.get_max_elements()))
        self._index.add_items(np.ascontiguousarray(vectors, dtype=np.float32), keep)
        self._labels.update(int(r) for r in keep)
        return int(len(keep))

    def remove(self, rows: np.ndarray) -> int:
        """Take rows out of the graph (stale or deleted papers); unknown rows are ignored."""
        removed = 0
        for row in (int(r) for r in np.asarray(rows, dtype=np.int64)):
            if row not in self._labels or row in self._deleted:
                continue
            try:
                self._index.mark_deleted(row)
            except RuntimeError:  # already deleted in a saved graph
                pass
            else:
                removed += 1
            self._deleted.add(row)
        return removed

    def default_ef(self) -> int:
        """Candidates a query examines: enough for recall@10 >= 0.95 at this graph's size."""
        return min(max(EF_SEARCH, int(EF_PER_SQRT_ROW * math.sqrt(len(self)))), EF_SEARCH_MAX)

    def search(self, vector: np.ndarray, k: int, ef: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``k`` nearest rows and their cosine similarity, best first."""
        k = min(k, len(self))
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        self._index.set_ef(max(ef or self.default_ef(), k))
        labels, distances = self._index.knn_query(np.asarray(vector, dtype=np.float32), k=k, num_threads=1)
        return labels[0].astype(np.int64), (1.0 - distances[0]).astype(np.float32)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + f".tmp-{os.getpid()}")
        self._index.save_index(str(tmp))
        os.replace(tmp, self.path)
        side = self.path.with_name(self.path.name + ".json")
        side_tmp = side.with_name(side.name + f".tmp-{os.getpid()}")
        side_tmp.write_text(
            json.dumps(
                {
                    "dim": self.dim,
                    "rows": len(self._labels),
                    "m": M,
                    "ef_construction": EF_CONSTRUCTION,
                    "deleted": sorted(self._deleted),
                }
            )
        )
        os.replace(side_tmp, side)

    def size_bytes(self) -> int:
        return self.path.stat().st_size if self.path.is_file() else 0
