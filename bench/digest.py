"""Trending at scale and digest throughput (target: >= 50 digests/s composed and sent).

    .venv/bin/python bench/digest.py [--papers 1000000] [--votes 1000000] [--subscribers 10000]
    .venv/bin/python bench/digest.py --only trending | --only digest

1. Trending: a SQLite store with ``--papers`` papers (published over three years) and ``--votes`` upvotes
   (Zipf-like: a few papers get most votes) by 50,000 members; times ``trending()`` for each window
   (day, week, month, all; first page of 30), median of 5 runs after one warm-up. Baseline in the same run:
   ``SELECT paper_id, count(*) FROM votes GROUP BY paper_id``, fetched (the bare aggregation that any
   "all time" ranking must do; Python-side scoring would start from its result).
2. Digest: ``--subscribers`` active subscribers (a third with a topic, searched by the real search service,
   BM25) and 300 recent papers of which 60 are trending; ``send_digests`` composes, renders, claims in the
   ledger and sends every digest over SMTP to a local aiosmtpd server running in its own process; then a
   second run checks that nothing is sent twice. Baseline in the same run: composing and rendering only
   (``--dry-run`` minus the files), so the cost of the ledger and SMTP shows.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.digest.compose import ComposeCache, build_digest  # noqa: E402
from paperfeed.digest.render import render_digest  # noqa: E402
from paperfeed.digest.send import send_digests  # noqa: E402
from paperfeed.rank.trending import trending  # noqa: E402
from paperfeed.secret_key import ensure_secret_key  # noqa: E402
from paperfeed.store.db import open_store  # noqa: E402
from paperfeed.store.subscriptions import list_subscribers  # noqa: E402

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TARGET = 50.0
_FMT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores (naive UTC) datetimes in SQLite
_WORDS = [
    "graph",
    "neural",
    "network",
    "attention",
    "transformer",
    "diffusion",
    "model",
    "sparse",
    "quantum",
    "field",
    "theory",
    "galaxy",
    "stellar",
    "lattice",
    "spin",
    "inference",
    "Bayesian",
    "robust",
    "efficient",
    "language",
    "vision",
]


def _settings(folder: Path) -> Settings:
    made = Settings(
        _env_file=None,
        environment="test",
        data_dir=folder,  # type: ignore[call-arg]
        database_url=str(folder / "bench.db"),
        seed_demo=False,
        embedder="none",
        base_url="https://papers.example.org",
    )
    return ensure_secret_key(made)


def _title(rng: random.Random, i: int) -> str:
    return f"{' '.join(rng.choice(_WORDS) for _ in range(6)).capitalize()} {i}"


def _fill_papers(db: Path, n: int, span: timedelta, rng: random.Random) -> None:
    """``n`` papers published uniformly over ``span`` before NOW, inserted in bulk (bench set-up only)."""
    con = sqlite3.connect(db)
    seen = NOW.strftime(_FMT)
    rows = []
    for i in range(n):
        pub = (NOW - span * rng.random()).strftime(_FMT)
        title = _title(rng, i)
        rows.append(
            (
                f"bench.{i:07d}",
                title,
                "An abstract.",
                "[]",
                "",
                '["cs.LG"]',
                "cs.LG",
                pub,
                pub,
                "bench",
                title.lower(),
                seen,
                seen,
                0,
            )
        )
        if len(rows) == 50_000:
            _insert_papers(con, rows)
            rows = []
    _insert_papers(con, rows)
    con.close()


def _insert_papers(con: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    con.executemany(
        "INSERT INTO papers (id, title, abstract, authors, authors_text, categories, "
        "primary_category, published, updated, source, title_key, first_seen, changed_at, "
        "withdrawn) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    con.commit()


def _fill_votes(db: Path, papers: int, votes: int, members: int, rng: random.Random) -> None:
    """``votes`` distinct (member, paper) upvotes, paper popularity Zipf-like (paretovariate)."""
    con = sqlite3.connect(db)
    stamp = NOW.strftime(_FMT)
    con.executemany(
        "INSERT INTO users (id, email, username, display_name, password_hash, created_at, "
        "is_admin) VALUES (?,?,?,?,?,?,0)",
        [(u, f"m{u}@example.org", f"m{u}", "", "x", stamp) for u in range(1, members + 1)],
    )
    seen: set[tuple[int, int]] = set()
    while len(seen) < votes:
        paper = min(int(rng.paretovariate(0.6)) - 1, papers - 1) if rng.random() < 0.5 else rng.randrange(papers)
        seen.add((rng.randint(1, members), paper))
    con.executemany(
        "INSERT INTO votes (user_id, paper_id, created_at) VALUES (?,?,?)",
        [(u, f"bench.{p:07d}", stamp) for u, p in seen],
    )
    con.commit()
    con.close()


def bench_trending(folder: Path, papers: int, votes: int) -> dict[str, Any]:
    settings = _settings(folder)
    engine = open_store(settings)
    db = folder / "bench.db"
    rng = random.Random(7)
    t0 = time.perf_counter()
    _fill_papers(db, papers, timedelta(days=3 * 365), rng)
    _fill_votes(db, papers, votes, 50_000, rng)
    setup = time.perf_counter() - t0
    out: dict[str, Any] = {"papers": papers, "votes": votes, "setup_s": round(setup, 1)}
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        base = _median(
            lambda: conn.exec_driver_sql("SELECT paper_id, count(*) FROM votes GROUP BY paper_id").fetchall()
        )
        out["baseline_group_votes_ms"] = base
        for window in ("day", "week", "month", "all"):
            ids, _ = trending(conn=conn, window=window, now=NOW, limit=30)
            out[f"{window}_ms"] = _median(lambda w=window: trending(conn=conn, window=w, now=NOW, limit=30))
            out[f"{window}_results"] = len(ids)
    engine.dispose()
    return out


def _median(fn: Any, runs: int = 5) -> float:
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return round(statistics.median(times) * 1000, 1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _smtp_server(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{port}"]
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("aiosmtpd did not start")


def _digest_world(folder: Path, subscribers: int) -> tuple[Any, Settings]:
    settings = _settings(folder)
    engine = open_store(settings)
    db = folder / "bench.db"
    rng = random.Random(11)
    _fill_papers(db, 300, timedelta(hours=20), rng)
    _fill_votes(db, 60, 600, 200, rng)
    topics = ["graph neural network", "quantum field theory", "diffusion model"]
    con = sqlite3.connect(db)
    stamp = (NOW - timedelta(days=2)).strftime(_FMT)
    con.executemany(
        "INSERT INTO subscribers (email, status, trending, topics, for_you, frequency, timezone, send_hour, "
        "bounce_count, created_at, confirmed_at) VALUES (?, 'active', 1, ?, 0, 'daily', 'UTC', 7, 0, ?, ?)",
        [
            (f"reader{i}@example.org", json.dumps([topics[i % 3]] if i % 3 == 0 else []), stamp, stamp)
            for i in range(subscribers)
        ],
    )
    con.commit()
    con.close()
    return engine, settings


def bench_digest(folder: Path, subscribers: int) -> dict[str, Any]:
    from paperfeed.search.factory import make_searcher

    engine, settings = _digest_world(folder, subscribers)
    searcher = make_searcher(engine=engine, settings=settings)
    searcher.refresh()
    with engine.connect() as conn:  # baseline: compose + render only
        subs = list_subscribers(conn=conn)
        cache = ComposeCache()
        t = time.perf_counter()
        for sub in subs:
            render_digest(
                digest=build_digest(conn=conn, searcher=searcher, subscriber=sub, now=NOW, cache=cache),
                settings=settings,
            )
        compose_s = time.perf_counter() - t
    port = _free_port()
    server = _smtp_server(port)
    try:
        mail = settings.model_copy(
            update={
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "mail_rate_limit": 0,
                "mail_from": "Paperfeed <digest@example.org>",
            }
        )
        t = time.perf_counter()
        report = send_digests(engine=engine, settings=mail, searcher=searcher, now=NOW)
        send_s = time.perf_counter() - t
        again = send_digests(engine=engine, settings=mail, searcher=searcher, now=NOW + timedelta(minutes=5))
    finally:
        server.terminate()
        server.wait(timeout=10)
    engine.dispose()
    return {
        "subscribers": subscribers,
        "sent": report.sent,
        "failed": report.failed,
        "compose_render_only_per_s": round(subscribers / compose_s, 1),
        "composed_and_sent_per_s": round(report.sent / send_s, 1),
        "send_s": round(send_s, 1),
        "second_run_sent": again.sent,
        "second_run_already_sent": again.already_sent,
        "target_per_s": TARGET,
        "meets_target": report.sent / send_s >= TARGET,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--only", choices=("trending", "digest"))
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if args.only in (None, "trending"):
        with tempfile.TemporaryDirectory(prefix="pf-bench-trending-") as tmp:
            results["trending"] = bench_trending(Path(tmp), args.papers, args.votes)
            print(json.dumps({"trending": results["trending"]}), flush=True)
    if args.only in (None, "digest"):
        with tempfile.TemporaryDirectory(prefix="pf-bench-digest-") as tmp:
            results["digest"] = bench_digest(Path(tmp), args.subscribers)
            print(json.dumps({"digest": results["digest"]}), flush=True)


if __name__ == "__main__":
    main()
