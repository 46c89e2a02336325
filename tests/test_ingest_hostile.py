"""Hostile input: damaged files and odd records are reported precisely; nothing stored is ever lost."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from paperfeed.ids import derived_id
from paperfeed.ingest.run import IngestReport, ingest_paths, store_items
from paperfeed.ingest.validate import MAX_ABSTRACT, MAX_AUTHORS, MAX_TITLE
from paperfeed.models import Author, Paper, ParsedItem, Version
from paperfeed.store.papers import count_papers, get_paper, upsert_papers
from tests.factories import make_paper, write_file


def kaggle(pid: str, title: str = "A fine title", **changes: object) -> str:
    data: dict[str, object] = {
        "id": pid,
        "submitter": "A. Person",
        "authors": "A. Person, B. Person",
        "title": title,
        "comments": None,
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": "cs.LG",
        "license": None,
        "abstract": "  An abstract.\n",
        "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}],
        "update_date": "2008-11-13",
        "authors_parsed": [["Person", "A.", ""], ["Person", "B.", ""]],
    }
    data.update(changes)
    return json.dumps(data, ensure_ascii=False)


def _paper(engine: Engine, pid: str) -> Paper | None:
    with engine.connect() as conn:
        return get_paper(conn=conn, paper_id=pid)


def test_truncated_json_lines_file_keeps_the_good_lines(engine: Engine, tmp_path: Path) -> None:
    body = kaggle("2401.00001") + "\n" + kaggle("2401.00002") + "\n" + kaggle("2401.00003")[:70]
    path = write_file(tmp_path, "snap.json", body)
    report = ingest_paths(engine=engine, paths=[path])
    assert report.added == 2
    assert [(r.file, r.line) for r in report.rejected] == [(str(path), 3)]
    assert report.rejected[0].reason.startswith("invalid JSON")


def test_truncated_xml_stores_complete_entries_and_names_the_damage(engine: Engine, tmp_path: Path) -> None:
    entry = (
        "<entry><id>http://arxiv.org/abs/2401.0000{n}v1</id><published>2024-01-02T00:00:00Z</published>"
        "<title>Paper {n}</title><summary>Abstract {n}.</summary><author><name>A. B.</name></author>"
        "</entry>\n"
    )
    doc = '<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n' + "".join(
        entry.format(n=n) for n in (1, 2, 3)
    )
    path = write_file(tmp_path, "api.xml", doc[: doc.rindex("<summary>")])  # cut inside entry 3
    report = ingest_paths(engine=engine, paths=[path])
    assert report.added == 2
    damage = [r for r in report.rejected if r.reason.startswith("malformed XML")]
    assert len(damage) == 1 and damage[0].file == str(path) and damage[0].line == 5
    assert _paper(engine, "2401.00001") is not None and _paper(engine, "2401.00003") is None


def test_not_xml_at_all_is_one_clear_rejection(engine: Engine, tmp_path: Path) -> None:
    path = write_file(tmp_path, "x.xml", "<feed><entry><id>oops</i></feed>")
    report = ingest_paths(engine=engine, paths=[path], fmt="arxiv-atom")
    assert report.added == 0 and report.rejected
    assert all(r.file == str(path) for r in report.rejected)


def test_invalid_utf8_and_surrogates_are_rejected_per_line(engine: Engine, tmp_path: Path) -> None:
    lines = [
        kaggle("2401.00001").encode(),
        b'{"id": "2401.00002", "title": "\xff\xfe bad bytes"}',
        b'{"id": "2401.00003", "title": "lone \\ud800 surrogate"}',
        kaggle("2401.00004").encode(),
    ]
    report = ingest_paths(engine=engine, paths=[write_file(tmp_path, "s.json", b"\n".join(lines))], fmt="kaggle")
    assert report.added == 2
    assert [r.line for r in report.rejected] == [2, 3]


def test_absurd_sizes_are_rejected_with_the_reason(engine: Engine, tmp_path: Path) -> None:
    authors = ", ".join(f"Author {i}" for i in range(MAX_AUTHORS + 1))
    lines = [
        kaggle("2401.00001", title="T" * (MAX_TITLE + 1)),
        kaggle("2401.00002", abstract="word " * (MAX_ABSTRACT // 4)),
        kaggle("2401.00003", authors=authors, authors_parsed=None),
        kaggle("2401.00004", comments="c" * 100_000),
        kaggle("2401.00005", title="Normal"),
        kaggle("9" * 200),
    ]
    report = ingest_paths(engine=engine, paths=[write_file(tmp_path, "s.json", "\n".join(lines))])
    assert report.added == 1
    reasons = {r.line: r.reason for r in report.rejected}
    assert reasons[1] == f"title is {MAX_TITLE + 1} characters (limit {MAX_TITLE})"
    assert reasons[2].startswith("abstract is") and "limit" in reasons[2]
    assert reasons[3] == f"{MAX_AUTHORS + 1} authors (limit {MAX_AUTHORS})"
    assert reasons[4].startswith("comments is 100000 characters")
    assert "is not an arXiv id" in reasons[6]


def test_control_characters_latex_and_unicode_are_stored_cleanly(engine: Engine, tmp_path: Path) -> None:
    title = "Nai\u0308ve \x00Bayes\x07 for \u4e2d\u6587, \u0627\u0644\u0639\u0631\u0628\u064a\u0629 & \U0001f9ea"
    lines = [
        kaggle(
            "2401.00001",
            title=title,
            abstract="Line\x0bone\u2028two\t $\\frac{a}{b}$ \\emph{x}",
            authors='G. Gr\\"atzer and J. M\\"{u}ller',
            authors_parsed=None,
        )
    ]
    report = ingest_paths(engine=engine, paths=[write_file(tmp_path, "s.json", "\n".join(lines))])
    assert report.added == 1 and report.rejected == []
    p = _paper(engine, "2401.00001")
    assert p is not None
    assert p.title == "Naïve Bayes for 中文, العربية & 🧪"  # NFC, control characters removed
    assert p.abstract == "Line one two $\\frac{a}{b}$ \\emph{x}"  # math and macros kept as written
    assert p.author_names == ["G. Grätzer", "J. Müller"]


def test_reingest_changes_nothing_and_a_newer_version_keeps_history(engine: Engine, tmp_path: Path) -> None:
    v1 = write_file(tmp_path, "v1.json", kaggle("2401.00001", title="First title"))
    ingest_paths(engine=engine, paths=[v1])
    with engine.connect() as conn:
        before = conn.execute(text("select changed_at from papers")).scalar_one()
    again = ingest_paths(engine=engine, paths=[v1])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)
    with engine.connect() as conn:
        assert conn.execute(text("select changed_at from papers")).scalar_one() == before
    v2 = write_file(
        tmp_path,
        "v2.json",
        kaggle(
            "2401.00001",
            title="Second title",
            versions=[
                {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
                {"version": "v2", "created": "Tue, 3 Apr 2007 10:00:00 GMT"},
            ],
        ),
    )
    assert ingest_paths(engine=engine, paths=[v2]).updated == 1
    older = ingest_paths(engine=engine, paths=[v1])  # an old snapshot never rolls a paper back
    assert (older.updated, older.unchanged) == (0, 1)
    p = _paper(engine, "2401.00001")
    assert p is not None and p.title == "Second title" and [v.version for v in p.versions] == [1, 2]


def test_same_paper_from_two_sources_becomes_one(engine: Engine) -> None:
    title, abstract = "Graph Transformers for Molecules", "We apply graph transformers to molecules."
    from_page = Paper(id=derived_id(title, abstract), title=title, abstract=abstract, source="hf-page")
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[from_page])
    from_arxiv = make_paper(
        id="2405.00042",
        title="Graph  transformers for molecules.",
        abstract=abstract,
        code_url="https://github.com/x/graphs",
    )
    with engine.begin() as conn:
        result = upsert_papers(conn=conn, papers_in=[from_arxiv])
        assert count_papers(conn=conn) == 1
    assert result.updated == ["2405.00042"]
    merged = _paper(engine, from_page.id)  # the old id still finds the paper
    assert merged is not None and merged.id == "2405.00042"
    assert merged.code_url == "https://github.com/x/graphs" and merged.authors
    hf = replace(
        make_paper(id="2405.00042"),
        title=title,
        authors=[Author("Someone Else")],
        versions=[],
        source="hf-daily",
        published=None,
        updated=None,
        code_url=None,
    )
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[hf])
        assert count_papers(conn=conn) == 1


def _interrupting(items: list[Paper], after: int, exc: BaseException) -> Iterator[ParsedItem]:
    for i, item in enumerate(items):
        if i == after:
            raise exc
        yield item


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), RuntimeError("disk on fire")])
def test_interrupted_ingest_leaves_whole_batches_and_a_rerun_completes(engine: Engine, exc: BaseException) -> None:
    papers = [make_paper(id=f"2402.{i:05d}") for i in range(1, 26)]
    with pytest.raises(type(exc)):
        store_items(engine=engine, items=_interrupting(papers, 17, exc), report=IngestReport(), batch_size=5)
    with engine.connect() as conn:
        assert count_papers(conn=conn) == 15  # three whole batches; the fourth was never written
        orphans = conn.execute(
            text("select count(*) from paper_versions where paper_id not in (select id from papers)")
        ).scalar_one()
        assert orphans == 0
        if engine.dialect.name == "sqlite":
            assert conn.execute(text("pragma integrity_check")).scalar_one() == "ok"
    report = store_items(engine=engine, items=iter(papers), report=IngestReport(), batch_size=5)
    assert (report.added, report.unchanged) == (10, 15)


def test_a_failing_batch_rolls_back_completely(engine: Engine) -> None:
    good = make_paper(id="2403.00001")
    when = datetime(2024, 1, 1, tzinfo=UTC)
    bad = make_paper(id="2403.00002", versions=[Version(1, when), Version(1, when)])  # duplicate key
    with pytest.raises(Exception):  # noqa: B017 - the database's integrity error
        store_items(engine=engine, items=iter([good, bad]), report=IngestReport(), batch_size=10)
    with engine.connect() as conn:
        assert count_papers(conn=conn) == 0


def test_reingesting_a_page_after_its_paper_got_an_arxiv_id_changes_nothing(engine: Engine) -> None:
    title, abstract = "Tiny Recursive Models", "Small networks that recurse beat large ones."
    from_page = Paper(id=derived_id(title, abstract), title=title, abstract=abstract, source="hf-page")
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[from_page])
        upsert_papers(conn=conn, papers_in=[make_paper(id="2510.04871", title=title, abstract=abstract)])
        again = upsert_papers(conn=conn, papers_in=[from_page])  # found through the alias
        assert again.unchanged == ["2510.04871"] and count_papers(conn=conn) == 1


def test_a_record_without_versions_never_overrides_arxiv_text(engine: Engine) -> None:
    arxiv = make_paper(id="2406.00001", title="Official Title", abstract="Official abstract.")
    later = datetime(2030, 1, 1, tzinfo=UTC)
    hf = replace(
        arxiv,
        title="Official title",
        abstract="A shorter HF summary.",
        versions=[],
        published=later,
        updated=later,
        code_url="https://github.com/o/r",
        source="hf-daily",
    )
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[arxiv])
        assert upsert_papers(conn=conn, papers_in=[hf]).updated == ["2406.00001"]
    p = _paper(engine, "2406.00001")
    assert p is not None and p.abstract == "Official abstract." and p.code_url == "https://github.com/o/r"


def _damaged_samples() -> Iterator[tuple[str, bytes]]:
    """Realistic files of every format, cut short, with bytes flipped and markup characters inserted."""
    import random

    from tests import (
        test_ingest_atom,
        test_ingest_bibtex,
        test_ingest_kaggle,
        test_ingest_oai,
        test_ingest_rss,
    )

    samples = {
        "arxiv-atom": test_ingest_atom.API_RESPONSE,
        "oai-pmh": test_ingest_oai.RAW_PAGE,
        "arxiv-rss": test_ingest_rss.RSS,
        "bibtex": test_ingest_bibtex.BIB,
        "kaggle": test_ingest_kaggle.LINE_1 + "\n" + test_ingest_kaggle.LINE_2 + "\n",
        "hf-json": json.dumps([{"paper": {"id": "2402.03300", "title": "T", "summary": "S"}}]),
        "paperfeed-jsonl": json.dumps({"format": "paperfeed/1", "id": "2401.1", "title": "T"}) + "\n",
        "hf-page": "Subscribe\nA Title\n" + "An abstract sentence. " * 10 + "\n",
    }
    rng = random.Random(7)
    for fmt, sample in samples.items():
        data = sample.encode()
        for trial in range(60):
            d = bytearray(data)
            if trial % 3 == 0:
                d = d[: rng.randrange(len(d))]
            elif trial % 3 == 1:
                for _ in range(4):
                    d[rng.randrange(len(d))] = rng.randrange(256)
            else:
                i = rng.randrange(len(d))
                d[i:i] = rng.choice([b"\x00", b"\xff\xfe", b"&", b"<", b"{", b"\\", b'"', b"]]>", b"@"])
            yield fmt, bytes(d)


def test_every_parser_survives_damaged_input() -> None:
    import io

    from paperfeed.ingest.formats import FORMATS
    from paperfeed.models import DeletedRecord, Rejection

    for fmt, data in _damaged_samples():
        for item in FORMATS[fmt](io.BytesIO(data), name="damaged"):
            assert isinstance(item, Paper | Rejection | DeletedRecord), (fmt, item)
            if isinstance(item, Rejection):
                assert item.file == "damaged" and item.reason.strip(), (fmt, item)


def test_ctrl_c_inside_a_batch_write_rolls_that_batch_back(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from paperfeed.ingest import run

    calls = {"n": 0}

    def interrupted_upsert(*, conn, papers_in):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        result = upsert_papers(conn=conn, papers_in=papers_in)  # rows written inside the transaction...
        if calls["n"] == 2:
            raise KeyboardInterrupt  # ...then Ctrl-C before the commit
        return result

    monkeypatch.setattr(run, "upsert_papers", interrupted_upsert)
    papers = [make_paper(id=f"2404.{i:05d}") for i in range(1, 11)]
    with pytest.raises(KeyboardInterrupt):
        store_items(engine=engine, items=iter(papers), report=IngestReport(), batch_size=4)
    with engine.connect() as conn:
        assert count_papers(conn=conn) == 4
        assert conn.execute(text("select count(*) from paper_versions")).scalar_one() == 4


def test_a_gigantic_line_is_rejected_without_being_held_in_memory(engine: Engine, tmp_path: Path) -> None:
    """A line four times the limit is skipped after one limit-sized read: the peak memory of the whole ingest
    stays far under the line's length."""
    from paperfeed.ingest.parsing import MAX_LINE_BYTES

    path = tmp_path / "s.json"
    chunk = b"x" * (1 << 20)
    with path.open("wb") as out:
        out.write(kaggle("2401.00001").encode() + b"\n")
        head, tail = kaggle("2401.00002", abstract="@@").encode().split(b"@@")
        out.write(head)
        for _ in range(4 * (MAX_LINE_BYTES >> 20)):
            out.write(chunk)
        out.write(tail + b"\n" + kaggle("2401.00003").encode() + b"\n")
    line_bytes = 4 * MAX_LINE_BYTES
    tracemalloc.start()
    try:
        report = ingest_paths(engine=engine, paths=[path], fmt="kaggle")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.added == 2
    assert [(r.line, r.reason) for r in report.rejected] == [
        (2, f"line is longer than {MAX_LINE_BYTES >> 20} MB (limit for one record)")
    ]
    assert peak < 2.5 * MAX_LINE_BYTES, f"ingest held {peak >> 20} MiB at once for a {line_bytes >> 20} MiB line"


def test_line_and_document_limits() -> None:
    import io

    from paperfeed.ingest.parsing import numbered_lines, read_document

    data = b"short\n" + b"y" * 250 + b"\nafter\nlast-without-newline"
    got = list(numbered_lines(io.BufferedReader(io.BytesIO(data)), limit=100))
    assert got == [(1, b"short\n"), (2, None), (3, b"after\n"), (4, b"last-without-newline")]
    assert read_document(io.BytesIO(b"abc"), limit=3) == b"abc"
    with pytest.raises(ValueError, match="larger than"):
        read_document(io.BytesIO(b"abcd"), limit=3)
