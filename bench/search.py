"""Search speed benchmark: bm25, dense and hybrid at 10k / 100k / 1M papers, against brute-force baselines.

    .venv/bin/python bench/search.py                       # 10k papers, 200 queries: a few minutes
    nice -n 10 .venv/bin/python bench/search.py --sizes 10000,100000 --queries 200
    nice -n 10 .venv/bin/python bench/search.py --sizes 1000000 --queries 200 --python-bm25-max 0

For each size it generates a corpus from real abstracts (``bench/corpus.py``), builds the lexical index
(``LexicalIndex``, tantivy) and the dense index (static model vectors + HNSW graph above the exact-search
threshold), then times >= 200 real queries one at a time, as a search request runs them:

- bm25: ``LexicalIndex.search(text, 10)``;
- dense: query embedding + ``DenseIndex.search(vector, 10)``; baseline: exact numpy dot product over every
  vector;
- hybrid: query embedding + ``hybrid.rank(mode="hybrid")`` (both sides 200 deep, fused), the code users run;
- a plain Python BM25 loop over every document (run only up to ``--python-bm25-max`` papers).

It prints build times, memory (process RSS, index size on disk), latency p50/p95, papers/s for the static
model (and for MiniLM on a sample), ANN recall@10 against exact search and the ratios behind the targets,
with the load average before and after (the machine may be shared: latencies are only comparable between
runs at a similar load).

Retrieval reads only the tantivy index and the vector files, never the database, so these figures hold for
SQLite and PostgreSQL deployments alike. ``--db postgresql://...`` (or ``--db pgserver``) also runs the same
measurements inside PostgreSQL: that part is ``bench/search_pg.py``, owned by the PostgreSQL work.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import search_pg  # noqa: E402 - --db: the same measurements inside PostgreSQL
from corpus import SynthPaper, generate, queries  # noqa: E402

from paperfeed.config import Settings  # noqa: E402
from paperfeed.search import dense as dense_mod  # noqa: E402
from paperfeed.search.dense import DenseIndex, text_hash  # noqa: E402
from paperfeed.search.embed import Embedder, get_embedder  # noqa: E402

TARGET_HYBRID_P95_MS = 100.0
CHUNK = 50_000


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (``VmRSS``, ``VmHWM``), in MB; 0 if absent."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return 0.0


def rss_mb() -> float:
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    return _status_mb("VmHWM")


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def disk_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def pcts(samples: list[tuple[float, float]]) -> dict[str, float]:
    """p50/p95 of (wall, CPU) latencies in ms. CPU time is this process's (all its threads): on a shared
    machine it shows what a query costs without the waits for a core that inflate the wall-clock figures."""
    wall = np.array([w for w, _ in samples]) * 1000
    cpu = np.array([c for _, c in samples]) * 1000
    return {
        "p50_ms": round(float(np.percentile(wall, 50)), 2),
        "p95_ms": round(float(np.percentile(wall, 95)), 2),
        "cpu_p50_ms": round(float(np.percentile(cpu, 50)), 2),
        "cpu_p95_ms": round(float(np.percentile(cpu, 95)), 2),
    }


def timed(fn: Any, items: list[Any]) -> tuple[list[tuple[float, float]], list[Any]]:
    """Run ``fn`` on each item, one at a time; ((wall, CPU) seconds per item, results)."""
    lat, out = [], []
    for item in items:
        t, c = time.perf_counter(), time.process_time()
        out.append(fn(item))
        lat.append((time.perf_counter() - t, time.process_time() - c))
    return lat, out


def one_blas_thread() -> Any:
    """numpy's BLAS limited to one thread (a request is served on one core; on a shared 2-core machine a
    second BLAS thread only waits for a core). A no-op without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# ---------------------------------------------------------------- building


def build_lexical(papers: list[SynthPaper], folder: Path) -> tuple[Any, dict[str, Any]]:
    from paperfeed.search.lexical import LexicalDoc, LexicalIndex

    before = rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    index = LexicalIndex.open(folder)
    for i in range(0, len(papers), CHUNK):
        index.add(
            LexicalDoc(p.id, p.title, p.abstract, ", ".join(p.authors), p.categories, p.published)
            for p in papers[i : i + CHUNK]
        )
    index.commit()
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    return index, {
        "build_s": round(took, 1),
        "papers_per_s": round(len(papers) / took),
        "cpu_s": round(cpu, 1),
        "papers_per_cpu_s": round(len(papers) / max(cpu, 1e-9)),
        "disk_mb": round(disk_mb(folder), 1),
        "rss_delta_mb": round(rss_mb() - before),
    }


