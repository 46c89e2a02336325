"""Ingesting the Kaggle arXiv snapshot (arxiv-metadata-oai-snapshot.json): JSON lines, streamed."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.cli import common as cli_common
from paperfeed.config import Settings
from paperfeed.ingest.formats import detect_format
from paperfeed.ingest.kaggle import parse_kaggle
from paperfeed.ingest.run import ingest_paths
from paperfeed.models import Paper
from paperfeed.store.papers import count_papers, get_paper
from tests.ingesting import ingest_detected, stored

# Two records exactly as the snapshot has them (key order, nulls, LaTeX accents, authors_parsed), one
# compact JSON object per line.
RECORD_1 = {
    "id": "0704.0001",
    "submitter": "Pavel Nadolsky",
    "authors": "C. Bal\\'azs, E. L. Berger, P. M. Nadolsky, C.-P. Yuan",
    "title": "Calculation of prompt diphoton production cross sections at Tevatron and\n  LHC energies",
    "comments": "37 pages, 15 figures; published version",
    "journal-ref": "Phys.Rev.D76:013009,2007",
    "doi": "10.1103/PhysRevD.76.013009",
    "report-no": "ANL-HEP-PR-07-12",
    "categories": "hep-ph",
    "license": None,
    "abstract": "  A fully differential calculation in perturbative quantum chromodynamics is\npresented "
    "for the production of massive photon pairs at hadron colliders.\n",
    "versions": [
        {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
        {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"},
    ],
    "update_date": "2008-11-13",
    "authors_parsed": [
        ["Bal\\'azs", "C.", ""],
        ["Berger", "E. L.", ""],
        ["Nadolsky", "P. M.", ""],
        ["Yuan", "C. -P.", ""],
    ],
}
RECORD_2 = {
    "id": "math/0309136",
    "submitter": "Rene Schipper",
    "authors": "A. Author and B. Author",
    "title": "Regularity of a degenerate elliptic problem",
    "comments": None,
    "journal-ref": None,
    "doi": None,
    "report-no": None,
    "categories": "math.AP math.DG",
    "license": "http://arxiv.org/licenses/nonexclusive-distrib/1.0/",
    "abstract": "  We prove regularity.\n",
    "versions": [{"version": "v1", "created": "Mon, 8 Sep 2003 12:00:00 GMT"}],
    "update_date": "2007-05-23",
    "authors_parsed": [["Author", "A.", ""], ["Author", "B.", ""]],
}
LINE_1 = json.dumps(RECORD_1, separators=(",", ":"))
LINE_2 = json.dumps(RECORD_2, separators=(",", ":"))


def _record(i: int, **changes: object) -> str:
    data = json.loads(LINE_1)
    data.update(id=f"2301.{i:05d}", title=f"Generated paper number {i}", doi=None)
    data.update(changes)
    return json.dumps(data)


def test_snapshot_lines_are_detected_and_stored(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "arxiv-metadata-oai-snapshot.json"
    path.write_text(LINE_1 + "\n" + LINE_2 + "\n", encoding="utf-8")
    report = ingest_detected(engine, path, "kaggle")
    assert report.added == 2 and report.rejected == []
    p, old = stored(engine, "0704.0001", "math/0309136")
    assert p.title == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    assert p.author_names == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
    assert [(v.version, v.created) for v in p.versions] == [
        (1, datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)),
        (2, datetime(2007, 7, 24, 20, 10, 27, tzinfo=UTC)),
    ]
    assert p.published == datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)
    assert p.updated == datetime(2007, 7, 24, 20, 10, 27, tzinfo=UTC)
    assert p.journal_ref == "Phys.Rev.D76:013009,2007" and p.doi == "10.1103/PhysRevD.76.013009"
    assert p.comments == "37 pages, 15 figures; published version" and p.license is None
    assert p.source == "kaggle"
    assert old.categories == ["math.AP", "math.DG"] and old.primary_category == "math.AP"


def test_a_later_snapshot_with_a_new_version_updates_the_paper(engine: Engine, tmp_path: Path) -> None:
    first = tmp_path / "snap1.json"
    first.write_text(_record(1) + "\n", encoding="utf-8")
    ingest_paths(engine=engine, paths=[first])
    v3 = [
        {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
        {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"},
        {"version": "v3", "created": "Wed, 1 Jan 2020 00:00:00 GMT"},
    ]
    second = tmp_path / "snap2.json"
    second.write_text(_record(1, versions=v3, abstract="Revised abstract.") + "\n", encoding="utf-8")
    report = ingest_paths(engine=engine, paths=[second])
    assert (report.added, report.updated) == (0, 1)
    with engine.connect() as conn:
        p = get_paper(conn=conn, paper_id="2301.00001")
    assert p is not None and p.abstract == "Revised abstract." and p.latest_version == 3
    assert len(p.versions) == 3


class _ReadTracker(io.RawIOBase):
    """A stream that records how many bytes had been read when the parser yielded its first paper."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)
        self.read_so_far = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def, override]
        chunk = self._buf.read(min(len(b), 8192))
        b[: len(chunk)] = chunk
        self.read_so_far += len(chunk)
        return len(chunk)


