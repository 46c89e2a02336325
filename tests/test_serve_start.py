"""What ``paperfeed serve`` (``make run``) says before it serves: the demo papers it seeded, how ready search
is, which model answers meaning-based search, and the address to open (issue 22, item 10)."""

from __future__ import annotations

from pathlib import Path

from paperfeed.cli.web_cmds import startup_lines
from tests.servers import serve_command


def test_serve_says_it_seeded_the_demo_how_search_stands_and_where_to_open(tmp_path: Path) -> None:
    with serve_command(tmp_path, "/", seed_demo="true", demo_enrich="false") as url:
        said = (tmp_path / "serve.log").read_text()
    lines = said.splitlines()
    assert lines[0] == "seeded 341 demo papers into the empty store"
    assert "search: by keywords only (PAPERFEED_EMBEDDER=none: no meaning-based search)" in lines
    assert f"1 worker process; open {url}  (API docs at {url}/docs)" in lines
    with serve_command(tmp_path, "/", seed_demo="true", demo_enrich="false") as url:  # the same store again
        again = (tmp_path / "serve.log").read_text().splitlines()
    assert again[0] == "store: 341 papers" and not any("seeded" in line for line in again)


def test_the_startup_lines_name_the_model_and_a_building_index() -> None:
    index = {"papers": 341, "lexical_docs": 341, "vectors": 120, "state": "building", "model": "static"}
    lines = startup_lines(seeded=341, index=index, embedder="minilm", url="http://127.0.0.1:8000", workers=2)
    assert lines == [
        "seeded 341 demo papers into the empty store",
        "meaning-based search model: all-MiniLM-L6-v2 (int8 through OpenVINO where it runs, else torch)",
        "search index: building in the background (341 of 341 papers by keywords, 120 by meaning so far); "
        "search works meanwhile and says how ready it is; progress at /status",
        "2 worker processes; open http://127.0.0.1:8000  (API docs at http://127.0.0.1:8000/docs)",
    ]
    ready = startup_lines(
        seeded=None, index={**index, "vectors": 341, "state": "ready"}, embedder="minilm", url="u", workers=1
    )
    assert ready[0] == "store: 341 papers" and ready[2] == "search index: ready (341 papers)"
