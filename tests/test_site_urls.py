"""Links follow the host a page was asked for (``PAPERFEED_BASE_URL`` unset), forwarded headers count only
from trusted proxies, mail refuses to go out without ``PAPERFEED_BASE_URL``; answers are gzip-compressed
and static assets carry cache headers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app as cli_app
from paperfeed.config import Settings
from paperfeed.store.papers import upsert_papers
from paperfeed.web.app import create_app
from tests.factories import make_paper
from tests.servers import free_port, running


@pytest.fixture
def unset(settings: Settings) -> Settings:
    return settings.model_copy(update={"base_url": ""})


@pytest.fixture
def paper_id(engine: Engine) -> str:
    paper = make_paper(title="Links That Follow The Host")
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[paper])
    return paper.id


@contextmanager
def serve(settings: Settings) -> Iterator[int]:
    """A real uvicorn server on 127.0.0.1 (as ``paperfeed serve`` runs it: uvicorn's own proxy handling off)."""
    port = free_port()
    with running(create_app(settings), port, timeout=60, lifespan="auto", proxy_headers=False):
        yield port


def test_feeds_markdown_and_apis_link_to_the_host_asked(unset: Settings, paper_id: str) -> None:
    app = create_app(unset)
    for base in ("http://alpha.example:8080", "https://beta.example"):
        client = TestClient(app, base_url=base)
        page = f"{base}/papers/{paper_id}"
        feed = client.get("/feeds/daily.atom").text
        assert f'href="{page}"' in feed and f'href="{base}/feeds/daily.atom"' in feed
        assert "127.0.0.1:8000" not in feed
        assert f"<link>{page}</link>" in client.get("/feeds/daily.rss").text
        assert page in client.get(f"/papers/{paper_id}.md").text
        links = client.get(f"/api/v1/papers/{paper_id}").json()["links"]
        assert (links["page"], links["markdown"]) == (page, f"{page}.md")
        daily = client.get("/api/daily_papers").json()
        assert daily[0]["thumbnail"] == f"{page}/thumbnail.svg"
        html = client.get(f"/papers/{paper_id}").text  # pages link relatively: they work at any host
        assert f'href="/papers/{paper_id}.md"' in html and "://alpha" not in html.replace(base, "")


def test_configured_base_url_wins_over_the_host(settings: Settings, paper_id: str) -> None:
    public = settings.model_copy(update={"base_url": "https://papers.example.org/"})
    client = TestClient(create_app(public), base_url="http://internal:9000")
    assert f"https://papers.example.org/papers/{paper_id}" in client.get(f"/papers/{paper_id}.md").text
    assert "internal:9000" not in client.get("/feeds/trending.atom?window=all").text


def test_real_server_on_two_host_names_and_forwarded_proto_only_from_trusted_proxies(
    unset: Settings, paper_id: str
) -> None:
    with serve(unset) as port:
        for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
            md = httpx.get(f"http://127.0.0.1:{port}/papers/{paper_id}.md", headers={"Host": host}).text
            assert f"http://{host}/papers/{paper_id}" in md
        forged = httpx.get(f"http://127.0.0.1:{port}/papers/{paper_id}.md", headers={"X-Forwarded-Proto": "https"}).text
        assert f"http://127.0.0.1:{port}/papers/{paper_id}" in forged  # not a trusted proxy: ignored
    with serve(unset.model_copy(update={"trusted_proxies": "127.0.0.1"})) as port:
        proxied = httpx.get(
            f"http://127.0.0.1:{port}/papers/{paper_id}.md",
            headers={"X-Forwarded-Proto": "https", "Host": "papers.example.org"},
        ).text
        assert f"https://papers.example.org/papers/{paper_id}" in proxied


def test_mail_needs_base_url_and_says_so(unset: Settings, tmp_path: object) -> None:
    mailing = unset.model_copy(update={"smtp_host": "127.0.0.1", "mail_from": "pf@paperfeed.test"})
    assert not mailing.emails_enabled and mailing.mail_settings_missing == ["PAPERFEED_BASE_URL"]
    page = TestClient(create_app(mailing)).get("/subscribe").text
    assert "PAPERFEED_BASE_URL" in page and "PAPERFEED_SMTP_HOST" not in page.split("Operators:")[1][:200]
    result = CliRunner().invoke(
        cli_app,
        ["digest", "send", "--db", mailing.resolved_database_url.removeprefix("sqlite:///")],
        env={"PAPERFEED_SMTP_HOST": "127.0.0.1", "PAPERFEED_MAIL_FROM": "pf@paperfeed.test", "PAPERFEED_BASE_URL": ""},
    )
    assert result.exit_code != 0 and "PAPERFEED_BASE_URL" in result.output


def test_answers_are_gzipped_and_static_assets_cached(unset: Settings, paper_id: str) -> None:
    client = TestClient(create_app(unset))
    home = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert home.headers["content-encoding"] == "gzip" and "Links That Follow The Host" in home.text
    assert home.num_bytes_downloaded < len(home.content) / 2  # the bytes sent, compressed
    plain = client.get("/", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    tiny = client.get("/api/v1/papers/0000.00000", headers={"Accept-Encoding": "gzip"})  # a short 404 body
    assert tiny.headers.get("content-encoding") != "gzip"  # under the minimum size: sent as it is
    css = re.search(r'href="(/static/paperfeed\.css\?v=[0-9a-f]{12})"', home.text)
    assert css is not None, "stylesheet URL carries a content hash"
    asset = client.get(css.group(1), headers={"Accept-Encoding": "gzip"})
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert asset.headers["content-encoding"] == "gzip" and "etag" in asset.headers
    again = client.get(css.group(1), headers={"If-None-Match": asset.headers["etag"]})
    assert again.status_code == 304
    assert client.get("/static/paperfeed.css").headers["cache-control"] == "public, max-age=300"
