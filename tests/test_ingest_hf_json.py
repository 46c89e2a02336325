"""Ingesting Hugging Face papers JSON: /api/daily_papers and /api/papers/search responses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from paperfeed.ingest.formats import detect_format
from paperfeed.ingest.run import ingest_paths
from paperfeed.store.papers import get_paper


def _author(name: str, *, user: bool = False) -> dict[str, Any]:
    a: dict[str, Any] = {"_id": "65c1e2b3a1b2c3d4e5f60718", "name": name, "hidden": False}
    if user:
        a.update(
            user={
                "_id": "60f1abe7544c2adfd699860c",
                "avatarUrl": "/avatars/x.svg",
                "isPro": False,
                "fullname": name,
                "user": name.lower().replace(" ", ""),
                "type": "user",
            },
            status="claimed_verified",
            statusLastChangedAt="2024-02-06T08:49:01.519Z",
        )
    return a


def _paper(pid: str, title: str, summary: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "authors": [_author("Zhihong Shao"), _author("Peiyi Wang", user=True)],
        "mediaUrls": [],
        "publishedAt": "2024-02-05T18:55:32.000Z",
        "submittedOnDailyAt": "2024-02-06T01:58:24.467Z",
        "title": title,
        "summary": summary,
        "upvotes": 73,
        "discussionId": "65c1e2b3a1b2c3d4e5f60719",
        "ai_summary": "A model for maths.",
        "ai_keywords": ["math", "reasoning"],
        **extra,
    }


def daily_papers() -> list[dict[str, Any]]:
    """A page of https://huggingface.co/api/daily_papers."""
    p = _paper(
        "2402.03300",
        "DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open Language Models",
        "Mathematical reasoning poses a significant challenge for language models due to its complex "
        "and structured nature.",
        githubRepo="https://github.com/deepseek-ai/DeepSeek-Math",
        githubStars=1200,
        projectPage="https://example.org/deepseekmath",
    )
    wrapper = {
        "paper": p,
        "publishedAt": "2024-02-06T01:58:24.467Z",
        "title": p["title"],
        "summary": p["summary"],
        "mediaUrls": [],
        "thumbnail": "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2402.03300.png",
        "numComments": 4,
        "submittedBy": {
            "_id": "60f1abe7544c2adfd699860c",
            "avatarUrl": "/avatars/ak.svg",
            "fullname": "AK",
            "name": "akhaliq",
            "type": "user",
            "isPro": False,
            "isHf": True,
            "isMod": False,
        },
        "isAuthorParticipating": False,
    }
    broken = {
        "paper": {"id": "2402.99999", "authors": [], "title": "", "summary": "no title"},
        "publishedAt": "2024-02-06T01:58:24.467Z",
        "thumbnail": "",
        "numComments": 0,
        "submittedBy": {"name": "akhaliq"},
    }
    return [wrapper, broken]


def search_results() -> list[dict[str, Any]]:
    """What https://huggingface.co/api/papers/search?q=attention returns."""
    p = _paper(
        "1706.03762",
        "Attention Is All You Need",
        "The dominant sequence transduction models are based on complex recurrent or convolutional neural networks.",
    )
    p["publishedAt"] = "2017-06-12T17:57:34.000Z"
    return [
        {
            "paper": p,
            "publishedAt": "2023-08-01T10:00:00.000Z",
            "title": p["title"],
            "summary": p["summary"],
            "thumbnail": "https://cdn-thumbnails.huggingface.co/x.png",
            "numComments": 2,
            "isAuthorParticipating": False,
            "githubRepo": "https://github.com/tensorflow/tensor2tensor",
        }
    ]


def _write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def test_daily_papers_response(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, "daily_papers.json", daily_papers())
    assert detect_format(path) == "hf-json"
    report = ingest_paths(engine=engine, paths=[path])
    assert report.added == 1
    assert [(r.record, r.reason) for r in report.rejected] == [(2, "missing title")]
    with engine.connect() as conn:
        p = get_paper(conn=conn, paper_id="2402.03300")
    assert p is not None
    assert p.title.startswith("DeepSeekMath") and p.abstract.startswith("Mathematical reasoning")
    assert p.author_names == ["Zhihong Shao", "Peiyi Wang"]
    assert p.published == datetime(2024, 2, 5, 18, 55, 32, tzinfo=UTC)
    assert p.code_url == "https://github.com/deepseek-ai/DeepSeek-Math"
    assert p.project_url == "https://example.org/deepseekmath"
    assert p.abs_url == "https://arxiv.org/abs/2402.03300"
    assert p.source == "hf-daily"


def test_papers_search_response(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, "search.json", search_results())
    report = ingest_paths(engine=engine, paths=[path], fmt="hf-json")
    assert report.added == 1 and report.rejected == []
    with engine.connect() as conn:
        p = get_paper(conn=conn, paper_id="1706.03762")
    assert p is not None
    assert p.title == "Attention Is All You Need"
    assert p.published == datetime(2017, 6, 12, 17, 57, 34, tzinfo=UTC)
    assert p.code_url == "https://github.com/tensorflow/tensor2tensor"


def test_single_paper_object_from_api_papers_id(engine: Engine, tmp_path: Path) -> None:
    bare = _paper("2402.03300", "DeepSeekMath", "Maths.")
    path = _write(tmp_path, "paper.json", bare)  # pretty-printed: the first line is just "{"
    assert detect_format(path) == "hf-json"
    assert ingest_paths(engine=engine, paths=[path]).added == 1


def test_invalid_json_is_reported_with_its_line(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "daily.json"
    path.write_text('[\n  {"paper": {"id": "2402.03300",\n  "title": }\n]\n', encoding="utf-8")
    report = ingest_paths(engine=engine, paths=[path], fmt="hf-json")
    assert report.added == 0
    assert len(report.rejected) == 1 and report.rejected[0].line == 3
    assert report.rejected[0].reason.startswith("invalid JSON")
