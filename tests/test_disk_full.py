"""A full disk: ingest stops with one line saying what was kept, the site answers writes with 503 and keeps
serving reads (an API token's last use is written at most every few minutes and never fails a read).

The store lives on a small tmpfs mounted for the test (skipped where mounting is not allowed), always a
SQLite file: the disk of a PostgreSQL server cannot be filled from here (its SQLSTATE 53100 is mapped to the
same answers, see paperfeed.store.faults).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from paperfeed.cli import app as cli
from paperfeed.config import Settings
from paperfeed.ingest.paperfeed_jsonl import write_jsonl
from paperfeed.store.api_tokens import api_tokens
from tests.factories import api_token, make_paper, site_client
from tests.test_web_pages import csrf_of, sign_up

NOW = datetime.now(UTC)


@pytest.fixture
def mount_tmpfs(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """``mount_tmpfs(size_mb)``: a fresh tmpfs of that size, unmounted after the test."""
    mounted: list[Path] = []

    def mount(size_mb: int) -> Path:
        where = tmp_path / f"disk{len(mounted)}"
        where.mkdir(parents=True)
        cmd = ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(where)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip() or done.returncode}")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.fixture
def small_disk(mount_tmpfs: Callable[[int], Path]) -> Path:
    return mount_tmpfs(24)


def _fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte with one file; returns it (delete it to free the space)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 4096, 1):  # unbuffered: nothing is left to flush (and fail) on close
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    return filler


def test_ingest_on_a_full_disk_says_what_was_kept_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mount_tmpfs: Callable[[int], Path]
) -> None:
    disk = mount_tmpfs(12)
    papers = [make_paper(id=f"2402.{i:05d}", abstract="graph neural attention " * 90) for i in range(12_000)]
    source = tmp_path / "big.jsonl"
    with source.open("w", encoding="utf-8") as f:
        write_jsonl(papers, f)
    monkeypatch.setenv("PAPERFEED_SEED_DEMO", "false")
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(disk / "data"))
    monkeypatch.setenv("PAPERFEED_EMBEDDER", "none")
    db = str(disk / "full.db")

    result = CliRunner().invoke(cli, ["ingest", str(source), "--db", db])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    line = lines[0]
    assert line.startswith("error: disk full (") and f"while storing {source}" in line
    kept = int(line.split("kept ")[1].split(" ")[0])
    assert 0 < kept < len(papers) and "Free some space and run the same command again" in line

    stats = CliRunner().invoke(cli, ["stats", "--json", "--db", db])  # reading a full store still works
    assert json.loads(stats.stdout)["papers"] == kept  # exactly what the line says: no half batch


@pytest.fixture
def full_site(small_disk: Path, settings: Settings) -> Iterator[tuple[TestClient, str, Path]]:
    """A site on the small disk with papers, a signed-in member and an API token; the disk then filled."""
    on_disk = settings.model_copy(
        update={"data_dir": small_disk / "data", "database_url": f"sqlite:///{small_disk / 'site.db'}"}
    )
    papers = [
        make_paper(id="2401.00001", title="Graph Transformers", published=NOW - timedelta(hours=1)),
        make_paper(id="2401.00002", title="Sparse Attention", published=NOW - timedelta(hours=2)),
    ]
    with site_client(on_disk, papers) as client:
        token = api_token(client.app.state.engine, "apiuser", name="laptop")  # type: ignore[attr-defined]
        sign_up(client)
        filler = _fill(small_disk)
        yield client, token, filler


def test_a_full_disk_answers_writes_with_503_and_keeps_reads_working(full_site: tuple[TestClient, str, Path]) -> None:
    client, token, filler = full_site
    engine = client.app.state.engine  # type: ignore[attr-defined]
    bearer = {"Authorization": f"Bearer {token}"}

    for path in ["/", "/papers/2401.00001", "/api/v1/papers/2401.00001", "/api/daily_papers", "/search?q=graph"]:
        r = client.get(path)
        assert r.status_code == 200 and "Graph Transformers" in r.text, (path, r.status_code)
    library = client.get("/api/v1/library", headers=bearer)  # its token's first use cannot be written
    assert library.status_code == 200 and library.json()["count"] == 0
    with engine.connect() as conn:
        assert conn.execute(select(api_tokens.c.last_used_at)).scalar_one() is None

    saved = client.put("/api/v1/library/2401.00001", headers=bearer)
    assert saved.status_code == 503 and saved.headers["retry-after"]
    assert "disk is full" in saved.json()["error"] and "Reading still works" in saved.json()["detail"]
    page = client.post("/papers/2401.00002/save", data={"csrf_token": csrf_of(client.get("/").text)})
    assert page.status_code == 503 and "disk is full" in page.text and "<html" in page.text.lower()
    assert client.get("/library").status_code == 200  # the failed saves left nothing half-written
    assert "Sparse Attention" not in client.get("/library").text

    filler.unlink()  # space again: the same writes go through
    assert client.put("/api/v1/library/2401.00001", headers=bearer).status_code == 200
    assert client.get("/api/v1/library", headers=bearer).json()["count"] == 1


def test_token_use_is_written_at_most_every_few_minutes(settings: Settings) -> None:
    with site_client(settings) as client:
        engine = client.app.state.engine  # type: ignore[attr-defined]
        token = api_token(engine, "apiuser", name="laptop")
        bearer = {"Authorization": f"Bearer {token}"}

        def last_used() -> datetime:
            with engine.connect() as conn:
                value = conn.execute(select(api_tokens.c.last_used_at)).scalar_one()
            assert value is not None
            return value  # type: ignore[no-any-return]

        assert client.get("/api/v1/library", headers=bearer).status_code == 200
        first = last_used()
        for _ in range(5):
            assert client.get("/api/v1/library", headers=bearer).status_code == 200
        assert last_used() == first  # five more reads, no write
        with engine.begin() as conn:
            conn.execute(update(api_tokens).values(last_used_at=first - timedelta(minutes=6)))
        client.get("/api/v1/library", headers=bearer)
        assert last_used() > first - timedelta(minutes=1)  # stale: recorded again
