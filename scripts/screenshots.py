"""Chromium screenshots of the demo site for the README and docs: ``make screenshots``.

    python scripts/screenshots.py [--out docs/screenshots] [--timeout 900]

Serves a fresh instance (its own store in a temporary folder, the shipped demo corpus, the default search
models) on a free loopback port, waits until meaning-based search covers every paper, and saves PNGs of the
home, search, paper, trending and author pages as a visitor sees them at 1100x760.

So that the pages show what a newcomer with a network sees once the demo has been enriched from arXiv, four
demo papers get their arXiv records (the canned entries of ``tests/fixtures/enrich_api_entries.toml``, as arXiv
lists them) and three demo members upvote a few papers. Nothing is fetched from the network.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import threading
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ENTRIES = REPO / "tests" / "fixtures" / "enrich_api_entries.toml"
CHROMIUM = Path("/usr/bin/chromium")
VIEWPORT = {"width": 1100, "height": 760}
PAGES = {  # file name -> path on the demo site
    "home": "/",
    "search": "/search?q=matryoshka+embeddings",
    "paper": "/papers/2205.13147",
    "trending": "/trending",
    "author": "/authors/Aditya%20Kusupati",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _arxiv_records() -> list[Any]:
    """The canned arXiv entries as papers (version-less ids, authors, categories, publication dates)."""
    from paperfeed.ids import abs_url, pdf_url, split_arxiv_id
    from paperfeed.models import Author, Paper, Version

    with ENTRIES.open("rb") as f:
        entries = tomllib.load(f)["entry"]
    records = []
    for e in entries:
        pid, version = split_arxiv_id(e["id"]) or (e["id"], 1)
        published = datetime.fromisoformat(e["published"]).replace(tzinfo=UTC)
        cats = e["categories"].split()
        records.append(
            Paper(
                id=pid,
                title=e["title"],
                authors=[Author(n) for n in e["authors"]],
                categories=cats,
                primary_category=cats[0],
                published=published,
                updated=published,
                versions=[Version(version or 1, published)],
                abs_url=abs_url(pid),
                pdf_url=pdf_url(pid),
                source="arxiv-api",
            )
        )
    return records


def prepare(engine: Any) -> None:
    """Give four demo papers their arXiv records and let three members upvote a few papers."""
    from paperfeed.ids import normalise_title
    from paperfeed.ingest.demo import DEMO_PATH
    from paperfeed.store.email_verification import mark_email_verified
    from paperfeed.store.paper_merge import adopt_arxiv_record
    from paperfeed.store.users import create_user
    from paperfeed.store.votes import add_vote

    demo = [json.loads(line) for line in DEMO_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_title = {normalise_title(row["title"]): row["id"] for row in demo}
    adopted: set[str] = set()
    with engine.begin() as conn:
        for record in _arxiv_records():
            demo_id = by_title.get(normalise_title(record.title))
            if demo_id is not None and adopt_arxiv_record(conn=conn, paper_id=demo_id, record=record):
                adopted.add(demo_id)
        others = [row["id"] for row in demo if row["id"] not in adopted][:6]
        voted = ["2205.13147", "2402.14776", *others]
        for n, name in enumerate(("ada", "grace", "alan")):
            user = create_user(conn=conn, email=f"{name}@example.org", username=name, password_hash="-")
            mark_email_verified(conn=conn, user_id=user.id, email=user.email, now=datetime.now(UTC))  # votes count
            for paper_id in voted[: len(voted) - 2 * n]:
                add_vote(conn=conn, user_id=user.id, paper_id=paper_id)


def _wait_until_search_is_ready(settings: Any, engine: Any, timeout: float) -> None:
    """Until every paper is searchable by keywords and by meaning with the configured model."""
    from paperfeed.search.status import index_status

    deadline = time.monotonic() + timeout

    def done(state: dict[str, Any]) -> bool:  # the interim static model's vectors do not count
        return state["state"] == "off" or (state["state"] == "ready" and state["model"] == settings.embedder)

    while not done(state := index_status(settings, engine)):
        if time.monotonic() > deadline:
            print("search is not ready yet: the pages say so in the screenshots", file=sys.stderr)
            return
        print(f"waiting for the index: {state['vectors']} of {state['papers']} papers embedded", file=sys.stderr)
        time.sleep(5)


def shoot(url: str, out: Path) -> list[Path]:
    """One PNG per entry of PAGES, in ``out``."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport=VIEWPORT, color_scheme="light")
            for name, path in PAGES.items():
                page.goto(url + path, wait_until="networkidle")
                target = out / f"{name}.png"
                page.screenshot(path=str(target))
                saved.append(target)
        finally:
            browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for meaning-based search")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit("error: needs Debian's chromium at /usr/bin/chromium (make system-deps)")
    import uvicorn

    from paperfeed.config import Settings
    from paperfeed.web.app import create_app

    with tempfile.TemporaryDirectory(prefix="paperfeed-shots-") as tmp:
        port = _free_port()
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=Path(tmp),
            database_url=f"sqlite:///{tmp}/demo.db",
            seed_demo=True,
            demo_enrich=False,  # offline: the four arXiv records below stand for what enrichment brings
            base_url=f"http://127.0.0.1:{port}",
        )
        app = create_app(settings)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            while not server.started:
                if not thread.is_alive():
                    sys.exit("error: the server did not start")
                time.sleep(0.1)
            prepare(app.state.engine)
            url = f"http://127.0.0.1:{port}"
            _wait_until_search_is_ready(settings, app.state.engine, args.timeout)
            for path in shoot(url, args.out):
                print(
                    f"saved {path.relative_to(REPO) if path.is_relative_to(REPO) else path} "
                    f"({path.stat().st_size // 1024} KiB)"
                )
        finally:
            server.should_exit = True
            thread.join(timeout=30)


if __name__ == "__main__":
    main()
