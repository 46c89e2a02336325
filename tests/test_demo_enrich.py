"""The demo corpus enriched in the background (issue 22, item 3), against the stand-in arXiv on loopback:
two servers on one store both start, exactly one looks each paper up (the ``demo-enrich`` lease), enriched
papers show authors and become searchable by ``author:``; the setting turns it off; without arXiv the pages
say what a demo paper lacks and their examples find papers. Pages through real chromium."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from paperfeed.config import Settings
from paperfeed.ingest.demo_enrich import STATE_KEY
from paperfeed.store.state import get_state
from paperfeed.web.app import create_app, start_store
from tests.arxiv_server import Reply, Request, api_entries, api_title_search, arxiv_server, closed_port
from tests.servers import BROWSER_MARKS, chromium_tab, free_port, running

DEMO = Path(__file__).resolve().parent.parent / "paperfeed" / "data" / "demo_papers.jsonl"
DEMO_TITLES = [json.loads(line)["title"] for line in DEMO.read_text(encoding="utf-8").splitlines() if line.strip()]
CANNED = api_entries("enrich_api_entries")  # 4 demo papers as arXiv lists them (tests/fixtures)


def _site(settings: Settings, api: str, **more: Any) -> Settings:
    return settings.model_copy(
        update={
            "seed_demo": True,
            "demo_enrich": True,
            "arxiv_api_url": api,
            "arxiv_max_retries": 0,
            "arxiv_request_interval": 0.0,
            **more,
        }
    )


def _wait(what: str, check: Callable[[], bool], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _status(app: Any) -> dict[str, Any]:
    with app.state.engine.connect() as conn:
        value = get_state(conn=conn, key=STATE_KEY)
    return dict(value) if isinstance(value, dict) else {}


def _quiet(app: Any) -> None:
    """Bring the published index in step with the store before the server stops (the app's own writer thread
    is stopped and joined when it does)."""
    if app.state.searcher is not None:
        app.state.searcher.catch_up()


def _slow(responder: Callable[[Request], Reply]) -> Callable[[Request], Reply]:
    def respond(req: Request) -> Reply:
        time.sleep(0.02)  # both servers are up while the work goes on
        return responder(req)

    return respond


@pytest.fixture
def two_servers(settings: Settings) -> Iterator[tuple[list[str], Any, Any]]:
    with arxiv_server(_slow(api_title_search(CANNED))) as arxiv, ExitStack() as stack:
        apps, urls = [], []
        for _ in range(2):
            port = free_port()
            app = create_app(_site(settings, f"{arxiv.url}/api/query", base_url=f"http://127.0.0.1:{port}"))
            start_store(app)
            urls.append(stack.enter_context(running(app, port)))
            apps.append(app)
        yield urls, apps, arxiv
        for app in apps:
            _quiet(app)


def test_two_servers_enrich_the_demo_once_and_the_papers_become_searchable(
    two_servers: tuple[list[str], Any, Any],
) -> None:
    urls, apps, arxiv = two_servers
    _wait("the demo enrichment to finish", lambda: _status(apps[0]).get("state") == "done")
    asked = Counter(r.params["search_query"] for r in arxiv.requests)
    assert len(asked) == len(set(DEMO_TITLES)) == 341 and set(asked.values()) == {1}  # each title once, in all
    assert _status(apps[0])["counts"]["resolved"] == 4

    info = httpx.get(f"{urls[1]}/api/papers/2205.13147", timeout=30).json()  # the other server sees it too
    assert info["authors"][0]["name"] == "Aditya Kusupati" and info["publishedAt"].startswith("2022-05-26")

    def found_by_author() -> bool:  # the follower's path: the holder's searcher was refreshed
        hits = [
            httpx.get(f"{u}/api/v1/search", params={"q": "author:kusupati", "mode": "bm25"}, timeout=30).json()
            for u in urls
        ]
        return all([d["paper"]["id"] for d in h["data"]] == ["2205.13147"] for h in hits)

    _wait("author:kusupati to find the enriched paper on both servers", found_by_author, timeout=90)


def test_the_setting_turns_it_off(settings: Settings) -> None:
    with arxiv_server(api_title_search(CANNED)) as arxiv:
        port = free_port()
        app = create_app(_site(settings, f"{arxiv.url}/api/query", demo_enrich=False))
        start_store(app)
        with running(app, port) as url:
            assert httpx.get(f"{url}/api/v1/search", params={"q": "matryoshka"}, timeout=60).json()["total"] >= 3
            assert app.state.demo_enricher is None
            _quiet(app)
        assert arxiv.requests == [] and _status(app) == {}


@pytest.fixture
def offline_site(settings: Settings) -> Iterator[tuple[str, Any]]:
    port = free_port()
    app = create_app(
        _site(settings, f"http://127.0.0.1:{closed_port()}/api/query", base_url=f"http://127.0.0.1:{port}")
    )
    start_store(app)
    with running(app, port) as url:
        _wait("the enricher to notice arXiv is unreachable", lambda: _status(app).get("state") == "offline")
        yield url, app
        _quiet(app)


@BROWSER_MARKS[0]
@BROWSER_MARKS[1]
def test_without_arxiv_pages_say_what_a_demo_paper_lacks_and_examples_match(
    offline_site: tuple[str, Any],
) -> None:
    url, app = offline_site
    assert "Connection refused" in (_status(app).get("last_error") or "") or _status(app).get("last_error")
    paper = httpx.get(f"{url}/api/papers/search", params={"q": "matryoshka representation learning"}, timeout=60)
    paper_id = paper.json()[0]["paper"]["id"]
    assert paper_id.startswith("pf-")  # not enriched: still the saved page's id
    with chromium_tab(url) as tab:
        tab.goto(f"/papers/{paper_id}")
        note = tab.locator("header .lacks").inner_text()
        assert "gives no authors, arXiv id, categories, publication date" in note
        tab.goto("/search")
        help_text = tab.locator(".help").inner_text()
        assert "author:hinton" not in help_text and "cat:cs.CL" not in help_text
        assert "no paper here carries those yet" in help_text
        example = tab.locator(".help dt code").first.inner_text()  # the first example: a topic of this corpus
        tab.goto(f"/search?q={example.replace(' ', '+')}")
        assert tab.locator(".cards .card").count() >= 3, example
        tab.goto("/subscribe")
        placeholder = tab.locator("#topics").get_attribute("placeholder") or ""
        assert "hinton" not in placeholder and "cat:cs.LG" not in placeholder
        first_topic = placeholder.splitlines()[0]
        body = httpx.get(f"{url}/api/v1/search", params={"q": first_topic, "mode": "bm25"}, timeout=60).json()
        assert body["total"] > 0, first_topic


def test_an_api_that_refuses_every_title_ends_the_work_instead_of_repeating_it(settings: Settings) -> None:
    refuse = api_title_search([])  # answers 400 (an API error entry) to anything but a ti:"..." query

    def respond(req: Request) -> Reply:
        return refuse(Request(req.at, req.path, {"search_query": "all:x"}, req.headers))

    with arxiv_server(respond) as arxiv:
        port = free_port()
        app = create_app(_site(settings, f"{arxiv.url}/api/query"))
        start_store(app)
        with running(app, port):
            _wait("the demo enrichment to give up", lambda: _status(app).get("state") == "done")
            _quiet(app)
        asked = Counter(r.params["search_query"] for r in arxiv.requests)
    # A round in which arXiv refused every title ends the work (`paperfeed enrich` can retry): not asked forever.
    assert len(asked) == 20 and set(asked.values()) == {1}
    assert _status(app)["counts"] == {"resolved": 0, "ambiguous": 0, "not_found": 0, "failed": 20}
