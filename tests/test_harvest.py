"""`paperfeed harvest arxiv` (OAI-PMH) and `paperfeed fetch-arxiv` (API) against a real local HTTP server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.ingest.harvest import HarvestError, harvest_oai, state_key
from paperfeed.ingest.http import PoliteClient, parse_retry_after
from paperfeed.store.db import open_store
from paperfeed.store.papers import count_papers, get_paper
from paperfeed.store.state import get_state
from tests.arxiv_server import Reply, Request, arxiv_server, closed_port, fixture

PAGES = {
    None: "oai_harvest_page1.xml",
    "7213884|1001": "oai_harvest_page2.xml",
    "7213884|2001": "oai_harvest_page3.xml",
}


def oai_pages(req: Request) -> Reply:
    """Serves the three-page cs harvest by resumption token, as export.arxiv.org/oai2 does."""
    token = req.params.get("resumptionToken")
    if token not in PAGES:
        return fixture("oai_bad_resumption_token.xml")
    return fixture(PAGES[token])


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Runs `paperfeed ... --db <file>` with arXiv URLs pointing wherever the test says."""
    db = str(tmp_path / "harvest.db")
    for key, value in {
        "SEED_DEMO": "false",
        "DATA_DIR": str(tmp_path / "data"),
        "EMBEDDER": "none",
        "ARXIV_REQUEST_INTERVAL": "0.2",
        "ARXIV_MAX_RETRIES": "3",
    }.items():
        monkeypatch.setenv(f"PAPERFEED_{key}", value)

    def invoke(*args: str, base: str = "", **env: str):  # type: ignore[no-untyped-def]
        monkeypatch.setenv("PAPERFEED_ARXIV_OAI_URL", f"{base}/oai")
        monkeypatch.setenv("PAPERFEED_ARXIV_API_URL", f"{base}/api/query")
        for key, value in env.items():
            monkeypatch.setenv(f"PAPERFEED_{key.upper()}", value)
        return CliRunner().invoke(app, [*args, "--db", db])

    invoke.db = db  # type: ignore[attr-defined]
    return invoke


def _papers(db: str) -> int:
    engine = open_store(Settings(_env_file=None, database_url=db, seed_demo=False))  # type: ignore[call-arg]
    with engine.connect() as conn:
        n = count_papers(conn=conn)
    engine.dispose()
    return n


def test_harvest_follows_resumption_tokens_with_paced_calls(cli) -> None:  # type: ignore[no-untyped-def]
    with arxiv_server(oai_pages) as server:
        result = cli(
            "harvest",
            "arxiv",
            "--set",
            "cs",
            "--from",
            "2024-03-01",
            "--until",
            "2024-03-02",
            "--json",
            base=server.url,
        )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["added"], report["deleted"], report["pages"], report["records"]) == (4, 1, 3, 5)
    assert report["complete_list_size"] == 5 and report["resumed"] is False
    first, *rest = server.requests
    assert first.path == "/oai"
    assert first.params == {
        "verb": "ListRecords",
        "metadataPrefix": "arXiv",
        "set": "cs",
        "from": "2024-03-01",
        "until": "2024-03-02",
    }
    assert [r.params for r in rest] == [
        {"verb": "ListRecords", "resumptionToken": "7213884|1001"},
        {"verb": "ListRecords", "resumptionToken": "7213884|2001"},
    ]
    assert first.headers["User-Agent"].startswith("Paperfeed/")
    assert all(gap >= 0.2 for gap in server.gaps())  # PAPERFEED_ARXIV_REQUEST_INTERVAL honoured
    assert _papers(cli.db) == 4
    with arxiv_server(oai_pages) as server:
        again = cli("harvest", "arxiv", "--set", "cs", "--from", "2024-03-01", "--until", "2024-03-02", base=server.url)
    assert again.exit_code == 0, again.output
    assert "nothing new" in again.stdout


def test_default_pacing_is_three_seconds() -> None:
    assert Settings(_env_file=None).arxiv_request_interval >= 3.0  # type: ignore[call-arg]


def test_429_and_503_are_retried_with_backoff_and_retry_after(cli) -> None:  # type: ignore[no-untyped-def]
    script = [Reply(503, b"busy", {"Retry-After": "1"}), Reply(429, b"slow down")]

    def flaky(req: Request) -> Reply:
        return script.pop(0) if script else oai_pages(req)

    with arxiv_server(flaky) as server:
        result = cli("harvest", "arxiv", "--set", "cs", "--from", "2024-03-01", "--json", base=server.url)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["added"] == 4
    assert len(server.requests) == 5  # two refusals, then the three pages
    gaps = server.gaps()
    assert gaps[0] >= 1.0  # Retry-After: 1 was waited for
    assert gaps[1] >= 0.2  # backoff after the 429, never below the pacing interval
    assert "HTTP 503; retrying in" in result.stderr


