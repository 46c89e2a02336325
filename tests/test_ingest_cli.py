"""The store commands as a user types them: ingest, export, stats, show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paperfeed.cli import app

ATOM = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">
  <entry>
    <id>http://arxiv.org/abs/2401.01234v2</id>
    <updated>2024-02-01T10:15:02Z</updated>
    <published>2024-01-02T18:59:59Z</published>
    <title>Sparse Attention for Long Documents</title>
    <summary>We study sparse attention for long documents.</summary>
    <author><name>Ada Lovelace</name></author>
    <arxiv:primary_category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
  <entry>
    <id>http://arxiv.org/abs/2401.05555v1</id>
    <published>2024-01-05T18:59:59Z</published>
    <title></title>
    <summary>No title here.</summary>
  </entry>
</feed>
"""
KAGGLE = json.dumps(
    {
        "id": "2312.00001",
        "submitter": "B",
        "authors": "Grace Hopper",
        "title": "Compilers",
        "comments": None,
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": "cs.PL",
        "license": None,
        "abstract": "We compile.",
        "versions": [{"version": "v1", "created": "Fri, 1 Dec 2023 10:00:00 GMT"}],
        "update_date": "2023-12-01",
        "authors_parsed": [["Hopper", "Grace", ""]],
    }
)


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PAPERFEED_SEED_DEMO", "false")
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PAPERFEED_EMBEDDER", "none")
    db = str(tmp_path / "cli.db")

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(app, [*args, "--db", db])

    return invoke


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    atom = tmp_path / "query.xml"
    atom.write_text(ATOM, encoding="utf-8")
    snap = tmp_path / "snapshot.json"
    snap.write_text(KAGGLE + "\n", encoding="utf-8")
    return atom, snap


def test_ingest_reports_counts_and_rejections(run, files) -> None:  # type: ignore[no-untyped-def]
    atom, snap = files
    result = run("ingest", str(atom), str(snap))
    assert result.exit_code == 0, result.output
    assert "added 2, updated 0, unchanged 0, rejected 1" in result.stdout
    assert f"{atom}#record 2: missing title" in result.stderr
    again = run("ingest", str(atom), str(snap), "--json")
    report = json.loads(again.stdout)
    assert (report["added"], report["updated"], report["unchanged"], report["rejected"]) == (0, 0, 2, 1)
    assert report["rejections"] == [
        {"file": str(atom), "line": None, "record": 2, "location": f"{atom}#record 2", "reason": "missing title"}
    ]
    assert [f["format"] for f in report["files"]] == ["arxiv-atom", "kaggle"]


def test_explicit_format_and_unknown_format(run, files) -> None:  # type: ignore[no-untyped-def]
    atom, snap = files
    assert json.loads(run("ingest", str(snap), "--format", "kaggle", "--json").stdout)["added"] == 1
    bad = run("ingest", str(atom), "--format", "pdf")
    assert bad.exit_code != 0
    assert "unknown format 'pdf'" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_bad_paths_fail_with_one_line_and_store_nothing(run, files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    atom, _ = files
    missing = run("ingest", str(atom), str(tmp_path / "nope.xml"))
    assert missing.exit_code != 0
    assert missing.stderr.strip() == f"error: {tmp_path / 'nope.xml'}: no such file"
    assert json.loads(run("stats", "--json").stdout)["papers"] == 0  # checked before anything is stored
    folder = run("ingest", str(tmp_path))
    assert folder.exit_code != 0 and "is a directory" in folder.stderr
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    res = run("ingest", str(empty))
    assert res.exit_code != 0 and "empty" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    res = run("ingest", str(binary))
    assert res.exit_code != 0 and "binary" in res.stderr
    import zipfile

    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as z:
        z.writestr("a.json", "{}")
        z.writestr("b.json", "{}")
    res = run("ingest", str(two))
    assert res.exit_code != 0
    assert res.stderr.strip().endswith("the zip archive holds 2 files (a.json, b.json); unpack it and pass the files")


def test_stats_show_and_export(run, files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    atom, snap = files
    run("ingest", str(atom), str(snap))
    stats = json.loads(run("stats", "--json").stdout)
    assert stats["papers"] == 2
    assert stats["by_source"] == {"arxiv-api": 1, "kaggle": 1}
    assert stats["by_month"] == {"2023-12": 1, "2024-01": 1}
    text = run("stats")
    assert "papers: 2" in text.stdout
    shown = run("show", "2401.01234v2")
    assert shown.exit_code == 0
    assert "Sparse Attention for Long Documents" in shown.stdout and "Ada Lovelace" in shown.stdout
    assert "versions: v1 (2024-01-02), v2 (2024-02-01)" in shown.stdout
    as_json = json.loads(run("show", "2312.00001", "--json").stdout)
    assert as_json["title"] == "Compilers" and as_json["authors"][0]["name"] == "Grace Hopper"
    nothing = run("show", "9999.99999")
    assert nothing.exit_code != 0 and nothing.stderr.strip() == "error: no paper with id '9999.99999'"
    out = tmp_path / "dump.jsonl"
    exported = run("export", "--out", str(out))
    assert exported.exit_code == 0 and "exported 2 papers" in exported.stderr
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["2312.00001", "2401.01234"]
    nowhere = run("export", "--out", str(tmp_path / "no" / "such" / "dir.jsonl"))
    assert nowhere.exit_code != 0 and "No such file or directory" in nowhere.stderr


def test_ctrl_c_says_what_is_kept_and_exits_130(  # type: ignore[no-untyped-def]
    run, files, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paperfeed.cli import store_cmds

    def interrupted(**kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(store_cmds, "ingest_paths", interrupted)
    result = run("ingest", str(files[0]))
    assert result.exit_code == 130
    assert "interrupted: batches stored so far are kept; run the same command again to finish" in result.stderr


def test_many_bad_lines_are_counted_exactly_and_the_first_of_each_file_kept(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 21, item 7: a file of millions of bad lines must not keep millions of rejections in memory.
    Every rejection is counted; the report keeps the first ``KEPT_PER_FILE`` of each file and says how
    many more there were (stdout, stderr and ``--json``)."""
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text(KAGGLE + "\n" + "{}\n" * 250, encoding="utf-8")  # lines 2..251 are bad
    second.write_text(KAGGLE.replace("2312.00001", "2312.00002") + "\n" + "not json\n" * 120, encoding="utf-8")
    result = run("ingest", str(first), str(second))
    assert result.exit_code == 0, result.output
    assert "added 2, updated 0, unchanged 0, rejected 370" in result.stdout
    assert f"rejected {first}:2: " in result.stderr and f"{first}:51: " in result.stderr
    assert f"{first}:52: " not in result.stderr  # the first 50 are printed, then a count
    assert "... and 320 more rejected records (--json lists the first 200 of them)" in result.stderr
    report = json.loads(run("ingest", str(first), str(second), "--json").stdout)
    assert (report["unchanged"], report["rejected"], report["rejections_left_out"]) == (2, 370, 170)
    locations = [r["location"] for r in report["rejections"]]
    assert locations == [f"{first}:{n}" for n in range(2, 102)] + [f"{second}:{n}" for n in range(2, 102)]
    assert report["rejections"][-1]["reason"].startswith("invalid JSON")
