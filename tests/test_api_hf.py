"""Hugging Face-compatible papers API, driven by httpx and by the real ``huggingface_hub`` client.

A seeded store is served by a real uvicorn server on a free port; ``HfApi(endpoint=...)`` talks to it
unchanged: ``list_papers``, ``paper_info``, ``read_paper``, ``list_daily_papers`` (date, week, month,
submitter, sort, paging).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, constants
from huggingface_hub.errors import HfHubHTTPError
from markdown_it import MarkdownIt
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.store.db import open_store
from paperfeed.store.papers import upsert_papers
from paperfeed.store.submissions import add_submission
from paperfeed.store.votes import add_vote
from paperfeed.web.app import create_app
from tests.factories import create_verified_user, make_paper
from tests.servers import free_port, running

HOSTILE_TITLE = 'Attack <script>alert("t")</script> & "quotes" <img src=x onerror=alert(1)>'
HOSTILE_ABSTRACT = "We <img src=x onerror=alert(1)> study [links](javascript:alert(1)) and <b>bold</b> claims."


def at(day: int, hour: int, month: int = 3) -> datetime:
    return datetime(2024, month, day, hour, 0, tzinfo=UTC)


def seed(engine: Engine) -> None:
    """Papers on 2024-03-04 (ISO week 2024-W10), 03-05, one in February and a member's submission on 03-06."""
    papers = [
        make_paper(
            id="2403.00001",
            title="Attention Is Sparse",
            published=at(4, 9),
            abstract="Sparse attention for long documents with linear cost.",
        ),
        make_paper(
            id="2403.00002",
            title="Graph Neural Networks for Molecules",
            published=at(4, 12),
            abstract="Message passing graph neural networks predict molecular properties.",
            code_url="https://github.com/example/gnn-mol",
            project_url="https://gnn.example.org",
        ),
        make_paper(id="2403.00003", title=HOSTILE_TITLE, abstract=HOSTILE_ABSTRACT, published=at(5, 10)),
        make_paper(id="2402.00004", title="A February Paper", published=at(20, 8, month=2)),
        make_paper(
            id="2312.00005",
            title="Submitted Diffusion Models",
            published=datetime(2023, 12, 1, tzinfo=UTC),
            abstract="Diffusion models for images, submitted to the daily list by a member.",
        ),
        make_paper(id="hep-th/9901001", title="An Old-Style Identifier", published=datetime(1999, 1, 4, tzinfo=UTC)),
    ]
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=papers)
        users = [
            create_verified_user(
                conn=conn, email=f"{n}@example.org", username=n, password_hash="x", display_name=n.title() + " L."
            )
            for n in ("ada", "bob", "cy")
        ]
        for u in users:
            add_vote(conn=conn, user_id=u.id, paper_id="2403.00001")
        add_vote(conn=conn, user_id=users[1].id, paper_id="2403.00002")
        add_submission(conn=conn, paper_id="2312.00005", user_id=users[0].id, when=at(6, 8))


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real uvicorn server on a free port, serving a seeded SQLite store (BM25 search, no model)."""
    tmp: Path = tmp_path_factory.mktemp("hf")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        _env_file=None,
        environment="test",
        data_dir=tmp / "data",  # type: ignore[call-arg]
        seed_demo=False,
        embedder="none",
        base_url=url,
    )
    engine = open_store(settings)
    seed(engine)
    engine.dispose()
    with running(create_app(settings), port, timeout=30):
        yield url


@pytest.fixture
def hf(base_url: str, monkeypatch: pytest.MonkeyPatch) -> HfApi:
    """The unchanged client; offline mode (set for the whole suite) would block even 127.0.0.1."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return HfApi(endpoint=base_url, token=False)


def ids(papers: object) -> list[str]:
    return [p.id for p in papers]  # type: ignore[attr-defined]


def test_list_daily_papers_by_date_sort_and_paging(hf: HfApi) -> None:
    assert ids(hf.list_daily_papers(date="2024-03-04")) == ["2403.00002", "2403.00001"]  # newest first
    assert ids(hf.list_daily_papers(date="2024-03-04", sort="trending")) == ["2403.00001", "2403.00002"]
    assert ids(hf.list_daily_papers(date="2024-03-04", limit=1)) == ["2403.00002"]
    assert ids(hf.list_daily_papers(date="2024-03-04", limit=1, p=1)) == ["2403.00001"]
    assert ids(hf.list_daily_papers(date="2024-03-04", limit=1, p=2)) == []
    assert ids(hf.list_daily_papers(date="2024-03-07")) == []


def test_list_daily_papers_fields_match_the_hub(hf: HfApi) -> None:
    first = next(iter(hf.list_daily_papers(date="2024-03-04", sort="trending")))
    assert first.title == "Attention Is Sparse"
    assert first.summary == "Sparse attention for long documents with linear cost."
    assert [a.name for a in first.authors or []] == ["Ada Lovelace", "Alan Turing"]
    assert first.upvotes == 3 and first.comments == 0
    assert first.published_at == at(4, 9) and first.submitted_at == at(4, 9)
    assert first.submitted_by is None  # arXiv listing, not a member's submission
    assert first.thumbnail.endswith("/papers/2403.00001/thumbnail.svg")  # type: ignore[attr-defined]


