"""Keyphrases that are whole noun phrases, served by every API and shown in one row on cards (issue 22, item 6):
the fragments the issue names are never chips, ``/api/daily_papers`` serves the same ``ai_keywords`` as
``/api/papers/{id}``, and a card in chromium shows one row of chips at most (the paper page shows them all)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from paperfeed.keywords import extract_keywords, fragment_reason, refresh_keywords
from paperfeed.store.keywords import keywords_for, store_keywords
from paperfeed.store.papers import now_utc, upsert_papers
from paperfeed.web.app import create_app, start_store
from tests.factories import make_paper
from tests.servers import BROWSER_MARKS, chromium_tab, free_port, running, site_settings

DEMO = Path(__file__).resolve().parent.parent / "paperfeed" / "data" / "demo_papers.jsonl"
# Chips the issue saw on the demo: pieces of sentences or of longer names.
FRAGMENTS = [
    "representation learning seeks",
    "Spectrally Consistent Deep",
    "Pre-Activations Trainable",
    "attracting significant attention",
]


@pytest.mark.parametrize("phrase", FRAGMENTS)
def test_the_fragments_the_issue_names_are_recognised(phrase: str) -> None:
    assert fragment_reason(phrase) is not None


@pytest.mark.parametrize("phrase", ["representation learning", "Matryoshka Representation Learning", "GPT-4"])
def test_whole_noun_phrases_are_kept(phrase: str) -> None:
    assert fragment_reason(phrase) is None


def test_no_demo_paper_gets_a_fragment_the_issue_names_and_each_keeps_three_chips() -> None:
    rows = [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines() if line.strip()]
    found = {r["title"]: extract_keywords(r["title"], r["abstract"]) for r in rows}
    assert not {k for chips in found.values() for k in chips} & set(FRAGMENTS)
    assert [title for title, chips in found.items() if len(chips) < 3] == []


LONG_TITLE = "Residual networks for image recognition with very deep convolutional layers"
LONG_ABSTRACT = (
    "Deep residual networks ease the training of very deep convolutional networks for image recognition. "
    "Residual learning with identity shortcut connections improves ImageNet classification accuracy, object "
    "detection on COCO, semantic segmentation benchmarks and transfer learning to small datasets."
)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    app = create_app(site_settings(tmp_path_factory.mktemp("keyphrases"), port, seed_demo=False))
    start_store(app)
    engine = app.state.engine
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[make_paper(id="1512.03385", title=LONG_TITLE, abstract=LONG_ABSTRACT)])
    refresh_keywords(engine=engine)
    with engine.begin() as conn:  # long chips, so that they cannot all fit in one row of a card
        store_keywords(
            conn=conn,
            found={"1512.03385": [f"residual learning variant number {n} with long words" for n in range(6)]},
            now=now_utc(),
        )
        assert len(keywords_for(conn=conn, ids=["1512.03385"])["1512.03385"]) == 6
    with running(app, port) as url:
        yield url


def test_daily_papers_serves_the_keyphrases_paper_info_serves(base_url: str) -> None:
    info = httpx.get(f"{base_url}/api/papers/1512.03385", timeout=30).json()
    assert len(info["ai_keywords"]) == 6
    daily = httpx.get(f"{base_url}/api/daily_papers", timeout=30).json()
    assert [d["paper"]["ai_keywords"] for d in daily if d["paper"]["id"] == "1512.03385"] == [info["ai_keywords"]]
    listed = httpx.get(f"{base_url}/api/papers/search", timeout=30).json()
    assert listed[0]["paper"]["ai_keywords"] == info["ai_keywords"]


@BROWSER_MARKS[0]
@BROWSER_MARKS[1]
def test_a_card_shows_one_row_of_chips_and_the_paper_page_all(base_url: str) -> None:
    def visible_rows(tab: object, selector: str) -> tuple[int, int]:
        """(rows with a visible chip, visible chips): a chip is visible when it lies inside its clipped box."""
        return tab.evaluate(  # type: ignore[attr-defined, no-any-return]
            """sel => { const box = document.querySelector(sel); const b = box.getBoundingClientRect();
              const seen = [...box.querySelectorAll('a.chip')].map(c => c.getBoundingClientRect())
                .filter(r => r.top >= b.top - 1 && r.bottom <= b.bottom + 1);
              return [new Set(seen.map(r => Math.round(r.top))).size, seen.length]; }""",
            selector,
        )

    with chromium_tab(base_url) as tab:
        tab.set_viewport_size({"width": 420, "height": 900})  # phone width: six chips never fit one row
        tab.goto("/")
        rows, shown = visible_rows(tab, ".cards .keywords")
        assert rows == 1 and 1 <= shown < 6
        tab.goto("/papers/1512.03385")
        rows, shown = visible_rows(tab, ".keywords")
        assert shown == 6 and rows > 1


def test_phrases_computed_under_the_old_rules_are_computed_again_once(engine: object) -> None:
    from datetime import timedelta

    from paperfeed.keywords import RULES_SINCE

    with engine.begin() as conn:  # type: ignore[attr-defined]
        upsert_papers(conn=conn, papers_in=[make_paper(id="1512.03385", title=LONG_TITLE, abstract=LONG_ABSTRACT)])
        store_keywords(  # what the old selection kept: a sentence fragment among them
            conn=conn,
            found={"1512.03385": ["Residual networks ease", "image recognition", "deep residual networks"]},
            now=RULES_SINCE - timedelta(days=1),
        )
    assert refresh_keywords(engine=engine) == 1  # type: ignore[arg-type]
    with engine.connect() as conn:  # type: ignore[attr-defined]
        chips = keywords_for(conn=conn, ids=["1512.03385"])["1512.03385"]
    assert "Residual networks ease" not in chips and len(chips) >= 3
    assert all(fragment_reason(c) is None for c in chips)
    assert refresh_keywords(engine=engine) == 0  # type: ignore[arg-type]