def test_retries_give_up_with_a_clear_message(cli) -> None:  # type: ignore[no-untyped-def]
    with arxiv_server(lambda req: Reply(503, b"down")) as server:
        result = cli("harvest", "arxiv", "--set", "cs", "--from", "2024-03-01", base=server.url, arxiv_max_retries="2")
    assert result.exit_code != 0
    assert len(server.requests) == 3
    assert "HTTP 503 Service Unavailable (gave up after 3 tries)" in result.stderr


def test_failed_harvest_resumes_from_the_saved_token(cli) -> None:  # type: ignore[no-untyped-def]
    broken = {"on": True}

    def dies_after_page_one(req: Request) -> Reply:
        if broken["on"] and req.params.get("resumptionToken") == "7213884|1001":
            return Reply(503, b"maintenance")
        return oai_pages(req)

    args = ("harvest", "arxiv", "--set", "cs", "--from", "2024-03-01", "--until", "2024-03-02")
    with arxiv_server(dies_after_page_one) as server:
        failed = cli(*args, base=server.url, arxiv_max_retries="1")
        assert failed.exit_code != 0
        assert "run the same command again to resume" in failed.stderr
        assert _papers(cli.db) == 2  # page one is stored
        broken["on"] = False
        server.requests.clear()
        resumed = cli(*args, "--json", base=server.url)
    assert resumed.exit_code == 0, resumed.output
    report = json.loads(resumed.stdout)
    assert report["resumed"] is True and report["pages"] == 2 and report["added"] == 2
    assert server.requests[0].params == {"verb": "ListRecords", "resumptionToken": "7213884|1001"}
    assert _papers(cli.db) == 4


def test_expired_token_says_to_restart(engine: Engine, settings: Settings) -> None:
    def expired(req: Request) -> Reply:
        if req.params.get("resumptionToken") == "7213884|1001":
            return fixture("oai_bad_resumption_token.xml")
        return oai_pages(req)

    with arxiv_server(expired) as server:
        s = settings.model_copy(update={"arxiv_oai_url": server.url + "/oai", "arxiv_max_retries": 0})
        with pytest.raises(HarvestError, match="badResumptionToken"):
            harvest_oai(engine=engine, settings=s, set_spec="cs", from_date="2024-03-01")
        with engine.connect() as conn:
            saved = get_state(conn=conn, key=state_key("cs", "arXiv"))
        assert saved["token"] == "7213884|1001"
        with pytest.raises(HarvestError, match="run again with --restart"):
            harvest_oai(engine=engine, settings=s, set_spec="cs", from_date="2024-03-01")
        server.responder = oai_pages
        report = harvest_oai(engine=engine, settings=s, set_spec="cs", from_date="2024-03-01", restart=True)
    assert report.pages == 3 and report.resumed is False


def test_arxivraw_harvest_and_oai_errors(engine: Engine, settings: Settings) -> None:
    def serve(req: Request) -> Reply:
        if req.params.get("set") == "csx":
            return fixture("oai_bad_argument.xml")
        return fixture("oai_harvest_raw.xml")

    with arxiv_server(serve) as server:
        s = settings.model_copy(update={"arxiv_oai_url": server.url + "/oai"})
        report = harvest_oai(
            engine=engine, settings=s, set_spec="cs", from_date="2024-03-01", metadata_prefix="arXivRaw"
        )
        assert server.requests[0].params["metadataPrefix"] == "arXivRaw"
        with pytest.raises(HarvestError, match="OAI-PMH error badArgument: Illegal set 'csx'"):
            harvest_oai(engine=engine, settings=s, set_spec="csx", from_date="2024-03-01")
    assert report.records == 2 and report.added >= 1


def test_bad_options_fail_with_one_line(cli) -> None:  # type: ignore[no-untyped-def]
    bad_date = cli("harvest", "arxiv", "--set", "cs", "--from", "yesterday")
    assert bad_date.exit_code != 0
    assert bad_date.stderr.strip() == "error: --from 'yesterday' is not a date in YYYY-MM-DD form"
    backwards = cli(
        "harvest", "arxiv", "--set", "cs", "--from", "2024-03-02", "--until", "2024-03-01", base="http://127.0.0.1:9"
    )
    assert backwards.exit_code != 0 and "is before --from" in backwards.stderr
    no_from = cli("harvest", "arxiv", "--set", "math")
    assert no_from.exit_code != 0 and "give --from" in no_from.stderr


