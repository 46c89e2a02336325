"""`paperfeed index` killed with SIGKILL mid-way resumes without embedding again what it had committed, embeds
the newest papers first, and reports its progress with rate and time left on stderr (not a terminal here)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.ingest.demo import DEMO_PATH
from paperfeed.search.embed import EMBEDDERS_AVAILABLE
from paperfeed.search.generations import FileGenerations
from paperfeed.search.status import index_status
from tests.factories import add_papers, cli_env, make_paper

pytestmark = pytest.mark.skipif(not EMBEDDERS_AVAILABLE, reason="needs the ml extra")

N_PAPERS = 800
CLI = "from paperfeed.cli import main; main()"
# The real CLI with smaller commits and more frequent progress lines, so a kill lands between commits fast.
SMALL_COMMITS = (
    "import paperfeed.search.dense as d, paperfeed.search.pg_dense as p, paperfeed.cli.progress as g; "
    "d.FLUSH_ROWS = d.READ_ROWS = p.COMMIT_ROWS = 40; g.LINE_EVERY = 0.2; "
    "from paperfeed.cli import main; main()"
)


def _papers() -> list:
    """N_PAPERS distinct papers from the demo corpus shipped in the package (no data beside the clone needed)."""
    demo = [json.loads(line) for line in DEMO_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    papers = []
    for n in range(N_PAPERS):
        row, copy = demo[n % len(demo)], n // len(demo)
        title = row["title"] if copy == 0 else f"{row['title']} (variant {copy})"
        papers.append(make_paper(title=title, abstract=row["abstract"], published=start + timedelta(hours=n)))
    return papers


def _vectors(settings: Settings, engine: Engine) -> int:
    """MiniLM vectors committed so far (not the interim static model's, which `index` may build first)."""
    if settings.search_backend == "postgres":
        return index_status(settings.model_copy(update={"embedder": "minilm"}), engine)["vectors"]
    published = FileGenerations(settings.index_dir).current()  # each flush is published as it is made
    return published.vectors.get("minilm", 0) if published is not None else 0


def test_killed_index_resumes_without_redoing_work(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    papers = _papers()
    add_papers(engine, papers)
    env = os.environ | cli_env(settings.data_dir, settings.database_url, embedder="minilm", embed_device="cpu")
    proc = subprocess.Popen(
        [sys.executable, "-c", SMALL_COMMITS, "index", "--json"],
        env=env,
        cwd=tmp_path,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while _vectors(settings, engine) < 240 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, "the first run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        _, first_err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    committed = _vectors(settings, engine)
    assert 240 <= committed < N_PAPERS
    assert "papers/s" in first_err and " left" in first_err  # progress lines with rate and ETA
    done = subprocess.run(
        [sys.executable, "-c", CLI, "index", "--json"],
        env=env,
        cwd=tmp_path,
        text=True,
        capture_output=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["embedded"] == N_PAPERS - committed  # nothing committed before the kill is embedded again
    assert report["vectors"] == N_PAPERS
    assert f"dense: {N_PAPERS} of {N_PAPERS} papers (100%)" in done.stderr and "papers/s" in done.stderr


def test_index_device_cuda_without_a_gpu_fails_clearly(settings: Settings, engine: Engine) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present: the cuda path is tested below")
    add_papers(engine, [make_paper()])
    env = os.environ | cli_env(settings.data_dir, settings.database_url, embedder="minilm")
    done = subprocess.run(
        [sys.executable, "-c", CLI, "index", "--device", "cuda"],
        env=env,
        text=True,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert "--device cuda: no CUDA GPU is usable here" in done.stderr


def test_index_device_cuda_embeds_on_the_gpu(settings: Settings, engine: Engine) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU here")
    add_papers(engine, _papers()[:50])
    env = os.environ | cli_env(settings.data_dir, settings.database_url, embedder="minilm")
    done = subprocess.run(
        [sys.executable, "-c", CLI, "index", "--device", "cuda", "--json"],
        env=env,
        text=True,
        capture_output=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["vectors"] == 50
