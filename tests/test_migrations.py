"""One Alembic history for both backends: a single head, and stores made before the merge upgrade cleanly."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, insert, text
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.store.db import alembic_config, is_current, make_engine
from paperfeed.store.papers import _to_row
from paperfeed.store.schema import papers
from tests.factories import make_paper

HEAD = "0015_citations"  # the newest revision: update when adding one


def test_history_has_exactly_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [HEAD]


def test_a_fresh_store_is_at_the_head(engine: Engine) -> None:
    with engine.connect() as conn:
        rows = [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]
    assert rows == [HEAD]
    assert is_current(engine)


def test_a_store_made_before_the_merge_keeps_its_papers_through_db_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = make_engine(url)
    cfg = alembic_config(old)
    with old.begin() as conn:  # the three branch heads a store had before 0006 existed
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        command.upgrade(cfg, "0003")
        command.upgrade(cfg, "0005")
    with old.begin() as conn:  # as that old code wrote it (today's upsert also fills tables added later)
        paper = make_paper(id="2401.00001", title="Kept across the upgrade")
        row = {**_to_row(paper), "first_seen": paper.published, "changed_at": paper.published, "withdrawn": False}
        conn.execute(insert(papers), [row])
    assert not is_current(old)
    old.dispose()

    result = CliRunner().invoke(app, ["db", "upgrade", "--db", url])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    new = make_engine(url)
    try:
        assert is_current(new)
        with new.connect() as conn:
            titles = [r[0] for r in conn.execute(text("SELECT title FROM papers"))]
        assert titles == ["Kept across the upgrade"]
        with new.connect() as conn:  # 0011 filled the author rows of papers stored before it
            names = [r[0] for r in conn.execute(text("SELECT name_key FROM paper_authors ORDER BY position"))]
        assert names == ["ada lovelace", "alan turing"]
    finally:
        new.dispose()


def test_0014_numbers_the_papers_a_store_holds_in_the_order_they_were_added(engine: Engine) -> None:
    """Papers stored before ``papers.arrival`` existed get it in the order the database kept them; papers added
    afterwards continue the numbering (issue 22: ties of one timestamp list in arrival order)."""
    from datetime import UTC, datetime

    from paperfeed.store.papers import upsert_papers

    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0014_arrival_order-1")
    at = datetime(2024, 1, 1, tzinfo=UTC)
    ids = ["pf-c000000000000000", "pf-a000000000000000", "pf-b000000000000000"]  # added in this order
    with engine.begin() as conn:
        for pid in ids:
            row = {
                **_to_row(make_paper(id=pid, published=None)),
                "first_seen": at,
                "changed_at": at,
                "withdrawn": False,
            }
            conn.execute(insert(papers).values({k: v for k, v in row.items() if k != "arrival"}))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[make_paper(id="pf-0000000000000000", published=None, first_seen=at)])
    with engine.connect() as conn:
        order = [r[0] for r in conn.execute(text("SELECT id FROM papers ORDER BY arrival"))]
    assert order == [*ids, "pf-0000000000000000"]
