"""The approximate index agrees with exact search, persists, and follows incremental updates."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Engine

from paperfeed.search import dense
from paperfeed.search.ann import AnnIndex
from paperfeed.search.dense import DenseIndex, text_hash

pytest.importorskip("hnswlib")


def _clustered(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    """Unit vectors around 20 centres: the clumpy shape real embeddings have."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim))
    x = centres[rng.integers(0, 20, n)] + 0.6 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _recall(found: list[np.ndarray], truth: list[np.ndarray]) -> float:
    hits = [len(set(f.tolist()) & set(t.tolist())) / len(t) for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits))


def test_ann_recall_against_exact_search(tmp_path) -> None:
    x = _clustered(3000)
    queries = _clustered(50, seed=1)
    ann = AnnIndex(tmp_path / "ann.hnsw", 32)
    assert ann.add(np.arange(len(x)), x) == len(x)
    truth = [np.argsort(-(x @ q))[:10] for q in queries]
    found = [ann.search(q, 10)[0] for q in queries]
    assert _recall(found, truth) >= 0.95
    rows, sims = ann.search(queries[0], 10)
    assert np.allclose(sims, x[rows] @ queries[0], atol=1e-4)  # scores are cosine similarities
    assert list(sims) == sorted(sims, reverse=True)


def test_ann_persists_adds_idempotently_and_removes(tmp_path) -> None:
    x = _clustered(500)
    ann = AnnIndex(tmp_path / "ann.hnsw", 32)
    ann.add(np.arange(400), x[:400])
    ann.save()
    loaded = AnnIndex.load(tmp_path / "ann.hnsw", 32)
    assert loaded is not None and len(loaded) == 400
    assert loaded.add(np.arange(500), x) == 100  # rows already there are skipped
    assert loaded.remove(np.array([7, 7000])) == 1
    rows, _ = loaded.search(x[7], 5)
    assert 7 not in rows.tolist()
    assert AnnIndex.load(tmp_path / "missing.hnsw", 32) is None
    assert AnnIndex.load(tmp_path / "ann.hnsw", 16) is None  # another dimension: rebuild


class _Fixed:
    """Vectors given up front, looked up by text: lets the test drive DenseIndex with known geometry."""

    name, dim, fingerprint = "static", 32, "fixed-32"

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.encode(texts)

    def encode(self, texts: list[str], batch_size: int = 256) -> np.ndarray:
        return np.stack([self.table[t] for t in texts]) if texts else np.zeros((0, 32), np.float32)


def test_dense_index_switches_to_the_graph_and_updates_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(dense, "EXACT_MAX_ROWS", 200)
    x = _clustered(1200, seed=3)
    ids = [f"p{i:05d}" for i in range(len(x))]
    index = DenseIndex.open(tmp_path, "static")
    index.prepare(_Fixed({}))
    index.add(ids[:1000], x[:1000], [text_hash(i) for i in ids[:1000]])
    index.commit()
    assert index.ann is not None and len(index.ann) == 1000
    index.add(ids[1000:], x[1000:], [text_hash(i) for i in ids[1000:]])  # incremental: no rebuild
    moved = _clustered(1, seed=9)[0]
    index.add([ids[5]], moved[None, :], ["changed"])  # an updated paper gets a new vector
    index.commit()
    reopened = DenseIndex.open(tmp_path, "static")
    assert reopened.ann is not None and len(reopened.ann) == len(x) == len(reopened)
    queries = _clustered(40, seed=4)
    truth = [np.array(reopened.search_exact(q, 10)[0]) for q in queries]
    found = [np.array(reopened.search(q, 10)[0]) for q in queries]
    assert _recall(found, truth) >= 0.95
    got, _ = reopened.search(moved, 3)
    assert got[0] == ids[5] and got.count(ids[5]) == 1


def test_empty_index_searches_to_nothing(tmp_path, engine: Engine) -> None:
    index = DenseIndex.open(tmp_path, "static")
    assert len(index) == 0 and index.ids == []
    assert index.search(np.ones(8, dtype=np.float32), 5) == ([], [])