def test_parser_streams_instead_of_loading_the_file() -> None:
    data = "".join(_record(i) + "\n" for i in range(1, 3001)).encode()
    raw = _ReadTracker(data)
    items = parse_kaggle(io.BufferedReader(raw, buffer_size=8192), name="big.json")
    first = next(items)
    assert isinstance(first, Paper) and first.id == "2301.00001"
    assert raw.read_so_far < len(data) // 10  # only the first chunk was read
    assert sum(1 for _ in items) == 2999


def test_bad_lines_are_rejected_with_their_line_number(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    lines = [
        _record(1),
        '{"id": "2301.00002", "title": ',
        _record(3, title=None),
        _record(4, versions=[{"version": "vX", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}]),
        "",
        _record(6, id="not-an-id"),
        _record(7),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest_paths(engine=engine, paths=[path], fmt="kaggle")
    assert report.added == 2
    got = [(r.line, r.reason.split(":")[0]) for r in report.rejected]
    assert got == [
        (2, "invalid JSON"),
        (3, "missing title"),
        (4, "bad version 'vX'"),
        (6, "id 'not-an-id' is not an arXiv id"),
    ]
    assert all(r.file == str(path) for r in report.rejected)


def test_progress_follows_the_bytes_read(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    path.write_text("".join(_record(i) + "\n" for i in range(1, 501)), encoding="utf-8")
    seen: list[int] = []
    report = ingest_paths(engine=engine, paths=[path], on_bytes=seen.append, batch_size=100)
    assert report.added == 500
    assert sum(seen) == path.stat().st_size


def test_cli_progress_bar_does_not_break_ingest(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "snap.json"
    path.write_text("".join(_record(i) + "\n" for i in range(1, 201)), encoding="utf-8")
    monkeypatch.setattr(cli_common.console, "_force_terminal", True)  # draw the bar as on a terminal
    monkeypatch.setenv("PAPERFEED_SEED_DEMO", "false")
    db = str(tmp_path / "cli.db")
    result = CliRunner().invoke(app, ["ingest", str(path), "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["added"] == 200
    engine = Settings(_env_file=None, database_url=db)  # type: ignore[call-arg]
    from paperfeed.store.db import open_store

    eng = open_store(engine)
    with eng.connect() as conn:
        assert count_papers(conn=conn) == 200
    eng.dispose()


def test_lines_longer_than_the_sniffed_head_are_still_detected(tmp_path: Path) -> None:
    path = tmp_path / "arxiv-metadata-oai-snapshot.json"
    long_abstract = "We study long abstracts. " * 400  # 10 kB: "versions" is far past the first 4 KiB
    path.write_text(_record(1, abstract=long_abstract) + "\n", encoding="utf-8")
    assert detect_format(path) == "kaggle"


def test_gzip_and_kaggle_zip_download_are_read_as_streams(engine: Engine, tmp_path: Path) -> None:
    import gzip
    import zipfile

    body = (LINE_1 + "\n" + LINE_2 + "\n").encode()
    gz = tmp_path / "arxiv-metadata-oai-snapshot.json.gz"
    gz.write_bytes(gzip.compress(body))
    archive = tmp_path / "archive.zip"  # what Kaggle's "Download" button gives
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("arxiv-metadata-oai-snapshot.json", body)
    assert detect_format(gz) == "kaggle" and detect_format(archive) == "kaggle"
    seen: list[int] = []
    assert ingest_paths(engine=engine, paths=[gz], on_bytes=seen.append).added == 2
    assert sum(seen) == gz.stat().st_size  # progress follows the compressed bytes
    assert ingest_paths(engine=engine, paths=[archive]).unchanged == 2


def test_truncated_gzip_keeps_what_was_read(engine: Engine, tmp_path: Path) -> None:
    import gzip

    body = "".join(_record(i) + "\n" for i in range(1, 2001)).encode()
    packed = gzip.compress(body)
    gz = tmp_path / "snap.json.gz"
    gz.write_bytes(packed[: len(packed) * 3 // 4])
    report = ingest_paths(engine=engine, paths=[gz])
    assert 0 < report.added < 2000
    assert report.rejected[-1].reason.startswith("compressed data damaged")
    assert report.rejected[-1].file == str(gz)


def test_a_truncated_file_of_many_bad_lines_keeps_the_first_rejections_and_the_damage(
    engine: Engine, tmp_path: Path
) -> None:
    """Issue 21, item 7: rejections are counted exactly but only the first ``KEPT_PER_FILE`` are kept (a file
    of millions of bad lines stays in bounded memory); the one saying the file is damaged is always kept."""
    import gzip

    from paperfeed.ingest.run import KEPT_PER_FILE

    body = "".join((_record(i) if i % 2 else "{}") + "\n" for i in range(1, 2001)).encode()
    packed = gzip.compress(body)
    gz = tmp_path / "snap.json.gz"
    gz.write_bytes(packed[: len(packed) * 3 // 4])
    report = ingest_paths(engine=engine, paths=[gz])
    assert report.rejected_count > KEPT_PER_FILE + 1  # every "{}" line read, and the damage, counted
    assert report.rejected_count - 1 in (report.added, report.added - 1)  # "{}" alternates with good lines
    assert len(report.rejected) == KEPT_PER_FILE + 1
    assert report.rejections_left_out == report.rejected_count - KEPT_PER_FILE - 1
    assert [r.line for r in report.rejected[:3]] == [2, 4, 6]
    assert report.rejected[-1].reason.startswith("compressed data damaged") and report.rejected[-1].file == str(gz)


def test_many_files_of_bad_lines_keep_at_most_a_thousand_rejections(engine: Engine, tmp_path: Path) -> None:
    from paperfeed.ingest.run import KEPT_IN_ALL, KEPT_PER_FILE

    paths = []
    for n in range(KEPT_IN_ALL // KEPT_PER_FILE + 2):
        path = tmp_path / f"snap{n}.json"
        path.write_text(_record(n + 1) + "\n" + "{}\n" * (KEPT_PER_FILE + 5), encoding="utf-8")
        paths.append(path)
    report = ingest_paths(engine=engine, paths=paths)
    assert report.added == len(paths)
    assert report.rejected_count == len(paths) * (KEPT_PER_FILE + 5)
    assert len(report.rejected) == KEPT_IN_ALL
    assert report.as_dict()["rejections_left_out"] == report.rejected_count - KEPT_IN_ALL
