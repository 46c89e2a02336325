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

HEAD = "0011_authors_keywords_public"  # the newest revision: update when adding one


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
