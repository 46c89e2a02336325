"""Compare usearch, faiss (HNSW) and hnswlib on real static-model vectors: the measurement behind ann.py.

    .venv/bin/python bench/ann_compare.py                     # 20k papers: a few minutes
    .venv/bin/python bench/ann_compare.py --size 100000 --queries 200
    .venv/bin/python bench/ann_compare.py --size 1000000 --libs hnswlib --ef 128,256,512

Embeds a synthetic corpus (bench/corpus.py) with the static model, builds each index with the same graph
parameters (M=16, ef_construction=128; search ef=64 unless --ef), and prints build time, index size, recall@10
against exact search and query latency p50/p95 (one query at a time, as a search request does).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import generate, queries  # noqa: E402

from paperfeed.config import Settings  # noqa: E402
from paperfeed.search.embed import get_embedder  # noqa: E402

M, EF_CONSTRUCTION = 16, 128


def embed_corpus(size: int, settings: Settings, cache: Path) -> np.ndarray:
    emb = get_embedder("static", settings)
    path = cache / f"{emb.fingerprint}-{size}.npy"
    if path.exists():
        return np.load(path)
    texts = [f"{p.title}. {p.abstract}" for p in generate(size)]
    started, cpu = time.perf_counter(), time.process_time()
    vecs = emb.encode(texts, batch_size=4096)
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"embedded {size} papers in {took:.1f}s ({size / took:.0f} papers/s; {cpu:.1f} CPU s, "
        f"{size / cpu:.0f} papers per CPU s)",
        flush=True,
    )
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


def exact_top(x: np.ndarray, q: np.ndarray, k: int = 10) -> np.ndarray:
    """Brute force: every vector's inner product with ``q``, the ``k`` best rows, best first."""
    s = x @ q
    top = np.argpartition(-s, k)[:k]
    return top[np.argsort(-s[top])]


def one_blas_thread() -> Any:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q))


def run_usearch(x: np.ndarray, qs: np.ndarray, ef: int, tmp: Path, dtype: str) -> tuple:
    from usearch.index import Index

    idx = Index(
        ndim=x.shape[1], metric="ip", dtype=dtype, connectivity=M, expansion_add=EF_CONSTRUCTION, expansion_search=ef
    )
    t = time.perf_counter()
    idx.add(np.arange(len(x), dtype=np.uint64), x, log=False)
    build = time.perf_counter() - t
    idx.save(str(tmp / "u.usearch"))
    size = (tmp / "u.usearch").stat().st_size

    def search(q: np.ndarray, ef: int) -> np.ndarray:
        idx.expansion_search = ef  # type: ignore[misc]
        return idx.search(q, 10).keys

    return build, size, search


def run_faiss(x: np.ndarray, qs: np.ndarray, ef: int, tmp: Path) -> tuple:
    import faiss

    idx = faiss.IndexHNSWFlat(x.shape[1], M, faiss.METRIC_INNER_PRODUCT)
    idx.hnsw.efConstruction = EF_CONSTRUCTION
    t = time.perf_counter()
    idx.add(x)
    build = time.perf_counter() - t
    faiss.write_index(idx, str(tmp / "f.faiss"))
    size = (tmp / "f.faiss").stat().st_size

    def search(q: np.ndarray, ef: int) -> np.ndarray:
        idx.hnsw.efSearch = ef
        return idx.search(q.reshape(1, -1), 10)[1][0]

    return build, size, search


def run_hnswlib(x: np.ndarray, qs: np.ndarray, ef: int, tmp: Path) -> tuple:
    import hnswlib

    idx = hnswlib.Index(space="ip", dim=x.shape[1])
    idx.init_index(max_elements=len(x), ef_construction=EF_CONSTRUCTION, M=M)
    t = time.perf_counter()
    idx.add_items(x, np.arange(len(x)))
    build = time.perf_counter() - t
    idx.save_index(str(tmp / "h.bin"))
    size = (tmp / "h.bin").stat().st_size

    def search(q: np.ndarray, ef: int) -> np.ndarray:
        idx.set_ef(ef)
        return idx.knn_query(q, k=10, num_threads=1)[0][0]

    return build, size, search


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=20_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--ef", default="64,128,256", help="search breadths to try, comma-separated")
    ap.add_argument("--libs", default="usearch,usearch-f16,faiss,hnswlib")
    ap.add_argument("--cache", default=os.environ.get("BENCH_CACHE", "/tmp/paperfeed-bench"))
    ap.add_argument("--data-dir", default=os.environ.get("BENCH_DATA", "/tmp/paperfeed-bench/data"))
    args = ap.parse_args()
    settings = Settings(_env_file=None, data_dir=Path(args.data_dir))  # type: ignore[call-arg]
    x = embed_corpus(args.size, settings, Path(args.cache))
    qs = get_embedder("static", settings).encode(queries(args.queries))
    exact = np.stack([exact_top(x, q) for q in qs])
    lat_exact = []
    with one_blas_thread():  # one query, one core, as for the graphs (num_threads=1 where they have it)
        for q in qs:
            t = time.perf_counter()
            exact_top(x, q)
            lat_exact.append(time.perf_counter() - t)
    ex50, ex95 = pct(lat_exact, 50), pct(lat_exact, 95)
    print(
        f"size={args.size} dim={x.shape[1]} exact p50={ex50:.2f}ms p95={ex95:.2f}ms "
        f"load {Path('/proc/loadavg').read_text().split()[:3]}"
    )
    print("| library, search ef | build s | index MB | recall@10 | p50 ms | p95 ms | p95 speed-up vs exact |")
    print("|---|---|---|---|---|---|---|")
    for lib in args.libs.split(","):
        with tempfile.TemporaryDirectory() as d:
            if lib.startswith("usearch"):
                build, size, search = run_usearch(x, qs, 0, Path(d), "f16" if lib.endswith("f16") else "f32")
            elif lib == "faiss":
                build, size, search = run_faiss(x, qs, 0, Path(d))
            else:
                build, size, search = run_hnswlib(x, qs, 0, Path(d))
            for ef in (int(e) for e in args.ef.split(",")):
                lat, rec = [], []
                for q, truth in zip(qs, exact, strict=True):
                    t = time.perf_counter()
                    got = search(q, ef)
                    lat.append(time.perf_counter() - t)
                    rec.append(len(set(int(g) for g in got) & set(truth.tolist())) / 10)
                print(
                    f"| {lib} ef={ef} | {build:.1f} | {size / 1e6:.0f} | {np.mean(rec):.3f} | "
                    f"{pct(lat, 50):.2f} | {pct(lat, 95):.2f} | {ex95 / pct(lat, 95):.1f}x |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
