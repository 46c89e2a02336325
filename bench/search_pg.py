"""Search inside PostgreSQL, beside the embedded store: SciFact quality and latency at 100k / 1M papers.

    .venv/bin/python bench/search_pg.py eval --db postgresql://...  # SciFact train nDCG@10, both backends
    .venv/bin/python bench/search.py --db postgresql://... --sizes 100000  # latency (calls run_pg)
    .venv/bin/python bench/search_pg.py eval --db pgserver  # on a throwaway pgserver instance
    .venv/bin/python bench/search_pg.py latency --db pgserver --sizes 100000 --queries 50  # PostgreSQL only
    .venv/bin/python bench/search_pg.py prune --db pgserver --sizes 100000 --queries 200  # PRUNE_MATCHES sweep

``--db pgserver`` starts PostgreSQL 16 + pgvector from the ``pgserver`` package in a temporary folder. The
database given is wiped (papers and vectors) before loading: use a scratch database.

Quality: the SciFact corpus is loaded into ``papers`` (one row per document, no merging), vectors of the
same model go to ``paper_vectors``, and :func:`paperfeed.evaluation.retrieval.run_queries` (the code behind
``paperfeed eval``) ranks every train query with :class:`PgLexical` / :class:`PgDense` and with tantivy +
the embedded vectors. Latency: the synthetic corpus of ``bench/corpus.py`` (real sentences) is loaded, then
the same queries as the embedded benchmark are timed one at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.ids import normalise_title as title_key  # noqa: E402
from paperfeed.search import pg_backend  # noqa: E402
from paperfeed.search.pg_backend import PgLexical  # noqa: E402
from paperfeed.search.pg_dense import PgDense  # noqa: E402
from paperfeed.store.db import open_store  # noqa: E402
from paperfeed.store.papers import now_utc  # noqa: E402
from paperfeed.store.pg_vectors import drop_hnsw_indexes  # noqa: E402
from paperfeed.store.schema import papers  # noqa: E402

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scifact"
BATCH = 5000


def resolve_db(db: str) -> tuple[str, Any]:
    """A PostgreSQL URL for ``db``; ``pgserver`` starts a throwaway server (returned to keep it alive)."""
    if db != "pgserver":
        return db, None
    import pgserver

    server = pgserver.get_server(Path(tempfile.mkdtemp(prefix="paperfeed-bench-pg-")), cleanup_mode="delete")
    for key, value in {"fsync": "off", "synchronous_commit": "off", "maintenance_work_mem": "1GB"}.items():
        server.psql(f"ALTER SYSTEM SET {key} = '{value}'")
    server.psql("SELECT pg_reload_conf()")
    return server.get_uri(), server


def open_pg(url: str, data_dir: Path) -> Engine:
    settings = Settings(
        _env_file=None,
        environment="test",
        data_dir=data_dir,  # type: ignore[call-arg]
        database_url=url,
        seed_demo=False,
        embedder="none",
    )
    return open_store(settings)


def load_rows(
    engine: Engine, docs: Sequence[tuple[str, str, str, str, list[str], Any]], log: Callable[[str], None] = print
) -> float:
    """Replace every paper with ``docs`` = (id, title, abstract, authors, categories, published); seconds."""
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE papers, paper_vectors CASCADE"))
        drop_hnsw_indexes(conn=conn)  # an earlier size's graph would take every new vector row by row
    now = now_utc()
    for start in range(0, len(docs), BATCH):
        rows = [
            {
                "id": i,
                "title": t,
                "abstract": a,
                "authors": [{"name": n, "affiliations": []} for n in au.split(", ") if n],
                "authors_text": au,
                "categories": cats,
                "primary_category": cats[0] if cats else None,
                "published": pub,
                "source": "bench",
                "title_key": title_key(t),
                "first_seen": now,
                "changed_at": now,
                "withdrawn": False,
            }
            for i, t, a, au, cats, pub in docs[start : start + BATCH]
        ]
        cats_rows = [{"paper_id": r["id"], "category": c} for r in rows for c in dict.fromkeys(r["categories"])]
        with engine.begin() as conn:
            conn.execute(insert(papers), rows)
            if cats_rows:
                conn.execute(
                    text("INSERT INTO paper_categories (paper_id, category) VALUES (:paper_id, :category)"), cats_rows
                )
        if start and start % (BATCH * 20) == 0:
            log(f"  loaded {start:,} papers")
    with engine.begin() as conn:
        conn.execute(text("ANALYZE papers"))
        conn.execute(text("ANALYZE paper_categories"))
    return time.perf_counter() - started


def load_vectors(dense: PgDense, ids: list[str], vectors: np.ndarray, hashes: list[str]) -> float:
    """Store vectors, then build the HNSW index; seconds."""
    started = time.perf_counter()
    for start in range(0, len(ids), BATCH):
        dense.add(ids[start : start + BATCH], vectors[start : start + BATCH], hashes[start : start + BATCH])
    dense.ensure_index()
    with dense.engine.begin() as conn:
        conn.execute(text("ANALYZE paper_vectors"))
    return time.perf_counter() - started


# ---------------------------------------------------------------- quality


def eval_scifact(url: str, data_dir: Path, model: str, split: str = "train") -> dict[str, Any]:
    """nDCG@10 / Recall@100 / MRR@10 for bm25, dense, hybrid on both backends (same vectors, same code)."""
    from paperfeed.evaluation.retrieval import build_indexes, load_beir, run_queries
    from paperfeed.models import Paper
    from paperfeed.search.dense import text_hash
    from paperfeed.search.embed import paper_text

    settings = Settings(_env_file=None, environment="test", data_dir=data_dir)  # type: ignore[call-arg]
    data = load_beir(SCIFACT, split)
    modes = ["bm25", "dense", "hybrid"]
    out: dict[str, Any] = {"set": f"scifact:{split}", "model": model, "queries": len(data.qrels)}
    with tempfile.TemporaryDirectory(prefix="paperfeed-eval-") as tmp:
        lexical, dense, embedder = build_indexes(data, Path(tmp), dense_model=model, settings=settings)
        out["tantivy"] = run_queries(data, modes, lexical, dense, embedder)
    engine = open_pg(url, data_dir)
    load_rows(engine, [(i, t, x, "", [], None) for i, t, x in data.corpus])
    texts = [paper_text(Paper(id=i, title=t, abstract=x)) for i, t, x in data.corpus]
    pg_dense = PgDense.open(engine, model)
    pg_dense.prepare(embedder)
    load_vectors(pg_dense, [i for i, _, _ in data.corpus], embedder.encode(texts), [text_hash(t) for t in texts])
    out["postgres"] = run_queries(data, modes, PgLexical(engine), pg_dense, embedder)  # type: ignore[arg-type]
    out["difference"] = {m: round(out["postgres"][m]["ndcg@10"] - out["tantivy"][m]["ndcg@10"], 4) for m in modes}
    engine.dispose()
    return out


# ---------------------------------------------------------------- latency


def run_pg(url: str, synth: Sequence[Any], qs: list[str], emb: Any, data_dir: Path) -> dict[str, Any]:
    """Load ``synth`` papers and their ``emb`` vectors into PostgreSQL; time bm25, dense and hybrid."""
    from search import time_hybrid, time_sides, timed

    from paperfeed.search.dense import text_hash

    engine = open_pg(url, data_dir)
    result: dict[str, Any] = {"papers": len(synth), "backend": "postgres"}
    load_s = load_rows(
        engine,
        [(p.id, p.title, p.abstract, ", ".join(p.authors), p.categories, p.published) for p in synth],
        log=lambda m: print(m, flush=True),
    )
    dense = PgDense.open(engine, emb.name)
    dense.prepare(emb)
    texts = [f"{p.title}. {p.abstract}" for p in synth]
    t = time.perf_counter()
    vectors = emb.encode(texts)
    embed_s = time.perf_counter() - t
    vec_s = load_vectors(dense, [p.id for p in synth], vectors, [text_hash(x) for x in texts])
    with engine.connect() as conn:
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    result["build"] = {
        "load_papers_s": round(load_s, 1),
        "embed_s": round(embed_s, 1),
        "vectors_hnsw_s": round(vec_s, 1),
        "database_mb": round(size / 1e6, 1),
    }
    print(f"postgres build: {result['build']}", flush=True)
    lexical = PgLexical(engine)
    timed(lambda q: lexical.search(q, 10), qs[:20])  # warm the cache, as a running server would be
    sides, vecs, approx, _ = time_sides(qs, emb, dense, lexical)
    result.update(sides)
    exact = [np.argsort(-(vectors @ v))[:10] for v in vecs]
    result["hnsw_recall@10"] = round(
        float(np.mean([len({synth[i].id for i in e} & set(a)) / 10 for a, e in zip(approx, exact, strict=True)])), 4
    )
    result["hybrid"] = time_hybrid(qs, emb, dense, lexical)
    print(json.dumps(result), flush=True)
    engine.dispose()
    return result


def _agreement(pages: Sequence[list[str]], reference: Sequence[list[str]], n: int) -> float:
    """Mean share of each reference top ``n`` that is also in the page's top ``n``."""
    return round(
        float(
            np.mean(
                [len(set(a[:n]) & set(b[:n])) / max(1, min(n, len(b))) for a, b in zip(pages, reference, strict=True)]
            )
        ),
        4,
    )


