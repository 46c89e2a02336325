"""Ingesting OAI-PMH ListRecords pages in the arXiv and arXivRaw metadata formats."""
# ruff: noqa: E501 - records are kept exactly as arXiv publishes them, long lines included

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.ingest.formats import detect_format
from paperfeed.ingest.oai_pmh import parse_oai_bytes
from paperfeed.ingest.paperfeed_jsonl import paper_to_json
from paperfeed.ingest.run import ingest_paths
from paperfeed.models import DeletedRecord
from paperfeed.store.db import open_store
from paperfeed.store.papers import get_paper
from paperfeed.web.app import create_app
from tests.factories import write_file

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/ http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">
<responseDate>2024-03-04T09:12:45Z</responseDate>
"""
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Whole ListRecords pages (each starts with HEAD): a record, a deletion and a record without a title...
ARXIV_PAGE = (FIXTURES / "oai_ingest_arxiv_page.xml").read_text(encoding="utf-8")
# ...and, in the arXivRaw format, a record with two versions and a deletion.
RAW_PAGE = (FIXTURES / "oai_ingest_raw_page.xml").read_text(encoding="utf-8")


def test_arxiv_format_page_is_detected_and_stored(engine: Engine, tmp_path: Path) -> None:
    path = write_file(tmp_path, "ListRecords.xml", ARXIV_PAGE)
    assert detect_format(path) == "oai-pmh"
    report = ingest_paths(engine=engine, paths=[path])
    assert (report.added, report.deleted) == (1, 1)
    assert [(r.record, r.reason) for r in report.rejected] == [(3, "missing title")]
    with engine.connect() as conn:
        p = get_paper(conn=conn, paper_id="2403.00011")
    assert p is not None
    assert p.title == "Retrieval-Augmented Decoding with Sparse Caches"
    assert p.author_names == ["Chidi Okafor", "Lena Müller", "John Smith Jr"]
    assert p.authors[0].affiliations == ["University of Lagos"]
    assert p.categories == ["cs.CL", "cs.IR"] and p.primary_category == "cs.CL"
    assert p.published == datetime(2024, 2, 29, tzinfo=UTC)
    assert p.updated == datetime(2024, 3, 1, tzinfo=UTC)
    assert p.doi == "10.1000/xyz123"
    assert p.license == "http://creativecommons.org/licenses/by/4.0/"
    assert p.source == "oai-arxiv"


def test_arxivraw_page_keeps_the_whole_version_history(engine: Engine, tmp_path: Path) -> None:
    path = write_file(tmp_path, "raw.xml", RAW_PAGE)
    report = ingest_paths(engine=engine, paths=[path], fmt="oai-pmh")
    assert (report.added, report.deleted, len(report.rejected)) == (1, 1, 0)
    with engine.connect() as conn:
        p = get_paper(conn=conn, paper_id="0704.0001")
    assert p is not None
    assert [(v.version, v.created, v.size) for v in p.versions] == [
        (1, datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC), "37kb"),
        (2, datetime(2007, 7, 24, 20, 10, 27, tzinfo=UTC), "37kb"),
    ]
    assert p.published == datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)
    assert p.updated == datetime(2007, 7, 24, 20, 10, 27, tzinfo=UTC)
    assert p.author_names == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]
    assert p.authors[1].affiliations == ["Argonne, IL"]
    assert p.journal_ref == "Phys.Rev.D76:013009,2007" and p.doi == "10.1103/PhysRevD.76.013009"
    assert p.source == "oai-arxivraw"


def test_resumption_token_and_list_size_are_read() -> None:
    first = parse_oai_bytes(ARXIV_PAGE.encode(), name="p1")
    assert first.resumption_token == "6960524|1001" and first.complete_list_size == 2843
    last = parse_oai_bytes(RAW_PAGE.encode(), name="p2")
    assert last.resumption_token is None  # an empty token marks the last page


def test_deleted_record_never_removes_a_stored_paper(engine: Engine, tmp_path: Path) -> None:
    raw = write_file(tmp_path, "raw.xml", RAW_PAGE)
    ingest_paths(engine=engine, paths=[raw])
    page = parse_oai_bytes(RAW_PAGE.replace("0704.0002", "0704.0001").encode(), name="x")
    deleted = [i for i in page.items if isinstance(i, DeletedRecord)]
    assert [d.id for d in deleted] == ["0704.0001"]
    again = ingest_paths(
        engine=engine, paths=[write_file(tmp_path, "del.xml", RAW_PAGE.replace("0704.0002", "0704.0001"))]
    )
    assert (again.deleted, again.withdrawn) == (1, 1)
    with engine.connect() as conn:
        kept = get_paper(conn=conn, paper_id="0704.0001")
    assert kept is not None and kept.withdrawn and kept.title  # kept whole, marked withdrawn
    third = ingest_paths(engine=engine, paths=[tmp_path / "del.xml"])
    assert (third.deleted, third.withdrawn) == (1, 0)  # already withdrawn: nothing changes


def test_a_withdrawn_paper_says_so_on_its_page_in_the_api_and_through_export(
    settings: Settings, tmp_path: Path
) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        engine: Engine = app.state.engine
        ingest_paths(engine=engine, paths=[write_file(tmp_path, "raw.xml", RAW_PAGE)])
        ingest_paths(engine=engine, paths=[write_file(tmp_path, "del.xml", RAW_PAGE.replace("0704.0002", "0704.0001"))])
        page = client.get("/papers/0704.0001")
        assert page.status_code == 200 and "Withdrawn" in page.text
        assert client.get("/api/v1/papers/0704.0001").json()["withdrawn"] is True
        with engine.connect() as conn:
            exported = paper_to_json(get_paper(conn=conn, paper_id="0704.0001"))  # type: ignore[arg-type]
    assert exported["withdrawn"] is True
    line = tmp_path / "export.jsonl"
    line.write_text(json.dumps(exported) + "\n")
    fresh_settings = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'copy.db'}"})
    fresh = open_store(fresh_settings)
    try:
        report = ingest_paths(engine=fresh, paths=[line])
        assert (report.added, report.withdrawn) == (1, 1)
        with fresh.connect() as conn:
            copy = get_paper(conn=conn, paper_id="0704.0001")
        assert copy is not None and copy.withdrawn
    finally:
        fresh.dispose()


def test_no_records_match_is_an_empty_page_not_an_error(engine: Engine, tmp_path: Path) -> None:
    text = (
        HEAD
        + """<request verb="ListRecords" metadataPrefix="arXiv" set="cs" from="2030-01-01">http://export.arxiv.org/oai2</request>
