"""Paperfeed's own JSONL: `paperfeed export` then ingest loses nothing, and re-exports byte for byte."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.ids import derived_id
from paperfeed.ingest.formats import detect_format
from paperfeed.ingest.run import ingest_paths
from paperfeed.models import Author, Paper, Version
from paperfeed.store.db import open_store
from paperfeed.store.papers import upsert_papers
from tests.factories import make_paper


def _varied_papers() -> list[Paper]:
    t = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    title = "Ünïcödé, LaTeX $\\alpha$ and emoji 🧪 in one title"
    return [
        make_paper(
            id="2401.00001",
            versions=[Version(1, t, "12kb"), Version(2, t.replace(day=9), "14kb")],
            doi="10.1/x",
            journal_ref="J. Test 1 (2024)",
            comments="5 pages",
            license="CC BY 4.0",
            code_url="https://github.com/x/y",
            project_url="https://x.org",
            first_seen=t,
        ),
        make_paper(id="hep-th/9901001", authors=[Author("Jürgen Müller", ["MPI", "CERN"])], first_seen=t),
        Paper(
            id=derived_id(title, "An abstract."), title=title, abstract="An abstract.", source="hf-page", first_seen=t
        ),
    ]


def _export(db: str) -> str:
    result = CliRunner().invoke(app, ["export", "--db", db])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_export_ingest_export_is_byte_identical(tmp_path: Path) -> None:
    first_db = str(tmp_path / "a.db")
    engine = open_store(Settings(_env_file=None, database_url=first_db, seed_demo=False))  # type: ignore[call-arg]
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=_varied_papers())
    engine.dispose()
    dump = _export(first_db)
    assert len(dump.splitlines()) == 3
    path = tmp_path / "export.jsonl"
    path.write_text(dump, encoding="utf-8")
    assert detect_format(path) == "paperfeed-jsonl"

    second_db = str(tmp_path / "b.db")
    result = CliRunner().invoke(app, ["ingest", str(path), "--db", second_db, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["added"] == 3
    assert _export(second_db) == dump

    again = CliRunner().invoke(app, ["ingest", str(path), "--db", first_db, "--json"])
    report = json.loads(again.stdout)
    assert (report["added"], report["updated"], report["unchanged"]) == (0, 0, 3)
    assert _export(first_db) == dump


def test_every_field_survives_the_round_trip(engine: Engine, tmp_path: Path) -> None:
    originals = {p.id: p for p in _varied_papers()}
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=list(originals.values()))
    from paperfeed.ingest.paperfeed_jsonl import write_jsonl
    from paperfeed.store.papers import iter_papers

    path = tmp_path / "out.jsonl"
    with engine.connect() as conn, path.open("w", encoding="utf-8") as f:
        write_jsonl((p for batch in iter_papers(conn=conn) for p in batch), f)
    from paperfeed.ingest.paperfeed_jsonl import parse_paperfeed_jsonl

    with path.open("rb") as f:
        parsed = {p.id: p for p in parse_paperfeed_jsonl(f, name="out.jsonl") if isinstance(p, Paper)}
    for pid, original in originals.items():
        got = parsed[pid]
        assert replace(got, changed_at=None) == replace(original, changed_at=None), pid


def test_bad_lines_are_rejected_by_line_number(engine: Engine, tmp_path: Path) -> None:
    good = json.dumps({"format": "paperfeed/1", "id": "2401.00009", "title": "Fine"})
    lines = [
        good,
        "{not json",
        json.dumps({"format": "paperfeed/1", "id": "2401.00010"}),
        json.dumps({"format": "paperfeed/1", "id": "2401.00011", "title": "T", "versions": "v1"}),
    ]
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest_paths(engine=engine, paths=[path])
    assert report.added == 1
    assert [(r.line, r.reason.split(":")[0]) for r in report.rejected] == [
        (2, "invalid JSON"),
        (3, "missing id or title"),
        (4, "versions must be {version, created, size} objects"),
    ]
