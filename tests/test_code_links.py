"""Code and project links found in abstracts and arXiv comments at ingest (paperfeed/ingest/code_links.py)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.ingest.code_links import extract_links
from paperfeed.ingest.validate import clean_paper
from paperfeed.store.papers import get_paper, upsert_papers
from tests.factories import make_paper

SAMPLE = Path(__file__).parent / "fixtures" / "code_links_sample.jsonl"
# Floors under the figures in docs/ingest.md ("Code and project links"); they must not fall.
FLOORS = {"code": (0.95, 0.95), "project": (0.85, 0.95)}


def _norm(url: str | None) -> str | None:
    if not url:
        return None
    url = url.lower().split("://", 1)[-1].removeprefix("www.")
    return url.rstrip("/")


def precision_recall(field: str) -> tuple[float, float, int]:
    tp = fp = fn = 0
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        found = extract_links(row["abstract"], row["comments"])
        got, want = _norm(getattr(found, field)), _norm(row[field])
        if got and got == want:
            tp += 1
        else:
            fp += got is not None
            fn += want is not None
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1), len(rows)


def test_the_labelled_sample_has_real_abstracts_with_and_without_links() -> None:
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 50
    assert sum(1 for r in rows if r["code"]) >= 30 and sum(1 for r in rows if r["project"]) >= 15
    assert sum(1 for r in rows if not r["code"] and not r["project"]) >= 10


def test_precision_and_recall_stay_above_their_floors() -> None:
    for field, (p_floor, r_floor) in FLOORS.items():
        precision, recall, _ = precision_recall(field)
        assert precision >= p_floor, (field, precision)
        assert recall >= r_floor, (field, recall)


def test_links_in_arxiv_comments_and_without_a_scheme() -> None:
    found = extract_links(
        "We study things.",
        "Accepted at ICLR 2024. Code: github.com/acme/widget.git; project: https://acme.github.io/w/.",
    )
    assert found.code == "https://github.com/acme/widget"
    assert found.project == "https://acme.github.io/w/"


def test_only_http_links_and_no_references_count() -> None:
    found = extract_links(
        "See javascript:alert(1) and https://doi.org/10.1/x and https://arxiv.org/abs/2401.00001 "
        "and https://github.com/onlyowner."
    )
    assert found == type(found)(code=None, project=None)


def test_ingest_fills_the_links_and_keeps_those_the_source_gave(engine: Engine) -> None:
    text = "Code is available at https://github.com/acme/found. Project page: https://acme.github.io/found/."
    given = make_paper(abstract=text, code_url="https://gitlab.com/acme/given")
    plain = make_paper(abstract=text)
    cleaned = [clean_paper(given), clean_paper(plain)]
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[p for p in cleaned if not isinstance(p, str)])
        stored_given = get_paper(conn=conn, paper_id=given.id)
        stored_plain = get_paper(conn=conn, paper_id=plain.id)
    assert stored_given is not None and stored_plain is not None
    assert stored_given.code_url == "https://gitlab.com/acme/given"
    assert stored_given.project_url == "https://acme.github.io/found/"
    assert stored_plain.code_url == "https://github.com/acme/found"


def test_found_links_show_as_buttons_and_in_both_apis(settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from paperfeed.web.app import create_app

    app = create_app(settings)
    with TestClient(app) as client:
        text = "Code is available at https://github.com/acme/found. Project page: https://acme.github.io/found/."
        cleaned = clean_paper(make_paper(id="2401.09999", abstract=text))
        assert not isinstance(cleaned, str)
        with app.state.engine.begin() as conn:
            upsert_papers(conn=conn, papers_in=[cleaned])
        page = client.get("/").text
        assert '<a class="code-link" href="https://github.com/acme/found" rel="noopener">Code</a>' in page
        assert '<a class="project-link" href="https://acme.github.io/found/" rel="noopener">Project</a>' in page
        hf = client.get("/api/papers/2401.09999").json()
        assert (hf["githubRepo"], hf["projectPage"]) == (
            "https://github.com/acme/found",
            "https://acme.github.io/found/",
        )
        links = client.get("/api/v1/papers/2401.09999").json()["links"]
        assert (links["code"], links["project"]) == ("https://github.com/acme/found", "https://acme.github.io/found/")
