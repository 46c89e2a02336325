"""Links from data: only http(s) links are stored (others dropped at ingest with a note naming the field),
and every page, feed and API checks again, so a hostile row written around ingest never shows up."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from paperfeed.cli import app as cli
from paperfeed.config import Settings
from paperfeed.links import safe_url
from paperfeed.store.schema import papers
from tests.factories import make_paper, site_client
from tests.test_web_pages import csrf_of, sign_up

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
HOSTILE = {
    "abs_url": "JaVaScRiPt:alert('abs')",
    "pdf_url": "vbscript:msgbox('pdf')",
    "code_url": "java\tscript:alert('code')",
    "project_url": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
}
# What must never appear in a page, feed or API answer once the hostile links above are stored.
FORBIDDEN = re.compile(r"javascript:|vbscript:|data:text|msgbox|alert\('", re.IGNORECASE)


def test_safe_url_accepts_only_absolute_http_links() -> None:
    assert safe_url("https://github.com/a/b") == "https://github.com/a/b"
    assert safe_url("HTTP://example.org/x?y=1") == "HTTP://example.org/x?y=1"
    for bad in [*HOSTILE.values(), " javascript:x", "https:javascript:x", "//evil.example/", "ftp://x.org/f", ""]:
        assert safe_url(bad) is None, bad


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PAPERFEED_SEED_DEMO", "false")
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PAPERFEED_EMBEDDER", "none")
    return CliRunner().invoke(cli, [*args, "--db", str(tmp_path / "cli.db")])


def test_ingest_drops_unsafe_links_with_a_note_and_keeps_the_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = tmp_path / "papers.jsonl"
    rows = [
        {"id": "2401.00001", "title": "Hostile Links Paper", "abstract": "An abstract.", **HOSTILE},
        {"id": "2401.00002", "title": "Honest Links Paper", "code_url": "https://github.com/example/honest"},
    ]
    export.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    hf = tmp_path / "hf.json"
    hf.write_text(
        json.dumps([{"paper": {"id": "2401.00003", "title": "HF Paper", "summary": "S.", "githubRepo": "data:,x"}}])
    )

    result = _run(tmp_path, monkeypatch, "ingest", str(export), str(hf), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["added"] == 3 and report["rejected"] == 0  # the records land
    notes = {(n["id"], n["note"].split(" ")[0]) for n in report["notes"]}
    assert notes == {("2401.00001", f) for f in HOSTILE} | {("2401.00003", "code_url")}
    assert "'javascript:' links are not allowed (only http and https)" in " ".join(n["note"] for n in report["notes"])

    text = _run(tmp_path, monkeypatch, "ingest", str(export))  # unchanged: the same notes again, on stderr
    assert "note 2401.00001: code_url dropped: 'javascript:' links are not allowed" in text.stderr
    assert "4 unsafe links dropped" in text.stdout

    shown = json.loads(_run(tmp_path, monkeypatch, "show", "2401.00001", "--json").stdout)
    assert all(shown.get(f) is None for f in HOSTILE)
    honest = json.loads(_run(tmp_path, monkeypatch, "show", "2401.00002", "--json").stdout)
    assert honest["code_url"] == "https://github.com/example/honest"


@pytest.fixture
def hostile_client(settings: Settings) -> Iterator[TestClient]:
    """A site whose paper 2401.00001 has hostile links written straight into the database."""
    honest = {"code_url": "https://github.com/example/honest", "project_url": "https://example.org/honest"}
    stored = [
        make_paper(id="2401.00001", title="Hostile Graph Paper", published=NOW - timedelta(hours=2)),
        make_paper(id="2401.00002", title="Honest Graph Paper", published=NOW - timedelta(hours=3), **honest),
    ]
    with site_client(settings, stored) as c:
        with c.app.state.engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(update(papers).where(papers.c.id == "2401.00001").values(**HOSTILE))
        yield c


def test_hostile_links_in_the_database_are_shown_nowhere(hostile_client: TestClient) -> None:
    c = hostile_client
    token = sign_up(c)
    c.post("/papers/2401.00001/vote", data={"csrf_token": token, "action": "up"})
    c.post("/papers/2401.00001/save", data={"csrf_token": token})
    week = "{}-W{:02d}".format(*NOW.isocalendar()[:2])
    pages = [
        "/",
        f"/?week={week}",
        f"/?month={NOW:%Y-%m}",
        "/trending?window=all",
        "/search?q=graph+paper",
        "/library",
        "/papers/2401.00001",
        "/papers/2401.00002",
        "/papers/2401.00001.md",
        "/feeds/daily.atom",
        "/feeds/daily.rss",
        "/feeds/trending.atom",
        "/feeds/search.atom?q=graph",
        "/api/v1/papers/2401.00001",
        "/api/v1/search?q=graph+paper",
        "/api/v1/papers/2401.00002/similar",
        "/api/papers/2401.00001",
        "/api/daily_papers",
        "/api/papers/search?q=graph",
    ]
    for path in pages:
        r = c.get(path)
        assert r.status_code == 200, (path, r.status_code)
        assert "Hostile Graph Paper" in r.text or path.endswith("/similar") or "2401.00002" in path, path
        found = FORBIDDEN.search(r.text)
        assert found is None, (path, r.text[max(0, found.start() - 200) : found.end() + 50])

    card = c.get("/").text  # the honest paper keeps its links; the hostile one has none at all
    assert 'href="https://github.com/example/honest"' in card
    hostile_card = card[card.index("Hostile Graph Paper") : card.index("Hostile Graph Paper") + 2500]
    assert ">Code</a>" not in hostile_card.split("</article>")[0]
    api = c.get("/api/v1/papers/2401.00001").json()["links"]
    assert (api["abs"], api["pdf"], api["code"], api["project"]) == (None, None, None, None)
    hf = c.get("/api/papers/2401.00001").json()
    assert hf["githubRepo"] is None and hf["projectPage"] is None
    honest_hf = c.get("/api/papers/2401.00002").json()
    assert honest_hf["githubRepo"] == "https://github.com/example/honest"
    assert csrf_of(c.get("/submit").text)  # the site still works around the hostile row