<error code="noRecordsMatch">The combination of the values of the from, until, set and metadataPrefix arguments results in an empty list.</error>
</OAI-PMH>
"""
    )
    report = ingest_paths(engine=engine, paths=[write_file(tmp_path, "none.xml", text)])
    assert (report.added, report.rejected) == (0, [])


def test_arxiv_and_arxivraw_records_of_one_paper_merge(engine: Engine, tmp_path: Path) -> None:
    arxiv_record = (
        HEAD
        + """<ListRecords><record><header><identifier>oai:arXiv.org:0704.0001</identifier>
<datestamp>2008-11-13</datestamp></header><metadata>
<arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>0704.0001</id><created>2007-04-02</created>
<updated>2007-07-24</updated><authors><author><keyname>Bal\\'azs</keyname><forenames>C.</forenames></author>
</authors><title>Calculation of prompt diphoton production cross sections at Tevatron and LHC energies</title>
<categories>hep-ph</categories><abstract>A fully differential calculation.</abstract></arXiv>
</metadata></record></ListRecords></OAI-PMH>
"""
    )
    first = ingest_paths(engine=engine, paths=[write_file(tmp_path, "arxiv.xml", arxiv_record)])
    second = ingest_paths(engine=engine, paths=[write_file(tmp_path, "raw.xml", RAW_PAGE)])
    assert first.added == 1 and second.added == 0 and second.updated == 1
    with engine.connect() as conn:
        p = get_paper(conn=conn, paper_id="0704.0001")
    assert p is not None
    assert [v.version for v in p.versions] == [1, 2]
    assert p.doi == "10.1103/PhysRevD.76.013009"