def test_no_network_fails_fast(cli) -> None:  # type: ignore[no-untyped-def]
    base = f"http://127.0.0.1:{closed_port()}"
    start = time.monotonic()
    harvest = cli("harvest", "arxiv", "--set", "cs", "--from", "2024-03-01", base=base)
    fetch = cli("fetch-arxiv", "2401.01234", base=base)
    assert time.monotonic() - start < 10
    for result in (harvest, fetch):
        assert result.exit_code != 0
        assert "cannot reach 127.0.0.1" in result.stderr and "(no network?)" in result.stderr
        assert "Traceback" not in result.output
        assert result.stderr.strip().count("\n") == 0 or "retrying" in result.stderr


def test_fetch_arxiv_by_id(cli) -> None:  # type: ignore[no-untyped-def]
    with arxiv_server(lambda req: fixture("api_fetch_two.xml")) as server:
        result = cli(
            "fetch-arxiv", "2401.01234", "https://arxiv.org/abs/2312.00042v3", "2401.99999", "--json", base=server.url
        )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["added"] == 2 and report["not_found"] == ["2401.99999"] and report["requested"] == 3
    (req,) = server.requests
    assert req.path == "/api/query"
    assert req.params == {"id_list": "2401.01234,2312.00042v3,2401.99999", "start": "0", "max_results": "3"}
    engine = open_store(Settings(_env_file=None, database_url=cli.db, seed_demo=False))  # type: ignore[call-arg]
    with engine.connect() as conn:
        p = get_paper(conn=conn, paper_id="2312.00042")
    engine.dispose()
    assert p is not None and p.latest_version == 3


def test_fetch_arxiv_batches_ids_and_paces_calls(cli) -> None:  # type: ignore[no-untyped-def]
    ids = [f"2401.{i:05d}" for i in range(1, 151)]
    with arxiv_server(lambda req: fixture("api_fetch_two.xml")) as server:
        result = cli("fetch-arxiv", *ids, "--json", base=server.url)
    assert result.exit_code == 0, result.output
    assert [len(r.params["id_list"].split(",")) for r in server.requests] == [100, 50]
    assert server.gaps()[0] >= 0.2


def test_fetch_arxiv_api_error_and_bad_ids(cli) -> None:  # type: ignore[no-untyped-def]
    with arxiv_server(lambda req: fixture("api_error_bad_id.xml")) as server:
        result = cli("fetch-arxiv", "2401.0123", base=server.url)
    assert result.exit_code != 0 and "arXiv API error" in result.stderr
    bad = cli("fetch-arxiv", "not-an-id")
    assert bad.exit_code != 0
    assert bad.stderr.strip().startswith("error: 'not-an-id' is not an arXiv id")


def test_retry_after_header_forms() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_client_waits_between_calls_even_without_errors() -> None:
    with (
        arxiv_server(lambda req: Reply(200, b"ok")) as server,
        PoliteClient(interval=0.3, max_retries=0, timeout=5, agent="t") as client,
    ):
        for _ in range(3):
            client.get(server.url + "/x")
    assert all(g >= 0.3 for g in server.gaps())


def test_a_url_without_scheme_fails_at_once(cli) -> None:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    result = cli("fetch-arxiv", "2401.01234", base="export.arxiv.org")
    assert time.monotonic() - start < 5
    assert result.exit_code != 0 and "is not a usable URL" in result.stderr


def test_ctrl_c_mid_harvest_resumes_on_the_next_run(engine: Engine, settings: Settings) -> None:
    def stop_after_first_page(progress) -> None:  # type: ignore[no-untyped-def]
        if progress.page == 1:
            raise KeyboardInterrupt

    with arxiv_server(oai_pages) as server:
        s = settings.model_copy(update={"arxiv_oai_url": server.url + "/oai"})
        with pytest.raises(KeyboardInterrupt):
            harvest_oai(engine=engine, settings=s, set_spec="cs", from_date="2024-03-01", on_page=stop_after_first_page)
        with engine.connect() as conn:
            assert count_papers(conn=conn) == 2
        report = harvest_oai(engine=engine, settings=s, set_spec="cs", from_date="2024-03-01")
    assert report.resumed and report.pages == 2 and report.added == 2
    assert len(server.requests) == 3  # page one was not asked for twice


def test_a_server_repeating_its_token_does_not_loop_forever(engine: Engine, settings: Settings) -> None:
    def stuck(req: Request) -> Reply:
        return fixture("oai_harvest_page2.xml")  # whatever is asked: the page with next token 7213884|2001

    with arxiv_server(stuck) as server:
        s = settings.model_copy(update={"arxiv_oai_url": server.url + "/oai"})
        with pytest.raises(HarvestError, match="twice"):
            harvest_oai(engine=engine, settings=s, set_spec="cs", from_date="2024-03-01")
    assert len(server.requests) == 2
