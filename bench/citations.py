"""Citations at scale: 100,000 papers' works and edges stored the way ``paperfeed citations`` stores them, on
SQLite and PostgreSQL, then the reference and citation lists of the paper page and the API timed.

    .venv/bin/python bench/citations.py --backend sqlite --papers 100000
    .venv/bin/python bench/citations.py --backend pgserver --papers 100000   # throwaway PostgreSQL (pgserver)
    .venv/bin/python bench/citations.py --backend postgresql://... --papers 100000  # a scratch database

The synthetic graph: every paper has an OpenAlex work with counts per year and a venue; it cites ``--refs``
works (half papers of the store, half outside works, drawn with a heavy tail so some are cited thousands of
times), and ``--citing`` outside works cite it. Storing goes through :mod:`paperfeed.store.citations` in the
fetcher's units: per batch of 50 papers, their own records, their reference edges, then their citing works
in pages of 200, one transaction each. A second pass over 10,000 papers (a refresh) must add no edge.
Queries: ``references_of`` / ``citations_of`` (20 per page, the paper page's size) and ``citation_facts``
for 50 papers, each timed over ``--queries`` random papers; median and 95th percentile in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.store.citations import (  # noqa: E402
    WorkRecord,
    add_edges,
    citation_facts,
    citations_of,
    count_edges,
    references_of,
    store_works,
)
from paperfeed.store.db import open_store  # noqa: E402
from paperfeed.store.papers import now_utc  # noqa: E402
from paperfeed.store.schema import papers  # noqa: E402

BATCH = 50
PAGE = 200


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _engine(backend: str, tmp: Path) -> tuple[Engine, Any]:
    server = None
    if backend == "sqlite":
        url = str(tmp / "citations.db")
    elif backend == "pgserver":
        import pgserver

        server = pgserver.get_server(tmp / "pg", cleanup_mode="delete")
        base, _, query = server.get_uri().partition("?")
        url = f"{base}?{query}"
    else:
        url = backend
    settings = Settings(_env_file=None, database_url=url, seed_demo=False, data_dir=tmp / "data")  # type: ignore[call-arg]
    return open_store(settings), server


def _paper_ids(n: int) -> list[str]:
    return [f"{24 + i // 90000:02d}{1 + (i // 30000) % 12:02d}.{i % 30000:05d}" for i in range(n)]


def _load_papers(engine: Engine, ids: list[str]) -> float:
    now = now_utc()
    started = time.perf_counter()
    rows = [
        {
            "id": pid,
            "title": f"Synthetic paper {pid}",
            "abstract": "",
            "authors": [],
            "authors_text": "",
            "categories": ["cs.LG"],
            "source": "bench",
            "title_key": f"synthetic paper {pid}",
            "first_seen": now,
            "changed_at": now,
            "withdrawn": False,
        }
        for pid in ids
    ]
    with engine.begin() as conn:
        for i in range(0, len(rows), 5000):
            conn.execute(insert(papers), rows[i : i + 5000])
    return time.perf_counter() - started


class Graph:
    """The synthetic citation graph (deterministic for a seed)."""

    def __init__(self, ids: list[str], *, refs: int, citing: int, seed: int = 7) -> None:
        self.ids = ids
        self.rng = random.Random(seed)
        self.refs = refs
        self.citing = citing
        self.outside_pool = max(1000, len(ids) // 2)  # outside works cited by many

    def work(self, i: int) -> str:
        return f"W{10_000_000 + i}"

    def own(self, i: int) -> WorkRecord:
        years = tuple((2025 - k, self.rng.randint(0, 40)) for k in range(self.rng.randint(1, 8)))
        return WorkRecord(
            self.work(i),
            paper_id=self.ids[i],
            title=f"Synthetic paper {self.ids[i]}",
            year=2018 + i % 8,
            doi=f"10.48550/arxiv.{self.ids[i]}",
            cited_by_count=sum(n for _, n in years) + self.citing,
            counts_by_year=years,
            venue=self.rng.choice([None, "NeurIPS", "ICML", "ACL", "CVPR"]),
        )

    def references(self, i: int) -> list[tuple[str, WorkRecord | None]]:
        out: list[tuple[str, WorkRecord | None]] = []
        for k in range(self.refs):
            if k % 2 == 0:  # a paper of the store, older ones more often (heavy tail)
                j = int(len(self.ids) * self.rng.random() ** 3)
                out.append((self.work(j), None))
            else:
                j = int(self.outside_pool * self.rng.random() ** 3)
                wid = f"W{50_000_000 + j}"
                out.append((wid, WorkRecord(wid, title=f"Outside work {j}", year=1990 + j % 35, doi=f"10.9999/o.{j}")))
        return out

    def citing_works(self, i: int) -> list[WorkRecord]:
        return [
            WorkRecord(
                f"W{80_000_000 + i * self.citing + k}",
                title=f"Citing work {i}-{k}",
                year=2020 + k % 6,
                doi=f"10.8888/c.{i}.{k}",
                cited_by_count=k,
            )
            for k in range(self.citing)
        ]


def _store_all(engine: Engine, graph: Graph, indices: range) -> float:
    """Store papers ``indices`` as the fetcher does: per batch of 50, own records, references, citing pages."""
    started = time.perf_counter()
    for start in range(indices.start, indices.stop, BATCH):
        batch = range(start, min(start + BATCH, indices.stop))
        own = [graph.own(i) for i in batch]
        refs = {i: graph.references(i) for i in batch}
        with engine.begin() as conn:
            store_works(conn=conn, works=own, fetched_at=now_utc())
            placeholders = [rec or WorkRecord(wid) for i in batch for wid, rec in refs[i]]
            store_works(conn=conn, works=placeholders)
            add_edges(conn=conn, edges=[(graph.work(i), wid) for i in batch for wid, _ in refs[i]])
        for i in batch:
            citing = graph.citing_works(i)
            for p in range(0, len(citing), PAGE):
                page = citing[p : p + PAGE]
                with engine.begin() as conn:
                    store_works(conn=conn, works=page)
                    add_edges(conn=conn, edges=[(w.openalex_id, graph.work(i)) for w in page])
    return time.perf_counter() - started


def _timed(fn: Callable[[], object], n: int) -> dict[str, float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"median_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2)}


def run(backend: str, n: int, refs: int, citing: int, queries: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="paperfeed-bench-citations-"))
    engine, server = _engine(backend, tmp)
    try:
        ids = _paper_ids(n)
        load_s = _load_papers(engine, ids)
        graph = Graph(ids, refs=refs, citing=citing)
        store_s = _store_all(engine, graph, range(n))
        with engine.connect() as conn:
            edges = count_edges(conn=conn)
        refresh_n = min(10_000, n)
        graph.rng = random.Random(7)  # the same references again: a refresh
        refresh_s = _store_all(engine, graph, range(refresh_n))
        with engine.connect() as conn:
            edges_after = count_edges(conn=conn)
        rng = random.Random(11)
        popular = ids[:50]  # the heavy tail: the most cited papers of the store
        with engine.connect() as conn:
            top = len(citations_of(conn=conn, paper_id=ids[0], limit=100_000))
            result = {
                "backend": "postgresql" if server or backend.startswith("postgresql") else "sqlite",
                "papers": n,
                "edges": edges,
                "duplicate_edges_after_refresh": edges_after - edges,
                "load_papers_s": round(load_s, 1),
                "store_citations_s": round(store_s, 1),
                "store_papers_per_s": round(n / store_s),
                "refresh_papers": refresh_n,
                "refresh_s": round(refresh_s, 1),
                "most_cited_paper_citations": top,
                "references_of": _timed(lambda: references_of(conn=conn, paper_id=rng.choice(ids), limit=20), queries),
                "citations_of": _timed(lambda: citations_of(conn=conn, paper_id=rng.choice(ids), limit=20), queries),
                "citations_of_most_cited": _timed(
                    lambda: citations_of(conn=conn, paper_id=rng.choice(popular), limit=20), queries
                ),
                "citation_facts_50": _timed(lambda: citation_facts(conn=conn, paper_ids=rng.sample(ids, 50)), queries),
                "cpu": _cpu(),
            }
        return result
    finally:
        engine.dispose()
        if server is not None:
            server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="sqlite", help="sqlite, pgserver or a postgresql:// URL (scratch)")
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--refs", type=int, default=10, help="references per paper")
    parser.add_argument("--citing", type=int, default=5, help="outside works citing each paper")
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    print(json.dumps(run(args.backend, args.papers, args.refs, args.citing, args.queries), indent=2))


if __name__ == "__main__":
    main()
