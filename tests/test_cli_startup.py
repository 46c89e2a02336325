"""A quick, plain-spoken CLI (issue 22, item 9): ``paperfeed --help`` imports no command module (and none of
sqlalchemy, pydantic, FastAPI, numpy) yet prints the same help as the fully loaded command; a hybrid search
answers without torch; ``status`` and ``stats`` speak in words, not Python values. Real subprocesses."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paperfeed.cli import COMMAND_MODULES, _make_root, app
from paperfeed.cli.startup import help_app
from paperfeed.config import Settings
from paperfeed.search.embed import EMBEDDERS_AVAILABLE
from paperfeed.search.minilm import _nvidia_driver
from paperfeed.store.papers import upsert_papers
from tests.factories import make_paper

HEAVY = ("sqlalchemy", "pydantic", "pydantic_settings", "fastapi", "numpy", "alembic", "torch")
ENV = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}


def _imported(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``paperfeed ARGS`` (its console-script entry point) and the top-level modules it imported."""
    code = "import sys; from paperfeed.cli import main; sys.argv = ['paperfeed', *sys.argv[1:]]; main()"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **ENV, **(env or {})},
    )
    modules = {m.group(1).split(".")[0] for m in re.finditer(r"^import time:.*\|\s+([\w.]+)$", done.stderr, re.M)}
    return done, modules


def test_help_imports_nothing_heavy_and_lists_every_command() -> None:
    done, modules = _imported(["--help"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert not modules & set(HEAVY), modules & set(HEAVY)
    for name in ("ingest", "index", "search", "similar", "status", "stats", "serve", "enrich", "db", "users"):
        assert re.search(rf"│ {re.escape(name)}\s", done.stdout), name


def test_the_quick_help_is_the_full_commands_help() -> None:
    runner = CliRunner()
    quick = runner.invoke(help_app(_make_root, COMMAND_MODULES), ["--help"], env=ENV, prog_name="paperfeed")
    full = runner.invoke(app, ["--help"], env=ENV, prog_name="paperfeed")
    assert quick.exit_code == full.exit_code == 0
    assert quick.output == full.output


def _instance(settings: Settings) -> dict[str, str]:
    return {
        "PAPERFEED_DATA_DIR": str(settings.data_dir),
        "PAPERFEED_DATABASE_URL": settings.database_url,
        "PAPERFEED_SEED_DEMO": "false",
        "PAPERFEED_EMBEDDER": "none",
        "HF_HUB_OFFLINE": "1",
    }


def test_status_and_stats_speak_in_words(settings: Settings, engine: object) -> None:
    env = _instance(settings)
    status, modules = _imported(["status"], env)
    assert status.returncode == 0, status.stderr[-2000:]
    assert "torch" not in modules and "fastapi" not in modules
    assert "  holder: none" in status.stdout and "  following: none" in status.stdout
    assert not re.search(r": (None|\[\]|True|False)$", status.stdout, re.M), status.stdout
    stats, _ = _imported(["stats"], env)
    assert stats.returncode == 0, stats.stderr[-2000:]
    assert "by month of publication (papers without a date: the month this instance added them):" in stats.stdout


@pytest.mark.skipif(not EMBEDDERS_AVAILABLE, reason="the ml extra is not installed")
@pytest.mark.skipif(_nvidia_driver(), reason="a CUDA machine embeds queries with torch on the GPU")
def test_a_hybrid_search_answers_without_torch(settings: Settings, engine: object, tmp_path: Path) -> None:
    with engine.begin() as conn:  # type: ignore[attr-defined]
        upsert_papers(
            conn=conn,
            papers_in=[
                make_paper(id="2205.13147", title="Matryoshka Representation Learning", abstract="Nested embeddings."),
                make_paper(id="1706.03762", title="Attention Is All You Need", abstract="Transformers translate."),
            ],
        )
    env = {**_instance(settings), "PAPERFEED_EMBEDDER": "minilm"}
    index, _ = _imported(["index"], env)
    assert index.returncode == 0, index.stderr[-2000:]
    found, modules = _imported(["search", "nested embeddings", "--mode", "hybrid"], env)
    assert found.returncode == 0, found.stderr[-2000:]
    assert "Matryoshka Representation Learning" in found.stdout.splitlines()[0]
    said = [line for line in found.stderr.splitlines() if not line.startswith("import time:")]
    assert not [line for line in said if "warning" in line], said  # meaning-based search, not a BM25 fallback
    assert "torch" not in modules and ("onnxruntime" in modules or "openvino" in modules)  # an int8 query path
