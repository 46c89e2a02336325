"""``paperfeed db copy``: a whole instance moves SQLite -> PostgreSQL -> SQLite without loss."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.store import send_ledger as L
from paperfeed.store import subscriptions as S
from paperfeed.store.all_tables import metadata
from paperfeed.store.library import library_add
from paperfeed.store.papers import get_paper, upsert_papers
from paperfeed.store.submissions import add_submission
from paperfeed.store.transfer import table_sum
from paperfeed.store.votes import add_vote, vote_counts
from tests.factories import create_verified_user, make_paper, opened_store
from tests.pg import PgServer

runner = CliRunner()


def _fill(url: str, tmp_path: Path) -> None:
    """An instance with papers (a renamed one, versions, aliases), members, votes, library and a digest."""
    with opened_store(tmp_path, url) as engine, engine.begin() as conn:
        upsert_papers(
            conn=conn, papers_in=[make_paper(id=f"2402.{i:05d}", title=f"Paper {i} on ünïcode ∑") for i in range(1, 60)]
        )
        upsert_papers(conn=conn, papers_in=[make_paper(id="pf-abc123", title="Renamed later")])
        upsert_papers(conn=conn, papers_in=[make_paper(id="2402.99999", title="Renamed later")])
        user = create_verified_user(conn=conn, email="ada@example.org", username="ada", password_hash="x")
        add_vote(conn=conn, user_id=user.id, paper_id="2402.00001")
        library_add(conn=conn, user_id=user.id, paper_id="2402.00002")
        add_submission(conn=conn, paper_id="2402.00003", user_id=user.id)
        sub, _ = S.create_or_refresh_pending(
            conn=conn, email="bob@example.org", prefs={"topics": ["cs.CL"]}, now=datetime(2024, 5, 1, 7, 30, tzinfo=UTC)
        )
        claim = L.claim_digest(
            conn=conn,
            subscriber_id=sub.id,
            period="2024-05-01",
            worker="w1",
            now=datetime(2024, 5, 1, 7, 31, tzinfo=UTC),
            message_id="<m@x>",
        )
        assert claim is not None
        assert L.mark_sending(conn=conn, claim=claim)
        L.mark_sent(conn=conn, claim=claim, paper_ids=["2402.00004"], now=datetime(2024, 5, 1, 7, 32, tzinfo=UTC))


def _sums(url: str, tmp_path: Path) -> dict[str, tuple[int, str]]:
    with opened_store(tmp_path, url) as engine, engine.connect() as conn:
        out = {t.name: (lambda s: (s.rows, s.hex))(table_sum(conn, t)) for t in metadata.sorted_tables}
    return out


def test_sqlite_to_postgres_and_back(pg_server: PgServer, tmp_path: Path) -> None:
    sqlite_a = str(tmp_path / "a.db")
    _fill(sqlite_a, tmp_path)
    pg = pg_server.url(pg_server.create_database(empty=True))  # a bare database: copy migrates it
    done = runner.invoke(app, ["db", "copy", sqlite_a, pg, "--json", "--batch-size", "7"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    by_table = {t["table"]: t["rows"] for t in report["tables"]}
    assert by_table["papers"] == 60 and by_table["paper_aliases"] == 1 and by_table["votes"] == 1
    assert "postgres:***@" in report["destination"] or "***" not in report["destination"]

    sqlite_b = str(tmp_path / "b.db")
    back = runner.invoke(app, ["db", "copy", pg, sqlite_b])
    assert back.exit_code == 0, back.output
    assert "checksums verified" in back.stdout
    assert _sums(sqlite_a, tmp_path) == _sums(pg, tmp_path) == _sums(sqlite_b, tmp_path)

    # the copy is a working instance: aliases resolve, and new rows get fresh ids (sequences moved on)
    with opened_store(tmp_path, pg) as engine, engine.begin() as conn:
        assert get_paper(conn=conn, paper_id="pf-abc123").id == "2402.99999"  # type: ignore[union-attr]
        assert create_verified_user(conn=conn, email="eve@example.org", username="eve", password_hash="x").id == 2
        assert vote_counts(conn=conn, ids=["2402.00001"]) == {"2402.00001": 1}
        found = conn.execute(text("SELECT count(*) FROM papers WHERE search_tsv @@ 'renam'::tsquery"))
        assert found.scalar() == 1


def test_refuses_a_non_empty_destination_unless_forced(pg_server: PgServer, tmp_path: Path) -> None:
    src = str(tmp_path / "src.db")
    _fill(src, tmp_path)
    pg = pg_server.url(pg_server.create_database())
    assert runner.invoke(app, ["db", "copy", src, pg]).exit_code == 0
    again = runner.invoke(app, ["db", "copy", src, pg])
    assert again.exit_code == 1 and "not empty" in again.output and "--force" in again.output
    forced = runner.invoke(app, ["db", "copy", src, pg, "--force"])
    assert forced.exit_code == 0, forced.output
    assert _sums(src, tmp_path) == _sums(pg, tmp_path)


def test_a_row_the_destination_refuses_keeps_nothing(pg_server: PgServer, tmp_path: Path) -> None:
    src = str(tmp_path / "src.db")
    _fill(src, tmp_path)
    with (
        opened_store(tmp_path, src) as engine,
        engine.begin() as conn,
    ):  # SQLite keeps what PostgreSQL refuses: a NUL character in text
        conn.execute(text("UPDATE papers SET comments = 'bad' || char(0) || 'byte' WHERE id = '2402.00005'"))
    pg = pg_server.url(pg_server.create_database())
    done = runner.invoke(app, ["db", "copy", src, pg])
    assert done.exit_code == 1 and "table papers" in done.output and "nothing was written" in done.output
    assert all(rows == 0 for rows, _ in _sums(pg, tmp_path).values())


def test_same_database_is_refused(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    done = runner.invoke(app, ["db", "copy", db, db])
    assert done.exit_code == 1 and "same database" in done.output


@pytest.mark.parametrize("bad", ["postgresql://nobody@127.0.0.1:1/none"])
def test_unreachable_destination_is_one_line(tmp_path: Path, bad: str) -> None:
    src = str(tmp_path / "src.db")
    done = runner.invoke(app, ["db", "copy", src, bad])
    assert done.exit_code == 1 and "cannot open database" in done.output and "Traceback" not in done.output
