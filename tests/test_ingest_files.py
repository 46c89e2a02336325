"""What ``paperfeed ingest`` does with paths that are not regular files: a FIFO is refused at once (never
opened, so the command cannot block), a symlink loop is reported as one, a broken symlink names its target."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paperfeed.cli import app


def _ingest(tmp_path: Path, *paths: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PAPERFEED_SEED_DEMO": "false",
        "PAPERFEED_DATA_DIR": str(tmp_path / "data"),
        "PAPERFEED_EMBEDDER": "none",
    }
    cmd = [sys.executable, "-c", "from paperfeed.cli import main; main()", "--db", str(tmp_path / "x.db"), "ingest"]
    return subprocess.run(
        [*cmd, *map(str, paths)], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _ingest_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *paths: Path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PAPERFEED_SEED_DEMO", "false")
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PAPERFEED_EMBEDDER", "none")
    return CliRunner().invoke(app, ["--db", str(tmp_path / "x.db"), "ingest", *map(str, paths)])


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.jsonl"
    path.write_text(json.dumps({"id": "2401.00001", "title": "A Fine Paper"}) + "\n", encoding="utf-8")
    return path


def test_a_fifo_is_refused_without_blocking(tmp_path: Path, good: Path) -> None:
    fifo = tmp_path / "feed.jsonl"
    os.mkfifo(fifo)
    done = _ingest(tmp_path, good, fifo, timeout=60)  # no writer ever opens the FIFO: opening it would block
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error: {fifo}: is a named pipe (FIFO), not a regular file; save the data to a file and ingest that"
    )
    stats = subprocess.run(
        [
            sys.executable,
            "-c",
            "from paperfeed.cli import main; main()",
            "stats",
            "--json",
            "--db",
            str(tmp_path / "x.db"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PAPERFEED_SEED_DEMO": "false", "PAPERFEED_DATA_DIR": str(tmp_path / "data")},
    )
    assert json.loads(stats.stdout)["papers"] == 0  # checked before anything was stored


def test_a_symlink_loop_is_reported_as_a_loop(tmp_path: Path, good: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.symlink_to(b)
    b.symlink_to(a)
    done = _ingest_here(tmp_path, monkeypatch, good, a)
    assert done.exit_code == 1
    assert done.stderr.strip() == f"error: {a}: symlink loop (too many levels of symbolic links)"
    assert "no such file" not in done.stderr


def test_broken_symlinks_devices_and_good_links(tmp_path: Path, good: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "gone.jsonl"
    broken.symlink_to(tmp_path / "deleted.jsonl")
    done = _ingest_here(tmp_path, monkeypatch, broken)
    assert (
        done.stderr.strip()
        == f"error: {broken}: broken symlink (its target {tmp_path / 'deleted.jsonl'} does not exist)"
    )
    device = _ingest_here(tmp_path, monkeypatch, Path("/dev/null"))
    assert device.exit_code == 1 and device.stderr.strip() == "error: /dev/null: is a device, not a regular file"
    link = tmp_path / "link.jsonl"
    link.symlink_to(good)  # a symlink to a regular file is read as that file
    ok = _ingest_here(tmp_path, monkeypatch, link)
    assert ok.exit_code == 0 and "added 1," in ok.stdout
