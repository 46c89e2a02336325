"""Typos: "did you mean" from the index's own vocabulary, on the page, in the API and from the CLI, and the
corrected query searched when the one typed finds (almost) nothing. On the demo corpus; with
PAPERFEED_TEST_BACKEND=postgresql the same tests run on PostgreSQL full-text search."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app as cli_app
from paperfeed.config import Settings
from paperfeed.models import Author
from paperfeed.search import spelling
from paperfeed.search.spelling import correctable_spans
from tests.factories import cli_env, make_paper, site_client
from tests.pg import PG_BACKEND

TYPOS = [
    ("transfomer", "transformer"),
    ("contrastve learing", "contrastive learning"),
    ("reprsentation", "representation"),
]


def _demo_settings(settings: Settings) -> Settings:
    """The demo corpus; searched inside PostgreSQL when the suite runs on PostgreSQL."""
    return settings.model_copy(update={"seed_demo": True, "search_backend": "postgres" if PG_BACKEND else "auto"})


@pytest.fixture(autouse=True)
def patient_spelling() -> Iterator[None]:
    """A loaded test machine may take more than the server's 3 s to build the first vocabulary: wait for it,
    as `paperfeed search` does."""
    spelling.wait_for_vocabulary(None)
    yield
    spelling.wait_for_vocabulary(spelling.FIRST_BUILD_WAIT)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    title, abstract = "Boundary layers on swept wings", "Wind tunnel measurements of transition on swept wings."
    authors = [Author("Ludwig Prandtl"), Author("Theodore von Karman")]
    papers = [make_paper(id="2501.00001", title=title, abstract=abstract, authors=authors)]
    with site_client(_demo_settings(settings), papers) as c:
        yield c


def _ids(client: TestClient, q: str) -> list[str]:
    return [h["paper"]["id"] for h in client.get("/api/v1/search", params={"q": q, "limit": 5}).json()["data"]]


@pytest.mark.parametrize(("typo", "right"), TYPOS)
def test_typos_find_what_the_right_spelling_finds_with_a_suggestion(client: TestClient, typo: str, right: str) -> None:
    body = client.get("/api/v1/search", params={"q": typo, "limit": 5}).json()
    assert body["suggestion"] == right and body["corrected"] is True and body["query"] == typo
    got = [h["paper"]["id"] for h in body["data"]]
    assert len(set(got) & set(_ids(client, right))) >= 3, (got, _ids(client, right))
    assert client.get("/api/v1/search", params={"q": right}).json()["suggestion"] is None


def test_the_page_shows_did_you_mean_as_a_link_with_the_same_filters(client: TestClient) -> None:
    page = client.get("/search", params={"q": "transfomer", "sort": "date"}).text
    assert 'Did you mean: <a href="/search?q=transformer&amp;sort=date"' in page
    assert "these are the results for “transformer”" in page and "results for “transformer”</p>" in page
    assert client.get("/search", params={"q": "transformer"}).text.count("Did you mean") == 0


def test_a_typo_beside_words_that_match_keeps_its_results_and_suggests(client: TestClient) -> None:
    """The query as typed finds plenty through its other words: its own results, and the suggestion."""
    body = client.get("/api/v1/search", params={"q": "diffusion modls"}).json()
    assert body["suggestion"] == "diffusion models" and body["corrected"] is False and body["total"] >= 5


def test_real_words_author_names_and_rare_terms_are_not_corrected(client: TestClient) -> None:
    # "leaning" is in one demo abstract, one letter from "learning" (in 190); "matryoshka" in 3; "prandtl" and
    # "karman" are author names only; "gnn" is too short to correct; nonsense has no close word.
    for q in ["leaning", "matryoshka", "prandtl", "Karman", "gnn", "qwxzv flurble zzyzx", "author:prandtl wings"]:
        assert client.get("/api/v1/search", params={"q": q}).json()["suggestion"] is None, q


def test_only_plain_words_and_phrases_are_corrected() -> None:
    q = 'transfomer "contrastve learing" -reprsentation author:hintn cat:cs.LG'
    assert [q[s:e] for s, e in correctable_spans(q)] == ["transfomer", "contrastve", "learing"]


def test_the_query_language_survives_a_correction(client: TestClient) -> None:
    body = client.get("/api/v1/search", params={"q": 'transfomer -survey year:2017-2030 "contrastve learing"'}).json()
    assert body["suggestion"] == 'transformer -survey year:2017-2030 "contrastive learning"'


def test_cli_prints_the_suggestion_on_stderr_and_clean_json_on_stdout(settings: Settings, engine: Engine) -> None:
    backend = "postgres" if PG_BACKEND else "auto"
    env = cli_env(settings.data_dir, settings.database_url, seed_demo="true", search_backend=backend)
    result = CliRunner().invoke(cli_app, ["search", "reprsentation", "--json", "-n", "5"], env=env)
    assert result.exit_code == 0, result.stderr
    hits = json.loads(result.stdout)  # stdout is the JSON and nothing else
    assert len(hits) == 5 and any("representation" in (h["title"] + h["snippet"]).lower() for h in hits)
    assert "did you mean: representation; showing results for it" in result.stderr
    plain = CliRunner().invoke(cli_app, ["search", "representation", "--json"], env=env)
    assert "did you mean" not in plain.stderr