def prune_sweep(
    url: str, synth: Sequence[Any], qs: list[str], data_dir: Path, thresholds: Sequence[int] = (20_000, 5_000, 2_000)
) -> list[dict[str, Any]]:
    """Lexical latency and agreement with the unpruned ranking (top 10, top 200) per ``PRUNE_MATCHES``."""
    from search import pcts, timed

    engine = open_pg(url, data_dir)
    load_rows(
        engine,
        [(p.id, p.title, p.abstract, ", ".join(p.authors), p.categories, p.published) for p in synth],
        log=lambda m: None,
    )
    lexical = PgLexical(engine)
    timed(lambda q: lexical.search_page(q, 200), qs[:20])  # warm the cache
    shipped = pg_backend.PRUNE_MATCHES
    rows: list[dict[str, Any]] = []
    reference: list[list[str]] = []
    try:
        for threshold in [10**15, *thresholds]:
            pg_backend.PRUNE_MATCHES = threshold
            lat, pages = timed(lambda q: lexical.search_page(q, 200).ids, qs)
            reference = reference or pages

            rows.append(
                {
                    "prune_matches": threshold if threshold < 10**15 else None,
                    **pcts(lat),
                    "same_top10": _agreement(pages, reference, 10),
                    "same_top200": _agreement(pages, reference, 200),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    finally:
        pg_backend.PRUNE_MATCHES = shipped
        engine.dispose()
    return rows


class _Target:
    """The PostgreSQL database ``bench/search.py --db`` measures (empty: embedded store only)."""

    url = ""
    data_dir = Path(tempfile.gettempdir())
    server: Any = None


def configure(db: str, data_dir: Path) -> None:
    """Called by ``bench/search.py`` with its ``--db`` value (``pgserver`` starts a throwaway server)."""
    if db:
        _Target.url, _Target.server = resolve_db(db)
        _Target.data_dir = data_dir


def maybe_run(synth: Sequence[Any], qs: list[str], emb: Any) -> dict[str, Any] | None:
    """PostgreSQL figures for this corpus size, when ``--db`` was given."""
    return run_pg(_Target.url, synth, qs, emb, _Target.data_dir) if _Target.url else None


def print_table(results: list[dict[str, Any]]) -> None:
    """The PostgreSQL rows of ``bench/search.py``'s results (nothing without ``--db``)."""
    results = [r.get("postgres", r) for r in results if r.get("postgres") or r.get("backend") == "postgres"]
    if not results:
        return
    print("\n## PostgreSQL (tsvector + pgvector)")
    print(
        "\n| papers | load papers (tsvector+GIN) | embed / vectors+HNSW | database MB | bm25 p50/p95 | "
        "dense search p50/p95 | HNSW recall@10 | hybrid p50/p95 (incl. embedding) |"
    )
    print("|" + "---|" * 8)
    for r in results:
        b = r["build"]
        print(
            f"| {r['papers']:,} | {b['load_papers_s']} s | {b['embed_s']} s / {b['vectors_hnsw_s']} s | "
            f"{b['database_mb']} | {r['bm25']['p50_ms']} / {r['bm25']['p95_ms']} | "
            f"{r['dense_search_only']['p50_ms']} / {r['dense_search_only']['p95_ms']} | "
            f"{r['hnsw_recall@10']} | {r['hybrid']['p50_ms']} / {r['hybrid']['p95_ms']} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["eval", "latency", "prune"])
    ap.add_argument("--db", required=True, help="postgresql://... (a scratch database) or 'pgserver'")
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--split", default="train")
    ap.add_argument("--sizes", default="100000", help="latency: corpus sizes, comma-separated")
    ap.add_argument("--queries", type=int, default=50, help="latency: queries timed per size")
    ap.add_argument("--data-dir", default=os.environ.get("BENCH_DATA", "/tmp/paperfeed-bench/data"))
    args = ap.parse_args()
    url, server = resolve_db(args.db)
    if args.what == "eval":
        print(json.dumps(eval_scifact(url, Path(args.data_dir), args.model, args.split), indent=1))
    elif args.what == "prune":  # PRUNE_MATCHES: speed against agreement with the unpruned ranking
        from corpus import generate, queries

        for n in args.sizes.split(","):
            prune_sweep(url, list(generate(int(n))), queries(args.queries), Path(args.data_dir))
    else:  # the PostgreSQL half of bench/search.py --db, alone (same corpus, queries and static model)
        from corpus import generate, queries

        from paperfeed.search.embed import get_embedder

        settings = Settings(_env_file=None, data_dir=Path(args.data_dir), environment="test")  # type: ignore[call-arg]
        emb = get_embedder("static", settings)
        qs = queries(args.queries)
        print_table([run_pg(url, list(generate(int(n))), qs, emb, Path(args.data_dir)) for n in args.sizes.split(",")])
    del server


if __name__ == "__main__":
    main()
