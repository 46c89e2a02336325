"""Ingesting saved Hugging Face Papers pages (plain text with page chrome) and the shipped demo corpus."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from paperfeed.ingest import demo
from paperfeed.ingest.formats import detect_format
from paperfeed.ingest.hf_pages import parse_hf_page
from paperfeed.ingest.run import ingest_paths
from paperfeed.models import Paper, Rejection
from paperfeed.store.papers import count_papers, iter_papers
from tests.conftest import SHARED

PAGES = sorted((SHARED / "corpus" / "hf-papers-pages").glob("*.txt"))
needs_pages = pytest.mark.skipif(len(PAGES) != 3, reason="../shared/corpus/hf-papers-pages not present")

ABSTRACT_1 = (
    "Existing checkpointing approaches seem ill-suited for distributed training. We propose "
    "Universal Checkpointing, a technique that enables efficient checkpoint creation. It works."
)
ABSTRACT_2 = (
    "We study attention heads in small transformers and find that a single layer can learn "
    "sparse parity. Experiments confirm the theory on three benchmarks."
)


def _items(text: str) -> list[Paper | Rejection]:
    return [i for i in parse_hf_page(io.BytesIO(text.encode()), name="page.txt")]  # type: ignore[misc]


def test_chrome_dates_and_glued_titles_are_handled() -> None:
    text = (
        "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\n"
        "byAK and the research community\n\n"
        "Mar 17\n\nSubscribeUniversal Checkpointing: Efficient Checkpointing\n" + ABSTRACT_1 + "\n\n"
        "Jun 3, 2024\n\nWhat can a Single Attention Layer Learn?\n\n" + ABSTRACT_2 + "\n"
    )
    items = _items(text)
    assert all(isinstance(i, Paper) for i in items)
    papers = [i for i in items if isinstance(i, Paper)]
    assert [p.title for p in papers] == [
        "Universal Checkpointing: Efficient Checkpointing",
        "What can a Single Attention Layer Learn?",
    ]
    assert papers[0].abstract == ABSTRACT_1 and papers[1].abstract == ABSTRACT_2
    assert all(p.id.startswith("pf-") and p.source == "hf-page" for p in papers)


def test_a_title_without_abstract_does_not_shift_later_papers() -> None:
    text = (
        "Subscribe\nLonely Title Without Abstract\nSecond Paper Title\n" + ABSTRACT_2 + "\n"
        "Third Paper\n" + ABSTRACT_1 + "\n"
    )
    papers = [i for i in _items(text) if isinstance(i, Paper)]
    assert [(p.title, p.abstract[:10]) for p in papers] == [
        ("Lonely Title Without Abstract", ""),
        ("Second Paper Title", ABSTRACT_2[:10]),
        ("Third Paper", ABSTRACT_1[:10]),
    ]


@needs_pages
def test_the_three_saved_pages_give_the_341_distinct_papers(engine: Engine) -> None:
    assert all(detect_format(p) == "hf-page" for p in PAGES)
    first = ingest_paths(engine=engine, paths=PAGES)
    assert first.rejected == []
    assert first.added == 341 and first.added + first.unchanged == 382  # 41 papers appear on two pages
    with engine.connect() as conn:
        assert count_papers(conn=conn) == 341
        papers = [p for batch in iter_papers(conn=conn) for p in batch]
    for p in papers:
        assert not p.title.startswith(("Subscribe", "new")) and p.title not in ("Subscribe", "new")
        assert len(p.title) < 300 and len(p.abstract) > 100, p.title
    titles = {p.title for p in papers}
    assert (
        "Universal Checkpointing: Efficient and Flexible Checkpointing for Large Scale Distributed Training" in titles
    )
    assert "One Model to Train them All: Hierarchical Self-Distillation for Enhanced Early Layer Embeddings" in titles
    again = ingest_paths(engine=engine, paths=PAGES)
    assert (again.added, again.updated) == (0, 0)


@needs_pages
def test_demo_corpus_is_regenerated_reproducibly(tmp_path: Path) -> None:
    out = tmp_path / "demo.jsonl"
    assert demo.main(["--source", str(PAGES[0].parent), "--out", str(out)]) == 0
    assert out.read_bytes() == demo.DEFAULT_OUT.read_bytes()
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 341 and len({r["id"] for r in rows}) == 341
    assert all(r["title"] and len(r["abstract"]) > 100 for r in rows)
    # no invented dates: the pages give none, so the store stamps each paper when this instance adds it
    assert all(r["first_seen"] is None and r["published"] is None for r in rows)


def test_shipped_demo_corpus_ingests_cleanly(engine: Engine) -> None:
    report = ingest_paths(engine=engine, paths=[demo.DEFAULT_OUT])
    assert report.added == 341 and report.rejected == []


def test_an_arbitrary_text_file_is_not_taken_for_a_page(tmp_path: Path) -> None:
    from paperfeed.ingest.formats import IngestError

    notes = tmp_path / "notes.txt"
    notes.write_text("Shopping list\nMilk, eggs and a very long line of other things to buy today.\n")
    with pytest.raises(IngestError, match="unrecognised format; pass --format"):
        detect_format(notes)
    page = tmp_path / "page.txt"
    page.write_text("Get trending papers in your email inbox!\nSubscribe\nA Title\n" + ABSTRACT_1 + "\n")
    assert detect_format(page) == "hf-page"
