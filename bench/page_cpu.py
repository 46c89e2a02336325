"""CPU of the search page handler alone, in process (no server, no middleware): what the page itself costs.

    .venv/bin/python bench/page_cpu.py [--embedder none|static|minilm] [--tree DIR]

``--tree`` measures another checkout on this virtualenv (e.g. one made with ``git archive``), so a before and
an after are measured the same way. The queries are bench/web.py's (distinct, so the query-vector cache does
not help); prints one JSON line with ``handler_cpu_ms_per_request``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--embedder", default="none", choices=["none", "static", "minilm"])
    parser.add_argument("--tree", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--requests", type=int, default=250)
    args = parser.parse_args()
    sys.path[:0] = [args.tree, args.tree + "/bench"]
    import web as bench_web  # bench/web.py of that tree: the same store and queries
    from fastapi.testclient import TestClient
    from starlette.requests import Request

    from paperfeed.config import Settings
    from paperfeed.web.app import create_app
    from paperfeed.web.search_page import search_page

    data = Path(tempfile.mkdtemp()) / "data"
    bench_web.prepare(data, args.embedder)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=data, embedder=args.embedder, database_url="", seed_demo=True, secret_key="x" * 40
    )
    app = create_app(settings)
    with TestClient(app) as client:
        client.get("/search?q=warm+up")
        engine, searcher = app.state.engine, app.state.searcher
        queries = bench_web.make_queries(args.requests + 50)

        def call(q: str) -> None:
            scope = {
                "type": "http",
                "method": "GET",
                "path": "/search",
                "query_string": urlencode({"q": q}).encode(),
                "headers": [],
                "app": app,
                "root_path": "",
                "scheme": "http",
                "server": ("bench", 80),
                "state": {},
            }
            options = dict(q=q, mode="hybrid", sort="relevance", cat="", date_from=None, date_to=None, p=1)
            response = search_page(Request(scope), engine, None, searcher, **options)
            assert response.status_code == 200, response.body[:300]

        for q in queries[:50]:
            call(q)
        started = time.process_time()
        for q in queries[50:]:
            call(q)
        cpu = (time.process_time() - started) / args.requests * 1000
    print(json.dumps({"embedder": args.embedder, "tree": args.tree, "handler_cpu_ms_per_request": round(cpu, 2)}))


if __name__ == "__main__":
    main()