def build_dense(papers: list[SynthPaper], folder: Path, emb: Embedder) -> tuple[DenseIndex, dict[str, Any]]:
    before = rss_mb()
    index = DenseIndex.open(folder, emb.name)
    index.prepare(emb)
    embed_s = embed_cpu = 0.0
    for i in range(0, len(papers), CHUNK):
        part = papers[i : i + CHUNK]
        texts = [f"{p.title}. {p.abstract}" for p in part]
        t, c = time.perf_counter(), time.process_time()
        vectors = emb.encode(texts)
        embed_s, embed_cpu = embed_s + time.perf_counter() - t, embed_cpu + time.process_time() - c
        index.add([p.id for p in part], vectors, [text_hash(x) for x in texts])
    t, c = time.perf_counter(), time.process_time()
    index.commit()  # merges segments and builds the HNSW graph above the exact-search threshold
    graph_s, graph_cpu = time.perf_counter() - t, time.process_time() - c
    ann_mb = index.ann.size_bytes() / 1e6 if index.ann is not None else 0.0
    return index, {
        "embed_s": round(embed_s, 1),
        "embed_papers_per_s": round(len(papers) / embed_s),
        "embed_cpu_s": round(embed_cpu, 1),
        "embed_papers_per_cpu_s": round(len(papers) / max(embed_cpu, 1e-9)),
        "graph_s": round(graph_s, 1),
        "graph_cpu_s": round(graph_cpu, 1),
        "ann": index.ann is not None,
        "disk_mb": round(disk_mb(folder), 1),
        "ann_mb": round(ann_mb, 1),
        "rss_delta_mb": round(rss_mb() - before),
    }


# ---------------------------------------------------------------- baselines


class PythonBM25:
    """The reference a user might write: per-document term counts, a loop over every document per query."""

    def __init__(self, papers: list[SynthPaper], k1: float = 1.2, b: float = 0.75) -> None:
        from paperfeed.search.analyze import analyse

        self.analyse, self.k1, self.b = analyse, k1, b
        self.ids = [p.id for p in papers]
        self.docs = [Counter(analyse(f"{p.title} {p.title} {p.abstract}")) for p in papers]
        self.lengths = [sum(d.values()) for d in self.docs]
        self.avg = sum(self.lengths) / max(len(self.lengths), 1)
        df: Counter[str] = Counter()
        for d in self.docs:
            df.update(d.keys())
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def search(self, text: str, k: int) -> list[str]:
        terms = [t for t in set(self.analyse(text)) if t in self.idf]
        scores = []
        for i, (doc, length) in enumerate(zip(self.docs, self.lengths, strict=True)):
            s = 0.0
            norm = self.k1 * (1 - self.b + self.b * length / self.avg)
            for t in terms:
                tf = doc.get(t)
                if tf:
                    s += self.idf[t] * tf * (self.k1 + 1) / (tf + norm)
            if s > 0:
                scores.append((s, i))
        scores.sort(reverse=True)
        return [self.ids[i] for _, i in scores[:k]]


# ---------------------------------------------------------------- measuring


def time_sides(qs: list[str], emb: Any, dense: Any, lexical: Any) -> tuple[dict[str, Any], list[Any], list[Any], list]:
    """bm25, query embedding and dense search timed apart (top 10 each): the figures, the query vectors, the
    dense top 10s and the dense search latencies."""
    out: dict[str, Any] = {}
    lat, _ = timed(lambda q: lexical.search(q, 10), qs)
    out["bm25"] = pcts(lat)
    lat, vecs = timed(lambda q: emb.encode([q])[0], qs)
    out["query_embedding"] = pcts(lat)
    lat, approx = timed(lambda v: dense.search(v, 10)[0], vecs)
    out["dense_search_only"] = pcts(lat)
    return out, vecs, approx, lat


def time_hybrid(qs: list[str], emb: Any, dense: Any, lexical: Any) -> dict[str, float]:
    """Whole hybrid searches (embed the query, both sides, fusion), top 10."""
    from paperfeed.search import hybrid
    from paperfeed.search.query import parse_query

    def hybrid_query(q: str) -> list[str]:
        vector = emb.encode([q])[0]
        return hybrid.rank(parse_query(q), mode="hybrid", lexical=lexical, dense=dense, vector=vector).ids[:10]

    return pcts(timed(hybrid_query, qs)[0])


