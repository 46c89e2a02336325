"""One index writer publishing generations; read-only servers (issue 20).

What users see never depends on when they ask: a server started on a built index answers its first requests
exactly as it answers once warm (search, similar papers), and while an index is being built ``/status`` and
``paperfeed status --json`` say the same figures at every moment (both read the published manifest). Real
``paperfeed serve`` and ``paperfeed index`` processes, the demo corpus and the small static test model.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from paperfeed.config import Settings
from paperfeed.search.embed import EMBEDDERS_AVAILABLE
from paperfeed.search.generations import FileGenerations
from tests.smtp_server import free_port
from tests.test_index_damage import _env  # the same instance: demo corpus, static model
from tests.test_search_service import static_model  # noqa: F401 - the session fixture

pytestmark = pytest.mark.skipif(not EMBEDDERS_AVAILABLE, reason="the ml extra is not installed")
CLI = [sys.executable, "-c", "from paperfeed.cli import main; main()"]
QUERIES = ["graph neural networks", "diffusion models for images", "reinforcement learning from human feedback"]
FIGURES = ("papers", "lexical_docs", "vectors", "pending", "state")


def _serve(tmp_path: Path, env: dict[str, str]) -> Iterator[str]:
    (tmp_path / "tmp").mkdir(exist_ok=True)  # the server's private copies (TMPDIR): outside the data directory
    port = free_port()
    log = (tmp_path / "serve.log").open("ab")
    proc = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                httpx.get(url + "/api/daily_papers", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _answers(url: str, paper_id: str) -> dict[str, object]:
    """What a visitor gets now: the hybrid results of a few queries and one paper's similar papers, each with
    its warning."""
    out: dict[str, object] = {}
    for q in QUERIES:
        got = httpx.get(url + "/api/v1/search", params={"q": q, "mode": "hybrid"}, timeout=30).json()
        out[q] = ([h["paper"]["id"] for h in got["data"]], got["warning"])
    similar = httpx.get(url + f"/api/v1/papers/{paper_id}/similar", params={"limit": 10}, timeout=30).json()
    out["similar"] = ([h["paper"]["id"] for h in similar["data"]], similar.get("warning"))
    return out


def test_a_server_started_on_a_built_index_answers_as_it_does_once_warm(
    tmp_path: Path,
    static_model: Path,  # noqa: F811
) -> None:
    env = _env(tmp_path, static_model)
    built = subprocess.run([*CLI, "index", "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    report = json.loads(built.stdout)
    assert report["vectors"] == report["papers"] > 300 and report["generation"]
    settings = Settings(data_dir=tmp_path / "data", database_url=env["PAPERFEED_DATABASE_URL"])  # type: ignore[call-arg]
    published = FileGenerations(settings.index_dir).current()
    assert published is not None and published.generation == report["generation"]
    server = _serve(tmp_path, env)
    url = next(server)
    try:
        search = httpx.get(url + "/api/v1/search", params={"q": QUERIES[0]}, timeout=30).json()
        paper_id = search["data"][0]["paper"]["id"]
        first = _answers(url, paper_id)  # the very first answers of the new process
        for q, (ids, warning) in first.items():  # type: ignore[misc]
            assert ids, q
            assert warning is None, f"{q}: a built index must be served whole from the first request: {warning}"
        steady = _answers(url, paper_id)  # nothing to wait for: the steady state was published before the start
        assert first == steady
        similar = first["similar"]
        assert isinstance(similar, tuple) and len(similar[0]) >= 5  # by meaning too, not 2-4 lexical papers
        # and the same list a command computes from the same published generation, in another process
        cli = subprocess.run(
            [*CLI, "similar", paper_id, "--limit", "10", "--json"], env=env, capture_output=True, text=True, timeout=120
        )
        assert cli.returncode == 0, cli.stderr
        assert [h["id"] for h in json.loads(cli.stdout)] == similar[0]
    finally:
        server.close()


def _status_page(url: str) -> dict[str, str]:
    page = httpx.get(url + "/status", timeout=30).text
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]*)", page))
    generation = re.search(r'data-generation="([^"]*)"', page)
    return {
        "generation": generation.group(1) if generation else "",
        "papers": facts["Papers"].replace(",", ""),
        "lexical_docs": facts["Keyword index"].split()[0].replace(",", ""),
        "vectors": facts["Vectors"].split()[0].replace(",", ""),
        "pending": facts["Waiting to be indexed"].replace(",", ""),
        "state": facts["Search"],
    }


def _status_cli(env: dict[str, str]) -> dict[str, str]:
    out = subprocess.run([*CLI, "status", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    return {"generation": data["generation"] or "", **{k: str(data[k]) for k in FIGURES}}


def test_status_page_and_cli_agree_while_the_index_is_built(
    tmp_path: Path,
    static_model: Path,  # noqa: F811
) -> None:
    """A fresh instance: the server's writer builds the index while both views are read side by side. Read in
    either order around the other, the same generation always comes with the same figures; and the page never
    says "ready" beside papers waiting."""
    env = _env(tmp_path, static_model)
    server = _serve(tmp_path, env)
    url = next(server)
    try:
        compared, states = 0, set()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            page = _status_page(url)
            cli = _status_cli(env)
            again = _status_page(url)
            for a, b in ((page, cli), (cli, again)):
                if a["generation"] == b["generation"]:
                    assert a == b
                    compared += 1
            for view in (page, cli, again):
                states.add(view["state"])
                assert (view["state"] == "ready") == (view["pending"] == "0"), view
            if again["state"] == "ready" and cli["state"] == "ready":
                break
        assert "ready" in states and compared >= 2
        api = httpx.get(url + "/api/v1/search", params={"q": QUERIES[0], "mode": "hybrid"}, timeout=30).json()
        assert api["warning"] is None and api["data"]
    finally:
        server.close()
