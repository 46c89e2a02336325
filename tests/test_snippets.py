"""Snippets are data (text plus match spans), rendered by each interface: HTML with <mark> on pages and in the
API, plain text in the CLI. Titles and abstracts with quotes, apostrophes, ampersands and <script>."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app as cli_app
from paperfeed.config import Settings
from paperfeed.models import Snippet
from paperfeed.search.analyze import analyse
from paperfeed.search.snippet import snippet
from paperfeed.store.papers import upsert_papers
from paperfeed.web.app import create_app
from tests.factories import cli_env, make_paper

TITLE = "Rock 'n' roll & \"quoted\" <script>alert('t')</script> turbulence"
ABSTRACT = (
    "We say \"turbulence\" isn't solved: R&D <script>alert('x')</script> shows that turbulence & "
    "vortices <b>interact</b>."
)


@pytest.fixture
def stored(engine: Engine) -> Engine:
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[make_paper(id="2403.00001", title=TITLE, abstract=ABSTRACT)])
    return engine


def test_a_snippet_is_text_with_spans_and_renders_escaped_html() -> None:
    s = snippet(ABSTRACT, analyse("turbulence script"))
    assert s.text == ABSTRACT  # short enough to be whole: the text as written, nothing escaped
    assert [s.text[a:b] for a, b in s.marks] == ["turbulence", "script", "script", "turbulence"]
    html = s.html()
    assert "&quot;<mark>turbulence</mark>&quot; isn&#x27;t solved: R&amp;D &lt;<mark>script</mark>&gt;" in html
    assert "<b>" not in html and "&lt;b&gt;interact&lt;/b&gt;" in html and "<script>" not in html
    assert str(s) == s.text and s.__html__() == html and not Snippet() and Snippet().html() == ""


def test_a_cut_snippet_keeps_its_spans_on_the_text() -> None:
    text = "filler words here. " * 30 + "the turbulence is here. " + "more filler. " * 30
    s = snippet(text, analyse("turbulence"), max_chars=80)
    assert s.text.startswith("\u2026 ") and s.text.endswith(" \u2026") and len(s.text) <= 84
    assert [s.text[a:b] for a, b in s.marks] == ["turbulence"]


def test_cli_json_prints_plain_text_without_entities(settings: Settings, stored: Engine) -> None:
    env = cli_env(settings.data_dir, settings.database_url)
    result = CliRunner().invoke(cli_app, ["search", "turbulence", "--json"], env=env)
    assert result.exit_code == 0, result.stderr
    hit = json.loads(result.stdout)[0]
    assert hit["title"] == TITLE and hit["snippet"] == ABSTRACT
    for entity in ("&quot;", "&#x27;", "&amp;", "&lt;", "<mark>"):
        assert entity not in result.stdout
    text = CliRunner().invoke(cli_app, ["search", "turbulence"], env=env).stdout
    assert "We say \"turbulence\" isn't solved: R&D <script>alert('x')</script>" in text


@pytest.fixture
def client(settings: Settings, stored: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def test_api_snippet_is_escaped_html_with_marks_and_the_title_is_plain(client: TestClient) -> None:
    hit = client.get("/api/v1/search", params={"q": "turbulence"}).json()["data"][0]
    assert hit["paper"]["title"] == TITLE and hit["paper"]["abstract"] == ABSTRACT  # JSON data, not HTML
    assert hit["snippet"].startswith("We say &quot;<mark>turbulence</mark>&quot; isn&#x27;t solved: R&amp;D")
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in hit["snippet"] and "<script" not in hit["snippet"]


def test_page_renders_the_snippet_escaped_with_marks(client: TestClient) -> None:
    page = client.get("/search", params={"q": "turbulence"}).text
    assert "&quot;<mark>turbulence</mark>&quot; isn&#x27;t solved: R&amp;D" in page
    assert "<script>alert" not in page and "&lt;b&gt;interact&lt;/b&gt;" in page


def _every_token_spans(text: str, wanted: frozenset[str]) -> list[tuple[int, int]]:
    """The plain way: stem every token (what the fast paths of ``_spans`` must equal)."""
    import re

    from paperfeed.search.snippet import _term

    return [(m.start(), m.end()) for m in re.finditer(r"[^\W_]+", text) if _term(m.group()) in wanted]


def test_the_fast_match_finds_every_token_the_stemmer_would_on_real_and_awkward_text() -> None:
    import random
    import re

    from paperfeed.ingest.demo import DEMO_PATH
    from paperfeed.search.snippet import _spans, _term

    awkward = [
        "Dying and lying cells; tying knots; using studies of flies, skies and early ugly gently idly.",
        "Ångström-scale naïve Bayes: ﬁne-tuned ÉCOLE models, Straße and ſtrange 3D_grids; x² ± 5 μm.",
        "networks network's NETWORKED Networking net nets netting: agings ages aged.",
    ]
    texts = [json.loads(line).get("abstract") or "" for line in DEMO_PATH.read_text().splitlines()[:120]]
    rng = random.Random(5)
    checked = 0
    for text in awkward + texts:
        text = " ".join(text.split())
        terms = sorted({t for t in map(_term, re.findall(r"[^\W_]+", text)) if t} | {"die", "lie", "use"})
        for _ in range(6):
            wanted = frozenset(rng.sample(terms, min(3, len(terms))) + ["zzzabsent"])
            assert _spans(text, wanted) == _every_token_spans(text, wanted), (text[:60], wanted)
            checked += 1
        for term in ("die", "lie", "tie", "use", "studi", "fli", "angstrom", "naiv", "fine", "ecol", "strang", "3d"):
            assert _spans(text, frozenset({term})) == _every_token_spans(text, frozenset({term})), (text[:60], term)
    assert checked > 700