def measure_queries(qs: list[str], emb: Embedder, dense: DenseIndex, lexical: Any) -> dict[str, Any]:
    out, vecs, approx, lat = time_sides(qs, emb, dense, lexical)
    lat_full = [
        (e[0] + s[0], e[1] + s[1]) for e, s in zip(timed(lambda q: emb.encode([q])[0], qs)[0], lat, strict=True)
    ]
    out["dense"] = pcts(lat_full)
    lat, exact = timed(lambda v: dense.search_exact(v, 10)[0], vecs)
    out["dense_exact_search_only"] = pcts(lat)
    out["ann_recall@10"] = round(
        float(np.mean([len(set(a) & set(e)) / max(len(e), 1) for a, e in zip(approx, exact, strict=True)])), 4
    )
    out["ann_used"] = dense.ann is not None and len(dense) > dense_mod.EXACT_MAX_ROWS
    out["hybrid"] = time_hybrid(qs, emb, dense, lexical)
    return out


def run_size(n: int, qs: list[str], emb: Embedder, work: Path, python_max: int) -> dict[str, Any]:
    print(f"\n== {n:,} papers", flush=True)
    t = time.perf_counter()
    papers = list(generate(n))
    print(f"generated in {time.perf_counter() - t:.1f}s (RSS {rss_mb():.0f} MB)", flush=True)
    folder = work / f"n{n}"
    shutil.rmtree(folder, ignore_errors=True)
    result: dict[str, Any] = {"papers": n, "queries": len(qs), "load_avg_before": load()}
    lexical, result["lexical_build"] = build_lexical(papers, folder / "lexical")
    print(f"lexical index: {result['lexical_build']}", flush=True)
    dense, result["dense_build"] = build_dense(papers, folder, emb)
    print(f"dense index: {result['dense_build']}", flush=True)
    with one_blas_thread():  # one query, one core: the same footing for exact, ANN and tantivy
        result.update(measure_queries(qs, emb, dense, lexical))
    if n <= python_max:
        t = time.perf_counter()
        ref = PythonBM25(papers)
        result["python_bm25_build_s"] = round(time.perf_counter() - t, 1)
        lat, _ = timed(lambda q: ref.search(q, 10), qs)
        result["python_bm25"] = pcts(lat)
        del ref
    else:
        result["python_bm25"] = None
    if (pg := search_pg.maybe_run(papers, qs, emb)) is not None:
        result["postgres"] = pg
    result["rss_mb"] = round(rss_mb())
    result["peak_rss_mb"] = round(peak_rss_mb())
    result["load_avg_after"] = load()
    print(json.dumps(result), flush=True)
    del papers, lexical, dense
    gc.collect()
    return result


def minilm_rate(settings: Settings, sample: int) -> dict[str, Any]:
    emb = get_embedder("minilm", settings)
    texts = [f"{p.title}. {p.abstract}" for p in generate(sample, seed=99)]
    emb.encode(texts[:32])  # warm up
    t, c = time.perf_counter(), time.process_time()
    emb.encode(texts)
    took, cpu = time.perf_counter() - t, time.process_time() - c
    return {
        "papers": sample,
        "seconds": round(took, 1),
        "papers_per_s": round(sample / took, 1),
        "cpu_s": round(cpu, 1),
        "load_avg": load(),
    }


# ---------------------------------------------------------------- report


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}x" if a and b else "n/a"


def pair(d: dict[str, float]) -> str:
    return f"{d['p50_ms']} / {d['p95_ms']}"


def cpu_pair(d: dict[str, float]) -> str:
    return f"{d['cpu_p50_ms']} / {d['cpu_p95_ms']}"


