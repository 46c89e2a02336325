"""Time the map of related work (``/papers/{id}/graph``) for a paper with many citations, on synthesised data.

    .venv/bin/python bench/citation_graph.py                       # 5,000 citations, SQLite
    .venv/bin/python bench/citation_graph.py --citations 20000 --runs 10
    .venv/bin/python bench/citation_graph.py --database-url postgresql://...   # an empty PostgreSQL database

Builds a fresh store: ``--papers`` papers of the store (their works too), a pool of ``--pool`` outside works,
and one centre paper with ``--references`` references and ``--citations`` citing works; every citing work
cites ``--refs-per-work`` works drawn from a skewed (Zipf-like) pool, so some works are co-cited with the
centre hundreds of times and its references are cited by thousands. Then serves the page and the JSON through
the app (a TestClient, the whole request: routing, SQL, layout, template) and prints the median and worst of
``--runs`` requests after one warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from paperfeed.config import Settings  # noqa: E402
from paperfeed.models import Author, Paper  # noqa: E402
from paperfeed.rank.citation_signals import NEIGHBOURS  # noqa: E402
from paperfeed.store.citation_graph import citation_neighbours, edges, works  # noqa: E402
from paperfeed.store.papers import upsert_papers  # noqa: E402
from paperfeed.web.app import create_app  # noqa: E402


def synthesise(engine: object, args: argparse.Namespace) -> tuple[str, int]:
    """Store the graph; returns the centre paper's id and the number of edges."""
    rng = np.random.default_rng(5000)
    when = datetime(2024, 3, 1, tzinfo=UTC)
    stored = [
        Paper(
            id=f"2403.{i:05d}",
            title=f"Synthetic paper {i} on graph learning",
            abstract="x",
            authors=[Author("A. Author")],
            published=when,
            source="bench",
        )
        for i in range(args.papers)
    ]
    centre = stored[0].id
    n_works = args.papers + args.pool + args.citations
    ids = [f"W{i + 1}" for i in range(n_works)]
    paper_of = {ids[i]: stored[i].id for i in range(args.papers)}
    counts = rng.zipf(1.6, n_works).clip(0, 50_000)
    rows = [
        {
            "id": w,
            "paper_id": paper_of.get(w),
            "title": f"Work {w}",
            "year": int(1990 + rng.integers(0, 35)),
            "doi": f"10.9999/{w}",
            "cited_by_count": int(counts[i]),
            "citing_complete": True,
        }
        for i, w in enumerate(ids)
    ]
    pool = np.arange(1, args.papers + args.pool)  # everything but the centre (index 0)
    weights = 1.0 / np.arange(1, len(pool) + 1) ** 0.9
    weights /= weights.sum()
    pairs: set[tuple[str, str]] = set()
    for r in rng.choice(pool, size=args.references, replace=False, p=weights):
        pairs.add((ids[0], ids[int(r)]))
    citing = range(args.papers + args.pool, n_works)
    for c in citing:
        pairs.add((ids[c], ids[0]))
        for r in rng.choice(pool, size=args.refs_per_work, replace=False, p=weights):
            pairs.add((ids[c], ids[int(r)]))
    for i in range(1, args.papers):  # papers of the store cite too (coupling with the centre)
        for r in rng.choice(pool, size=args.refs_per_work, replace=False, p=weights):
            if int(r) != i:
                pairs.add((ids[i], ids[int(r)]))
    with engine.begin() as conn:  # type: ignore[attr-defined]
        upsert_papers(conn=conn, papers_in=stored)
        conn.execute(insert(works), rows)
        edge_rows = [{"citing": a, "cited": b} for a, b in sorted(pairs)]
        for i in range(0, len(edge_rows), 20_000):
            conn.execute(insert(edges), edge_rows[i : i + 20_000])
    if engine.dialect.name == "postgresql":  # type: ignore[attr-defined]
        # the steady state autovacuum reaches: planner statistics and a visibility map (index-only scans)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:  # type: ignore[attr-defined]
            conn.exec_driver_sql("VACUUM ANALYZE citation_edges")
            conn.exec_driver_sql("VACUUM ANALYZE citation_works")
    return centre, len(pairs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--citations", type=int, default=5000)
    ap.add_argument("--references", type=int, default=60)
    ap.add_argument("--refs-per-work", type=int, default=30)
    ap.add_argument("--papers", type=int, default=2000)
    ap.add_argument("--pool", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pf-bench-graph-") as tmp:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            environment="test",
            data_dir=Path(tmp) / "data",
            database_url=args.database_url or str(Path(tmp) / "pf.db"),
            seed_demo=False,
            embedder="none",
        )
        app = create_app(settings)
        with TestClient(app) as client:
            started = time.perf_counter()
            centre, n_edges = synthesise(app.state.engine, args)
            print(
                f"stored {n_edges} edges in {time.perf_counter() - started:.1f}s "
                f"({args.citations} citations of the centre paper)",
                flush=True,
            )
            with app.state.engine.connect() as conn:  # what similar papers add per paper (citation ties)
                took = []
                for _ in range(args.runs + 1):
                    t = time.perf_counter()
                    ties = citation_neighbours(conn=conn, paper_id=centre, limit=NEIGHBOURS)
                    took.append((time.perf_counter() - t) * 1000)
                print(
                    f"citation ties for similar papers: median {statistics.median(took[1:]):.0f} ms "
                    f"({len(ties[0])} co-cited, {len(ties[1])} coupled papers)",
                    flush=True,
                )
            for path in (f"/papers/{centre}/graph", f"/api/v1/papers/{centre}/graph"):
                first = client.get(path)
                assert first.status_code == 200, first.text[:300]
                took, cpu = [], []
                for _ in range(args.runs):
                    t, c = time.perf_counter(), time.process_time()
                    r = client.get(path)
                    took.append((time.perf_counter() - t) * 1000)
                    cpu.append((time.process_time() - c) * 1000)  # every thread of this process
                    assert r.status_code == 200
                nodes = len(client.get(f"/api/v1/papers/{centre}/graph").json()["nodes"])
                print(
                    f"{path}: median {statistics.median(took):.0f} ms (CPU {statistics.median(cpu):.0f} ms), "
                    f"worst {max(took):.0f} ms "
                    f"over {args.runs} runs ({nodes} nodes)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