def test_list_daily_papers_week_month_submitter(hf: HfApi) -> None:
    week = ids(hf.list_daily_papers(week="2024-W10"))
    assert week == ["2312.00005", "2403.00003", "2403.00002", "2403.00001"]
    assert ids(hf.list_daily_papers(week="2024-W10", sort="trending"))[:2] == ["2403.00001", "2403.00002"]
    assert ids(hf.list_daily_papers(month="2024-02")) == ["2402.00004"]
    assert ids(hf.list_daily_papers(month="2024-03", limit=2, p=1)) == ["2403.00002", "2403.00001"]
    (mine,) = list(hf.list_daily_papers(submitter="ada"))
    assert mine.id == "2312.00005" and mine.submitted_by is not None
    assert mine.submitted_by.username == "ada" and mine.submitted_by.fullname == "Ada L."
    assert mine.submitted_at == at(6, 8) and mine.published_at == datetime(2023, 12, 1, tzinfo=UTC)
    assert ids(hf.list_daily_papers()) == ["2312.00005"]  # no period: the latest day with papers


def test_paper_info_and_not_found(hf: HfApi) -> None:
    info = hf.paper_info("2403.00002")
    assert info.id == "2403.00002" and info.title == "Graph Neural Networks for Molecules"
    assert info.upvotes == 1 and info.published_at == at(4, 12)
    assert info.github_repo == "https://github.com/example/gnn-mol"
    assert info.project_page == "https://gnn.example.org"
    assert hf.paper_info("2403.00002v1").id == "2403.00002"  # a version suffix finds the paper
    sub = hf.paper_info("2312.00005")
    assert sub.submitted_by is not None and sub.submitted_by.username == "ada"
    assert sub.submitted_at == at(6, 8)
    old = hf.paper_info("hep-th/9901001")  # old-style ids keep their slash in the URL
    assert old.id == "hep-th/9901001" and old.title == "An Old-Style Identifier"
    assert hf.read_paper("hep-th/9901001").startswith("# An Old-Style Identifier\n")
    assert ids(hf.list_daily_papers(date="1999-01-04")) == ["hep-th/9901001"]
    with pytest.raises(HfHubHTTPError) as err:
        hf.paper_info("9999.99999")
    assert err.value.response.status_code == 404


def test_list_papers_searches(hf: HfApi) -> None:
    found = list(hf.list_papers(query="graph neural networks"))
    assert found and found[0].id == "2403.00002" and found[0].upvotes == 1
    assert len(list(hf.list_papers(query="attention", limit=1))) == 1
    assert ids(hf.list_papers(query="diffusion"))[0] == "2312.00005"
    assert len(list(hf.list_papers())) >= 1  # no query: the latest papers


def test_read_paper_is_safe_markdown(hf: HfApi) -> None:
    md = hf.read_paper("2403.00002")
    assert md.startswith("# Graph Neural Networks for Molecules\n")
    assert "Message passing graph neural networks predict molecular properties." in md
    assert "Ada Lovelace, Alan Turing" in md and "[Code](https://github.com/example/gnn-mol)" in md
    hostile = hf.read_paper("2403.00003")
    assert "<script>" not in hostile and "<img" not in hostile
    rendered = MarkdownIt("commonmark").render(hostile)  # HTML allowed: still nothing executable
    assert "<script" not in rendered and "<img" not in rendered and 'href="javascript' not in rendered
    assert "&lt;script&gt;" in rendered and "onerror=alert(1)" in rendered  # shown as text
    with pytest.raises(HfHubHTTPError):
        hf.read_paper("9999.99999")


def test_http_validation_errors_name_the_field(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as c:
        for query, field in [
            ("date=2024-13-01", "date"),
            ("week=2024-W60", "week"),
            ("month=2024-1x", "month"),
            ("sort=best", "sort"),
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("p=-1", "p"),
            ("date=2024-03-04&week=2024-W10", "week"),
        ]:
            r = c.get("/api/daily_papers?" + query)
            assert r.status_code == 422, query
            assert r.json()["detail"][0]["field"] == field, query
        r = c.get("/api/papers/search", params={"q": "x" * 1001})
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "q"
        assert c.get("/api/papers/search", params={"q": "year:abc"}).status_code == 422
        r = c.get("/api/papers/search", params={"q": "' OR 1=1; DROP TABLE papers; --"})
        assert r.status_code == 200
        assert c.get("/api/papers/" + "9" * 500).status_code == 404


def test_hostile_text_is_plain_json_and_thumbnail_is_escaped(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as c:
        info = c.get("/api/papers/2403.00003").json()
        assert info["title"] == HOSTILE_TITLE and info["summary"] == HOSTILE_ABSTRACT
        r = c.get("/api/papers/2403.00003")
        assert r.headers["content-type"] == "application/json"
        svg = c.get("/papers/2403.00003/thumbnail.svg")
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        assert "<script" not in svg.text and "<img" not in svg.text and "&lt;script&gt;" in svg.text
        assert c.get("/papers/2403.00003").status_code == 200  # the HTML page is still its own route