def print_table(results: list[dict[str, Any]], minilm: dict[str, Any] | None) -> None:
    print(
        "\n| papers | index build s (bm25 / embed + graph) | disk MB (bm25 / vectors) | RSS / peak MB "
        "| bm25 p50/p95 ms | python BM25 p50/p95 (bm25 speed-up) | dense p50/p95 (incl. embedding) "
        "| exact dense search p50/p95 | ANN search p50/p95 | ANN speed-up (p95) | ANN recall@10 "
        "| hybrid p50/p95 | hybrid p95 vs 100 ms |"
    )
    print("|" + "---|" * 13)
    for r in results:
        lb, db = r["lexical_build"], r["dense_build"]
        py = r["python_bm25"]
        py_txt = f"{pair(py)} ({ratio(py['p95_ms'], r['bm25']['p95_ms'])})" if py else "not run (too slow)"
        ex, an = r["dense_exact_search_only"], r["dense_search_only"]
        speed = ratio(ex["p95_ms"], an["p95_ms"]) if r["ann_used"] else "exact used"
        budget = "met" if r["hybrid"]["p95_ms"] <= TARGET_HYBRID_P95_MS else "MISSED"
        print(
            f"| {r['papers']:,} | {lb['build_s']} / {db['embed_s']} + {db['graph_s']} "
            f"| {lb['disk_mb']} / {db['disk_mb']} | {r['rss_mb']} / {r.get('peak_rss_mb', '-')} "
            f"| {pair(r['bm25'])} | {py_txt} | {pair(r['dense'])} | {pair(ex)} | {pair(an)} | {speed} "
            f"| {r['ann_recall@10']} | {pair(r['hybrid'])} "
            f"| {budget} ({r['hybrid']['p95_ms'] / TARGET_HYBRID_P95_MS:.2f} of budget) |"
        )
    print("\nCPU time of this process per query, ms p50 / p95 (without waiting for a core):\n")
    print(
        "| papers | bm25 | python BM25 | dense (incl. embedding) | exact dense search | ANN search "
        "| ANN speed-up (CPU p95) | hybrid | load avg before / after |"
    )
    print("|" + "---|" * 9)
    for r in results:
        ex, an, py = r["dense_exact_search_only"], r["dense_search_only"], r["python_bm25"]
        speed = ratio(ex["cpu_p95_ms"], an["cpu_p95_ms"]) if r["ann_used"] else "exact used"
        print(
            f"| {r['papers']:,} | {cpu_pair(r['bm25'])} | {cpu_pair(py) if py else 'not run'} "
            f"| {cpu_pair(r['dense'])} | {cpu_pair(ex)} | {cpu_pair(an)} | {speed} "
            f"| {cpu_pair(r['hybrid'])} | {r['load_avg_before']} / {r['load_avg_after']} |"
        )
    rates = [r["dense_build"]["embed_papers_per_s"] for r in results]
    cpu_rates = [r["dense_build"]["embed_papers_per_cpu_s"] for r in results]
    print(
        f"\nstatic model indexing throughput: {min(rates):,}-{max(rates):,} papers/s wall clock, "
        f"{min(cpu_rates):,}-{max(cpu_rates):,} papers per CPU second (target >= 3,000)"
    )
    if minilm:
        print(
            f"minilm indexing throughput: {minilm['papers_per_s']} papers/s wall clock "
            f"({minilm['papers']} papers, {minilm['cpu_s']} CPU s, load {minilm['load_avg']})"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000", help="corpus sizes, comma-separated: 10000,100000,1000000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--work", default=os.environ.get("BENCH_WORK", "/tmp/paperfeed-bench/search"))
    ap.add_argument(
        "--data-dir",
        default=os.environ.get("BENCH_DATA", "/tmp/paperfeed-bench/data"),
        help="where the static model is (distilled there on first use)",
    )
    ap.add_argument(
        "--python-bm25-max", type=int, default=100_000, help="largest corpus the plain Python BM25 baseline is run on"
    )
    ap.add_argument("--minilm-sample", type=int, default=1000, help="papers for the MiniLM rate (0: skip)")
    ap.add_argument("--json", dest="json_out", default="", help="also write the figures to this file")
    ap.add_argument(
        "--db",
        default="",
        help="also measure search inside this PostgreSQL (postgresql://..., "
        "a scratch database: it is wiped; or pgserver): see bench/search_pg.py",
    )
    args = ap.parse_args()
    settings = Settings(_env_file=None, data_dir=Path(args.data_dir), environment="test")  # type: ignore[call-arg]
    emb = get_embedder("static", settings)
    qs = queries(args.queries)
    if len(qs) < args.queries:
        sys.exit(f"only {len(qs)} queries available")
    print(
        f"{len(qs)} queries; static model {emb.dim} dims; exact search up to "
        f"{dense_mod.EXACT_MAX_ROWS:,} vectors; {os.cpu_count()} CPUs",
        flush=True,
    )
    work = Path(args.work)
    search_pg.configure(args.db, Path(args.data_dir))
    minilm = minilm_rate(settings, args.minilm_sample) if args.minilm_sample else None
    if minilm:
        print(f"minilm: {json.dumps(minilm)}", flush=True)
    results = [run_size(int(n), qs, emb, work, args.python_bm25_max) for n in args.sizes.split(",")]
    print_table(results, minilm)
    search_pg.print_table(results)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"results": results, "minilm": minilm}, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
