"""The paper store: merging, versions, aliases, ordering — what users see as 'no duplicates, no loss'."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import Engine

from paperfeed.ids import derived_id
from paperfeed.models import Version
from paperfeed.store.papers import count_papers, get_paper, get_papers, iter_papers, upsert_papers
from tests.factories import make_paper


def _upsert(engine: Engine, papers):  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        return upsert_papers(conn=conn, papers_in=papers)


def test_reingesting_the_same_papers_changes_nothing(engine: Engine) -> None:
    papers = [make_paper() for _ in range(3)]
    first = _upsert(engine, papers)
    second = _upsert(engine, papers)
    assert len(first.added) == 3
    assert second.added == [] and second.updated == [] and len(second.unchanged) == 3


def test_newer_version_updates_text_and_keeps_history(engine: Engine) -> None:
    v1 = make_paper(title="Old Title")
    _upsert(engine, [v1])
    later = datetime(2024, 3, 1, tzinfo=UTC)
    v2 = replace(
        v1,
        title="New Title",
        abstract="Revised abstract.",
        updated=later,
        versions=[Version(1, v1.published), Version(2, later)],
    )
    result = _upsert(engine, [v2])
    assert result.updated == [v1.id]
    with engine.connect() as conn:
        stored = get_paper(conn=conn, paper_id=v1.id)
    assert stored is not None
    assert stored.title == "New Title"
    assert [v.version for v in stored.versions] == [1, 2]
    # An older version arriving later does not roll the text back.
    assert _upsert(engine, [v1]).unchanged == [v1.id]


def test_same_title_from_two_sources_becomes_one_paper_with_the_arxiv_id(engine: Engine) -> None:
    title = "Graph Transformers at Scale"
    page_copy = make_paper(
        title=title,
        abstract="Abstract.",
        authors=[],
        categories=[],
        versions=[],
        published=None,
        abs_url=None,
        pdf_url=None,
        source="hf-page",
    )
    page_copy.id = derived_id(page_copy.title, page_copy.abstract)
    _upsert(engine, [page_copy])
    arxiv_copy = make_paper(id="2405.00123", title="Graph transformers at scale", abstract="Abstract.")
    result = _upsert(engine, [arxiv_copy])
    assert result.updated == ["2405.00123"]
    with engine.connect() as conn:
        assert count_papers(conn=conn) == 1
        via_alias = get_paper(conn=conn, paper_id=page_copy.id)
    assert via_alias is not None and via_alias.id == "2405.00123"
    assert via_alias.authors  # filled from the arXiv copy


def test_two_different_arxiv_papers_with_the_same_title_stay_apart(engine: Engine) -> None:
    a = make_paper(id="2401.00001", title="Introduction")
    b = make_paper(id="2402.00002", title="Introduction")
    _upsert(engine, [a, b])
    with engine.connect() as conn:
        assert count_papers(conn=conn) == 2


def test_duplicates_inside_one_batch_are_merged(engine: Engine) -> None:
    p = make_paper()
    result = _upsert(engine, [p, replace(p)])
    assert result.added == [p.id]


def test_get_papers_keeps_order_and_skips_unknown_ids(engine: Engine) -> None:
    papers = [make_paper() for _ in range(4)]
    _upsert(engine, papers)
    wanted = [papers[2].id, "9999.99999", papers[0].id, papers[2].id]
    with engine.connect() as conn:
        got = get_papers(conn=conn, ids=wanted)
        assert list(got) == [papers[2].id, papers[0].id] and got[papers[0].id].title == papers[0].title
        assert get_paper(conn=conn, paper_id=papers[1].id + "v3") is not None
        batches = list(iter_papers(conn=conn, batch_size=3))
    assert [len(b) for b in batches] == [3, 1]


def test_get_papers_answers_an_old_id_under_the_id_asked_for(engine: Engine) -> None:
    """A paper renamed from its derived id to its arXiv id is found by both, each under the id asked for."""
    page_copy = make_paper(title="Sparse attention revisited", abstract="Abstract.", versions=[], source="hf-page")
    page_copy.id = derived_id(page_copy.title, page_copy.abstract)
    _upsert(engine, [page_copy])
    _upsert(engine, [make_paper(id="2405.00999", title="Sparse attention revisited", abstract="Abstract.")])
    with engine.connect() as conn:
        got = get_papers(conn=conn, ids=[page_copy.id, "2405.00999"])
    assert list(got) == [page_copy.id, "2405.00999"]
    assert got[page_copy.id].id == got["2405.00999"].id == "2405.00999"


def test_hostile_text_is_stored_verbatim(engine: Engine) -> None:
    p = make_paper(title="<script>alert('x')</script> \"quoted\" — ∑ 数学 🚀")
    _upsert(engine, [p])
    with engine.connect() as conn:
        stored = get_paper(conn=conn, paper_id=p.id)
    assert stored is not None and stored.title == p.title
